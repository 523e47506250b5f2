#!/usr/bin/env bash
# The Redis backend's cost: `aasim run FILE` in memory and with `--backend redis` (aasim
# starts and stops one redis-server per region, AOF with `appendfsync always`, on /dev/shm),
# rounds alternating: the median wall time of each, and the median CPU time (user + system,
# the redis-servers' included: they are aasim's children), and their ratios. On a loaded
# machine the CPU ratio is the steadier figure. The outputs must be identical (checked).
#
#   bench/backend_bench.sh [AASIM] [FILE] [ROUNDS]
#   defaults: build/release/cli/aasim scenarios/long-partition.yaml 5
set -euo pipefail
AASIM="${1:-build/release/cli/aasim}"
FILE="${2:-scenarios/long-partition.yaml}"
ROUNDS="${3:-5}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# run NAME ARGS...: appends the wall and CPU seconds to $tmp/NAME.s and $tmp/NAME.cpu. Timed
# to the microsecond (an in-memory run takes a few hundredths of a second: time(1)'s 10 ms
# steps would make the ratio a matter of rounding).
run() {
  local name=$1
  shift
  python3 - "$tmp/time" "$AASIM" run "$@" --quiet >"$tmp/$name.out" <<'PY'
import resource, subprocess, sys, time
start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
subprocess.run(sys.argv[2:], check=True)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
with open(sys.argv[1], "w") as f:
    f.write("%.4f %.4f\n" % (time.perf_counter() - start, cpu))
PY
  awk '{print $1}' "$tmp/time" >>"$tmp/$name.s"
  awk '{print $2}' "$tmp/time" >>"$tmp/$name.cpu"
}

for ((i = 1; i <= ROUNDS; i++)); do
  run memory "$FILE"
  run redis --backend redis "$FILE"
  cmp -s "$tmp/memory.out" "$tmp/redis.out" || {
    echo "outputs differ:" >&2
    diff "$tmp/memory.out" "$tmp/redis.out" >&2
    exit 1
  }
done
echo "file: $FILE, $ROUNDS rounds alternating, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for what in s cpu; do
  m=$(median <"$tmp/memory.$what")
  r=$(median <"$tmp/redis.$what")
  label=$([[ $what == s ]] && echo "wall" || echo "CPU ")
  echo "memory $label s (median): $m   all: $(paste -sd' ' "$tmp/memory.$what")"
  echo "redis  $label s (median): $r   all: $(paste -sd' ' "$tmp/redis.$what")"
  echo "ratio redis/memory ($label): $(awk -v r="$r" -v m="$m" 'BEGIN {printf "%.2f", r / m}')"
done
