#!/bin/sh
# Generates the build system when needed, configures and builds in the tree.
set -eu
cd "$(dirname "$0")/.."
[ -x configure ] || ./autogen.sh >/dev/null
# The paths of a Debian system daemon: /etc/itsmig, /run/itsmigd, /var/lib/itsmigd.
[ -f Makefile ] || ./configure --enable-werror -q --prefix=/usr --sysconfdir=/etc \
    --localstatedir=/var --runstatedir=/run
make -j"$(nproc)" -s
