#!/usr/bin/env bash
# Configures and builds aasim into BUILD_DIR (default build/release) with extra CMake
# arguments passed through. Used by run.sh and test.sh; fine to call by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
