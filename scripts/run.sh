#!/bin/sh
# One command for a fresh Debian 12 machine, as root: install what is missing,
# build, and show the client working.  (itsmigd joins here once it exists.)
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
client/itsmigctl its inspect --help
echo
client/itsmigctl host probe || true
