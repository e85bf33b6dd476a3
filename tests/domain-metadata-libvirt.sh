#!/bin/sh
# TAP test: the ITS metadata record survives a trip through real libvirt.
#
# For each record test-domain-profile knows, itsmig_its_metadata_to_xml()'s
# element is stored with "virsh metadata --key itsmig --uri urn:itsmig:domain:1
# --set ... --live --config" (what virDomainSetMetadata does for itsmigd) on an
# aarch64 domain of libvirt's test driver; the live and the persistent domain
# XML that libvirt then gives back must parse to the record that was written.
# Each record replaces another one first, so that a second write is checked to
# replace the first rather than add to it (two records would be refused).
#
# Needs virsh (libvirt-clients); the test:///default driver runs inside virsh,
# no daemon involved. Its state lives as long as the connection, so every
# step runs in one virsh process.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
top_builddir=${top_builddir:-$top_srcdir}
prog=$top_builddir/tests/test-domain-profile

NS=urn:itsmig:domain:1
KEY=itsmig

if ! command -v virsh >/dev/null 2>&1; then
    echo "1..0 # SKIP virsh not found (it comes with libvirt-clients)"
    exit 0
fi
if ! out=$(virsh -q -c test:///default version 2>&1); then
    echo "1..0 # SKIP virsh cannot open test:///default: $(echo "$out" | tr '\n' ' ')"
    exit 0
fi
if ! records=$("$prog" --list-metadata-records); then
    echo "Bail out! $prog --list-metadata-records failed"
    exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-metadata.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
}
diag() {
    sed 's/^/# /' "$@"
}

# The element as one argument of a virsh command: virsh reads a backslash as
# escaping the next character inside double quotes. Newlines between elements
# are dropped (values cannot hold one: libxml2 writes it as &#10;).
virsh_quote() {
    printf '"%s"' "$(printf '%s' "$1" | tr '\n' ' ' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# Splits virsh's output at the echo markers into $tmp/live.xml and
# $tmp/config.xml (virsh's echo prints no newline, so a marker may begin a line).
split_dumps() {
    rm -f "$tmp/live.xml" "$tmp/config.xml"
    awk -v live="$tmp/live.xml" -v config="$tmp/config.xml" '
    {
        while ((i = index($0, "@@itsmig-split:")) > 0) {
            if (out != "" && i > 1)
                print substr($0, 1, i - 1) > out
            rest = substr($0, i + length("@@itsmig-split:"))
            j = index(rest, "@@")
            tag = substr(rest, 1, j - 1)
            $0 = substr(rest, j + 2)
            out = (tag == "live") ? live : config
        }
        if (out != "")
            print > out
    }' "$1"
}

# Record names are single words, one a line.
# shellcheck disable=SC2086
set -- $records
echo "1..$(($# * 3))"

# The first record replaces the last one, every other its predecessor.
eval "previous=\${$#}"
for rec in $records; do
    dom=itsmig-meta-$rec
    cat >"$tmp/domain.xml" <<EOF
<domain type='test'>
  <name>$dom</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu>2</vcpu>
  <os><type arch='aarch64' machine='virt'>hvm</type></os>
  <features><gic version='3'/></features>
</domain>
EOF
    first=$("$prog" --print-metadata-xml "$previous") || exit 99
    element=$("$prog" --print-metadata-xml "$rec") || exit 99
    set_first="metadata $dom --uri $NS --key $KEY --set $(virsh_quote "$first") --live --config"
    set_rec="metadata $dom --uri $NS --key $KEY --set $(virsh_quote "$element") --live --config"

    if virsh -q -c test:///default "define $(virsh_quote "$tmp/domain.xml"); start $dom;
            $set_first; $set_rec;
            echo @@itsmig-split:live@@; dumpxml $dom;
            echo @@itsmig-split:config@@; dumpxml $dom --inactive" \
            >"$tmp/virsh.out" 2>"$tmp/virsh.err"; then
        ok "$rec: virsh stores the record with --live --config"
    else
        not_ok "$rec: virsh stores the record with --live --config"
        echo "# element:"
        printf '%s\n' "$element" | sed 's/^/#   /'
        diag "$tmp/virsh.err"
    fi
    split_dumps "$tmp/virsh.out"

    for which in live config; do
        if [ ! -s "$tmp/$which.xml" ]; then
            not_ok "$rec: the $which domain XML reads back as written"
            echo "# virsh gave no $which domain XML"
        elif "$prog" --check-metadata-file "$rec" "$tmp/$which.xml" \
                >"$tmp/check.out" 2>"$tmp/check.err"; then
            ok "$rec: the $which domain XML reads back as written"
        else
            not_ok "$rec: the $which domain XML reads back as written"
            diag "$tmp/check.err"
            echo "# $which domain XML from libvirt:"
            diag "$tmp/$which.xml"
            echo "# profile:"
            diag "$tmp/check.out"
        fi
    done
    previous=$rec
done

[ "$failed" -eq 0 ]
