#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The domain XML is parsed once per change.  itsmigd A runs on a private
# libvirtd (test driver) with several guests and one itsmigd peer B over
# HTTPS.  Once the guests' records are written, rounds of compat matrix
# requests, preflights of every guest and /metrics scrapes, and lifecycle
# events that leave the XML as it was, parse no XML at all
# (itsmigd_domain_xml_parses_total stays put); redefining one guest with
# another XML parses it once, and the verdicts follow the new XML.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl
require_daemon

ROUNDS=10
GUESTS="g1 g2 g3 g4"
port_b=$((20000 + ($$ + 7000) % 20000))

tls_peer_files
# shellcheck disable=SC2046
start_itsmigd --name b --uri test:///default $(its_host_sets hostB 0,1 1) \
    $(tls_sets "$port_b") --set "peer a.accept-token-file=$T/token-b"

start_libvirtd
# shellcheck disable=SC2046
start_itsmigd --name a $(its_host_sets hostA 0,1 1) \
    --set "peer b.url=https://127.0.0.1:$port_b" --set "peer b.ca=$T/cert.pem" \
    --set "peer b.token-file=$T/token-b" --set "peer b.migrate-uri=test:///default"

mkfifo "$T/hold"
virsh -q -c "$LIBVIRT_URI" <"$T/hold" >/dev/null 2>&1 &
track_pid $!
exec 9>"$T/hold"
n=0
for g in $GUESTS; do
    n=$((n + 1))
    test_domain_xml "$g" "0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a2$n" >"$T/$g.xml"
    echo "define $T/$g.xml" >&9
done
# Started while A watches, so that A writes their records; g4 stays shut
# off, to be redefined below.
for g in g1 g2 g3; do
    echo "start $g" >&9
done

# settled: every guest known with a profile, and the running ones with the
# itsmig record written into their metadata (whose write changes the XML);
# the test driver's own "test" has no ITS, so no record.
settled() {
    api GET /v1/domains/g4
    [ "$API_STATUS" = 200 ] && [ "$(jbody '.profile != null')" = true ] || return 1
    for g in test g1 g2 g3; do
        api GET "/v1/domains/$g"
        [ "$API_STATUS" = 200 ] &&
            [ "$(jbody '.record_write == null and
                        (.name == "test" or .profile.its_metadata.host.name == "hostA")')" = true ] ||
            return 1
    done
}
wait_for settled 20 || {
    api_diag
    bail "A did not settle: the guests' records are not all written"
}

parses() {
    metrics_fetch || return 1
    metric_sum '^itsmigd_domain_xml_parses_total '
}

matrix() {
    api POST /v1/compat/matrix -H 'Content-Type: application/json' -d '{"peers":["b"]}'
}

# The first preflight and scrape fetch B's capabilities.
preflight g1 '{"destination":"b"}'
check_json "a preflight of g1 to B is allowed" '.allowed == true'
start=$(parses)
if [ -n "$start" ] && [ "$start" -ge 5 ]; then
    ok "itsmigd_domain_xml_parses_total counts the guests' XML read at start ($start)"
else
    not_ok "itsmigd_domain_xml_parses_total counts the guests' XML read at start" "got '$start'"
    diag_file "$T/metrics.txt" 20
fi

i=0
matrix_ok=yes
while [ $i -lt $ROUNDS ]; do
    matrix
    [ "$API_STATUS" = 200 ] && [ "$(jbody '.domains | length')" = 5 ] || matrix_ok=no
    for g in $GUESTS; do
        preflight "$g" '{"destination":"b"}'
        [ "$API_STATUS" = 200 ] || matrix_ok=no
    done
    metrics_fetch
    i=$((i + 1))
done
is "$matrix_ok" yes "$ROUNDS rounds of the matrix (5 guests) and of preflights answer 200"
# Events whose XML is the same: read again from libvirt, not parsed.
vsh suspend g2 && vsh resume g2 || not_ok "virsh suspend and resume g2"
wait_for 'api GET /v1/domains/g2; [ "$(jbody ".history | map(.type) | index(\"resumed\") != null")" = true ]' 10 ||
    api_diag
is "$(parses)" "$start" \
    "matrix, preflight, scrapes and events with the same XML parse nothing"

# A change: g4 redefined with four vCPUs.
sed 's|<vcpu>2</vcpu>|<vcpu>4</vcpu>|' "$T/g4.xml" >"$T/g4-new.xml"
echo "define $T/g4-new.xml" >&9
if wait_for 'api GET /v1/domains/g4; [ "$(jbody .profile.vcpus)" = 4 ]' 10; then
    ok "the registry has g4's new XML"
else
    not_ok "the registry has g4's new XML"
    api_diag
fi
is "$(parses)" "$((start + 1))" "a guest's changed XML is parsed once"
i=0
while [ $i -lt $ROUNDS ]; do
    matrix
    preflight g4 '{"destination":"b"}'
    i=$((i + 1))
done
check_json "a preflight of g4 judges its new XML" '.allowed == true and .domain == "g4"'
is "$(parses)" "$((start + 1))" "and not again by the requests that follow"

done_testing
