# Finds every dependency of libmome; nothing else lives here.
find_package(Torch REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.2 REQUIRED)
pkg_check_modules(SentencePiece REQUIRED IMPORTED_TARGET sentencepiece)

# CUDA is used when the LibTorch we found was built with it.
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(MOME_WITH_CUDA ON)
else()
  set(MOME_WITH_CUDA OFF)
endif()
message(STATUS "mome: LibTorch ${Torch_VERSION}, CUDA ${MOME_WITH_CUDA}")

# Media I/O (FFmpeg + OpenCV) is optional: the GPU machine has neither.
set(MOME_MEDIA_ENABLED OFF)
if(NOT MOME_WITH_MEDIA STREQUAL "OFF")
  pkg_check_modules(FFmpeg IMPORTED_TARGET libavformat libavcodec libavutil libswresample libswscale)
  find_package(OpenCV QUIET COMPONENTS core imgproc objdetect)
  if(FFmpeg_FOUND AND OpenCV_FOUND)
    set(MOME_MEDIA_ENABLED ON)
  elseif(MOME_WITH_MEDIA STREQUAL "ON")
    message(FATAL_ERROR "MOME_WITH_MEDIA=ON but FFmpeg (libav*-dev) or OpenCV (libopencv-dev) was not found")
  endif()
endif()
message(STATUS "mome: media I/O (FFmpeg + OpenCV) ${MOME_MEDIA_ENABLED}")
