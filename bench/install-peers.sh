#!/usr/bin/env bash
# Installs the peers berth is measured against (Debian docker.io, podman) and hyperfine, without
# letting any package start a service: a policy-rc.d that refuses every start is in place for the
# duration of apt-get (the previous one, if any, is put back), and if a system dockerd/containerd
# started anyway it is stopped by its pidfile. Idempotent: does nothing when all are installed.
# docker.io puts the 20.10 CLI at /usr/bin/docker; /usr/local/bin/docker (CLI 28) stays first on PATH.
set -euo pipefail
PKGS=(docker.io podman hyperfine)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

PRC=/usr/sbin/policy-rc.d
saved=$(mktemp)
had_prc=0
if [ -e "$PRC" ]; then cp -a "$PRC" "$saved"; had_prc=1; fi
restore() {
  if [ "$had_prc" = 1 ]; then cp -a "$saved" "$PRC"; else rm -f "$PRC"; fi
  rm -f "$saved"
}
trap restore EXIT
printf '#!/bin/sh\n# berth bench: no service may start while the peers are installed\nexit 101\n' > "$PRC"
chmod 755 "$PRC"

# Pidfiles a system dockerd/containerd would write if something started them anyway.
PIDFILES=(/run/docker.pid /var/run/docker.pid /run/docker-ssd.pid /var/run/docker-ssd.pid
          /run/containerd/containerd.pid /run/containerd.pid /var/run/containerd.pid)
declare -A before=()
for f in "${PIDFILES[@]}"; do [ -f "$f" ] && before[$f]=$(cat "$f"); done

echo "==> installing ${missing[*]} (services blocked by policy-rc.d)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

for f in "${PIDFILES[@]}"; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  [ "${before[$f]:-}" = "$pid" ] && continue          # was there before us: not ours to stop
  kill -0 "$pid" 2>/dev/null || continue
  exe=$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")
  case "$exe" in dockerd|containerd|docker-proxy) ;; *) continue ;; esac
  echo "==> $exe (pid $pid, $f) was started by the package: stopping it"
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
done
