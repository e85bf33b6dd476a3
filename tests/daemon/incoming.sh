#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The destination's incoming routes under attack (issue 16): a peer with its
# own token acts only on a domain that is really arriving from it, for the
# job that migrated it, in a state a migration leaves; it never passes device
# XML of its own, and it cannot touch another peer's job.  Each refusal is a
# 403 or 409 that leaves the domain as it was.
#
# B serves peers a and c over TLS, each with its own token; the domains live
# on a private libvirtd (test driver).  "Arrived" domains are made as a
# migration leaves them: a hook record of the incoming migration and the
# migration record the source wrote into the live metadata.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl
require_daemon

port=$((20000 + ($$ + 11) % 20000))
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || bail "openssl cannot make a certificate"
TOKEN_A=token-of-peer-a-0123456789
TOKEN_C=token-of-peer-c-0123456789
echo "$TOKEN_A" >"$T/token-a"
echo "$TOKEN_C" >"$T/token-c"
chmod 600 "$T/key.pem" "$T/token-a" "$T/token-c"
mkdir -p "$T/records"

start_libvirtd
mkfifo "$T/hold"
virsh -q -c "$LIBVIRT_URI" <"$T/hold" >/dev/null 2>&1 &
track_pid $!
exec 9>"$T/hold"

# mac TOKEN UUID JOB: what only the holder of TOKEN can put in a record.
mac() {
    printf 'itsmig-migration:%s:%s' "$2" "$3" | openssl dgst -sha256 -hmac "$1" | awk '{print $NF}'
}

# domain NAME UUID [METADATA]: defined, started and paused on the private libvirtd.
domain() {
    cat >"$T/$1.xml" <<EOF
<domain type='test'>
  <name>$1</name>
  <uuid>$2</uuid>
  <memory>1048576</memory>
  <vcpu>1</vcpu>
  <os><type arch='aarch64' machine='virt-7.2'>hvm</type></os>
  <metadata>${3:-}</metadata>
</domain>
EOF
    echo "define $T/$1.xml" >&9
    echo "start $1" >&9
    echo "suspend $1" >&9
    wait_for "vsh domstate $1 && grep -q paused '$T/virsh.out'" 10 || bail "cannot pause $1"
}

# record UUID NAME AGE-S: the hook's record of an incoming migration AGE-S ago.
record() {
    _at=$(($(date +%s) - $3))
    printf '{"uuid":"%s","name":"%s","incoming":true,"migrate_begin_at":%s,"started_at":%s}\n' \
        "$1" "$2" "$_at" "$_at" >"$T/records/$1.json"
}

# meta JOB MAC [DEVICE...]: the migration record of a source.
meta() {
    _j=$1
    _m=$2
    shift 2
    printf '<itsmigjob:migration xmlns:itsmigjob="urn:itsmig:migration:1" job="%s" peer-mac="%s">' "$_j" "$_m"
    for _d in "$@"; do
        printf '<itsmigjob:device alias="%s">%s</itsmigjob:device>' "$_d" \
            "&lt;input type='tablet' bus='usb'&gt;&lt;alias name='$_d'/&gt;&lt;/input&gt;"
    done
    printf '</itsmigjob:migration>'
}

U_NEVER=6b1d0f2e-0000-4000-8000-000000000001
U_ARRIVED=6b1d0f2e-0000-4000-8000-000000000002
U_OLD=6b1d0f2e-0000-4000-8000-000000000003
U_OTHER=6b1d0f2e-0000-4000-8000-000000000004
JOB=20261202T063704-5c6b1f

# Paused by an administrator, never migrated.
domain never "$U_NEVER"
# Arrived from a, job $JOB, with one device a detached on its side.
domain arrived "$U_ARRIVED" "$(meta "$JOB" "$(mac "$TOKEN_A" "$U_ARRIVED" "$JOB")" ua-tablet)"
record "$U_ARRIVED" arrived 60
# Arrived from a two days ago, paused since.
domain old "$U_OLD" "$(meta "$JOB" "$(mac "$TOKEN_A" "$U_OLD" "$JOB")")"
record "$U_OLD" old $((2 * 86400))
# Arrived from c.
domain other "$U_OTHER" "$(meta "$JOB" "$(mac "$TOKEN_C" "$U_OTHER" "$JOB")")"
record "$U_OTHER" other 60
# Arrived from a, but the hook record is a FIFO, or a symlink to a good record.
U_FIFO=6b1d0f2e-0000-4000-8000-000000000005
U_LINK=6b1d0f2e-0000-4000-8000-000000000006
domain fifo "$U_FIFO" "$(meta "$JOB" "$(mac "$TOKEN_A" "$U_FIFO" "$JOB")")"
mkfifo "$T/records/$U_FIFO.json"
domain link "$U_LINK" "$(meta "$JOB" "$(mac "$TOKEN_A" "$U_LINK" "$JOB")")"
record "$U_LINK" link 60
mv "$T/records/$U_LINK.json" "$T/elsewhere.json"
ln -s "$T/elsewhere.json" "$T/records/$U_LINK.json"

start_itsmigd --name b --set "hook.record-dir=$T/records" \
    --set "api.listen=127.0.0.1:$port" --set "api.tls-cert=$T/cert.pem" \
    --set "api.tls-key=$T/key.pem" \
    --set "peer a.accept-token-file=$T/token-a" --set "peer c.accept-token-file=$T/token-c"

# peer TOKEN ACTION UUID BODY: POST as a peer; status in $S, body in $T/b.
peer() {
    S=$(curl -sS -m 10 --cacert "$T/cert.pem" -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' -d "$4" -o "$T/b" -w '%{http_code}' \
        "https://127.0.0.1:$port/v1/incoming/$3/$2" 2>"$T/curl.err")
}
state() {
    vsh domstate "$1" && head -n 1 "$T/virsh.out"
}
# refused DESC WANT-STATUS WANT-CODE DOMAIN WANT-STATE
refused() {
    if [ "$S" = "$2" ] && jq -e --arg c "$3" '.error.code == $c' "$T/b" >/dev/null 2>&1 &&
        [ "$(state "$4")" = "$5" ]; then
        ok "$1"
    else
        not_ok "$1" "status $S (want $2 $3), $4 is $(state "$4") (want $5)" "$(cat "$T/b")"
    fi
}

# ---- a domain that never migrated --------------------------------------------------

peer "$TOKEN_A" destroy "$U_NEVER" "{\"job\":\"$JOB\"}"
refused "destroy of a paused domain that never migrated: 409, still paused" 409 conflict never paused
peer "$TOKEN_A" resume "$U_NEVER" "{\"job\":\"$JOB\"}"
refused "resume of a domain an administrator paused: 409, still paused" 409 conflict never paused
peer "$TOKEN_A" destroy "$U_NEVER" '{}'
refused "no job named: 400, still paused" 400 invalid-argument never paused
use_itsmigd b
api POST "/v1/incoming/$U_NEVER/resume" -H 'Content-Type: application/json' -d "{\"job\":\"$JOB\"}"
if [ "$API_STATUS" = 409 ] && [ "$(state never)" = paused ]; then
    ok "on the unix socket too, nothing acts on a domain that did not arrive"
else
    not_ok "on the unix socket too, nothing acts on a domain that did not arrive" "status $API_STATUS"
fi

# ---- another peer's job ----------------------------------------------------------------

peer "$TOKEN_C" destroy "$U_ARRIVED" "{\"job\":\"$JOB\"}"
refused "peer c destroys peer a's arriving domain with a's job id: 403, still paused" \
    403 forbidden arrived paused
peer "$TOKEN_C" resume "$U_ARRIVED" "{\"job\":\"$JOB\"}"
refused "peer c resumes it: 403, still paused" 403 forbidden arrived paused
peer "$TOKEN_C" attach "$U_ARRIVED" "{\"job\":\"$JOB\",\"alias\":\"ua-tablet\"}"
refused "peer c attaches a's recorded device: 403" 403 forbidden arrived paused
peer "$TOKEN_A" destroy "$U_OTHER" "{\"job\":\"$JOB\"}"
refused "peer a destroys peer c's arriving domain: 403, still paused" 403 forbidden other paused

# ---- the wrong job, device XML of its own, a device the job did not detach -----------

peer "$TOKEN_A" destroy "$U_ARRIVED" '{"job":"20261202T000000-000000"}'
refused "another job id: 409, still paused" 409 conflict arrived paused
peer "$TOKEN_A" attach "$U_ARRIVED" \
    "{\"job\":\"$JOB\",\"alias\":\"ua-tablet\",\"xml\":\"<disk type='block'><source dev='/dev/sda'/><target dev='vdz'/></disk>\"}"
refused "device XML in the request: 400, nothing attached" 400 invalid-argument arrived paused
peer "$TOKEN_A" attach "$U_ARRIVED" "{\"job\":\"$JOB\",\"xml\":\"<filesystem><source dir='/'/></filesystem>\"}"
refused "only XML, no alias: 400" 400 invalid-argument arrived paused
peer "$TOKEN_A" attach "$U_ARRIVED" "{\"job\":\"$JOB\",\"alias\":\"hostdev0\"}"
refused "an alias the job did not detach: 409" 409 conflict arrived paused
vsh dumpxml arrived
if grep -q "/dev/sda\|filesystem" "$T/virsh.out"; then
    not_ok "no device of the requests reached the domain" "$(cat "$T/virsh.out")"
else
    ok "no device of the requests reached the domain"
fi
# The recorded device goes to libvirt (whose test driver cannot hot-plug).
peer "$TOKEN_A" attach "$U_ARRIVED" "{\"job\":\"$JOB\",\"alias\":\"ua-tablet\"}"
if [ "$S" = 200 ] || { [ "$S" = 502 ] && grep -q 'cannot attach the device' "$T/b"; }; then
    ok "the alias the job detached: attached from the recorded XML (libvirt's answer: $S)"
else
    not_ok "the alias the job detached: attached from the recorded XML" "status $S" "$(cat "$T/b")"
fi

# ---- a stale arrival ----------------------------------------------------------------------

peer "$TOKEN_A" resume "$U_OLD" "{\"job\":\"$JOB\"}"
refused "an arrival two days old: 409, still paused" 409 conflict old paused

# ---- hook records that are not plain files ------------------------------------------------

t0=$(now_ms)
peer "$TOKEN_A" resume "$U_FIFO" "{\"job\":\"$JOB\"}"
t1=$(now_ms)
refused "a FIFO as the hook record: 409 at once, still paused" 409 conflict fifo paused
if [ $((t1 - t0)) -lt 2000 ] && grep -q "not a regular file" "$T/b"; then
    ok "... without blocking on it ($((t1 - t0)) ms), saying why"
else
    not_ok "... without blocking on it, saying why" "$((t1 - t0)) ms" "$(cat "$T/b")"
fi
peer "$TOKEN_A" resume "$U_LINK" "{\"job\":\"$JOB\"}"
refused "a symlink as the hook record: not followed, 409, still paused" 409 conflict link paused
use_itsmigd b
api GET /v1/health
[ "$API_STATUS" = 200 ] && ok "itsmigd still answers" || not_ok "itsmigd still answers" "status $API_STATUS"

# ---- what a GET tells a peer -------------------------------------------------------------

# get TOKEN UUID: GET as a peer; body in $T/b.
get() {
    S=$(curl -sS -m 10 --cacert "$T/cert.pem" -H "Authorization: Bearer $1" -o "$T/b" \
        -w '%{http_code}' "https://127.0.0.1:$port/v1/incoming/$2" 2>"$T/curl.err")
}
get "$TOKEN_A" "$U_ARRIVED"
if [ "$S" = 200 ] && jq -e '.domain == "arrived" and .present == true and (.its_restore.reason | test("not one this peer") | not)' "$T/b" >/dev/null; then
    ok "GET by the peer that migrated it: the name and the ITS restore evidence"
else
    not_ok "GET by the peer that migrated it: the name and the ITS restore evidence" "status $S" "$(cat "$T/b")"
fi
get "$TOKEN_C" "$U_ARRIVED"
if [ "$S" = 200 ] && jq -e '.domain == null and .present == true and .state == "paused" and (.its_restore.reason | test("not one this peer migrated here"))' "$T/b" >/dev/null; then
    ok "GET by another peer: only that the UUID is taken, and its state"
else
    not_ok "GET by another peer: only that the UUID is taken, and its state" "status $S" "$(cat "$T/b")"
fi
get "$TOKEN_A" "$U_NEVER"
if [ "$S" = 200 ] && jq -e '.domain == null and (.its_restore.reason | test("not one this peer migrated here"))' "$T/b" >/dev/null; then
    ok "GET of a domain no peer migrated: no name, no QEMU lines"
else
    not_ok "GET of a domain no peer migrated: no name, no QEMU lines" "status $S" "$(cat "$T/b")"
fi

# ---- the real thing ----------------------------------------------------------------------

peer "$TOKEN_A" resume "$U_ARRIVED" "{\"job\":\"$JOB\"}"
if [ "$S" = 200 ] && jq -e '.present == true and .state == "running"' "$T/b" >/dev/null &&
    [ "$(state arrived)" = running ]; then
    ok "peer a resumes its own arriving domain for its job: 200, running"
else
    not_ok "peer a resumes its own arriving domain for its job: 200, running" "status $S" "$(cat "$T/b")"
fi
peer "$TOKEN_A" destroy "$U_ARRIVED" "{\"job\":\"$JOB\"}"
refused "... and cannot destroy it once it runs: 409" 409 conflict arrived running
grep -q "incoming migration $JOB: resumed at the source's request" "$ITSMIGD_LOG" &&
    ok "the log names the job" || not_ok "the log names the job" "$(tail -5 "$ITSMIGD_LOG")"
# The stderr writer shows the ITSMIG_JOB field journald gets as "[job=ID]".
grep "incoming migration $JOB: resumed at the source's request" "$ITSMIGD_LOG" |
    grep -qF "[job=$JOB]" &&
    ok "... in its own field, ITSMIG_JOB" ||
    not_ok "... in its own field, ITSMIG_JOB" "$(tail -5 "$ITSMIGD_LOG")"

done_testing
