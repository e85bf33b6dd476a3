#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real Prometheus server (Debian's), started here on loopback with its own
# data directory, scrapes itsmigd A on its plain-HTTP [metrics] listener and
# evaluates the installed alert rules (etc/itsmig-alerts.yml, unchanged).
# A runs on a private libvirtd (test driver) with two itsmigd peers over
# HTTPS, B (one-way for g1: its kernel's vCPU registers are a superset of
# A's) and C (ITS ABI revision 0 only: g1 is blocked), and a peer that never
# answers.  Through Prometheus' HTTP API: the new series are there, the
# state alerts go pending, and after injected failures (a migration refused at
# preflight, one whose transfer fails and rolls back, one whose ITS save
# cannot be verified, an incoming migration the hook refuses) the matching
# alerts fire, while those whose cause is absent stay quiet.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl prometheus promtool /usr/bin/python3
require_daemon

probe=$srcdir/tests/data/probe
base=$((20000 + ($$ + 11000) % 20000))
port_b=$base
port_c=$((base + 1))
port_hang=$((base + 2))
port_metrics=$((base + 3))
port_prom=$((base + 4))

tls_peer_files
fake_peer hang "$port_hang"
wait_for "[ -s '$T/fake-hang.pid' ]" 10 || bail "the hanging peer did not start"

host_sets() { # HOSTNAME REVISIONS DEFAULT SUITE
    its_host_sets "$1" "$2" "$3"
    echo "--set host.vcpu-registers-file=$probe/$4.json --set policy.check-emulated=true"
}

# shellcheck disable=SC2046
start_itsmigd --name b --uri test:///default $(host_sets hostB 0,1 1 trixie-backports) \
    $(tls_sets "$port_b") --set "peer a.accept-token-file=$T/token-b"
# shellcheck disable=SC2046
start_itsmigd --name c --uri test:///default $(host_sets hostC 0 0 bookworm) \
    $(tls_sets "$port_c") --set "peer a.accept-token-file=$T/token-c"

start_libvirtd
mkfifo "$T/hold"
virsh -q -c "$LIBVIRT_URI" <"$T/hold" >/dev/null 2>&1 &
track_pid $!
exec 9>"$T/hold"
# g1: an ordinary guest, revision 1 (A's default).  g2: its metadata says
# ITS ABI revision 2, which no peer supports.
test_domain_xml g1 0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a11 >"$T/g1.xml"
DAY_AGO=$(date -u -d "@$(($(date +%s) - 86400))" +%Y-%m-%dT%H:%M:%SZ)
cat >"$T/g2.xml" <<XML
<domain type='test'>
  <name>g2</name>
  <uuid>0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a12</uuid>
  <metadata>
    <itsmig:its xmlns:itsmig="urn:itsmig:domain:1" version="1">
      <itsmig:abi-revision>2</itsmig:abi-revision>
      <itsmig:gicd-revision>3</itsmig:gicd-revision>
      <itsmig:started>$DAY_AGO</itsmig:started>
      <itsmig:host name="hostZ" written="start" written-at="$DAY_AGO" arch="aarch64" page-size="$(getconf PAGESIZE)" gicv4="none" save-tables="yes" save-pending-tables="yes" ctrl-reset="yes" its-abi-revisions="0,1,2"/>
    </itsmig:its>
  </metadata>
  <memory>1048576</memory>
  <vcpu>2</vcpu>
  <os><type arch='aarch64' machine='virt-7.2'>hvm</type></os>
  <features><gic version='3'/></features>
</domain>
XML
for g in g1 g2; do
    echo "define $T/$g.xml" >&9
    echo "start $g" >&9
done
wait_for 'vsh domstate g2 && grep -q running "$T/virsh.out"' 10 || bail "cannot start g1 and g2"
mkdir -p "$T/qemu-logs"
: >"$T/qemu-logs/g1.log"

# shellcheck disable=SC2046
start_itsmigd --name a $(host_sets hostA 0,1 1 bookworm) \
    --set "migration.qemu-log-dir=$T/qemu-logs" --set migration.phase-timeout=20 \
    --set migration.qemu-log-mark=false \
    --set peers.timeout=3 --set peers.connect-timeout=2 \
    --set "metrics.listen=127.0.0.1:$port_metrics" \
    --set "peer b.url=https://127.0.0.1:$port_b" --set "peer b.ca=$T/cert.pem" \
    --set "peer b.token-file=$T/token-b" --set "peer b.migrate-uri=test:///default" \
    --set "peer c.url=https://127.0.0.1:$port_c" --set "peer c.ca=$T/cert.pem" \
    --set "peer c.token-file=$T/token-c" --set "peer c.migrate-uri=test:///default" \
    --set "peer hang.url=https://127.0.0.1:$port_hang" --set "peer hang.ca=$T/cert.pem" \
    --set "peer hang.token-file=$T/token-b" --set "peer hang.migrate-uri=test:///default"
wait_for 'api GET /v1/domains/g2; [ "$API_STATUS" = 200 ]' 10 || bail "A does not know g2"

# ---- the metrics listener as Prometheus sees it ---------------------------------------

scrape() { # FILE
    curl -s -m 10 -o "$1" -w '%{http_code}' "http://127.0.0.1:$port_metrics/metrics"
}
is "$(scrape "$T/first.txt")" 200 "the metrics listener serves GET /metrics in plain HTTP without a credential"
# The first scrape starts the peers' fetch; a later one has the verdicts.
wait_for 'scrape "$T/scrape.txt" >/dev/null; grep -q "^itsmigd_peer_up{peer=\"hang\"} 0" "$T/scrape.txt"' 20 ||
    diag_file "$T/scrape.txt" 40
if promtool check metrics <"$T/scrape.txt" >"$T/lint.out" 2>&1; then
    ok "promtool check metrics finds nothing wrong in the exposition"
else
    not_ok "promtool check metrics finds nothing wrong in the exposition"
    diag_file "$T/lint.out" 20
fi
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_metrics/v1/domains")" 403 \
    "the metrics listener refuses the API's routes (403)"

# ---- Prometheus --------------------------------------------------------------------------

mkdir -p "$T/prom-data"
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $srcdir/etc/itsmig-alerts.yml
scrape_configs:
  - job_name: itsmigd
    static_configs:
      - targets: ['127.0.0.1:$port_metrics']
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
    --web.listen-address="127.0.0.1:$port_prom" --log.level=warn >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
track_pid "$PROM_PID"
prom="http://127.0.0.1:$port_prom"
if ! wait_for "curl -sf -o /dev/null $prom/-/ready || ! pid_alive $PROM_PID" 60 || ! pid_alive "$PROM_PID"; then
    diag_file "$T/prometheus.log" 30
    bail "Prometheus did not become ready on $prom"
fi

# promq QUERY: the query's result vector, as JSON, in $T/q.json.
promq() {
    curl -s -m 10 -G "$prom/api/v1/query" --data-urlencode "query=$1" -o "$T/q.json"
}
# prom_has QUERY: the query gives at least one sample.
prom_has() {
    promq "$1" && [ "$(jq '.data.result | length' "$T/q.json" 2>/dev/null)" -gt 0 ] 2>/dev/null
}
# alerts_json: Prometheus' active alerts into $T/alerts.json.
alerts_json() {
    curl -s -m 10 "$prom/api/v1/alerts" -o "$T/alerts.json"
}
# alert_in NAME STATE [JQ-FILTER-ON-LABELS]: an alert NAME in STATE (pending
# or firing) whose labels pass the filter.
alert_in() {
    alerts_json && jq -e --arg n "$1" --arg s "$2" \
        "[.data.alerts[] | select(.labels.alertname == \$n and .state == \$s) | .labels | select(${3:-true})] | length > 0" \
        "$T/alerts.json" >/dev/null 2>&1
}
alert_absent() { # NAME [JQ-FILTER-ON-LABELS]
    alerts_json && jq -e --arg n "$1" \
        "[.data.alerts[] | select(.labels.alertname == \$n) | .labels | select(${2:-true})] | length == 0" \
        "$T/alerts.json" >/dev/null 2>&1
}
expect() { # DESCRIPTION CONDITION [TIMEOUT]
    if wait_for "$2" "${3:-60}"; then
        ok "$1"
    else
        not_ok "$1"
        diag "last query: $(head -c 600 "$T/q.json" 2>/dev/null)"
        diag "alerts: $(jq -c '[.data.alerts[] | {n: .labels.alertname, s: .state, l: .labels}]' "$T/alerts.json" 2>/dev/null | head -c 1500)"
    fi
}

expect "Prometheus scrapes itsmigd: up is 1" 'prom_has "up{job=\"itsmigd\"} == 1"'
expect "it shows the host's facts as an info metric" \
    'prom_has "itsmigd_host_info{hostname=\"hostA\",arch=\"aarch64\",its_abi_revisions=\"0,1\",default_its_abi_revision=\"1\",gicv4=\"none\",probe=\"unavailable\"} == 1"'
expect "g1 may move to B (1) and not to C (0); the unreachable peer gives no verdict" \
    'prom_has "itsmigd_domain_migratable{domain=\"g1\",peer=\"b\"} == 1" &&
     prom_has "itsmigd_domain_migratable{domain=\"g1\",peer=\"c\"} == 0" &&
     ! prom_has "itsmigd_domain_migratable{peer=\"hang\"}"'
expect "the blocker of g1 to C is its rule code, and g2 is blocked by it everywhere" \
    'prom_has "itsmigd_domain_blocked{domain=\"g1\",peer=\"c\",rule=\"its-abi-unsupported\"} == 1" &&
     prom_has "itsmigd_domain_migratable_peers{domain=\"g2\"} == 0" &&
     prom_has "itsmigd_domains_unmigratable == 1"'
expect "g1 to B is one way, and counted so" \
    'prom_has "itsmigd_domain_one_way{domain=\"g1\",peer=\"b\"} == 1" &&
     prom_has "itsmigd_domains_one_way{peer=\"b\"} >= 1" && ! prom_has "itsmigd_domain_one_way{peer=\"c\"}"'
expect "peers: B and C up, the hanging one down with its failures counted by code" \
    'prom_has "itsmigd_peer_up{peer=\"b\"} == 1" && prom_has "itsmigd_peer_up{peer=\"hang\"} == 0" &&
     prom_has "itsmigd_peer_fetch_failures_total{peer=\"hang\",code=\"peer-timeout\"} >= 1"'
expect "the cap and the series under it: nothing dropped" \
    'prom_has "itsmigd_metrics_domain_series_max == 20000" && prom_has "itsmigd_metrics_domains_dropped == 0"'

# ---- state alerts: pending with the installed durations -----------------------------------

expect "ItsmigDomainCannotMigrate is pending for g2, and not for g1" \
    'alert_in ItsmigDomainCannotMigrate pending ".domain == \"g2\"" && alert_absent ItsmigDomainCannotMigrate ".domain == \"g1\""'
expect "ItsmigOneWayMove is pending for g1 to B" \
    'alert_in ItsmigOneWayMove pending ".domain == \"g1\" and .peer == \"b\""'
expect "ItsmigPeerUnreachable is pending (or, 5 minutes on, firing) for the hanging peer only" \
    '{ alert_in ItsmigPeerUnreachable pending ".peer == \"hang\"" || alert_in ItsmigPeerUnreachable firing ".peer == \"hang\""; } &&
     alert_absent ItsmigPeerUnreachable ".peer != \"hang\""'
alerts_json
for a in ItsmigMigrationRolledBack ItsmigITSSaveFailed ItsmigHookRefusing ItsmigMigrationNeedsAttention; do
    if alert_absent "$a"; then
        ok "$a is quiet before any failure"
    else
        not_ok "$a is quiet before any failure"
    fi
done

# ---- injected failures --------------------------------------------------------------------

migrate() { # BODY: the job's id in $JOB, its end awaited
    api POST /v1/migrations -H 'Content-Type: application/json' -d "$1"
    JOB=$(jbody .id)
    wait_for "api GET /v1/migrations/$JOB; [ \"\$(jbody .finished)\" = true ]" 60 ||
        diag "job $JOB did not end: $API_BODY"
}

# Refused at preflight: C does not support g1's revision.
migrate '{"domain":"g1","destination":"c"}'
check_json "the migration to C is refused at preflight and rolled back" \
    '.phase == "rolled-back" and .failed_phase == "preflight"'
reason=$(jbody .error.code)
expect "ItsmigMigrationRolledBack fires for the preflight refusal ($reason)" \
    "alert_in ItsmigMigrationRolledBack firing '.failed_phase == \"preflight\" and .reason == \"$reason\" and .mode == \"safe\"'"

# The transfer fails (the test driver has no peer-to-peer migration).
migrate '{"domain":"g1","destination":"b"}'
check_json "the migration to B fails in the transfer and rolls back" \
    '.phase == "rolled-back" and .failed_phase == "transfer"'
expect "ItsmigMigrationRolledBack fires for the failed transfer" \
    'alert_in ItsmigMigrationRolledBack firing ".failed_phase == \"transfer\" and .reason == \"libvirt-error\""'
alert_absent ItsmigITSSaveFailed && ok "ItsmigITSSaveFailed stays quiet after saves that were verified" ||
    not_ok "ItsmigITSSaveFailed stays quiet after saves that were verified"

# Without a QEMU log the ITS save cannot be verified: the job stops there.
rm -f "$T/qemu-logs/g1.log"
wait_for 'vsh domstate g1 && grep -q running "$T/virsh.out"' 10
migrate '{"domain":"g1","destination":"b"}'
check_json "without a QEMU log the save is unverified and the job rolls back" \
    '.phase == "rolled-back" and .failed_phase == "verify-its-save" and .error.code == "its-save-unverified"'
expect "ItsmigITSSaveFailed fires (its-save-unverified)" \
    'alert_in ItsmigITSSaveFailed firing ".reason == \"its-save-unverified\""'

# The hook on A is asked about g2 arriving: revision 2 is refused.
api POST /v1/hook/migrate-begin -H 'Content-Type: application/xml' --data-binary "@$T/g2.xml"
check_json "the hook gate refuses g2 (its-abi-unsupported)" \
    '.allowed == false and ([.blockers[].code] | index("its-abi-unsupported") != null)'
expect "ItsmigHookRefusing fires for its-abi-unsupported" \
    'alert_in ItsmigHookRefusing firing ".rule == \"its-abi-unsupported\""'
expect "the job counters say the same: three rolled back, by phase" \
    'prom_has "sum(itsmigd_migrations_finished_total{result=\"rolled-back\"}) == 3" &&
     prom_has "itsmigd_migrations{phase=\"rolled-back\"} == 3" && prom_has "itsmigd_hook_decisions_total{operation=\"migrate\",decision=\"refused\"} == 1"'
alert_absent ItsmigMigrationNeedsAttention && ok "no job needs attention, and no alert says so" ||
    not_ok "no job needs attention, and no alert says so"

# ---- the cap on per-domain series, on reload ---------------------------------------------

use_itsmigd a
scrape "$T/full.txt" >/dev/null
series() { # FILE: the per-domain samples in it
    grep -cE '^itsmigd_domain_(migratable|migratable_peers|blocked|one_way)\{' "$1"
}
value() { # FILE METRIC
    sed -n "s/^$2 //p" "$1"
}
full=$(series "$T/full.txt")
is "$(value "$T/full.txt" itsmigd_metrics_domain_series)" "$full" \
    "uncapped, itsmigd_metrics_domain_series counts the $full per-domain samples"
cap=$((full - 1))
sed -i "s/^\[metrics\]\$/[metrics]\nmax-domain-series = $cap/" "$ITSMIGD_CONF"
kill -HUP "$ITSMIGD_PID"
wait_for "scrape '$T/capped.txt' >/dev/null; [ \"\$(value '$T/capped.txt' itsmigd_metrics_domain_series_max)\" = $cap ]" 10
shown=$(series "$T/capped.txt")
dropped=$(value "$T/capped.txt" itsmigd_metrics_domain_series_dropped)
if [ "$shown" -le "$cap" ] && [ "$shown" = "$(value "$T/capped.txt" itsmigd_metrics_domain_series)" ] &&
    [ "$((shown + dropped))" = "$full" ] && [ "$(value "$T/capped.txt" itsmigd_metrics_domains_dropped)" -ge 1 ]; then
    ok "max-domain-series = $cap (reloaded): $shown series shown, $dropped dropped and counted"
else
    not_ok "max-domain-series = $cap (reloaded): at most $cap shown, the rest counted as dropped"
    diag "shown $shown, dropped $dropped, of $full"
fi
is "$(grep -E '^itsmigd_domains_(unmigratable|blocked|one_way)' "$T/capped.txt")" \
    "$(grep -E '^itsmigd_domains_(unmigratable|blocked|one_way)' "$T/full.txt")" \
    "the counts over all domains are the same under the cap"
if promtool check metrics <"$T/capped.txt" >"$T/lint2.out" 2>&1; then
    ok "the capped exposition passes promtool check metrics"
else
    not_ok "the capped exposition passes promtool check metrics"
    diag_file "$T/lint2.out" 10
fi

stop_pid "$PROM_PID" TERM 30
done_testing
