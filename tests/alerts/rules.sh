#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The installed alert rules (etc/itsmig-alerts.yml) as Prometheus reads them:
# promtool check rules, and promtool test rules with unit tests of every
# alert firing and not firing (tests/alerts/itsmig-alerts-test.yml).  Two
# broken copies of the rules must fail those tests, so that they can fail:
# one without the "for:" durations, one whose alerts never fire.  Each alert
# names its runbook, a section of itsmig-alerts(7) that exists.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools promtool awk sed

rules=$srcdir/etc/itsmig-alerts.yml
unit=$srcdir/tests/alerts/itsmig-alerts-test.yml
man7=$srcdir/man/itsmig-alerts.7

if promtool check rules "$rules" >"$T/check.out" 2>&1; then
    ok "promtool check rules accepts $(basename "$rules"): $(grep -o '[0-9]* rules found' "$T/check.out")"
else
    not_ok "promtool check rules accepts $(basename "$rules")"
    diag_file "$T/check.out" 20
fi

if promtool test rules "$unit" >"$T/test.out" 2>&1; then
    ok "promtool test rules: every alert fires and stays quiet as its unit tests say"
else
    not_ok "promtool test rules: every alert fires and stays quiet as its unit tests say"
    diag_file "$T/test.out" 40
fi

alerts=$(sed -n 's/^ *- alert: *//p' "$rules")
tested=$(sed -n 's/^ *alertname: *//p' "$unit" | sort -u)
untested=
for a in $alerts; do
    printf '%s\n' "$tested" | grep -qx "$a" || untested="$untested $a"
    # Firing and quiet: at least one expectation with alerts and one without.
    awk -v a="$a" '
        /alertname:/ { cur = $2 }
        /exp_alerts: *\[\]/ { if (cur == a) quiet = 1 }
        /exp_labels:/ { if (cur == a) fire = 1 }
        END { exit !(quiet && fire) }' "$unit" || untested="$untested $a(not both ways)"
done
is "$untested" "" "each of the $(echo $alerts | wc -w) alerts has unit tests firing and not firing"

# The same tests against broken copies, next to the unit file so that its
# relative rule_files path finds them.
mkdir -p "$T/etc" "$T/tests/alerts"
cp "$unit" "$T/tests/alerts/"
sed '/^ *for: /d' "$rules" >"$T/etc/itsmig-alerts.yml"
if promtool test rules "$T/tests/alerts/$(basename "$unit")" >"$T/nofor.out" 2>&1; then
    not_ok "the unit tests fail on rules without their durations"
else
    ok "the unit tests fail on rules without their durations"
fi
awk '/^ *expr: *>-$/ { print; getline; sub(/[^ ].*/, "vector(1) < 0"); print; skip = 1; next }
     skip && /^ *(labels|for):/ { skip = 0 }
     skip { next }
     /^ *expr: / { sub(/expr: .*/, "expr: vector(1) < 0") }
     { print }' "$rules" >"$T/etc/itsmig-alerts.yml"
if ! promtool check rules "$T/etc/itsmig-alerts.yml" >"$T/never.check" 2>&1; then
    not_ok "the unit tests fail on rules that never fire"
    diag_file "$T/never.check" 10
elif promtool test rules "$T/tests/alerts/$(basename "$unit")" >"$T/never.out" 2>&1; then
    not_ok "the unit tests fail on rules that never fire"
else
    ok "the unit tests fail on rules that never fire"
fi

# Each alert's runbook annotation names itsmig-alerts(7) and its own section,
# and the page has that section with its three parts.
bad=
for a in $alerts; do
    grep -q "runbook: \"itsmig-alerts(7), $a\"" "$rules" || bad="$bad $a(annotation)"
    awk -v a="$a" '
        /^\.SS / { inside = ($2 == a) }
        inside && /^\.TP/ { getline; if ($0 ~ /Meaning|Check|Action/) n[$0]++ }
        END { exit !(length(n) == 3) }' "$man7" || bad="$bad $a(runbook)"
done
is "$bad" "" "each alert names its runbook, a section of itsmig-alerts(7) with meaning, checks and actions"

done_testing
