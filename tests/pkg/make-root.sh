#!/bin/sh
# Prints the path of a tarball of a minimal Debian 12 root (debootstrap
# --variant=minbase, plus systemd: the package's maintainer scripts enable
# units, run systemd-tmpfiles, and the units are verified there), made once
# and then reused from the cache:
#
#   tests/pkg/make-root.sh [CACHE-DIR]    (default ${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/pkg)
#
# The archive is the one this machine's apt already uses for bookworm main
# (apt-get indextargets), so no host name is written here. The tarball is
# replaced when it is older than ITSMIG_PKG_ROOT_MAX_AGE days (default 30), so
# that the root does not drift far behind the archive. Needs root.
set -eu

suite=bookworm
cache=${1:-${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/pkg}
tarball=$cache/$suite-minbase-systemd.tar
max_age=${ITSMIG_PKG_ROOT_MAX_AGE:-30}

fresh() {
    [ -s "$tarball" ] && [ -z "$(find "$tarball" -mtime +"$max_age")" ]
}
fresh && { printf '%s\n' "$tarball"; exit 0; }

# One debootstrap at a time; a second caller waits and then takes its result.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
fresh && { printf '%s\n' "$tarball"; exit 0; }

mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT) $(TARGET_OF)' |
    awk -v s="$suite" '$2 == s && $3 == "main" && $4 == "deb" { print $1; exit }')
if [ -z "$mirror" ]; then
    echo "make-root.sh: no apt source of this machine serves $suite main" >&2
    exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

work=$(mktemp -d "$cache/root.XXXXXX")
# debootstrap mounts /proc and /sys in the root; none may be left under rm -rf.
cleanup() {
    awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m"; done
    rm -rf "$work"
}
trap cleanup EXIT
debootstrap --variant=minbase --include=systemd --keyring="$keyring" "$suite" "$work/root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
}
# Apt inside the root uses the same archive as debootstrap did.
printf 'deb %s %s main\n' "$mirror" "$suite" >"$work/root/etc/apt/sources.list"
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*_Packages
tar -C "$work/root" --numeric-owner -cf "$work/root.tar" .
mv "$work/root.tar" "$tarball"
printf '%s\n' "$tarball"
