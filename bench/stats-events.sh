#!/usr/bin/env bash
# `docker stats --no-stream` with 50 running containers, and `docker events` throughput: berthd
# against a private dockerd, in the same run, through the same docker CLI 28. Standalone, and
# section 9 of bench/run.sh (STATS_CONTAINERS, STATS_RUNS, STATS_EVENTS there).
#
#   bash bench/stats-events.sh                      # CONTAINERS=50 RUNS=5 EVENTS=2000
#   CONTAINERS=20 RUNS=3 bash bench/stats-events.sh
#
# stats: each engine runs CONTAINERS `sleep` containers (no network); `docker stats --no-stream`
# (all of them, a line each, checked) is timed RUNS times, and the CPU the engine used for it is
# read from a cpuacct cgroup holding the daemon and everything it starts (berthd, conmon and the
# runtime; dockerd, containerd, the shims and runc): the containers themselves are in cgroups of
# their own. events: bench/events-load.mjs renames the containers back and forth through the API,
# one client per container, EVENTS renames in all, while `docker events` prints each one; the time
# until the subscriber has printed the last one, RUNS times.
#
# Everything it starts lives under a temp root ($W, /tmp), a short exec root ($R, /run) and two
# cgroups of its own; containers, daemons (by PID), cgroups and roots are removed on exit, also on
# failure or Ctrl-C. It needs root and the build (dist/). Prints markdown tables.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
CONTAINERS=${CONTAINERS:-50}
RUNS=${RUNS:-5}
EVENTS=${EVENTS:-2000}
DOCKER_CLI=${DOCKER_CLI:-$(command -v docker)}
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}

BENCH=statsbench NET_TAG=sb NET_POOL=10.237.0.0/16
. "$BENCH_DIR/two-engines.sh"

NAMES=$(seq -f 's%g' 0 $((CONTAINERS - 1)) | paste -sd, -)
for e in "${ENGINES[@]}"; do
  s=$(sock_of "$e")
  dk "$s" import -c 'CMD ["sh"]' "$BUSYBOX_TAR" busybox:latest >/dev/null
  t0=$(date +%s.%N)
  seq 0 $((CONTAINERS - 1)) | xargs -P 4 -I{} env DOCKER_HOST="unix://$s" "$DOCKER_CLI" run -d --network none --name s{} busybox sleep 100000 >/dev/null
  [ "$(dk "$s" ps -q | wc -l)" = "$CONTAINERS" ] || { echo "$e: not all $CONTAINERS containers run" >&2; exit 1; }
  awk -v e="$e" -v n="$CONTAINERS" -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%s: %d containers started in %.1f s\n", e, n, b - a}' >&2
done

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }

# stats: wall time and engine CPU per `docker stats --no-stream`.
declare -A STATS_S STATS_CPU
for e in "${ENGINES[@]}"; do
  s=$(sock_of "$e"); cg=$(cg_of "$e")
  : >"$W/wall" ; : >"$W/cpu"
  dk "$s" stats --no-stream >/dev/null   # warm-up
  for _ in $(seq "$RUNS"); do
    c0=$(cpu_ns "$cg"); t0=$(date +%s%N)
    n=$(dk "$s" stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}' | grep -c ' 1$' || true)
    t1=$(date +%s%N); c1=$(cpu_ns "$cg")
    [ "$n" = "$CONTAINERS" ] || { echo "$e: stats listed $n of $CONTAINERS containers" >&2; exit 1; }
    echo "$(( t1 - t0 ))" | awk '{printf "%.6f\n", $1/1e9}' >>"$W/wall"
    echo "$(( c1 - c0 ))" | awk '{printf "%.6f\n", $1/1e9}' >>"$W/cpu"
  done
  STATS_S[$e]=$(median <"$W/wall")
  STATS_CPU[$e]=$(median <"$W/cpu")
done

# events: renames, RUNS times; the median run by delivery time.
declare -A EV_RATE EV_DELIVER EV_LAG EV_REQ EV_CPU
for e in "${ENGINES[@]}"; do
  s=$(sock_of "$e"); cg=$(cg_of "$e")
  : >"$W/ev"
  for _ in $(seq "$RUNS"); do
    c0=$(cpu_ns "$cg")
    out=$(DOCKER_CONFIG=$DOCKER_CONFIG node "$BENCH_DIR/events-load.mjs" --sock "$s" --containers "$NAMES" --events "$EVENTS" --docker "$DOCKER_CLI")
    c1=$(cpu_ns "$cg")
    echo "$out" | node -e 'let s = ""; process.stdin.on("data", (c) => s += c).on("end", () => { const r = JSON.parse(s);
      console.log([r.deliver_s, r.events_per_s, r.lag_ms, r.request_ms_p50, (Number(process.argv[1]) / 1e9 / r.events * 1e6).toFixed(1)].join(" ")) })' "$(( c1 - c0 ))" >>"$W/ev"
  done
  read -r EV_DELIVER[$e] EV_RATE[$e] EV_LAG[$e] EV_REQ[$e] EV_CPU[$e] < <(sort -n "$W/ev" | awk -v n="$RUNS" 'NR == int((n + 1) / 2)')
done
[ "$(dk "$BSOCK" ps --format '{{.Names}}' | sort | paste -sd, -)" = "$(echo "$NAMES" | tr , '\n' | sort | paste -sd, -)" ] || { echo "berth: names changed" >&2; exit 1; }

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "Load average before the tables: $LOAD; $(nproc) CPUs"
echo
HEAD=$(printf ' %s |' "${ENGINES[@]}")
echo "| \`docker stats --no-stream\`, $CONTAINERS running (median of $RUNS) |$HEAD"
echo "|---|$(printf -- '---|%.0s' "${ENGINES[@]}")"
row() { local label=$1; shift; local out="| $label |"; for e in "${ENGINES[@]}"; do out+=" $(eval "echo \${$1[$e]}")$2 |"; done; echo "$out"; }
row 'wall time' STATS_S ' s'
row 'engine CPU' STATS_CPU ' s'
echo
echo "| \`docker events\`, $EVENTS renames by $CONTAINERS clients (median of $RUNS) |$HEAD"
echo "|---|$(printf -- '---|%.0s' "${ENGINES[@]}")"
row 'all events printed by the subscriber after' EV_DELIVER ' s'
row 'events per second' EV_RATE ''
row 'last event printed, after the last answer' EV_LAG ' ms'
row 'rename request, median' EV_REQ ' ms'
row 'engine CPU per event' EV_CPU ' µs'
