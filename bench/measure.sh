#!/usr/bin/env bash
# The measurements; started by bench/run.sh (which sets up the engines and cleans up afterwards).
# Writes one JSON object per line to $BENCH_OUT/results.jsonl: timings as raw wall-clock samples in
# seconds ("times"), memory figures in kB ("kb"). bench/report.mjs turns them into the tables.
set -uo pipefail
: "${W:?run bench/run.sh}" "${R:?}" "${BIN:?}" "${BSOCK:?}" "${DSOCK:?}" "${DOCKER_CLI:?}" "${REPO:?}" "${BENCH_OUT:?}"
OUT=$BENCH_OUT/results.jsonl
HF=$BENCH_OUT/hyperfine
: >"$OUT"; rm -rf "$HF"; mkdir -p "$HF"
failures=0

BERTH="$BIN/berth -H unix://$BSOCK"
DKB="$DOCKER_CLI -H unix://$BSOCK"       # real docker CLI -> berthd
DKD="$DOCKER_CLI -H unix://$DSOCK"       # real docker CLI -> private dockerd
PM="podman $PODMAN_ARGS"

emit() { printf '%s\n' "$1" >>"$OUT"; }
jstr() { node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$1"; }
section() { printf '\n## %s\n' "$*" >&2; }

# measure ID LABEL -- CMD ARGS...   (arguments without spaces; cycles are script files)
# Wall clock of the whole client process, RUNS samples after WARMUP unmeasured runs: hyperfine -N
# (no shell in between) when installed, else a bash loop. A failing command is recorded, not timed.
measure() {
  local id=$1 label=$2; shift 3
  local cmd="$*" out
  printf '  %-50s ' "$label" >&2
  if ! out=$("$@" 2>&1 >/dev/null); then
    printf 'FAILED: %s\n' "$(printf '%s' "$out" | tail -3 | tr '\n' ' ')" >&2
    emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"cmd\":$(jstr "$cmd"),\"error\":$(jstr "$(printf '%s' "$out" | tail -5)")}"
    failures=$((failures + 1)); return
  fi
  local times
  if command -v hyperfine >/dev/null; then
    if ! hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --style none --export-json "$HF/$id.json" -- "$cmd" >"$HF/$id.log" 2>&1; then
      printf 'FAILED (hyperfine): %s\n' "$(tail -3 "$HF/$id.log" | tr '\n' ' ')" >&2
      emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"cmd\":$(jstr "$cmd"),\"error\":$(jstr "$(tail -5 "$HF/$id.log")")}"
      failures=$((failures + 1)); return
    fi
    times=$(node -e 'console.log(JSON.stringify(require(process.argv[1]).results[0].times))' "$HF/$id.json")
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
  emit "{\"id\":\"$id\",\"label\":$(jstr "$label"),\"cmd\":$(jstr "$cmd"),\"times\":$times}"
  node -e 'const t=JSON.parse(process.argv[1]).sort((a,b)=>a-b),n=t.length,m=n%2?t[(n-1)/2]:(t[n/2-1]+t[n/2])/2;
    console.log(`median ${(m*1e3).toFixed(1)} ms  (min ${(t[0]*1e3).toFixed(1)}, max ${(t[n-1]*1e3).toFixed(1)}, n=${n})`)' "$times" >&2
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
    load_start "$(cut -d' ' -f1-3 /proc/loadavg)" \
    runs "$RUNS" warmup "$WARMUP" n_ps "$N_PS" n_mem "$N_MEM" date "$(date -u +%Y-%m-%dT%H:%MZ)")
  emit "{\"id\":\"meta\",\"meta\":$v}"
}
versions

section "idle daemons (fresh: busybox imported, nothing run yet)"
idle_mem fresh

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

section "2. run -d + rm -f cycle"
measure cycle.docker_berthd "docker CLI -> berthd: run -d + rm -f" -- sh "$(cycle cycle-docker-berthd "id=\$($DKB run -d --network none busybox sleep 3600); $DKB rm -f \"\$id\" >/dev/null")"
measure cycle.berth "berth run -d + rm -f" -- sh "$(cycle cycle-berth "id=\$($BERTH run -d --network none busybox sleep 3600); $BERTH rm -f \"\$id\" >/dev/null")"
measure cycle.docker_dockerd "docker CLI -> dockerd: run -d + rm -f" -- sh "$(cycle cycle-docker-dockerd "id=\$($DKD run -d --network none busybox sleep 3600); $DKD rm -f \"\$id\" >/dev/null")"
measure cycle.podman "podman run -d + rm -f -t 0" -- sh "$(cycle cycle-podman "id=\$($PM run -d --network none busybox sleep 3600); $PM rm -f -t 0 \"\$id\" >/dev/null")"
for e in berth docker podman; do rm_all $e; done   # a failed cycle may leave one behind

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

section "idle daemons (after the workload, 0 containers)"
idle_mem after

emit "{\"id\":\"load_end\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
[ $failures -eq 0 ] || echo "$failures measurement(s) failed: see above" >&2
exit $((failures > 0))
