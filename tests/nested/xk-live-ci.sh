#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The cross-kernel live migration bed's plan for make check: one pair of
# arm64 hosts, trixie-backports' kernel (7.x, hostA) and bookworm's (6.1,
# hostB), a KVM guest migrated live each way: one direction migrates, the
# other is refused by preflight and by the destination's hook (hostB's,
# which must ask hostA, never asked before, for its register set), and
# QEMU fails it with the hook taken out.  `make xk-live` runs every ordered
# pair (tests/nested/xk-live.sh).

exec sh "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/nested/xk-live.sh" ci
