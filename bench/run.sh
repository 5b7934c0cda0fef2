#!/usr/bin/env bash
# berth benchmark: berthd/berth side by side with a private dockerd (Debian docker.io 20.10, driven by
# the docker CLI first on PATH) and podman 4.3, in one run, on the same busybox rootfs.
#
#   npm run bench                      # RUNS=10 WARMUP=2 N_PS=100 N_MEM=20
#   RUNS=20 N_PS=50 bash bench/run.sh  # any of the knobs below
#   SECTIONS=5 bash bench/run.sh       # only some sections of measure.sh (default "1 2 3 4 5 6 7 8 9 10")
#   LOGS_MB=1024 LOGS_RUNS=3 REG_SIZE_MB=200 REG_RUNS=3   # sections 7 and 8 (bench/logs-since.sh, bench/registry.sh)
#   STATS_CONTAINERS=50 STATS_RUNS=5 STATS_EVENTS=2000     # section 9 (bench/stats-events.sh)
#   HEALTH_CONTAINERS=50 HEALTH_WINDOW=30 HEALTH_WARMUP=5  # section 10 (bench/health-cpu.sh)
#
# Everything it starts lives under a fresh temp root ($W, under /tmp) and a fresh socket/exec root
# ($R, under /run); both are removed on exit, together with every container, daemon (by PID/pidfile)
# and mount it made, also on failure or Ctrl-C. It writes nothing under ../shared and can run twice
# in a row. Sections 1-4 run every container with --network none on every engine (berth's default is
# the bridge now, so berth gets the flag too); dockerd has no bridge and no iptables at all. Nothing is
# pulled: all three engines import the same busybox rootfs tar (scripts/busybox-rootfs.sh).
# Section 5 (networking) gives berthd and podman bridges of their own through netavark: bridge names,
# subnets (10.230-233.0.0/24) and 127.0.0.1 ports of this run's, removed at the end with every rule,
# namespace and aardvark-dns they brought, also when the run is interrupted. Section 6 (build)
# removes the images and build caches it made. Sections 7 to 10 run bench/logs-since.sh,
# bench/registry.sh, bench/stats-events.sh and bench/health-cpu.sh, which start daemons (and
# registries, and cgroups) of their own under temp roots of their own and remove them, also on
# failure or Ctrl-C.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)

export RUNS=${RUNS:-10} WARMUP=${WARMUP:-2} N_PS=${N_PS:-100} N_MEM=${N_MEM:-20}
export HTTP_CONC=${HTTP_CONC:-8} HTTP_SECONDS=${HTTP_SECONDS:-5} HTTP_ROUNDS=${HTTP_ROUNDS:-3} SECTIONS=${SECTIONS:-1 2 3 4 5 6 7 8 9 10}
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

# Networking (section 5). Names and subnets no other engine here uses: the system berthd has berth0
# and 172.17/16, test daemons bt* and 10.110-229.0.0/16, podman 10.88/16. berthd's default bridge is
# ${NET_TAG}d, its benchnet ${NET_TAG}n; podman names its benchnet bridge itself (podmanN, recorded by
# measure.sh) and its default network's is always podman0, so that one is ours only if it is not
# there yet. The iptables rules netavark makes for us name our subnets or our published ports.
export NET_TAG=bb$$
export BERTH_BIP=10.230.0.1/24 BERTH_NET_SUBNET=10.231.0.0/24 PODMAN_NET_SUBNET=10.232.0.0/24 PODMAN_DEFAULT_SUBNET=10.233.0.0/24
export BERTH_POOL=base=10.234.0.0/16,size=24     # berthd's pool for networks without --subnet (none here)
export BRIDGES_FILE=$R/bridges                    # bridges this run makes, one a line
BERTH_ISO=BERTH-ISO-$(printf %s "$R/berth" | sha256sum | cut -c1-8)   # berthd's isolation chains for its exec root
OUR_RULES_RE='10\.23[0-3]\.0\.'                     # + our published ports once measure.sh has picked them
net_clash=""
for br in "${NET_TAG}d" "${NET_TAG}n"; do
  if [ -e "/sys/class/net/$br" ]; then net_clash+=" $br"; else echo "$br" >>"$BRIDGES_FILE"; fi
done
if [ -e /sys/class/net/podman0 ]; then export PODMAN_DEFAULT_NET=0; else export PODMAN_DEFAULT_NET=1; echo podman0 >>"$BRIDGES_FILE"; fi
ipt_chains() { { iptables -w -t nat -S; iptables -w -t filter -S; } 2>/dev/null | grep '^-N ' || true; }
NETAVARK_BEFORE=$(ipt_chains | grep -c '^-N NETAVARK' || true)   # netavark's generic chains: ours to remove only if absent now
IP_FORWARD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward)
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

# ---- networking leftovers (section 5). Normally netavark removes all of it when an engine removes the
# last container of a network; these catch what an engine that died or was killed could not.
our_rules() { # TABLE: rules (as iptables -S prints them) naming our subnets or our published ports
  local re=$OUR_RULES_RE p
  for p in $(cat "$R/http-ports" 2>/dev/null); do re+="|--dport $p( |\$)"; done
  iptables -w -t "$1" -S 2>/dev/null | grep -E '^-A ' | grep -E -- "$re"
}
ipt_del() { # TABLE RULE...: delete rules given as iptables -S lines (comments come quoted)
  local t=$1 r; shift
  for r in "$@"; do eval "iptables -w -t $t -D ${r#-A }" 2>/dev/null; done
}
net_cleanup() {
  local br t c chains rules
  for br in $(cat "$BRIDGES_FILE" 2>/dev/null); do   # only when nothing is plugged in any more
    [ -d "/sys/class/net/$br" ] && [ -z "$(ls "/sys/class/net/$br/brif" 2>/dev/null)" ] && ip link del "$br" 2>/dev/null
  done
  for t in nat filter; do
    rules=$(our_rules $t)
    [ -n "$rules" ] || continue
    # netavark's per-network chains (NETAVARK-<hash of the network's name>, NETAVARK-DN-<...>) our rules are in or jump to
    chains=$(printf '%s\n' "$rules" | awk '{print $2; for (i = 3; i < NF; i++) if ($i == "-j") print $(i + 1)}' | grep '^NETAVARK-' | grep -v '^NETAVARK-HOSTPORT-' | sort -u)
    mapfile -t lines <<<"$rules"
    ipt_del $t "${lines[@]}"
    for c in $chains; do   # the name is shared by every network of that name: remove it only if nobody jumps to it
      iptables -w -t $t -S | grep -qE -- "-j $c( |\$)" && continue
      iptables -w -t $t -F "$c" 2>/dev/null; iptables -w -t $t -X "$c" 2>/dev/null
    done
  done
  if iptables -w -t mangle -S 2>/dev/null | grep -q -- "^-N $BERTH_ISO-"; then   # berthd's isolation chains for our exec root
    iptables -w -t mangle -D FORWARD -j "$BERTH_ISO-1" 2>/dev/null
    for c in 1 2; do iptables -w -t mangle -F "$BERTH_ISO-$c" 2>/dev/null; done
    for c in 1 2; do iptables -w -t mangle -X "$BERTH_ISO-$c" 2>/dev/null; done
  fi
  # netavark's generic chains (it never removes them) and ip_forward (it turns it on): put back as they
  # were if there were none before this run and no other netavark network is up now (berthd's rule).
  [ "$NETAVARK_BEFORE" = 0 ] || return 0
  local nat filter
  nat=$(iptables -w -t nat -S 2>/dev/null); filter=$(iptables -w -t filter -S 2>/dev/null)
  printf '%s\n%s\n' "$nat" "$filter" | grep -q '^-N NETAVARK' || return 0
  printf '%s\n%s\n' "$nat" "$filter" | grep '^-N NETAVARK' | grep -qvE '^-N (NETAVARK-HOSTPORT-(DNAT|SETMARK|MASQ)|NETAVARK_FORWARD)$' && return 0
  printf '%s\n' "$nat" | grep -q '^-A NETAVARK-HOSTPORT-DNAT ' && return 0
  printf '%s\n' "$filter" | grep -q '^-A NETAVARK_FORWARD ' && return 0
  mapfile -t lines < <(printf '%s\n' "$nat" | grep -E '^-A (PREROUTING|OUTPUT|POSTROUTING) .*-j NETAVARK-HOSTPORT-')
  ipt_del nat "${lines[@]}"
  mapfile -t lines < <(printf '%s\n' "$filter" | grep -E '^-A FORWARD .*-j NETAVARK_FORWARD')
  ipt_del filter "${lines[@]}"
  for c in NETAVARK-HOSTPORT-DNAT NETAVARK-HOSTPORT-SETMARK NETAVARK-HOSTPORT-MASQ; do iptables -w -t nat -F $c 2>/dev/null; done
  for c in NETAVARK-HOSTPORT-DNAT NETAVARK-HOSTPORT-SETMARK NETAVARK-HOSTPORT-MASQ; do iptables -w -t nat -X $c 2>/dev/null; done
  iptables -w -F NETAVARK_FORWARD 2>/dev/null; iptables -w -X NETAVARK_FORWARD 2>/dev/null
  [ "$IP_FORWARD_BEFORE" = 0 ] && echo 0 >/proc/sys/net/ipv4/ip_forward
  return 0
}
net_leaks() { # what is still there after net_cleanup (printed; the run then fails)
  local left="" br t
  for br in $(cat "$BRIDGES_FILE" 2>/dev/null); do
    [ -d "/sys/class/net/$br" ] && [ -z "$(ls "/sys/class/net/$br/brif" 2>/dev/null)" ] && left+=" bridge $br;"
  done
  for br in $(pids_of aardvark-dns "$R/"); do left+=" aardvark-dns pid $br;"; done
  for t in nat filter; do left+=$(our_rules $t | sed "s/^/ $t rule /; s/\$/;/" | tr '\n' ' '); done
  iptables -w -t mangle -S 2>/dev/null | grep -q -- "^-N $BERTH_ISO-" && left+=" chains $BERTH_ISO-*;"
  if [ "$NETAVARK_BEFORE" = 0 ]; then
    { iptables -w -t nat -S; iptables -w -S; } 2>/dev/null | grep -q '^-N NETAVARK' &&
      ! { iptables -w -t nat -S; iptables -w -S; } 2>/dev/null | grep '^-N NETAVARK' | grep -qvE '^-N (NETAVARK-HOSTPORT-(DNAT|SETMARK|MASQ)|NETAVARK_FORWARD)$' &&
      ! iptables -w -t nat -S 2>/dev/null | grep -q '^-A NETAVARK-HOSTPORT-DNAT ' && left+=" netavark's generic chains (unused);"
  fi
  for f in $pm_netns; do [ -e "$f" ] && left+=" $f;"; done
  printf '%s' "${left# }"
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  log "cleaning up"
  # 1. containers, through each engine while it is still up; podman's first and berthd's last, so
  #    that berthd can remove netavark's generic chains if nobody else uses them any more. The user
  #    networks go too (they would go with the data roots anyway).
  pm_netns=""
  if command -v podman >/dev/null && [ -d "$W/podman-root" ]; then
    ids=$(pm ps -aq 2>/dev/null)
    [ -n "$ids" ] && pm_netns=$(pm inspect -f '{{.NetworkSettings.SandboxKey}}' $ids 2>/dev/null | grep '^/run/netns/')
    pm rm -f -a -t 0 >/dev/null 2>&1
    pm network rm -f benchnet >/dev/null 2>&1
  fi
  if [ -S "$DSOCK" ]; then ids=$(dkd ps -aq 2>/dev/null); [ -n "$ids" ] && dkd rm -f $ids >/dev/null 2>&1; fi
  if [ -S "$BSOCK" ]; then
    ids=$(berth ps -aq 2>/dev/null); [ -n "$ids" ] && berth rm -f $ids >/dev/null 2>&1
    "$DOCKER_CLI" -H "unix://$BSOCK" network rm benchnet >/dev/null 2>&1
  fi
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
  for pid in $(pids_of aardvark-dns "$R/"); do stop_pid "$pid" 5; done   # DNS servers netavark started for us
  stop_pid "$(pidfile_pid "$HOLDER_PIDFILE")" 5
  # 4. mounts under our roots (deepest first: berthd's network namespaces too), podman's namespace
  #    files (mounted in the holder's namespace, gone with it), then networking, then the roots
  findmnt -rn -o TARGET | grep -E "^($W|$R)(/|$)" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for f in $pm_netns; do [ -e "$f" ] && { umount -l "$f" 2>/dev/null; rm -f "$f"; }; done
  net_cleanup
  left=$(net_leaks)
  if [ -n "$left" ]; then log "left behind (networking): $left"; [ $rc -eq 0 ] && rc=1; fi
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
[ -z "$net_clash" ] || { echo "bridge(s)$net_clash exist already: not ours, not touched" >&2; exit 1; }

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
# berthd as bin/berthd starts it; berth through the repo's own launcher (bin/berth: V8's code cache
# beside the bundle, written on its first run here, in the warm-ups), as users start it.
printf '#!/usr/bin/env node\nrequire("../dist/berthd.js");\n' >"$BIN/berthd"; chmod 755 "$BIN/berthd"
cp "$REPO/bin/berth" "$BIN/berth"; chmod 755 "$BIN/berth"
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
  --pidfile "$R/berthd.pid" --log-level warn \
  --bridge "${NET_TAG}d" --bip "$BERTH_BIP" --default-address-pool "$BERTH_POOL" </dev/null >"$W/berthd.log" 2>&1 &
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
default_subnet = "$PODMAN_DEFAULT_SUBNET"
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
case $mrc in 130 | 143) exit $mrc ;; esac   # interrupted: no report, straight to the clean-up
node "$BENCH_DIR/report.mjs" "$BENCH_OUT/results.jsonl" >"$BENCH_OUT/results.md"
cat "$BENCH_OUT/results.md"
log "results: $BENCH_OUT/results.md (raw: results.jsonl, hyperfine JSON in $BENCH_OUT/hyperfine/)"
exit $mrc
