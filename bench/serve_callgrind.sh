#!/usr/bin/env bash
# Instructions per command of an endpoint, counted by callgrind (free of the machine's load):
# the server runs under `valgrind --tool=callgrind` (the whole process: for two regions, A
# and B and the simulated link between them), `redis-benchmark -P 16 -c 50 -t TEST -n N`
# drives region A (or the redis-server), then SIGINT; the same with `-n 1` is subtracted, and
# the difference divided by N - 1.
#
# Usage: bench/serve_callgrind.sh [AASIM_BINARY] (default build/release/cli/aasim)
#   TARGETS="one two redis" (the default: a one-region `aasim serve`, region A of a
#   two-region one on a 10ms link, a plain redis-server), TESTS="set incr sadd", N=40000.
#   KEEP=DIR keeps the callgrind files of the N runs there (callgrind_annotate them).
set -euo pipefail
cd "$(dirname "$0")/.."
AASIM=${1:-build/release/cli/aasim}
N=${N:-40000}
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {  # below the ephemeral range: no outgoing connection can take it first
  python3 tests/server/ports.py
}
printf 'name: bench, one region\nregions: [A]\n' > "$work/one.yaml"
printf 'name: bench, two regions\nregions: [A, B]\nlinks:\n  default: { latency: 10ms }\n' \
  > "$work/two.yaml"

# TARGET TEST COUNT -> total instructions of the server process
measure() {
  local out="$work/cg.$1.$2.$3" port
  if [ "$1" = redis ]; then
    port=$(free_port)
    valgrind --tool=callgrind --callgrind-out-file="$out" redis-server --port "$port" \
      --bind 127.0.0.1 --save '' --appendonly no --dir "$work" > "$work/log" 2>&1 &
    pid=$!
  else
    valgrind --tool=callgrind --callgrind-out-file="$out" "$AASIM" serve "$work/$1.yaml" \
      > "$work/ports" 2> "$work/log" &
    pid=$!
    for _ in $(seq 600); do grep -q '^A ' "$work/ports" 2>/dev/null && break; sleep 0.1; done
    port=$(awk '$1 == "A" { split($2, a, ":"); print a[2] }' "$work/ports")
  fi
  for _ in $(seq 600); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.1; done
  redis-benchmark -p "$port" -P 16 -c 50 -n "$3" -q -t "$2" > /dev/null 2>&1
  kill -INT "$pid"
  wait "$pid" || true
  pid=
  if [ -n "${KEEP:-}" ] && [ "$3" != 1 ]; then mkdir -p "$KEEP" && cp "$out" "$KEEP/"; fi
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

printf '%-6s %-6s %14s\n' target test instr/cmd
for target in ${TARGETS:-one two redis}; do
  for t in ${TESTS:-set incr sadd}; do
    base=$(measure "$target" "$t" 1)
    total=$(measure "$target" "$t" "$N")
    printf '%-6s %-6s %14.0f\n' "$target" "$t" "$(echo "($total - $base) / ($N - 1)" | bc -l)"
  done
done
