#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): a randomized fault run.  Each round draws, from a
# seeded generator, a mode (safe or live), whether the guest starts paused, a direction, a
# fault and the moment to inject it (a job phase, seen by polling GET /v1/migrations/{id}; the
# transfer is slowed with options.bandwidth only when the moment is the transfer), and how
# long the fault lasts.  A guest that starts paused keeps its device for the move (quiesce
# false): itsmigd refuses to detach devices from a paused guest.  The faults:
#
#   none                        nothing
#   kill-itsmigd-src|dst        kill -9 of that host's itsmigd, restarted after the hold
#   kill-libvirtd-src|dst       kill -9 of that host's libvirtd, restarted after the hold
#   link-cut                    the veth link down for the hold
#   stop-virtlogd-src           SIGSTOP of the source's virtlogd for the hold, then SIGCONT
#   stop-peer-itsmigd           SIGSTOP of the destination's itsmigd for the hold, then SIGCONT
#   disk-full-src|dst           that host's itsmigd state directory (a tmpfs) full for the hold
#   hup-src|dst                 SIGHUP to that host's itsmigd (a reload)
#   abort                       DELETE /v1/migrations/{id}
#
# After each round, once the job has ended: the guest is on exactly one host, the one the
# job's outcome names, paused only if it was before the round, with its non-migratable device
# plugged in, its ITS-MSI interrupts rising (tests/e2e/bed.sh's bed_invariants); every job
# of both hosts is done or rolled-back, or needs attention with a text saying what a person
# must do.  A round that ends needing attention is put right as that text says (resume, plug
# the device back in, destroy the stale copy) so that the next starts clean, and the script
# records that it had to.  The last lines count the outcomes (done, rolled-back, attention,
# VIOLATION) by fault.
#
# Environment:
#   CHAOS_ROUNDS   rounds to run (default 2, what make check runs)
#   CHAOS_SEED     the generator's seed (default: random, printed first)
#   CHAOS_ROUND    one round's parameters as a round prints them ("mode=... fault=..."):
#                  runs only that round, CHAOS_ROUNDS times
#   CHAOS_TIME     seconds after which no new round starts (default 0: no limit)
#   CHAOS_REPORT   a file for the run's summary, rewritten after every round (make chaos:
#                  tests/bench/chaos.txt), so that it holds the rounds run if the run is cut;
#                  its "## notes" section is kept
#   CHAOS_KEEP     a directory where the logs of both hosts are copied for each round with a
#                  violation or a libvirtd the repair had to restart (make chaos:
#                  tests/e2e/chaos-kept in the build tree)

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
. "$srcdir/tests/e2e/bed.sh"

ROUNDS=${CHAOS_ROUNDS:-2}
case $ROUNDS in '' | *[!0-9]*) bail "CHAOS_ROUNDS must be a number of rounds, not '$ROUNDS'" ;; esac
SEED=${CHAOS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
case $SEED in '' | *[!0-9]*) bail "CHAOS_SEED must be a decimal number, not '$SEED'" ;; esac
BUDGET=${CHAOS_TIME:-0}
case $BUDGET in '' | *[!0-9]*) bail "CHAOS_TIME must be seconds, not '$BUDGET'" ;; esac
diag "chaos: seed $SEED, $ROUNDS rounds (CHAOS_SEED=$SEED reproduces the run)"
RUN_T0=$(now_ms)

# Each phase may take 20 s: long enough for a slow transfer on a loaded machine, short enough
# that the longest hold below outlasts it.
PHASE_TIMEOUT=20
SLOW_BANDWIDTH=8
HOLDS="3 8 25"
FAULTS="none kill-itsmigd-src kill-itsmigd-dst kill-libvirtd-src kill-libvirtd-dst link-cut
stop-virtlogd-src stop-peer-itsmigd disk-full-src disk-full-dst hup-src hup-dst abort"
SAFE_PHASES="preflight quiesce-devices pause-vcpus verify-its-save transfer verify-dest resume-dest restore-devices"
LIVE_PHASES="preflight quiesce-devices transfer verify-its-save verify-dest resume-dest restore-devices"
DEVICE_XML="<input type='tablet' bus='virtio'>
  <alias name='ua-scratch0'/>
  <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
</input>"

# ---- the generator: a 31-bit LCG, the same in every shell --------------------------------

_rng=$((SEED % 2147483648))
# rand N: R is the next number in 0..N-1.
rand() {
    _rng=$(((_rng * 1103515245 + 12345) % 2147483648))
    R=$(((_rng / 65536) % $1))
}
# pick WORD...: R is one of the words.
pick() {
    rand $#
    shift "$R"
    R=$1
}

bed_up
# Each host's state directory on a 4 MiB tmpfs of its own, so that one fault can fill it.
bed_state_tmpfs a 4
bed_state_tmpfs b 4
bed_run() {
    bed_itsmigd "$1" --set "policy.non-migratable-devices=ua-scratch*" \
        --set "migration.phase-timeout=$PHASE_TIMEOUT" --timeout 60
}
bed_run a
bed_run b
bed_guest a g1 "$BED_SCRATCH_DEVICE"
HERE=a # where g1 is

# pid_of H: host H's itsmigd.
pid_of() {
    cat "$T/d-$1/pid" 2>/dev/null
}
# itsmigd_up H: host H's itsmigd runs (restarted when a fault killed it).
itsmigd_up() {
    use_itsmigd "$1"
    if [ -n "$ITSMIGD_PID" ] && pid_alive "$ITSMIGD_PID"; then
        return 0
    fi
    [ -n "$ITSMIGD_PID" ] && forget_itsmigd
    bed_run "$1"
}
libvirtd_up() {
    _lp=
    eval "_lp=\$BED_LIBVIRTD_$1"
    pid_alive "$_lp" || bed_restart_libvirtd "$1"
}

# api_on H METHOD PATH [CURL-ARG...]: api against host H's itsmigd.
api_on() {
    use_itsmigd "$1"
    shift
    api "$@"
}

# connected H: host H's itsmigd has a live libvirt connection (GET /v1/health).
connected() {
    api_on "$1" GET /v1/health -m 5 && [ "$(jbody .libvirt.connected)" = true ]
}
# both_connected: waits (60 s at most) until both hosts' itsmigd are connected to libvirt
# again, so that a round after a libvirtd kill does not fail for that reason; a timeout is
# the bed's failure, not a guest's outcome.
both_connected() {
    _t0=$(now_ms)
    if wait_for 'connected a && connected b' 60; then
        _w=$(($(now_ms) - _t0))
        [ "$_w" -lt 1000 ] || diag "before round $ROUND: waited $_w ms for both itsmigd to connect to libvirt"
        return 0
    fi
    not_ok "before round $ROUND: both itsmigd are connected to libvirt within 60 s" \
        "a: $(connected a && echo connected || echo not), b: $(connected b && echo connected || echo not)"
    echo "before round $ROUND ($PARAMS): an itsmigd not connected to libvirt after 60 s" >>"$T/bed-failures"
    return 1
}

# phase_index MODE PHASE: the phase's place in the mode's plan (1...), 99 when final.
phase_index() {
    [ "$1" = safe ] && _pl=$SAFE_PHASES || _pl=$LIVE_PHASES
    _k=0
    for _ph in $_pl; do
        _k=$((_k + 1))
        [ "$_ph" = "$2" ] && { echo "$_k"; return; }
    done
    echo 99
}

# reached MODE MOMENT: the job ($SRC's $ID) is at the moment, past it or ended; SEEN is its phase.
reached() {
    api_on "$SRC" GET "/v1/migrations/$ID" -m 3 || return 1
    SEEN=$(jbody .phase)
    [ -n "$SEEN" ] && [ "$SEEN" != null ] || return 1
    [ "$(phase_index "$1" "$SEEN")" -ge "$(phase_index "$1" "$2")" ]
}

# at_moment MODE MOMENT: polls as fast as the API answers (120 s at most) until reached:
# some phases last a few tens of milliseconds.
at_moment() {
    _until=$(($(now_ms) + 120000))
    while ! reached "$1" "$2"; do
        [ "$(now_ms)" -lt "$_until" ] || return 1
        sleep 0.02
    done
}

# inject FAULT: the fault's start; undo FAULT: its end, after the hold.
inject() {
    case $1 in
    none) ;;
    kill-itsmigd-*) kill -KILL "$(pid_of "$(side "$1")")" ;;
    kill-libvirtd-*) bed_kill_libvirtd "$(side "$1")" KILL ;;
    link-cut) ip -n "$BED_NS_A" link set "$BED_VETH_A" down ;;
    stop-virtlogd-src) eval "kill -STOP \$BED_VIRTLOGD_$SRC" ;;
    stop-peer-itsmigd) kill -STOP "$(pid_of "$DST")" ;;
    disk-full-*) bed_state_fill "$(side "$1")" ;;
    hup-*) kill -HUP "$(pid_of "$(side "$1")")" ;;
    abort)
        api_on "$SRC" DELETE "/v1/migrations/$ID"
        ABORT_STATUS=$API_STATUS ;;
    esac
}
undo() {
    case $1 in
    kill-itsmigd-*) itsmigd_up "$(side "$1")" ;;
    kill-libvirtd-*) libvirtd_up "$(side "$1")" ;;
    link-cut) ip -n "$BED_NS_A" link set "$BED_VETH_A" up ;;
    stop-virtlogd-src) eval "kill -CONT \$BED_VIRTLOGD_$SRC" ;;
    stop-peer-itsmigd) kill -CONT "$(pid_of "$DST")" ;;
    disk-full-*) bed_state_free "$(side "$1")" ;;
    esac
}
# side FAULT: the host the fault hits.
side() {
    case $1 in
    *-src) echo "$SRC" ;;
    *-dst) echo "$DST" ;;
    esac
}
# holds FAULT: whether the fault lasts (and has an end).
holds() {
    case $1 in
    none | hup-* | abort) return 1 ;;
    esac
}

# where NAME: "a", "b", "both", "none": the hosts NAME is on (running or paused).
where() {
    _wa=$(bed_domstate a "$1")
    _wb=$(bed_domstate b "$1")
    case $_wa/$_wb in
    absent/absent) echo none ;;
    */absent) echo a ;;
    absent/*) echo b ;;
    *) echo both ;;
    esac
}

# settled: g1's copies are in a state that lasts: not "in shutdown", not on both hosts
# while one of them is still being cleaned up (a restarted libvirtd tidies an incoming copy).
settled() {
    _sa=$(bed_domstate a g1)
    _sb=$(bed_domstate b g1)
    case $_sa/$_sb in
    running/absent | paused/absent | absent/running | absent/paused) return 0 ;;
    esac
    return 1
}

# jobs_ok: every job on both hosts is done or rolled-back, or needs attention saying what
# to do; the bad ones are listed in $T/bad-jobs.
jobs_ok() {
    : >"$T/bad-jobs"
    for _jh in a b; do
        api_on "$_jh" GET /v1/migrations
        if [ "$API_STATUS" != 200 ]; then
            echo "$(bed_hostname "$_jh"): GET /v1/migrations answered $API_STATUS" >>"$T/bad-jobs"
            continue
        fi
        jq -r '.migrations[] | select((.phase == "done" or .phase == "rolled-back" or
                (.phase == "failed-needs-attention" and ((.attention // "") | length) > 0)) | not)
            | "\(.id) \(.phase) attention=\(.attention)"' "$T/api.body" >>"$T/bad-jobs"
    done
    [ ! -s "$T/bad-jobs" ]
}

# repair NAME: puts g1 right after an outcome that needed a person, as the attention text
# says: one copy (the running one, else the source's), resumed unless it was paused before,
# with its device; REPAIRED lists what was done.
repair() {
    REPAIRED=
    _w=$(where g1)
    if [ "$_w" = both ]; then
        # Keep the copy that runs; when neither does, the source's: a paused copy on the
        # destination is what a transfer that did not complete leaves, and the attention says
        # to destroy it there and never resume it.
        if [ "$(bed_domstate "$DST" g1)" = running ]; then
            _drop=$SRC
        else
            _drop=$DST
        fi
        destroy_copy "$_drop"
        _w=$(bed_peer "$_drop")
    fi
    if [ "$_w" = none ]; then
        # Lost: start it again where it is defined, else from its XML on the source.
        if bed_virsh "$SRC" dominfo g1; then
            _w=$SRC
        elif bed_virsh "$DST" dominfo g1; then
            _w=$DST
        else
            _w=$SRC
            bed_virsh "$_w" define "$T/g1.xml"
        fi
        bed_virsh "$_w" start g1
        REPAIRED="$REPAIRED started-on-$(bed_hostname "$_w")"
        wait_for "bed_ticks g1 $(bed_hostname "$_w") | grep -qv '^0$'" 90
    fi
    HERE=$_w
    if [ "$WANT" = running ] && [ "$(bed_domstate "$HERE" g1)" = paused ]; then
        bed_virsh "$HERE" resume g1 && REPAIRED="$REPAIRED resumed-on-$(bed_hostname "$HERE")"
    fi
    if ! bed_has_device "$HERE" g1 ua-scratch0; then
        printf '%s\n' "$DEVICE_XML" >"$T/device.xml"
        if qemu_has_device "$HERE"; then
            # QEMU has it and libvirt does not: libvirtd was killed after QEMU added it (a
            # restarted libvirtd does not learn of it).  Out of QEMU first, then in again.
            bed_in "$HERE" virsh -q -c qemu:///system qemu-monitor-command g1 --hmp \
                'device_del ua-scratch0' >"$T/virsh.out" 2>&1
            if [ "$(bed_domstate "$HERE" g1)" = running ] &&
                wait_for "! qemu_has_device $HERE" 30; then
                REPAIRED="$REPAIRED removed-device-libvirt-did-not-know-from-qemu"
            fi
        fi
        bed_in "$HERE" virsh -q -c qemu:///system attach-device g1 "$T/device.xml" --live \
            >"$T/virsh.out" 2>&1 && REPAIRED="$REPAIRED attached-device-on-$(bed_hostname "$HERE")"
        wait_for "bed_has_device $HERE g1 ua-scratch0" 30 || diag_file "$T/virsh.out" 3
    fi
}

# destroy_copy H: destroys g1 on H.  A libvirtd restarted during an incoming migration may
# keep that copy under a migration job it never ends, so that every state change fails with
# "cannot acquire state change lock": the libvirtd is then killed and started again (its
# reconnect ends the job), as a person would, and REPAIRED says so.
destroy_copy() {
    bed_virsh "$1" destroy g1 && {
        REPAIRED="$REPAIRED destroyed-copy-on-$(bed_hostname "$1")"
        return 0
    }
    grep -q 'state change lock' "$T/virsh.out" || return 1
    bed_in "$1" virsh -q -c qemu:///system domjobinfo g1 >"$T/jobinfo.out" 2>&1
    diag "round $ROUND: libvirtd on $(bed_hostname "$1") holds g1's job:"
    diag_file "$T/jobinfo.out" 10
    keep_logs "libvirtd-holds-job"
    bed_kill_libvirtd "$1" KILL
    bed_restart_libvirtd "$1"
    REPAIRED="$REPAIRED restarted-libvirtd-holding-a-job-on-$(bed_hostname "$1")"
    [ "$(bed_domstate "$1" g1)" = absent ] && return 0
    bed_virsh "$1" destroy g1 && REPAIRED="$REPAIRED destroyed-copy-on-$(bed_hostname "$1")"
}

# keep_logs WHY: copies both hosts' itsmigd, libvirtd and QEMU logs of this round to
# CHAOS_KEEP/round-N-WHY (when CHAOS_KEEP is set), since the run's directory goes at its end.
keep_logs() {
    [ -n "${CHAOS_KEEP:-}" ] || return 0
    _k=$CHAOS_KEEP/round-$ROUND-$1
    for _h in a b; do
        mkdir -p "$_k/$_h" &&
            cp -r "$T/d-$_h/itsmigd.log" "$T/h$_h/log" "$_k/$_h/" 2>/dev/null
    done
    [ -f "$T/job.json" ] && cp "$T/job.json" "$_k/"
    diag "round $ROUND: logs kept in $_k"
}

# qemu_has_device H: g1's QEMU on H has the device, whatever libvirt says.
qemu_has_device() {
    bed_in "$1" virsh -q -c qemu:///system qemu-monitor-command g1 --hmp 'info qtree' 2>/dev/null |
        grep -q 'id "ua-scratch0"'
}

# ---- bookkeeping -------------------------------------------------------------------------

: >"$T/outcomes" # FAULT OUTCOME per round
: >"$T/violations"
: >"$T/bed-failures" # rounds not run: the bed was not ready
# Left paused or without the device by a job that ended done or rolled-back (violations), and
# by one that needed attention (put right by hand, as its text said).
LOST=0 TWICE=0 LEFT_PAUSED=0 NO_DEVICE=0 ATT_PAUSED=0 ATT_NO_DEVICE=0 REPAIRS=0

# move_to H: g1 onto host H by a plain safe job, before a round whose direction needs it.
move_to() {
    [ "$HERE" = "$1" ] && return 0
    api_on "$HERE" POST /v1/migrations -H 'Content-Type: application/json' \
        -d "{\"domain\":\"g1\",\"destination\":\"$1\",\"options\":{\"resume\":false}}"
    _mid=$(jbody .id)
    if [ "$API_STATUS" != 202 ] ||
        ! wait_for "api_on $HERE GET /v1/migrations/$_mid; [ \"\$(jbody .finished)\" = true ]" 180 ||
        [ "$(jbody .phase)" != "done" ]; then
        not_ok "$RDESC: the placing move of g1 to $(bed_hostname "$1") before the round is done"
        api_diag
        echo "round $ROUND ($PARAMS): the placing move failed: $(jbody .phase) $(jbody .error.code)" >>"$T/violations"
        return 1
    fi
    HERE=$1
}

# ---- the summary -------------------------------------------------------------------------

summary() {
    RUN_S=$(( ($(now_ms) - RUN_T0) / 1000 ))
    echo "seed: $SEED"
    echo "rounds: $ROUND of $ROUNDS"
    echo "wall time: $RUN_S s (bed set-up included)"
    echo
    printf '%-20s %6s %12s %10s %10s %6s\n' fault done rolled-back attention VIOLATION total
    for f in $FAULTS; do
        awk -v f="$f" '$1 == f { n[$2]++; t++ }
            END { if (t) printf "%-20s %6d %12d %10d %10d %6d\n", f, n["done"], n["rolled-back"],
                  n["attention"], n["VIOLATION"], t }' "$T/outcomes"
    done
    awk '{ n[$2]++; t++ }
        END { printf "%-20s %6d %12d %10d %10d %6d\n", "all", n["done"], n["rolled-back"],
              n["attention"], n["VIOLATION"], t }' "$T/outcomes"
    echo
    echo "guests lost: $LOST"
    echo "guests running twice: $TWICE"
    echo "guests left paused by a job that ended done or rolled-back: $LEFT_PAUSED"
    echo "guests left without their device by a job that ended done or rolled-back: $NO_DEVICE"
    echo "guests left paused by a job needing attention (it said so): $ATT_PAUSED"
    echo "guests left without their device by a job needing attention (it said so): $ATT_NO_DEVICE"
    echo "rounds put right by hand (as the attention text said): $REPAIRS"
    [ -s "$T/repairs" ] && sed 's/^/  /' "$T/repairs"
    echo "violations: $(wc -l <"$T/violations")"
    sed 's/^/  /' "$T/violations"
    echo "bed failures (rounds not run, not counted above): $(wc -l <"$T/bed-failures")"
    sed 's/^/  /' "$T/bed-failures"
}
# report: the summary into $CHAOS_REPORT, if one is asked for; the file's "## notes" section
# (what people wrote about earlier runs) is kept after it.
report() {
    [ -n "${CHAOS_REPORT:-}" ] || return 0
    {
        echo "# make chaos: tests/e2e/chaos.sh on the two-host bed"
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        # The report itself is a tracked file that the run rewrites: not a change of the code.
        _c=$(git -C "$srcdir" describe --always 2>/dev/null || echo unknown)
        git -C "$srcdir" diff --quiet HEAD -- . ':(exclude)tests/bench/chaos.txt' 2>/dev/null ||
            _c="$_c with uncommitted changes"
        echo "commit: $_c"
        echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
        summary
        if [ -f "$CHAOS_REPORT" ]; then
            echo
            sed -n '/^## notes$/,$p' "$CHAOS_REPORT"
        fi
    } >"$CHAOS_REPORT.tmp" && mv "$CHAOS_REPORT.tmp" "$CHAOS_REPORT"
}

# ---- the rounds --------------------------------------------------------------------------

ROUND=0
while [ "$ROUND" -lt "$ROUNDS" ]; do
    if [ "$BUDGET" -gt 0 ] && [ $(($(now_ms) - RUN_T0)) -ge $((BUDGET * 1000)) ]; then
        diag "chaos: CHAOS_TIME=$BUDGET s has passed; no new round starts"
        break
    fi
    ROUND=$((ROUND + 1))
    R_T0=$(now_ms)
    if [ -n "${CHAOS_ROUND:-}" ]; then
        PARAMS=$CHAOS_ROUND
    else
        pick safe live; p_mode=$R
        rand 4; [ "$R" = 0 ] && p_paused=yes || p_paused=no
        pick a b; p_from=$R
        # shellcheck disable=SC2086
        pick $FAULTS; p_fault=$R
        # shellcheck disable=SC2086
        if [ "$p_mode" = safe ]; then pick $SAFE_PHASES; else pick $LIVE_PHASES; fi
        p_moment=$R
        # shellcheck disable=SC2086
        pick $HOLDS; p_hold=$R
        PARAMS="mode=$p_mode paused=$p_paused from=$p_from fault=$p_fault moment=$p_moment hold=$p_hold"
    fi
    MODE='' PAUSED='' FROM='' FAULT='' MOMENT='' HOLD=''
    for kv in $PARAMS; do
        case $kv in
        mode=safe | mode=live) MODE=${kv#*=} ;;
        paused=yes | paused=no) PAUSED=${kv#*=} ;;
        from=a | from=b) FROM=${kv#*=} ;;
        fault=*) FAULT=${kv#*=} ;;
        moment=*) MOMENT=${kv#*=} ;;
        hold=*) HOLD=${kv#*=} ;;
        *) bail "round parameters: '$kv' is not one of mode=safe|live paused=yes|no from=a|b fault= moment= hold=" ;;
        esac
    done
    known=no
    for f in $FAULTS; do [ "$f" = "$FAULT" ] && known=yes; done
    [ "$known" = yes ] || bail "round parameters: no fault '$FAULT'"
    [ "$(phase_index "$MODE" "$MOMENT")" != 99 ] || bail "round parameters: no $MODE phase '$MOMENT'"
    case $HOLD in '' | *[!0-9]*) bail "round parameters: hold must be seconds" ;; esac
    [ -n "$MODE" ] && [ -n "$PAUSED" ] && [ -n "$FROM" ] || bail "round parameters: '$PARAMS' lacks one"
    RDESC="round $ROUND ($PARAMS)"
    diag "round $ROUND: CHAOS_ROUND='$PARAMS' (seed $SEED)"
    both_connected || continue

    # What a round leaves must last: a late change (an unplug completing after a rollback)
    # is the previous round's violation.
    if [ "$ROUND" -gt 1 ] && [ -n "${PREV:-}" ]; then
        late=
        [ "$(where g1)" = "$HERE" ] || late="$late moved"
        [ "$(bed_domstate "$HERE" g1)" = running ] || late="$late $(bed_domstate "$HERE" g1)"
        bed_has_device "$HERE" g1 ua-scratch0 || late="$late no-device"
        if [ -n "$late" ]; then
            not_ok "before round $ROUND: g1 is as round $((ROUND - 1)) left it, running on $(bed_hostname "$HERE") with its device" \
                "changed since:$late"
            case $late in *no-device*) NO_DEVICE=$((NO_DEVICE + 1)) ;; esac
            echo "round $((ROUND - 1)) ($PREV), seed $SEED: after the round ended:$late" >>"$T/violations"
            sed -i '$ s/ [^ ]*$/ VIOLATION/' "$T/outcomes"
            WANT=running
            repair
            diag "before round $ROUND: put right:$REPAIRED"
        fi
    fi
    PREV=$PARAMS
    move_to "$FROM" || continue
    SRC=$FROM DST=$(bed_peer "$FROM")
    if [ "$PAUSED" = yes ]; then
        bed_virsh "$SRC" suspend g1 || bail "cannot pause g1 on $SRC"
        WANT=paused
    else
        WANT=running
    fi

    opts="\"phase_timeout\":$PHASE_TIMEOUT"
    # A paused guest cannot release a device (itsmigd refuses to detach it): it moves with it.
    [ "$PAUSED" = yes ] && opts="$opts,\"quiesce\":false"
    [ "$MOMENT" = transfer ] && opts="$opts,\"bandwidth\":$SLOW_BANDWIDTH"
    api_on "$SRC" POST /v1/migrations -H 'Content-Type: application/json' \
        -d "{\"domain\":\"g1\",\"destination\":\"$DST\",\"mode\":\"$MODE\",\"options\":{$opts}}"
    ID=$(jbody .id)
    if [ "$API_STATUS" != 202 ]; then
        not_ok "$RDESC: the job is accepted" "status $API_STATUS"
        api_diag
        echo "round $ROUND ($PARAMS): the job was refused ($API_STATUS $(jbody .error.code))" >>"$T/violations"
        echo "$FAULT VIOLATION" >>"$T/outcomes"
        break
    fi

    # The moment: polled; a phase too short to be seen is hit at the next one seen.
    SEEN=
    at_moment "$MODE" "$MOMENT" || true
    ABORT_STATUS=
    inject "$FAULT"
    diag "round $ROUND: job $ID, $FAULT injected in ${SEEN:-?}"
    if holds "$FAULT"; then
        sleep "$HOLD"
        undo "$FAULT"
    fi
    # Whatever the fault, both daemons run again before the verdict.
    for h in a b; do
        libvirtd_up "$h"
        itsmigd_up "$h"
    done

    # The job's end, as its source itsmigd tells it.
    if wait_for "api_on $SRC GET /v1/migrations/$ID -m 5; [ \"\$(jbody .finished)\" = true ]" 400; then
        ok "$RDESC: the job ends"
    else
        not_ok "$RDESC: the job ends" "still $(jbody .phase) after 400 s"
        api_diag
    fi
    cp "$T/api.body" "$T/job.json"
    END=$(jq -r .phase "$T/job.json" 2>/dev/null)
    case $END in
    done) OUTCOME=done HERE=$DST ;;
    rolled-back) OUTCOME=rolled-back HERE=$SRC ;;
    failed-needs-attention) OUTCOME=attention ;;
    *) OUTCOME=unfinished ;;
    esac
    diag "round $ROUND: job $ID $END ($(jq -r '.error.code // "no error"' "$T/job.json" 2>/dev/null)) in $(( ($(now_ms) - R_T0) / 1000 )) s"
    [ "$OUTCOME" = attention ] && diag "round $ROUND: attention: $(jq -r .attention "$T/job.json")"

    VIOL=
    [ "$OUTCOME" = unfinished ] && VIOL="$VIOL unfinished-job"
    if [ "$OUTCOME" = attention ]; then
        # The text must say what to do: a reason and where the guest is.
        if jq -e '(.attention | length) > 20 and (.error.message | length) > 0' "$T/job.json" >/dev/null; then
            ok "$RDESC: the job needing attention says why and what a person must do"
        else
            not_ok "$RDESC: the job needing attention says why and what a person must do"
            VIOL="$VIOL attention-text"
        fi
    fi

    # A libvirtd restarted after a kill tidies copies for a while; give the world time to settle.
    wait_for settled 60 || true
    W=$(where g1)
    case $W in
    none) LOST=$((LOST + 1)); VIOL="$VIOL lost" ;;
    both)
        [ "$(bed_domstate a g1)" = running ] && [ "$(bed_domstate b g1)" = running ] &&
            TWICE=$((TWICE + 1))
        VIOL="$VIOL on-two-hosts" ;;
    esac

    if [ "$OUTCOME" = attention ] || [ "$OUTCOME" = unfinished ]; then
        # Where the job left the guest, before it is put right.
        if [ "$W" = a ] || [ "$W" = b ]; then
            HERE=$W
            _st=$(bed_domstate "$HERE" g1)
            [ "$_st" = paused ] && [ "$WANT" = running ] && ATT_PAUSED=$((ATT_PAUSED + 1)) &&
                diag "round $ROUND: the job left g1 paused on $(bed_hostname "$HERE")"
            bed_has_device "$HERE" g1 ua-scratch0 || {
                ATT_NO_DEVICE=$((ATT_NO_DEVICE + 1))
                diag "round $ROUND: the job left g1 without its device on $(bed_hostname "$HERE")"
            }
        fi
        repair
        if [ -n "$REPAIRED" ]; then
            REPAIRS=$((REPAIRS + 1))
            diag "round $ROUND: put right as the attention text says:$REPAIRED"
            echo "round $ROUND ($PARAMS): put right:$REPAIRED" >>"$T/repairs"
        fi
    elif [ "$W" = both ] || [ "$W" = none ]; then
        # A violation: put right below, once counted.
        :
    else
        # done or rolled-back: the outcome names the host, the run state is the one before.
        if [ "$W" != "$HERE" ]; then
            VIOL="$VIOL wrong-host"
        fi
        _st=$(bed_domstate "$W" g1)
        if [ "$_st" != "$WANT" ]; then
            [ "$_st" = paused ] && LEFT_PAUSED=$((LEFT_PAUSED + 1))
            VIOL="$VIOL run-state-$_st"
        fi
        if ! bed_has_device "$W" g1 ua-scratch0; then
            NO_DEVICE=$((NO_DEVICE + 1))
            VIOL="$VIOL no-device"
        fi
    fi

    if bed_invariants "$RDESC" g1 "$HERE" ua-scratch0 "$WANT"; then
        :
    else
        VIOL="$VIOL invariants:$(echo $BED_INV_FAILED | tr ' ' ,)"
    fi
    if jobs_ok; then
        ok "$RDESC: every job of both hosts is done, rolled back or says what a person must do"
    else
        not_ok "$RDESC: every job of both hosts is done, rolled back or says what a person must do"
        diag_file "$T/bad-jobs" 10
        VIOL="$VIOL jobs"
    fi

    if [ -n "$VIOL" ]; then
        OUTCOME=VIOLATION
        not_ok "$RDESC: no violation (seed $SEED)" "violated:$VIOL"
        echo "round $ROUND ($PARAMS), seed $SEED, job $ID ended $END:$VIOL" >>"$T/violations"
        for h in a b; do diag_file "$T/d-$h/itsmigd.log" 15; done
        keep_logs violation
        # The next round starts clean.
        repair
        [ -z "$REPAIRED" ] || diag "round $ROUND: put right after the violation:$REPAIRED"
    else
        ok "$RDESC: no violation, the job ended $OUTCOME"
    fi
    echo "$FAULT $OUTCOME" >>"$T/outcomes"

    # The next round starts from a running guest.
    if [ "$(bed_domstate "$HERE" g1)" = paused ]; then
        bed_virsh "$HERE" resume g1 || diag "cannot resume g1 on $HERE"
    fi
    diag "round $ROUND: $OUTCOME in $(( ($(now_ms) - R_T0) / 1000 )) s"
    report
done

summary >"$T/summary"
while IFS= read -r line; do diag "$line"; done <"$T/summary"
report
if [ "$LOST" = 0 ] && [ "$TWICE" = 0 ]; then
    ok "chaos: no guest lost, none running twice, in $ROUND rounds (seed $SEED)"
else
    not_ok "chaos: no guest lost, none running twice, in $ROUND rounds (seed $SEED)" \
        "lost $LOST, running twice $TWICE"
fi

done_testing
