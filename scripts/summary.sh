#!/bin/sh
# Sums the results of every test log automake wrote into one line.
cd "$(dirname "$0")/.."
find . -name '*.trs' -not -path './itsmig-*' -print0 | xargs -0 cat 2>/dev/null | awk '
    /^:test-result: (PASS|XFAIL)/ { pass++ }
    /^:test-result: (FAIL|XPASS|ERROR)/ { fail++ }
    /^:test-result: SKIP/ { skip++ }
    END { printf "%d passed, %d failed, %d skipped\n", pass, fail, skip }'
