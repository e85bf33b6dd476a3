#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The C sources as .clang-format says: every .c and .h under lib/, include/,
# daemon/, client/ and tests/ is what clang-format makes of it, one TAP line
# per directory with the files that differ and clang-format's first complaint.
# A copy of one source with its indentation broken must be caught, so that
# the check can fail.  `clang-format -i FILE` mends a file.

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/daemon/lib.sh"

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
require_tools "$CLANG_FORMAT" find

# differs FILE: clang-format would change FILE (its first complaint in $T/fmt.out).
differs() {
    ! "$CLANG_FORMAT" --style=file --dry-run -Werror "$1" >"$T/fmt.out" 2>&1
}

for d in lib include daemon client tests; do
    bad=
    n=0
    for f in $(cd "$srcdir" && find "$d" \( -name '*.c' -o -name '*.h' \) -type f | sort); do
        n=$((n + 1))
        if differs "$srcdir/$f"; then
            bad="$bad $f"
            first=$(head -n 1 "$T/fmt.out")
        fi
    done
    if [ -z "$bad" ]; then
        ok "$d/: $n C sources as .clang-format says"
    else
        not_ok "$d/: $n C sources as .clang-format says" "differ:$bad"
        diag "first complaint: $first"
    fi
done

# The check can fail: one source with a statement pushed out of its indentation.
mkdir -p "$T/broken"
cp "$srcdir/.clang-format" "$T/broken/"
sed '0,/^    return /s//        return /' "$srcdir/lib/error.c" >"$T/broken/error.c"
if differs "$T/broken/error.c"; then
    ok "a source indented by hand against .clang-format is caught"
else
    not_ok "a source indented by hand against .clang-format is caught"
fi

done_testing
