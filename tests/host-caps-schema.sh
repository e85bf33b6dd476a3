#!/bin/sh
# TAP test: docs/host-caps.schema.json and libitsmig agree on the host
# capabilities document.  The documents the library writes validate against
# the schema and parse back; every bad document the schema can describe is
# refused by both the schema and itsmig_host_caps_from_json(), and every good
# one accepted by both.  The documents come from tests/test-host-caps
# (--dump-example, --dump-cases), which also parses them (--parse).
#
# Needs Debian's python3-jsonschema for /usr/bin/python3 (not whatever python3
# comes first in PATH); when it is missing and we are root, it is installed.
# Needs top_srcdir and top_builddir (the test harness exports both).

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
top_builddir=${top_builddir:-$top_srcdir}

python=/usr/bin/python3
schema=$top_srcdir/docs/host-caps.schema.json
prog=$top_builddir/tests/test-host-caps

skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}

if [ ! -x "$python" ]; then
    skip_all "$python is missing"
fi
if ! "$python" -c 'import jsonschema' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "# installing python3-jsonschema" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-jsonschema >&2 ||
            { apt-get update -q >&2 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-jsonschema >&2; }
    fi
    if ! "$python" -c 'import jsonschema' 2>/dev/null; then
        skip_all "python3-jsonschema is not installed and cannot be installed here"
    fi
fi
if [ ! -x "$prog" ]; then
    echo "Bail out! $prog is not built"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-host-caps.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

mkdir "$tmp/cases"
for example in full unknown conflict; do
    if ! "$prog" --dump-example "$example" >"$tmp/cases/example-$example.json"; then
        echo "Bail out! $prog --dump-example $example failed"
        exit 1
    fi
done
if ! "$prog" --dump-cases "$tmp/cases"; then
    echo "Bail out! $prog --dump-cases failed"
    exit 1
fi

exec "$python" - "$schema" "$prog" "$tmp/cases" <<'EOF'
import json
import os
import subprocess
import sys

import jsonschema

schema_path, prog, cases = sys.argv[1:4]


def reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def load_strict(data):
    """RFC 8259 JSON: UTF-8, no NaN or Infinity, no lone surrogates."""
    doc = json.loads(data.decode("utf-8"), parse_constant=reject_constant)
    json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return doc


def schema_verdict(validator, data):
    """None when valid, else why not."""
    try:
        doc = load_strict(data)
    except (ValueError, UnicodeError) as e:
        return "not JSON: %s" % e
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    return "%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(root)", e.message[:200])


def parser_verdict(path):
    """None when the library accepts the document, else its message."""
    r = subprocess.run([prog, "--parse", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode == 0:
        return None
    if r.returncode != 1:
        raise RuntimeError("%s --parse %s: exit %d: %s" % (prog, path, r.returncode,
                                                           r.stderr.decode(errors="replace")))
    return r.stdout.decode(errors="replace").strip()


n = 0
failed = False


def report(ok, name, notes=()):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, name))
    for note in notes:
        print("# " + note)
    if not ok:
        failed = True


files = sorted(f for f in os.listdir(cases) if f.endswith(".json"))
kinds = {"example": True, "good": True, "bad": False}
if not any(f.startswith("bad-") for f in files) or not any(f.startswith("good-") for f in files):
    print("Bail out! no documents in %s" % cases)
    sys.exit(1)
print("1..%d" % (len(files) + 1))

with open(schema_path, "rb") as f:
    schema = json.load(f)
try:
    jsonschema.Draft202012Validator.check_schema(schema)
    report(True, "schema is valid JSON Schema 2020-12")
except jsonschema.exceptions.SchemaError as e:
    report(False, "schema is valid JSON Schema 2020-12", [str(e.message)])
validator = jsonschema.Draft202012Validator(schema)

for name in files:
    kind = name.split("-", 1)[0]
    path = os.path.join(cases, name)
    with open(path, "rb") as f:
        data = f.read()
    want_valid = kinds[kind]
    by_schema = schema_verdict(validator, data)
    by_parser = parser_verdict(path)
    notes = ["schema: %s" % (by_schema or "valid"), "parser: %s" % (by_parser or "accepted")]
    if want_valid:
        report(by_schema is None and by_parser is None, "%s: schema and parser accept" % name,
               notes)
    else:
        report(by_schema is not None and by_parser is not None,
               "%s: schema and parser refuse" % name, notes)

sys.exit(1 if failed else 0)
EOF
