#!/bin/sh
# One command for a fresh Debian 12 machine, as root: install what is missing,
# build, and run every test (unit tests and the real-kernel bed).  The last
# line is the summary "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
scripts/deps.sh --test || exit 1
scripts/build.sh || exit 1
make -j"$(nproc)" check
status=$?
scripts/summary.sh
exit $status
