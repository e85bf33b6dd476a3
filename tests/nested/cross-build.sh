#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# cross-build.sh SRCDIR DESTDIR: builds itsmig from the sources in SRCDIR
# for arm64 with aarch64-linux-gnu-gcc against a sysroot of Debian's arm64
# -dev packages (fetch-debs.sh), and installs it into DESTDIR as it would
# be installed on an arm64 Debian host (prefix /usr, /etc, /var).
#
# SRCDIR is usually a configured x86 build tree, which cannot also serve
# another build, so the files git knows of (tracked, or new and not
# ignored) are copied into a scratch tree first: SRCDIR must be a git work
# tree.  The scratch tree is $TMPDIR/itsmig-cross.XXXXXX, removed at exit.
#
# Messages go to stderr, the build's output to DESTDIR.log; any failure
# exits non-zero with the reason.

set -eu

prog=cross-build.sh
here=$(cd "$(dirname "$0")" && pwd)

die() {
    echo "$prog: $*" >&2
    exit 1
}

[ $# = 2 ] || die "usage: $prog SRCDIR DESTDIR"
src=$(cd "$1" && pwd) || die "no source directory $1"
dest=$2
cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
for tool in git "$cc" autoreconf make cpio od; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    die "$src is not a git work tree, whose files could be copied for a second build"

sysroot=$(sh "$here/fetch-debs.sh" sysroot libc6-dev libglib2.0-dev libjson-glib-dev libxml2-dev \
    libvirt-dev libvirt-glib-1.0-dev libmicrohttpd-dev libsystemd-dev libcurl4-openssl-dev) ||
    die "cannot make the arm64 sysroot"

work=
cleanup() {
    if [ -n "$work" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-cross.XXXXXX") || die "cannot create a scratch directory"

# Deleted but still tracked files are left out.
(cd "$src" && git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
    [ -e "$f" ] && printf '%s\n' "$f"
done | cpio -pdm --quiet "$work/src") || die "cannot copy the sources of $src"

log=$dest.log
mkdir -p "$(dirname "$log")" || die "cannot create $(dirname "$log")"
: >"$log"
libdir=$sysroot/usr/lib/aarch64-linux-gnu
step() {
    what=$1
    shift
    echo "== $what" >>"$log"
    "$@" >>"$log" 2>&1 || {
        tail -n 30 "$log" >&2
        die "$what failed (the whole output is in $log)"
    }
}
cd "$work/src"
step autogen.sh ./autogen.sh
step configure ./configure --host=aarch64-linux-gnu --prefix=/usr --sysconfdir=/etc \
    --localstatedir=/var --with-systemdsystemunitdir=/lib/systemd/system \
    CC="$cc --sysroot=$sysroot" \
    PKG_CONFIG_LIBDIR="$libdir/pkgconfig:$sysroot/usr/share/pkgconfig" \
    PKG_CONFIG_SYSROOT_DIR="$sysroot"
step make make -j"$(nproc)"
rm -rf "$dest"
step "make install" make install DESTDIR="$dest"
# ELF e_machine, little-endian at offset 18: 183 is EM_AARCH64.
[ "$(od -An -tu2 -j18 -N2 "$dest/usr/sbin/itsmigd" 2>/dev/null | tr -d ' ')" = 183 ] ||
    die "the build made no arm64 itsmigd in $dest/usr/sbin"
