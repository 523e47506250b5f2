#!/usr/bin/env bash
# Rewrites tests/expected/ from the current build (build/release unless BUILD_DIR is set):
# one output per scenario on the memory backend, and the durable variants on Redis. Use it
# only when a change of output is intended, and review `git diff tests/expected` before
# committing: CI fails when any scenario's output differs from these files.
set -euo pipefail
cd "$(dirname "$0")/.."
aasim=${BUILD_DIR:-build/release}/cli/aasim
for f in scenarios/*.yaml; do
  "$aasim" run "$f" >"tests/expected/$(basename "$f" .yaml).txt"
done
for f in tests/cluster_sim/redis_scenarios/{crash-restart,lending-region-crash}-durable.yaml; do
  "$aasim" run --backend redis "$f" >"tests/expected/$(basename "$f" .yaml).txt"
done
git status --short tests/expected
