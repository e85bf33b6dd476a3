#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libc-only sources of libitsmig (LIBITSMIG_LIBC_SOURCES in Makefile.am,
# lib/README.md) compile with libc alone, as the static guest of the
# real-kernel bed builds them: the compiler is given include/ and config.h,
# and neither GLib's, json-glib's nor libxml2's include path.  One TAP line
# per file.  A copy of one that includes <glib.h> must be caught, so that the
# check can fail.

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/daemon/lib.sh"

CC=${CC:-cc}
require_tools "$CC"
[ -n "${LIBITSMIG_LIBC_SOURCES:-}" ] ||
    bail "LIBITSMIG_LIBC_SOURCES is not set (make check sets it from Makefile.am)"

# compiles FILE: FILE compiles with libc's headers only (errors in $T/cc.out).
compiles() {
    "$CC" -std=gnu11 -fsyntax-only -Wall -Werror -I"$srcdir/include" -I"$builddir" "$1" \
        >"$T/cc.out" 2>&1
}

for f in $LIBITSMIG_LIBC_SOURCES; do
    if compiles "$srcdir/$f"; then
        ok "$f compiles with libc alone"
    else
        not_ok "$f compiles with libc alone"
        diag_file "$T/cc.out" 10
    fi
done

# The check can fail: a libc-only source that includes GLib.
{
    printf '#include <glib.h>\n'
    cat "$srcdir/lib/diag.c"
} >"$T/diag-glib.c"
if compiles "$T/diag-glib.c"; then
    not_ok "a libc-only source that includes <glib.h> is caught"
else
    ok "a libc-only source that includes <glib.h> is caught"
fi

done_testing
