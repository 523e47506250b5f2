#!/usr/bin/env bash
# Writes every output a change must leave byte for byte as it was, one file each, into
# OUTDIR: for every scenario of scenarios/ and tests/cluster_sim/redis_scenarios/, `run`
# (with its exit code), `run --trace`, `run --json --messages`, `run --causal --json
# --messages` and `run --seed 7`; then a `lending` run, a `hotkey` run, two `latency` runs
# and an `explore` run (5 outputs per scenario plus these 5); with `--backend redis`, the
# scenarios of tests/cluster_sim/redis_scenarios/ and long-partition.yaml.
#
# Usage, from the repository root, to compare two builds of aasim (OLD_BIN, NEW_BIN) with
# two empty output directories of your choice (OUT_OLD, OUT_NEW):
#   bash scripts/outputs.sh OLD_BIN OUT_OLD
#   bash scripts/outputs.sh NEW_BIN OUT_NEW
#   diff -r OUT_OLD OUT_NEW    # must print nothing
# Exits 2 on a wrong call, else 0 whatever the runs return (a run's own exit code is in
# its .run file).
set -u
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -d scenarios ]; then
  echo "usage (from the repository root): bash scripts/outputs.sh AASIM_BINARY OUTDIR" >&2
  exit 2
fi
BIN=$1; OUT=$2; mkdir -p "$OUT"
for f in scenarios/*.yaml tests/cluster_sim/redis_scenarios/*.yaml; do
  b=$(basename "$f" .yaml)
  "$BIN" run "$f" > "$OUT/$b.run" 2>&1; echo "rc=$?" >> "$OUT/$b.run"
  "$BIN" run --trace "$f" > "$OUT/$b.trace" 2>&1
  "$BIN" run --json --messages "$f" > "$OUT/$b.json" 2>&1
  "$BIN" run --causal --json --messages "$f" > "$OUT/$b.causal" 2>&1
  "$BIN" run --seed 7 "$f" > "$OUT/$b.seed7" 2>&1
done
# The Redis backend (aasim starts its own redis-servers; needs redis-server in PATH): the
# durable scenarios, and long-partition.yaml, whose output must equal the in-memory run's.
for f in tests/cluster_sim/redis_scenarios/*.yaml scenarios/long-partition.yaml; do
  "$BIN" run --backend redis "$f" > "$OUT/$(basename "$f" .yaml).redis" 2>&1
done
"$BIN" lending --seed 3 > "$OUT/lending.txt" 2>&1
"$BIN" hotkey > "$OUT/hotkey.txt" 2>&1
"$BIN" latency scenarios/latency-three-regions.yaml --duration 60s > "$OUT/lat3.txt" 2>&1
"$BIN" latency scenarios/latency-failover.yaml > "$OUT/latfo.txt" 2>&1
"$BIN" explore --runs 30 --seed 5 scenarios/overdraft.yaml > "$OUT/explore.txt" 2>&1
exit 0
