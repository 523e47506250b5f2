#!/usr/bin/env bash
# What the 1M client operations per second target of sim_bench asks of this machine,
# against redis-server's own speed on the same work, in the same run.
#
# Each client operation of BM_FiveRegionsMillionOps is executed at its origin region and
# merged into the four others: five store operations. This script has a plain redis-server
# (no replication, no CRDT metadata, no network: a Lua script that runs the commands inside
# the server) execute the same mix (INCRBY on counter:K by -5..5, SET string:K vN, SADD or
# one time in four SREM set:K mN; 10,000 keys) and reports, per command:
#   proc_ns   the command's own execution, key lookup included (INFO commandstats: the
#             time Redis measures around each command's implementation)
#   lua_ns    the same plus Redis's dispatch of a call from Lua (the script's time with the
#             calls, less its time with the same loop and no call)
# and the client operations per second that five such commands per operation would allow
# (1e9 / (5 x ns)), beside sim_bench's BM_FiveRegionsMillionOps (the simulator) and
# BM_FiveKeyspacesDirect (the bare Active/Active work) client_ops_per_s. Rounds alternate
# the two programs so background load hits both alike; medians are printed.
#
# Usage: bench/redis_reference.sh [SIM_BENCH] (default build/release/bench/sim_bench);
# ROUNDS=... (default 3), N=... Redis operations per round (default 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
SIM_BENCH=${1:-build/release/bench/sim_bench}
ROUNDS=${ROUNDS:-3}
N=${N:-1000000}
if [ ! -x "$SIM_BENCH" ]; then
  echo "redis_reference.sh: no sim_bench at '$SIM_BENCH' (build it: bash scripts/build.sh)" >&2
  exit 2
fi
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 tests/server/ports.py)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$port" ping > /dev/null || { echo "redis_reference.sh: redis-server did not start" >&2; exit 1; }

# ARGV[1]: operations; ARGV[2]: 1 to call the commands, 0 to build the same arguments only.
# Park-Miller's generator: its products stay below 2^53, exact in Lua 5.1's doubles.
cat > "$work/mix.lua" << 'LUA'
local n, call = tonumber(ARGV[1]), ARGV[2] == '1'
local seed = 7
local function draw(m)
  seed = (seed * 16807) % 2147483647
  return seed % m
end
local sink
for _ = 1, n do
  local k = draw(10000)
  local kind = k % 3
  local cmd, key, arg
  if kind == 0 then
    cmd, key, arg = 'INCRBY', 'counter:' .. k, draw(11) - 5
  elseif kind == 1 then
    cmd, key, arg = 'SET', 'string:' .. k, 'v' .. draw(1000)
  else
    cmd = draw(4) == 0 and 'SREM' or 'SADD'
    key, arg = 'set:' .. k, 'm' .. draw(20)
  end
  if call then redis.call(cmd, key, arg) else sink = cmd .. key .. arg end
end
return n
LUA
sha=$(redis-cli -p "$port" SCRIPT LOAD "$(cat "$work/mix.lua")")
seconds() {  # ARGS... -> wall seconds of the command
  python3 -c 'import subprocess, sys, time
t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(f"{time.perf_counter() - t:.6f}")' "$@"
}
redis_round() {  # -> "proc_ns lua_ns"
  redis-cli -p "$port" CONFIG RESETSTAT > /dev/null
  local with without
  with=$(seconds redis-cli -p "$port" EVALSHA "$sha" 0 "$N" 1)
  local stats
  stats=$(redis-cli -p "$port" INFO commandstats | tr -d '\r')
  without=$(seconds redis-cli -p "$port" EVALSHA "$sha" 0 "$N" 0)
  echo "$stats" | awk -F'[:,=]' -v with="$with" -v without="$without" -v n="$N" '
    /^cmdstat_(incrby|set|sadd|srem):/ { calls += $3; usec += $5 }
    END {
      if (calls != n) { print "calls " calls " != " n > "/dev/stderr"; exit 1 }
      printf "%.1f %.1f\n", usec * 1000 / calls, (with - without) * 1e9 / n
    }'
}
sim_round() {  # -> "sim_ops_per_s direct_ops_per_s"
  "$SIM_BENCH" --benchmark_filter='FiveRegionsMillionOps|FiveKeyspacesDirect' 2>/dev/null |
    awk '/^BM_FiveRegions/ { s = $0 } /^BM_FiveKeyspacesDirect/ { d = $0 }
      function rate(line,   m) {
        if (!match(line, /client_ops_per_s=[0-9.]+[kM]?/)) return 0
        m = substr(line, RSTART + 17, RLENGTH - 17)
        if (m ~ /k$/) return substr(m, 1, length(m) - 1) * 1e3
        if (m ~ /M$/) return substr(m, 1, length(m) - 1) * 1e6
        return m + 0
      }
      END { printf "%.0f %.0f\n", rate(s), rate(d) }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

redis-cli -p "$port" EVALSHA "$sha" 0 "$N" 1 > /dev/null  # the 10,000 keys exist from here on
echo "$ROUNDS rounds, $N Redis operations each; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %12s %12s %14s %14s\n' round redis_proc_ns redis_lua_ns sim_ops_per_s direct_ops_per_s
: > "$work/rows"
for r in $(seq "$ROUNDS"); do
  read -r proc lua < <(redis_round)
  read -r sim direct < <(sim_round)
  printf '%-6s %12s %12s %14s %14s\n' "$r" "$proc" "$lua" "$sim" "$direct"
  echo "$proc $lua $sim $direct" >> "$work/rows"
done
col() { awk -v c="$1" '{ print $c }' "$work/rows" | median; }
proc=$(col 1) lua=$(col 2) sim=$(col 3) direct=$(col 4)
echo "medians: redis-server ${proc} ns a command (${lua} ns called from Lua);" \
  "simulator $sim, direct $direct client ops/s"
awk -v p="$proc" -v l="$lua" -v s="$sim" -v d="$direct" 'BEGIN {
  printf "five redis-server commands per client operation allow %.0f client ops/s (%.0f from Lua)\n",
    1e9 / (5 * p), 1e9 / (5 * l)
  printf "simulator / that: %.2f (%.2f); direct / that: %.2f (%.2f)\n",
    s * 5 * p / 1e9, s * 5 * l / 1e9, d * 5 * p / 1e9, d * 5 * l / 1e9
}'
