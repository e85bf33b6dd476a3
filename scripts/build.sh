#!/bin/sh
# Generates the build system when needed, configures and builds in the tree.
set -eu
cd "$(dirname "$0")/.."
[ -x configure ] || ./autogen.sh >/dev/null
[ -f Makefile ] || ./configure --enable-werror -q
make -j"$(nproc)" -s
