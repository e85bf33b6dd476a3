#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fetch-debs.sh NAME PACKAGE...: the arm64 packages PACKAGE... and everything
# they depend on, as apt would install them on an empty arm64 system,
# unpacked into one tree (no maintainer scripts run).  The nested bed's
# cross-compilation sysroot and its outer guest's root file system are made
# this way, without debootstrap.
#
# The tree is cached under ${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/nested as
# NAME-<digest of the exact package versions>, so it is made again only when
# apt offers other versions.  Absolute symbolic links in it are made
# relative, so that the tree can serve as a sysroot where it lies.
#
# With ITSMIG_DEBS_SUITE set to another Debian suite (trixie, ...), the
# packages are that suite's, through a private apt configuration
# (tests/kvm/private-apt.sh); the tree is then NAME-SUITE-<digest>.
#
# Needs the arm64 dpkg architecture and fresh package lists (scripts/deps.sh
# --test).  Prints the tree's path on stdout; messages go to stderr; any
# failure exits non-zero with the reason.

set -eu

prog=fetch-debs.sh
cache="${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/nested"

die() {
    echo "$prog: $*" >&2
    exit 1
}

[ $# -ge 2 ] || die "usage: $prog NAME PACKAGE..."
name=$1
shift
case "$name" in
'' | *[!a-z0-9-]*) die "NAME must be lower-case letters, digits and '-', not '$name'" ;;
esac
for tool in apt-get dpkg-deb sha256sum realpath; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

. "$(dirname "$0")/../kvm/private-apt.sh"
apt_suite "${ITSMIG_DEBS_SUITE:-}"
[ -z "$suite" ] || name=$name-$suite

mkdir -p "$cache" || die "cannot create the cache directory $cache"
exec 9>"$cache/.lock-$name"
if command -v flock >/dev/null 2>&1; then
    flock -w 1800 9 || die "timed out waiting for the lock on $cache/.lock-$name"
fi

work=
cleanup() {
    if [ -n "$work" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

work=$(mktemp -d "$cache/.$name.XXXXXX") || die "cannot create a temporary directory in $cache"
mkdir -p "$work/archives/partial" "$work/lists"
: >"$work/status"
# apt drops root for downloading and warns when _apt cannot write there.
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
    chown -R _apt "$work/archives" 2>/dev/null || :
fi

# An empty dpkg status makes apt resolve the whole closure; the system's
# package lists (which know arm64) stay as they are.
[ -z "$suite" ] || private_apt
aptget() {
    kapt apt-get -q -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
        -o Dir::State::status="$work/status" -o Dir::Cache::archives="$work/archives" \
        -o Debug::NoLocking=1 -o APT::Install-Recommends=false "$@"
}

aptget --print-uris -y install "$@" >"$work/uris" 2>"$work/apt.err" || {
    cat "$work/apt.err" >&2
    die "apt cannot resolve $* for arm64; run scripts/deps.sh --test (it adds the arm64 architecture and updates the package lists)"
}
# "'URI' file_version_arch.deb size hash": the file names carry the versions.
sed -n "s/^'[^']*' \([^ ]*\.deb\) .*/\1/p" "$work/uris" | LC_ALL=C sort >"$work/files"
[ -s "$work/files" ] || die "apt resolved $* to no packages"
digest=$(sha256sum <"$work/files" | cut -c1-16)
tree="$cache/$name-$digest"
if [ -f "$tree/.complete" ]; then
    echo "$tree"
    exit 0
fi

echo "$prog: downloading $(wc -l <"$work/files") arm64 packages for $name" >&2
aptget --download-only -y install "$@" >"$work/apt.out" 2>&1 || {
    tail -n 20 "$work/apt.out" >&2
    die "apt-get --download-only failed for $name"
}
mkdir "$work/root"
while read -r deb; do
    [ -f "$work/archives/$deb" ] || die "apt did not download $deb"
    dpkg-deb -x "$work/archives/$deb" "$work/root" || die "cannot unpack $deb"
done <"$work/files"

# /usr/lib/aarch64-linux-gnu/libfoo.so -> /lib/... and the like must point
# inside the tree wherever it is.
find "$work/root" -type l | while read -r link; do
    target=$(readlink "$link")
    case "$target" in
    /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$work/root$target")" "$link" ;;
    esac
done
cp "$work/files" "$work/root/.packages"
: >"$work/root/.complete"

# Older trees of this name are other versions: nothing will use them again.
for old in "$cache/$name"-*; do
    [ -d "$old" ] && [ "$old" != "$tree" ] && rm -rf "$old"
done
rm -rf "$tree"
mv "$work/root" "$tree" || die "cannot move the tree into $tree"
echo "$tree"
