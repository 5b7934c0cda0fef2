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

BENCH=healthbench NET_TAG=hb NET_POOL=10.238.0.0/16
. "$BENCH_DIR/two-engines.sh"
# utime + stime of processes, in ns (USER_HZ = 100).
proc_ns() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat") )); done; echo $(( t * 10000000 )); }
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
