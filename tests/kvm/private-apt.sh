# SPDX-License-Identifier: GPL-2.0-or-later
#
# Sourced by fetch-kernel.sh and tests/nested/fetch-debs.sh: apt for arm64
# packages of another Debian suite (trixie, trixie-backports, ...) through a
# private configuration: its own sources list, built from the archive URI and
# keyring of this machine's apt sources, its own state and cache directories,
# arm64 only.  This machine's apt is left alone.
#
# The caller sets prog (for messages) and die(), calls apt_suite with the
# suite asked for, then private_apt once when suite is set, and kapt for
# every apt call.

# kapt PROGRAM ARG...: apt-cache or apt-get with this machine's configuration
# (no suite) or the suite's private one; later -o options override its own.
kapt() {
    _p=$1
    shift
    if [ -z "$suite" ]; then
        LC_ALL=C "$_p" "$@"
        return
    fi
    LC_ALL=C "$_p" -o "Dir::Etc::SourceList=$papt/sources.list" \
        -o "Dir::Etc::SourceParts=$papt/sources.list.d" \
        -o "Dir::Etc::Preferences=$papt/preferences" \
        -o "Dir::Etc::PreferencesParts=$papt/preferences.d" \
        -o "Dir::State=$papt/state" -o "Dir::State::status=$papt/status" \
        -o "Dir::Cache=$papt/cache" -o APT::Architecture=arm64 -o APT::Architectures=arm64 "$@"
}

# The deb822 paragraph (Types, URIs, Signed-By) of the first source of this
# machine's apt that offers its own suite, or nothing.  One-line sources are
# turned into the same form.
own_archive() {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v want="$own_suite" '
            $1 != "deb" { next }
            {
                i = 2; key = ""
                if ($2 ~ /^\[/) {
                    for (; i <= NF; i++) {
                        o = $i; sub(/^\[/, "", o); sub(/\]$/, "", o)
                        if (o ~ /^signed-by=/) { key = o; sub(/^signed-by=/, "", key) }
                        if ($i ~ /\]$/) { i++; break }
                    }
                }
                if ($(i + 1) == want) {
                    print "URIs: " $i
                    if (key != "") print "Signed-By: " key
                    found = 1; exit
                }
            }
            END { exit !found }' "$f" && return 0
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v want="$own_suite" '
            function flush() {
                if (deb && enabled && has && uris != "") {
                    print "URIs: " uris
                    if (key != "") print "Signed-By: " key
                    found = 1; exit
                }
                deb = 0; enabled = 1; has = 0; uris = ""; key = ""; field = ""
            }
            BEGIN { enabled = 1 }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { if (field == "signed-by") key = key "\n" $0; next }
            {
                field = tolower($0); sub(/:.*/, "", field)
                v = $0; sub(/^[^:]*:[ \t]*/, "", v)
                if (field == "types") { n = split(v, a, /[ \t]+/); for (j = 1; j <= n; j++) if (a[j] == "deb") deb = 1 }
                else if (field == "uris") { split(v, a, /[ \t]+/); uris = a[1] }
                else if (field == "suites") { n = split(v, a, /[ \t]+/); for (j = 1; j <= n; j++) if (a[j] == want) has = 1 }
                else if (field == "signed-by") key = v
                else if (field == "enabled") enabled = (tolower(v) != "no")
            }
            END { if (!found) flush(); exit !found }' "$f" && return 0
    done
    return 1
}

# A private apt for $suite under $papt, with fresh package lists when the
# archive answers (else the lists of the last update, if any).  One update at
# a time per configuration.
private_apt() {
    [ -n "$own_suite" ] || die "/etc/os-release names no VERSION_CODENAME: cannot tell which of this machine's sources to follow"
    archive=$(own_archive) ||
        die "no source in /etc/apt/sources.list(.d) offers $own_suite: cannot tell where $suite comes from"
    mkdir -p "$papt/sources.list.d" "$papt/preferences.d" "$papt/state/lists/partial" \
        "$papt/cache/archives/partial" || die "cannot create $papt"
    : >"$papt/sources.list" && : >>"$papt/status" &&
        printf 'Types: deb\n%s\nSuites: %s\nComponents: main\nArchitectures: arm64\n' \
            "$archive" "$suite" >"$papt/sources.list.d/itsmig.sources" ||
        die "cannot write the private apt configuration in $papt"
    if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
        chown -R _apt "$papt/state/lists/partial" "$papt/cache/archives/partial" 2>/dev/null || :
    fi
    echo "$prog: apt-get update for $suite (arm64) in $papt" >&2
    exec 7>"$papt/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 900 7 || die "timed out waiting for the lock on $papt"
    fi
    if ! kapt apt-get -q update >&2; then
        ls "$papt/state/lists/"*Packages* >/dev/null 2>&1 ||
            die "apt-get update for $suite failed and there are no earlier package lists"
        echo "$prog: apt-get update for $suite failed; using the package lists of the last update" >&2
    fi
    exec 7>&-
}

# apt_suite SUITE: sets suite (empty for this machine's own suite, which its
# apt already offers), own_suite (this machine's VERSION_CODENAME) and papt
# (the private configuration's directory, one per suite under the cache).
apt_suite() {
    suite=$1
    case "$suite" in
    *[!a-z0-9.-]*) die "'$suite' is not a suite name" ;;
    esac
    own_suite=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')
    [ "$suite" != "$own_suite" ] || suite=
    papt="${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/apt/$suite"
}
