#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# TAP test: the Debian packages (debian/) build from the release tree with
# dpkg-buildpackage on Debian 12, lintian finds nothing, and they install,
# upgrade, remove and purge cleanly in a fresh Debian 12 root, where the
# installed itsmigd answers /v1/health against a private libvirtd.
#
# The root comes from tests/pkg/make-root.sh (debootstrap from this machine's
# own archive, cached as a tarball in ${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/pkg);
# the .debs apt downloads into it are cached there too. Each phase prints its
# time as a diagnostic ("# time: ...").
#
# Needs root, Debian 12, dpkg-buildpackage, debhelper, lintian, debootstrap,
# curl, jq, libvirtd and virsh (scripts/deps.sh --test installs them); skips
# otherwise. ITSMIG_PKG_BUILD_CHECK=1 runs the unit tests inside the package
# build too (dh_auto_test), which "make check" has already run.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (chroot, debootstrap)"
. /etc/os-release
[ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] || skip_all "needs Debian 12, this is ${PRETTY_NAME:-unknown}"
require_tools dpkg-buildpackage dh dh_bash-completion lintian debootstrap dpkg-parsechangelog \
    chroot curl jq libvirtd virsh

CACHE=${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/pkg
ROOT=$T/root
SRC=$T/src/itsmig
DEBS=$T/src
PKGS="itsmigd itsmigctl itsmig-libvirt-hook"
V1=$(dpkg-parsechangelog -l "$srcdir/debian/changelog" -S Version)
V2=$V1+1
ARCH=$(dpkg --print-architecture)

# ---- mounts in the root, undone before lib.sh removes $T --------------------

_mounted=
pkg_umount() {
    for _m in $_mounted; do
        umount "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null
    done
    _mounted=
}
mount_proc() {
    mount -t proc proc "$ROOT/proc" && _mounted="$ROOT/proc $_mounted"
}
# Status first: lib.sh's exit handler reads it.
trap '_pkg_st=$?; stop_itsmigd; pkg_umount; (exit $_pkg_st); _on_exit' EXIT

_t0=
t_start() { _t0=$(now_ms); }
# t_end WHAT: the time since t_start, as a diagnostic.
t_end() {
    _ms=$(($(now_ms) - _t0))
    diag "time: $1 $((_ms / 1000)).$((_ms % 1000 / 100)) s"
}
_t_all=$(now_ms)

# in_root COMMAND...: runs in the root, output in $T/root.out (shown on failure).
in_root() {
    if DEBIAN_FRONTEND=noninteractive chroot "$ROOT" "$@" >"$T/root.out" 2>&1 </dev/null; then
        return 0
    fi
    diag "in the root: $* failed:"
    diag_file "$T/root.out" 25
    return 1
}

# ---- build ----------------------------------------------------------------------

# The release tree ("make distdir", what the tarball holds), not the checkout:
# this is also the check that the package builds from the tarball.
t_start
mkdir -p "$T/src"
make -s -C "$builddir" distdir distdir="$SRC" >"$T/distdir.log" 2>&1 ||
    { diag_file "$T/distdir.log"; bail "make distdir failed"; }
t_end "make distdir"

opts="noddebs parallel=2"
[ "${ITSMIG_PKG_BUILD_CHECK:-}" = 1 ] || opts="$opts nocheck"
t_start
if (cd "$SRC" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -b -us -uc) >"$T/build.log" 2>&1; then
    ok "dpkg-buildpackage -b -us -uc builds $V1 from the release tree"
else
    not_ok "dpkg-buildpackage -b -us -uc builds $V1 from the release tree"
    diag_file "$T/build.log" 40
    bail "no packages to test"
fi
t_end "dpkg-buildpackage"

for p in $PKGS; do
    [ -f "$DEBS/${p}_${V1}_$ARCH.deb" ] || bail "${p}_${V1}_$ARCH.deb was not built"
done
is "$(cd "$DEBS" && ls ./*.deb | sed 's|^\./||' | sort | tr '\n' ' ')" \
    "itsmig-libvirt-hook_${V1}_$ARCH.deb itsmigctl_${V1}_$ARCH.deb itsmigd_${V1}_$ARCH.deb " \
    "the three binary packages, and no library package"

t_start
if lintian --fail-on error,warning --tag-display-limit 0 "$DEBS/itsmig_${V1}_$ARCH.changes" \
    >"$T/lintian.out" 2>&1; then
    ok "lintian: no errors and no warnings"
else
    not_ok "lintian: no errors and no warnings"
fi
grep -v '^running with root privileges' "$T/lintian.out" | sed 's/^/# lintian: /'
t_end "lintian"

# The second version, for the upgrade: the same tree with a changelog entry
# on top, packaged again without a rebuild (-nc): only the version differs.
mkdir -p "$T/v1"
mv "$DEBS"/*.deb "$T/v1/"
{
    printf 'itsmig (%s) unstable; urgency=medium\n\n  * Test upgrade (tests/pkg/package.sh).\n\n' "$V2"
    printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Maintainer)" "$(date -R)"
    cat "$SRC/debian/changelog"
} >"$T/changelog" && mv "$T/changelog" "$SRC/debian/changelog"
t_start
if (cd "$SRC" && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -b -us -uc -nc) >"$T/build2.log" 2>&1 &&
    [ -f "$DEBS/itsmigd_${V2}_$ARCH.deb" ]; then
    ok "the packages of version $V2 build from the same tree"
else
    not_ok "the packages of version $V2 build from the same tree"
    diag_file "$T/build2.log" 30
fi
t_end "dpkg-buildpackage of $V2 (-nc)"
mkdir -p "$T/v2"
mv "$DEBS"/*.deb "$T/v2/"

# ---- a fresh Debian 12 root ------------------------------------------------------

t_start
tarball=$("$srcdir/tests/pkg/make-root.sh" "$CACHE" 2>"$T/make-root.err") ||
    { diag_file "$T/make-root.err"; bail "no Debian 12 root (tests/pkg/make-root.sh)"; }
t_end "root tarball (debootstrap unless cached)"
t_start
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$tarball" || bail "cannot unpack $tarball"
t_end "unpacking the root"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Nothing installed in the root may start a service (there is no systemd
# running in it anyway; this is for the packages that use invoke-rc.d).
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
# As on a host: systemd-tmpfiles in the postinst and the daemon need /proc.
mount_proc || bail "cannot mount /proc in the root"

# What the packages depend on, installed first, so that the root before our
# packages is the baseline that purge must return to.
deps=$(for f in "$T"/v1/*.deb; do dpkg-deb -f "$f" Depends; done | tr ',' '\n' |
    sed 's/([^)]*)//; s/ //g' | grep -v '^$' | grep -Ev "^($(echo "$PKGS" | tr ' ' '|'))$" | sort -u)
mkdir -p "$CACHE/archives"
cp "$CACHE"/archives/*.deb "$ROOT/var/cache/apt/archives/" 2>/dev/null
t_start
# shellcheck disable=SC2086
if in_root apt-get update -q && in_root apt-get install -y -q --no-install-recommends $deps; then
    ok "the dependencies install in the root: $(echo $deps)"
else
    not_ok "the dependencies install in the root"
    bail "cannot go on without them"
fi
cp -n "$ROOT"/var/cache/apt/archives/*.deb "$CACHE/archives/" 2>/dev/null
t_end "apt-get update and install of the dependencies"

# snapshot FILE: every path in the root but the kernel's file systems, with
# its type and mode, except what dpkg and apt rewrite on any run and what
# systemd-analyze itself leaves in /run/systemd.
snapshot() {
    (cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp \
        -o -path ./run/systemd \
        -o -path ./var/log -o -path ./var/cache/apt -o -path ./var/lib/apt \
        -o -path './var/lib/dpkg/*-old' -o -path ./var/cache/debconf \) -prune \
        -o -printf '%y %m %p\n') | sort >"$1"
}
# A running libvirtd, as the hook's postinst sees one: its socket.
mkdir -p "$ROOT/run/libvirt"
snapshot "$T/before"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
    "$ROOT/run/libvirt/libvirt-sock" || bail "cannot make a socket in the root's /run/libvirt"

# ---- install ------------------------------------------------------------------------

t_start
mkdir -p "$ROOT/tmp/debs"
cp "$T"/v1/*.deb "$ROOT/tmp/debs/"
if in_root sh -c 'dpkg -i /tmp/debs/*.deb'; then
    ok "dpkg -i installs the three packages of $V1"
else
    not_ok "dpkg -i installs the three packages of $V1"
fi
cp "$T/root.out" "$T/install.out"
t_end "installing $V1"
rm -f "$ROOT/run/libvirt/libvirt-sock"
if grep -q 'reload libvirtd.service' "$T/install.out"; then
    ok "with libvirt running, the hook's postinst says to reload libvirtd"
else
    not_ok "with libvirt running, the hook's postinst says to reload libvirtd"
    diag_file "$T/install.out" 20
fi

# Where each file must be, and what it must be.
files_ok=yes
while read -r type path; do
    case $type in
    x) [ -f "$ROOT$path" ] && [ -x "$ROOT$path" ] ;;
    f) [ -f "$ROOT$path" ] && [ -s "$ROOT$path" ] ;;
    d) [ -d "$ROOT$path" ] ;;
    l) [ -L "$ROOT$path" ] && [ -e "$ROOT$(readlink "$ROOT$path")" ] ;;
    esac || { files_ok=no; diag "missing or wrong ($type): $path"; }
done <<EOF
x /usr/sbin/itsmigd
x /usr/bin/itsmigctl
x /usr/libexec/itsmig/itsmig-hook
l /etc/libvirt/hooks/qemu.d/50-itsmig
f /etc/itsmig/itsmigd.conf
f /lib/systemd/system/itsmigd.service
f /lib/systemd/system/itsmigd.socket
f /usr/lib/tmpfiles.d/itsmigd.conf
f /usr/share/man/man8/itsmigd.8.gz
f /usr/share/man/man5/itsmigd.conf.5.gz
f /usr/share/man/man7/itsmig-compat.7.gz
f /usr/share/man/man7/itsmig-alerts.7.gz
f /usr/share/itsmig/itsmig-alerts.yml
f /usr/share/man/man1/itsmigctl.1.gz
f /usr/share/bash-completion/completions/itsmigctl
f /usr/share/doc/itsmigd/openapi.json.gz
f /usr/share/doc/itsmigd/README.Debian
f /usr/share/doc/itsmigd/copyright
l /etc/systemd/system/sockets.target.wants/itsmigd.socket
l /etc/systemd/system/multi-user.target.wants/itsmigd.service
d /var/lib/itsmigd
EOF
[ "$files_ok" = yes ] && ok "the files land where they should" ||
    not_ok "the files land where they should"
is "$(stat -c %a "$ROOT/var/lib/itsmigd" 2>/dev/null)" 700 "systemd-tmpfiles made /var/lib/itsmigd, mode 0700"
is "$(cat "$ROOT/var/lib/dpkg/info/itsmigd.conffiles" 2>/dev/null)" /etc/itsmig/itsmigd.conf \
    "/etc/itsmig/itsmigd.conf is itsmigd's only conffile"
leaked=$(cd "$ROOT" && find usr/include usr/lib -name 'libitsmig*' -o -path '*/include/itsmig' | head -5)
is "$leaked" "" "no library and no headers of libitsmig are installed"

if in_root systemd-analyze verify --man=no /lib/systemd/system/itsmigd.socket \
    /lib/systemd/system/itsmigd.service; then
    if [ -s "$T/root.out" ]; then
        not_ok "systemd-analyze verify passes the installed units without a word"
        diag_file "$T/root.out" 20
    else
        ok "systemd-analyze verify passes the installed units without a word"
    fi
else
    not_ok "systemd-analyze verify passes the installed units without a word"
fi

if in_root /usr/sbin/itsmigd --version && grep -q "$V1" "$T/root.out"; then
    ok "itsmigd --version runs and says $V1: $(head -n 1 "$T/root.out")"
else
    not_ok "itsmigd --version runs and says $V1"
    diag_file "$T/root.out" 5
fi
if in_root /usr/bin/itsmigctl --help && grep -q 'Usage: itsmigctl' "$T/root.out"; then
    ok "itsmigctl --help runs"
else
    not_ok "itsmigctl --help runs"
fi

# ---- the installed daemon against a private libvirtd ---------------------------------

# libvirtd runs on the host with its socket inside the root, where the daemon
# reaches it under the same name less the root's prefix.
LIBVIRT_DIR=$ROOT/srv/libvirt
LIBVIRT_SOCK=$LIBVIRT_DIR/run/libvirt-sock
LIBVIRT_URI="test+unix:///default?socket=$LIBVIRT_SOCK"
LIBVIRTD_LOG=$LIBVIRT_DIR/libvirtd.log
start_libvirtd
root_uri="test+unix:///default?socket=${LIBVIRT_SOCK#"$ROOT"}"

# run_daemon WHAT: starts the installed itsmigd in the root with the
# installed configuration, checks /v1/health and a domain list through the
# installed itsmigctl, and stops it.
run_daemon() {
    ITSMIGD_NAME=pkg
    ITSMIGD_DIR=$T/d-pkg
    ITSMIGD_SOCK=$ROOT/run/itsmigd/api.sock
    ITSMIGD_LOG=$ITSMIGD_DIR/itsmigd.log
    mkdir -p "$ITSMIGD_DIR"
    chroot "$ROOT" /usr/sbin/itsmigd --connect "$root_uri" >"$ITSMIGD_LOG" 2>&1 </dev/null &
    ITSMIGD_PID=$!
    track_pid "$ITSMIGD_PID"
    if wait_for 'itsmigd_connected || ! pid_alive "$ITSMIGD_PID"' 20 && pid_alive "$ITSMIGD_PID"; then
        ok "$1: itsmigd answers /v1/health, connected to the private libvirtd"
    else
        not_ok "$1: itsmigd answers /v1/health, connected to the private libvirtd"
        diag_file "$ITSMIGD_LOG" 30
    fi
    api GET /v1/health
    check_json "$1: /v1/health says ok, connected" '.status == "ok" and .libvirt.connected == true'
    if in_root /usr/bin/itsmigctl domains && grep -qw test "$T/root.out"; then
        ok "$1: itsmigctl domains lists the test driver's domain"
    else
        not_ok "$1: itsmigctl domains lists the test driver's domain"
        diag_file "$T/root.out" 10
    fi
    stop_itsmigd
    is "$STOP_STATUS" 0 "$1: itsmigd stops on SIGTERM with status 0"
}
run_daemon "$V1"
[ -n "$(ls -A "$ROOT/var/lib/itsmigd")" ] && ok "the daemon keeps its state in /var/lib/itsmigd" ||
    not_ok "the daemon keeps its state in /var/lib/itsmigd"
(cd "$ROOT/var/lib/itsmigd" && find . | sort) >"$T/state-v1"

# ---- upgrade with a local edit of the conffile ------------------------------------

sed -i 's/^#log-level = info$/log-level = debug/' "$ROOT/etc/itsmig/itsmigd.conf"
grep -qx 'log-level = debug' "$ROOT/etc/itsmig/itsmigd.conf" || bail "could not edit the conffile"
t_start
rm -f "$ROOT"/tmp/debs/*.deb
cp "$T"/v2/*.deb "$ROOT/tmp/debs/"
# No --force-conf*: a conffile prompt would read /dev/null and fail the upgrade.
if in_root sh -c 'dpkg -i /tmp/debs/*.deb'; then
    ok "dpkg -i upgrades the three packages to $V2"
else
    not_ok "dpkg -i upgrades the three packages to $V2"
fi
t_end "upgrading to $V2"
is "$(chroot "$ROOT" dpkg-query -W -f '${Version} ' $PKGS)" "$V2 $V2 $V2 " "all three are at $V2"
if grep -qx 'log-level = debug' "$ROOT/etc/itsmig/itsmigd.conf"; then
    ok "the local edit of /etc/itsmig/itsmigd.conf survives the upgrade"
else
    not_ok "the local edit of /etc/itsmig/itsmigd.conf survives the upgrade"
fi
ls "$ROOT"/etc/itsmig/itsmigd.conf.dpkg-* >/dev/null 2>&1 &&
    not_ok "no .dpkg-new/.dpkg-old/.dpkg-dist beside the conffile" ||
    ok "no .dpkg-new/.dpkg-old/.dpkg-dist beside the conffile"
is "$( (cd "$ROOT/var/lib/itsmigd" && find . | sort) | cmp -s - "$T/state-v1" && echo kept)" kept \
    "the state directory survives the upgrade"

run_daemon "$V2"
stop_libvirtd
rm -rf "$LIBVIRT_DIR"

# ---- remove, purge --------------------------------------------------------------------

t_start
if in_root dpkg --remove $PKGS; then
    ok "dpkg --remove removes the three packages"
    grep -q 'no restart needed' "$T/root.out" && ok "removing the hook says no restart is needed" ||
        not_ok "removing the hook says no restart is needed"
else
    not_ok "dpkg --remove removes the three packages"
fi
grep -qx 'log-level = debug' "$ROOT/etc/itsmig/itsmigd.conf" 2>/dev/null &&
    ok "remove keeps the edited /etc/itsmig/itsmigd.conf" ||
    not_ok "remove keeps the edited /etc/itsmig/itsmigd.conf"
[ -d "$ROOT/var/lib/itsmigd" ] && ok "remove keeps /var/lib/itsmigd" ||
    not_ok "remove keeps /var/lib/itsmigd"
gone=yes
for f in /usr/sbin/itsmigd /usr/bin/itsmigctl /usr/libexec/itsmig/itsmig-hook \
    /etc/libvirt/hooks/qemu.d/50-itsmig /lib/systemd/system/itsmigd.service; do
    if [ -e "$ROOT$f" ] || [ -L "$ROOT$f" ]; then
        gone=no
        diag "still there after remove: $f"
    fi
done
[ "$gone" = yes ] && ok "remove takes the programs, the units and the hook's symlink" ||
    not_ok "remove takes the programs, the units and the hook's symlink"

if in_root dpkg --purge $PKGS; then
    ok "dpkg --purge purges the three packages"
else
    not_ok "dpkg --purge purges the three packages"
fi
t_end "remove and purge"
rm -rf "$ROOT/tmp/debs"
snapshot "$T/after"
comm -13 "$T/before" "$T/after" >"$T/left"
if [ -s "$T/left" ]; then
    not_ok "purge leaves nothing behind"
    diag "left behind (type mode path):"
    diag_file "$T/left" 40
else
    ok "purge leaves nothing behind"
fi
comm -23 "$T/before" "$T/after" >"$T/lost"
if [ -s "$T/lost" ]; then
    not_ok "purge takes nothing that was there before the packages"
    diag_file "$T/lost" 20
else
    ok "purge takes nothing that was there before the packages"
fi

_ms=$(($(now_ms) - _t_all))
diag "time: the whole test $((_ms / 1000)).$((_ms % 1000 / 100)) s"
done_testing
