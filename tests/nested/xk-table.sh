# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# The table of the cross-kernel beds' pairs (sourced by tests/nested/xk-matrix.sh
# and tests/nested/xk-live.sh).

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
