#!/usr/bin/env bash
# `docker logs --since` and `--tail` on a 1 GB container log: berthd (k8s-file, binary search on the
# timestamps, runtime/log-seek.ts) against a private dockerd (json-file, which decodes the file from
# its start). Standalone for now; meant to be called from bench/run.sh later.
#
#   bash bench/logs-since.sh                 # LOG_MB=1024 RUNS=3
#   LOG_MB=256 RUNS=5 bash bench/logs-since.sh
#
# Each engine runs one container that writes LOG_MB MiB of 100-byte lines, prints MARK, sleeps 3 s,
# then writes 1000 more lines. --since is the time the host saw MARK, so both engines return the
# same 1000 lines and the time measured is finding them. Everything it starts lives under a temp
# root ($W, /tmp) and a short exec root ($R, /run); containers, daemons (by PID) and roots are
# removed on exit, also on failure or Ctrl-C. It needs root, the build (dist/) and ~2.2x LOG_MB of
# disk. Prints a small markdown table.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
LOG_MB=${LOG_MB:-1024}
RUNS=${RUNS:-3}
DOCKER_CLI=${DOCKER_CLI:-$(command -v docker)}
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}

[ -x "$REPO/dist/berth-logrotate" ] || { echo "run node scripts/build.mjs first" >&2; exit 1; }
BENCH=logbench NET_TAG=lb NET_POOL=10.236.0.0/16
. "$BENCH_DIR/two-engines.sh"

LINE=$(printf 'x%.0s' $(seq 1 99))   # 99 bytes + newline
SCRIPT="yes $LINE | head -n $((LOG_MB * 1024 * 1024 / 100)); echo MARK; sleep 3; i=0; while [ \$i -lt 1000 ]; do echo \"after \$i\"; i=\$((i+1)); done; echo DONE; sleep 100000"
wait_line() { # sock, text: until the log's last line is text (10 minutes at most)
  local deadline=$((SECONDS + 600))
  until [ "$(dk "$1" logs --tail 1 logbench 2>/dev/null)" = "$2" ]; do
    [ $SECONDS -lt $deadline ] || { echo "no $2 in the log after 10 minutes" >&2; exit 1; }
    sleep 0.2
  done
}
declare -A SINCE
for e in "${ENGINES[@]}"; do
  s=$(sock_of "$e")
  dk "$s" import -c 'CMD ["sh"]' "$BUSYBOX_TAR" busybox:latest >/dev/null
  # One unbounded file on both: berth's max-size=-1, dockerd's json-file default.
  opts=(); [ "$e" = berth ] && opts=(--log-opt max-size=-1)
  t0=$(date +%s.%N)
  dk "$s" run -d --name logbench --network none "${opts[@]}" busybox sh -c "$SCRIPT" >/dev/null
  wait_line "$s" MARK
  SINCE[$e]=$(date +%s.%N)
  t1=$(date +%s.%N)
  wait_line "$s" DONE
  awk -v e="$e" -v mb="$LOG_MB" -v a="$t0" -v b="$t1" 'BEGIN {printf "%s: wrote %s MB of log in %.1f s\n", e, mb, b - a}' >&2
done

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
measure() { # engine, args... -> median seconds over RUNS; checks the output
  local s; s=$(sock_of "$1"); shift
  for _ in $(seq "$RUNS"); do
    local t0 t1 n
    t0=$(date +%s%N)
    n=$(dk "$s" logs "$@" logbench 2>&1 | wc -l)
    t1=$(date +%s%N)
    echo "$n" >>"$W/lines.$$"
    echo "$(( t1 - t0 ))" | awk '{printf "%.6f\n", $1/1e9}'
  done | median
}

echo "| logs on a $LOG_MB MB log (median of $RUNS, s) | ${ENGINES[*]} |"
echo "|---|$(printf -- '---|%.0s' "${ENGINES[@]}")"
row() {
  local label=$1; shift
  local out="| $label |"
  for e in "${ENGINES[@]}"; do
    local args=("$@")
    [ "${args[0]}" = --since ] && args[1]=${SINCE[$e]}
    : >"$W/lines.$$"
    out+=" $(measure "$e" "${args[@]}") ($(sort -u "$W/lines.$$" | tr '\n' ' ' | sed 's/ $//') lines) |"
  done
  echo "$out"
}
row '`--since` (last 1001 lines)' --since X
row '`--tail 10`' --tail 10
row '`--since` + `--tail 10`' --since X --tail 10
