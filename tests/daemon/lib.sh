# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# Helpers for the tests that drive itsmigd for real, sourced by
# tests/daemon/*.sh:
#
#   . "${top_srcdir:-.}/tests/daemon/lib.sh"
#
# They give TAP output (ok / not_ok / is / skip / diag / done_testing), a
# private temporary directory that is removed on exit together with every
# process the test started (and only those), a private libvirtd serving the
# test driver, itsmigd started against it, a curl wrapper for the REST API,
# an event-stream reader and wait_for.
#
# Processes must be started from the test's own shell, not inside $(...) or
# a pipeline: cleanup and the exit status checks need them to be its children.
#
# Environment: top_srcdir, top_builddir (set by make check);
# ITSMIGD (the daemon, default $top_builddir/daemon/itsmigd);
# ITSMIG_TEST_KEEP=1 keeps the temporary directory for a look afterwards.
#
# Needs: curl, jq, libvirtd and virsh (libvirt-daemon, libvirt-clients).

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
ITSMIGD=${ITSMIGD:-$builddir/daemon/itsmigd}
NOTIFY_LISTENER=${NOTIFY_LISTENER:-$builddir/tests/notify-listener}
HTTP_RAW=${HTTP_RAW:-$builddir/tests/daemon/http-raw}
LIBTOOL=${LIBTOOL:-$builddir/libtool}
TEST_NAME=$(basename "$0" .sh)

# ---- TAP ----------------------------------------------------------------------

_tap_n=0
_tap_failed=0
_tap_done=no

diag() {
    for _line in "$@"; do
        printf '%s\n' "$_line" | sed 's/^/# /'
    done
}

# diag_file FILE [LINES]: the end of a file (a log), as diagnostics.
diag_file() {
    if [ -s "$1" ]; then
        diag "--- last ${2:-40} lines of $1:"
        tail -n "${2:-40}" "$1" | sed 's/^/#   /'
    else
        diag "--- $1 is empty or missing"
    fi
}

ok() {
    _tap_n=$((_tap_n + 1))
    printf 'ok %d - %s\n' "$_tap_n" "$1"
}

# not_ok DESC [DIAG...]
not_ok() {
    _tap_n=$((_tap_n + 1))
    _tap_failed=$((_tap_failed + 1))
    printf 'not ok %d - %s\n' "$_tap_n" "$1"
    shift
    [ $# -eq 0 ] || diag "$@"
}

# check DESC COMMAND...: passes when COMMAND succeeds.
check() {
    _desc=$1
    shift
    if "$@"; then
        ok "$_desc"
    else
        not_ok "$_desc" "failed: $*"
    fi
}

# is GOT WANT DESC
is() {
    if [ "$1" = "$2" ]; then
        ok "$3"
    else
        not_ok "$3" "got:  '$1'" "want: '$2'"
    fi
}

# skip DESC REASON
skip() {
    _tap_n=$((_tap_n + 1))
    printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$1" "$2"
}

# skip_all REASON: for a test that cannot run here at all.
skip_all() {
    printf '1..0 # SKIP %s\n' "$1"
    _tap_done=yes
    exit 0
}

bail() {
    printf 'Bail out! %s\n' "$*"
    _tap_done=yes
    exit 1
}

# The plan comes last so that a test that dies half way has none and is an
# error.  The exit status is 0 even after failures: the "not ok" lines are
# the result and the TAP driver counts them.
done_testing() {
    printf '1..%d\n' "$_tap_n"
    _tap_done=yes
    if [ "$_tap_failed" -ne 0 ]; then
        diag "$_tap_failed of $_tap_n checks failed"
        [ -n "${T:-}" ] && [ "${ITSMIG_TEST_KEEP:-}" = 1 ] && diag "files kept in $T"
    fi
    exit 0
}

# ---- processes ----------------------------------------------------------------

_our_pids=

# track_pid PID: killed at exit if still running.
track_pid() {
    _our_pids="$_our_pids $1"
}

untrack_pid() {
    _rest=
    for _p in $_our_pids; do
        [ "$_p" = "$1" ] || _rest="$_rest $_p"
    done
    _our_pids=$_rest
}

# pid_alive PID: running, not a zombie waiting to be reaped.
pid_alive() {
    [ -r "/proc/$1/stat" ] || return 1
    _st=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$_st" ] && [ "$_st" != Z ]
}

# stop_pid PID [SIGNAL [TIMEOUT]]: signals one of our children, waits for it
# to end (SIGKILL after TIMEOUT seconds, default 10) and reaps it.  Sets
# STOP_STATUS to its exit status and STOP_KILLED to yes when it needed SIGKILL.
stop_pid() {
    _pid=$1
    _sig=${2:-TERM}
    _limit=$(( ${3:-10} * 10 ))
    STOP_KILLED=no
    kill "-$_sig" "$_pid" 2>/dev/null
    _i=0
    while pid_alive "$_pid"; do
        if [ "$_i" -ge "$_limit" ]; then
            kill -KILL "$_pid" 2>/dev/null
            STOP_KILLED=yes
            break
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    wait "$_pid" 2>/dev/null
    STOP_STATUS=$?
    untrack_pid "$_pid"
}

# reap_pid PID [TIMEOUT]: waits for one of our children to end by itself
# (SIGKILL after TIMEOUT seconds, default 10); sets STOP_STATUS.
reap_pid() {
    stop_pid "$1" 0 "${2:-10}"
}

_cleanup() {
    for _p in $_our_pids; do
        pid_alive "$_p" && kill -TERM "$_p" 2>/dev/null
    done
    for _p in $_our_pids; do
        _i=0
        while pid_alive "$_p" && [ "$_i" -lt 30 ]; do
            sleep 0.1
            _i=$((_i + 1))
        done
        pid_alive "$_p" && kill -KILL "$_p" 2>/dev/null
        wait "$_p" 2>/dev/null
    done
    _our_pids=
    if [ -n "${T:-}" ] && [ -d "$T" ]; then
        if [ "${ITSMIG_TEST_KEEP:-}" = 1 ]; then
            echo "# kept $T" >&2
        else
            rm -rf "$T"
        fi
    fi
}

_on_exit() {
    _status=$?
    if [ "$_tap_done" != yes ]; then
        printf 'Bail out! %s ended before its plan (status %d)\n' "$TEST_NAME" "$_status"
    fi
    _cleanup
}

trap _on_exit EXIT
trap 'bail "interrupted"' INT TERM HUP

# ---- the temporary directory -----------------------------------------------------

# Short, under /tmp: AF_UNIX socket paths must fit in 108 bytes.
T=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-$TEST_NAME.XXXXXX") || bail "cannot create a temporary directory"
chmod 0755 "$T"

# ---- prerequisites ---------------------------------------------------------------

# require_tools TOOL...: skips the whole test when one is missing.
require_tools() {
    for _t in "$@"; do
        command -v "$_t" >/dev/null 2>&1 || skip_all "$_t is not installed"
    done
}

require_daemon() {
    [ -x "$ITSMIGD" ] || bail "$ITSMIGD has not been built"
}

require_helper() {
    [ -x "$1" ] || bail "$1 has not been built"
}

# ---- waiting ------------------------------------------------------------------

# wait_for CONDITION [TIMEOUT]: evaluates the shell CONDITION every 0.1 s until
# it holds (status 0) or TIMEOUT seconds (default 10, may have a fraction)
# have passed (status 1).
wait_for() {
    _cond=$1
    _tenths=$(awk -v t="${2:-10}" 'BEGIN { printf "%d", t * 10 }')
    _i=0
    while :; do
        eval "$_cond" && return 0
        [ "$_i" -ge "$_tenths" ] && return 1
        sleep 0.1
        _i=$((_i + 1))
    done
}

# now_ms: a clock in milliseconds that only goes forward, for measuring durations.
now_ms() {
    awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# ---- libvirtd -----------------------------------------------------------------

LIBVIRT_DIR=$T/libvirt
LIBVIRT_SOCK=$LIBVIRT_DIR/run/libvirt-sock
LIBVIRT_URI="test+unix:///default?socket=$LIBVIRT_SOCK"
LIBVIRTD_PID=
LIBVIRTD_LOG=$LIBVIRT_DIR/libvirtd.log

# libvirt_file_uri NODE-XML: the URI of a test-driver node read from a file.
# Every connection to it gets a private copy of the node; only /default is
# shared between clients.
libvirt_file_uri() {
    printf 'test+unix://%s?socket=%s\n' "$1" "$LIBVIRT_SOCK"
}

# start_libvirtd: a private libvirtd on a socket in $T that has only the
# built-in test driver (the empty driver directory keeps it from loading the
# QEMU driver).  Bails out when it does not answer within 15 s.
start_libvirtd() {
    require_tools libvirtd virsh
    mkdir -p "$LIBVIRT_DIR/run" "$LIBVIRT_DIR/drivers"
    cat >"$LIBVIRT_DIR/libvirtd.conf" <<EOF
unix_sock_dir = "$LIBVIRT_DIR/run"
unix_sock_group = "$(id -gn)"
unix_sock_rw_perms = "0770"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$LIBVIRTD_LOG"
EOF
    LIBVIRT_DRIVER_DIR="$LIBVIRT_DIR/drivers" \
        libvirtd -f "$LIBVIRT_DIR/libvirtd.conf" -p "$LIBVIRT_DIR/libvirtd.pid" \
        >>"$LIBVIRT_DIR/libvirtd.out" 2>&1 &
    LIBVIRTD_PID=$!
    track_pid "$LIBVIRTD_PID"
    if ! wait_for 'libvirtd_answers' 15; then
        diag_file "$LIBVIRT_DIR/libvirtd.out"
        diag_file "$LIBVIRTD_LOG"
        bail "the private libvirtd did not answer on $LIBVIRT_SOCK"
    fi
}

libvirtd_answers() {
    pid_alive "$LIBVIRTD_PID" || return 1
    [ -S "$LIBVIRT_SOCK" ] || return 1
    virsh -q -c "$LIBVIRT_URI" uri >/dev/null 2>&1
}

# stop_libvirtd [SIGNAL]
stop_libvirtd() {
    [ -n "$LIBVIRTD_PID" ] || return 0
    stop_pid "$LIBVIRTD_PID" "${1:-TERM}" 10
    LIBVIRTD_PID=
}

# vsh ARGS...: virsh on the private libvirtd (URI $VSH_URI, default /default);
# its output is in $T/virsh.out, and shown as diagnostics when it fails.
vsh() {
    if virsh -q -c "${VSH_URI:-$LIBVIRT_URI}" "$@" >"$T/virsh.out" 2>&1; then
        return 0
    fi
    diag "virsh $* failed:"
    diag_file "$T/virsh.out" 10
    return 1
}

# ---- itsmigd ------------------------------------------------------------------
#
# Several daemons can run in one test; each has a name and a directory
# $T/d-NAME holding its config, API socket, state directory and log.
# use_itsmigd NAME selects the one api/events/health talk to.

use_itsmigd() {
    ITSMIGD_NAME=$1
    ITSMIGD_DIR=$T/d-$1
    ITSMIGD_SOCK=$ITSMIGD_DIR/api.sock
    ITSMIGD_CONF=$ITSMIGD_DIR/itsmigd.conf
    ITSMIGD_LOG=$ITSMIGD_DIR/itsmigd.log
    if [ -f "$ITSMIGD_DIR/pid" ]; then
        ITSMIGD_PID=$(cat "$ITSMIGD_DIR/pid")
    else
        ITSMIGD_PID=
    fi
    if [ -f "$ITSMIGD_DIR/api-sock" ]; then
        ITSMIGD_SOCK=$(cat "$ITSMIGD_DIR/api-sock")
    fi
}

use_itsmigd main

# start_itsmigd [OPTION...] [-- DAEMON-ARG...]
#   --name NAME          the daemon's name (default: the current one)
#   --state-dir DIR      [daemon] state-dir, kept across restarts (default: one in the
#                        daemon's directory, made anew at each start)
#   --set SECTION.KEY=V  a config key on top of the defaults below
#   --uri URI            passed as --connect (default $LIBVIRT_URI)
#   --env VAR=VALUE      in the daemon's environment
#   --watchdog-usec N    WATCHDOG_USEC=N and WATCHDOG_PID = the daemon's pid
#   --socket-activate    started by systemd-socket-activate on $ITSMIGD_DIR/activate.sock
#   --valgrind           under valgrind (see VALGRIND_ARGS below)
#   --no-wait            do not wait until /v1/health answers
#   --no-wait-connected  wait until it answers, not until it says libvirt is connected
#   --timeout S          how long to wait for /v1/health (default 20, 90 under valgrind)
#   --exec-in WORDS      a command that execs the rest, e.g. "nsenter -t PID -m -u -n"
#                        (it must exec, not fork: ITSMIGD_PID is its PID)
#
# The config: API socket and state directory in $ITSMIGD_DIR,
# reconnect-min = 1, reconnect-max = 4, log-level = info.
# Sets ITSMIGD_PID; bails out, showing the daemon's log, when it dies, does
# not answer in time or (unless told not to wait) does not connect to libvirt.
VALGRIND_ARGS="--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
--show-leak-kinds=definite --track-fds=no --num-callers=30"

start_itsmigd() {
    _name=$ITSMIGD_NAME
    _sets=
    _uri=$LIBVIRT_URI
    _envs=
    _wd=
    _activate=no
    _valgrind=no
    _wait=yes
    _connected=yes
    _timeout=
    _in=
    _state=
    while [ $# -gt 0 ]; do
        case $1 in
        --name) _name=$2; shift 2 ;;
        --state-dir) _state=$2; shift 2 ;;
        --exec-in) _in=$2; shift 2 ;;
        --set) _sets="$_sets
$2"; shift 2 ;;
        --uri) _uri=$2; shift 2 ;;
        --env) _envs="$_envs
$2"; shift 2 ;;
        --watchdog-usec) _wd=$2; shift 2 ;;
        --socket-activate) _activate=yes; shift ;;
        --valgrind) _valgrind=yes; shift ;;
        --no-wait) _wait=no; shift ;;
        --no-wait-connected) _connected=no; shift ;;
        --timeout) _timeout=$2; shift 2 ;;
        --) shift; break ;;
        *) break ;;
        esac
    done
    require_daemon
    use_itsmigd "$_name"
    rm -rf "$ITSMIGD_DIR"
    mkdir -p "$ITSMIGD_DIR/state"
    ITSMIGD_SOCK=$ITSMIGD_DIR/api.sock
    [ "$_activate" = yes ] && ITSMIGD_SOCK=$ITSMIGD_DIR/activate.sock
    printf '%s\n' "$ITSMIGD_SOCK" >"$ITSMIGD_DIR/api-sock"

    # One section at a time so that --set can add to any of them, and make
    # new ones ("host.arch=aarch64", "peer b.url=https://...").
    _secs=$(printf 'libvirt\napi\ndaemon\n%s\n' "$(printf '%s\n' "$_sets" | sed -n 's/^\([^.=]*\)\..*/\1/p')" |
        awk 'NF && !seen[$0]++')
    {
        printf '%s\n' "$_secs" | while IFS= read -r _sec; do
            printf '[%s]\n' "$_sec"
            case $_sec in
            libvirt) printf 'reconnect-min = 1\nreconnect-max = 4\n' ;;
            api) printf 'socket = %s\n' "$ITSMIGD_DIR/api.sock" ;;
            daemon) printf 'state-dir = %s\nlog-level = info\n' "${_state:-$ITSMIGD_DIR/state}" ;;
            esac
            printf '%s\n' "$_sets" | while IFS= read -r _kv; do
                case $_kv in
                "$_sec".*) printf '%s = %s\n' "$(printf '%s' "${_kv#"$_sec".}" | cut -d= -f1)" "${_kv#*=}" ;;
                esac
            done
            echo
        done
    } >"$ITSMIGD_CONF"

    set -- "$ITSMIGD" --config "$ITSMIGD_CONF" --connect "$_uri" "$@"
    if [ "$_valgrind" = yes ]; then
        require_tools valgrind
        # libtool finds the real binary behind its wrapper script.
        # shellcheck disable=SC2086
        set -- "$LIBTOOL" --mode=execute valgrind $VALGRIND_ARGS "--log-file=$ITSMIGD_DIR/valgrind.log" "$@"
        [ -n "$_timeout" ] || _timeout=90
    fi
    if [ -n "$_wd" ]; then
        # Every program in the chain execs the next, so $$ here is the daemon's pid.
        # shellcheck disable=SC2016
        set -- sh -c 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"' sh "$@"
        _envs="$_envs
WATCHDOG_USEC=$_wd"
    fi
    # No test needs a value with a space, so word splitting is enough.
    _envs=$(printf '%s\n' "$_envs" | sed '/^$/d')
    if [ "$_activate" = yes ]; then
        require_tools systemd-socket-activate
        # It passes on only PATH, HOME, USER, TERM and what -E names.
        _sa_env=
        for _e in $_envs; do
            _sa_env="$_sa_env -E $_e"
        done
        # shellcheck disable=SC2086
        set -- systemd-socket-activate -l "$ITSMIGD_SOCK" $_sa_env "$@"
    elif [ -n "$_envs" ]; then
        # shellcheck disable=SC2086
        set -- env $_envs "$@"
    fi
    if [ -n "$_in" ]; then
        # shellcheck disable=SC2086
        set -- $_in "$@"
    fi
    printf '%s\n' "$*" >"$ITSMIGD_DIR/cmdline"

    "$@" >"$ITSMIGD_LOG" 2>&1 </dev/null &
    ITSMIGD_PID=$!
    echo "$ITSMIGD_PID" >"$ITSMIGD_DIR/pid"
    track_pid "$ITSMIGD_PID"

    [ "$_wait" = yes ] || return 0
    if ! wait_for 'itsmigd_answers || ! pid_alive "$ITSMIGD_PID"' "${_timeout:-20}" ||
        ! pid_alive "$ITSMIGD_PID"; then
        diag "command: $(cat "$ITSMIGD_DIR/cmdline")"
        diag_file "$ITSMIGD_CONF"
        diag_file "$ITSMIGD_LOG" 60
        [ -f "$ITSMIGD_DIR/valgrind.log" ] && diag_file "$ITSMIGD_DIR/valgrind.log" 60
        if pid_alive "$ITSMIGD_PID"; then
            bail "itsmigd ($_name) did not answer GET /v1/health on $ITSMIGD_SOCK within ${_timeout:-20} s"
        fi
        wait "$ITSMIGD_PID"
        bail "itsmigd ($_name) exited with status $? before answering GET /v1/health"
    fi
    [ "$_connected" = yes ] || return 0
    if ! wait_for 'itsmigd_connected || ! pid_alive "$ITSMIGD_PID"' "${_timeout:-20}" ||
        ! pid_alive "$ITSMIGD_PID"; then
        diag_file "$ITSMIGD_LOG" 30
        bail "itsmigd ($_name) did not connect to libvirt within ${_timeout:-20} s"
    fi
}

itsmigd_connected() {
    [ "$(curl -s -m 2 --unix-socket "$ITSMIGD_SOCK" http://localhost/v1/health 2>/dev/null |
        jq -r .libvirt.connected 2>/dev/null)" = true ]
}

itsmigd_answers() {
    [ -S "$ITSMIGD_SOCK" ] || return 1
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' --unix-socket "$ITSMIGD_SOCK" \
        http://localhost/v1/health 2>/dev/null)" = 200 ]
}

# forget_itsmigd: reaps the current daemon after it died (a fault injected
# into it), so that it can be started again.
forget_itsmigd() {
    wait "$ITSMIGD_PID" 2>/dev/null
    untrack_pid "$ITSMIGD_PID"
    rm -f "$ITSMIGD_DIR/pid"
    ITSMIGD_PID=
}

# stop_itsmigd [SIGNAL]: sets STOP_STATUS (the exit status).
stop_itsmigd() {
    [ -n "$ITSMIGD_PID" ] || return 0
    stop_pid "$ITSMIGD_PID" "${1:-TERM}" "${ITSMIGD_STOP_TIMEOUT:-15}"
    rm -f "$ITSMIGD_DIR/pid"
    ITSMIGD_PID=
}

# ---- the REST API ---------------------------------------------------------------

# api METHOD PATH [CURL-ARG...]: one request to the current daemon.  Sets
# API_STATUS (HTTP status, 000 when there was no reply), API_BODY, API_REQ and
# API_CURL_RC; the headers are in $T/api.headers, the body in $T/api.body.
# The path goes as written (--path-as-is): no normalising of "..".
api() {
    _method=$1
    _path=$2
    shift 2
    API_REQ="$_method $_path"
    rm -f "$T/api.body" "$T/api.headers"
    API_STATUS=$(curl -s -S --path-as-is -m "${API_TIMEOUT:-10}" --unix-socket "$ITSMIGD_SOCK" \
        -X "$_method" -o "$T/api.body" -D "$T/api.headers" -w '%{http_code}' "$@" \
        "http://localhost$_path" 2>"$T/api.err")
    API_CURL_RC=$?
    [ -f "$T/api.body" ] || : >"$T/api.body"
    [ -f "$T/api.headers" ] || : >"$T/api.headers"
    API_BODY=$(cat "$T/api.body")
    if [ "$API_STATUS" = 000 ] && [ -n "${ITSMIGD_PID:-}" ] && ! pid_alive "$ITSMIGD_PID"; then
        itsmigd_died
    fi
}

# itsmigd_died: the current daemon is gone while the test still needs it.
itsmigd_died() {
    wait "$ITSMIGD_PID" 2>/dev/null
    _st=$?
    untrack_pid "$ITSMIGD_PID"
    not_ok "itsmigd ($ITSMIGD_NAME) is still running" \
        "it ended with status $_st; the last request was: $(api_req_short)"
    diag_file "$ITSMIGD_LOG" 30
    [ -f "$ITSMIGD_DIR/valgrind.log" ] && diag_file "$ITSMIGD_DIR/valgrind.log" 80
    bail "itsmigd ($ITSMIGD_NAME) died (status $_st), found at $(api_req_short)"
}

api_req_short() {
    if [ "${#API_REQ}" -gt 160 ]; then
        printf '%s... (%d bytes)\n' "$(printf '%s' "$API_REQ" | cut -c1-160)" "${#API_REQ}"
    else
        printf '%s\n' "$API_REQ"
    fi
}

# api_header NAME: a header of the last reply, without the CR.
api_header() {
    sed -n "s/^$1:[[:space:]]*//Ip" "$T/api.headers" | tr -d '\r' | tail -n 1
}

# jbody FILTER: jq -r FILTER on the last reply's body (empty when not JSON).
jbody() {
    jq -r "$1" "$T/api.body" 2>/dev/null
}

# api_diag: the last request and reply, for a failed check.
api_diag() {
    diag "request:  $(api_req_short)" "status:   $API_STATUS (curl exit $API_CURL_RC)"
    [ -s "$T/api.err" ] && diag "curl:     $(head -c 300 "$T/api.err")"
    diag "body:     $(head -c 600 "$T/api.body")"
}

# check_status DESC STATUS: the last reply had this status.
check_status() {
    if [ "$API_STATUS" = "$2" ]; then
        ok "$1"
    else
        not_ok "$1" "want status $2"
        api_diag
    fi
}

# check_json DESC JQ-EXPR: the last reply's body makes the jq expression true.
check_json() {
    if [ "$(jq -r "$2" "$T/api.body" 2>/dev/null)" = true ]; then
        ok "$1"
    else
        not_ok "$1" "want: $2"
        api_diag
    fi
}

# error_shape_ok CODE: the body is {"error":{"code":CODE,"message":"..."}}
# with nothing else, and the reply is JSON.  CODE may list alternatives, a|b.
error_shape_ok() {
    # jq -e alone would pass on an empty body.
    [ -s "$T/api.body" ] && jq -e --arg c "$1" '
        (keys == ["error"]) and (.error | type == "object")
        and (.error.code as $got | $c | split("|") | index($got) != null)
        and (.error.message | type == "string" and length > 0)' "$T/api.body" >/dev/null 2>&1 ||
        return 1
    api_header Content-Type | grep -qi '^application/json'
}

# check_error DESC STATUS CODE: the last reply is that error, in the spec's
# shape.  STATUS and CODE may list alternatives: "400|404" "invalid-argument|not-found".
check_error() {
    if printf '%s\n' "$2" | tr '|' '\n' | grep -qx "$API_STATUS" && error_shape_ok "$3"; then
        ok "$1"
    else
        not_ok "$1" "want status $2 with {\"error\":{\"code\":\"$3\",\"message\":...}} as application/json"
        diag "content-type: $(api_header Content-Type)"
        api_diag
    fi
}

# domain_has DOMAIN JQ-EXPR: GET /v1/domains/DOMAIN answers 200 with a body
# that makes the jq expression true (for wait_for).
domain_has() {
    api GET "/v1/domains/$1"
    [ "$API_STATUS" = 200 ] && [ "$(jbody "$2")" = true ]
}

# preflight DOMAIN BODY: POST /v1/domains/DOMAIN/preflight with the JSON BODY.
preflight() {
    api POST "/v1/domains/$1/preflight" -H 'Content-Type: application/json' -d "$2"
}

# ---- peers over TLS -------------------------------------------------------------

# tls_peer_files: a certificate for localhost and 127.0.0.1 in $T/cert.pem
# (key $T/key.pem), and the bearer tokens $T/token-b and $T/token-c.
tls_peer_files() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 ||
        bail "openssl cannot make a certificate"
    echo "token-of-b-0123456789" >"$T/token-b"
    echo "token-of-c-0123456789" >"$T/token-c"
    chmod 600 "$T/key.pem" "$T/token-b" "$T/token-c"
}

# tls_sets PORT: the itsmigd options of a TLS API port (each peer's token is
# its own "peer NAME.accept-token-file", set beside these).
tls_sets() {
    echo "--set api.listen=127.0.0.1:$1 --set api.tls-cert=$T/cert.pem"
    echo "--set api.tls-key=$T/key.pem"
}

# its_host_sets HOSTNAME REVISIONS DEFAULT: the itsmigd options that declare an
# arm64 host with an in-kernel ITS taking ITS ABI REVISIONS ("0,1"), DEFAULT
# the revision new guests get, and every ITS control, as a bed without KVM
# must declare it.
its_host_sets() {
    echo "--set daemon.hostname=$1 --set host.arch=aarch64 --set host.vgic-its=true"
    echo "--set host.its-abi-revisions=$2 --set host.default-its-abi-revision=$3"
    echo "--set host.save-tables=true --set host.restore-tables=true --set host.ctrl-reset=true"
    echo "--set host.save-pending-tables=true --set host.gicv4=none --set host.gicd-revision=3"
}

# test_node_xml UUID RUNSTATE: a node file for libvirt's test driver (libvirt_file_uri) with one
# arm64 GICv3 guest, g1, in RUNSTATE (1 running, 3 paused), on stdout.
test_node_xml() {
    cat <<EOF
<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>g1</name>
    <uuid>$1</uuid>
    <memory>1048576</memory>
    <vcpu>2</vcpu>
    <os><type arch='aarch64' machine='virt-7.2'>hvm</type></os>
    <features><gic version='3'/></features>
    <test:runstate>$2</test:runstate>
  </domain>
</node>
EOF
}

# start_node_source PEER-PORT MIGRATE-URI FAULT [OPTION...]: the private libvirtd, and host A's
# itsmigd of the test build (ITSMIGD_FAULT=FAULT) on the test driver's node file $T/node.xml
# (test_node_xml), its QEMU log in $T/qemu-logs, with peer b at https://127.0.0.1:PEER-PORT
# (token $T/token-b) whose libvirt is MIGRATE-URI; OPTION... are more itsmigd options.  Waits
# until it knows g1.
start_node_source() {
    _port=$1 _muri=$2 _fault=$3
    shift 3
    start_libvirtd
    mkdir -p "$T/qemu-logs"
    : >"$T/qemu-logs/g1.log"
    ITSMIGD=$builddir/tests/itsmigd-fault
    # shellcheck disable=SC2046
    start_itsmigd --name a --uri "$(libvirt_file_uri "$T/node.xml")" $(its_host_sets hostA 0,1 1) \
        --set "migration.qemu-log-dir=$T/qemu-logs" --set migration.qemu-log-mark=false \
        --set peers.timeout=3 --set peers.connect-timeout=2 \
        --set "peer b.url=https://127.0.0.1:$_port" --set "peer b.ca=$T/cert.pem" \
        --set "peer b.token-file=$T/token-b" --set "peer b.migrate-uri=$_muri" \
        --env "ITSMIGD_FAULT=$_fault" "$@"
    wait_for 'api GET /v1/domains/g1; [ "$API_STATUS" = 200 ]' 10 || bail "A does not know g1"
}

# test_domain_xml NAME UUID: the XML of an arm64 GICv3 guest for libvirt's
# test driver, on stdout.
test_domain_xml() {
    cat <<EOT
<domain type='test'>
  <name>$1</name>
  <uuid>$2</uuid>
  <memory>1048576</memory>
  <vcpu>2</vcpu>
  <os><type arch='aarch64' machine='virt-7.2'>hvm</type></os>
  <features><gic version='3'/></features>
</domain>
EOT
}

# fake_peer MODE PORT [PROBE-FILE]: tests/daemon/fake-peer.py in MODE on PORT
# with the tls_peer_files certificate; its pid file is $T/fake-MODE.pid.
fake_peer() {
    /usr/bin/python3 "$srcdir/tests/daemon/fake-peer.py" "$1" "$2" "$T/cert.pem" "$T/key.pem" \
        "$T/fake-$1.pid" ${3:+"$3"} >"$T/fake-$1.log" 2>&1 &
    track_pid $!
}

# ---- /metrics -------------------------------------------------------------------

# metrics_fetch: GET /metrics into $T/metrics.txt.
metrics_fetch() {
    curl -s -m 10 --unix-socket "$ITSMIGD_SOCK" -o "$T/metrics.txt" http://localhost/metrics
}

# metric_sum REGEX: the sum of the values of the samples whose line (name and
# labels) matches the extended REGEX; empty when none does.
metric_sum() {
    grep -v '^#' "$T/metrics.txt" | grep -E -- "$1" |
        awk 'NF >= 2 { s += $NF; n++ } END { if (n) printf "%.0f\n", s }'
}

# ---- /v1/events -----------------------------------------------------------------
#
# events_start NAME [LAST-EVENT-ID]: reads /v1/events of the current daemon into
# $T/ev-NAME.raw in the background.  events_parse NAME turns what arrived so
# far into $T/ev-NAME.json: a JSON array of {"id":N,"event":TYPE,"data":...}.

events_start() {
    if [ $# -ge 2 ]; then
        set -- "$1" -H "Last-Event-ID: $2"
    fi
    _evname=$1
    shift
    curl -s -N --unix-socket "$ITSMIGD_SOCK" -D "$T/ev-$_evname.headers" "$@" \
        http://localhost/v1/events >"$T/ev-$_evname.raw" 2>"$T/ev-$_evname.err" &
    _evpid=$!
    echo "$_evpid" >"$T/ev-$_evname.pid"
    track_pid "$_evpid"
}

events_stop() {
    [ -f "$T/ev-$1.pid" ] || return 0
    stop_pid "$(cat "$T/ev-$1.pid")" TERM 5
    rm -f "$T/ev-$1.pid"
}

events_parse() {
    # Only complete events (ended by a blank line) count: the last piece after
    # the final blank line is still arriving.  As in a browser, a block with
    # no data line ("retry: 2000") is not an event.
    jq -R -s '
        gsub("\r"; "") | split("\n\n") | .[:-1]
        | map(split("\n") | map(select(length > 0 and (startswith(":") | not)))
              | select(length > 0)
              | reduce .[] as $l ({event: "message", data: null};
                    ($l | index(":")) as $i
                    | (if $i then $l[:$i] else $l end) as $f
                    | (if $i then ($l[$i + 1:] | sub("^ "; "")) else "" end) as $v
                    | if $f == "id" then .id = $v
                      elif $f == "event" then .event = $v
                      elif $f == "data" then .data = (if .data == null then $v else .data + "\n" + $v end)
                      else . end))
        | map(select(.data != null)
              | .id = (.id | tonumber? // .) | .data = (.data | fromjson? // .))' \
        "$T/ev-$1.raw" >"$T/ev-$1.json.tmp" 2>"$T/ev-$1.jqerr" &&
        mv "$T/ev-$1.json.tmp" "$T/ev-$1.json"
}

# events_jq NAME FILTER: jq -r FILTER over the parsed events (events_parse first).
events_jq() {
    jq -r "$2" "$T/ev-$1.json"
}

# events_true NAME JQ-EXPR: the parsed events make the expression true.
events_true() {
    [ "$(jq -r "$2" "$T/ev-$1.json" 2>/dev/null)" = true ]
}

# events_wait NAME JQ-CONDITION [TIMEOUT]: waits until the stream's events make
# the condition true, e.g. '[.[] | select(.event == "lifecycle")] | length >= 6'.
events_wait() {
    _ew_name=$1
    _ew_expr=$2
    wait_for '_events_ready' "${3:-10}"
}

_events_ready() {
    events_parse "$_ew_name"
    events_true "$_ew_name" "$_ew_expr"
}

# ---- sd_notify --------------------------------------------------------------------

NOTIFY_PID=
NOTIFY_OUT=$T/notify.out
NOTIFY_SOCK=$T/notify.sock

# start_notify_listener: NOTIFY_SOCK receives, NOTIFY_OUT gets
# "SECONDS.MS ASSIGNMENT" lines.
start_notify_listener() {
    require_helper "$NOTIFY_LISTENER"
    : >"$NOTIFY_OUT"
    "$NOTIFY_LISTENER" -t "$NOTIFY_SOCK" >"$NOTIFY_OUT" 2>"$T/notify.err" &
    NOTIFY_PID=$!
    track_pid "$NOTIFY_PID"
    wait_for '[ -S "$NOTIFY_SOCK" ]' 5 || bail "notify-listener did not bind $NOTIFY_SOCK"
}

stop_notify_listener() {
    [ -n "$NOTIFY_PID" ] || return 0
    stop_pid "$NOTIFY_PID" TERM 5
    NOTIFY_PID=
}

# notified ASSIGNMENT-REGEX: a matching line arrived.
notified() {
    cut -d' ' -f2- "$NOTIFY_OUT" | grep -Eq -- "$1"
}
