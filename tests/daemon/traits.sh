#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The scheduler's view of a host: itsmigd writes a Nova provider config file
# and an NFD feature file from its capabilities ([fleet]), at start and when
# they change, and says on GET /v1/host and in its log that nova-compute must
# restart to read a change.  Debian's python3-nova loads the file through
# Nova's own loader (and refuses a broken one); the NFD file keeps to NFD's
# documented local-feature format; itsmigctl host traits prints the same.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq /usr/bin/python3
require_daemon
ITSMIGCTL=${ITSMIGCTL:-$builddir/client/itsmigctl}
require_helper "$ITSMIGCTL"
if ! /usr/bin/python3 -c 'import nova.compute.provider_config' 2>/dev/null; then
    skip_all "Debian's python3-nova is not installed (scripts/deps.sh --test)"
fi

probe=$srcdir/tests/data/probe
mkdir -p "$T/nova" "$T/nfd"
printf '[compute]\nprovider_config_location = %s\n' "$T/nova" >"$T/nova.conf"

port=$((20000 + ($$ + 17) % 20000))
tls_peer_files
# shellcheck disable=SC2046
start_itsmigd --uri test:///default $(tls_sets "$port") \
    --set "peer b.accept-token-file=$T/token-b" \
    --set daemon.hostname=hostA --set host.arch=aarch64 \
    --set host.vgic-its=true --set host.its-abi-revisions=0 \
    --set host.default-its-abi-revision=0 --set host.save-tables=true \
    --set host.restore-tables=true --set host.ctrl-reset=true \
    --set host.save-pending-tables=true --set host.gicv4=none \
    --set "host.vcpu-registers-file=$probe/trixie.json" \
    --set "fleet.nova-provider-config=$T/nova/itsmig.yaml" \
    --set "fleet.nfd-features-file=$T/nfd/itsmig"

class=$(jq -r .vcpu_registers.digest "$probe/trixie.json" | sed 's/^sha256://' | cut -c1-16)
CLASS=$(printf '%s' "$class" | tr a-f A-F)
cat >"$T/want-traits" <<EOT
CUSTOM_ITSMIG_GICV4_NONE
CUSTOM_ITSMIG_ITS_ABI_DEFAULT_REV_0
CUSTOM_ITSMIG_ITS_ABI_REV_0
CUSTOM_ITSMIG_ITS_CTRL_RESET
CUSTOM_ITSMIG_ITS_RESTORE_TABLES
CUSTOM_ITSMIG_ITS_SAVE_TABLES
CUSTOM_ITSMIG_VCPU_REGS_$CLASS
CUSTOM_ITSMIG_VGIC_ITS
CUSTOM_ITSMIG_VGIC_SAVE_PENDING_TABLES
EOT

# ---- written at start, read by Nova's loader ---------------------------------

if [ -s "$T/nova/itsmig.yaml" ] && [ -s "$T/nfd/itsmig" ]; then
    ok "itsmigd writes both [fleet] files at start"
else
    not_ok "itsmigd writes both [fleet] files at start"
    diag_file "$ITSMIGD_LOG" 20
fi
if /usr/bin/python3 "$srcdir/tests/daemon/nova-load.py" "$T/nova.conf" >"$T/nova.out" 2>"$T/nova.err" &&
    cmp -s "$T/nova.out" "$T/want-traits"; then
    ok "Nova's provider config loader reads the traits of \$COMPUTE_NODE"
else
    not_ok "Nova's provider config loader reads the traits of \$COMPUTE_NODE"
    diag_file "$T/nova.out"
    diag_file "$T/nova.err" 20
    diag_file "$T/nova/itsmig.yaml"
fi

# The loader can fail: a broken copy (a trait Placement does not allow, a
# trait that is not custom) is refused, with Nova's reason.
mkdir -p "$T/broken"
printf '[compute]\nprovider_config_location = %s\n' "$T/broken" >"$T/broken.conf"
sed "s/'CUSTOM_ITSMIG_VGIC_ITS'/'CUSTOM_itsmig_vgic_its'/" "$T/nova/itsmig.yaml" >"$T/broken/itsmig.yaml"
if ! /usr/bin/python3 "$srcdir/tests/daemon/nova-load.py" "$T/broken.conf" >"$T/nova.out" 2>&1 &&
    grep -q "refused: .*did not pass validation" "$T/nova.out"; then
    ok "Nova refuses a trait name in lower case"
else
    not_ok "Nova refuses a trait name in lower case"
    diag_file "$T/nova.out" 10
fi
sed "s/'CUSTOM_ITSMIG_VGIC_ITS'/'HW_CPU_X86_AVX'/" "$T/nova/itsmig.yaml" >"$T/broken/itsmig.yaml"
if ! /usr/bin/python3 "$srcdir/tests/daemon/nova-load.py" "$T/broken.conf" >"$T/nova.out" 2>&1 &&
    grep -q "only custom traits are allowed" "$T/nova.out"; then
    ok "Nova refuses a trait that is not CUSTOM_"
else
    not_ok "Nova refuses a trait that is not CUSTOM_"
    diag_file "$T/nova.out" 10
fi

# ---- the NFD feature file ----------------------------------------------------

# NFD's local source: at most 65536 bytes; "#" lines are comments and "# +"
# lines directives; every other line name[=value], the name (NFD prefixes
# feature.node.kubernetes.io/) and the value each a Kubernetes label part.
if /usr/bin/python3 - "$T/nfd/itsmig" "$class" >"$T/nfd.out" 2>&1 <<'PY'
import re, sys
path, cls = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
assert len(data) <= 65536, "larger than NFD's 64 KiB"
part = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
labels = {}
for line in data.decode().splitlines():
    if line.startswith("#"):
        assert not line.startswith("# +"), "an NFD directive: " + line
        continue
    name, _, value = line.partition("=")
    assert name and part.match(name), "bad label name: " + line
    assert part.match(value), "bad label value: " + line
    labels[name] = value
want = {"itsmig-vgic-its": "true", "itsmig-its-abi-rev-0": "true",
        "itsmig-its-abi-default-rev": "0", "itsmig-gicv4": "none",
        "itsmig-its-save-tables": "true", "itsmig-its-restore-tables": "true",
        "itsmig-its-ctrl-reset": "true", "itsmig-vgic-save-pending-tables": "true",
        "itsmig-vcpu-regs-class": cls}
assert labels == want, labels
PY
then
    ok "the NFD file keeps to NFD's local feature format and holds the labels"
else
    not_ok "the NFD file keeps to NFD's local feature format and holds the labels"
    diag_file "$T/nfd.out" 10
    diag_file "$T/nfd/itsmig"
fi

# ---- GET /v1/host and itsmigctl host traits ----------------------------------

api GET /v1/host
check_json "GET /v1/host lists the traits" \
    "[.fleet.traits[]] == $(jq -R . "$T/want-traits" | jq -s -c .)"
check_json "GET /v1/host says nova-compute must restart to read the new file" \
    ".fleet.nova_provider_config.path == \"$T/nova/itsmig.yaml\" and .fleet.nova_provider_config.nova_compute_restart_needed == true and (.fleet.nova_provider_config.changed_at | test(\"^20\")) and .fleet.nova_provider_config.error == null and .fleet.nfd_features_file.error == null"
S=$(curl -sS -m 10 --cacert "$T/cert.pem" -H "Authorization: Bearer $(cat "$T/token-b")" \
    -o "$T/tcp-host.json" -w '%{http_code}' "https://127.0.0.1:$port/v1/host" 2>"$T/curl.err")
if [ "$S" = 200 ] && jq -e 'has("fleet") | not' "$T/tcp-host.json" >/dev/null &&
    jq -e '.caps != null' "$T/tcp-host.json" >/dev/null; then
    ok "a peer's GET /v1/host over TCP has the capabilities but not this host's [fleet] files"
else
    not_ok "a peer's GET /v1/host over TCP has the capabilities but not this host's [fleet] files"
    diag "status $S"
    diag_file "$T/curl.err"
fi
if grep -q "nova-compute reads it only when it starts" "$ITSMIGD_LOG"; then
    ok "the log says nova-compute reads the file only at start"
else
    not_ok "the log says nova-compute reads the file only at start"
    diag_file "$ITSMIGD_LOG" 20
fi

ctl() {
    env LC_ALL=C ITSMIG_SOCKET= "$ITSMIGCTL" "$@" --socket "$ITSMIGD_SOCK" >"$T/ctl.out" 2>"$T/ctl.err"
}
ctl host traits
if [ $? = 0 ] && cmp -s "$T/ctl.out" "$T/nova/itsmig.yaml"; then
    ok "itsmigctl host traits prints the file itsmigd wrote"
else
    not_ok "itsmigctl host traits prints the file itsmigd wrote"
    diag_file "$T/ctl.err"
fi
ctl host traits --format nfd
if [ $? = 0 ] && cmp -s "$T/ctl.out" "$T/nfd/itsmig"; then
    ok "itsmigctl host traits --format nfd prints the NFD file itsmigd wrote"
else
    not_ok "itsmigctl host traits --format nfd prints the NFD file itsmigd wrote"
    diag_file "$T/ctl.err"
fi
mkdir -p "$T/ctl-nova"
ctl host traits --output "$T/ctl-nova/x.yaml"
printf '[compute]\nprovider_config_location = %s\n' "$T/ctl-nova" >"$T/ctl-nova.conf"
if /usr/bin/python3 "$srcdir/tests/daemon/nova-load.py" "$T/ctl-nova.conf" >"$T/nova.out" 2>&1 &&
    cmp -s "$T/nova.out" "$T/want-traits"; then
    ok "itsmigctl host traits --output writes a file Nova loads"
else
    not_ok "itsmigctl host traits --output writes a file Nova loads"
    diag_file "$T/nova.out" 10
fi
ctl host traits --output "$T/no-such-dir/x.yaml"
if [ $? = 1 ] && grep -q "no-such-dir/x.yaml" "$T/ctl.err" && [ ! -e "$T/no-such-dir" ]; then
    ok "--output into a missing directory fails, naming the file"
else
    not_ok "--output into a missing directory fails, naming the file"
    diag_file "$T/ctl.err"
fi
ctl host traits --format yaml
is "$?" 2 "an unknown --format is a usage error"
printf '{"schema":"itsmig-host-caps","version":9}' >"$T/bad-caps.json"
ctl host traits --caps "$T/bad-caps.json"
if [ $? = 2 ] && grep -q "bad-caps.json" "$T/ctl.err"; then
    ok "a capabilities document that is not one is refused, naming it"
else
    not_ok "a capabilities document that is not one is refused, naming it"
    diag_file "$T/ctl.err"
fi
curl -s --unix-socket "$ITSMIGD_SOCK" http://localhost/v1/host >"$T/host.json"
ctl host traits --caps "$T/host.json"
if [ $? = 0 ] && cmp -s "$T/ctl.out" "$T/nova/itsmig.yaml"; then
    ok "itsmigctl host traits --caps reads a saved document"
else
    not_ok "itsmigctl host traits --caps reads a saved document"
    diag_file "$T/ctl.err"
fi

# ---- a change of capabilities, and a file that cannot be written ---------------

before=$(stat -c %i "$T/nova/itsmig.yaml")
sed -i 's/^gicv4 = none/gicv4 = 4.1/' "$ITSMIGD_CONF"
kill -HUP "$ITSMIGD_PID"
if wait_for "grep -q CUSTOM_ITSMIG_GICV4_4_1 '$T/nova/itsmig.yaml'" 20; then
    ok "a reload that changes the capabilities rewrites the file"
else
    not_ok "a reload that changes the capabilities rewrites the file"
    diag_file "$ITSMIGD_LOG" 20
fi
if [ "$(stat -c %i "$T/nova/itsmig.yaml")" != "$before" ] && ! grep -q GICV4_NONE "$T/nova/itsmig.yaml" &&
    [ -z "$(find "$T/nova" -name '*.yaml' ! -name itsmig.yaml)" ] &&
    [ "$(find "$T/nova" -type f | wc -l)" = 1 ]; then
    ok "the file is replaced by a rename, no temporary file left"
else
    not_ok "the file is replaced by a rename, no temporary file left"
    ls -la "$T/nova" >&2
fi
if wait_for "[ \$(grep -c 'changed .*nova-compute reads it only when it starts' '$ITSMIGD_LOG') -ge 1 ]" 10; then
    ok "the log says the file changed and nova-compute must restart"
else
    not_ok "the log says the file changed and nova-compute must restart"
    diag_file "$ITSMIGD_LOG" 20
fi

sed -i "s|^nova-provider-config = .*|nova-provider-config = $T/missing/itsmig.yaml|" "$ITSMIGD_CONF"
kill -HUP "$ITSMIGD_PID"
if wait_for "grep -q 'nova-provider-config: cannot write it' '$ITSMIGD_LOG'" 20; then
    ok "a file that cannot be written is logged"
else
    not_ok "a file that cannot be written is logged"
    diag_file "$ITSMIGD_LOG" 20
fi
api GET /v1/host
check_json "GET /v1/host gives the write's error, and the daemon keeps serving" \
    ".fleet.nova_provider_config.path == \"$T/missing/itsmig.yaml\" and (.fleet.nova_provider_config.error | test(\"missing\")) and .fleet.nova_provider_config.nova_compute_restart_needed == false"

stop_itsmigd
is "$STOP_STATUS" 0 "itsmigd stops cleanly"
done_testing
