#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fetches what the real-kernel bed and the two-host bed boot: the current
# Debian arm64 kernel (the linux-image-*-arm64 package that
# linux-image-arm64:arm64 depends on) with the few modules a guest needs for
# virtio PCI devices, and busybox-static:arm64, through apt.  Both are cached under
# ${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/kvm, one directory per package
# version, and reused as long as apt offers the same version.
#
# Needs the arm64 dpkg architecture and fresh package lists
# (dpkg --add-architecture arm64 && apt-get update; scripts/deps.sh does it).
#
# Prints on stdout, one per line:
#   kernel_package=<name>  kernel_version=<version>  vmlinuz=<path>
#   modules=<directory holding virtio_pci_legacy_dev.ko, virtio_pci_modern_dev.ko,
#            virtio_pci.ko and virtio-rng.ko, in the order they load>
#   root_modules=<directory holding those and what mounting an ext4 root on
#            virtio-blk takes: crc16, mbcache, jbd2, crc32c_generic, ext4,
#            virtio_blk; its file "order" lists them all in loading order>
#   busybox_version=<version>  busybox=<path>
# Messages go to stderr; any failure exits non-zero with the reason.

set -eu

prog=fetch-kernel.sh
cache="${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/kvm"

die() {
    echo "$prog: $*" >&2
    exit 1
}

command -v apt-cache >/dev/null 2>&1 || die "apt-cache not found: this needs a Debian-based host"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this needs a Debian-based host"
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found"

mkdir -p "$cache" || die "cannot create the cache directory $cache"

# One fetch at a time per cache; a second run waits and then reuses it.
exec 9>"$cache/.lock"
if command -v flock >/dev/null 2>&1; then
    flock -w 900 9 || die "timed out waiting for the lock on $cache"
fi

# The candidate version apt would install, or nothing when it has none.
candidate() {
    LC_ALL=C apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1
}

kernel_pkg=$(LC_ALL=C apt-cache depends linux-image-arm64:arm64 2>/dev/null |
    sed -n 's/^ *Depends: *\(linux-image-[^ :]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -n 1)
[ -n "$kernel_pkg" ] ||
    die "apt cannot find linux-image-arm64:arm64 (or what it depends on); run" \
        "'dpkg --add-architecture arm64 && apt-get update' (scripts/deps.sh does it)"
kernel_ver=$(candidate "$kernel_pkg:arm64")
[ -n "$kernel_ver" ] && [ "$kernel_ver" != "(none)" ] ||
    die "apt has no installable version of $kernel_pkg:arm64; run apt-get update"
busybox_ver=$(candidate busybox-static:arm64)
[ -n "$busybox_ver" ] && [ "$busybox_ver" != "(none)" ] ||
    die "apt cannot find busybox-static:arm64; run" \
        "'dpkg --add-architecture arm64 && apt-get update' (scripts/deps.sh does it)"

# Version strings may hold ':' (epochs); keep directory names plain.
key() {
    printf '%s_%s' "$1" "$2" | tr ':/' '%_'
}

tmp=
cleanup() {
    if [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fetch PACKAGE VERSION DEST FILE...: extracts the FILEs of the package into
# DEST unless they are all already there.
fetch() {
    pkg=$1 ver=$2 dest=$3
    shift 3
    have=yes
    for file in "$@"; do
        [ -f "$dest/$file" ] || have=no
    done
    [ "$have" = yes ] && return 0
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || die "cannot create a temporary directory in $cache"
    # apt drops root for downloading and warns when _apt cannot write here.
    if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
        chown _apt "$tmp" 2>/dev/null || :
    fi
    echo "$prog: downloading $pkg:arm64 $ver" >&2
    (cd "$tmp" && apt-get download -q "$pkg:arm64=$ver" >&2) ||
        die "apt-get download $pkg:arm64=$ver failed"
    deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || die "apt-get download $pkg:arm64=$ver produced no .deb"
    mkdir "$tmp/root"
    # Only these files: the kernel package's modules are hundreds of MB.
    members=
    for file in "$@"; do
        members="$members ./$file"
    done
    # shellcheck disable=SC2086
    dpkg-deb --fsys-tarfile "$deb" | (cd "$tmp/root" && tar -xf - $members) ||
        die "cannot unpack$members from $deb"
    for file in "$@"; do
        [ -f "$tmp/root/$file" ] || die "$pkg $ver has no $file"
    done
    rm -rf "$dest"
    mv "$tmp/root" "$dest" || die "cannot move the unpacked $pkg into $dest"
    rm -rf "$tmp"
    tmp=
}

kernel_dir="$cache/$(key "$kernel_pkg" "$kernel_ver")"
# linux-image-6.1.0-56-arm64 installs /boot/vmlinuz-6.1.0-56-arm64
kernel_release=${kernel_pkg#linux-image-}
vmlinuz_file="boot/vmlinuz-$kernel_release"
# virtio, virtio_ring and rng-core are built in.
modules_dir="lib/modules/$kernel_release/kernel/drivers"
fs_dir="lib/modules/$kernel_release/kernel"
fetch "$kernel_pkg" "$kernel_ver" "$kernel_dir" "$vmlinuz_file" \
    "$modules_dir/virtio/virtio_pci_legacy_dev.ko" "$modules_dir/virtio/virtio_pci_modern_dev.ko" \
    "$modules_dir/virtio/virtio_pci.ko" "$modules_dir/char/hw_random/virtio-rng.ko" \
    "$modules_dir/block/virtio_blk.ko" "$fs_dir/lib/crc16.ko" "$fs_dir/fs/mbcache.ko" \
    "$fs_dir/fs/jbd2/jbd2.ko" "$fs_dir/crypto/crc32c_generic.ko" "$fs_dir/fs/ext4/ext4.ko"
mods="$kernel_dir/lib/modules/$kernel_release/itsmig"
if [ ! -f "$mods/virtio-rng.ko" ]; then
    mkdir -p "$mods" || die "cannot create $mods"
    for m in virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev virtio/virtio_pci \
        char/hw_random/virtio-rng; do
        cp "$kernel_dir/$modules_dir/$m.ko" "$mods/" || die "cannot copy $m.ko into $mods"
    done
fi

# The nested bed's outer guest mounts its root from an ext4 image on virtio-blk.
# ext4 asks the crypto API for crc32c, which nothing else loads.
root_mods="$kernel_dir/lib/modules/$kernel_release/itsmig-root"
if [ ! -f "$root_mods/order" ]; then
    rm -rf "$root_mods.tmp" && mkdir -p "$root_mods.tmp" || die "cannot create $root_mods.tmp"
    for m in drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev \
        drivers/virtio/virtio_pci drivers/char/hw_random/virtio-rng drivers/block/virtio_blk \
        lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4; do
        cp "$kernel_dir/$fs_dir/$m.ko" "$root_mods.tmp/" || die "cannot copy $m.ko into $root_mods"
        echo "${m##*/}" >>"$root_mods.tmp/order"
    done
    rm -rf "$root_mods" && mv "$root_mods.tmp" "$root_mods" || die "cannot move $root_mods.tmp"
fi

busybox_dir="$cache/$(key busybox-static "$busybox_ver")"
fetch busybox-static "$busybox_ver" "$busybox_dir" bin/busybox

echo "kernel_package=$kernel_pkg"
echo "kernel_version=$kernel_ver"
echo "vmlinuz=$kernel_dir/$vmlinuz_file"
echo "modules=$mods"
echo "root_modules=$root_mods"
echo "busybox_version=$busybox_ver"
echo "busybox=$busybox_dir/bin/busybox"
