#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Replays every kept fuzz input through its harness, built with
# tests/fuzz/replay.c under ASan and UBSan (make check builds
# tests/fuzz/replay-NAME): tests/fuzz/corpus/NAME/* (seeds) and
# tests/fuzz/regress/NAME/* (inputs that once crashed a harness).  One TAP
# line per input; a crash, a sanitizer report, a leak or a run longer than
# 60 s fails it, with the report shown.  Also checks that every harness has
# a corpus, so that a harness is never left without inputs.
#
# Environment: top_srcdir, top_builddir, FUZZ_HARNESSES (set by make check).

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
harnesses=${FUZZ_HARNESSES:-its-walk qemu-image domain-profile host-caps job-journal qemu-log
    http-router hook-record daemon-config peer-reply migration-record}

ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS

n=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for h in $harnesses; do
    bin=$builddir/tests/fuzz/replay-$h
    n=$((n + 1))
    count=0
    for f in "$srcdir/tests/fuzz/corpus/$h"/*; do
        [ -f "$f" ] && count=$((count + 1))
    done
    if [ -x "$bin" ] && [ "$count" -gt 0 ]; then
        echo "ok $n - $h: harness built, $count corpus inputs"
    else
        echo "not ok $n - $h: harness $bin missing or tests/fuzz/corpus/$h empty"
        failed=$((failed + 1))
        continue
    fi
    for f in "$srcdir/tests/fuzz/corpus/$h"/* "$srcdir/tests/fuzz/regress/$h"/*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        rel=${f#"$srcdir"/}
        if timeout 60 "$bin" "$f" </dev/null >"$out" 2>&1; then
            echo "ok $n - $h $rel"
        else
            echo "not ok $n - $h $rel (exit $?)"
            sed 's/^/# /' "$out" | head -60
            failed=$((failed + 1))
        fi
    done
done
echo "1..$n"
[ "$failed" -eq 0 ]
