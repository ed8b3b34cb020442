// Preparing a corpus (mome_prepare): every clip decoded once into shards that training and decoding read without
// FFmpeg. Clips are sorted by key and cut into shards of `shard_size`; each shard is written whole (temp + rename)
// and then marked done, so a killed run resumes at the first unfinished shard and never leaves a corrupt one.
// A clip that cannot be read (media, transcript) is reported in OUT/problems.jsonl and skipped; it never stops the
// run. OUT/prepare.json records the settings: a re-run with other settings is refused.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "mome/data/clip_source.h"
#include "mome/data/corpus.h"

namespace mome::data {

struct PrepareOptions {
  std::string corpus = "lrs3";  // lrs3 | lrs2 | autoavsr | manifest
  std::string root;             // corpus root (manifest: the .jsonl file)
  std::string split;            // lrs3/lrs2: split folder or list (default test); autoavsr: the label CSV
  ClipSourceOptions source;     // mouth crops and streams
  int64_t threads = 2;          // clips decoded in parallel
  int64_t shard_size = 256;     // clips per shard
  bool allow_outside_root = false;  // manifest/label paths may leave the root (data/corpus.h)
};

struct PrepareResult {
  int64_t clips = 0;               // in the manifest
  int64_t skipped = 0;             // in problems.jsonl (listing problems + unreadable clips)
  size_t shards = 0, resumed = 0;  // resumed: finished by an earlier run
};

// The corpus listing, sorted by key (kInvalidArgument for an unknown kind, kNotFound for a missing root).
CorpusListing ListCorpus(const std::string& corpus, const std::string& root, const std::string& split,
                         bool allow_outside_root = false);

// Prepares into `out`; `progress` (optional) is called with the number of clips done, from worker threads.
PrepareResult PrepareCorpus(const PrepareOptions& options, const std::string& out,
                            const std::function<void(int64_t done, int64_t total)>& progress = {});

}  // namespace mome::data
