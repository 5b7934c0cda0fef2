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

[ "$(id -u)" = 0 ] || { echo "bench/stats-events.sh must run as root" >&2; exit 1; }
[ -f "$REPO/dist/berthd.js" ] || { echo "run node scripts/build.mjs first" >&2; exit 1; }

W=$(mktemp -d /tmp/berth-statsbench.XXXXXX)
R=/run/berth-statsbench.$$
mkdir -p "$R" "$W/docker-config"
echo '{}' >"$W/docker-config/config.json"
export DOCKER_CONFIG=$W/docker-config
BSOCK=$R/berth.sock
DSOCK=$R/docker.sock
BERTHD_PID=""
DOCKERD_PID=""
# CPU accounting: a cgroup per engine (cgroup v1 cpuacct, or a v2 group).
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then CGROOT=/sys/fs/cgroup; else CGROOT=/sys/fs/cgroup/cpuacct; fi
CG_B=$CGROOT/berth-bench-b$$
CG_D=$CGROOT/berth-bench-d$$
# dockerd puts its containers under this cgroup name (--cgroup-parent), so they can be found.
CG_CTR=berth-bench-dc$$

cleanup() {
  set +e
  for sock in "$BSOCK" "$DSOCK"; do
    [ -S "$sock" ] || continue
    ids=$(DOCKER_HOST=unix://$sock timeout 60 "$DOCKER_CLI" ps -aq 2>/dev/null)
    [ -n "$ids" ] && DOCKER_HOST=unix://$sock timeout 120 "$DOCKER_CLI" rm -f $ids >/dev/null 2>&1
  done
  for pid in $BERTHD_PID $DOCKERD_PID; do
    kill "$pid" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
  done
  # What the daemons left running (a dockerd that hung: its containerd, shims and containers) is
  # ours by construction: the processes of our cgroups and of dockerd's --cgroup-parent.
  for cg in "$CG_B" "$CG_D" $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$CG_CTR" 2>/dev/null); do
    find "$cg" -name cgroup.procs 2>/dev/null | xargs -r cat 2>/dev/null | while read -r p; do kill -9 "$p" 2>/dev/null; done
  done
  # whatever is still mounted under our roots (dockerd's overlay and netns files, berthd's rootfs)
  grep -oE " ($W|$R)[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for cg in "$CG_B" "$CG_D" $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$CG_CTR" 2>/dev/null); do
    [ -d "$cg" ] || continue
    for _ in $(seq 40); do find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null; [ -d "$cg" ] || break; sleep 0.25; done
    [ -d "$cg" ] && echo "left behind: cgroup $cg" >&2
  done
  rm -rf "$W" "$R"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dk() { DOCKER_HOST=unix://$1 "$DOCKER_CLI" "${@:2}"; }
wait_up() { for _ in $(seq 120); do dk "$1" info >/dev/null 2>&1 && return 0; sleep 0.5; done; echo "$2 did not come up" >&2; exit 1; }
# Engine CPU in ns: everything in its cgroup, finished children included.
cpu_ns() {
  if [ -f "$1/cpuacct.usage" ]; then cat "$1/cpuacct.usage"; else awk '$1 == "usage_usec" {print $2 * 1000}' "$1/cpu.stat"; fi
}

BUSYBOX_TAR=$W/busybox.tar
bash "$REPO/scripts/busybox-rootfs.sh" "$BUSYBOX_TAR" >/dev/null

mkdir "$CG_B"
# The daemon enters its cgroup before it starts: what it spawns is counted with it.
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG_B" node "$REPO/dist/berthd.js" -H "unix://$BSOCK" \
  --data-root "$W/berth" --exec-root "$R/b" --pidfile "$R/berthd.pid" \
  --bridge "sb$$" --default-address-pool base=10.237.0.0/16,size=24 --log-level error >"$W/berthd.log" 2>&1 &
BERTHD_PID=$!
wait_up "$BSOCK" berthd
ENGINES=(berth)
if [ -n "$DOCKERD" ]; then
  mkdir "$CG_D"
  sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG_D" "$DOCKERD" --data-root "$W/docker" --exec-root "$R/d" \
    -H "unix://$DSOCK" --pidfile "$R/dockerd.pid" \
    --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false --storage-driver overlay2 \
    --cgroup-parent "/$CG_CTR" >"$W/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  wait_up "$DSOCK" dockerd
  ENGINES+=(docker)
fi
sock_of() { if [ "$1" = berth ]; then echo "$BSOCK"; else echo "$DSOCK"; fi; }
cg_of() { if [ "$1" = berth ]; then echo "$CG_B"; else echo "$CG_D"; fi; }

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
