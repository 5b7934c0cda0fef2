#!/usr/bin/env bash
# Registry push/pull benchmark (issue 5): a ~200 MB image (busybox + 200 MB of random data, one
# layer) over loopback, side by side in one run:
#   berth CLI -> berthd -> berth registry serve
#   skopeo    -> Debian docker-registry (distribution 2.8)   and   skopeo -> berth registry serve
#   docker CLI -> private dockerd (Debian docker.io) -> docker-registry, and -> berth registry serve
#   docker CLI -> berthd -> docker-registry (berth's client against distribution)
# Every push goes to an empty registry (the registry is restarted on a fresh root before each run:
# skopeo and dockerd remember where blobs live and would mount them); every pull starts with the
# image and its layer absent (rmi, or a fresh oci: dir). Times are wall clock of the client command,
# median of $RUNS runs after $WARMUP. Standalone: bench/run.sh may call it later.
#
#   bash bench/registry.sh            # RUNS=5 WARMUP=1
#   RUNS=10 bash bench/registry.sh
#
# Everything lives under a fresh $W (/tmp) and $R (/run); removed on exit together with every process
# it started (by PID) and every mount. docker-registry is not installed: its Debian package is
# unpacked under $W (apt-get download), so no init script starts a system registry.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RUNS=${RUNS:-5} WARMUP=${WARMUP:-1} SIZE_MB=${SIZE_MB:-200}
DOCKER_CLI=${DOCKER_CLI:-$(command -v docker)}
[ "$(id -u)" = 0 ] || { echo "bench/registry.sh must run as root" >&2; exit 1; }
for t in skopeo dockerd node curl; do command -v "$t" >/dev/null || { echo "bench/registry.sh: $t is missing (bench/install-peers.sh, scripts/install-deps.sh)" >&2; exit 1; }; done

W=$(mktemp -d /tmp/berth-regbench.XXXXXX)
R=/run/brb.$$
mkdir -p "$R"
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done; kill -9 "$p" 2>/dev/null; done
  grep -E " ($W|$R)[/ ]" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$W" "$R"
}
trap cleanup EXIT INT TERM

log() { echo "==> $*" >&2; }
wait_http() { for _ in $(seq 120); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.25; done; echo "no answer from $1" >&2; return 1; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# ---- the image: busybox rootfs + one random file, as a tar every engine imports ------------------
log "making the ${SIZE_MB} MB image"
bash "$REPO/scripts/busybox-rootfs.sh" "$W/busybox.tar" >/dev/null
mkdir -p "$W/rootfs" && tar -C "$W/rootfs" -xf "$W/busybox.tar"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$W/rootfs/big.bin"
tar -C "$W/rootfs" -cf "$W/big.tar" . && rm -rf "$W/rootfs"

# ---- berthd ---------------------------------------------------------------------------------------
[ -f "$REPO/dist/berthd.js" ] || node "$REPO/scripts/build.mjs"
BSOCK=$R/berth.sock
node "$REPO/bin/berthd" -H "unix://$BSOCK" --data-root "$W/berth-data" --exec-root "$R/berth-exec" --log-level warn \
  --bridge "brb$$" --default-address-pool base=10.236.0.0/16,size=24 >"$W/berthd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$BSOCK" ] && break; sleep 0.1; done
bk() { DOCKER_HOST="unix://$BSOCK" DOCKER_CONFIG="$W/cfg" "$DOCKER_CLI" "$@"; }
berth() { BERTH_HOST="unix://$BSOCK" DOCKER_HOST="unix://$BSOCK" BERTH_CONFIG="$W/berth-cfg" "$REPO/bin/berth" "$@"; }
bk import -c 'CMD ["sh"]' "$W/big.tar" regbench/big:1 >/dev/null

# ---- private dockerd ------------------------------------------------------------------------------
DSOCK=$R/docker.sock
dockerd --data-root "$W/docker-data" --exec-root "$R/docker-exec" -H "unix://$DSOCK" --pidfile "$R/dockerd.pid" \
  --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false --storage-driver overlay2 >"$W/dockerd.log" 2>&1 &
PIDS+=($!)
dk() { DOCKER_HOST="unix://$DSOCK" DOCKER_CONFIG="$W/cfg" "$DOCKER_CLI" "$@"; }
for _ in $(seq 120); do dk version >/dev/null 2>&1 && break; sleep 0.25; done
dk import -c 'CMD ["sh"]' "$W/big.tar" regbench/big:1 >/dev/null

# ---- skopeo's source: an oci: dir of the same image ----------------------------------------------
bk save -o "$W/big-archive.tar" regbench/big:1
skopeo copy -q "docker-archive:$W/big-archive.tar" "oci:$W/oci:big"

# ---- registries: berth registry serve, Debian's docker-registry (unpacked) ------------------------
REGBIN=$(command -v docker-registry || true)
if [ -z "$REGBIN" ]; then
  mkdir -p "$W/pkg" && (cd "$W/pkg" && apt-get download -q docker-registry >/dev/null 2>&1) \
    && dpkg-deb -x "$(ls "$W"/pkg/docker-registry_*.deb | head -1)" "$W/pkg/root" && REGBIN=$W/pkg/root/usr/bin/docker-registry
fi
[ -x "$REGBIN" ] || { echo "bench/registry.sh: docker-registry unavailable (apt-get download docker-registry failed)" >&2; exit 1; }
BPORT=$(free_port) DPORT=$(free_port)
BREG=127.0.0.1:$BPORT DREG=127.0.0.1:$DPORT
BREG_PID= DREG_PID=
start_berth_registry() {
  [ -n "$BREG_PID" ] && { kill "$BREG_PID"; wait "$BREG_PID" 2>/dev/null || true; }
  rm -rf "$W/breg" && mkdir -p "$W/breg"
  node "$REPO/bin/berth" registry serve --addr "$BREG" --root "$W/breg" >"$W/breg.log" 2>&1 &
  BREG_PID=$!; PIDS+=($BREG_PID)
  wait_http "http://$BREG/v2/"
}
start_distribution() {
  [ -n "$DREG_PID" ] && { kill "$DREG_PID"; wait "$DREG_PID" 2>/dev/null || true; }
  rm -rf "$W/dreg" && mkdir -p "$W/dreg/data"
  printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\n  delete: {enabled: true}\nhttp:\n  addr: %s\n' "$W/dreg/data" "$DREG" > "$W/dreg/config.yml"
  "$REGBIN" serve "$W/dreg/config.yml" >"$W/dreg.log" 2>&1 &
  DREG_PID=$!; PIDS+=($DREG_PID)
  wait_http "http://$DREG/v2/"
}
start_berth_registry
start_distribution

# ---- measurement ------------------------------------------------------------------------------------
RESULTS=()
# measure LABEL SETUP CMD: median wall seconds of CMD, SETUP (untimed) before each run.
measure() {
  local label=$1 setup=$2 cmd=$3 i t0 t1 ts=()
  for ((i = 0; i < WARMUP + RUNS; i++)); do
    eval "$setup" >/dev/null 2>&1 || true   # rmi of a tag already gone fails harmlessly
    t0=$(date +%s%N)
    eval "$cmd" >/dev/null 2>"$W/last.err" || { echo "failed: $label: $(tail -3 "$W/last.err")" >&2; return 1; }
    t1=$(date +%s%N)
    ((i >= WARMUP)) && ts+=($(((t1 - t0) / 1000000)))
  done
  local med
  med=$(printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m/1000}')
  local mm
  mm=$(printf '%s\n' "${ts[@]}" | sort -n | awk 'NR==1{min=$1} {max=$1} END {printf "%.3f-%.3f", min/1000, max/1000}')
  RESULTS+=("| $label | $med | $mm |")
  log "$label: median ${med}s (min-max ${mm}s)"
}

log "berth CLI -> berthd -> berth registry"
bk tag regbench/big:1 "$BREG/big/berth:1"
measure "berth push -> berth registry (empty)" "start_berth_registry" "berth push -q $BREG/big/berth:1"
measure "berth pull <- berth registry (image absent)" "berth rmi -f $BREG/big/berth:1 regbench/big:1" "berth pull -q $BREG/big/berth:1"
bk tag "$BREG/big/berth:1" regbench/big:1

log "skopeo -> docker-registry, skopeo -> berth registry"
measure "skopeo push oci: -> docker-registry (empty)" "start_distribution" "skopeo copy -q --dest-tls-verify=false oci:$W/oci:big docker://$DREG/big/skopeo:1"
measure "skopeo pull docker-registry -> oci: (fresh dir)" "rm -rf $W/pulled" "skopeo copy -q --src-tls-verify=false docker://$DREG/big/skopeo:1 oci:$W/pulled:big"
measure "skopeo push oci: -> berth registry (empty)" "start_berth_registry" "skopeo copy -q --dest-tls-verify=false oci:$W/oci:big docker://$BREG/big/skopeo:1"
measure "skopeo pull berth registry -> oci: (fresh dir)" "rm -rf $W/pulled" "skopeo copy -q --src-tls-verify=false docker://$BREG/big/skopeo:1 oci:$W/pulled:big"

log "dockerd -> docker-registry, dockerd -> berth registry"
dk tag regbench/big:1 "$DREG/big/docker:1"
dk tag regbench/big:1 "$BREG/big/docker:1"
measure "dockerd push -> docker-registry (empty)" "start_distribution" "dk push -q $DREG/big/docker:1"
measure "dockerd pull <- docker-registry (image absent)" "dk rmi -f $DREG/big/docker:1 regbench/big:1 $BREG/big/docker:1" "dk pull -q $DREG/big/docker:1"
dk tag "$DREG/big/docker:1" "$BREG/big/docker:1"
measure "dockerd push -> berth registry (empty)" "start_berth_registry" "dk push -q $BREG/big/docker:1"
measure "dockerd pull <- berth registry (image absent)" "dk rmi -f $DREG/big/docker:1 $BREG/big/docker:1" "dk pull -q $BREG/big/docker:1"

log "berthd -> docker-registry"
bk tag regbench/big:1 "$DREG/big/berthd:1"
measure "berthd push -> docker-registry (empty)" "start_distribution" "bk push -q $DREG/big/berthd:1"
measure "berthd pull <- docker-registry (image absent)" "bk rmi -f $DREG/big/berthd:1 regbench/big:1 $BREG/big/berth:1" "bk pull -q $DREG/big/berthd:1"

log "floor"
measure "cp of the 200 MB tar (write floor)" "rm -f $W/copy.tar" "cp $W/big.tar $W/copy.tar"

{
  echo "### registry push/pull, ${SIZE_MB} MB image over loopback (median of $RUNS, seconds)"
  echo
  echo "| work | median s | min-max s |"
  echo "|---|---|---|"
  printf '%s\n' "${RESULTS[@]}"
} | tee "${BENCH_OUT:-$W}/registry.md"
