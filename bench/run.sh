#!/usr/bin/env bash
# berth benchmark: berthd/berth side by side with a private dockerd (Debian docker.io 20.10, driven by
# the docker CLI first on PATH) and podman 4.3, in one run, on the same busybox rootfs.
#
#   npm run bench                      # RUNS=10 WARMUP=2 N_PS=100 N_MEM=20
#   RUNS=20 N_PS=50 bash bench/run.sh  # any of the knobs below
#
# Everything it starts lives under a fresh temp root ($W, under /tmp) and a fresh socket/exec root
# ($R, under /run); both are removed on exit, together with every container, daemon (by PID/pidfile)
# and mount it made, also on failure or Ctrl-C. It writes nothing under ../shared and can run twice
# in a row. Sections 1-4 run every container with --network none on every engine (berth's default is
# the bridge now, so berth gets the flag too); dockerd has no bridge and no iptables at all. Nothing is
# pulled: all three engines import the same busybox rootfs tar (scripts/busybox-rootfs.sh).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)

export RUNS=${RUNS:-10} WARMUP=${WARMUP:-2} N_PS=${N_PS:-100} N_MEM=${N_MEM:-20}
export DOCKER_CLI=${DOCKER_CLI:-$(command -v docker)}   # CLI 28 at /usr/local/bin/docker here
export BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/out}            # results.md / results.jsonl (git-ignored)
SKIP_INSTALL=${SKIP_INSTALL:-0} SKIP_BUILD=${SKIP_BUILD:-0}

[ "$(id -u)" = 0 ] || { echo "bench/run.sh must run as root" >&2; exit 1; }

export W=$(mktemp -d /tmp/berth-bench.XXXXXX)   # data roots, bundles, logs
export R=/run/berth-bench.$$                     # sockets and exec roots (short paths)
mkdir -p "$R"
export BSOCK=$R/berth.sock DSOCK=$R/docker.sock
export HOLDER_PIDFILE=$R/mntns.pid
export DOCKER_CONFIG=$W/docker-config            # a clean docker CLI config for both daemons
export CONTAINERS_CONF=$W/containers.conf
export PODMAN_ARGS="--root $W/podman-root --runroot $R/podman-run --tmpdir $W/podman-tmp --cgroup-manager cgroupfs --events-backend file --storage-driver overlay"
export FLOOR_CG=berth-bench-floor-$$              # cgroup parent of the raw crun/runc runs
mkdir -p "$DOCKER_CONFIG" "$BENCH_OUT"
echo '{}' >"$DOCKER_CONFIG/config.json"           # podman reads DOCKER_CONFIG too (for auth)

# cgroup v1 parents the peers create on first use; removed at the end only if this run created them.
CG_PARENTS=(docker libpod_parent "$FLOOR_CG")
declare -A cg_existed=()
for c in "${CG_PARENTS[@]}"; do for d in /sys/fs/cgroup/*/"$c"; do [ -d "$d" ] && cg_existed[$d]=1; done; done

log() { printf '==> %s\n' "$*" >&2; }
export BIN=$W/bin                                 # berth/berthd as built at the start (see below)
berth() { "$BIN/berth" -H "unix://$BSOCK" "$@"; }
dkd() { "$DOCKER_CLI" -H "unix://$DSOCK" "$@"; }
in_ns() { # run in the mount namespace where crun works (see start_holder); directly if none is needed
  if [ -f "$HOLDER_PIDFILE" ]; then nsenter -t "$(cat "$HOLDER_PIDFILE")" -m --wd="$PWD" -- "$@"; else "$@"; fi
}
pm() { in_ns podman $PODMAN_ARGS "$@"; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
stop_pid() { # stop_pid PID [seconds]: TERM, wait, then KILL
  local p=$1 t=${2:-20} i
  alive "$p" || return 0
  kill "$p" 2>/dev/null || true
  for ((i = 0; i < t * 10; i++)); do alive "$p" || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
}
pidfile_pid() { [ -f "$1" ] && cat "$1" 2>/dev/null || true; }
# PIDs whose executable is $1 and whose command line mentions $2 (one of our private roots).
pids_of() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(basename "$(readlink "$p/exe" 2>/dev/null)")" = "$1" ] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$2" && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  log "cleaning up"
  # 1. containers, through each engine while it is still up
  if [ -S "$BSOCK" ]; then ids=$(berth ps -aq 2>/dev/null); [ -n "$ids" ] && berth rm -f $ids >/dev/null 2>&1; fi
  if [ -S "$DSOCK" ]; then ids=$(dkd ps -aq 2>/dev/null); [ -n "$ids" ] && dkd rm -f $ids >/dev/null 2>&1; fi
  if command -v podman >/dev/null && [ -d "$W/podman-root" ]; then pm rm -f -a -t 0 >/dev/null 2>&1; fi
  # raw floor runs that a Ctrl-C may have interrupted
  for rt in crun runc; do command -v $rt >/dev/null && in_ns $rt --root "$R/$rt-state" delete -f bench-$rt >/dev/null 2>&1; done
  # 2. daemons, by their pidfiles
  stop_pid "$(pidfile_pid "$R/berthd.pid")"
  stop_pid "$(pidfile_pid "$R/dockerd.pid")" 30
  stop_pid "$(pidfile_pid "$R/docker/containerd/containerd.pid")"
  # 3. monitors a dead daemon could not remove: conmon/shims that mention our roots, and their children
  for pid in $(pids_of conmon "$R/") $(pids_of conmon "$W/") $(pids_of containerd-shim-runc-v2 "$R/"); do
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do kill -9 "$child" 2>/dev/null; done
    kill -9 "$pid" 2>/dev/null
  done
  stop_pid "$(pidfile_pid "$HOLDER_PIDFILE")" 5
  # 4. mounts under our roots (deepest first), then the roots
  findmnt -rn -o TARGET | grep -E "^($W|$R)(/|$)" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$W" "$R"
  # 5. cgroup parents this run created (only if empty)
  for c in "${CG_PARENTS[@]}"; do
    for d in /sys/fs/cgroup/*/"$c"; do
      [ -d "$d" ] && [ -z "${cg_existed[$d]:-}" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done
  [ $rc -ne 0 ] && log "bench failed (exit $rc)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
if [ "$SKIP_INSTALL" != 1 ]; then bash "$BENCH_DIR/install-peers.sh"; fi
for t in dockerd containerd podman conmon crun runc; do command -v $t >/dev/null || { echo "$t not found" >&2; exit 1; }; done
if [ "$SKIP_BUILD" != 1 ]; then
  log "building berth"
  (cd "$REPO" && bash scripts/install-deps.sh && node scripts/build.mjs)
fi
# Run a private copy of dist/: other engineers rebuild dist/ in this tree, and a rebuild in the
# middle of a run must not change the berth CLI being measured. Modules resolve from the repo.
cp -a "$REPO/dist" "$W/dist"
mkdir -p "$BIN"
for b in berth berthd; do printf '#!/usr/bin/env node\nrequire("../dist/%s.js");\n' "$b" >"$BIN/$b"; chmod 755 "$BIN/$b"; done
export NODE_PATH=$REPO/node_modules

# (measured here, outside the namespace below, which hides the cgroup2 mount)
export CGROUPS_DESC=$([ -f /sys/fs/cgroup/unified/cgroup.controllers ] && echo "v1 hybrid (cgroup2 at /sys/fs/cgroup/unified: $(cat /sys/fs/cgroup/unified/cgroup.controllers))" || stat -fc %T /sys/fs/cgroup)
# crun 1.8 refuses hybrid cgroup hosts (cgroup2 at /sys/fs/cgroup/unified with a controller). As the
# peers do: a holder process in a private mount namespace without that mount; podman and the raw crun
# runs execute in it (berthd applies the same workaround itself, per crun call).
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  setsid unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec sleep infinity' </dev/null >/dev/null 2>&1 &
  echo $! >"$HOLDER_PIDFILE"
  for _ in $(seq 50); do in_ns test ! -f /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null && break; sleep 0.1; done
  log "hybrid cgroups: crun/podman run in mount namespace of pid $(cat "$HOLDER_PIDFILE")"
fi

log "starting berthd ($BSOCK)"
setsid node "$BIN/berthd" -H "unix://$BSOCK" --data-root "$W/berth" --exec-root "$R/berth" \
  --pidfile "$R/berthd.pid" --log-level warn </dev/null >"$W/berthd.log" 2>&1 &
log "starting dockerd ($DSOCK)"
echo '{}' >"$W/daemon.json"
mkdir -p "$W/docker-data" "$R/docker"
setsid dockerd --config-file "$W/daemon.json" --data-root "$W/docker-data" --exec-root "$R/docker" \
  -H "unix://$DSOCK" --pidfile "$R/dockerd.pid" --log-level warn \
  --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false --userland-proxy=false \
  --storage-driver overlay2 </dev/null >"$W/dockerd.log" 2>&1 &
ok=0
for _ in $(seq 200); do
  berth version >/dev/null 2>&1 && dkd version >/dev/null 2>&1 && { ok=1; break; }
  sleep 0.1
done
[ $ok = 1 ] || { echo "daemons did not come up; berthd.log:" >&2; tail -20 "$W/berthd.log" >&2; echo "dockerd.log:" >&2; tail -20 "$W/dockerd.log" >&2; exit 1; }

log "podman: private root, cgroupfs, ulimits this host allows"
cat >"$CONTAINERS_CONF" <<EOC
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[network]
network_config_dir = "$W/podman-net"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOC
mkdir -p "$W/podman-net" "$W/podman-tmp"

log "importing the busybox rootfs into all three engines"
bash "$REPO/scripts/busybox-rootfs.sh" "$W/busybox.tar"
berth import -c 'CMD ["sh"]' "$W/busybox.tar" busybox:latest >/dev/null
dkd import -c 'CMD ["sh"]' "$W/busybox.tar" busybox:latest >/dev/null
pm import -c 'CMD ["sh"]' "$W/busybox.tar" busybox:latest >/dev/null

log "raw OCI bundles for crun and runc (the floor)"
for rt in crun runc; do
  b=$W/bundles/$rt
  mkdir -p "$b/rootfs" "$R/$rt-state"
  tar -C "$b/rootfs" -xf "$W/busybox.tar"
  (cd "$b" && $rt spec)
  node -e '
    const fs = require("fs"); const [p, cg] = process.argv.slice(1); const c = JSON.parse(fs.readFileSync(p, "utf8"));
    c.process.args = ["true"]; c.process.terminal = false; c.root = { path: "rootfs", readonly: true };
    c.linux.cgroupsPath = cg; fs.writeFileSync(p, JSON.stringify(c, null, 1));' "$b/config.json" "/$FLOOR_CG/$rt"
done

# Measurements run in the crun namespace too (as the peers' scripts do), so podman and crun pay no
# nsenter per call; the docker CLI and berth CLI are unaffected by it.
set +e
in_ns env REPO="$REPO" bash "$BENCH_DIR/measure.sh"
mrc=$?
set -e
node "$BENCH_DIR/report.mjs" "$BENCH_OUT/results.jsonl" >"$BENCH_OUT/results.md"
cat "$BENCH_OUT/results.md"
log "results: $BENCH_OUT/results.md (raw: results.jsonl, hyperfine JSON in $BENCH_OUT/hyperfine/)"
exit $mrc
