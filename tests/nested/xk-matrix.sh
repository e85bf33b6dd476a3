#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The cross-kernel save/restore bed: one arm64 host (the nested bed's outer
# guest, tests/nested/nested-bed.sh) rebooted into Debian's kernels in turn,
# a disk kept across its boots with itsmigd's state directory and the images
# it saved.  A KVM guest with the in-kernel ITS is saved with virsh save on
# one kernel and restored with virsh restore on another; itsmig's libvirt
# hook gate predicts each restore, and QEMU's own outcome is observed with
# the gate taken out where it refused (tests/nested/xk-guest.sh).  A
# prediction other than the observation fails.
#
# Usage: xk-matrix.sh [PLAN]
#
# PLAN is the boots in order, each SUITE[/ROOT]:FROM,...:save,
# SUITE[/ROOT]:FROM,...:save-only or SUITE[/ROOT]:FROM,...: (boot SUITE's
# kernel, on a root file system of ROOT's packages instead of this
# machine's (its QEMU and libvirt, see nested-bed.sh), restore the images
# of the boots labelled FROM, and, with "save", save an image and restore it
# there too, then read the ITS tables out of images of this kernel
# (xk-guest.sh's section 3); "save-only" saves and restores without
# those); a boot's label is SUITE, or SUITE-root-ROOT.  Or
#   full  every ordered pair of bookworm (6.1), trixie (6.12) and
#         trixie-backports (7.x), in five boots (the default)
#   ci    three boots, each kernel and both outcomes: bookworm's image on
#         trixie-backports and on trixie, trixie-backports' image on
#         trixie, and the same-kernel pairs of bookworm and trixie-backports
#         (the ITS tables read out of bookworm's images; trixie-backports'
#         boot, the slowest, saves only)
#   qemu  Debian 12's QEMU 7.2 and Debian 13's QEMU 10.0: bookworm's image
#         (6.1, QEMU 7.2) on trixie-backports' kernel with QEMU 10.0, and
#         that boot's image on the same kernel with QEMU 7.2
#
# Prints TAP: every boot's checks, numbered through, then a table of the
# pairs (predicted, observed, QEMU's or the gate's line) as comments; with
# ITSMIG_XK_TABLE set, that table as Markdown into that file.  The consoles
# go to tests/nested/xk-N-SUITE.console.log in the build tree.
#
# Environment: as nested-bed.sh (top_srcdir, top_builddir, QEMU_AARCH64,
# AARCH64_CC, ITSMIG_CACHE_DIR), and ITSMIG_XK_TABLE.

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
srcdir=$(cd "$srcdir" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
here=$srcdir/tests/nested
plan=${1:-full}
. "$here/xk-lib.sh"

case "$plan" in
full)
    plan="bookworm::save trixie:bookworm:save trixie-backports:bookworm,trixie:save
          bookworm:trixie,trixie-backports: trixie:trixie-backports:"
    ;;
ci) plan="bookworm::save trixie-backports:bookworm:save-only trixie:trixie-backports,bookworm:" ;;
qemu)
    plan="bookworm::save trixie-backports/trixie:bookworm:save
          trixie-backports:trixie-backports-root-trixie:"
    ;;
esac

bail() {
    echo "Bail out! $*"
    [ -z "${tmp:-}" ] || rm -rf "$tmp"
    exit 1
}

for boot in $plan; do
    echo "$boot" | grep -q -E '^[a-z0-9.-]+(/[a-z0-9.-]+)?:([a-z0-9.-]+(,[a-z0-9.-]+)*)?:(save|save-only)?$' ||
        bail "'$boot' is not SUITE[/ROOT]:FROM,...:save, SUITE[/ROOT]:FROM,...:save-only or SUITE[/ROOT]:FROM,...:"
done
xk_preconditions "cross-kernel bed" mkfs.ext4 truncate
tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-xk.XXXXXX") || bail "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT
trap 'bail interrupted' INT TERM HUP

t0=$(date +%s)
xk_cross_build "$tmp/install"
truncate -s 2G "$tmp/xk.img" && mkfs.ext4 -q -F -L itsmig-xk "$tmp/xk.img" >"$tmp/mkfs.out" 2>&1 || {
    sed 's/^/# /' "$tmp/mkfs.out"
    bail "mkfs.ext4 cannot make the disk kept across boots"
}

n=0 i=0 failed=0 expect=0
: >"$tmp/results"
: >"$tmp/kernels"
for boot in $plan; do
    i=$((i + 1))
    suite=${boot%%:*}
    root=
    case "$suite" in */*) root=${suite#*/} suite=${suite%%/*} ;; esac
    label=$suite${root:+-root-$root}
    rest=${boot#*:}
    from=${rest%%:*}
    case "${rest#*:}" in
    save) save=1 ;;
    save-only) save=2 ;;
    *) save=0 ;;
    esac
    echo "# ---- boot $i: $suite's kernel${root:+ on the packages of $root}${from:+, restoring the images of $from}$([ "$save" != 0 ] && echo ", saving one")"
    tb=$(date +%s)
    ITSMIG_NESTED_RUN=xk-guest ITSMIG_NESTED_DATA=$tmp/xk.img ITSMIG_NESTED_INSTALL=$tmp/install \
        ITSMIG_NESTED_CONSOLE=$builddir/tests/nested/xk-$i-$label.console.log ITSMIG_NESTED_USERLAND=$root \
        ITSMIG_XK_LABEL=$label ITSMIG_XK_RESTORE=$from ITSMIG_XK_SAVE=$save \
        sh "$here/nested-bed.sh" "$suite" >"$tmp/boot.out" 2>&1
    rc=$?
    ran=0 planned=
    while IFS= read -r line; do
        case "$line" in
        "ok "* | "not ok "*)
            n=$((n + 1)) ran=$((ran + 1))
            case "$line" in "not ok "*) failed=$((failed + 1)) ;; esac
            printf '%s\n' "$line" | sed -E "s/^(ok|not ok) [0-9]+ - /\\1 $n - boot $i: /"
            ;;
        "# boot "*": outer kernel "*)
            printf '%s\n' "$line"
            line=${line#\# boot }
            printf '%s %s %s\n' "${line%%:*}" "$(printf '%s\n' "${line#*: outer kernel }" | cut -d';' -f1)" \
                "$(printf '%s\n' "$line" | sed -n 's/.*QEMU emulator version \([^ ]*\).*/\1/p')" >>"$tmp/kernels"
            ;;
        "# xk-result "*)
            printf '%s\n' "$line"
            printf '%s\n' "${line#\# xk-result }" >>"$tmp/results"
            ;;
        1..*) planned=${line#1..} ;;
        "Bail out!"*) bail "boot $i ($label): ${line#Bail out! }" ;;
        *) printf '%s\n' "$line" ;;
        esac
    done <"$tmp/boot.out"
    [ "$rc" = 0 ] || bail "boot $i ($label): nested-bed.sh exited with status $rc"
    # Every check the boot planned came through its console, and every pair gave its result.
    [ "$planned" = "$ran" ] || bail "boot $i ($label): planned ${planned:-no} checks, ${ran} came through"
    expect=$((expect + $(printf '%s' "$from" | tr ',' '\n' | grep -c .) + (save != 0)))
    [ "$(wc -l <"$tmp/results")" = "$expect" ] ||
        bail "boot $i ($label): $(wc -l <"$tmp/results") results of pairs so far, not $expect"
    echo "# boot $i took $(($(date +%s) - tb)) s"
done

# ---- the table ------------------------------------------------------------------------------

xk_table "saved on" "restored on"
echo "# $(wc -l <"$tmp/results") pairs in $(($(date +%s) - t0)) s, $failed checks failed"
echo "1..$n"
