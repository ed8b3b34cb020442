// Transcribes media files with a trained libmome model and prints every word with its time and confidence — what
// `mome_decode --timestamps` prints, from an application. Files of any length: they are cut at pauses.
//   transcribe_words RUN_DIR FILE...
#include <iostream>

#include <mome/core/error.h>
#include <mome/data/clip_source.h>
#include <mome/decode/transcribe.h>
#include <mome/decode/word_timing.h>
#include <mome/model/trained_model.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: transcribe_words RUN_DIR FILE...\n";
    return 2;
  }
  try {
    const auto model = mome::model::LoadTrainedModel(argv[1], c10::Device(c10::kCPU), c10::kFloat);
    const auto alignment = mome::decode::LoadAlignmentConfig(model.dir);  // from mome_align --select-heads
    const auto& pipeline = *model.pipeline;
    mome::decode::Transcriber transcriber(pipeline, pipeline.model()->rate_pairs().front(),
                                          mome::decode::PipelineGenerateOptions(pipeline, 4, 32),
                                          alignment.heads.empty() ? nullptr : &alignment);
    mome::data::ClipSourceOptions source;
    source.audio = pipeline.uses_audio();
    source.video = pipeline.uses_video();
    for (int i = 2; i < argc; ++i) {
      const auto clip = mome::data::LoadClip(mome::data::ItemForFile(argv[i]), source);
      const auto result = transcriber.RunLong(clip, 20.0, 8);
      std::cout << argv[i] << ": " << result.text << "\n";
      for (const auto& w : result.words)
        std::cout << "  " << w.start << "-" << w.end << " s  " << w.word << "  (" << w.confidence << ")\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "transcribe_words: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
