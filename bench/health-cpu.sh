#!/usr/bin/env bash
# The engine's CPU while 50 containers run a health check every second: berthd against a private
# dockerd, one after the other in the same run. Standalone, and section 10 of bench/run.sh
# (HEALTH_CONTAINERS, HEALTH_WINDOW, HEALTH_WARMUP there).
#
#   bash bench/health-cpu.sh                     # CONTAINERS=50 WINDOW=30
#   CONTAINERS=10 WINDOW=10 bash bench/health-cpu.sh
#
# Each engine runs CONTAINERS `sleep` containers (no network), first without a health check, then
# (after those are removed) with `--health-cmd true --health-interval 1s`. Once all are healthy and
# WARMUP seconds more have passed, the CPU used over WINDOW seconds is read two ways: the engine's
# cpuacct cgroup, which holds the daemon and everything it starts (berthd, conmon and crun exec for
# each probe; dockerd, containerd, the shims and runc exec), and the daemon process alone (berthd;
# dockerd + containerd). The probes themselves (`sh -c true` in the container) run in the
# containers' cgroups, the same on both, and are not counted. Probes are counted from the engine's
# exec_start events in the window, as a live `docker events` subscriber prints them.
#
# Everything it starts lives under a temp root ($W, /tmp), a short exec root ($R, /run) and two
# cgroups of its own; containers, daemons (by PID), cgroups and roots are removed on exit, also on
# failure or Ctrl-C. It needs root and the build (dist/). Prints a markdown table.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
CONTAINERS=${CONTAINERS:-50}
WINDOW=${WINDOW:-30}
WARMUP=${WARMUP:-5}
DOCKER_CLI=${DOCKER_CLI:-$(command -v docker)}
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}

[ "$(id -u)" = 0 ] || { echo "bench/health-cpu.sh must run as root" >&2; exit 1; }
[ -f "$REPO/dist/berthd.js" ] || { echo "run node scripts/build.mjs first" >&2; exit 1; }

W=$(mktemp -d /tmp/berth-healthbench.XXXXXX)
R=/run/berth-healthbench.$$
mkdir -p "$R" "$W/docker-config"
echo '{}' >"$W/docker-config/config.json"
export DOCKER_CONFIG=$W/docker-config
BSOCK=$R/berth.sock
DSOCK=$R/docker.sock
BERTHD_PID=""
DOCKERD_PID=""
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
cpu_ns() {
  if [ -f "$1/cpuacct.usage" ]; then cat "$1/cpuacct.usage"; else awk '$1 == "usage_usec" {print $2 * 1000}' "$1/cpu.stat"; fi
}
# utime + stime of processes, in ns (USER_HZ = 100).
proc_ns() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat") )); done; echo $(( t * 10000000 )); }

BUSYBOX_TAR=$W/busybox.tar
bash "$REPO/scripts/busybox-rootfs.sh" "$BUSYBOX_TAR" >/dev/null

mkdir "$CG_B"
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG_B" node "$REPO/dist/berthd.js" -H "unix://$BSOCK" \
  --data-root "$W/berth" --exec-root "$R/b" --pidfile "$R/berthd.pid" \
  --bridge "hb$$" --default-address-pool base=10.238.0.0/16,size=24 --log-level error >"$W/berthd.log" 2>&1 &
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
# The daemon's own processes: berthd; dockerd and the containerd it started.
daemon_pids() {
  if [ "$1" = berth ]; then echo "$BERTHD_PID"; return; fi
  echo "$DOCKERD_PID"
  pgrep -P "$DOCKERD_PID" -x containerd || true
}

start_all() { # engine, extra run flags...
  local s; s=$(sock_of "$1"); shift
  seq 0 $((CONTAINERS - 1)) | xargs -P 4 -I{} env DOCKER_HOST="unix://$s" "$DOCKER_CLI" run -d --network none --name h{} "$@" busybox sleep 100000 >/dev/null
}
# window engine -> "cgroup_cpu_s daemon_cpu_s probes" over WINDOW seconds
window() {
  local s cg pids c0 p0 c1 p1 t0 t1 sub
  s=$(sock_of "$1"); cg=$(cg_of "$1"); pids=$(daemon_pids "$1")
  # Probes are counted live: dockerd replays at most its last 256 events for --since.
  dk "$s" events --filter event=exec_start --format '{{.Time}}' >"$W/probes" 2>/dev/null &
  sub=$!
  sleep 2
  c0=$(cpu_ns "$cg"); p0=$(proc_ns $pids); t0=$(date +%s)
  sleep "$WINDOW"
  c1=$(cpu_ns "$cg"); p1=$(proc_ns $pids); t1=$(date +%s)
  sleep 1
  kill "$sub"; wait "$sub" 2>/dev/null || true
  local probes
  probes=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 < b' "$W/probes" | wc -l)
  awk -v c="$(( c1 - c0 ))" -v p="$(( p1 - p0 ))" -v n="$probes" -v w="$((t1 - t0))" 'BEGIN {printf "%.3f %.3f %d %d\n", c / 1e9, p / 1e9, n, w}'
}

declare -A IDLE HC DAEMON_IDLE DAEMON_HC PROBES PER_PROBE
NOTES=()
for e in "${ENGINES[@]}"; do
  s=$(sock_of "$e")
  dk "$s" import -c 'CMD ["sh"]' "$BUSYBOX_TAR" busybox:latest >/dev/null
  start_all "$e"
  sleep "$WARMUP"
  read -r ci pi _ wi < <(window "$e")
  timeout 300 env DOCKER_HOST="unix://$s" "$DOCKER_CLI" rm -f $(dk "$s" ps -aq) >/dev/null
  start_all "$e" --health-cmd true --health-interval 1s --health-timeout 5s
  deadline=$((SECONDS + 120))
  until [ "$(dk "$s" ps --filter health=healthy -q | wc -l)" = "$CONTAINERS" ]; do
    [ $SECONDS -lt $deadline ] || { echo "$e: not all $CONTAINERS containers became healthy" >&2; exit 1; }
    sleep 1
  done
  sleep "$WARMUP"
  read -r ch ph n wh < <(window "$e")
  [ "$(dk "$s" ps --filter health=healthy -q | wc -l)" = "$CONTAINERS" ] || { echo "$e: containers left the healthy state" >&2; exit 1; }
  echo "$e: idle $ci s CPU in $wi s; health checks $ch s CPU (daemon $ph s) in $wh s, $n probes" >&2
  # dockerd 20.10 was seen to deadlock removing containers with health checks on a busy host:
  # the numbers are taken already; the clean-up then stops it and what it left.
  if ! timeout 300 env DOCKER_HOST="unix://$s" "$DOCKER_CLI" rm -f $(dk "$s" ps -aq) >/dev/null 2>&1; then
    echo "$e: removing the containers did not finish in 300 s" >&2
    NOTES+=("$e did not remove its $CONTAINERS containers within 300 s after the measurement (rm -f hung)")
  fi
  pct() { awk -v c="$1" -v w="$2" 'BEGIN {printf "%.1f%%", 100 * c / w}'; }
  IDLE[$e]=$(pct "$ci" "$wi"); DAEMON_IDLE[$e]=$(pct "$pi" "$wi")
  HC[$e]=$(pct "$ch" "$wh"); DAEMON_HC[$e]=$(pct "$ph" "$wh")
  PROBES[$e]=$(awk -v n="$n" -v w="$wh" 'BEGIN {printf "%.1f", n / w}')
  PER_PROBE[$e]=$(awk -v c="$ch" -v ci="$ci" -v wi="$wi" -v wh="$wh" -v n="$n" 'BEGIN {printf "%.1f", n ? 1000 * (c - ci * wh / wi) / n : 0}')
done

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "Load average after the runs: $LOAD; $(nproc) CPUs"
echo
HEAD=$(printf ' %s |' "${ENGINES[@]}")
echo "| $CONTAINERS containers, CPU over $WINDOW s (% of one CPU) |$HEAD"
echo "|---|$(printf -- '---|%.0s' "${ENGINES[@]}")"
row() { local label=$1; shift; local out="| $label |"; for e in "${ENGINES[@]}"; do out+=" $(eval "echo \${$1[$e]}")$2 |"; done; echo "$out"; }
row 'no health checks: engine (daemon + monitors + runtime)' IDLE ''
row 'no health checks: the daemon alone' DAEMON_IDLE ''
row 'health check every 1 s: engine' HC ''
row 'health check every 1 s: the daemon alone' DAEMON_HC ''
row 'probes per second' PROBES ''
row 'engine CPU per probe (less the idle cost)' PER_PROBE ' ms'
for note in "${NOTES[@]}"; do echo; echo "Note: $note."; done
