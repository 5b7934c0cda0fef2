#!/usr/bin/env bash
# Writes a busybox root filesystem tarball (from Debian's busybox-static) to $1.
# The image berth's set-up imports as busybox:latest; tests import it the same way.
set -euo pipefail
out=${1:?usage: busybox-rootfs.sh OUT.tar}
bb=/bin/busybox   # Debian's busybox-static: one static binary, so it runs in any root
[ -x "$bb" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var,run,home}
cp "$bb" "$dir/bin/busybox"
chroot "$dir" /bin/busybox --install -s
chmod 1777 "$dir/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n' > "$dir/etc/group"
tar --numeric-owner -C "$dir" -cf "$out" .
