#!/usr/bin/env bash
# Registry push/pull benchmark (issue 5): a ~200 MB image (busybox + 200 MB of random data, one
# layer) over loopback, side by side in one run:
#   berth CLI -> berthd -> berth registry serve
#   skopeo    -> Debian docker-registry (distribution 2.8)   and   skopeo -> berth registry serve
#   skopeo pulls also into containers-storage (overlay, private root): a pull that unpacks, as berth's does
#   docker CLI -> private dockerd (Debian docker.io) -> docker-registry, and -> berth registry serve
#   docker CLI -> berthd -> docker-registry (berth's client against distribution)
# Every push goes to an empty registry (the registry is restarted on a fresh root before each run:
# skopeo and dockerd remember where blobs live and would mount them); every pull starts with the
# image and its layer absent (rmi, or a fresh oci: dir). Times are wall clock of the client command,
# median of $RUNS runs after $WARMUP, all pushes interleaved, then all pulls (see measure_rows).
# Standalone: bench/run.sh calls it (section 8).
# Like for like: nobody compresses in a timed berth or skopeo run. berth pushes its layer tar as it
# is (uncompressed, application/vnd.oci.image.layer.v1.tar); skopeo's oci: source holds the layer
# gzipped (skopeo compressed it when it made the dir, untimed; random data: the same size), and
# skopeo pushes and pulls that blob as it is (no decompression into oci:). dockerd gzips on push.
# A berth pull stores the layer tar and unpacks it (400 MB written); skopeo's pull to oci: only
# stores the blob (200 MB); skopeo's pull to containers-storage unpacks it (and keeps tar-split
# metadata, not the tar). Durability (strace -f -y): berth's registry and berthd fsync every blob
# before renaming it in; skopeo's oci: destination fsyncs each blob too (oci-put-blob*, then
# rename); distribution 2.8 fsyncs only its small hashstate and link files, never the blob data.
#
#   bash bench/registry.sh            # RUNS=5 WARMUP=1
#   RUNS=10 bash bench/registry.sh
#   CASES="berth skopeo" bash bench/registry.sh   # only some groups (berth skopeo dockerd berthd floor)
#   BERTH_DIST=/tmp/old-dist bash bench/registry.sh  # measure another build of berth (a dist/ dir)
#
# Everything lives under a fresh $W (/tmp) and $R (/run); removed on exit together with every process
# it started (by PID) and every mount. docker-registry is not installed: its Debian package is
# unpacked under $W (apt-get download), so no init script starts a system registry.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RUNS=${RUNS:-5} WARMUP=${WARMUP:-1} SIZE_MB=${SIZE_MB:-200}
CASES=${CASES:-berth skopeo dockerd berthd floor}
want() { [[ " $CASES " == *" $1 "* ]]; }
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
# A private copy of dist/ runs (other engineers rebuild dist/ in this tree during a run); modules
# resolve from the repo.
[ -n "${BERTH_DIST:-}" ] || { [ -f "$REPO/dist/berthd.js" ] || node "$REPO/scripts/build.mjs"; }
cp -a "${BERTH_DIST:-$REPO/dist}" "$W/dist"
mkdir -p "$W/bin"
# The CLI starts through the repo's launcher (V8's code cache beside the bundle, written by the
# first, untimed run), as users run it; berthd is not timed.
cp "$REPO/bin/berth" "$W/bin/berth"
printf '#!/usr/bin/env node\nrequire("../dist/berthd.js");\n' >"$W/bin/berthd"; chmod 755 "$W/bin/berth" "$W/bin/berthd"
export NODE_PATH=$REPO/node_modules
BSOCK=$R/berth.sock
node "$W/bin/berthd" -H "unix://$BSOCK" --data-root "$W/berth-data" --exec-root "$R/berth-exec" --log-level warn \
  --bridge "brb$$" --default-address-pool base=10.236.0.0/16,size=24 >"$W/berthd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$BSOCK" ] && break; sleep 0.1; done
bk() { DOCKER_HOST="unix://$BSOCK" DOCKER_CONFIG="$W/cfg" "$DOCKER_CLI" "$@"; }
berth() { BERTH_HOST="unix://$BSOCK" DOCKER_HOST="unix://$BSOCK" BERTH_CONFIG="$W/berth-cfg" "$W/bin/berth" "$@"; }
bk import -c 'CMD ["sh"]' "$W/big.tar" regbench/big:1 >/dev/null

# ---- private dockerd ------------------------------------------------------------------------------
DSOCK=$R/docker.sock
dk() { DOCKER_HOST="unix://$DSOCK" DOCKER_CONFIG="$W/cfg" "$DOCKER_CLI" "$@"; }
if want dockerd; then
dockerd --data-root "$W/docker-data" --exec-root "$R/docker-exec" -H "unix://$DSOCK" --pidfile "$R/dockerd.pid" \
  --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false --storage-driver overlay2 >"$W/dockerd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 120); do dk version >/dev/null 2>&1 && break; sleep 0.25; done
dk import -c 'CMD ["sh"]' "$W/big.tar" regbench/big:1 >/dev/null
fi

# ---- skopeo's source: an oci: dir of the same image ----------------------------------------------
if want skopeo; then
  bk save -o "$W/big-archive.tar" regbench/big:1
  skopeo copy -q "docker-archive:$W/big-archive.tar" "oci:$W/oci:big"
fi

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
  node "$W/bin/berth" registry serve --addr "$BREG" --root "$W/breg" >"$W/breg.log" 2>&1 &
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
# Rows are measured interleaved: run i of every row, then run i+1, the order rotated each round, so
# that drift in the machine's load (other test suites) hits every row alike. Before each timed run
# its setup runs (untimed), then `sync`, so that no write-back of an earlier step lands in a timed one.
RESULTS=()
ROWS=()
row() { ROWS+=("$1"$'\t'"$2"$'\t'"$3"); }
measure_rows() {
  local n=${#ROWS[@]} i j k label setup cmd t0 t1
  local -a ts=()
  for ((i = 0; i < WARMUP + RUNS; i++)); do
    for ((j = 0; j < n; j++)); do
      k=$(((i + j) % n))
      IFS=$'\t' read -r label setup cmd <<<"${ROWS[k]}"
      eval "$setup" >/dev/null 2>&1 || true   # rmi of a tag already gone fails harmlessly
      sync
      t0=$(date +%s%N)
      eval "$cmd" >/dev/null 2>"$W/last.err" || { echo "failed: $label: $(tail -3 "$W/last.err")" >&2; return 1; }
      t1=$(date +%s%N)
      ((i >= WARMUP)) && ts[k]+="$(((t1 - t0) / 1000000)) "
    done
  done
  for ((k = 0; k < n; k++)); do
    IFS=$'\t' read -r label setup cmd <<<"${ROWS[k]}"
    local med mm
    # shellcheck disable=SC2086
    med=$(printf '%s\n' ${ts[k]} | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m/1000}')
    # shellcheck disable=SC2086
    mm=$(printf '%s\n' ${ts[k]} | sort -n | awk 'NR==1{min=$1} {max=$1} END {printf "%.3f-%.3f", min/1000, max/1000}')
    RESULTS+=("| $label | $med | $mm |")
    log "$label: median ${med}s (min-max ${mm}s)"
  done
  ROWS=()
}
# The image absent from an engine: every tag of it gone (the layer goes with the last one).
berth_absent() { bk rmi -f "$BREG/big/berth:1" "$DREG/big/berthd:1" regbench/big:1; }
docker_absent() { dk rmi -f "$DREG/big/docker:1" "$BREG/big/docker:1" regbench/big:1; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
bk tag regbench/big:1 "$BREG/big/berth:1"
bk tag regbench/big:1 "$DREG/big/berthd:1"
if want dockerd; then dk tag regbench/big:1 "$DREG/big/docker:1"; dk tag regbench/big:1 "$BREG/big/docker:1"; fi

log "push, to an empty registry each time"
want berth && row "berth push -> berth registry (empty)" "start_berth_registry" "berth push -q $BREG/big/berth:1"
want skopeo && row "skopeo push oci: -> docker-registry (empty)" "start_distribution" "skopeo copy -q --dest-tls-verify=false oci:$W/oci:big docker://$DREG/big/skopeo:1"
want skopeo && row "skopeo push oci: -> berth registry (empty)" "start_berth_registry" "skopeo copy -q --dest-tls-verify=false oci:$W/oci:big docker://$BREG/big/skopeo:1"
want dockerd && row "dockerd push -> docker-registry (empty)" "start_distribution" "dk push -q $DREG/big/docker:1"
want dockerd && row "dockerd push -> berth registry (empty)" "start_berth_registry" "dk push -q $BREG/big/docker:1"
want berthd && row "berthd push -> docker-registry (empty)" "start_distribution" "bk push -q $DREG/big/berthd:1"
[ ${#ROWS[@]} -eq 0 ] || measure_rows

log "pull, with the image absent"
# What the pulls need, pushed untimed to fresh registries.
start_berth_registry
start_distribution
want berth && berth push -q "$BREG/big/berth:1" >/dev/null
want skopeo && { skopeo copy -q --dest-tls-verify=false "oci:$W/oci:big" "docker://$DREG/big/skopeo:1"; skopeo copy -q --dest-tls-verify=false "oci:$W/oci:big" "docker://$BREG/big/skopeo:1"; }
want dockerd && { dk push -q "$DREG/big/docker:1" >/dev/null; dk push -q "$BREG/big/docker:1" >/dev/null; }
want berthd && bk push -q "$DREG/big/berthd:1" >/dev/null
want berth && row "berth pull <- berth registry (image absent)" "berth_absent" "berth pull -q $BREG/big/berth:1"
want skopeo && row "skopeo pull docker-registry -> oci: (fresh dir)" "rm -rf $W/pulled" "skopeo copy -q --src-tls-verify=false docker://$DREG/big/skopeo:1 oci:$W/pulled:big"
want skopeo && row "skopeo pull berth registry -> oci: (fresh dir)" "rm -rf $W/pulled" "skopeo copy -q --src-tls-verify=false docker://$BREG/big/skopeo:1 oci:$W/pulled:big"
# containers-storage with a root of its own (overlay driver), emptied before each run.
CS="containers-storage:[overlay@$W/cs+$R/cs]"
cs_absent() {
  grep -E " ($W/cs|$R/cs)[/ ]" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$W/cs" "$R/cs"
}
want skopeo && row "skopeo pull docker-registry -> containers-storage (empty)" "cs_absent" "skopeo copy -q --src-tls-verify=false docker://$DREG/big/skopeo:1 '${CS}big/skopeo:1'"
want skopeo && row "skopeo pull berth registry -> containers-storage (empty)" "cs_absent" "skopeo copy -q --src-tls-verify=false docker://$BREG/big/skopeo:1 '${CS}big/skopeo:1'"
want dockerd && row "dockerd pull <- docker-registry (image absent)" "docker_absent" "dk pull -q $DREG/big/docker:1"
want dockerd && row "dockerd pull <- berth registry (image absent)" "docker_absent" "dk pull -q $BREG/big/docker:1"
want berthd && row "berthd pull <- docker-registry (image absent)" "berth_absent" "bk pull -q $DREG/big/berthd:1"
[ ${#ROWS[@]} -eq 0 ] || measure_rows

if want floor; then
  log "floor"
  row "cp of the ${SIZE_MB} MB tar (write floor, no fsync)" "rm -f $W/copy.tar" "cp $W/big.tar $W/copy.tar"
  row "cp + fsync of the ${SIZE_MB} MB tar" "rm -f $W/copy.tar" "cp $W/big.tar $W/copy.tar && sync $W/copy.tar"
  measure_rows
fi

{
  echo "### registry push/pull, ${SIZE_MB} MB image over loopback (median of $RUNS, seconds)"
  echo
  echo "berth $(git -C "$REPO" rev-parse --short HEAD)${BERTH_DIST:+ (dist from $BERTH_DIST)}; rows interleaved, \`sync\` before each timed run; load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| work | median s | min-max s |"
  echo "|---|---|---|"
  printf '%s\n' "${RESULTS[@]}"
} | tee "${BENCH_OUT:-$W}/registry.md"
