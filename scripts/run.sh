#!/usr/bin/env bash
# The main job: install what aasim needs, build it, and replay the book's scenarios on the
# embedded in-memory backend. Extra arguments go to `aasim run` (e.g. --json, --seed 42).
# It builds only the aasim target (no tests, no benchmarks: quicker), in build/release as
# configured for everything: a later `bash scripts/build.sh` builds the rest there. (Turning
# the tests off in that folder's configuration would leave its old test binaries and ctest
# files behind, run as if current.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=build/release TARGETS=aasim bash scripts/build.sh
exec build/release/cli/aasim run "$@" scenarios/*.yaml
