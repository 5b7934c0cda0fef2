#!/usr/bin/env bash
# Installs berth's system packages (Debian 12) and npm dependencies; idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(crun runc conmon netavark aardvark-dns iptables busybox-static catatonit tini attr golang-github-containers-common iproute2 procps xz-utils bzip2 skopeo umoci tmux zlib1g-dev openssh-client libc6-dev)
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
