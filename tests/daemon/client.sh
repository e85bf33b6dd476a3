#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigctl host, preflight and matrix against itsmigd (a private libvirtd
# with the test driver) and against a stand-in that gives canned replies:
# the text people read, --json, the exit statuses (0 allowed, 4 blocked,
# 1 failure, 2 bad arguments) and the messages for a daemon that is down,
# hung, or answers something that is not the API's JSON.

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

stop_itsmigd
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

done_testing
