#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Probe time at start on each Debian arm64 kernel: the ITS probe
# (itsmig_kvm_its_probe: ABI revisions, controls, vGIC, vITS behaviour) and
# the vCPU register-set probe (itsmig_kvm_regs_probe), as itsmigd runs them
# when it starts, timed inside the real-kernel bed's guest (the kernel under
# qemu-system-aarch64 TCG, -cpu max, KVM inside it), 5 runs in one boot.
#
# Usage: bench-probe.sh BUILDDIR [--no-run] [SUITE...]
#   SUITE      default: bookworm trixie trixie-backports
#   --no-run   take the timings the last bed runs left in BUILDDIR
#              (tests/kvm/probe-<suite>.times and .json)

set -eu

builddir=${1:?usage: bench-probe.sh BUILDDIR [--no-run] [SUITE...]}
shift
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
run=1
if [ "${1:-}" = --no-run ]; then
    run=0
    shift
fi
[ $# -gt 0 ] || set -- bookworm trixie trixie-backports

qemu=${QEMU_AARCH64:-qemu-system-aarch64}
echo "itsmig probe-time benchmark  ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), $("$qemu" -version | head -n 1))"
echo "in the real-kernel bed's guest: TCG -cpu max, 2 vCPUs, KVM inside; 5 runs per boot, ms"
if [ "$run" = 0 ]; then
    echo "timings from the bed runs already in the build tree"
fi
printf '%-17s %-24s %5s  %-22s %-22s %s\n' suite kernel regs "ITS med (min-max)" \
    "regs med (min-max)" "total med"

for suite in "$@"; do
    times="$builddir/tests/kvm/probe-$suite.times"
    json="$builddir/tests/kvm/probe-$suite.json"
    if [ "$run" = 1 ]; then
        rm -f "$times" "$json"
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        top_srcdir=$srcdir top_builddir=$builddir sh "$srcdir/tests/kvm/kvm-bed.sh" "$suite" \
            >/dev/null 2>&1 || true
        echo "# $suite: load average before the boot $load"
    fi
    [ -s "$times" ] && [ -s "$json" ] || {
        echo "bench-probe.sh: $suite: no timings in $times (see tests/kvm/kvm-bed-$suite.console.log)" >&2
        exit 1
    }
    kernel=$(sed -n 's/^  "kernel_release" : "\(.*\)",$/\1/p' "$json")
    # ITSMIG-PROBE-TIME run=N its_ms=X regs_ms=Y regs=N
    awk -v suite="$suite" -v kernel="$kernel" '
        function median(a, n,   i, j, t) {
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        {
            for (f = 2; f <= NF; f++) {
                split($f, kv, "=")
                v[kv[1]] = kv[2]
            }
            n++
            its[n] = v["its_ms"]; regs[n] = v["regs_ms"]; tot[n] = v["its_ms"] + v["regs_ms"]
            nregs = v["regs"]
        }
        END {
            if (n == 0) exit 1
            m1 = median(its, n); m2 = median(regs, n); m3 = median(tot, n)
            printf "%-17s %-24s %5d  %-22s %-22s %.1f\n", suite, kernel, nregs,
                sprintf("%.1f (%.1f-%.1f)", m1, its[1], its[n]),
                sprintf("%.1f (%.1f-%.1f)", m2, regs[1], regs[n]), m3
        }' "$times"
done
