#!/usr/bin/env bash
# Installs berth's system packages (Debian 12) and npm dependencies; idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(crun runc conmon netavark aardvark-dns iptables busybox-static catatonit tini attr golang-github-containers-common iproute2 procps xz-utils bzip2 skopeo umoci tmux zlib1g-dev openssh-client libc6-dev)
# Opt-in: the cgroup v2 VM (scripts/cgroup2-vm.sh, test/integration/cgroup2-vm.test.ts) needs qemu and
# Debian's generic kernel (it has 9p; the -cloud flavour has not): ~80 MB and 3-5 minutes to install,
# mostly initramfs generation, so only when asked.
if [ "${BERTH_VM_DEPS:-}" = 1 ]; then PACKAGES+=(qemu-system-x86 linux-image-amd64 cpio); fi
missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -d node_modules/better-sqlite3/build ] || [ ! -d node_modules/esbuild ] || [ ! -d node_modules/tsx ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi
