# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# bench_libvirtd: a private libvirtd for the benchmarks, sourced by
# bench-rest.sh and bench-preflight.sh (bash; they provide tmp, the pids
# array their exit handler kills, and fail).  It has only the test driver
# (no hypervisor driver is loaded from $tmp/empty), listens on a socket in
# $tmp/run and logs errors to $tmp/libvirtd.log.  Sets uri to the test
# driver's URI on it and returns once libvirtd answers there.
bench_libvirtd() {
    mkdir -p "$tmp/run" "$tmp/empty"
    cat >"$tmp/libvirtd.conf" <<EOC
unix_sock_dir = "$tmp/run"
unix_sock_group = "root"
unix_sock_rw_perms = "0770"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$tmp/libvirtd.log"
EOC
    LIBVIRT_DRIVER_DIR=$tmp/empty libvirtd -f "$tmp/libvirtd.conf" -p "$tmp/libvirtd.pid" \
        >"$tmp/libvirtd.out" 2>&1 &
    pids+=($!)
    uri="test+unix:///default?socket=$tmp/run/libvirt-sock"
    for _ in $(seq 100); do [ -S "$tmp/run/libvirt-sock" ] && break; sleep 0.05; done
    virsh -q -c "$uri" list --all >/dev/null || fail "libvirtd did not come up"
}
