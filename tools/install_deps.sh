#!/usr/bin/env bash
# Installs the Debian (bookworm) packages libmome needs, only those missing. Safe to run again.
set -euo pipefail

PACKAGES=(
  cmake ninja-build ccache g++ pkg-config git
  libtorch-dev libgloo-dev
  # Debian's libtorch calls BLAS/LAPACK through the libblas.so.3 alternative; without this it gets the netlib
  # reference BLAS. OpenBLAS (OpenMP build, to share libtorch's thread pool) made a demo training step ~3x faster.
  libopenblas0-openmp
  # tcmalloc for the tools: glibc malloc returns a training step's large tensors to the kernel and faults them in
  # again every step (CMakeLists.txt, MOME_TCMALLOC): 0.75 -> 0.44 s a demo AVSR step.
  libtcmalloc-minimal4
  libsentencepiece-dev sentencepiece
  libyaml-cpp-dev libspdlog-dev nlohmann-json3-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev
  libopencv-dev opencv-data
  ffmpeg sox espeak-ng libespeak-ng-dev gnuplot-nox sctk python3 curl
  # tools/fuzz.sh and tools/check.sh: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # the web page's browser test (TrainingRun.WebPage*): headless Chromium driven by Selenium
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present" >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install_deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
