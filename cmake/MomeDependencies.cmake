# Finds every dependency of libmome; nothing else lives here.
find_package(Torch REQUIRED)
find_package(PkgConfig)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.2 REQUIRED)
# yaml-cpp 0.7 (Debian) exports `yaml-cpp`, 0.8 (GPU machine) `yaml-cpp::yaml-cpp`.
if(TARGET yaml-cpp::yaml-cpp)
  set(MOME_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(MOME_YAML_TARGET yaml-cpp)
endif()

# SentencePiece: pkg-config where it has a .pc file, else a plain library search.
if(PkgConfig_FOUND)
  pkg_check_modules(SentencePiece IMPORTED_TARGET sentencepiece)
endif()
if(SentencePiece_FOUND)
  set(MOME_SPM_TARGET PkgConfig::SentencePiece)
else()
  find_library(MOME_SPM_LIBRARY sentencepiece REQUIRED)
  find_path(MOME_SPM_INCLUDE sentencepiece_processor.h REQUIRED)
  add_library(mome_sentencepiece INTERFACE)
  target_link_libraries(mome_sentencepiece INTERFACE ${MOME_SPM_LIBRARY})
  target_include_directories(mome_sentencepiece INTERFACE ${MOME_SPM_INCLUDE})
  set(MOME_SPM_TARGET mome_sentencepiece)
endif()

# CUDA is used when the LibTorch we found was built with it.
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(MOME_WITH_CUDA ON)
else()
  set(MOME_WITH_CUDA OFF)
endif()
message(STATUS "mome: LibTorch ${Torch_VERSION}, CUDA ${MOME_WITH_CUDA}")

# Media I/O (FFmpeg + OpenCV) is optional: the GPU machine has neither.
set(MOME_MEDIA_ENABLED OFF)
if(NOT MOME_WITH_MEDIA STREQUAL "OFF" AND PkgConfig_FOUND)
  pkg_check_modules(FFmpeg IMPORTED_TARGET libavformat libavcodec libavutil libswresample libswscale)
  find_package(OpenCV QUIET COMPONENTS core imgproc objdetect calib3d)
  if(FFmpeg_FOUND AND OpenCV_FOUND)
    set(MOME_MEDIA_ENABLED ON)
  elseif(MOME_WITH_MEDIA STREQUAL "ON")
    message(FATAL_ERROR "MOME_WITH_MEDIA=ON but FFmpeg (libav*-dev) or OpenCV (libopencv-dev) was not found")
  endif()
endif()
message(STATUS "mome: media I/O (FFmpeg + OpenCV) ${MOME_MEDIA_ENABLED}")

# cpp-httplib (Debian libcpp-httplib-dev, a compiled library): mome_serve's HTTP server. Its pkg-config flags
# carry the feature defines (OpenSSL, zlib, brotli) that its ABI depends on.
# Optional: without it (the GPU machine, which has no package access) the library builds without serve/ and
# mome_serve.
if(PkgConfig_FOUND)
  pkg_check_modules(HTTPLIB IMPORTED_TARGET cpp-httplib)
endif()
if(HTTPLIB_FOUND)
  set(MOME_SERVE_ENABLED ON)
else()
  set(MOME_SERVE_ENABLED OFF)
  message(STATUS "mome: cpp-httplib not found (Debian libcpp-httplib-dev): building without mome_serve")
endif()
