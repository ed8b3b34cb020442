#include "text/bpe_model.h"

#include <cstdio>
#include <limits>
#include <queue>

#include "mome/core/error.h"
#include "text/utf8.h"

namespace mome::text {
namespace {

// A token for an error message: control bytes escaped so the message stays one line.
std::string Printable(std::string_view token) {
  std::string out;
  for (unsigned char c : token) {
    if (c < 0x20 || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

BpeModel::BpeModel(Vocab vocab, const Merges& merges, BpeOptions options, std::string file)
    : vocab_(std::move(vocab)), options_(std::move(options)), file_(std::move(file)) {
  int64_t limit = 0;
  for (const auto& [token, id] : vocab_) {
    MOME_CHECK(id >= 0 && id < std::numeric_limits<int32_t>::max(), ErrorCode::kCorruptFile, file_, ": vocabulary id ",
               id, " of token '", Printable(token), "' is out of range");
    limit = std::max(limit, id + 1);
  }
  // Ids index a table; a corrupt file with a huge id must fail cleanly rather than exhaust memory.
  MOME_CHECK(limit <= static_cast<int64_t>(4 * vocab_.size()) + (1 << 20), ErrorCode::kCorruptFile, file_,
             ": vocabulary ids reach ", limit - 1, " for only ", vocab_.size(), " tokens");
  id_to_token_.resize(limit);
  has_token_.assign(limit, false);
  for (const auto& [token, id] : vocab_) {
    id_to_token_[id] = token;
    has_token_[id] = true;
  }

  const size_t prefix_length = options_.continuing_subword_prefix.size();
  const auto id_of = [&](const std::string& token, size_t rank) {
    auto it = vocab_.find(token);
    MOME_CHECK(it != vocab_.end(), ErrorCode::kCorruptFile, file_, ": merge ", rank, " uses token '", Printable(token),
               "', which is not in the vocabulary");
    return it->second;
  };
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    MOME_CHECK(right.size() >= prefix_length, ErrorCode::kCorruptFile, file_, ": merge ", rank,
               " has a right part shorter than continuing_subword_prefix");
    // The merged token drops the right part's continuing-subword prefix (HF: a + b[prefix_len..]).
    const int64_t new_id = id_of(left + right.substr(prefix_length), rank);
    // Like HF's map built from the list, a repeated pair keeps its last rank.
    merges_[PairKey(id_of(left, rank), id_of(right, rank))] = {static_cast<int32_t>(rank),
                                                               static_cast<int32_t>(new_id)};
  }
}

std::optional<int64_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int64_t id) const {
  if (id < 0 || id >= IdLimit() || !has_token_[id]) return nullptr;
  return &id_to_token_[id];
}

const BpeModel::Merge* BpeModel::FindMerge(int32_t left, int32_t right) const {
  auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

int32_t BpeModel::UnkId() const {
  auto it = vocab_.find(*options_.unk_token);
  MOME_CHECK(it != vocab_.end(), ErrorCode::kCorruptFile, file_, ": unk_token '", Printable(*options_.unk_token),
             "' is not in the vocabulary");
  return static_cast<int32_t>(it->second);
}

// One symbol per character, looked up with the continuing-subword prefix (not first) and the
// end-of-word suffix (last); unknown characters go through byte fallback or unk, exactly in
// HF's order of checks (including its quirk that byte-fallback tokens do not flush a pending unk).
std::vector<BpeModel::Symbol> BpeModel::InitialSymbols(std::string_view word) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&](int64_t id, size_t length) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<int32_t>(id), index - 1, -1, static_cast<uint32_t>(length)});
    if (index > 0) symbols[index - 1].next = index;
  };
  int32_t unk_id = -1;  // a pending unk (>= 0) and the bytes it covers
  size_t unk_length = 0;
  std::string piece;
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = DecodeUtf8At(word, pos).length;
    const bool first = pos == 0;
    const bool last = pos + length == word.size();
    piece.clear();
    if (!first) piece += options_.continuing_subword_prefix;
    piece.append(word.substr(pos, length));
    if (last) piece += options_.end_of_word_suffix;
    pos += length;

    if (auto it = vocab_.find(piece); it != vocab_.end()) {
      if (unk_id >= 0) add(unk_id, unk_length), unk_id = -1;
      add(it->second, length);
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int64_t> bytes;
      for (unsigned char b : piece) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        auto it = vocab_.find(name);
        if (it == vocab_.end()) break;
        bytes.push_back(it->second);
      }
      if (bytes.size() == piece.size()) {
        for (int64_t id : bytes) add(id, 1);
        continue;
      }
    }
    if (options_.unk_token) {
      if (unk_id >= 0 && options_.fuse_unk) {
        unk_length += length;
      } else {
        if (unk_id >= 0) add(unk_id, unk_length);
        unk_id = UnkId(), unk_length = length;
      }
    }
    // Without an unk token HF silently drops the character; so do we.
  }
  if (unk_id >= 0) add(unk_id, unk_length);
  return symbols;
}

// Merges the lowest-ranked adjacent pair first (leftmost on ties), with a heap of candidate pairs
// over a linked list of symbols: O(n log n) per word instead of rescanning all pairs per merge.
void BpeModel::MergeAll(std::vector<Symbol>* symbols_ptr) const {
  std::vector<Symbol>& symbols = *symbols_ptr;
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
  };
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  const auto push = [&](int32_t pos) {
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    if (const Merge* m = FindMerge(symbols[pos].id, symbols[next].id)) queue.push({m->rank, pos, m->new_id});
  };
  for (int32_t pos = 0; pos + 1 < static_cast<int32_t>(symbols.size()); ++pos) push(pos);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    // A stale entry: the pair at this position has changed since it was queued. HF compares the
    // resulting id only, so we do too.
    const Merge* now = FindMerge(left.id, right.id);
    if (now == nullptr || now->new_id != top.new_id) continue;

    left.id = top.new_id;
    left.length += right.length;
    left.next = right.next;
    right.length = 0;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) push(left.prev);
    push(top.pos);
  }
}

void BpeModel::Tokenize(std::string_view word, std::vector<int64_t>* ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (auto it = vocab_.find(std::string(word)); it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  std::vector<Symbol> symbols = InitialSymbols(word);
  MergeAll(&symbols);
  for (const Symbol& s : symbols) {
    if (s.length > 0) ids->push_back(s.id);
  }
}

}  // namespace mome::text
