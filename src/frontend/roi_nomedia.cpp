// Mouth ROI without OpenCV (MOME_WITH_MEDIA=OFF, as on the GPU machine): only precropped clips.
#include "frontend/roi_backend.h"
#include "mome/core/error.h"

namespace mome::frontend {

bool MouthRoiAvailable() {
  return false;
}

namespace detail {
namespace {
[[noreturn]] void Unavailable(const std::string& source, const char* mode) {
  MOME_FAIL(ErrorCode::kUnsupported, source, ": --roi ", mode,
            " needs OpenCV, and this libmome was built without it (MOME_WITH_MEDIA=OFF); prepare the clips with "
            "mome_prepare on a machine with FFmpeg and OpenCV");
}
}  // namespace

void CheckBackend(const MouthRoiOptions& options) {
  if (options.mode != "precropped") Unavailable("mouth ROI", options.mode.c_str());
}

at::Tensor CropMouthsByDetection(const at::Tensor&, const MouthRoiOptions&, const std::string& source) {
  Unavailable(source, "detect");
}
at::Tensor CropMouthsByLandmarks(const at::Tensor&, const at::Tensor&, const at::Tensor&, const std::string& source) {
  Unavailable(source, "landmarks");
}

}  // namespace detail
}  // namespace mome::frontend
