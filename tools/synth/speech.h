// Speech from espeak-ng with the timing of every phoneme and word: the synthesiser runs synchronously and its
// callback hands over audio blocks with events whose audio_position is milliseconds from the start.
// espeak-ng keeps global state, so one Speaker exists per process and synthesis is sequential.
#pragma once

#include <espeak-ng/speak_lib.h>

#include <string>
#include <vector>

#include "mome/core/error.h"

namespace mome::synth {

struct TimedPhoneme {
  std::string name;  // espeak phoneme mnemonic, e.g. "b", "I", "aI", "_:" (pause)
  double start = 0;  // seconds
};

struct Utterance {
  std::vector<int16_t> samples;
  int sample_rate = 0;
  std::vector<TimedPhoneme> phonemes;
  std::vector<double> word_starts;  // seconds, one per word of the text (as espeak counts words)
};

class Speaker {
 public:
  Speaker() {
    sample_rate_ = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, nullptr,
                                     espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_DONT_EXIT);
    MOME_CHECK(sample_rate_ > 0, ErrorCode::kNotFound,
               "espeak-ng could not start (is espeak-ng-data installed? tools/install_deps.sh installs it)");
    espeak_SetSynthCallback(&Speaker::Callback);
  }
  ~Speaker() { espeak_Terminate(); }
  Speaker(const Speaker&) = delete;
  Speaker& operator=(const Speaker&) = delete;

  // voice: an espeak-ng voice with an optional variant, e.g. "en-us+m3"; rate in words per minute; pitch 0..99.
  Utterance Say(const std::string& text, const std::string& voice, int rate, int pitch) {
    MOME_CHECK(espeak_SetVoiceByName(voice.c_str()) == EE_OK, ErrorCode::kInvalidArgument, "voice '", voice,
               "' is not an espeak-ng voice (see espeak-ng --voices=en and --voices=variant)");
    espeak_SetParameter(espeakRATE, rate, 0);
    espeak_SetParameter(espeakPITCH, pitch, 0);
    Utterance u;
    u.sample_rate = sample_rate_;
    const espeak_ERROR rc =
        espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, &u);
    MOME_CHECK(rc == EE_OK, ErrorCode::kInternal, "espeak-ng failed on '", text, "'");
    espeak_Synchronize();
    return u;
  }

 private:
  static int Callback(short* wav, int count, espeak_EVENT* events) {
    if (events == nullptr || events->user_data == nullptr) return 0;
    auto* u = static_cast<Utterance*>(events->user_data);
    if (wav != nullptr && count > 0) u->samples.insert(u->samples.end(), wav, wav + count);
    for (const espeak_EVENT* e = events; e->type != espeakEVENT_LIST_TERMINATED; ++e) {
      const double t = e->audio_position / 1000.0;
      if (e->type == espeakEVENT_PHONEME) {
        std::string name(e->id.string, strnlen(e->id.string, sizeof(e->id.string)));
        u->phonemes.push_back({name, t});
      } else if (e->type == espeakEVENT_WORD) {
        u->word_starts.push_back(t);
      }
    }
    return 0;
  }

  int sample_rate_ = 0;
};

}  // namespace mome::synth
