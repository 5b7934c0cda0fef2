#!/usr/bin/env bash
# The measurements; started by bench/run.sh (which sets up the engines and cleans up afterwards).
# Writes one JSON object per line to $BENCH_OUT/results.jsonl: timings as raw wall-clock samples in
# seconds ("times"), memory figures in kB ("kb"). bench/report.mjs turns them into the tables.
set -uo pipefail
: "${W:?run bench/run.sh}" "${R:?}" "${BIN:?}" "${BSOCK:?}" "${DSOCK:?}" "${DOCKER_CLI:?}" "${REPO:?}" "${BENCH_OUT:?}"
: "${NET_TAG:?}" "${BRIDGES_FILE:?}" "${BERTH_NET_SUBNET:?}" "${PODMAN_NET_SUBNET:?}" "${PODMAN_DEFAULT_NET:?}"
: "${HTTP_CONC:=8}" "${HTTP_SECONDS:=5}" "${HTTP_ROUNDS:=3}"
OUT=$BENCH_OUT/results.jsonl
HF=$BENCH_OUT/hyperfine
: >"$OUT"; rm -rf "$HF"; mkdir -p "$HF"
failures=0
partial=0
# Ctrl-C: stop at once (run.sh then cleans up). hyperfine and node exit 130 on SIGINT instead of
# dying of it, and then bash takes the signal as handled by them and goes on: check for 130 as well.
trap 'exit 130' INT
trap 'exit 143' TERM
int_check() { [ "$1" -ne 130 ] || exit 130; }

BERTH="$BIN/berth -H unix://$BSOCK"
DKB="$DOCKER_CLI -H unix://$BSOCK"       # real docker CLI -> berthd
DKD="$DOCKER_CLI -H unix://$DSOCK"       # real docker CLI -> private dockerd
PM="podman $PODMAN_ARGS"

emit() { printf '%s\n' "$1" >>"$OUT"; }
jstr() { node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$1"; }
section() { printf '\n## %s\n' "$*" >&2; }
want() { [[ " ${SECTIONS:-1 2 3 4 5 6 7 8 9 10} " == *" $1 "* ]]; }   # SECTIONS="5": only the networking section

# measure ID LABEL -- CMD ARGS...   (arguments without spaces; cycles are script files)
# Wall clock of the whole client process, RUNS samples after WARMUP unmeasured runs: hyperfine -N
# (no shell in between) when installed, else a bash loop. A failing command is recorded, not timed.
# With KEEP_GOING=1 (section 5) a run that fails after the first one does not end the measurement:
# it is left out of the times and recorded as failed_runs with its exit code.
measure() {
  local id=$1 label=$2; shift 3
  local cmd="$*" out ign=() extra=""
  [ "${KEEP_GOING:-0}" = 1 ] && ign=(-i)
  printf '  %-50s ' "$label" >&2
  out=$("$@" 2>&1 >/dev/null); local rc=$?
  int_check $rc
  if [ $rc -ne 0 ] && ! { [ "${KEEP_GOING:-0}" = 1 ] && "$@" >/dev/null 2>&1 &&
      extra=",\"probe_error\":$(jstr "$(printf '%s\n' "$out" | grep -v -e '^$' -e '--help' | tail -2)")" && printf '(first try failed, second passed) ' >&2; }; then
    printf 'FAILED: %s\n' "$(printf '%s' "$out" | tail -3 | tr '\n' ' ')" >&2
    emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"cmd\":$(jstr "$cmd"),\"error\":$(jstr "$(printf '%s' "$out" | tail -5)")}"
    failures=$((failures + 1)); return
  fi
  local times
  if command -v hyperfine >/dev/null; then
    hyperfine -N "${ign[@]}" --runs "$RUNS" --warmup "$WARMUP" --style none --export-json "$HF/$id.json" -- "$cmd" >"$HF/$id.log" 2>&1
    rc=$?
    int_check $rc
    if [ $rc -ne 0 ]; then
      printf 'FAILED (hyperfine): %s\n' "$(tail -3 "$HF/$id.log" | tr '\n' ' ')" >&2
      emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"cmd\":$(jstr "$cmd"),\"error\":$(jstr "$(tail -5 "$HF/$id.log")")}"
      failures=$((failures + 1)); return
    fi
    times=$(node -e 'const r = require(process.argv[1]).results[0], c = r.exit_codes ?? [];
      console.log(JSON.stringify(r.times.filter((t, i) => !c.length || c[i] === 0)))' "$HF/$id.json")
    extra+=$(node -e 'const c = (require(process.argv[1]).results[0].exit_codes ?? []).filter((x) => x !== 0);
      if (c.length) console.log(`,"failed_runs":${c.length},"failed_exit_codes":${JSON.stringify(c)}`)' "$HF/$id.json")
    if [ "$times" = "[]" ]; then
      printf 'FAILED: every run failed\n' >&2
      emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"cmd\":$(jstr "$cmd"),\"error\":\"every run failed\"$extra}"
      failures=$((failures + 1)); return
    fi
  else
    local i t0 t1 ts=() rc=0
    for ((i = 0; i < WARMUP; i++)); do "$@" >/dev/null 2>&1; done
    for ((i = 0; i < RUNS; i++)); do
      t0=$(date +%s%N); "$@" >/dev/null 2>&1 || rc=$?; t1=$(date +%s%N)
      ts+=("$(( (t1 - t0) / 1000 ))e-6")
    done
    if [ $rc -ne 0 ]; then
      printf 'FAILED (exit %s during the runs)\n' "$rc" >&2
      emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"cmd\":$(jstr "$cmd"),\"error\":\"exit $rc during the runs\"}"
      failures=$((failures + 1)); return
    fi
    times="[$(IFS=,; echo "${ts[*]}")]"
  fi
  emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"cmd\":$(jstr "$cmd"),\"times\":$times$extra}"
  node -e 'const t=JSON.parse(process.argv[1]).sort((a,b)=>a-b),n=t.length,m=n%2?t[(n-1)/2]:(t[n/2-1]+t[n/2])/2;
    console.log(`median ${(m*1e3).toFixed(1)} ms  (min ${(t[0]*1e3).toFixed(1)}, max ${(t[n-1]*1e3).toFixed(1)}, n=${n})`)' "$times" >&2
  if [ -n "$extra" ]; then printf '  %-50s WARNING: %s\n' "" "${extra#,}" >&2; partial=$((partial + 1)); fi
}

# measure_turns: like measure, for the rows "ID<TAB>LABEL<TAB>COMMAND" on stdin, run in turns (run i
# of every row, then run i+1, the order rotated each round) instead of one row's runs after the
# other's: for long runs (builds, ~1 s) the machine drifts (noisy neighbours, write-back of the
# previous row's files) by more than the differences measured, and turns spread that over every row.
measure_turns() {
  local -a ids=() labels=() cmds=() ts=() rcs=()
  local id label cmd n i j k t0 t1
  while IFS=$'\t' read -r id label cmd; do [ -n "$id" ] && { ids+=("$id"); labels+=("$label"); cmds+=("$cmd"); }; done
  n=${#ids[@]}
  for ((i = 0; i < WARMUP + RUNS; i++)); do
    for ((j = 0; j < n; j++)); do
      k=$(((i + j) % n))
      t0=$(date +%s%N); eval "${cmds[k]}" >/dev/null 2>"$W/turn.err" || rcs[k]="$? $(tail -3 "$W/turn.err" | tr '\n' ' ')"; t1=$(date +%s%N)
      ((i >= WARMUP)) && ts[k]+="$(((t1 - t0) / 1000))e-6,"
    done
  done
  for ((k = 0; k < n; k++)); do
    printf '  %-50s ' "${labels[k]}" >&2
    if [ -n "${rcs[k]:-}" ]; then
      printf 'FAILED: %s\n' "${rcs[k]}" >&2
      emit "{\"id\":\"${ids[k]}\",\"label\":$(jstr "${labels[k]}"),\"cmd\":$(jstr "${cmds[k]}"),\"error\":$(jstr "exit ${rcs[k]}")}"
      failures=$((failures + 1)); continue
    fi
    local times="[${ts[k]%,}]"
    emit "{\"id\":\"${ids[k]}\",\"label\":$(jstr "${labels[k]}"),\"cmd\":$(jstr "${cmds[k]}"),\"times\":$times,\"turns\":true}"
    node -e 'const t=JSON.parse(process.argv[1]).sort((a,b)=>a-b),n=t.length,m=n%2?t[(n-1)/2]:(t[n/2-1]+t[n/2])/2;
      console.log(`median ${(m*1e3).toFixed(1)} ms  (min ${(t[0]*1e3).toFixed(1)}, max ${(t[n-1]*1e3).toFixed(1)}, n=${n}, in turns)`)' "$times" >&2
  done
}

# cycle NAME 'SHELL LINE': a /bin/sh script for a multi-step measurement (same shell cost for all).
cycle() { printf '#!/bin/sh\nset -e\n%s\n' "$2" >"$W/$1.sh"; echo "$W/$1.sh"; }

# ---- memory helpers (kB), from /proc
kb_rss() { local s=0 v p; for p in "$@"; do v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null); s=$((s + ${v:-0})); done; echo $s; }
kb_pss() { local s=0 v p; for p in "$@"; do v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null); s=$((s + ${v:-0})); done; echo $s; }
pids_of() { # executable basename, substring of the command line (one of our private roots)
  local p
  for p in /proc/[0-9]*; do
    [ "$(basename "$(readlink "$p/exe" 2>/dev/null)")" = "$1" ] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$2" && echo "${p#/proc/}"
  done
  return 0
}
BERTHD_PID=$(cat "$R/berthd.pid")
DOCKERD_PID=$(cat "$R/dockerd.pid")
CONTAINERD_PID=$(cat "$R/docker/containerd/containerd.pid" 2>/dev/null || pids_of containerd "$R/docker" | head -1)
mem() { # mem ID LABEL PIDS...
  local id=$1 label=$2; shift 2
  local rss pss; rss=$(kb_rss "$@"); pss=$(kb_pss "$@")
  emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"pids\":$#,\"rss_kb\":$rss,\"pss_kb\":$pss}"
  awk -v l="$label" -v r="$rss" -v p="$pss" -v n=$# 'BEGIN{printf "  %-50s RSS %6.1f MB  PSS %6.1f MB  (%d processes)\n", l, r/1024, p/1024, n}' >&2
}
idle_mem() { # idle_mem SUFFIX
  sleep 2
  mem "idle_$1.berthd" "berthd ($1)" "$BERTHD_PID"
  mem "idle_$1.dockerd" "dockerd + containerd ($1)" "$DOCKERD_PID" $CONTAINERD_PID
}

rm_all() { # rm_all ENGINE
  local ids
  case $1 in
    berth) ids=$($BERTH ps -aq); [ -z "$ids" ] || $BERTH rm -f $ids >/dev/null ;;
    docker) ids=$($DKD ps -aq); [ -z "$ids" ] || $DKD rm -f $ids >/dev/null ;;
    podman) $PM rm -f -a -t 0 >/dev/null ;;
  esac
}
start_n() { # start_n ENGINE N: N detached `sleep 3600` containers, serially; records the time taken
  local e=$1 n=$2 i t0 t1 rc=0
  t0=$(date +%s%N)
  for ((i = 0; i < n; i++)); do
    case $e in
      berth) $BERTH run -d --network none busybox sleep 3600 >/dev/null || rc=1 ;;
      docker) $DKD run -d --network none busybox sleep 3600 >/dev/null || rc=1 ;;
      podman) $PM run -d --network none busybox sleep 3600 >/dev/null || rc=1 ;;
    esac
  done
  t1=$(date +%s%N)
  local running
  case $e in berth) running=$($BERTH ps -q | wc -l) ;; docker) running=$($DKD ps -q | wc -l) ;; podman) running=$($PM ps -q | wc -l) ;; esac
  emit "{\"id\":\"start_serial.$e.$n\",\"engine\":\"$e\",\"n\":$n,\"running\":$running,\"seconds\":$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')}"
  printf '  started %d %s containers serially in %.1f s (%d running)\n' "$n" "$e" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')" "$running" >&2
  [ "$running" -eq "$n" ] || { echo "  WARNING: expected $n running" >&2; failures=$((failures + 1)); }
  return $rc
}

# ---------------------------------------------------------------------------------------------
versions() {
  local v
  v=$(node -e 'const o={};for(let i=1;i<process.argv.length;i+=2)o[process.argv[i]]=process.argv[i+1];console.log(JSON.stringify(o))' \
    kernel "$(uname -r)" cpus "$(nproc)" \
    cgroups "${CGROUPS_DESC:-?}" \
    node "$(node --version)" \
    berth_commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted src changes')" \
    berthd "$($BERTH version -f '{{.Server.Version}}' 2>/dev/null | head -1)" \
    docker_cli "$($DOCKER_CLI --version | sed 's/^Docker version //; s/,.*//')" \
    dockerd "$($DKD version -f '{{.Server.Version}}' 2>/dev/null)" \
    containerd "$(containerd --version | awk '{print $3}')" \
    podman "$(podman --version | awk '{print $3}')" \
    conmon "$(conmon --version | head -1 | awk '{print $3}')" \
    crun "$(crun --version | head -1 | awk '{print $3}')" \
    runc "$(runc --version | head -1 | awk '{print $3}')" \
    hyperfine "$(hyperfine --version 2>/dev/null || echo 'not installed: bash loop')" \
    netavark "$(/usr/lib/podman/netavark --version 2>/dev/null | awk '{print $2}')" \
    aardvark_dns "$(/usr/lib/podman/aardvark-dns --version 2>/dev/null | awk '{print $2}')" \
    http_conc "$HTTP_CONC" http_seconds "$HTTP_SECONDS" http_rounds "$HTTP_ROUNDS" \
    load_start "$(cut -d' ' -f1-3 /proc/loadavg)" \
    runs "$RUNS" warmup "$WARMUP" n_ps "$N_PS" n_mem "$N_MEM" date "$(date -u +%Y-%m-%dT%H:%MZ)")
  emit "{\"id\":\"meta\",\"meta\":$v}"
}
versions

section "idle daemons (fresh: busybox imported, nothing run yet)"
idle_mem fresh

if want 1; then
section "1. run --rm busybox true"
measure run_rm.docker_berthd "docker CLI -> berthd: run --rm" -- $DKB run --rm --network none busybox true
measure run_rm.docker_dockerd "docker CLI -> dockerd: run --rm" -- $DKD run --rm --network none busybox true
measure run_rm.berth "berth run --rm" -- $BERTH run --rm --network none busybox true
measure run_rm.podman "podman run --rm" -- $PM run --rm --network none busybox true
measure cli.node "client start only: node -e 0" -- node -e 0
measure cli.berth "client start only: berth --version" -- $BIN/berth --version
measure cli.docker "client start only: docker --version" -- $DOCKER_CLI --version
measure run_rm.crun "crun run (bundle)" -- crun --root "$R/crun-state" run -b "$W/bundles/crun" bench-crun
measure run_rm.runc "runc run (bundle)" -- runc --root "$R/runc-state" run -b "$W/bundles/runc" bench-runc
fi

if want 2; then
section "2. run -d + rm -f cycle"
measure cycle.docker_berthd "docker CLI -> berthd: run -d + rm -f" -- sh "$(cycle cycle-docker-berthd "id=\$($DKB run -d --network none busybox sleep 3600); $DKB rm -f \"\$id\" >/dev/null")"
measure cycle.berth "berth run -d + rm -f" -- sh "$(cycle cycle-berth "id=\$($BERTH run -d --network none busybox sleep 3600); $BERTH rm -f \"\$id\" >/dev/null")"
measure cycle.docker_dockerd "docker CLI -> dockerd: run -d + rm -f" -- sh "$(cycle cycle-docker-dockerd "id=\$($DKD run -d --network none busybox sleep 3600); $DKD rm -f \"\$id\" >/dev/null")"
measure cycle.podman "podman run -d + rm -f -t 0" -- sh "$(cycle cycle-podman "id=\$($PM run -d --network none busybox sleep 3600); $PM rm -f -t 0 \"\$id\" >/dev/null")"
for e in berth docker podman; do rm_all $e; done   # a failed cycle may leave one behind
fi

if want 3; then
section "3. ps (0 running)"
measure ps0.docker_berthd "docker CLI -> berthd: ps (0 running)" -- $DKB ps
measure ps0.docker_dockerd "docker CLI -> dockerd: ps (0 running)" -- $DKD ps
measure ps0.berth "berth ps (0 running)" -- $BERTH ps
measure ps0.podman "podman ps (0 running)" -- $PM ps

section "3. ps ($N_PS running, one engine at a time)"
start_n berth "$N_PS"
measure psN.docker_berthd "docker CLI -> berthd: ps ($N_PS running)" -- $DKB ps
measure psN.berth "berth ps ($N_PS running)" -- $BERTH ps
rm_all berth
start_n docker "$N_PS"
measure psN.docker_dockerd "docker CLI -> dockerd: ps ($N_PS running)" -- $DKD ps
rm_all docker
start_n podman "$N_PS"
measure psN.podman "podman ps ($N_PS running)" -- $PM ps
rm_all podman
fi

if want 4; then
section "4. memory with $N_MEM running containers, one engine at a time"
start_n berth "$N_MEM"; sleep 2
mem "mem.berthd" "berthd with $N_MEM running" "$BERTHD_PID"
m=$( { pids_of conmon "$R/berth/"; pids_of conmon "$W/berth/"; } | sort -u)
mem "mem.berth_conmon" "berth: conmon x $N_MEM (all)" $m
rm_all berth
start_n docker "$N_MEM"; sleep 2
mem "mem.dockerd" "dockerd + containerd with $N_MEM running" "$DOCKERD_PID" $CONTAINERD_PID
mem "mem.docker_shim" "docker: containerd-shim-runc-v2 x $N_MEM (all)" $(pids_of containerd-shim-runc-v2 "$R/docker")
rm_all docker
start_n podman "$N_MEM"; sleep 2
mem "mem.podman_conmon" "podman: conmon x $N_MEM (all)" $(pids_of conmon "$W/podman-root")
rm_all podman
fi

section "idle daemons (after the workload, 0 containers)"
idle_mem after

# ---- 5. networking: berth and podman side by side, both through netavark + aardvark-dns. dockerd
# runs with --bridge=none --iptables=false here on purpose (a bridged dockerd rewrites the host's
# iptables), so it has no rows in this section. Bridges, subnets and ports are this run's own (set up
# in run.sh, which also removes whatever an interrupted run leaves of them).
http_load() { # http_load ENGINE FILE ROUND: one load run against ENGINE's published port, one result row
  local e=$1 f=$2 r=$3 port size res
  case $e in berth) port=$HTTP_PORT_BERTH ;; podman) port=$HTTP_PORT_PODMAN ;; esac
  size=$(stat -c %s "$W/www/$f")
  printf '  %-50s ' "$e: GET /$f ($HTTP_CONC clients, ${HTTP_SECONDS}s, round $r)" >&2
  res=$(node "$REPO/bench/http-load.mjs" --port "$port" --path "/$f" --concurrency "$HTTP_CONC" \
    --duration "$HTTP_SECONDS" --warmup 1 --expect-bytes "$size" 2>&1)
  local rc=$?
  int_check $rc
  if [ $rc -ne 0 ]; then
    printf 'FAILED: %s\n' "$res" >&2
    emit "{\"id\":\"http.$e.$f.$r\",\"label\":$(jstr "$e: GET /$f"),\"error\":$(jstr "$res")}"
    failures=$((failures + 1)); return
  fi
  emit "{\"id\":\"http.$e.$f.$r\",\"engine\":\"$e\",\"file\":\"$f\",\"size\":$size,\"round\":$r,${res#\{}"
  node -e 'const r=JSON.parse(process.argv[1]);console.log(`${r.requests_per_s} req/s  ${r.mb_per_s} MB/s  ${r.errors} errors`)' "$res" >&2
  [ "$(node -e 'console.log(JSON.parse(process.argv[1]).errors)' "$res")" = 0 ] || failures=$((failures + 1))
}
wait_http() { # wait_http PORT: until the published port answers GET /1k with a 200 (10 s)
  local i
  for ((i = 0; i < 100; i++)); do node "$REPO/bench/http-load.mjs" --port "$1" --path /1k --check && return 0; int_check $?; sleep 0.1; done
  return 1
}
net_leftovers() { # what section 5 made that is still there: our bridges, aardvark-dns under our roots
  local br left=""
  for br in $(cat "$BRIDGES_FILE" 2>/dev/null); do
    [ -d "/sys/class/net/$br" ] && [ -z "$(ls "/sys/class/net/$br/brif" 2>/dev/null)" ] && left+=" bridge $br"
  done
  for br in $(pids_of aardvark-dns "$R/"); do left+=" aardvark-dns pid $br"; done
  echo "${left# }"
}

if want 5; then
section "5. networking: berth vs podman, both netavark (dockerd has no bridge here: not measured)"
# Other netavark users on the host (test daemons, another berthd) race with these runs on netavark's
# shared iptables chains now and then ("iptables: Chain already exists"): a run that fails that way is
# counted and left out rather than ending the row.
KEEP_GOING=1
# The user networks (not timed). berth's bridge gets a name of this run's (run.sh's cleanup knows it);
# podman 4.3 has no option for that and picks the next free podmanN, recorded for the cleanup.
if $BERTH network --help >/dev/null 2>&1; then BNET=$BERTH; else BNET=$DKB; fi   # berth CLI's network group, if built
$BNET network create --subnet "$BERTH_NET_SUBNET" -o "com.docker.network.bridge.name=${NET_TAG}n" benchnet >/dev/null ||
  { echo "  berth network create failed" >&2; failures=$((failures + 1)); }
if $PM network create --subnet "$PODMAN_NET_SUBNET" benchnet >/dev/null; then
  $PM network inspect benchnet -f '{{.NetworkInterface}}' >>"$BRIDGES_FILE"
else
  echo "  podman network create failed" >&2; failures=$((failures + 1))
fi

# Set-up cost per container = median with the network - median with --network none, both measured
# here, in the same stretch of time (the machine's load drifts). "cold": no other container on the
# network, so every run brings up (and tears down) the bridge, its iptables rules and, on a user
# network, aardvark-dns; "up": the httpd containers below keep all of that up.
measure net_none.docker_berthd "docker CLI -> berthd: run --rm --network none" -- $DKB run --rm --network none busybox true
measure net_none.berth "berth run --rm --network none" -- $BERTH run --rm --network none busybox true
measure net_none.podman "podman run --rm --network none" -- $PM run --rm --network none busybox true
measure net_bridge.docker_berthd "docker CLI -> berthd: run --rm (default bridge)" -- $DKB run --rm busybox true
measure net_bridge.berth "berth run --rm (default bridge)" -- $BERTH run --rm busybox true
if [ "$PODMAN_DEFAULT_NET" = 1 ]; then
  measure net_bridge.podman "podman run --rm (default network)" -- $PM run --rm busybox true
else
  echo "  podman's default network: podman0 existed before this run (another podman's): not measured" >&2
  emit "{\"id\":\"net_bridge.podman\",\"label\":\"podman run --rm (default network)\",\"error\":\"podman0 belongs to another podman: not measured\"}"
fi
measure net_user.docker_berthd "docker CLI -> berthd: run --rm --network benchnet (cold)" -- $DKB run --rm --network benchnet busybox true
measure net_user.berth "berth run --rm --network benchnet (cold)" -- $BERTH run --rm --network benchnet busybox true
measure net_user.podman "podman run --rm --network benchnet (cold)" -- $PM run --rm --network benchnet busybox true

# Published ports: one busybox httpd per engine on benchnet, 127.0.0.1:PORT -> 80, serving the same
# 1 KB and 1 MB files (a read-only bind mount); ports below the ephemeral range, free when picked.
mkdir -p "$W/www"
head -c 1024 /dev/urandom >"$W/www/1k"
head -c 1048576 /dev/urandom >"$W/www/1m"
read -r HTTP_PORT_BERTH HTTP_PORT_PODMAN < <(node -e '
  const net = require("net"); const got = [];
  const next = () => { if (got.length === 2) { console.log(got.map((s) => s.address().port).join(" ")); got.forEach((s) => s.close()); return; }
    const s = net.createServer(); s.once("error", next); s.listen(20000 + Math.floor(Math.random() * 12000), "127.0.0.1", () => { got.push(s); next(); }); };
  next();')
echo "$HTTP_PORT_BERTH $HTTP_PORT_PODMAN" >"$R/http-ports"
http_ok=1
$DKB run -d --name bench-httpd --network benchnet -p "127.0.0.1:$HTTP_PORT_BERTH:80" -v "$W/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null &&
  wait_http "$HTTP_PORT_BERTH" || { echo "  berth: httpd on 127.0.0.1:$HTTP_PORT_BERTH did not answer" >&2; http_ok=0; }
$PM run -d --name bench-httpd --network benchnet -p "127.0.0.1:$HTTP_PORT_PODMAN:80" -v "$W/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null &&
  wait_http "$HTTP_PORT_PODMAN" || { echo "  podman: httpd on 127.0.0.1:$HTTP_PORT_PODMAN did not answer" >&2; http_ok=0; }

measure net_up.docker_berthd "docker CLI -> berthd: run --rm --network benchnet (up)" -- $DKB run --rm --network benchnet busybox true
measure net_up.berth "berth run --rm --network benchnet (up)" -- $BERTH run --rm --network benchnet busybox true
measure net_up.podman "podman run --rm --network benchnet (up)" -- $PM run --rm --network benchnet busybox true

if [ $http_ok = 1 ]; then
  # Rounds alternate which engine goes first, so a drift in the machine's load hits both alike.
  for ((r = 1; r <= HTTP_ROUNDS; r++)); do
    for f in 1k 1m; do
      if ((r % 2)); then order="berth podman"; else order="podman berth"; fi
      for e in $order; do http_load "$e" "$f" "$r"; done
    done
  done
else
  failures=$((failures + 1))
fi

# Clean-up: podman's first, so that berthd, whose last endpoint goes last, can also remove the
# generic chains netavark leaves (it does when no other netavark network is up on the host).
$PM rm -f -t 0 bench-httpd >/dev/null 2>&1
$DKB rm -f bench-httpd >/dev/null 2>&1
$PM network rm -f benchnet >/dev/null || failures=$((failures + 1))
$BNET network rm benchnet >/dev/null || failures=$((failures + 1))
rm_all berth; rm_all podman
sleep 1
left=$(net_leftovers)
# (a run that failed half-way can leave its bridge; run.sh's clean-up removes it and fails if it cannot)
if [ -n "$left" ]; then echo "  NOTE: the engines left behind: $left" >&2; emit "{\"id\":\"net_left\",\"left\":$(jstr "$left")}"; fi
fi

# ---- 6. build: the Dockerfile of ../shared/peers/40-build.sh (busybox base, 200 small files made by a
# RUN, a 50 MB COPY from the context, a second stage that copies from the first), on every engine.
# "cold" is --no-cache for every engine (the base image is present, no step is reused; the context is
# sent again each time, except that BuildKit's file sync keeps unchanged context files between builds:
# that is how BuildKit works, and it is measured as it is); "cached" is the identical rebuild, every
# step from the cache. BuildKit is dockerd's own, through the Debian docker CLI 20.10, which has its
# BuildKit client built in (CLI 28 needs the buildx plugin for it, and buildx is not installed here).
# The engines build in turns (measure_turns): one engine's ten builds in a row differed by ±15% from
# the next one's on a quiet machine, more than the differences measured.
# Everything the section makes (images, build cache) is removed at its end.
: "${DOCKER_CLI_OLD:=/usr/bin/docker}"
build_images() { # build_images ENGINE: every image ID, one a line
  case $1 in
    berth) $DKB images -aq --no-trunc ;;
    docker) $DKD images -aq --no-trunc ;;
    podman) $PM images -aq --no-trunc ;;
  esac 2>/dev/null | sort -u
}
build_cleanup() { # build_cleanup ENGINE IMAGES-BEFORE: removes the images made since (children first)
  local e=$1 before=$2 i id left cli
  case $e in berth) cli=$DKB ;; docker) cli=$DKD ;; podman) cli=$PM ;; esac
  $cli rmi -f bench-build >/dev/null 2>&1
  for ((i = 0; i < 10; i++)); do
    left=$(comm -13 <(printf '%s\n' "$before") <(build_images "$e"))
    [ -n "$left" ] || break
    $cli image prune -f >/dev/null 2>&1
    for id in $left; do $cli rmi -f "$id" >/dev/null 2>&1; done
  done
  case $e in berth | docker) $cli builder prune -af >/dev/null 2>&1 ;; esac
  left=$(comm -13 <(printf '%s\n' "$before") <(build_images "$e") | wc -l)
  [ "$left" -eq 0 ] || { echo "  WARNING: $e: $left image(s) of the build section left" >&2; failures=$((failures + 1)); }
}
build_check() { # build_check ID CLI...: the image prints the sha256 of the context's big.bin
  local id=$1 got; shift
  got=$("$@" run --rm --network none bench-build 2>&1 | awk '{print $1}')
  if [ "$got" != "$BUILD_SHA" ]; then
    echo "  WARNING: $id: the image printed '$got', not the context's sha256" >&2
    emit "{\"id\":\"build_check.$id\",\"error\":$(jstr "printed '$got'")}"; failures=$((failures + 1))
  fi
}
if want 6; then
section "6. build (busybox base, 200 files, 50 MB COPY, COPY --from): cold = --no-cache, cached = identical rebuild"
emit "{\"id\":\"load_build_start\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
CTX=$W/buildctx
mkdir -p "$CTX"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$CTX/big.bin"
BUILD_SHA=$(sha256sum "$CTX/big.bin" | awk '{print $1}')
cat >"$CTX/Dockerfile" <<'DF'
FROM busybox AS base
RUN mkdir -p /data && for i in $(seq 1 200); do echo "file $i" > /data/f$i; done
RUN echo hello > /hello && ls -l /data | wc -l > /count
COPY big.bin /big.bin
RUN sha256sum /big.bin > /big.sha && rm -f /hello
FROM busybox
COPY --from=base /data /data
COPY --from=base /big.sha /count /
CMD ["cat", "/big.sha"]
DF
before_berth=$(build_images berth); before_docker=$(build_images docker); before_podman=$(build_images podman)
B_ARGS="-q --network none -t bench-build $CTX"
DKD_OLD="$DOCKER_CLI_OLD -H unix://$DSOCK"
BK=""
if [ -x "$DOCKER_CLI_OLD" ] && bk_err=$(env DOCKER_BUILDKIT=1 $DKD_OLD build $B_ARGS 2>&1 >/dev/null); then
  BK="docker CLI $($DOCKER_CLI_OLD --version | sed 's/^Docker version //; s/,.*//') -> dockerd: BuildKit"
else
  # Not a failure of the bench: the report then compares against DESIGN.md's figures.
  echo "  BuildKit not reachable here ($DOCKER_CLI_OLD): $(printf '%s' "${bk_err:-no such CLI}" | tail -2 | tr '\n' ' ')" >&2
  emit "{\"id\":\"build_buildkit_unreachable\",\"error\":$(jstr "${bk_err:-$DOCKER_CLI_OLD: no such CLI}")}"
fi
# Every engine's cold builds in turns, then every engine's cached ones (each engine's last build
# is then the same build, cold: the cached rows reuse every step).
build_rows() { # build_rows cold|cached FLAGS
  printf '%s\t%s\t%s\n' "build_$1.docker_berthd" "docker CLI -> berthd: build, $3" "env DOCKER_BUILDKIT=0 $DKB build $2 $B_ARGS"
  printf '%s\t%s\t%s\n' "build_$1.berth" "berth build, $3" "$BERTH build $2 $B_ARGS"
  printf '%s\t%s\t%s\n' "build_$1.docker_dockerd" "docker CLI -> dockerd: build (legacy), $3" "env DOCKER_BUILDKIT=0 $DKD build $2 $B_ARGS"
  [ -n "$BK" ] && printf '%s\t%s\t%s\n' "build_$1.buildkit" "$BK, $3" "env DOCKER_BUILDKIT=1 $DKD_OLD build $2 $B_ARGS"
  printf '%s\t%s\t%s\n' "build_$1.podman" "podman build, $3" "$PM build $2 $B_ARGS"
}
build_rows cold --no-cache "cold (--no-cache)" | measure_turns
build_rows cached "" "cached rebuild" | measure_turns
build_check berth $DKB
build_check docker_legacy $DKD
[ -n "$BK" ] && build_check buildkit $DKD
build_check podman $PM
build_cleanup berth "$before_berth"; build_cleanup docker "$before_docker"; build_cleanup podman "$before_podman"
rm -rf "$CTX"
emit "{\"id\":\"load_build_end\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
fi

# ---- 7 to 10: standalone scripts (bench/logs-since.sh, registry.sh, stats-events.sh, health-cpu.sh), each with daemons and temp
# roots of its own, which its own traps remove on exit, also on failure or Ctrl-C (this shell's
# Ctrl-C reaches them too: same process group). What they print as a Markdown table is kept as a
# result row: {"id", "title", "header", "rows"} (see report.mjs).
standalone() { # standalone ID SCRIPT [VAR=VALUE...]
  local id=$1 script=$2 out rc; shift 2
  printf '  %-50s ' "$script $*" >&2
  out=$(env "$@" bash "$REPO/bench/$script" 2>"$W/$id.log"); rc=$?
  int_check $rc
  if [ $rc -ne 0 ]; then
    printf 'FAILED (exit %s): %s\n' "$rc" "$(tail -3 "$W/$id.log" | tr '\n' ' ')" >&2
    emit "{\"id\":\"$id\",\"label\":$(jstr "$script"),\"error\":$(jstr "$(tail -5 "$W/$id.log")")}"
    failures=$((failures + 1)); return
  fi
  emit "$(printf '%s\n' "$out" | node -e '
    const [id, script, args] = process.argv.slice(1);
    const lines = require("fs").readFileSync(0, "utf8").split("\n");
    const cells = (l) => l.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
    const table = lines.filter((l) => l.trim().startsWith("|") && !/^\|[-| :]+\|$/.test(l.trim()));
    const title = lines.find((l) => l.startsWith("#"))?.replace(/^#+\s*/, "");
    console.log(JSON.stringify({ id, script, args, title, header: table.length ? cells(table[0]) : [], rows: table.slice(1).map(cells) }));
  ' "$id" "$script" "$*")"
  printf 'done (%s rows)\n' "$(printf '%s\n' "$out" | grep -c '^|')" >&2
}
if want 7; then
section "7. logs --since / --tail on a ${LOGS_MB:-256} MB log: berthd (k8s-file, binary search) vs dockerd (json-file) (bench/logs-since.sh)"
standalone logs_since logs-since.sh LOG_MB="${LOGS_MB:-256}" RUNS="${LOGS_RUNS:-3}"
fi
if want 8; then
section "8. push / pull of a ${REG_SIZE_MB:-200} MB image over loopback (bench/registry.sh)"
standalone registry registry.sh SIZE_MB="${REG_SIZE_MB:-200}" RUNS="${REG_RUNS:-3}" WARMUP="${REG_WARMUP:-1}"
fi
# RUNS and WARMUP are run.sh's own knobs too (hyperfine's): the scripts get theirs explicitly.
if want 9; then
section "9. stats --no-stream of ${STATS_CONTAINERS:-50} containers, events throughput: berthd vs dockerd (bench/stats-events.sh)"
standalone stats_events stats-events.sh CONTAINERS="${STATS_CONTAINERS:-50}" RUNS="${STATS_RUNS:-5}" EVENTS="${STATS_EVENTS:-2000}"
fi
if want 10; then
section "10. engine CPU with ${HEALTH_CONTAINERS:-50} containers, idle and health-checked every second: berthd vs dockerd (bench/health-cpu.sh)"
standalone health_cpu health-cpu.sh CONTAINERS="${HEALTH_CONTAINERS:-50}" WINDOW="${HEALTH_WINDOW:-30}" WARMUP="${HEALTH_WARMUP:-5}"
fi

emit "{\"id\":\"load_end\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
[ $partial -eq 0 ] || echo "$partial measurement(s) had failed runs (left out of the times, counted in the report): see above" >&2
[ $failures -eq 0 ] || echo "$failures measurement(s) failed: see above" >&2
exit $((failures > 0))
