#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The bash completion (client/completion/itsmigctl) without the
# bash-completion package: commands, options, --mode values, files, and the
# job ids and domain names it asks of itsmigd through the itsmigctl on the
# command line (here a stub that records how it was called).

if [ -z "${BASH_VERSION:-}" ]; then
    if ! command -v bash >/dev/null 2>&1; then
        echo "1..0 # SKIP bash is not installed"
        exit 0
    fi
    exec bash "$0" "$@"
fi

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/daemon/lib.sh"

. "$srcdir/client/completion/itsmigctl"

# A stand-in for itsmigctl: lists for "jobs --quiet" and "domains --quiet",
# its arguments appended to $T/stub.args.
STUB=$T/itsmigctl
cat >"$STUB" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/stub.args"
case "\$1" in
jobs) printf '%s\n' m-0001 m-0002 x-0003 ;;
domains) printf '%s\n' database-primary vm1 vm2 ;;
esac
EOF
chmod +x "$STUB"

# comp WORD...: completes the last word; prints the candidates sorted, on one line.
comp() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _itsmigctl
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

is "$(complete -p itsmigctl 2>&1)" "complete -F _itsmigctl itsmigctl" \
    "the completion is registered for itsmigctl"
is "$(comp itsmigctl '')" \
    "--help --version abort domains events host its job jobs matrix migrate preflight" \
    "the commands"
is "$(comp itsmigctl jo)" "job jobs" "a command's prefix"
CONN="--cacert --help --json --socket --timeout --token-file --url"
is "$(comp itsmigctl migrate vm1 --)" \
    "--auto-converge --bandwidth --cacert --detach --help --json --max-downtime --mode \
--no-quiesce --phase-timeout --resume --socket --timeout --to --token-file --url --wait" \
    "migrate's options, --timeout once (the job's)"
is "$(comp itsmigctl migrate vm1 --to b --w)" "--wait" "migrate: an option's prefix after --to PEER"
is "$(comp itsmigctl preflight vm1 --)" \
    "--cacert --help --json --no-quiesce --socket --timeout --to --token-file --url" \
    "preflight's options"
is "$(comp itsmigctl jobs -)" \
    "--cacert --help --json --quiet --socket --timeout --token-file --url" "jobs' options"
is "$(comp itsmigctl its '')" "--help inspect" "its: the subcommand"
is "$(comp itsmigctl its inspect --)" \
    "--baser0 --baser1 --help --iidr --image --json --memory --pendbaser --propbaser --ram-block \
--semantics --vcpus" "its inspect: its options"
is "$(comp itsmigctl its inspect --ram-block '')" "" "--ram-block: nothing offered (NAME@GPA)"
is "$(comp itsmigctl host '')" "$CONN probe traits validate" \
    "host: probe, traits, validate or the connection options"
is "$(comp itsmigctl host probe -)" "--help --json --registers" "host probe: its options"
is "$(comp itsmigctl host traits -)" \
    "--cacert --caps --format --help --output --socket --timeout --token-file --url" \
    "host traits: its options and the connection options"
is "$(comp itsmigctl host traits --format '')" "nfd nova-provider-config" \
    "host traits --format: the two formats"
is "$(comp itsmigctl host validate -)" "--config --help --hook --json --qemu-conf" \
    "host validate: its options"
is "$(comp itsmigctl migrate vm1 --mode '')" "live safe" "--mode: safe and live"
is "$(comp itsmigctl migrate vm1 --mode l)" "live" "--mode l: live"
is "$(comp itsmigctl migrate vm1 --mode = s)" "safe" "--mode=s, as readline splits it"
is "$(comp itsmigctl migrate vm1 --to '')" "" "--to: nothing offered (no list of peers)"
is "$(comp itsmigctl events --type mi)" "migration migration-iteration" "events --type: the types"

mkdir "$T/certs"
: >"$T/certs/ca.pem"
is "$(comp itsmigctl jobs --cacert "$T/certs/c")" "$T/certs/ca.pem" "--cacert: files"
is "$(comp itsmigctl host --socket "$T/cer")" "$T/certs" "--socket: files"
is "$(comp itsmigctl host validate --config "$T/certs/c")" "$T/certs/ca.pem" "--config: files"
is "$(comp itsmigctl host traits --format nfd --output "$T/certs/c")" "$T/certs/ca.pem" \
    "--output: files"
is "$(comp itsmigctl its inspect --image "$T/certs/c")" "$T/certs/ca.pem" "--image: files"
is "$(comp itsmigctl its inspect --image x --semantics "$T/certs/c")" "$T/certs/ca.pem" \
    "--semantics: files"
is "$(comp itsmigctl its inspect --image x --j)" "--json" "its inspect: options after --image FILE"

rm -f "$T/stub.args"
is "$(comp "$STUB" job '')" "m-0001 m-0002 x-0003" "job: the ids itsmigctl jobs --quiet lists"
is "$(comp "$STUB" abort m-)" "m-0001 m-0002" "abort: the ids that match"
is "$(comp "$STUB" abort m-0001 '')" "$CONN" "abort: after the id, options only"
is "$(comp "$STUB" abort m-0001 --j)" "--json" "abort: options after the id"
rm -f "$T/stub.args"
comp "$STUB" job --socket /run/x.sock '' >/dev/null
is "$(cat "$T/stub.args")" "jobs --quiet --timeout 3 --socket /run/x.sock" \
    "job: asks with the --socket on the line, and a short timeout"
rm -f "$T/stub.args"
comp "$STUB" abort --url https : //hostA : 7443 --token-file /etc/t --timeout 9 '' >/dev/null
is "$(cat "$T/stub.args")" \
    "jobs --quiet --timeout 3 --url https://hostA:7443 --token-file /etc/t --timeout 9" \
    "abort: a --url split at its colons is passed whole, with --token-file and --timeout"
is "$(comp "$STUB" abort --url https : //hostA : 7443 m-)" "m-0001 m-0002" \
    "abort: the --url's pieces are not taken for the id"
is "$(comp "$STUB" migrate v)" "vm1 vm2" "migrate: the domains itsmigctl domains --quiet lists"
rm -f "$T/stub.args"
comp "$STUB" migrate --timeout 60 --socket /s '' >/dev/null
is "$(cat "$T/stub.args")" "domains --quiet --timeout 3 --socket /s" \
    "migrate: its --timeout (the job's) is not passed on"
is "$(comp "$STUB" preflight '')" "database-primary vm1 vm2" "preflight: the domains"
is "$(comp "$T/no-such-itsmigctl" job '')" "" "job: nothing when itsmigctl cannot be run"
is "$(comp false job '')" "" "job: nothing when itsmigd cannot be asked"

done_testing
