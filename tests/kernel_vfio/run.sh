#!/usr/bin/env bash
# The kernel-VFIO backend in a QEMU guest with an emulated VT-d IOMMU (tests/kernel_vfio.rs
# runs this; docs/deploy.md says what it proves). Builds the guest payload (the example
# kernel_vfio_guest of nsflow-tests, for the host: the guest runs the host's binary with
# its shared libraries), fetches Debian's cloud kernel once into a cache, packs an
# initramfs (busybox, the kernel's vfio modules, the payload), boots it with QEMU's edu
# device behind a PCIe root port, binds edu to vfio-pci, runs the payload and prints the
# serial console on stdout (progress on stderr). Exits 0 iff the guest's verdict is PASS.
#
# Environment: KVFIO_CACHE (default: the cargo target directory's kernel-vfio-cache),
# KVFIO_TIMEOUT (seconds QEMU may run, default 180), KVFIO_BREAK (pattern or iova: handed
# to the payload, which then breaks one check on purpose).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cache=${KVFIO_CACHE:-$target/kernel-vfio-cache}
say() { echo "== kernel-vfio: $*" >&2; }
die() { say "error: $*"; exit 2; }

apt_install() {
  [ "$(id -u)" = 0 ] || die "missing $*: apt-get install --no-install-recommends $*"
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

# 1. Tools: QEMU, a static busybox (the guest has no libc of its own), modinfo (kmod).
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then need+=(busybox-static); fi
command -v modinfo >/dev/null || need+=(kmod)
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}"
  busybox=$(command -v busybox)
fi

# 2. The guest kernel: the package linux-image-cloud-amd64 points at, unpacked (not
# installed) into the cache once; the newest cached one when apt knows none.
mkdir -p "$cache"
kernel_pkg() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
pkg=$(kernel_pkg)
if [ -z "$pkg" ]; then
  pkg=$(cd "$cache" && ls -d linux-image-* 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || die "no guest kernel: apt knows no linux-image-cloud-amd64 (apt-get update)"
kdir=$cache/$pkg
if [ ! -e "$kdir/.unpacked" ]; then
  say "fetching $pkg"
  dl=$(mktemp -d "$cache/download.XXXXXX")
  (cd "$dl" && apt-get download -q "$pkg" >/dev/null 2>&1) || { rm -rf "$dl"; die "apt-get download $pkg failed"; }
  rm -rf "$kdir"
  dpkg-deb -x "$dl"/*.deb "$kdir"
  rm -rf "$dl"
  touch "$kdir/.unpacked"
fi
ver=${pkg#linux-image-}
vmlinuz=$kdir/boot/vmlinuz-$ver
moddir=$kdir/lib/modules/$ver
[ -f "$vmlinuz" ] && [ -d "$moddir" ] || die "$kdir holds no kernel $ver"

# 3. The payload, built for the host.
say "building the guest payload (example kernel_vfio_guest)"
(cd "$root" && "${CARGO:-cargo}" build -q -p nsflow-tests --example kernel_vfio_guest &&
  "${CARGO:-cargo}" build -q -p nsflow --bin nsflow)
payload=$target/debug/examples/kernel_vfio_guest
nsflow=$target/debug/nsflow
[ -x "$payload" ] || die "no $payload"
[ -x "$nsflow" ] || die "no $nsflow"

# 4. The initramfs.
work=$(mktemp -d "$cache/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
rd=$work/root
mkdir -p "$rd"/{bin,dev,proc,sys,modules}
cp "$busybox" "$rd/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$rd/bin/$applet" ] || ln -s busybox "$rd/bin/$applet"
done
# vfio, vfio_iommu_type1 and vfio-pci with what `modinfo -F depends` asks for, dependencies
# first; names use - and _ interchangeably; a module that is built in has no file.
declare -A modfile=()
while IFS= read -r f; do
  n=${f##*/}
  n=${n%%.ko*}
  modfile[${n//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko*')
order=()
add_module() {
  local n=${1//-/_} f dep
  [[ " ${order[*]} " == *" $n "* ]] && return 0
  f=${modfile[$n]:-}
  if [ -z "$f" ]; then
    grep -Eq "/${n//_/[-_]}\.ko" "$moddir/modules.builtin" || die "module $n not in $pkg"
    return 0
  fi
  for dep in $(modinfo -F depends "$f" | tr , ' '); do add_module "$dep"; done
  case $f in
    *.ko.xz) xz -dc "$f" >"$rd/modules/$n.ko" ;;
    *.ko.zst) zstd -qdc "$f" >"$rd/modules/$n.ko" ;;
    *) cp "$f" "$rd/modules/$n.ko" ;;
  esac
  order+=("$n")
}
for m in vfio vfio_iommu_type1 vfio_pci; do add_module "$m"; done
printf '%s\n' "${order[@]}" >"$rd/modules/order"
# The payload and nsflow, their shared libraries and the loader, at the paths ldd gives.
cp "$payload" "$rd/bin/kernel_vfio_guest"
cp "$nsflow" "$rd/bin/nsflow"
{ ldd "$payload"; ldd "$nsflow"; } | sort -u | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
  while IFS= read -r lib; do
    mkdir -p "$rd$(dirname "$lib")"
    cp -L "$lib" "$rd$lib"
  done
cat >"$rd/init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "KVFIO $*"; }
finish() {
  say "verdict: $1"
  [ "$1" = PASS ] || { echo "-- kernel log --"; dmesg | tail -n 40; }
  poweroff -f
}
# From here only emergencies reach the console: the lines below stay whole.
echo 1 >/proc/sys/kernel/printk
iommu=$(dmesg | grep -o -m 1 'DMAR: IOMMU enabled' || echo 'no DMAR: IOMMU enabled')
say "boot: Linux $(uname -r), $iommu, $(ls /sys/kernel/iommu_groups | wc -l) IOMMU groups"
for m in $(cat /modules/order); do
  insmod "/modules/$m.ko" || finish "FAIL (insmod $m)"
done
bdf=
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1234:0x11e8 ] && bdf=${d##*/}
done
[ -n "$bdf" ] || finish "FAIL (no edu device, 1234:11e8)"
dev=/sys/bus/pci/devices/$bdf
echo vfio-pci >"$dev/driver_override"
echo "$bdf" >/sys/bus/pci/drivers_probe
group=$(basename "$(readlink "$dev/iommu_group")")
driver=$(basename "$(readlink "$dev/driver")")
[ "$driver" = vfio-pci ] && [ -c "/dev/vfio/$group" ] ||
  finish "FAIL (bind: $bdf driver '$driver', /dev/vfio/$group missing)"
members=$(echo $(ls "/sys/kernel/iommu_groups/$group/devices"))
say "bind: $bdf (edu 1234:11e8) -> vfio-pci; IOMMU group $group = {$members}; /dev/vfio/$group; modules: $(echo $(cat /modules/order))"
# `nsflow regcheck` on a device that is not nsflow's: refused on its identity, exit 1,
# before any write (the payload's regcheck-refuses check reads the registers afterwards).
out=$(nsflow regcheck --device "vfio:$bdf" 2>&1)
code=$?
case $code:$out in
  1:*refusing*ID_MAGIC*) say "check regcheck-cli: ok - exit 1: $(echo $out)" ;;
  *) finish "FAIL (nsflow regcheck --device vfio:$bdf exited $code: $(echo $out))" ;;
esac
if kernel_vfio_guest "$bdf"; then finish PASS; else finish "FAIL (the guest test exited $?)"; fi
EOF
chmod +x "$rd/init"
(cd "$rd" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd.gz")
say "initramfs $(du -k "$work/initrd.gz" | cut -f1) KiB; booting $pkg (TCG)"

# 5. Boot. edu sits behind a PCIe root port so that the kernel can reset it (a bus reset):
# on the root bus it has no reset method (no FLR, no power management).
log=$work/console
set +e
timeout -k 5 "${KVFIO_TIMEOUT:-180}" qemu-system-x86_64 \
  -accel tcg -cpu max -m 512 -M q35,kernel-irqchip=split \
  -device intel-iommu,intremap=on,caching-mode=on \
  -device pcie-root-port,id=rp0,chassis=1 -device edu,bus=rp0 \
  -nographic -no-reboot -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 intel_iommu=on panic=-1${KVFIO_BREAK:+ KVFIO_BREAK=$KVFIO_BREAK}" \
  </dev/null | tr -d '\r' | tee "$log"
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || say "QEMU exited with status $status"
grep -q '^KVFIO verdict: PASS$' "$log"
