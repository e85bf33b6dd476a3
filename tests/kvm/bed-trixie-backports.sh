#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real-kernel bed on trixie-backports's current arm64 kernel (one TAP test per suite).
exec sh "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/kvm/kvm-bed.sh" trixie-backports
