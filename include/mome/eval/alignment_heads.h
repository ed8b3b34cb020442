// Choosing a checkpoint's alignment heads: on held-out clips with reference word tables, the reference transcript
// is teacher-forced at every trained rate pair, each attention head alone times the words (decode/word_timing.h),
// and the heads whose word starts are closest to the reference (median absolute error over all words) are kept.
#pragma once

#include <functional>
#include <vector>

#include "mome/data/prepared.h"
#include "mome/decode/word_timing.h"
#include "mome/model/avsr_pipeline.h"

namespace mome::eval {

struct HeadSelectionOptions {
  int64_t heads = 4;         // how many to keep
  int64_t median_width = 7;  // the median filter used for timing
};

// `clips` must carry word tables (clip.words); clips whose transcript does not split into the table's words are
// skipped. Throws when no clip can be used. `progress` (optional) is called after each clip.
decode::AlignmentConfig SelectAlignmentHeads(const model::AVSRPipeline& pipeline,
                                             const std::vector<data::PreparedClip>& clips,
                                             const HeadSelectionOptions& options,
                                             const std::function<void(size_t done)>& progress = {});

}  // namespace mome::eval
