#!/usr/bin/env bash
# What aasim says to a user who made a mistake, stdout and stderr apart: a mistyped command
# in a step (a warning with FILE:LINE:COL, stdout and the exit code as without it), a
# mistyped or missing command or argument on the command line, an option that does not
# fit another (exit 2 and a message naming it), and the help that lists what there is.
# Usage: messages_test.sh AASIM
source "$(dirname "$0")/lib.sh" "$@"  # aasim, dir, failed; at the repository root

# check NAME WANT_EXIT STDOUT_REGEX STDERR_REGEX -- COMMAND...
# An empty regex matches an empty stream only; "." matches anything.
check() {
  local name=$1 want=$2 out_re=$3 err_re=$4
  shift 5
  local rc
  timeout 60 "$@" >"$dir/out" 2>"$dir/err"
  rc=$?
  local ok=1
  [[ $rc -eq $want ]] || ok=0
  for stream in out err; do
    local re=$out_re
    [[ $stream == err ]] && re=$err_re
    if [[ -z $re ]]; then
      [[ -s $dir/$stream ]] && ok=0
    elif ! grep -Eq -- "$re" "$dir/$stream"; then
      ok=0
    fi
  done
  if [[ $ok == 1 ]]; then
    echo "ok   $name"
  else
    echo "FAIL $name: exit $rc (want $want), stdout:"
    head -c 2000 "$dir/out"
    echo "stderr:"
    head -c 2000 "$dir/err"
    echo
    failed=1
  fi
}

# 1. A step's command that no store runs: a warning at the command, unless the step
#    expects the reply; the run goes on (its error reply stops nothing).
cat >"$dir/badcmd.yaml" <<'YAML'
name: x
regions: [A, B]
steps:
  - A: INCR foo
    expect: 1
  - A: STE foo 3
YAML
cat >"$dir/known.yaml" <<'YAML'
name: known
regions: [A, B]
steps:
  - A: incr foo
  - B: Set bar 1
  - A: EVAL "return 1" 0
  - A: MULTI
  - B: XADD s * f v
  - A: BC.INCRBY c 5
  - A: NOSUCH x
    expect: {error: unknown command}
YAML
warn="badcmd\.yaml:6:8: warning: A: unknown command 'STE'"
check step-unknown-command 0 '^PASS .*badcmd\.yaml' "$warn" -- "$aasim" run "$dir/badcmd.yaml"
check step-unknown-command-quiet 0 '^PASS' "$warn" -- "$aasim" run -q "$dir/badcmd.yaml"
if grep -q warning "$dir/out"; then
  echo "FAIL step-unknown-command-quiet: the warning reached stdout"
  failed=1
fi
check step-unknown-command-json 0 '"failures": 0' "$warn" -- "$aasim" run --json "$dir/badcmd.yaml"
check step-unknown-command-json-parses 0 '^ok$' '' -- \
  bash -c '"$0" run --json "$1" 2>/dev/null | python3 -c "import json, sys; json.load(sys.stdin); print(\"ok\")"' \
  "$aasim" "$dir/badcmd.yaml"
check step-known-commands 0 '^PASS .*known\.yaml' '' -- "$aasim" run "$dir/known.yaml"
check explore-unknown-command 0 '.' "$warn" -- "$aasim" explore --runs 2 "$dir/badcmd.yaml"
# stdout is what it was without the warning: the same file with the step's expectation
# written out differs only in that line's check column and the summary's count.
sed 's/^  - A: STE foo 3$/&\n    expect: {error: unknown command}/' "$dir/badcmd.yaml" >"$dir/expected.yaml"
"$aasim" run "$dir/badcmd.yaml" 2>/dev/null | sed -E 's/badcmd/F/; s/[0-9]+ expectations?/N/' >"$dir/a"
"$aasim" run "$dir/expected.yaml" 2>/dev/null |
  sed -E 's/expected/F/; s/[0-9]+ expectations?/N/; /STE foo 3/s/  ok$//' >"$dir/b"
if ! diff "$dir/a" "$dir/b" >/dev/null; then
  echo "FAIL step-unknown-command-stdout: stdout differs from the run that expects the error"
  diff "$dir/a" "$dir/b"
  failed=1
else
  echo "ok   step-unknown-command-stdout"
fi
# aasim serve: the file's steps and the --script file's.
cat >"$dir/serve.yaml" <<'YAML'
name: serve
regions: [A, B]
steps:
  - B: GETT foo
YAML
check serve-unknown-command 0 'steps done: 0 failures' \
  "serve\.yaml:4:8: warning: B: unknown command 'GETT'.*|badcmd\.yaml:6:8: warning: A: unknown command 'STE'" -- \
  "$aasim" serve "$dir/serve.yaml" --script "$dir/badcmd.yaml" --exit-after-steps
for w in "serve\.yaml:4:8: warning: B: unknown command 'GETT'" "$warn"; do
  grep -Eq -- "$w" "$dir/err" || { echo "FAIL serve-unknown-command: no '$w'"; failed=1; }
done

# 2. The command line: a mistyped command, a missing argument.
commands='commands: run, anomalies, hotkey, lending, latency, explore, serve, node'
check unknown-command 2 '' "^aasim: unknown command 'runn' \($commands\)" -- "$aasim" runn x
check no-command 2 '' "^aasim: a command is required \($commands\)" -- "$aasim"
check run-no-file 2 '' '^aasim run: missing files: Scenario files' -- "$aasim" run
grep -q '^Usage: aasim run \[OPTIONS\] files' "$dir/err" || { echo "FAIL run-no-file: no usage line"; failed=1; }
check run-no-file-seed 2 '' '^aasim run: missing files' -- "$aasim" run --seed 3
check explore-merge-nothing 2 '' '^aasim explore merge: missing reports: ' -- "$aasim" explore merge
grep -q '^Usage: aasim explore merge \[OPTIONS\] reports' "$dir/err" ||
  { echo "FAIL explore-merge-nothing: no usage line"; failed=1; }
check latency-no-file 2 '' '^aasim latency: missing file: Latency file' -- "$aasim" latency
check node-no-region 2 '' "^aasim node: missing --region: This region's name" -- "$aasim" node
# What was typed wrong is named before what is missing, and in nested commands too.
check run-unknown-option 2 '' "^aasim run: unknown option '--quiett'" -- "$aasim" run --quiett
check top-unknown-option 2 '' "^aasim: unknown option '--nosuch'" -- "$aasim" --nosuch
check nested-unknown-command 2 '' "^aasim anomalies: unexpected argument 'mrge'" -- \
  "$aasim" anomalies mrge
grep -q '^Usage: aasim anomalies' "$dir/err" ||
  { echo "FAIL nested-unknown-command: no usage line"; failed=1; }
# Ports: the text the user typed is quoted, and two regions on one port are refused before
# anything listens (as the file's `ports:` is).
printf 'name: two\nregions: [A, B]\n' >"$dir/two.yaml"
check serve-port-text 2 '' "^aasim serve: --port A=A7001: expected a port 0\.\.65535, got 'A7001'$" -- \
  "$aasim" serve "$dir/two.yaml" --port A=A7001
check serve-port-twice 2 '' '^aasim serve: --port: port 27601 is given to regions A and B$' -- \
  "$aasim" serve "$dir/two.yaml" --port A=27601 --port B=27601
check node-peer-text 2 '' "^aasim node: --peer B=nohost: expected a port 0\.\.65535, got 'nohost'$" -- \
  "$aasim" node --region A --listen 0 --peer B=nohost
check merge-unknown-option 2 '' "^aasim explore merge: unknown option '--nosuch'" -- \
  "$aasim" explore merge --nosuch

# 3. anomalies: bounded counters are an overdraft remedy only.
bounded='^aasim anomalies: --strategies bounded: only for --workload overdraft'
check anomalies-lending-bounded 2 '' "$bounded" -- "$aasim" anomalies --workload lending --strategies bounded
check anomalies-lending-bounded-home 2 '' "$bounded" -- \
  "$aasim" anomalies --workload lending --strategies bounded,home
check anomalies-lending-default 0 ' home ' '' -- \
  "$aasim" anomalies --workload lending --latency 10ms --requests 50
check anomalies-overdraft-bounded 0 ' bounded ' '' -- \
  "$aasim" anomalies --strategies bounded --latency 10ms --requests 50

# 4. latency --deployment: a name as printed, or a kind that only one deployment has.
check latency-deployment-kind 0 '^single-primary us-east' '' -- \
  "$aasim" latency scenarios/latency-three-regions.yaml --deployment single-primary --duration 2s
if grep -Eq '^(active-active|primary-with-local-replicas)' "$dir/out"; then
  echo "FAIL latency-deployment-kind: ran another deployment"
  failed=1
fi
check latency-deployment-name 0 '^single-primary us-east' '' -- \
  "$aasim" latency scenarios/latency-three-regions.yaml --deployment 'single-primary us-east' --duration 2s
check latency-deployment-unknown 2 '' "--deployment: no deployment 'nope' \(deployments are: active-active, single-primary us-east, primary-with-local-replicas us-east\)" -- \
  "$aasim" latency scenarios/latency-three-regions.yaml --deployment nope
# (without the file's expectations on single-primary, which would be ambiguous first)
sed 's/^  - single-primary: us-east$/&\n  - single-primary: eu-west/; /deployment: single-primary,/d' \
  scenarios/latency-three-regions.yaml >"$dir/two.yaml"
check latency-deployment-ambiguous 2 '' "--deployment: 'single-primary' names several deployments \(deployments are: .*single-primary us-east, single-primary eu-west" -- \
  "$aasim" latency "$dir/two.yaml" --deployment single-primary

# 5-7. Help: every top-level key, a node's admin commands, where --keep-redis leaves data.
check run-help-keys 0 'replication \{backlog, max_batch, max_retry, causal\}' '' -- "$aasim" run --help
for key in bounded_counters streams ports backends docs/scenarios\\.md; do
  grep -Eq -- "$key" "$dir/out" || { echo "FAIL run-help-keys: no $key"; failed=1; }
done
check node-help-admin 0 'AASIM STATUS .*\| DUMP .*\| DISCONNECT' '' -- "$aasim" node --help
grep -Eq 'WAITSYNC.*`aasim serve` only' "$dir/out" || { echo "FAIL node-help-admin: WAITSYNC"; failed=1; }
check keep-redis-help 0 'remove it by hand' '' -- "$aasim" run --help
exit $failed
