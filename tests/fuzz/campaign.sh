#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `make fuzz`: builds each harness of tests/fuzz/ with clang's libFuzzer
# (-fsanitize=fuzzer,address,undefined), then runs a campaign over each, one at a
# time under nice -n 19, and records per harness the executions, executions per
# second, corpus size, peak RSS and crashes in tests/bench/fuzz.txt (the lines of
# harnesses not run this time are kept).  The corpora grow in
# BUILDDIR/tests/fuzz/work/corpus/NAME, seeded from tests/fuzz/corpus/NAME and
# tests/fuzz/regress/NAME; what crashes lands in work/crashes/NAME/, to be added
# to tests/fuzz/regress/NAME once the bug is fixed.
#
# usage: campaign.sh SRCDIR BUILDDIR SECONDS RUNS 'HARNESS...'
#   SECONDS: time per harness (0: no limit); RUNS: executions per harness
#   (0: no limit).  Environment (from make): FUZZ_JOBS (libFuzzer processes per
#   harness, sharing its corpus: 1 by default; with N, each runs RUNS / N
#   executions and the record adds them up), FUZZ_CC, FUZZ_CFLAGS, FUZZ_LIBS,
#   FUZZ_SYSCONFDIR, FUZZ_RUNSTATEDIR, FUZZ_LOCALSTATEDIR (the daemon's paths,
#   as ITSMIGD_DEFS has them), FUZZ_LIB_SRC, and FUZZ_SRC_<name> (the harness
#   and the daemon sources it needs, '-' in the name as '_').
#
# Exit status: 0 when no harness crashed, 1 otherwise.

set -eu

srcdir=$1
builddir=$2
seconds=$3
runs=$4
only=$5
jobs=${FUZZ_JOBS:-1}
work=$builddir/tests/fuzz/work
summary=$srcdir/tests/bench/fuzz.txt
san='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer'

mkdir -p "$work/obj"

# The daemon's defines (daemon/local.mk's ITSMIGD_DEFS), quoted as the compiler needs them.
set -- "-DSYSCONFDIR=\"$FUZZ_SYSCONFDIR\"" "-DRUNSTATEDIR=\"$FUZZ_RUNSTATEDIR\"" \
    "-DLOCALSTATEDIR=\"$FUZZ_LOCALSTATEDIR\"" '-DG_LOG_DOMAIN="itsmigd"' \
    -DG_LOG_USE_STRUCTURED=1 -DVIR_ENUM_SENTINELS

# libitsmig once, instrumented for coverage; recompiled when its source or
# any header of include/ or config.h changed.
objs=
for src in $FUZZ_LIB_SRC; do
    obj=$work/obj/$(echo "$src" | tr '/' '_' | sed 's/\.c$/.o/')
    if [ ! -f "$obj" ] || [ "$srcdir/$src" -nt "$obj" ] || [ "$builddir/config.h" -nt "$obj" ] ||
        [ -n "$(find "$srcdir/include" -name '*.h' -newer "$obj" | head -1)" ]; then
        echo "  CC (fuzz) $src"
        # shellcheck disable=SC2086
        $FUZZ_CC $FUZZ_CFLAGS -fsanitize=fuzzer-no-link $san -c "$srcdir/$src" -o "$obj"
    fi
    objs="$objs $obj"
done

for h in $only; do
    var=FUZZ_SRC_$(echo "$h" | tr '-' '_')
    eval "srcs=\${$var:-}"
    if [ -z "$srcs" ]; then
        echo "campaign.sh: no harness '$h'" >&2
        exit 2
    fi
    paths=
    for s in $srcs; do
        paths="$paths $srcdir/$s"
    done
    echo "  CCLD (fuzz) tests/fuzz/work/fuzz-$h"
    # shellcheck disable=SC2086
    $FUZZ_CC $FUZZ_CFLAGS "$@" -fsanitize=fuzzer $san -o "$work/fuzz-$h" $paths $objs $FUZZ_LIBS
done

status=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for h in $only; do
    corpus=$work/corpus/$h
    crashes=$work/crashes/$h
    log=$work/$h.log
    mkdir -p "$corpus" "$crashes"
    seeds=$srcdir/tests/fuzz/corpus/$h
    extra=
    [ -d "$srcdir/tests/fuzz/regress/$h" ] && extra=$srcdir/tests/fuzz/regress/$h
    if [ "$h" = qemu-image ] && [ -x "$builddir/tests/fuzz/make-seeds" ]; then
        mkdir -p "$work/seeds/$h"
        "$builddir/tests/fuzz/make-seeds" "$work/seeds/$h"
        extra="$extra $work/seeds/$h"
    fi
    limits="-max_total_time=$seconds"
    [ "$runs" -gt 0 ] && limits="$limits -runs=$(((runs + jobs - 1) / jobs))"
    # libFuzzer writes each job's output to fuzz-JOB.log in the current directory.
    jobdir=$work/jobs/$h
    rm -rf "$jobdir"
    mkdir -p "$jobdir"
    [ "$jobs" -gt 1 ] && limits="$limits -jobs=$jobs -workers=$jobs"
    echo "  FUZZ $h ($limits)"
    before=$(find "$crashes" -type f | wc -l)
    load=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s)
    # -timeout: one input taking 10 s is a bug (the readers are linear);
    # -rss_limit_mb: so is 1 GiB for an input of at most 64 KiB.
    # shellcheck disable=SC2086
    if ! (cd "$jobdir" && exec nice -n 19 "$work/fuzz-$h" $limits -max_len=65536 -timeout=10 \
        -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" \
        "$seeds" $extra </dev/null >"$log" 2>&1); then
        echo "  $h: the harness failed; see $log and $jobdir" >&2
        status=1
    fi
    secs=$(($(date +%s) - start))
    # The stats of each process (one, or one per job, whose logs libFuzzer
    # copies into its own output as each job ends): executions add up, the
    # rate is theirs over the wall-clock time, the peak RSS the largest.
    stat() {
        sed -n "s/^stat::$1: *//p" "$log"
    }
    execs=$(stat number_of_executed_units | awk '{ n += $1 } END { if (NR) print n }')
    rss=$(stat peak_rss_mb | sort -n | tail -1)
    rate=
    [ -n "$execs" ] && rate=$((execs / (secs > 0 ? secs : 1)))
    found=$(($(find "$crashes" -type f | wc -l) - before))
    files=$(find "$corpus" -type f | wc -l)
    kib=$(du -sk "$corpus" | cut -f1)
    fmt='%-16s execs=%-11s exec/s=%-7s seconds=%-6s corpus=%s files (%s KiB)'
    fmt="$fmt  peak_rss=%s MiB  crashes=%s  load=%s  jobs=%s\n"
    # shellcheck disable=SC2059
    printf "$fmt" "$h" "${execs:-?}" "${rate:-?}" "$secs" "$files" "$kib" "${rss:-?}" \
        "$found" "$load" "$jobs" >>"$tmp"
    tail -1 "$tmp"
done

# The summary: a header, then one line per harness (this run's, or the last).
{
    echo "# itsmig: make fuzz (tests/fuzz/campaign.sh), libFuzzer with ASan and UBSan"
    echo "# $($FUZZ_CC --version | head -1); $(uname -sm); $(nproc) CPUs shared;" \
        "nice -n 19, one harness at a time"
    echo "# last run $(date -u +%Y-%m-%dT%H:%MZ): FUZZ_TIME=$seconds FUZZ_RUNS=$runs over: $only"
    echo "# execs: executions; exec/s: their average rate; corpus: units kept (from the seeds of"
    echo "# tests/fuzz/corpus); peak_rss: the process's; crashes: crashes, leaks, timeouts (10 s)"
    echo "# and out-of-memory (1 GiB) found in that run; load: the machine's load average"
    echo "# (1 min) when the harness started"
    for h in its-walk qemu-image domain-profile host-caps job-journal qemu-log http-router \
        hook-record daemon-config peer-reply migration-record; do
        line=$(grep "^$h  *execs=" "$tmp" || true)
        [ -n "$line" ] || line=$(grep "^$h  *execs=" "$summary" 2>/dev/null || true)
        [ -n "$line" ] && echo "$line"
    done
    # Notes kept by hand below this line survive a run.
    sed -n '/^## notes/,$p' "$summary" 2>/dev/null || true
} >"$summary.new"
mv "$summary.new" "$summary"
exit $status
