#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigd against a private libvirtd serving the test driver (test:///default):
# the domain registry follows what virsh does to the domains, GET /v1/events
# streams the lifecycle events in order and resumes from Last-Event-ID (with
# a gap event when the buffer has moved on), and /v1/host, /v1/health and
# /metrics answer as the spec says.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd
require_daemon

TEST_UUID=6695eb01-f6a4-8304-79aa-97f2502e193f

start_libvirtd
start_itsmigd --name main

# domain_is NAME JQ-CONDITION: GET /v1/domains/NAME answers 200 and its body
# makes the condition true.
domain_is() {
    api GET "/v1/domains/$1"
    [ "$API_STATUS" = 200 ] && [ "$(jbody "$2")" = true ]
}

# wait_domain DESC NAME JQ-CONDITION: one check, waiting up to 5 s.
wait_domain() {
    _wd_name=$2
    _wd_expr=$3
    if wait_for 'domain_is "$_wd_name" "$_wd_expr"' 5; then
        ok "$1"
    else
        not_ok "$1" "want: $3"
        api_diag
    fi
}

# lifecycle_seq STREAM: "domain:event:detail" of its lifecycle events, in order.
lifecycle_seq() {
    events_jq "$1" '[.[] | select(.event == "lifecycle") | .data
                     | "\(.domain):\(.event):\(.detail)"] | join(" ")'
}

# ---- the registry at start ---------------------------------------------------------

api GET /v1/health
check_json "health: ok, connected to the test driver, no reconnects yet" \
    '.status == "ok" and .version == "0.1.0" and (.uptime_s | type == "number")
     and .libvirt.connected == true and .libvirt.reconnects == 0
     and .libvirt.next_retry_s == null'
if [ "$(jbody .libvirt.uri)" = "$LIBVIRT_URI" ]; then
    ok "health: libvirt.uri is the URI given with --connect"
else
    not_ok "health: libvirt.uri is the URI given with --connect" "want $LIBVIRT_URI"
    api_diag
fi

api GET /v1/domains
check_status "GET /v1/domains answers 200" 200
if api_header Content-Type | grep -qi '^application/json'; then
    ok "GET /v1/domains is application/json"
else
    not_ok "GET /v1/domains is application/json" "Content-Type: $(api_header Content-Type)"
fi
# The test driver starts it with reason "unknown" (virsh domstate --reason says so too).
check_json "the test driver's domain 'test' is listed running, persistent, id 1" \
    ".total == 1 and (.domains | length == 1) and .domains[0].name == \"test\"
     and .domains[0].uuid == \"$TEST_UUID\" and .domains[0].state == \"running\"
     and (.domains[0].reason | type == \"string\") and .domains[0].persistent == true
     and .domains[0].id == 1"

events_start all
if wait_for 'grep -qi "^content-type: *text/event-stream" "$T/ev-all.headers" 2>/dev/null' 5; then
    ok "GET /v1/events is text/event-stream"
else
    not_ok "GET /v1/events is text/event-stream"
    diag_file "$T/ev-all.headers"
fi

# ---- lifecycle changes made with virsh --------------------------------------------

vsh suspend test
wait_domain "suspend: /v1/domains/test is paused (user)" test \
    '.state == "paused" and .reason == "user"'

api GET '/v1/domains?state=paused'
check_json "GET /v1/domains?state=paused lists test alone" \
    '.total == 1 and ([.domains[].name] == ["test"])'
api GET '/v1/domains?state=running'
check_json "GET /v1/domains?state=running lists nothing while test is paused" \
    '.total == 0 and (.domains == [])'

vsh resume test
wait_domain "resume: /v1/domains/test is running (unpaused)" test \
    '.state == "running" and .reason == "unpaused"'

vsh destroy test
wait_domain "destroy: /v1/domains/test is shut off (destroyed), without an id" test \
    '.state == "shutoff" and .reason == "destroyed" and .id == null'

vsh start test
wait_domain "start: /v1/domains/test is running (booted) again" test \
    '.state == "running" and .reason == "booted" and (.id | type == "number")'

cat >"$T/extra.xml" <<'EOF'
<domain type='test'>
  <name>extra</name>
  <uuid>0b5c6a52-4f35-4d8e-9c1a-6f4a3b2c1d0e</uuid>
  <memory unit='MiB'>64</memory>
  <os><type arch='i686'>hvm</type></os>
</domain>
EOF
vsh define "$T/extra.xml"
wait_domain "define: /v1/domains/extra is shut off, persistent, with a defined/added history" \
    extra '.state == "shutoff" and .persistent == true
           and .uuid == "0b5c6a52-4f35-4d8e-9c1a-6f4a3b2c1d0e"
           and ([.history[] | "\(.type)/\(.detail)"] == ["defined/added"])'

api GET /v1/domains
check_json "GET /v1/domains lists extra and test, by name" \
    '.total == 2 and ([.domains[].name] == ["extra", "test"])'

vsh undefine extra
if wait_for 'api GET /v1/domains/extra; [ "$API_STATUS" = 404 ]' 5; then
    ok "undefine: /v1/domains/extra is gone"
else
    not_ok "undefine: /v1/domains/extra is gone"
    api_diag
fi
check_error "GET /v1/domains/extra after undefine: 404 not-found" 404 not-found

api GET /v1/domains/test
check_json "history of test ends with suspended, resumed, stopped, started (oldest first)" \
    '[.history[-4:][] | "\(.type)/\(.detail)"]
     == ["suspended/paused", "resumed/unpaused", "stopped/destroyed", "started/booted"]'
check_json "history entries are live (reconstructed false) and carry ISO 8601 times" \
    '[.history[-4:][] | (.reconstructed == false)
      and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"))] | all'
check_json "GET /v1/domains/test has name, uuid, updated and profile" \
    ".name == \"test\" and .uuid == \"$TEST_UUID\" and .persistent == true
     and (.updated | type == \"string\") and has(\"profile\")"

# ---- the event stream ---------------------------------------------------------------

want_seq="test:suspended:paused test:resumed:unpaused test:stopped:destroyed test:started:booted"
want_seq="$want_seq extra:defined:added extra:undefined:removed"
events_wait all '[.[] | select(.event == "lifecycle")] | length >= 6' 5
is "$(lifecycle_seq all)" "$want_seq" "/v1/events streamed the six lifecycle events in order"
ids=$(events_jq all '[.[].id] | map(tostring) | join(" ")')
if events_true all '[.[].id] as $i | ($i | all(type == "number"))
        and ([range(1; $i | length) | $i[.] > $i[. - 1]] | all)'; then
    ok "event ids are numbers and increase ($ids)"
else
    not_ok "event ids are numbers and increase" "ids: $ids"
fi
check "lifecycle events say reconstructed false and carry the new state" \
    events_true all '[.[] | select(.event == "lifecycle") | .data
                      | (.reconstructed == false) and (.state | type == "string")] | all'

# Resume after the third lifecycle event (stopped): only later ones come back.
after=$(events_jq all '[.[] | select(.event == "lifecycle")][2].id')
last=$(events_jq all '.[-1].id')
events_start resumed "$after"
events_wait resumed "[.[] | select(.event == \"lifecycle\")] | length >= 3" 5
is "$(lifecycle_seq resumed)" "test:started:booted extra:defined:added extra:undefined:removed" \
    "Last-Event-ID: $after replays only the later lifecycle events"
if events_true resumed "(.[0].id == $after + 1) and ([.[].id | . > $after] | all)
        and ([.[] | select(.event == \"gap\")] | length == 0)"; then
    ok "the resumed stream starts at id $((after + 1)), with no gap event"
else
    not_ok "the resumed stream starts at id $((after + 1)), with no gap event" \
        "ids: $(events_jq resumed '[.[] | "\(.id):\(.event)"] | join(" ")')"
fi

# Resuming at the newest id gives nothing old, then what happens next.
events_start live "$last"
sleep 1
events_parse live
is "$(events_jq live 'length')" 0 "Last-Event-ID: $last (the newest) replays nothing"
vsh suspend test
events_wait live '[.[] | select(.event == "lifecycle")] | length >= 1' 5
is "$(lifecycle_seq live)" "test:suspended:paused" \
    "... and then streams the next event as it happens"
is "$(events_jq live '.[0].id')" "$((last + 1))" "... with the next id"
vsh resume test
events_stop live
events_stop resumed

# ---- /v1/host ----------------------------------------------------------------------

api GET /v1/host
check_status "GET /v1/host answers 200" 200
check_json "/v1/host: the capabilities document, version 1, for this machine" \
    ".schema == \"itsmig-host-caps\" and .version == 1 and .hostname == \"$(hostname)\"
     and .caps.kernel_release == {\"value\": \"$(uname -r)\", \"source\": \"probed\"}
     and .caps.arch == {\"value\": \"$(uname -m)\", \"source\": \"probed\"}
     and .caps.page_size == {\"value\": $(getconf PAGESIZE), \"source\": \"probed\"}
     and .conflicts == []"
check_json "/v1/host: libvirt uri and version, and the probe (kvm)" \
    "(.libvirt.uri == \"$LIBVIRT_URI\") and (.libvirt.version | test(\"^[0-9]+[.][0-9]+[.][0-9]+$\"))
     and (.caps.libvirt_version.value == .libvirt.version) and (.kvm | type == \"object\")"
check_json "/v1/host: hypervisor is the driver's type as libvirt reports it (TEST), so no QEMU version" \
    '.libvirt.hypervisor == "TEST" and .caps.qemu_version == {"value": null, "source": "unknown"}'

# ---- /metrics ------------------------------------------------------------------------

metrics_fetch
n_lifecycle=$(events_jq all '[.[] | select(.event == "lifecycle")] | length')
got=$(metric_sum '^itsmigd_libvirt_events_received_total\{type="lifecycle"\}')
if [ -n "$got" ] && [ "$got" -ge "$n_lifecycle" ]; then
    ok "/metrics counts the lifecycle events received ($got >= $n_lifecycle)"
else
    not_ok "/metrics counts the lifecycle events received" "got '$got', want >= $n_lifecycle"
    diag_file "$T/metrics.txt" 60
fi

domains_200='^itsmigd_http_requests_total\{.*route="/v1/domains".*method="GET".*code="200".*\}'
before=$(metric_sum "$domains_200")
api GET /v1/domains
api GET /v1/domains
api GET /v1/domains
if wait_for 'metrics_fetch; [ "$(metric_sum "$domains_200")" = "$((${before:-0} + 3))" ]' 3; then
    ok "/metrics counts requests per route: three more GET /v1/domains 200"
else
    not_ok "/metrics counts requests per route: three more GET /v1/domains 200" \
        "before: '$before', after: '$(metric_sum "$domains_200")'"
    diag_file "$T/metrics.txt" 60
fi
if grep -Eq '^itsmigd_http_requests_total\{.*route="/v1/domains/\{name\}".*code="404".*\} [1-9]' \
    "$T/metrics.txt"; then
    ok "/metrics labels GET /v1/domains/extra (404) with the route pattern, not the path"
else
    not_ok "/metrics labels GET /v1/domains/extra (404) with the route pattern, not the path"
    diag "$(grep itsmigd_http_requests_total "$T/metrics.txt" | head -20)"
fi
curl -s -m 5 -D "$T/metrics.headers" -o /dev/null --unix-socket "$ITSMIGD_SOCK" http://localhost/metrics
if grep -qi '^content-type: *text/plain; *version=0.0.4' "$T/metrics.headers"; then
    ok "/metrics is text/plain; version=0.0.4"
else
    not_ok "/metrics is text/plain; version=0.0.4" "$(grep -i content-type "$T/metrics.headers")"
fi

# ---- PUT /v1/log ------------------------------------------------------------------------

# The daemon runs at log-level info: a live lifecycle event is logged only at debug.
debug_lines() {
    grep -ci 'debug' "$ITSMIGD_LOG"
}
vsh suspend test && vsh resume test
sleep 0.3
before=$(debug_lines)
api PUT /v1/log -H 'Content-Type: application/json' --data-binary '{"level":"debug"}'
case $API_STATUS in
200 | 204) ok "PUT /v1/log {\"level\":\"debug\"}: $API_STATUS" ;;
*) not_ok "PUT /v1/log {\"level\":\"debug\"}: 200 or 204"; api_diag ;;
esac
vsh suspend test && vsh resume test
if wait_for '[ "$(debug_lines)" -gt "$before" ]' 3; then
    ok "... and debug messages appear in the log"
else
    not_ok "... and debug messages appear in the log" "debug lines before: $before, after: $(debug_lines)"
    diag_file "$ITSMIGD_LOG" 10
fi
api PUT /v1/log -H 'Content-Type: application/json' --data-binary '{"level":"info"}'
sleep 0.3
before=$(debug_lines)
vsh suspend test && vsh resume test
sleep 1
is "$(debug_lines)" "$before" "PUT /v1/log {\"level\":\"info\"}: no more debug messages"

# ---- a small event buffer: the gap event ----------------------------------------------

events_stop all
start_itsmigd --name small --set api.event-buffer=16
events_start small-all
# The stream is subscribed once its head has arrived: events before that are
# not this client's to see.
wait_for 'grep -qi "^content-type: *text/event-stream" "$T/ev-small-all.headers" 2>/dev/null' 5 ||
    bail "the second daemon's event stream did not start"
i=0
while [ $i -lt 10 ]; do
    vsh suspend test && vsh resume test
    i=$((i + 1))
done
events_wait small-all '[.[] | select(.event == "lifecycle")] | length >= 20' 10
small_last=$(events_jq small-all '.[-1].id')
n_small=$(events_jq small-all '[.[] | select(.event == "lifecycle")] | length')
is "$n_small" 20 "the second daemon (event-buffer=16) saw 20 lifecycle events"

events_start gap 1
events_wait gap "(length >= 2) and (.[-1].id == $small_last)" 5
if events_true gap '.[0].event == "gap"'; then
    ok "Last-Event-ID: 1 on a 16-event buffer that has moved on starts with an 'event: gap'"
else
    not_ok "Last-Event-ID: 1 on a 16-event buffer that has moved on starts with an 'event: gap'" \
        "events: $(events_jq gap '[.[] | "\(.id):\(.event)"] | join(" ")')"
fi
first_available=$(events_jq gap '.[0].data.first_available')
if events_true gap "(.[0].data.requested | . == 1 or . == 2)
        and (.[0].data.first_available | type == \"number\" and . > 2)
        and (.[1].id == .[0].data.first_available)"; then
    ok "the gap event says requested and first_available ($first_available), where the replay starts"
else
    not_ok "the gap event says requested and first_available, where the replay starts" \
        "gap: $(events_jq gap '.[0] | tojson')" "next id: $(events_jq gap '.[1].id')"
fi
if events_true gap "([.[1:][] | .id] | length) <= 16 and .[-1].id == $small_last"; then
    ok "the replay holds at most 16 events and ends with the newest ($small_last)"
else
    not_ok "the replay holds at most 16 events and ends with the newest ($small_last)" \
        "ids: $(events_jq gap '[.[] | .id] | map(tostring) | join(" ")')"
fi
events_stop gap
events_stop small-all

# ---- shutdown ------------------------------------------------------------------------

use_itsmigd small
stop_itsmigd TERM
is "$STOP_STATUS" 0 "SIGTERM: the second daemon exits with status 0"
use_itsmigd main
stop_itsmigd TERM
if [ "$STOP_STATUS" = 0 ]; then
    ok "SIGTERM: the first daemon exits with status 0"
else
    not_ok "SIGTERM: the first daemon exits with status 0" "status $STOP_STATUS"
    diag_file "$ITSMIGD_LOG"
fi
stop_libvirtd

done_testing
