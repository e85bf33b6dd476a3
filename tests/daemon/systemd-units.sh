#!/bin/sh
# TAP test: the systemd units of itsmigd load cleanly, the service's sandbox
# keeps its exposure at or below MAX_EXPOSURE, and the documentation of the
# configuration (itsmigd.conf(5), itsmigd(8), etc/itsmigd.conf, the units)
# tells one story.
#
# Needs top_srcdir and top_builddir (the test harness exports both) and the
# built daemon, $top_builddir/daemon/itsmigd: "systemd-analyze verify" checks
# that ExecStart= names an executable. systemd need not be running.

set -u

MAX_EXPOSURE=2.0

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-$top_srcdir}

service_in=$top_srcdir/systemd/itsmigd.service.in
socket_unit=$top_srcdir/systemd/itsmigd.socket
conf=$top_srcdir/etc/itsmigd.conf
man8=$top_srcdir/man/itsmigd.8
man5=$top_srcdir/man/itsmigd.conf.5
daemon_dir=$top_builddir/daemon

tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-units.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# systemd prints ASCII glyphs and no colours outside a UTF-8 terminal; make
# that certain so the output parses the same everywhere.
LC_ALL=C
export LC_ALL
SYSTEMD_COLORS=0
export SYSTEMD_COLORS

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=1
    echo "not ok $n - $1"
}
skip() {
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}
diag() {
    sed 's/^/# /' "$@"
}

echo "1..9"

# ---- the units ---------------------------------------------------------------

if [ -x "$daemon_dir/itsmigd" ]; then
    ok "the daemon is built: $daemon_dir/itsmigd"
else
    not_ok "the daemon is built: $daemon_dir/itsmigd is missing or not executable"
fi

mkdir -p "$tmp/units" "$tmp/man/man5" "$tmp/man/man8"
sed -e "s|@sbindir@|$daemon_dir|g" "$service_in" >"$tmp/units/itsmigd.service"
cp "$socket_unit" "$tmp/units/itsmigd.socket"
# Documentation= must name pages that exist: let verify look them up here.
cp "$man8" "$tmp/man/man8/itsmigd.8"
cp "$man5" "$tmp/man/man5/itsmigd.conf.5"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    skip "systemd-analyze verify passes both units without a warning" "no systemd-analyze"
    skip "the service's exposure is at most $MAX_EXPOSURE" "no systemd-analyze"
else
    if command -v man >/dev/null 2>&1; then
        man_check=--man=yes
    else
        man_check=--man=no
    fi
    # Unknown keys and misspelt values are only warnings and leave the exit
    # status 0: any output at warning level fails the test.
    (cd "$tmp/units" &&
        MANPATH=$tmp/man SYSTEMD_LOG_LEVEL=warning \
            systemd-analyze verify $man_check ./itsmigd.service ./itsmigd.socket) \
        >"$tmp/verify.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$tmp/verify.out" ]; then
        ok "systemd-analyze verify passes both units without a warning"
    else
        not_ok "systemd-analyze verify passes both units without a warning (exit status $rc)"
        diag "$tmp/verify.out"
    fi

    if ! systemd-analyze --help 2>/dev/null | grep -q -- '--offline'; then
        skip "the service's exposure is at most $MAX_EXPOSURE" "systemd-analyze has no --offline"
    else
        (cd "$tmp/units" &&
            systemd-analyze security --offline=true --no-pager ./itsmigd.service) \
            >"$tmp/security.out" 2>&1
        rc=$?
        overall='s/.*Overall exposure level for itsmigd\.service: \([0-9][0-9.]*\).*/\1/p'
        exposure=$(sed -n "$overall" "$tmp/security.out")
        if [ $rc -ne 0 ] || [ -z "$exposure" ]; then
            not_ok "the service's exposure is at most $MAX_EXPOSURE (no result, exit status $rc)"
            diag "$tmp/security.out"
        else
            echo "# overall exposure of itsmigd.service: $exposure; what remains:"
            # Rows that still cost something end in their share of the exposure.
            grep -E ' [0-9]+\.[0-9]+ *$' "$tmp/security.out" | sed 's/  */ /g; s/^/#   /'
            if awk -v e="$exposure" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(e + 0 <= max + 0) }'
            then
                ok "the service's exposure is at most $MAX_EXPOSURE: $exposure"
            else
                not_ok "the service's exposure is at most $MAX_EXPOSURE: $exposure"
            fi
        fi
    fi
fi

# ---- the configuration, as documented and as installed ---------------------

# "section key default=value reload=yes|no" for every key of itsmigd.conf(5):
# each key is a ".TP" entry with a tag '.BI "key = " TYPE' under ".SS [section]",
# whose text says "Default: VALUE." (or "empty") and "Reload: yes|no.".
man_keys() {
    awk '
        function flush(    d, r) {
            if (key == "")
                return
            d = text; r = text
            if (!sub(/.*Default: */, "", d) || !sub(/\. Reload:.*/, "", d))
                d = "?"
            if (d == "empty")
                d = ""
            if (!sub(/.*Reload: */, "", r))
                r = "?"
            sub(/\..*/, "", r)
            printf "%s %s default=%s reload=%s\n", sect, key, d, r
            key = ""
        }
        /^\.SH/ { flush(); sect = ""; next }
        /^\.SS \[/ { flush(); sect = $2; next }
        # "[peer NAME]" groups are examples, not keys with defaults.
        /^\.SS "/ { flush(); sect = ""; next }
        /^\.TP/ { flush(); tag = (sect != ""); next }
        tag && /^\.BI "/ {
            key = $0
            sub(/^\.BI "/, "", key)
            sub(/ = ".*/, "", key)
            gsub(/\\-/, "-", key)
            text = ""; tag = 0
            next
        }
        key != "" {
            line = $0
            if (line ~ /^\.(B|I) /) {
                sub(/^\.[BI] /, "", line); gsub(/"/, "", line)
            } else if (line ~ /^\.(BR|IR|RB|RI|BI|IB) /) {
                # alternating fonts: the arguments are printed without spaces
                sub(/^\.[A-Z][A-Z] /, "", line); gsub(/[" ]/, "", line)
            }
            gsub(/\\-/, "-", line); gsub(/\\%/, "", line)
            text = text " " line
        }
        END { flush() }
    ' "$man5" | sort
}

# The same for etc/itsmigd.conf: keys are "#key = default" under "[section]";
# a comment with "(reload)" marks the keys up to the next blank line.
conf_keys() {
    awk '
        /^\[/ { sect = $0; reload = "no"; next }
        /^$/ { reload = "no"; next }
        /^# / { if ($0 ~ /\(reload\)/) reload = "yes"; next }
        /^#[a-z]/ {
            key = substr($0, 2); value = key
            sub(/ *=.*/, "", key)
            if (!sub(/^[^=]*= */, "", value))
                value = "?"
            printf "%s %s default=%s reload=%s\n", sect, key, value, reload
        }
    ' "$conf" | sort
}

man_keys >"$tmp/man.keys"
conf_keys >"$tmp/conf.keys"
cut -d' ' -f1,2 "$tmp/man.keys" >"$tmp/man.names"
cut -d' ' -f1,2 "$tmp/conf.keys" >"$tmp/conf.names"

missing=$(comm -23 "$tmp/man.names" "$tmp/conf.names")
if [ -s "$tmp/man.names" ] && [ -z "$missing" ]; then
    ok "every key of itsmigd.conf(5) is in etc/itsmigd.conf ($(wc -l <"$tmp/man.names") keys)"
else
    not_ok "every key of itsmigd.conf(5) is in etc/itsmigd.conf"
    echo "$missing" | sed 's/^/# missing: /'
fi

missing=$(comm -13 "$tmp/man.names" "$tmp/conf.names")
if [ -s "$tmp/conf.names" ] && [ -z "$missing" ]; then
    ok "every key of etc/itsmigd.conf is documented in itsmigd.conf(5)"
else
    not_ok "every key of etc/itsmigd.conf is documented in itsmigd.conf(5)"
    echo "$missing" | sed 's/^/# undocumented: /'
fi

if diff "$tmp/man.keys" "$tmp/conf.keys" >"$tmp/keys.diff"; then
    ok "itsmigd.conf(5) and etc/itsmigd.conf agree on defaults and on what SIGHUP reloads"
else
    not_ok "itsmigd.conf(5) and etc/itsmigd.conf agree on defaults and on what SIGHUP reloads"
    echo "# < itsmigd.conf(5), > etc/itsmigd.conf"
    diag "$tmp/keys.diff"
fi

# itsmigd(8) names every reloadable key under SIGHUP, and no other key.
sed -n '/^\.SH SIGNALS/,/^\.SH /p' "$man8" | sed 's/\\-/-/g' >"$tmp/signals"
# Groups named whole ("every key of [host], ...") reload every key they have.
sed -n '/every key of/,/groups/p' "$tmp/signals" >"$tmp/signals.groups"
bad=""
while read -r sect key rest; do
    reload=${rest##* } # the default may have spaces
    if grep -qF -- "$sect" "$tmp/signals.groups"; then
        [ "$reload" = reload=yes ] || bad="$bad $key(not reloaded)"
    elif grep -Eq -- "(^|[^a-z-])$key([^a-z-]|\$)" "$tmp/signals"; then
        [ "$reload" = reload=yes ] || bad="$bad $key(not reloaded)"
    else
        [ "$reload" = reload=no ] || bad="$bad $key(not listed)"
    fi
done <"$tmp/man.keys"
if [ -s "$tmp/man.keys" ] && [ -z "$bad" ]; then
    ok "itsmigd(8) lists under SIGHUP exactly the keys that reload"
else
    not_ok "itsmigd(8) lists under SIGHUP exactly the keys that reload:$bad"
fi

# The units put the socket and the state where the configuration says they are.
listen_stream=$(sed -n 's/^ListenStream=//p' "$socket_unit")
state_dir=/var/lib/$(sed -n 's/^StateDirectory=//p' "$service_in")
conf_socket=$(sed -n 's/^\[api\] socket default=//p' "$tmp/conf.keys" | sed 's/ reload=.*//')
conf_state=$(sed -n 's/^\[daemon\] state-dir default=//p' "$tmp/conf.keys" | sed 's/ reload=.*//')
if [ "$listen_stream" = "$conf_socket" ] && [ "$state_dir" = "$conf_state" ]; then
    ok "the units' socket and state directory are the configuration's defaults"
else
    not_ok "the units' socket and state directory are the configuration's defaults"
    echo "# ListenStream=$listen_stream, [api] socket = $conf_socket"
    echo "# StateDirectory -> $state_dir, [daemon] state-dir = $conf_state"
fi

# ---- the man pages render ----------------------------------------------------

if ! command -v groff >/dev/null 2>&1; then
    skip "itsmigd(8) and itsmigd.conf(5) render without a groff warning" "groff not installed"
else
    groff -ww -man -Tutf8 -z "$man8" "$man5" >"$tmp/groff.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$tmp/groff.out" ]; then
        ok "itsmigd(8) and itsmigd.conf(5) render without a groff warning"
    else
        not_ok "itsmigd(8) and itsmigd.conf(5) render without a groff warning"
        diag "$tmp/groff.out"
    fi
fi

exit $failed
