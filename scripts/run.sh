#!/usr/bin/env bash
# The main job: install what aasim needs, build it, and replay the book's scenarios on the
# embedded in-memory backend. Extra arguments go to `aasim run` (e.g. --json, --seed 42).
# It builds only aasim (no tests, no benchmarks: quicker); a later `bash scripts/build.sh`
# turns them back on in the same folder, build/release.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=build/release bash scripts/build.sh -DAASIM_BUILD_TESTS=OFF -DAASIM_BUILD_BENCH=OFF
exec build/release/cli/aasim run "$@" scenarios/*.yaml
