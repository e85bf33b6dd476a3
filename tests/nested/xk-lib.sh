# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# What the cross-kernel beds share (sourced by tests/nested/xk-matrix.sh and
# tests/nested/xk-live.sh): their preconditions, the arm64 build of itsmig,
# and the table of their pairs.  Each defines bail and sets srcdir and here
# first.

# xk_preconditions WHAT TOOL...: skips the bed (TAP plan 1..0, exit 0) unless
# this is root in a git work tree; bails when a TOOL is missing.
xk_preconditions() {
    _what=$1
    shift
    [ "$(id -u)" = 0 ] || {
        echo "1..0 # SKIP the $_what needs root (the nested bed unpacks packages owned by root)"
        exit 0
    }
    git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1 || {
        echo "1..0 # SKIP the $_what builds itsmig for arm64 from a git work tree; $srcdir is none"
        exit 0
    }
    for _tool in "$@"; do
        command -v "$_tool" >/dev/null 2>&1 || bail "$_tool not found (scripts/deps.sh --test installs it)"
    done
}

# xk_cross_build DIR: itsmig built for arm64 and installed into DIR, once for every boot.
xk_cross_build() {
    _t=$(date +%s)
    AARCH64_CC=${AARCH64_CC:-aarch64-linux-gnu-gcc} sh "$here/cross-build.sh" "$srcdir" "$1" \
        2>"$1.err" || {
        sed 's/^/# /' "$1.err"
        bail "cannot build itsmig for arm64"
    }
    echo "# the arm64 build of itsmig ready after $(($(date +%s) - _t)) s"
}

# xk_table FROM-HEADING TO-HEADING: the pairs of $tmp/results, a line each
# ("FROM TO PREDICTED OBSERVED LINE..."), as a Markdown table in $tmp/table,
# with the kernel and QEMU of each label from $tmp/kernels ("LABEL KERNEL
# QEMU"); printed as comments, and copied into $ITSMIG_XK_TABLE when set.
xk_table() {
    {
        echo "| $1 | $2 | itsmig predicts | QEMU does | the line |"
        echo "|---|---|---|---|---|"
        while read -r _f _t _p _o _rest; do
            printf '| %s (%s) | %s (%s) | %s | %s | %s |\n' "$_f" "$(xk_kernel "$_f")" "$_t" \
                "$(xk_kernel "$_t")" "$_p" "$_o" "$(printf '%s' "${_rest:-}" | sed 's/|/\\|/g')"
        done <"$tmp/results"
    } >"$tmp/table"
    sed 's/^/# /' "$tmp/table"
    [ -z "${ITSMIG_XK_TABLE:-}" ] || cp "$tmp/table" "$ITSMIG_XK_TABLE"
}

# xk_kernel LABEL: the kernel and QEMU of a label, as its boot reported them.
xk_kernel() {
    awk -v l="$1" '$1 == l { print $2 ", QEMU " $3; exit }' "$tmp/kernels"
}
