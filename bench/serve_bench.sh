#!/usr/bin/env bash
# aasim serve against a plain redis-server, same machine, same run:
#   redis-benchmark -P 16 -c 50 -t set,incr,sadd -n N, and EVALSHA of a one-INCR Lua script
#   (loaded with SCRIPT LOAD on each server first)
# against (1) a redis-server this script starts, (2) a one-region `aasim serve` endpoint
# (in-memory store; no peers, so this measures the RESP server and the store) and (3) region
# A of a two-region `aasim serve` (every write also becomes an effect shipped to B over a
# simulated 10ms link, acknowledged and merged there: the simulator's cost on top).
# Rounds alternate the servers so background load hits all of them alike; the median per
# server is reported, with the ratio to redis-server (targets: >= 80% for (2), >= 60% for
# (3)). Region A's full and partial syncs (INFO activeactive) are printed before and after:
# the backlog must hold, so no full sync.
#
# Usage: bench/serve_bench.sh [AASIM_BINARY] (default build/release/cli/aasim); N=... ROUNDS=...
# TESTS="set incr sadd evalsha" (the default) picks the rows.
set -euo pipefail
cd "$(dirname "$0")/.."
AASIM=${1:-build/release/cli/aasim}
N=${N:-1000000}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {  # below the ephemeral range: no outgoing connection can take it first
  python3 tests/server/ports.py
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" > /dev/null 2>&1 &
pids+=($!)

printf 'name: bench, one region\nregions: [A]\n' > "$work/one.yaml"
printf 'name: bench, two regions\nregions: [A, B]\nlinks:\n  default: { latency: 10ms }\n' \
  > "$work/two.yaml"
start_aasim() {  # FILE OUT: starts it here (not in a subshell, so cleanup can stop it)
  "$AASIM" serve "$1" > "$2" 2> "$2.err" &
  pids+=($!)
}
port_of_a() {  # OUT -> region A's port, once printed
  for _ in $(seq 100); do
    if grep -q '^A ' "$1"; then break; fi
    sleep 0.05
  done
  awk '$1 == "A" { split($2, a, ":"); print a[2] }' "$1"
}
start_aasim "$work/one.yaml" "$work/one.out"
start_aasim "$work/two.yaml" "$work/two.out"
one_port=$(port_of_a "$work/one.out")
two_port=$(port_of_a "$work/two.out")
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

script="return redis.call('INCR', KEYS[1])"
for p in "$redis_port" "$one_port" "$two_port"; do
  sha=$(redis-cli -p "$p" SCRIPT LOAD "$script")
done
rate() {  # PORT TEST -> requests per second
  local what=(-t "$2")
  if [ "$2" = evalsha ]; then what=(EVALSHA "$sha" 1 bench:lua); fi
  redis-benchmark -p "$1" -P 16 -c 50 -n "$N" -q "${what[@]}" 2>/dev/null | tr '\r' '\n' |
    awk '/requests per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") print $(i - 1) }' |
    tail -1
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
syncs() {  # PORT -> "full_syncs=F partial_syncs=P backlog_limit=L"
  redis-cli -p "$1" INFO activeactive | tr -d '\r' |
    awk -F: '/^(full_syncs|partial_syncs|backlog_limit):/ { printf "%s=%s ", $1, $2 }'
}

echo "redis-benchmark -P 16 -c 50 -n $N, $ROUNDS rounds, median; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %16s %16s %8s %16s %8s\n' test redis-server "aasim 1 region" ratio "aasim 2 regions" ratio
echo "two regions, A before: $(syncs "$two_port")"
for t in ${TESTS:-set incr sadd evalsha}; do
  r=() a=() b=()
  for _ in $(seq "$ROUNDS"); do
    r+=("$(rate "$redis_port" "$t")")
    a+=("$(rate "$one_port" "$t")")
    b+=("$(rate "$two_port" "$t")")
  done
  rm=$(printf '%s\n' "${r[@]}" | median)
  am=$(printf '%s\n' "${a[@]}" | median)
  bm=$(printf '%s\n' "${b[@]}" | median)
  printf '%-7s %16.0f %16.0f %7.0f%% %16.0f %7.0f%%\n' "$t" "$rm" "$am" \
    "$(echo "100 * $am / $rm" | bc -l)" "$bm" "$(echo "100 * $bm / $rm" | bc -l)"
done
echo "two regions, A after:  $(syncs "$two_port")"
