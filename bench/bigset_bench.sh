#!/bin/bash
# Outputs linear in the work: a scenario of STEPS `SISMEMBER` steps on one set of MEMBERS
# members (default 10,000 each), run with --quiet and with --json; prints wall time, CPU
# time and peak RSS of each run. Target: <= 2 s and <= 200 MB each.
#
# usage: bench/bigset_bench.sh [AASIM] [STEPS] [MEMBERS]
set -euo pipefail
aasim=${1:-build/release/cli/aasim}
steps=${2:-10000}
members=${3:-10000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
scenario="$dir/bigset.yaml"
{
  echo "name: \"Big set: $steps SISMEMBER steps on one $members-member set\""
  echo "seed: 1"
  echo "regions: [A, B]"
  echo "links:"
  echo "  default: { latency: 10ms }"
  echo "steps:"
  # Members in commands of 1,000 (each one step).
  for ((m = 0; m < members; m += 1000)); do
    line="  - A: SADD big"
    for ((i = m; i < m + 1000 && i < members; ++i)); do line+=" m$i"; done
    echo "$line"
  done
  echo "  - sync"
  for ((s = 0; s < steps; ++s)); do
    if ((s % 2 == 0)); then echo "  - A: SISMEMBER big m$((s % members))"; else
      echo "  - B: SISMEMBER big m$((s % members))"; fi
  done
} >"$scenario"
for mode in --quiet --json; do
  /usr/bin/time -f "$mode: %e s wall, %U s user, %M KB peak RSS" \
    "$aasim" run "$mode" "$scenario" >"$dir/out" 2>"$dir/time" || true
  tail -1 "$dir/time"
  echo "$mode: output $(wc -c <"$dir/out") bytes"
done
