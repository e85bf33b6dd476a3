#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The cross-kernel save/restore bed's plan for make check: three boots of
# the arm64 host, one per Debian kernel (6.1, 7.x, 6.12), so that every
# kernel saves or restores and both outcomes occur, the gate letting an
# image in and refusing one that QEMU cannot restore.  `make xk-matrix` runs
# every ordered pair (tests/nested/xk-matrix.sh).

exec sh "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/nested/xk-matrix.sh" ci
