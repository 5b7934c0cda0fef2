# Sourced by bench/stats-events.sh, bench/health-cpu.sh and bench/logs-since.sh: berthd and a
# private dockerd (when installed), each started inside a cgroup of its own so that the CPU of the
# daemon and of everything it starts can be read (cpu_ns CGROUP), with a cleanup trap that removes
# containers, daemons (by PID), the processes of those cgroups, mounts, cgroups and roots on exit,
# also on failure or Ctrl-C.
# Expects REPO, DOCKER_CLI, DOCKERD and BENCH (the roots' name), NET_TAG and NET_POOL (berthd's
# bridge name prefix and address pool, different for each script). Sets W, R, BSOCK, DSOCK,
# BERTHD_PID, DOCKERD_PID, BUSYBOX_TAR, ENGINES (berth [docker]), and dk, sock_of, cg_of.
[ "$(id -u)" = 0 ] || { echo "bench/$(basename "$0") must run as root" >&2; exit 1; }
[ -f "$REPO/dist/berthd.js" ] || { echo "run node scripts/build.mjs first" >&2; exit 1; }

W=$(mktemp -d /tmp/berth-$BENCH.XXXXXX)
R=/run/berth-$BENCH.$$
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
  --bridge "$NET_TAG$$" --default-address-pool "base=$NET_POOL,size=24" --log-level error >"$W/berthd.log" 2>&1 &
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
