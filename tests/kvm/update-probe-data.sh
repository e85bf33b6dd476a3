#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Regenerates tests/data/probe/<suite>.json, what `itsmigctl host probe
# --json` prints on each Debian arm64 kernel (ITS capabilities and the vCPU
# register set), from the real-kernel bed: kvm-bed.sh SUITE boots that
# suite's current kernel, its guest probes KVM and prints the results, and
# tests/kvm/probe-to-json turns them into the JSON (kept in the build tree as
# tests/kvm/probe-<suite>.json).
#
# Usage: tests/kvm/update-probe-data.sh [--no-run] [SUITE...]
#   SUITE      default: bookworm trixie trixie-backports
#   --no-run   take the JSON the last bed run left in the build tree
#
# Run from a configured build tree (make tests/kvm/itsmig-guest-tests
# tests/kvm/probe-to-json client/itsmigctl first), or set top_srcdir and
# top_builddir.  The bed's other checks do not matter here, only that its
# probe section produced the JSON; the files are written only when every
# suite did.

set -eu

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$(pwd)}
run=1
if [ "${1:-}" = --no-run ]; then
    run=0
    shift
fi
[ $# -gt 0 ] || set -- bookworm trixie trixie-backports

die() {
    echo "update-probe-data.sh: $*" >&2
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-probe-data.XXXXXX") || die "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT

for suite in "$@"; do
    json="$builddir/tests/kvm/probe-$suite.json"
    if [ "$run" = 1 ]; then
        rm -f "$json"
        echo "update-probe-data.sh: running the real-kernel bed on $suite" >&2
        top_srcdir=$srcdir top_builddir=$builddir sh "$srcdir/tests/kvm/kvm-bed.sh" "$suite" \
            >"$tmp/$suite.tap" 2>&1 || true
        if grep -q '^not ok' "$tmp/$suite.tap"; then
            echo "update-probe-data.sh: $suite: the bed reports failures (the data is still taken):" >&2
            grep '^not ok' "$tmp/$suite.tap" | sed 's/^/  /' >&2
        fi
    fi
    [ -s "$json" ] || die "$suite: the bed left no $json (see $builddir/tests/kvm/kvm-bed-$suite.console.log)"
    grep -q '"vcpu_registers" : {' "$json" && grep -q '"available" : true' "$json" ||
        die "$suite: $json holds no probe result"
    cp "$json" "$tmp/$suite.json"
done
for suite in "$@"; do
    cp "$tmp/$suite.json" "$srcdir/tests/data/probe/$suite.json"
    echo "update-probe-data.sh: tests/data/probe/$suite.json: $(sed -n 's/^  "kernel_release" : "\(.*\)",$/\1/p' "$tmp/$suite.json"), $(sed -n 's/^    "count" : \([0-9]*\),$/\1/p' "$tmp/$suite.json") registers" >&2
done
