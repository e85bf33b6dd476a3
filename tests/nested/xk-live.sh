#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The cross-kernel live migration bed: two arm64 hosts (two outer guests of
# the nested bed, tests/nested/nested-bed.sh), each booting its own Debian
# kernel, on a private network between them (a virtio-net NIC each, on QEMU
# UDP socket netdevs on this machine's loopback: hostA is 10.77.0.1, hostB
# 10.77.0.2).  Each runs libvirtd and itsmigd with the other as its TLS
# peer; a KVM guest is migrated live both ways, A to B and B to A, and
# itsmig's prediction (itsmigctl preflight, the destination's libvirt hook)
# is checked against what QEMU does (tests/nested/xk-live-host.sh).
#
# Usage: xk-live.sh [PLAN]
#
# PLAN is the pairs in order, each SUITE[/ROOT]=SUITE[/ROOT]: hostA's and
# hostB's kernel (a suite, see nested-bed.sh), each on the packages (QEMU,
# libvirt) of ROOT instead of this machine's.  Or
#   full   every pair of bookworm (6.1), trixie (6.12) and trixie-backports
#          (7.x), each way, and each kernel with itself: six pairs, all nine
#          ordered pairs (the default)
#   cross  the three pairs of different kernels, each way
#   ci     trixie-backports (hostA) and bookworm (hostB): one direction
#          migrates, the other is refused (checked: both outcomes must
#          occur), by hostB's hook, which has not asked hostA before
#   qemu   trixie-backports' kernel on both, hostA on Debian 13's packages
#          (QEMU 10.0), hostB on this machine's (QEMU 7.2)
#
# Prints TAP: both hosts' checks of every pair, numbered through, then a
# table of the directions (predicted, observed, QEMU's line) as comments;
# with ITSMIG_XK_TABLE set, that table as Markdown into that file.  The
# consoles go to tests/nested/xk-live-N-{a,b}-LABEL.console.log in the build
# tree.
#
# Environment: as nested-bed.sh (top_srcdir, top_builddir, QEMU_AARCH64,
# AARCH64_CC, ITSMIG_CACHE_DIR), ITSMIG_XK_TABLE, and
# ITSMIG_NESTED_BED_TIMEOUT (seconds for hostA's outer guest, default 3600;
# hostB, which starts first and must outlive it, has 3600 more).

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
srcdir=$(cd "$srcdir" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
here=$srcdir/tests/nested
plan=${1:-full}
plan_name=$plan
. "$here/xk-lib.sh"
addr_a=10.77.0.1
addr_b=10.77.0.2

case "$plan" in
full)
    plan="bookworm=trixie-backports bookworm=trixie trixie=trixie-backports
          bookworm=bookworm trixie=trixie trixie-backports=trixie-backports"
    ;;
cross) plan="bookworm=trixie-backports bookworm=trixie trixie=trixie-backports" ;;
ci) plan="trixie-backports=bookworm" ;;
qemu) plan="trixie-backports/trixie=trixie-backports" ;;
esac

bail() {
    echo "Bail out! $*"
    exit 1
}

for pair in $plan; do
    echo "$pair" | grep -q -E '^[a-z0-9.-]+(/[a-z0-9.-]+)?=[a-z0-9.-]+(/[a-z0-9.-]+)?$' ||
        bail "'$pair' is not SUITE[/ROOT]=SUITE[/ROOT]"
done
xk_preconditions "live cross-kernel bed" openssl flock
tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-xk-live.XXXXXX") || bail "cannot create a temporary directory"
pids=
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'bail interrupted' INT TERM HUP

t0=$(date +%s)
xk_cross_build "$tmp/install"
# One certificate for both hosts' APIs, each the other's CA.
mkdir -p "$tmp/tls" && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=itsmig-xk-live \
    -addext "subjectAltName=IP:127.0.0.1,IP:$addr_a,IP:$addr_b" \
    -keyout "$tmp/tls/key.pem" -out "$tmp/tls/cert.pem" >/dev/null 2>&1 ||
    bail "openssl cannot make a certificate"

# label SUITE[/ROOT]: the host's label, SUITE or SUITE-root-ROOT.
label() {
    case "$1" in
    */*) echo "${1%%/*}-root-${1#*/}" ;;
    *) echo "$1" ;;
    esac
}

# boot ROLE SPEC PEER-LABEL LOCAL-PORT REMOTE-PORT OUT: one host of the pair, in the background.
boot() {
    _suite=${2%%/*} _root=
    case "$2" in */*) _root=${2#*/} ;; esac
    _limit=${ITSMIG_NESTED_BED_TIMEOUT:-3600}
    [ "$1" = a ] || _limit=$((_limit + 3600))
    ITSMIG_NESTED_RUN=xk-live-host ITSMIG_NESTED_INSTALL=$tmp/install ITSMIG_NESTED_TLS=$tmp/tls \
        ITSMIG_NESTED_LOCKED=1 ITSMIG_NESTED_NET=$4:$5 ITSMIG_NESTED_USERLAND=$_root \
        ITSMIG_NESTED_BED_TIMEOUT=$_limit \
        ITSMIG_NESTED_CONSOLE=$builddir/tests/nested/xk-live-$i-$1-$(label "$2").console.log \
        ITSMIG_XK_ROLE=$1 ITSMIG_XK_LABEL=$(label "$2") ITSMIG_XK_PEER=$3 \
        ITSMIG_XK_ADDR_A=$addr_a ITSMIG_XK_ADDR_B=$addr_b \
        sh "$here/nested-bed.sh" "$_suite" >"$6" 2>&1 &
}

# take HOST OUT: that host's TAP, numbered through, its results kept.
take() {
    _ran=0 _planned=
    while IFS= read -r line; do
        case "$line" in
        "ok "* | "not ok "*)
            n=$((n + 1)) _ran=$((_ran + 1))
            case "$line" in "not ok "*) failed=$((failed + 1)) ;; esac
            printf '%s\n' "$line" | sed -E "s/^(ok|not ok) [0-9]+ - /\\1 $n - pair $i, $1: /"
            ;;
        "# xk-live-result "*)
            printf '%s\n' "$line"
            printf '%s\n' "${line#\# xk-live-result }" >>"$tmp/results"
            ;;
        "# "*"): outer kernel "*)
            printf '%s\n' "$line"
            _l=${line#\# * (}
            printf '%s %s %s\n' "${_l%%)*}" "$(printf '%s\n' "$line" | sed -n 's/.*outer kernel \([^;]*\);.*/\1/p')" \
                "$(printf '%s\n' "$line" | sed -n 's/.*QEMU emulator version \([^ ]*\).*/\1/p')" >>"$tmp/kernels"
            ;;
        1..*) _planned=${line#1..} ;;
        "Bail out!"*) bail "pair $i ($pair), $1: ${line#Bail out! }" ;;
        *) printf '%s\n' "$line" ;;
        esac
    done <"$2"
    [ "$_planned" = "$_ran" ] || bail "pair $i ($pair), $1: planned ${_planned:-no} checks, $_ran came through"
}

exec 8>"${TMPDIR:-/tmp}/itsmig-e2e.lock"
n=0 i=0 failed=0 expect=0
: >"$tmp/results"
: >"$tmp/kernels"
for pair in $plan; do
    i=$((i + 1))
    spec_a=${pair%%=*} spec_b=${pair#*=}
    echo "# ---- pair $i: hostA $(label "$spec_a"), hostB $(label "$spec_b")"
    # One bed at a time on this machine: guests under TCG share two cores.
    flock -w 3600 8 || bail "another bed holds ${TMPDIR:-/tmp}/itsmig-e2e.lock"
    tp=$(date +%s)
    # Two UDP ports on loopback, one each to receive on.
    port_a=$((20000 + ($$ + i * 2) % 20000)) port_b=$((port_a + 1))
    # hostB first: its packages are fetched and its image made before hostA's start, so
    # that the two do not fetch at once.
    out_a=$tmp/a-$i.out out_b=$tmp/b-$i.out
    boot b "$spec_b" "$(label "$spec_a")" "$port_b" "$port_a" "$out_b"
    pid_b=$! pids="$pid_b"
    w=0
    while ! grep -q -e '^# booting ' -e '^Bail out!' "$out_b" 2>/dev/null && kill -0 "$pid_b" 2>/dev/null &&
        [ "$w" -lt 1800 ]; do
        sleep 2
        w=$((w + 2))
    done
    if ! grep -q '^# booting ' "$out_b" 2>/dev/null; then
        kill "$pid_b" 2>/dev/null
        wait "$pid_b"
        sed -e '/^Bail out!/d' -e 's/^/# hostB: /' "$out_b"
        bail "pair $i ($pair): hostB did not boot: $(grep -m 1 '^Bail out!' "$out_b")"
    fi
    boot a "$spec_a" "$(label "$spec_b")" "$port_a" "$port_b" "$out_a"
    pid_a=$! pids="$pid_b $pid_a"
    # hostA waits for hostB; when hostB has ended, hostA has 5 minutes to finish.
    while kill -0 "$pid_a" 2>/dev/null; do
        if ! kill -0 "$pid_b" 2>/dev/null; then
            g=0
            while kill -0 "$pid_a" 2>/dev/null && [ "$g" -lt 300 ]; do
                sleep 2
                g=$((g + 2))
            done
            kill "$pid_a" 2>/dev/null
            break
        fi
        sleep 2
    done
    wait "$pid_a"
    rc_a=$?
    # hostB ends when hostA tells it to; when hostA could not, it is stopped.
    w=0
    while kill -0 "$pid_b" 2>/dev/null && [ "$w" -lt 300 ]; do
        sleep 2
        w=$((w + 2))
    done
    kill "$pid_b" 2>/dev/null
    wait "$pid_b"
    rc_b=$?
    pids=
    flock -u 8
    take hostA "$out_a"
    take hostB "$out_b"
    [ "$rc_a" = 0 ] && [ "$rc_b" = 0 ] || bail "pair $i ($pair): nested-bed.sh exited with $rc_a (hostA), $rc_b (hostB)"
    expect=$((expect + 2))
    [ "$(wc -l <"$tmp/results")" = "$expect" ] ||
        bail "pair $i ($pair): $(wc -l <"$tmp/results") results of directions so far, not $expect"
    echo "# pair $i took $(($(date +%s) - tp)) s"
done

# ---- the table ------------------------------------------------------------------------------

xk_table from to
if [ "$plan_name" = ci ]; then
    # make check's plan must keep covering both outcomes.
    n=$((n + 1))
    if grep -q '^[^ ]* [^ ]* allow ok ' "$tmp/results" && grep -q '^[^ ]* [^ ]* refuse:[^ ]* fail ' "$tmp/results"; then
        echo "ok $n - one direction migrates and the other is refused, as QEMU fails it"
    else
        failed=$((failed + 1))
        echo "not ok $n - one direction migrates and the other is refused, as QEMU fails it"
    fi
fi
echo "# $(wc -l <"$tmp/results") directions in $(($(date +%s) - t0)) s, $failed checks failed"
echo "1..$n"
