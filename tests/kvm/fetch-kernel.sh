#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fetches what the real-kernel bed and the two-host bed boot: a Debian arm64
# kernel (the linux-image-*-arm64 package that linux-image-arm64:arm64
# depends on) with the few modules a guest needs for virtio PCI devices, and
# busybox-static:arm64, through apt.  Both are cached under
# ${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/kvm, one directory per package
# version, and reused as long as apt offers the same version.
#
# Usage: fetch-kernel.sh [SUITE]
#
# Without SUITE (or with this machine's own suite), the kernel is the one
# this machine's apt offers.  With another SUITE (trixie, trixie-backports,
# ...), it is that suite's current candidate, fetched through a private apt
# configuration under the cache (its own sources list, built from the
# archive URI and keyring of this machine's apt sources, its own state and
# cache directories, arm64 only); this machine's apt is left alone.  Such
# kernels may split the image (linux-binary-*: /usr/lib/modules/<release>/
# vmlinuz) from the modules (linux-modules-*), and compress the modules:
# they are decompressed here, so that busybox insmod loads them, and each
# module directory then also has the file "order".
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
#            virtio_blk, and virtio_net (with failover and net_failover) for
#            the beds whose arm64 hosts are networked; its file "order"
#            lists them all in loading order>
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

. "$(dirname "$0")/private-apt.sh"
apt_suite "${1:-}"

# The candidate version apt would install, or nothing when it has none.
candidate() {
    LC_ALL=C apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1
}
kcandidate() {
    kapt apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1
}

[ -z "$suite" ] || private_apt
kernel_pkg=$(kapt apt-cache depends linux-image-arm64:arm64 2>/dev/null |
    sed -n 's/^ *Depends: *\(linux-image-[^ :]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -n 1)
[ -n "$kernel_pkg" ] ||
    die "apt cannot find linux-image-arm64:arm64${suite:+ in $suite} (or what it depends on); run" \
        "'dpkg --add-architecture arm64 && apt-get update' (scripts/deps.sh does it)"
kernel_ver=$(kcandidate "$kernel_pkg:arm64")
[ -n "$kernel_ver" ] && [ "$kernel_ver" != "(none)" ] ||
    die "apt has no installable version of $kernel_pkg:arm64${suite:+ in $suite}; run apt-get update"
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

# ---- a suite's kernel: whatever its packages hold ----------------------------

# modfile NAME: the file of module NAME ('-' and '_' alike) in $tmp/index.
modfile() {
    awk -v n="$1" 'BEGIN { gsub(/-/, "_", n) }
        { b = $0; sub(/.*\//, "", b); sub(/\.ko(\.(xz|zst|gz))?$/, "", b); gsub(/-/, "_", b)
          if (b == n) { print; exit } }' "$tmp/index"
}

# add_module NAME DIR: decompresses module NAME and, first, the modules it
# depends on (its .modinfo "depends=") into DIR, appending each to DIR/order.
# A module built into the kernel is left out; a NAME starting with '?' is left
# out also when the kernel has no such module.  (A subshell: the recursion
# keeps each call's variables.)
add_module() (
    name=$1 dir=$2 optional=
    case "$name" in
    \?*) name=${name#\?} optional=yes ;;
    esac
    file=$(modfile "$name")
    if [ -z "$file" ]; then
        if grep -q -E "/$(printf '%s' "$name" | sed 's/[-_]/[-_]/g')\.ko" "$modroot/../modules.builtin" 2>/dev/null ||
            [ -n "$optional" ]; then
            return 0
        fi
        die "$kernel_pkg $kernel_ver has no module $name, built in or not"
    fi
    base=${file##*/}
    base=${base%.xz}
    base=${base%.zst}
    base=${base%.gz}
    grep -q -x "${base%.ko}" "$dir/order" 2>/dev/null && return 0
    case "$file" in
    *.ko.xz) xz -dc "$file" >"$dir/$base" ;;
    *.ko.zst) zstd -dcq "$file" >"$dir/$base" ;;
    *.ko.gz) gzip -dc "$file" >"$dir/$base" ;;
    *) cp "$file" "$dir/$base" ;;
    esac || die "cannot decompress $file"
    for dep in $(tr '\0' '\n' <"$dir/$base" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '); do
        add_module "$dep" "$dir" || exit 1
    done
    echo "${base%.ko}" >>"$dir/order"
)

# Downloads the kernel package and the packages holding its image and modules
# (linux-binary-*, linux-modules-*, linux-base-* where the suite splits them),
# and keeps the image as $kernel_dir/vmlinuz and the modules the beds load,
# decompressed, in $kernel_dir/itsmig and $kernel_dir/itsmig-root.
fetch_suite_kernel() {
    # itsmig-root/net: the root modules include virtio_net (older caches lack it).
    [ -f "$kernel_dir/vmlinuz" ] && [ -f "$kernel_dir/itsmig-root/net" ] && return 0
    pkgs="$kernel_pkg $(kapt apt-cache depends "$kernel_pkg:arm64" 2>/dev/null |
        sed -n 's/^ *Depends: *\(linux-\(binary\|modules\|base\)-[^ :<>]*\)\(:arm64\)\{0,1\}$/\1/p')"
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || die "cannot create a temporary directory in $cache"
    if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
        chown _apt "$tmp" 2>/dev/null || :
    fi
    mkdir "$tmp/root" "$tmp/out" "$tmp/out/itsmig" "$tmp/out/itsmig-root" || die "mkdir in $tmp"
    for pkg in $pkgs; do
        ver=$(kcandidate "$pkg:arm64")
        [ -n "$ver" ] && [ "$ver" != "(none)" ] || die "apt has no version of $pkg:arm64 in $suite"
        echo "$prog: downloading $pkg:arm64 $ver ($suite)" >&2
        (cd "$tmp" && kapt apt-get download -q "$pkg:arm64=$ver" >&2) ||
            die "apt-get download $pkg:arm64=$ver ($suite) failed"
        deb=$(ls "$tmp"/"${pkg}"_*.deb 2>/dev/null | head -n 1)
        [ -n "$deb" ] || die "apt-get download $pkg:arm64=$ver produced no .deb"
        dpkg-deb -x "$deb" "$tmp/root" || die "cannot unpack $deb"
        rm -f "$deb"
    done
    modroot=$(ls -d "$tmp"/root/lib/modules/*/kernel "$tmp"/root/usr/lib/modules/*/kernel 2>/dev/null | head -n 1)
    [ -n "$modroot" ] || die "$pkgs hold no lib/modules/<release>/kernel"
    release=$(basename "$(dirname "$modroot")")
    vmlinuz_src=
    for f in "$tmp/root/boot/vmlinuz-$release" "$tmp/root/usr/lib/modules/$release/vmlinuz" \
        "$tmp/root/lib/modules/$release/vmlinuz"; do
        if [ -f "$f" ]; then
            vmlinuz_src=$f
            break
        fi
    done
    [ -n "$vmlinuz_src" ] || die "$pkgs hold no kernel image for $release"
    cp "$vmlinuz_src" "$tmp/out/vmlinuz" || die "cannot copy $vmlinuz_src"
    find "$modroot" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \
        >"$tmp/index"
    for m in virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio-rng; do
        add_module "$m" "$tmp/out/itsmig" || exit 1
    done
    # ext4 asks the crypto API for crc32c where it has no library call for it.
    for m in virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio-rng virtio_blk \
        '?crc32c_generic' ext4 virtio_net; do
        add_module "$m" "$tmp/out/itsmig-root" || exit 1
    done
    : >"$tmp/out/itsmig-root/net"
    echo "$release" >"$tmp/out/release"
    rm -rf "$kernel_dir"
    mv "$tmp/out" "$kernel_dir" || die "cannot move the unpacked $kernel_pkg into $kernel_dir"
    rm -rf "$tmp"
    tmp=
}

if [ -n "$suite" ]; then
    kernel_dir="$cache/$(key "$kernel_pkg" "$kernel_ver")"
    fetch_suite_kernel
    vmlinuz_path="$kernel_dir/vmlinuz"
    mods="$kernel_dir/itsmig"
    root_mods="$kernel_dir/itsmig-root"
else
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
        "$fs_dir/fs/jbd2/jbd2.ko" "$fs_dir/crypto/crc32c_generic.ko" "$fs_dir/fs/ext4/ext4.ko" \
        "$fs_dir/net/core/failover.ko" "$fs_dir/drivers/net/net_failover.ko" "$fs_dir/drivers/net/virtio_net.ko"
    mods="$kernel_dir/lib/modules/$kernel_release/itsmig"
    if [ ! -f "$mods/virtio-rng.ko" ]; then
        mkdir -p "$mods" || die "cannot create $mods"
        for m in virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev virtio/virtio_pci \
            char/hw_random/virtio-rng; do
            cp "$kernel_dir/$modules_dir/$m.ko" "$mods/" || die "cannot copy $m.ko into $mods"
        done
    fi

    # The nested bed's outer guest mounts its root from an ext4 image on virtio-blk.
    # ext4 asks the crypto API for crc32c, which nothing else loads.  virtio_net
    # networks two such hosts (tests/nested/xk-live.sh); older caches lack it.
    root_mods="$kernel_dir/lib/modules/$kernel_release/itsmig-root"
    if [ ! -f "$root_mods/virtio_net.ko" ]; then
        rm -rf "$root_mods.tmp" && mkdir -p "$root_mods.tmp" || die "cannot create $root_mods.tmp"
        for m in drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev \
            drivers/virtio/virtio_pci drivers/char/hw_random/virtio-rng drivers/block/virtio_blk \
            lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4 net/core/failover \
            drivers/net/net_failover drivers/net/virtio_net; do
            cp "$kernel_dir/$fs_dir/$m.ko" "$root_mods.tmp/" || die "cannot copy $m.ko into $root_mods"
            echo "${m##*/}" >>"$root_mods.tmp/order"
        done
        rm -rf "$root_mods" && mv "$root_mods.tmp" "$root_mods" || die "cannot move $root_mods.tmp"
    fi
    vmlinuz_path="$kernel_dir/$vmlinuz_file"
fi

busybox_dir="$cache/$(key busybox-static "$busybox_ver")"
fetch busybox-static "$busybox_ver" "$busybox_dir" bin/busybox

echo "kernel_package=$kernel_pkg"
echo "kernel_version=$kernel_ver"
echo "vmlinuz=$vmlinuz_path"
echo "modules=$mods"
echo "root_modules=$root_mods"
echo "busybox_version=$busybox_ver"
echo "busybox=$busybox_dir/bin/busybox"
