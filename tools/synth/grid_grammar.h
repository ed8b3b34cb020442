// GRID-corpus sentences (Cooke et al. 2006): command colour preposition letter digit adverb, e.g. "BIN BLUE AT F
// TWO NOW". 4 x 4 x 4 x 25 x 10 x 4 = 64000 sentences, numbered 0..63999 in that order. A hash of the number
// puts every sentence in one of ten parts: part 0 is kept for test splits and part 1 for validation splits, so
// evaluation sentences are never seen in training, while every word combination still occurs in training.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace mome::synth {

struct GridSentence {
  std::vector<std::string> words;   // transcript words, upper case (the letter as a capital letter)
  std::vector<std::string> spoken;  // what the synthesiser reads for each word (letters as their names)
};

inline const std::vector<std::vector<std::string>>& GridSlots() {
  static const std::vector<std::vector<std::string>> slots = {
      {"BIN", "LAY", "PLACE", "SET"},
      {"BLUE", "GREEN", "RED", "WHITE"},
      {"AT", "BY", "IN", "WITH"},
      {"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M",
       "N", "O", "P", "Q", "R", "S", "T", "U", "V", "X", "Y", "Z"},
      {"ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"},
      {"AGAIN", "NOW", "PLEASE", "SOON"}};
  return slots;
}

inline int64_t GridSentenceCount() {
  int64_t n = 1;
  for (const auto& s : GridSlots()) n *= static_cast<int64_t>(s.size());
  return n;
}

// Letter names as espeak reads them unambiguously ("a" alone would be the article).
inline std::string SpokenLetter(const std::string& letter) {
  static const char* names[] = {"ay",  "bee", "see",  "dee", "ee",  "eff", "gee",   "aitch", "eye",
                                "jay", "kay", "ell",  "em",  "en",  "oh",  "pee",   "queue", "ar",
                                "ess", "tee", "you",  "vee", "double you", "ex",  "why",   "zed"};
  return names[letter[0] - 'A'];
}

inline GridSentence GridSentenceAt(int64_t index) {
  GridSentence s;
  const auto& slots = GridSlots();
  std::vector<int64_t> digits(slots.size());
  for (size_t i = slots.size(); i-- > 0;) {
    digits[i] = index % static_cast<int64_t>(slots[i].size());
    index /= static_cast<int64_t>(slots[i].size());
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const std::string& w = slots[i][digits[i]];
    s.words.push_back(w);
    std::string lower;
    for (char c : w) lower += static_cast<char>(c - 'A' + 'a');
    s.spoken.push_back(i == 3 ? SpokenLetter(w) : lower);
  }
  return s;
}

inline int64_t SentencePart(int64_t index) {  // 0..9, well mixed (Knuth's multiplicative hash)
  return static_cast<int64_t>(((static_cast<uint64_t>(index) * 2654435761ULL) & 0xffffffffULL) % 10);
}

// A sentence number for a split: part 0 for test*, 1 for val*/dev*, 2..9 otherwise (rejection sampling).
inline int64_t SampleSentenceIndex(const std::string& split, std::mt19937_64& rng) {
  const bool test = split.rfind("test", 0) == 0;
  const bool val = split.rfind("val", 0) == 0 || split.rfind("dev", 0) == 0;
  for (;;) {
    const auto index = static_cast<int64_t>(rng() % static_cast<uint64_t>(GridSentenceCount()));
    const int64_t part = SentencePart(index);
    if (test ? part == 0 : val ? part == 1 : part >= 2) return index;
  }
}

}  // namespace mome::synth
