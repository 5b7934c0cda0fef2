#!/usr/bin/env bash
# Runs a command inside a throwaway Linux VM whose cgroups are pure v2, on this very host's files.
#
#   scripts/cgroup2-vm.sh [--timeout SECS] [--mem MiB] [--cpus N] [--] COMMAND [ARGS...]
#
# Why: berth's hosts here are cgroup v1 (hybrid), while most users' hosts are pure v2. This lets the
# real resource tests run against live v2 files (memory.max, cpu.max, io.weight, pids.max...).
#
# How: qemu boots Debian's kernel (package linux-image-amd64; 9p is a module there, the -cloud
# flavour has no 9p) with a tiny initramfs of our own (busybox-static + the virtio/9p/overlay
# modules). The host's root is shared read-only over 9p and becomes the lower layer of an overlay
# whose upper layer is guest RAM, so the VM runs the same node, dist/, node_modules, crun, conmon,
# docker CLI and netavark as the host, can write anywhere, and changes nothing on the host. PID 1 in
# the VM (guest-init below) mounts cgroup2 at /sys/fs/cgroup with every controller enabled for
# children, tmpfs on /tmp and /run (overlayfs needs a real upper fs: containers' layers live there),
# brings up lo, runs COMMAND in the current directory and powers off. COMMAND's output is the
# console's, streamed here (and appended to the file BERTH_VM_CONSOLE names, if any); its exit
# status is this script's (124 on timeout, 3 when the VM could not run it). Everything lives under
# one temp dir, removed on exit; qemu is ended by its PID.
#
# Needs: root, qemu-system-x86 and linux-image-amd64 (`BERTH_VM_DEPS=1 scripts/install-deps.sh`),
# busybox-static. Uses hardware KVM when there is one, else qemu's emulator TCG (resources.test.ts:
# ~5 min instead of 30 s natively; BERTH_VM_TCG=1 forces it, BERTH_VM_REQUIRE_KVM=1 makes a missing
# KVM an error, exit 4). BERTH_VM_DEBUG=1 shows the kernel's boot messages. See docs/resources.md.
set -euo pipefail

timeout=900 mem=3072 cpus=2
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--timeout SECS] [--mem MiB] [--cpus N] [--] COMMAND [ARGS...]" >&2; exit 2; }

die() { echo "cgroup2-vm: $*" >&2; exit 3; }
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
BUSYBOX=/bin/busybox # busybox-static: the initramfs has no libc
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"

# The newest installed kernel whose modules have 9p (generic flavour; the cloud one lacks it).
kver=
for k in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -V -r); do
  if [ -e "/lib/modules/$k/kernel/fs/9p/9p.ko" ] || [ -e "/lib/modules/$k/kernel/fs/9p/9p.ko.xz" ]; then kver=$k; break; fi
done
[ -n "$kver" ] || die "no kernel with 9p modules in /boot (apt-get install linux-image-amd64)"

# KVM only when it is hardware KVM: /dev/kvm inside a VM may be served by kvm_pvm (PVM, software
# virtualization for nested guests), which boots only kernels built as PVM guests; Debian's hangs
# right after its real-mode setup ("Probing EDD") there.
accel=(-accel tcg) why_tcg=
if [ "${BERTH_VM_TCG:-}" = 1 ]; then why_tcg="BERTH_VM_TCG=1"
elif [ ! -w /dev/kvm ]; then why_tcg="/dev/kvm is missing"
elif [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ]; then
  why_tcg="/dev/kvm is not hardware KVM (modules: $(ls /sys/module | grep '^kvm' | tr '\n' ' '))"
else
  # arch-capabilities off: some nested hosts refuse that MSR ("failed to set MSR 0x10a") and qemu aborts.
  accel=(-enable-kvm -cpu "${BERTH_VM_CPU:-host,-arch-capabilities}")
fi
if [ -n "$why_tcg" ]; then
  if [ "${BERTH_VM_REQUIRE_KVM:-}" = 1 ]; then echo "cgroup2-vm: no KVM: $why_tcg" >&2; exit 4; fi
  echo "cgroup2-vm: no KVM ($why_tcg): emulating with TCG, several times slower" >&2
fi

tmp=$(mktemp -d /tmp/berth-cg2vm.XXXXXX)
qpid=
cleanup() {
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- initramfs: busybox, the modules to reach the shared root, and a first init that pivots to it.
ird=$tmp/initramfs
mkdir -p "$ird"/{bin,dev,proc,sys,lower,rw,newroot,mod}
cp "$BUSYBOX" "$ird/bin/busybox"
for a in sh mount umount insmod mkdir switch_root echo cat sleep poweroff; do ln -s busybox "$ird/bin/$a"; done
: >"$ird/mod/order"
modprobe -a -S "$kver" --show-depends virtio_pci 9pnet_virtio 9p overlay virtio_blk \
  | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
    cp "$ko" "$ird/mod/"
    echo "/mod/$(basename "$ko")" >>"$ird/mod/order"
  done
cat >"$ird/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /mod/order); do insmod "$m" || echo "cgroup2-vm initramfs: insmod $m failed"; done
fail() { echo "cgroup2-vm initramfs: $*"; echo "BERTH-VM-EXIT 3" >/dev/console; poweroff -f; }
# cache=loose: the host root is a read-only snapshot for the VM's purpose; metadata caching makes
# node's thousands of module lookups ~10x cheaper. multidevs=remap: / spans several host filesystems.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=512000 hostroot /lower || fail "mount hostroot"
mount -t tmpfs -o mode=755 rw /rw || fail "tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work,redirect_dir=off,index=off,metacopy=off,xino=off overlay /newroot || fail "overlay root"
mkdir -p /newroot/mnt/berth-vm
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 share /newroot/mnt/berth-vm || fail "mount share"
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /bin/sh /mnt/berth-vm/guest-init
EOF
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp/initrd.gz"

# --- the shared dir: PID 1's script, the command, the exit status.
share=$tmp/share
mkdir -p "$share"
printf '%q ' "$@" >"$share/cmd"
printf '%s' "$PWD" >"$share/cwd"
{ printf 'export PATH=%q\n' "$PATH"; env | grep -E '^(BERTH_[A-Z_]*|NODE_OPTIONS|CI)=' | grep -v '^BERTH_VM_' | sed 's/^/export /;s/=\(.*\)$/=\x27\1\x27/' || true; } >"$share/env"
cat >"$share/guest-init" <<'EOF'
# PID 1 in the VM (sh from the host's root): a pure cgroup v2 host, then the command, then power off.
exec </dev/null >/dev/console 2>&1
status=3
finish() { echo "BERTH-VM-EXIT $status"; echo "$status" >/mnt/berth-vm/status; sync; echo o >/proc/sysrq-trigger; sleep 10; }
trap finish EXIT
set -e
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
# Every controller the kernel offers, for children of the root (what systemd does on a v2 host).
echo "$(sed 's/\(^\| \)\([a-z_]\)/\1+\2/g' /sys/fs/cgroup/cgroup.controllers)" >/sys/fs/cgroup/cgroup.subtree_control
# Real (non-overlay) filesystems where berthd keeps layers, sockets and network namespaces.
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=755 run /run
mkdir -p /run/netns /run/lock /var/run
mount --make-rshared /
mount -t tmpfs -o mode=700 root-home /root
ip link set lo up
hostname berth-cg2vm
echo 1 >/proc/sys/kernel/sysrq
# BFQ gives the io controller its io.bfq.weight, as on most distributions' kernels.
modprobe bfq 2>/dev/null || true
for q in /sys/block/*/queue/scheduler; do [ -e "$q" ] && echo bfq >"$q" 2>/dev/null || true; done
. /mnt/berth-vm/env
export HOME=/root TERM=dumb
cd "$(cat /mnt/berth-vm/cwd)"
echo "cgroup2-vm: $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
set +e
eval "$(cat /mnt/berth-vm/cmd)"
status=$?
EOF

# A small scratch disk so the io controller has a real block device (BFQ, io.stat) to account.
truncate -s 64M "$tmp/scratch.img"

"$QEMU" "${accel[@]}" -M q35 -m "$mem" -smp "$cpus" -nodefaults -no-user-config -display none -no-reboot \
  -kernel "/boot/vmlinuz-$kver" -initrd "$tmp/initrd.gz" \
  -append "console=ttyS0 ${BERTH_VM_DEBUG:+earlyprintk=serial }$([ -n "${BERTH_VM_DEBUG:-}" ] || echo "quiet loglevel=3") panic=-1 rdinit=/init cgroup_no_v1=all" \
  -chardev stdio,id=console,signal=off -serial chardev:console \
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs "local,path=$share,mount_tag=share,security_model=passthrough" \
  -drive "file=$tmp/scratch.img,format=raw,if=virtio,cache=unsafe" \
  -device virtio-rng-pci \
  </dev/null 2>"$tmp/qemu.log" > >(sed -u 's/\r$//' | tee -a "${BERTH_VM_CONSOLE:-/dev/null}" | grep --line-buffered -av '^BERTH-VM-EXIT ') &
# (The console's lines end in CRLF, the guest tty's onlcr: sed makes them plain lines.)
qpid=$!
SECONDS=0
while kill -0 "$qpid" 2>/dev/null; do
  if [ "$SECONDS" -ge "$timeout" ]; then echo "cgroup2-vm: timed out after ${timeout}s" >&2; exit 124; fi
  sleep 0.2
done
wait "$qpid" || true
qpid=
if [ ! -s "$share/status" ]; then
  echo "cgroup2-vm: the VM ended without an exit status; qemu said:" >&2
  cat "$tmp/qemu.log" >&2
  exit 3
fi
exit "$(cat "$share/status")"
