#!/usr/bin/env bash
# Configures and builds aasim into BUILD_DIR (default build/release) with extra CMake
# arguments passed through. Used by run.sh and test.sh; fine to call by hand.
# Tests and benchmarks are always configured ON unless the caller's arguments (which come
# after) turn them off; TARGETS="aasim ..." builds only those targets (run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
JOBS=${JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null; then
  # Optional: reuses objects across build directories and checkouts of this repository.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DAASIM_BUILD_TESTS=ON -DAASIM_BUILD_BENCH=ON "$@" >/dev/null
# TARGETS="a b": build only those (the folder stays configured with everything).
cmake --build "$BUILD_DIR" -j "$JOBS" ${TARGETS:+--target $TARGETS}
