# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# What the beds that boot the arm64 kernel and read TAP from its console
# share (sourced by tests/kvm/kvm-bed.sh and tests/nested/nested-bed.sh):
#
#   bail REASON...          "Bail out! REASON", cleans up, exits 1
#   boot_qemu TIMEOUT CONSOLE ARG...
#                           runs $qemu ARG... (console on stdout) for at most
#                           TIMEOUT seconds; the console goes to CONSOLE,
#                           after QEMU's version; sets qrc and elapsed
#   boot_section MARK TOKEN puts the console lines from "MARK-START TOKEN" to
#                           "MARK-END TOKEN rc=N" into $tmp/run and that end
#                           line into end_line
#   boot_finished WHAT      bails, saying why, unless the end line was there
#                           (WHAT names what the guest runs: "tests", ...)
#
# The caller sets qemu and, once it has one, tmp (a scratch directory that
# cleanup removes).  A QEMU still running at exit is killed.

tmp=
qpid=

cleanup() {
    if [ -n "$qpid" ]; then
        kill "$qpid" 2>/dev/null
        wait "$qpid" 2>/dev/null
        qpid=
    fi
    if [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
    tmp=
}

bail() {
    echo "Bail out! $*"
    cleanup
    exit 1
}

trap cleanup EXIT
trap 'bail "interrupted"' INT TERM HUP

boot_qemu() {
    _timeout=$1 _console=$2
    shift 2
    _start=$(date +%s)
    "$qemu" -version >"$_console" 2>&1
    timeout -k 10 "$_timeout" "$qemu" "$@" </dev/null >>"$_console" 2>&1 &
    qpid=$!
    wait "$qpid"
    qrc=$?
    qpid=
    elapsed=$(($(date +%s) - _start))
    # The serial console ends lines with CR LF.
    tr -d '\r' <"$_console" >"$tmp/console"
    boot_timeout=$_timeout boot_console=$_console
}

boot_section() {
    end_line=$(grep -a "^$1-END $2 rc=" "$tmp/console" | head -n 1)
    sed -n "/^$1-START $2\$/,/^$1-END $2 rc=/p" "$tmp/console" >"$tmp/run"
    boot_mark="$1-START $2"
}

boot_finished() {
    [ -z "$end_line" ] || return 0
    if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
        bail "the guest did not finish within ${boot_timeout}s (see $boot_console)"
    fi
    if ! grep -a -q "^$boot_mark\$" "$tmp/console"; then
        bail "the guest never started its $1 (qemu status $qrc, see $boot_console)"
    fi
    bail "the guest stopped before its $1 finished (qemu status $qrc, see $boot_console)"
}
