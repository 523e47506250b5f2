#!/usr/bin/env bash
# The Redis backend's cost: `aasim run FILE` in memory and with `--backend redis` (aasim
# starts and stops one redis-server per region, AOF with `appendfsync always`, on /dev/shm),
# rounds alternating, the median wall time of each and their ratio. The outputs must be
# identical (the script checks it).
#
#   bench/backend_bench.sh [AASIM] [FILE] [ROUNDS]
#   defaults: build/release/cli/aasim scenarios/long-partition.yaml 5
set -euo pipefail
AASIM="${1:-build/release/cli/aasim}"
FILE="${2:-scenarios/long-partition.yaml}"
ROUNDS="${3:-5}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

for ((i = 1; i <= ROUNDS; i++)); do
  t0=$(now)
  "$AASIM" run "$FILE" --quiet >"$tmp/memory.out"
  t1=$(now)
  "$AASIM" run --backend redis "$FILE" --quiet >"$tmp/redis.out"
  t2=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}' >>"$tmp/memory.s"
  awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.3f\n", b - a}' >>"$tmp/redis.s"
  cmp -s "$tmp/memory.out" "$tmp/redis.out" || {
    echo "outputs differ:" >&2
    diff "$tmp/memory.out" "$tmp/redis.out" >&2
    exit 1
  }
done
m=$(median <"$tmp/memory.s")
r=$(median <"$tmp/redis.s")
echo "file: $FILE, $ROUNDS rounds alternating, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "memory wall s (median): $m   all: $(paste -sd' ' "$tmp/memory.s")"
echo "redis  wall s (median): $r   all: $(paste -sd' ' "$tmp/redis.s")"
echo "ratio redis/memory: $(awk -v r="$r" -v m="$m" 'BEGIN {printf "%.2f", r / m}')"
