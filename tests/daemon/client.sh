#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigctl host, preflight, matrix, domains and events against itsmigd (a
# private libvirtd with the test driver), and those and the migration
# commands (migrate, jobs, job, abort) against a stand-in that gives canned
# replies, one after the other where a job moves on: the text people read,
# --json, the exit statuses (0 allowed or done, 4 blocked, 5 rolled back,
# 6 needs attention, 1 failure, 2 bad arguments, 130 interrupted) and the
# messages for a daemon that is down, hung, or answers something that is not
# the API's JSON.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd
require_daemon
ITSMIGCTL=${ITSMIGCTL:-$builddir/client/itsmigctl}
require_helper "$ITSMIGCTL"
PYTHON=
for _p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
    if [ -n "$_p" ] && [ -x "$_p" ]; then
        PYTHON=$_p
        break
    fi
done
FAKE=$srcdir/tests/daemon/fake-itsmigd.py

# ctl ARGS...: itsmigctl in the C locale, without $ITSMIG_SOCKET; sets CTL_RC
# and CTL_MS (how long it took); its stdout and stderr are in $T/ctl.out and
# $T/ctl.err.
ctl() {
    _t0=$(now_ms)
    env LC_ALL=C ITSMIG_SOCKET= "$ITSMIGCTL" "$@" >"$T/ctl.out" 2>"$T/ctl.err"
    CTL_RC=$?
    CTL_MS=$(($(now_ms) - _t0))
}

ctl_diag() {
    diag "exit status $CTL_RC after $CTL_MS ms"
    diag_file "$T/ctl.out" 30
    diag_file "$T/ctl.err" 10
}

# check_ctl DESC RC OUT-REGEX ERR-REGEX: the last run exited with RC, and
# stdout and stderr match the extended regexes (empty: must be empty).
check_ctl() {
    _ok=yes
    [ "$CTL_RC" = "$2" ] || _ok=no
    if [ -z "$3" ]; then
        [ -s "$T/ctl.out" ] && _ok=no
    else
        grep -Eq -- "$3" "$T/ctl.out" || _ok=no
    fi
    if [ -z "$4" ]; then
        [ -s "$T/ctl.err" ] && _ok=no
    else
        grep -Eq -- "$4" "$T/ctl.err" || _ok=no
    fi
    if [ "$_ok" = yes ]; then
        ok "$1"
    else
        not_ok "$1" "want exit $2, stdout: ${3:-(empty)}, stderr: ${4:-(empty)}"
        ctl_diag
    fi
}

# out_true DESC JQ-EXPR: stdout is JSON making the expression true.
out_true() {
    if [ "$(jq -r "$2" "$T/ctl.out" 2>/dev/null)" = true ]; then
        ok "$1"
    else
        not_ok "$1" "want: $2"
        ctl_diag
    fi
}

# ---- bad arguments: exit 2, before any connection -------------------------------------

ctl preflight
check_ctl "preflight without a domain: exit 2" 2 '' '^itsmigctl: preflight: which domain\?'
ctl preflight vm1
check_ctl "preflight without --to: exit 2" 2 '' '^itsmigctl: preflight: --to PEER is required'
ctl preflight vm1 vm2 --to b
check_ctl "preflight with two domains: exit 2" 2 '' "unexpected argument 'vm2'"
ctl preflight vm1 --to b --frob
check_ctl "preflight with an unknown option: exit 2" 2 '' '^itsmigctl: preflight: .*--frob'
ctl matrix extra
check_ctl "matrix with an argument: exit 2" 2 '' "^itsmigctl: matrix: unexpected argument 'extra'"
ctl matrix --peer ''
check_ctl "matrix --peer '': exit 2" 2 '' '--peer needs a name'
for t in 0 abc 3601 -1; do
    ctl host --timeout "$t"
    check_ctl "host --timeout $t: exit 2" 2 '' "^itsmigctl: host: --timeout '$t' is not a whole number"
done
ctl host frob
check_ctl "host with an unknown subcommand: exit 2" 2 '' "unknown subcommand 'frob'"
ctl matrix --url http://localhost:7443 --token-file /dev/null
check_ctl "--url http://: exit 2, HTTPS only" 2 '' 'HTTPS only'
ctl matrix --url https://localhost:7443
check_ctl "--url without --token-file: exit 2" 2 '' '--url needs --token-file'
ctl matrix --url https://localhost:7443 --token-file "$T/no-such-token"
check_ctl "--token-file that does not exist: exit 2, naming it" 2 '' 'no-such-token'
printf 'has a space\n' >"$T/bad-token"
ctl matrix --url https://localhost:7443 --token-file "$T/bad-token"
check_ctl "--token-file with a space in the token: exit 2" 2 '' 'printable ASCII without spaces'
ctl matrix --url https://localhost:7443/v1 --token-file "$T/bad-token"
check_ctl "--url with a path: exit 2" 2 '' 'without user, path or query'
ctl host --socket /x --url https://localhost:1
check_ctl "--socket with --url: exit 2" 2 '' 'exclude each other'
ctl matrix --cacert /etc/hosts
check_ctl "--cacert without --url: exit 2" 2 '' '--cacert is only for --url'

ctl migrate vm1
check_ctl "migrate without --to: exit 2" 2 '' '^itsmigctl: migrate: --to PEER is required'
ctl migrate
check_ctl "migrate without a domain: exit 2" 2 '' '^itsmigctl: migrate: which domain\?'
ctl migrate vm1 --to b --mode fast
check_ctl "migrate --mode fast: exit 2" 2 '' "^itsmigctl: migrate: --mode 'fast' is neither safe nor live\$"
for opt in --timeout --phase-timeout --max-downtime --bandwidth; do
    ctl migrate vm1 --to b "$opt" -5
    check_ctl "migrate $opt -5: exit 2" 2 '' "^itsmigctl: migrate: $opt '-5' is not a whole number"
done
ctl migrate vm1 --to b --detach ''
check_ctl "migrate --detach '': exit 2" 2 '' '--detach needs a device alias'
ctl abort
check_ctl "abort without an id: exit 2" 2 '' '^itsmigctl: abort: which job\?'
ctl job a b
check_ctl "job with two ids: exit 2" 2 '' "^itsmigctl: job: unexpected argument 'b'"
ctl jobs --json --quiet
check_ctl "jobs --json --quiet: exit 2" 2 '' 'exclude each other'
ctl domains --json --quiet
check_ctl "domains --json --quiet: exit 2" 2 '' \
    '^itsmigctl: domains: --json and --quiet exclude each other$'
ctl events --type ''
check_ctl "events --type '': exit 2" 2 '' '--type needs a type'

# ---- itsmigd is not there -------------------------------------------------------------

ctl host --socket "$T/nothing.sock"
check_ctl "host, no socket: exit 1, cannot reach itsmigd" 1 '' \
    "^itsmigctl: cannot reach itsmigd at $T/nothing.sock: No such file or directory\$"
env LC_ALL=C ITSMIG_SOCKET="$T/env.sock" "$ITSMIGCTL" matrix >"$T/ctl.out" 2>"$T/ctl.err"
CTL_RC=$?
check_ctl "ITSMIG_SOCKET names the default socket" 1 '' "cannot reach itsmigd at $T/env.sock:"

# ---- the real itsmigd -----------------------------------------------------------------

start_libvirtd
start_itsmigd --set host.arch=aarch64 --set host.vgic-its=true --set host.its-abi-revisions=0 \
    --set host.default-its-abi-revision=0 --set host.restore-tables=true \
    --set host.save-tables=true
S=$ITSMIGD_SOCK

ctl host --socket "$S"
check_ctl "host: exit 0, the hostname first" 0 "^Host $(hostname)\$" ''
check_ctl "host: a FIELD VALUE SOURCE table" 0 '^FIELD +VALUE +SOURCE$' ''
check_ctl "host: a declared arch, with the probe's disagreement" 0 \
    "^arch +aarch64 +declared \\(conflict: probe says $(uname -m)\\)\$" ''
check_ctl "host: revisions as a list, with their source" 0 '^its_abi_revisions +0 +declared$' ''
check_ctl "host: unknown fields show '-'" 0 '^qemu_version +- +unknown$' ''
check_ctl "host: the probe's availability" 0 '^KVM probe: (available|not available: .+)$' ''
check_ctl "host: the machine types, unknown with why (the test driver lists none)" 0 \
    "^QEMU machine types: unknown: libvirt's capabilities list no machine type for hvm guests of the host's architecture [a-z0-9_]+: " ''
api GET /v1/host
rows=$(jbody '.caps | length')
is "$(grep -Ec '^[a-z0-9_]+ +.+ +(probed|declared|unknown)' "$T/ctl.out")" "$rows" \
    "host: one row per field of the document ($rows)"

ctl host --json --socket "$S"
check_ctl "host --json: exit 0" 0 '.' ''
out_true "host --json: itsmigd's document, parsed by jq" \
    ".schema == \"itsmig-host-caps\" and .version == 1 and .hostname == \"$(hostname)\"
     and .caps.arch.value == \"aarch64\" and .caps.arch.source == \"declared\"
     and .caps.its_abi_revisions.value == [0]"

ctl preflight test --to nowhere --socket "$S"
check_ctl "preflight to a peer that is not configured: exit 1, unknown-peer" 1 '' \
    "^itsmigctl: unknown-peer: .*nowhere"
ctl preflight no-such-domain --to nowhere --socket "$S"
check_ctl "preflight of an unknown domain: exit 1, not-found" 1 '' \
    "^itsmigctl: not-found: .*no-such-domain"
ctl matrix --socket "$S"
check_ctl "matrix with no peers configured: exit 0, saying so" 0 \
    "^No destinations to check: itsmigd on $(hostname) has no peers configured\\.\$" ''
ctl matrix --json --socket "$S"
out_true "matrix --json with no peers: no hosts, the domain 'test' without cells" \
    '.hosts == [] and ([.domains[].name] | index("test") != null)'
ctl matrix --peer ghost --socket "$S"
check_ctl "matrix --peer that is not configured: exit 1, unknown-peer" 1 '' '^itsmigctl: unknown-peer: '

ctl domains --quiet --socket "$S"
check_ctl "domains --quiet: the test driver's domain, by name alone" 0 '^test$' ''
ctl domains --socket "$S"
check_ctl "domains: NAME STATE REASON, a row for 'test'" 0 '^test +running +[a-z-]+$' ''

# events follows the stream until itsmigd ends it.
env LC_ALL=C ITSMIG_SOCKET= "$ITSMIGCTL" events --socket "$S" >"$T/ev.out" 2>"$T/ev.err" &
EV_PID=$!
track_pid "$EV_PID"
# The stream starts with the next event: suspend and resume until one shows.
if wait_for 'grep -q "  lifecycle  test suspended" "$T/ev.out" ||
             { vsh suspend test; vsh resume test; false; }' 15; then
    ok "events: a lifecycle line 'TIME  lifecycle  test suspended DETAIL (paused)'"
else
    not_ok "events: a lifecycle line 'TIME  lifecycle  test suspended DETAIL (paused)'"
    diag_file "$T/ev.out"
    diag_file "$T/ev.err"
fi
check "events: the line has the event's time and the new state" \
    grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z  lifecycle  test suspended [a-z-]+ \(paused\)$' \
    "$T/ev.out"

stop_itsmigd
reap_pid "$EV_PID" 10
is "$STOP_STATUS" 0 "events: exit 0 when itsmigd stops and ends the stream"
ctl host --socket "$S"
check_ctl "host, itsmigd stopped: exit 1, cannot reach itsmigd" 1 '' \
    "^itsmigctl: cannot reach itsmigd at $S: (Connection refused|No such file or directory)\$"
ctl preflight test --to b --socket "$S"
check_ctl "preflight, itsmigd stopped: exit 1, cannot reach itsmigd" 1 '' "^itsmigctl: cannot reach itsmigd at $S: "

# ---- canned replies -------------------------------------------------------------------

if [ -z "$PYTHON" ]; then
    skip "canned replies" "python3 is not installed"
    done_testing
fi

FS=$T/fake.sock
REQS=$T/requests.log

# fake STATUS BODY: a stand-in answering every request with STATUS and BODY.
fake() {
    [ -n "${FAKE_PID:-}" ] && stop_pid "$FAKE_PID" TERM 5
    rm -f "$FS" "$REQS"
    printf '%s' "$2" >"$T/fake.body"
    if [ "$1" = hang ] || [ "$1" = huge ]; then
        "$PYTHON" "$FAKE" "$FS" "$1" >"$T/fake.log" 2>&1 &
    else
        "$PYTHON" "$FAKE" "$FS" reply "$1" "$T/fake.body" "$REQS" >"$T/fake.log" 2>&1 &
    fi
    FAKE_PID=$!
    track_pid "$FAKE_PID"
    wait_for '[ -S "$FS" ]' 10 || bail "fake-itsmigd.py did not bind $FS"
}

# last_request JQ-EXPR: the request the stand-in got makes the expression true.
last_request() {
    [ "$(jq -s -r ".[-1] | $1" "$REQS" 2>/dev/null)" = true ]
}

VERDICT_OK='{"domain":"vm1","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","source":"hostA",
 "destination":"b","destination_hostname":"hostB","allowed":true,"its_abi_revision":0,
 "its_abi_revision_origin":"metadata","direct_injection":false,"blockers":[],
 "warnings":[{"code":"one-way-move","message":"hostB cannot move vm1 on","hint":"add a host"}]}'
VERDICT_NO='{"domain":"vm1","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","source":"hostA",
 "destination":"b","destination_hostname":"hostB","allowed":false,"its_abi_revision":1,
 "its_abi_revision_origin":"metadata","direct_injection":true,
 "blockers":[{"code":"its-abi-unsupported","message":"hostB restores revision 0 only","hint":"upgrade hostB"},
             {"code":"gicv4-direct-injection","message":"hostA is GICv4.0","hint":null}],
 "warnings":[]}'

fake 200 "$VERDICT_OK"
ctl preflight vm1 --to b --socket "$FS"
check_ctl "preflight, allowed: exit 0, 'vm1 -> hostB: allowed'" 0 '^vm1 -> hostB: allowed$' ''
check_ctl "... with the revision and where it comes from" 0 \
    "^  ITS table ABI revision: 0 \\(from the domain's itsmig metadata\\)\$" ''
check_ctl "... and each warning with its hint" 0 '^  WARNING one-way-move: hostB cannot move vm1 on$' ''
check_ctl "... (the hint)" 0 '^    hint: add a host$' ''
check "... after POST /v1/domains/vm1/preflight with destination b, quiesce true" \
    last_request '.method == "POST" and .path == "/v1/domains/vm1/preflight"
                  and .content_type == "application/json"
                  and (.body | fromjson) == {"destination": "b", "quiesce": true}'
ctl preflight 'vm 1/x' --to b --no-quiesce --socket "$FS"
check "preflight --no-quiesce of 'vm 1/x': quiesce false, the name escaped in the path" \
    last_request '.path == "/v1/domains/vm%201%2Fx/preflight" and (.body | fromjson).quiesce == false'
env LC_ALL=C.UTF-8 "$ITSMIGCTL" preflight vm1 --to b --socket "$FS" >"$T/ctl.out" 2>"$T/ctl.err"
CTL_RC=$?
check_ctl "preflight in a UTF-8 locale: an arrow" 0 '^vm1 → hostB: allowed$' ''
ctl preflight vm1 --to b --json --socket "$FS"
check_ctl "preflight --json, allowed: exit 0" 0 '.' ''
out_true "preflight --json: the verdict as itsmigd sent it" \
    '.allowed == true and .destination_hostname == "hostB" and .warnings[0].code == "one-way-move"'

fake 200 "$VERDICT_NO"
ctl preflight vm1 --to b --socket "$FS"
check_ctl "preflight, blocked: exit 4, 'vm1 -> hostB: blocked'" 4 '^vm1 -> hostB: blocked$' ''
check_ctl "... each blocker with its code and message" 4 \
    '^  BLOCKER its-abi-unsupported: hostB restores revision 0 only$' ''
check_ctl "... and the second" 4 '^  BLOCKER gicv4-direct-injection: hostA is GICv4.0$' ''
is "$(grep -c 'hint:' "$T/ctl.out")" 1 "... a hint line only where there is a hint"
ctl preflight vm1 --to b --json --socket "$FS"
check_ctl "preflight --json, blocked: exit 4" 4 '"allowed" : false' ''

fake 504 '{"error":{"code":"peer-timeout","message":"hostB did not answer within 10 s"}}'
ctl preflight vm1 --to b --socket "$FS"
check_ctl "preflight, error reply: exit 1, 'itsmigctl: CODE: MESSAGE'" 1 '' \
    '^itsmigctl: peer-timeout: hostB did not answer within 10 s$'

fake 200 '{"domain":"vm1","allowed":"yes"}'
ctl preflight vm1 --to b --socket "$FS"
check_ctl "preflight, a reply that is not a verdict: exit 1, naming the member" 1 '' \
    "^itsmigctl: itsmigd at $FS sent an unexpected reply to POST /v1/domains/vm1/preflight: \"destination\" is missing"
fake 200 '<html>hello</html>'
ctl host --socket "$FS"
check_ctl "host, a reply that is not JSON: exit 1" 1 '' \
    "^itsmigctl: itsmigd at $FS answered HTTP 200 with a body that is not a JSON object: <html>hello</html>\$"
fake 502 'Bad Gateway'
ctl host --socket "$FS"
check_ctl "host, an HTTP error without an error object: exit 1" 1 '' 'answered HTTP 502 with a body that is not a JSON object'
fake 200 '{"schema":"itsmig-host-caps","version":2,"hostname":"h","probe":{"available":true},"caps":{}}'
ctl host --socket "$FS"
check_ctl "host, a document of version 2: exit 1, saying which version is read" 1 '' \
    'has version 2; this itsmigctl reads version 1'
fake 200 '{"schema":"itsmig-host-caps","version":1,"hostname":"h","probe":{"available":true},"caps":{"arch":{"value":"aarch64"}}}'
ctl host --socket "$FS"
check_ctl "host, a field without a source: exit 1, naming it" 1 '' '"caps.arch.source" is missing or not a string'

fake huge ''
ctl host --socket "$FS"
check_ctl "host, a reply of 17 MiB: exit 1, too large" 1 '' \
    "^itsmigctl: itsmigd at $FS sent a reply larger than 16 MiB\$"
fake hang ''
ctl host --timeout 1 --socket "$FS"
check_ctl "host --timeout 1, a hung itsmigd: exit 1" 1 '' \
    "^itsmigctl: itsmigd at $FS sent no complete reply within 1 s\$"
if [ "$CTL_MS" -lt 3000 ]; then
    ok "... after about a second ($CTL_MS ms)"
else
    not_ok "... after about a second" "it took $CTL_MS ms"
fi

MATRIX='{"source":"hostA",
 "hosts":[{"name":"b","hostname":"hostB","error":null},
          {"name":"longer-peer","hostname":"hostC","error":null},
          {"name":"d","hostname":null,"error":{"code":"peer-timeout","message":"d did not answer within 10 s"}}],
 "domains":[
  {"name":"vm1","uuid":"u1","its_abi_revision":0,"cells":[
    {"host":"b","allowed":true,"blockers":[],"warnings":[]},
    {"host":"longer-peer","allowed":true,"blockers":[],"warnings":["one-way-move"]},
    {"host":"d","allowed":false,"error":"peer-timeout","blockers":[],"warnings":[]}]},
  {"name":"database-primary","uuid":"u2","its_abi_revision":1,"cells":[
    {"host":"b","allowed":false,"blockers":["its-abi-unsupported","gicv4-direct-injection"],"warnings":[]},
    {"host":"longer-peer","allowed":true,"blockers":[],"warnings":[]},
    {"host":"d","allowed":false,"error":"peer-timeout","blockers":[],"warnings":[]}]}]}'
fake 200 "$MATRIX"
ctl matrix --socket "$FS"
check_ctl "matrix with a blocked cell: exit 4" 4 '^Migrations from hostA' ''
cat >"$T/want-table" <<'EOF'
DOMAIN            b    longer-peer  d
vm1               ok   ok*          ERR
database-primary  NO   ok           ERR
EOF
sed -n '/^DOMAIN/,/^$/p' "$T/ctl.out" | sed '/^$/d' >"$T/got-table"
if cmp -s "$T/want-table" "$T/got-table"; then
    ok "matrix: rows are domains, columns hosts, widths fit the content"
else
    not_ok "matrix: rows are domains, columns hosts, widths fit the content"
    diag "want:" "$(cat "$T/want-table")" "got:" "$(cat "$T/got-table")"
fi
check_ctl "matrix: the blocking codes below the table" 4 \
    '^  database-primary -> b: its-abi-unsupported, gicv4-direct-injection$' ''
check_ctl "matrix: the warnings below the table" 4 '^  vm1 -> longer-peer: one-way-move$' ''
check_ctl "matrix: the unreachable host's error below the table" 4 \
    '^  d: peer-timeout: d did not answer within 10 s$' ''
check_ctl "matrix: a legend" 4 '^ok: allowed +ok\*: allowed, with warnings +NO: blocked +ERR: not checked' ''
check "matrix: POST /v1/compat/matrix with {} (every peer)" \
    last_request '.method == "POST" and .path == "/v1/compat/matrix" and (.body | fromjson) == {}'
ctl matrix --peer b --peer d --socket "$FS"
check "matrix --peer b --peer d: {\"peers\":[\"b\",\"d\"]}" \
    last_request '(.body | fromjson) == {"peers": ["b", "d"]}'
ctl matrix --json --socket "$FS"
check_ctl "matrix --json with a blocked cell: exit 4" 4 '.' ''
out_true "matrix --json: the matrix as itsmigd sent it" \
    '(.hosts | length) == 3 and .domains[1].cells[0].blockers == ["its-abi-unsupported", "gicv4-direct-injection"]'

fake 200 '{"source":"hostA","hosts":[{"name":"b","hostname":"hostB","error":null},
 {"name":"d","hostname":null,"error":{"code":"peer-unreachable","message":"connection refused"}}],
 "domains":[{"name":"vm1","its_abi_revision":0,"cells":[{"host":"b","allowed":true,"blockers":[],"warnings":[]},
 {"host":"d","allowed":false,"error":"peer-unreachable","blockers":[],"warnings":[]}]}]}'
ctl matrix --socket "$FS"
check_ctl "matrix, nothing blocked but a host unreachable: exit 1" 1 '^vm1 +ok +ERR$' ''
fake 200 '{"source":"hostA","hosts":[{"name":"b","hostname":"hostB","error":null}],
 "domains":[{"name":"vm1","its_abi_revision":0,"cells":[{"host":"b","allowed":true,"blockers":[],"warnings":[]}]}]}'
ctl matrix --socket "$FS"
check_ctl "matrix, everything allowed: exit 0" 0 '^vm1 +ok$' ''
fake 200 '{"source":"hostA","hosts":[{"name":"b","hostname":"hostB","error":null}],"domains":[]}'
ctl matrix --socket "$FS"
check_ctl "matrix, no domains: exit 0, saying so" 0 '^No domains on hostA\.$' ''
fake 200 '{"source":"hostA","hosts":[{"name":"b","hostname":"hostB","error":null}],
 "domains":[{"name":"evil\u001b[2J\u009b1m","cells":[{"host":"b","allowed":true,"blockers":[],"warnings":[]}]}]}'
ctl matrix --socket "$FS"
if grep -q "$(printf '\033')" "$T/ctl.out" || ! grep -q '^evil?\[2J?1m  *ok$' "$T/ctl.out"; then
    not_ok "matrix: control characters in names are shown as '?'"
    ctl_diag
else
    ok "matrix: control characters in names are shown as '?'"
fi
fake 200 '{"source":"hostA","hosts":[{"name":"b"}],"domains":[]}'
ctl matrix --socket "$FS"
check_ctl "matrix, a malformed host: exit 1, naming the member" 1 '' '"hosts\[0\]\.hostname" is missing or not a string or null'
fake 200 '{"source":"hostA","hosts":[],"domains":[{"name":"vm1","cells":[{"host":"b","allowed":true,"blockers":[1],"warnings":[]}]}]}'
ctl matrix --socket "$FS"
check_ctl "matrix, a blocker that is not a code: exit 1, naming the member" 1 '' \
    '"domains\[0\]\.cells\[0\]\.blockers" is missing or not an array of strings'


# ---- migration jobs: canned replies, one after the other ------------------------------

# fake_script FILE: a stand-in answering from a script (see fake-itsmigd.py).
fake_script() {
    [ -n "${FAKE_PID:-}" ] && stop_pid "$FAKE_PID" TERM 5
    rm -f "$FS" "$REQS"
    cp "$1" "$T/script.json"
    "$PYTHON" "$FAKE" "$FS" script "$T/script.json" "$REQS" >"$T/fake.log" 2>&1 &
    FAKE_PID=$!
    track_pid "$FAKE_PID"
    wait_for '[ -S "$FS" ]' 10 || bail "fake-itsmigd.py did not bind $FS"
}

# A job just created, in safe mode; job JQ-FILTER prints it changed.
cat >"$T/job.json" <<'END'
{"id":"m-0001","domain":"vm1","uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f","source":"hostA",
 "destination":"b","destination_hostname":"hostB","mode":"safe",
 "options":{"phase_timeout":60,"total_timeout":600,"max_downtime":0,"bandwidth":0,
            "auto_converge":false,"quiesce":true,"detach":null},
 "phase":"preflight","finished":false,"failed_phase":null,
 "created_at":"2026-11-21T10:00:00.000Z","finished_at":null,
 "phases":[
  {"phase":"preflight","started_at":"2026-11-21T10:00:00.000Z","ended_at":null,"duration_ms":null,"outcome":null},
  {"phase":"quiesce-devices","started_at":null,"ended_at":null,"duration_ms":null,"outcome":null},
  {"phase":"pause-vcpus","started_at":null,"ended_at":null,"duration_ms":null,"outcome":null},
  {"phase":"verify-its-save","started_at":null,"ended_at":null,"duration_ms":null,"outcome":null},
  {"phase":"transfer","started_at":null,"ended_at":null,"duration_ms":null,"outcome":null},
  {"phase":"verify-dest","started_at":null,"ended_at":null,"duration_ms":null,"outcome":null},
  {"phase":"resume-dest","started_at":null,"ended_at":null,"duration_ms":null,"outcome":null},
  {"phase":"restore-devices","started_at":null,"ended_at":null,"duration_ms":null,"outcome":null}],
 "pending":{"action":"preflight","device":null},"source_was_running":true,
 "devices":[{"alias":"hostdev0","xml":"<hostdev mode='subsystem' type='pci'/>","state":"attached"}],
 "facts":{"source":"running","destination":"unknown","transfer_active":false},
 "progress":{"percent":null,"data_total":0,"data_processed":0,"data_remaining":0,
             "bytes_per_second":0,"iteration":0,"downtime_ms":null},
 "verdict":null,"its_save":null,"its_restore":null,"error":null,"attention":null,"notes":[],
 "abort_requested":false,"recovered":false,
 "rollback":{"aborted":false,"destroyed":false,"resumed":false}}
END
job() {
    jq -c "$1" "$T/job.json"
}
# ok(PHASE): that phase done in 1.5 s.
J_OK='def ok($p): .phases |= map(if .phase == $p then .outcome = "ok" | .duration_ms = 1500
        | .started_at = "2026-11-21T10:00:01.000Z" | .ended_at = "2026-11-21T10:00:02.500Z"
        else . end);'
J_FINISHED='.finished = true | .finished_at = "2026-11-21T10:00:15.000Z" | .pending = null'
J_EVIDENCE='.its_save = {"checked":true,"method":"qemu-log","reason":"QEMU logged the ITS tables saved",
  "log":"/var/log/libvirt/qemu/vm1.log","errors":[],"lines":["its: tables saved"]}
 | .its_restore = {"checked":true,"method":"qemu-log","reason":"QEMU on hostB logged the restore",
  "log":"/var/log/libvirt/qemu/vm1.log","errors":["vgic-its: restore failed: -22 (once, retried)"],
  "lines":["vgic-its: restore failed: -22 (once, retried)","its: tables restored"]}'
VERDICT='{"allowed":true,"its_abi_revision":0,"its_abi_revision_origin":"metadata",
 "direct_injection":false,"blockers":[],"warnings":[]}'
POSTED=$(job '.')

# pause-vcpus comes twice, transfer three times: plain lines for phase changes only.
jq -n --argjson j0 "$POSTED" \
    --argjson j1 "$(job '.phase = "quiesce-devices"')" \
    --argjson j2 "$(job '.phase = "pause-vcpus"')" \
    --argjson j3 "$(job '.phase = "verify-its-save"')" \
    --argjson j4 "$(job '.phase = "transfer" | .progress.percent = 10 | .progress.bytes_per_second = 117859532')" \
    --argjson j5 "$(job '.phase = "transfer" | .progress.percent = 42.4 | .progress.bytes_per_second = 117859532')" \
    --argjson j6 "$(job '.phase = "verify-dest"')" \
    --argjson j7 "$(job '.phase = "resume-dest"')" \
    --argjson j8 "$(job '.phase = "restore-devices"')" \
    --argjson j9 "$(job "$J_OK ok(\"preflight\") | ok(\"quiesce-devices\") | ok(\"pause-vcpus\")
        | ok(\"verify-its-save\") | ok(\"transfer\") | ok(\"verify-dest\") | ok(\"resume-dest\")
        | ok(\"restore-devices\") | .phase = \"done\" | $J_FINISHED | $J_EVIDENCE
        | .verdict = $VERDICT | .devices[0].state = \"on-destination\"
        | .progress += {\"percent\":100,\"data_total\":4294967296,\"data_processed\":4294967296,
                        \"iteration\":3,\"downtime_ms\":87,\"paused_ms\":2400}
        | .notes = [\"hostdev0 came back on hostB as hostdev0\"]")" \
    '{"POST /v1/migrations": [{"status": 202, "body": $j0}],
      "GET /v1/migrations/m-0001": [$j1, $j2, $j2, $j3, $j4, $j4, $j5, $j6, $j7, $j8, $j9]
          | map({"status": 200, "body": .}),
      "GET /v1/migrations": [{"status": 200, "body": {"migrations": [
          $j9, ($j5 | .id = "m-0002" | .domain = "database-primary" | .destination = "longer-peer"
                    | .mode = "live")]}}]}' >"$T/done.json"
fake_script "$T/done.json"

ctl migrate vm1 --to b --socket "$FS"
check_ctl "migrate without --wait: exit 0, 'migration ID of DOMAIN to PEER started (mode)'" 0 \
    '^migration m-0001 of vm1 to b started \(safe\)$' ''
check "... after POST /v1/migrations with the domain and the destination only" \
    last_request '.method == "POST" and .path == "/v1/migrations"
                  and .content_type == "application/json"
                  and (.body | fromjson) == {"domain": "vm1", "destination": "b"}'
is "$(wc -l <"$T/ctl.out")" 1 "... and nothing more: it does not wait"
ctl migrate vm1 --to b --mode live --phase-timeout 30 --timeout 300 --max-downtime 250 \
    --bandwidth 500 --auto-converge --no-quiesce --resume --detach hostdev0 --detach net1 --json \
    --socket "$FS"
check_ctl "migrate --json: exit 0" 0 '.' ''
out_true "migrate --json: the job as itsmigd sent it" '.id == "m-0001" and .phase == "preflight"'
check "migrate with every option: the mode and each option in the request" \
    last_request '(.body | fromjson) == {"domain": "vm1", "destination": "b", "mode": "live",
        "options": {"phase_timeout": 30, "total_timeout": 300, "max_downtime": 250,
                    "bandwidth": 500, "auto_converge": true, "quiesce": false,
                    "resume": true, "detach": ["hostdev0", "net1"]}}'

fake_script "$T/done.json"
ctl migrate vm1 --to b --wait --socket "$FS"
check_ctl "migrate --wait to done: exit 0" 0 '^Result: done: the guest runs on the destination$' ''
sed -n '2,/^$/p' "$T/ctl.out" | sed '/^$/d' | awk '{ print $1 }' >"$T/got-phases"
printf '%s\n' preflight quiesce-devices pause-vcpus verify-its-save transfer verify-dest \
    resume-dest restore-devices "done" >"$T/want-phases"
if cmp -s "$T/want-phases" "$T/got-phases"; then
    ok "migrate --wait, not a terminal: one plain line per phase change"
else
    not_ok "migrate --wait, not a terminal: one plain line per phase change"
    diag "want:" "$(cat "$T/want-phases")" "got:" "$(cat "$T/got-phases")"
    ctl_diag
fi
check_ctl "... the transfer line with the percent and the rate" 0 \
    '^transfer  10%  112\.4 MiB/s  [0-9]{2}:[0-9]{2}$' ''
if grep -q "$(printf '\r')" "$T/ctl.out"; then
    not_ok "... without carriage returns"
else
    ok "... without carriage returns"
fi
check_ctl "... a summary naming the job, the domain and the destination" 0 \
    '^Migration m-0001: vm1 \(6695eb01-f6a4-8304-79aa-97f2502e193f\) from hostA -> b \(hostB\), safe mode$' ''
check_ctl "... each phase with its outcome and duration" 0 '^  verify-its-save +ok +1\.5 s$' ''
check_ctl "... the downtime" 0 '^Downtime: 87 ms$' ''
check_ctl "... and how long the guest was paused (safe mode)" 0 '^Guest paused: 2400 ms$' ''
check_ctl "... the ITS save evidence" 0 \
    '^ITS save: checked \(qemu-log\): QEMU logged the ITS tables saved$' ''
check_ctl "... the ITS restore evidence with its error lines" 0 \
    '^  error: vgic-its: restore failed: -22 \(once, retried\)$' ''
check_ctl "... and the notes" 0 '^  - hostdev0 came back on hostB as hostdev0$' ''

fake_script "$T/done.json"
ctl migrate vm1 --to b --wait --json --socket "$FS"
check_ctl "migrate --wait --json: exit 0" 0 '.' ''
out_true "migrate --wait --json: the last job as JSON, nothing else" '.phase == "done" and .finished'

if command -v script >/dev/null 2>&1 && command script -qec true /dev/null >/dev/null 2>&1; then
    fake_script "$T/done.json"
    # script(1) gives itsmigctl a terminal; what it wrote there comes out here.
    env LC_ALL=C ITSMIG_SOCKET= script -qec \
        "'$ITSMIGCTL' migrate vm1 --to b --wait --socket '$FS'" /dev/null >"$T/ctl.out" 2>&1 \
        </dev/null
    CTL_RC=$?
    : >"$T/ctl.err"
    check_ctl "migrate --wait on a terminal: exit 0" 0 'Result: done' ''
    check "... one status line, redrawn after a carriage return" \
        grep -q "$(printf '\r')$(printf '\033')\\[Ktransfer  42%  112\\.4 MiB/s  00:0" "$T/ctl.out"
else
    skip "migrate --wait on a terminal" "script(1) is not available"
    skip "... one status line, redrawn after a carriage return" "script(1) is not available"
fi

fake_script "$T/done.json"
ctl jobs --socket "$FS"
check_ctl "jobs: exit 0, a table" 0 '^ID +DOMAIN +TO +MODE +PHASE +PROGRESS +STARTED$' ''
check_ctl "jobs: a finished job" 0 '^m-0001 +vm1 +b +safe +done +100% +[0-9]+[smhd] ago$' ''
check_ctl "jobs: a job in transfer, columns as wide as their content" 0 \
    '^m-0002  database-primary  longer-peer  live  transfer  42%       [0-9]+[smhd] ago$' ''
ctl jobs --quiet --socket "$FS"
check_ctl "jobs --quiet: exit 0" 0 '^m-0002$' ''
is "$(tr '\n' ' ' <"$T/ctl.out")" "m-0001 m-0002 " "jobs --quiet: nothing but the ids, in itsmigd's order"
ctl jobs --json --socket "$FS"
out_true "jobs --json: itsmigd's list" '(.migrations | length) == 2'

# One job in detail: its evidence, verdict, devices and facts.
jq -n --argjson j "$(jq -c '.["GET /v1/migrations/m-0001"][-1].body' "$T/done.json")" \
    '{"GET /v1/migrations/m-0001": [{"status": 200, "body": $j}],
      "GET /v1/migrations/m-0404": [{"status": 404, "body": {"error": {"code": "not-found",
          "message": "no migration job m-0404"}}}]}' >"$T/detail.json"
fake_script "$T/detail.json"
ctl job m-0001 --socket "$FS"
check_ctl "job: exit 0, the summary" 0 '^Result: done: the guest runs on the destination$' ''
check_ctl "job: the evidence's error lines" 0 \
    '^  error: vgic-its: restore failed: -22 \(once, retried\)$' ''
check_ctl "job: the QEMU log lines behind the evidence" 0 '^  \| its: tables restored$' ''
check_ctl "job: the devices and where they are" 0 '^  hostdev0 +on-destination$' ''
check_ctl "job: the facts" 0 '^Facts: source running, destination unknown, transfer not active$' ''
check_ctl "job: the recovered flag" 0 '^Recovered after an itsmigd restart: no$' ''
check_ctl "job: the verdict, as preflight prints it" 0 \
    '^  ITS table ABI revision: 0 \(from the domain.s itsmig metadata\)$' ''
ctl job m-0001 --json --socket "$FS"
out_true "job --json: the job as itsmigd sent it" '.id == "m-0001" and .progress.downtime_ms == 87'
ctl job m-0404 --socket "$FS"
check_ctl "job of an unknown id: exit 1, not-found" 1 '' \
    '^itsmigctl: not-found: no migration job m-0404$'

# Blocked by preflight: exit 4.
jq -n --argjson j0 "$POSTED" \
    --argjson j1 "$(job ".phase = \"rolled-back\" | $J_FINISHED | .failed_phase = \"preflight\"
        | .phases[0].outcome = \"blocked\" | .phases[0].duration_ms = 40
        | .error = {\"code\":\"blocked\",
                    \"message\":\"its-abi-unsupported: hostB restores revision 0 only\"}
        | .verdict = ($VERDICT | .allowed = false | .blockers = [{\"code\":\"its-abi-unsupported\",
              \"message\":\"hostB restores revision 0 only\",\"hint\":\"upgrade hostB\"}])")" \
    '{"POST /v1/migrations": [{"status": 202, "body": $j0}],
      "GET /v1/migrations/m-0001": [{"status": 200, "body": $j1}]}' >"$T/blocked.json"
fake_script "$T/blocked.json"
ctl migrate vm1 --to b --wait --socket "$FS"
check_ctl "migrate --wait, blocked: exit 4" 4 \
    '^Result: blocked: the preflight check refused it; nothing was changed$' ''
check_ctl "... with the error" 4 \
    '^Error: blocked: its-abi-unsupported: hostB restores revision 0 only$' ''

# Rolled back: exit 5.
jq -n --argjson j0 "$POSTED" \
    --argjson j1 "$(job '.phase = "transfer" | .progress.percent = 5')" \
    --argjson j2 "$(job '.phase = "rollback" | .failed_phase = "transfer"')" \
    --argjson j3 "$(job ".phase = \"rolled-back\" | $J_FINISHED | .failed_phase = \"transfer\"
        | .error = {\"code\":\"timeout\",\"message\":\"transfer took longer than 60 s\"}
        | .rollback = {\"aborted\":true,\"destroyed\":true,\"resumed\":true}
        | .notes = [\"hostdev0 is back on hostA\"]")" \
    '{"POST /v1/migrations": [{"status": 202, "body": $j0}],
      "GET /v1/migrations/m-0001": [$j1, $j2, $j3] | map({"status": 200, "body": .})}' \
    >"$T/rolled-back.json"
fake_script "$T/rolled-back.json"
ctl migrate vm1 --to b --wait --socket "$FS"
check_ctl "migrate --wait, rolled back: exit 5" 5 \
    '^Result: rolled-back: the guest still runs on the source$' ''
check_ctl "... the error" 5 '^Error: timeout: transfer took longer than 60 s$' ''
check_ctl "... the rollback phase shown as it came" 5 '^rollback  [0-9]{2}:[0-9]{2}$' ''

# Failed, needs attention: exit 6, with the attention text.
jq -n --argjson j0 "$POSTED" \
    --argjson j1 "$(job ".phase = \"failed-needs-attention\" | $J_FINISHED
        | .failed_phase = \"resume-dest\"
        | .error = {\"code\":\"libvirt-error\",\"message\":\"hostB: cannot resume vm1\"}
        | .attention = \"vm1 is paused on hostB and gone from hostA: resume it on hostB (virsh resume vm1)\"")" \
    '{"POST /v1/migrations": [{"status": 202, "body": $j0}],
      "GET /v1/migrations/m-0001": [{"status": 200, "body": $j1}]}' >"$T/attention.json"
fake_script "$T/attention.json"
ctl migrate vm1 --to b --wait --socket "$FS"
check_ctl "migrate --wait, failed-needs-attention: exit 6, the attention text" 6 \
    '^ATTENTION: vm1 is paused on hostB and gone from hostA: resume it on hostB \(virsh resume vm1\)$' ''
check_ctl "... naming where it failed" 6 '^Failed in: resume-dest$' ''

# Interrupted: migrate --wait stops waiting, the job goes on; events stops.
jq -n --argjson j0 "$POSTED" --argjson j1 "$(job '.phase = "transfer" | .progress.percent = 5')" \
    '{"POST /v1/migrations": [{"status": 202, "body": $j0}],
      "GET /v1/migrations/m-0001": [{"status": 200, "body": $j1}],
      "GET /v1/events": [{"status": 200, "hold": true, "events": ": itsmigd events\n\n"}]}' \
    >"$T/forever.json"
fake_script "$T/forever.json"
env LC_ALL=C ITSMIG_SOCKET= "$ITSMIGCTL" migrate vm1 --to b --wait --socket "$FS" \
    >"$T/ctl.out" 2>"$T/ctl.err" &
CTL_PID=$!
track_pid "$CTL_PID"
wait_for 'grep -q "^transfer" "$T/ctl.out"' 10
stop_pid "$CTL_PID" INT 5
CTL_RC=$STOP_STATUS
check_ctl "migrate --wait, SIGINT: exit 130, saying the job continues" 130 '^transfer' \
    '^job m-0001 continues; itsmigctl abort m-0001 stops it$'
check "... without asking to abort it" sh -c "! grep -q DELETE '$REQS'"
env LC_ALL=C ITSMIG_SOCKET= "$ITSMIGCTL" events --socket "$FS" >"$T/ctl.out" 2>"$T/ctl.err" &
CTL_PID=$!
track_pid "$CTL_PID"
wait_for 'grep -q "/v1/events" "$REQS"' 10
sleep 0.5
stop_pid "$CTL_PID" INT 5
CTL_RC=$STOP_STATUS
check_ctl "events, SIGINT on a quiet stream: exit 130" 130 '' ''

# Refusals.
jq -n '{"POST /v1/migrations": [{"status": 409, "body": {"error": {"code": "conflict",
          "message": "migration m-0001 of vm1 is under way"}}}],
        "DELETE /v1/migrations/m-0001": [{"status": 409, "body": {"error": {"code": "conflict",
          "message": "job m-0001 has ended"}}}]}' >"$T/conflict.json"
fake_script "$T/conflict.json"
ctl migrate vm1 --to b --wait --socket "$FS"
check_ctl "migrate, 409: exit 1, 'itsmigctl: conflict: MESSAGE'" 1 '' \
    '^itsmigctl: conflict: migration m-0001 of vm1 is under way$'
ctl abort m-0001 --socket "$FS"
check_ctl "abort of a job that has ended, 409: exit 1 with the message" 1 '' \
    '^itsmigctl: conflict: job m-0001 has ended$'
jq -n --argjson j "$(job '.id = "m 2/x" | .abort_requested = true | .phase = "transfer"')" \
    '{"DELETE /v1/migrations/m%202%2Fx": [{"status": 202, "body": $j}]}' >"$T/abort.json"
fake_script "$T/abort.json"
ctl abort 'm 2/x' --socket "$FS"
check_ctl "abort, 202: exit 0, 'abort of ID requested; it rolls back'" 0 \
    '^abort of m 2/x requested; it rolls back$' ''
check "... after DELETE /v1/migrations/ID, the id escaped" \
    last_request '.method == "DELETE" and .path == "/v1/migrations/m%202%2Fx"'
ctl abort 'm 2/x' --json --socket "$FS"
out_true "abort --json: the job with abort_requested" '.abort_requested == true'

# Replies that are not the API's.
jq -n --argjson j "$(job 'del(.phases)')" --argjson k "$(job '.phase = "done"')" \
    '{"POST /v1/migrations": [{"status": 202, "body": $j}],
      "GET /v1/migrations/m-0001": [{"status": 200, "body": $k}],
      "GET /v1/migrations": [{"status": 200, "body": {"migrations": [$j]}}]}' >"$T/broken.json"
fake_script "$T/broken.json"
ctl migrate vm1 --to b --socket "$FS"
check_ctl "migrate, a job without phases: exit 1, naming the endpoint and the member" 1 '' \
    "^itsmigctl: itsmigd at $FS sent an unexpected reply to POST /v1/migrations: \"phases\" is missing or not an array\$"
ctl job m-0001 --socket "$FS"
check_ctl "job, a job in phase done but not finished: exit 1" 1 '' \
    'unexpected reply to GET /v1/migrations/m-0001: "finished" is false in phase done$'
ctl jobs --socket "$FS"
check_ctl "jobs, a malformed job: exit 1, naming which" 1 '' \
    'reply to GET /v1/migrations: "migrations\[0\]\.phases" is missing or not an array$'
# itsmigctl reads a job as itsmigd reads its own journal (lib/job-read.c): what
# the daemon would refuse, the client refuses too.
jq -n --argjson j "$(job '.mode = "live" | .phase = "pause-vcpus"')" \
    --argjson k "$(job '.devices[0].state = "misplaced"')" \
    '{"GET /v1/migrations/m-0001": [{"status": 200, "body": $j}, {"status": 200, "body": $k}]}' \
    >"$T/unreadable.json"
fake_script "$T/unreadable.json"
ctl job m-0001 --socket "$FS"
check_ctl "job, a phase its mode does not have: exit 1" 1 '' \
    'reply to GET /v1/migrations/m-0001: "phase" is not a phase of this mode$'
ctl job m-0001 --socket "$FS"
check_ctl "job, a device in a state jobs do not have: exit 1" 1 '' \
    'reply to GET /v1/migrations/m-0001: "state" has an unknown value$'

# events: one line per event, comments skipped, until the stream ends.
EVENTS='retry: 2000
: itsmigd events

id: 17
event: migration
data: {"time":"2026-11-21T10:00:01.000Z","id":"m-0001","domain":"vm1","uuid":"u1","phase":"transfer","kind":"progress","outcome":null,"message":null,"progress":{"percent":42.4}}

: keepalive

id: 18
event: lifecycle
data: {"time":"2026-11-21T10:00:02.000Z","domain":"vm1","uuid":"u1","event":"suspended","detail":"migrated","state":"paused","reason":"migration","reconstructed":false}

id: 19
event: migration
data: {"time":"2026-11-21T10:00:03.000Z","id":"m-0001","domain":"vm1","uuid":"u1",
data: "phase":"rolled-back","kind":"finished","outcome":"timeout","message":"transfer took longer than 60 s","progress":null}

id: 20
event: device-added
data: {"time":"2026-11-21T10:00:04.000Z","domain":"vm1","uuid":"u1","alias":"hostdev0"}

'
jq -n --arg ev "$EVENTS" '{"GET /v1/events": [{"status": 200, "events": $ev}],
    "GET /v1/domains?offset=0&limit=10000": [{"status": 200, "body": {"domains": [
        {"name":"database-primary","uuid":"u2","id":2,"state":"running","reason":"booted",
         "persistent":true},
        {"name":"vm1","uuid":"u1","id":null,"state":"shutoff","reason":"migrated",
         "persistent":true}],
        "total":2,"offset":0,"limit":10000}}]}' >"$T/events.json"
fake_script "$T/events.json"
ctl events --socket "$FS"
check_ctl "events: exit 0 when the stream ends" 0 '.' ''
cat >"$T/want-events" <<'END'
2026-11-21T10:00:01.000Z  migration  m-0001 vm1 transfer progress 42%
2026-11-21T10:00:02.000Z  lifecycle  vm1 suspended migrated (paused)
2026-11-21T10:00:03.000Z  migration  m-0001 vm1 rolled-back finished timeout: transfer took longer than 60 s
2026-11-21T10:00:04.000Z  device-added  vm1 hostdev0
END
if cmp -s "$T/want-events" "$T/ctl.out"; then
    ok "events: one line per event (time, type, summary), data lines joined"
else
    not_ok "events: one line per event (time, type, summary), data lines joined"
    diag "want:" "$(cat "$T/want-events")" "got:" "$(cat "$T/ctl.out")"
fi
ctl events --json --socket "$FS"
check_ctl "events --json: exit 0" 0 '.' ''
is "$(jq -s -c '[.[] | [.id, .type, (.data.phase // .data.event // .data.alias)]]' "$T/ctl.out" 2>&1)" \
    '[[17,"migration","transfer"],[18,"lifecycle","suspended"],[19,"migration","rolled-back"],[20,"device-added","hostdev0"]]' \
    "events --json: {id, type, data}, one per line"
ctl events --type lifecycle --type device-added --socket "$FS"
is "$(awk '{ print $2 }' "$T/ctl.out" | tr '\n' ' ')" "lifecycle device-added " \
    "events --type: only the types asked for"

ctl domains --quiet --socket "$FS"
is "$(tr '\n' ' ' <"$T/ctl.out")" "database-primary vm1 " "domains --quiet: the names, one per line"
ctl domains --socket "$FS"
check_ctl "domains: NAME STATE REASON" 0 '^vm1 +shutoff +migrated$' ''
ctl domains --json --socket "$FS"
out_true "domains --json: the domains as one list" \
    '(.domains | map(.name)) == ["database-primary", "vm1"] and .total == 2 and .offset == 0'

jq -n '{"GET /v1/events": [{"status": 200, "events": "id: 1\nevent: lifecycle\ndata: [1]\n\n"}],
        "GET /v1/domains?offset=0&limit=10000": [{"status": 200,
            "body": {"domains": [{"name": "x"}], "total": 1}}]}' >"$T/bad-events.json"
fake_script "$T/bad-events.json"
ctl events --socket "$FS"
check_ctl "events, data that is not an object: exit 1, naming the endpoint" 1 '' \
    "^itsmigctl: itsmigd at $FS sent an unexpected reply to GET /v1/events: the data of event 1 \\(lifecycle\\) is not a JSON object\$"
ctl domains --quiet --socket "$FS"
check_ctl "domains, an entry without a state: exit 1" 1 '' \
    '"domains\[0\]\.state" is missing or not a string$'
fake 503 '{"error":{"code":"too-many-streams","message":"already 16 event streams open"}}'
ctl events --socket "$FS"
check_ctl "events, an error reply: exit 1 with the code and message" 1 '' \
    '^itsmigctl: too-many-streams: already 16 event streams open$'
fake 200 '{"not":"a stream"}'
ctl events --socket "$FS"
check_ctl "events, a JSON reply instead of a stream: exit 1" 1 '' \
    "^itsmigctl: itsmigd at $FS sent a reply as application/json, not text/event-stream\$"

done_testing
