#!/usr/bin/env bash
# One-shot set-up on a fresh Debian 12 machine, as root: system packages, npm install, build,
# start berthd, create busybox:latest from Debian's busybox-static, and run a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "==> build"
node scripts/build.mjs

SOCK=${BERTH_SOCK:-/run/berth/berth.sock}
export BERTH_HOST="unix://$SOCK"
if ! bin/berth version >/dev/null 2>&1; then
  echo "==> starting berthd (log: /var/lib/berth/berthd.log)"
  mkdir -p /var/lib/berth
  setsid bin/berthd -H "unix://$SOCK" </dev/null >>/var/lib/berth/berthd.log 2>&1 &
  for _ in $(seq 100); do [ -S "$SOCK" ] && bin/berth version >/dev/null 2>&1 && break; sleep 0.1; done
fi

if ! bin/berth image inspect busybox:latest >/dev/null 2>&1; then
  echo "==> creating busybox:latest from busybox-static"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  bash scripts/busybox-rootfs.sh "$tmp/rootfs.tar"
  bin/berth import -c 'CMD ["sh"]' "$tmp/rootfs.tar" busybox:latest >/dev/null
fi

echo "==> berth run --rm busybox"
bin/berth run --rm busybox sh -c 'echo "hello from a berth container: $(uname -s) $(hostname), busybox $(busybox | head -1 | cut -d" " -f2)"'
echo
echo "berthd is running on $SOCK. The docker CLI works against it too:"
echo "  DOCKER_HOST=unix://$SOCK docker run --rm -it busybox sh"
