#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): plain "virsh migrate", which itsmigd
# does not run, meets the hook gate on the destination.  hostA accepts ITS
# ABI revisions 0 and 1, hostB only 0.  A guest started on A while A's
# default revision was 1 is refused by B's hook, with the itsmig reason in
# virsh's own error, and keeps running on A; a guest started with revision 0
# passes and keeps its interrupts on B.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
. "$srcdir/tests/e2e/bed.sh"

bed_up
BED_REVS_a=0,1 BED_DEFAULT_a=1
bed_itsmigd a
bed_itsmigd b
bed_guest a g2
use_itsmigd a
wait_for 'api GET /v1/domains/g2; [ "$(jbody .profile.its_metadata.its_abi_revision)" = 1 ]' 10
check_json "A recorded ITS ABI revision 1 for g2, its default when g2 started" \
    '.profile.its_metadata.its_abi_revision == 1'

# A's default goes back to 0; g1 starts with it.
stop_itsmigd
BED_DEFAULT_a=0
bed_itsmigd a
bed_guest a g1
use_itsmigd a
wait_for 'api GET /v1/domains/g1; [ "$(jbody .profile.its_metadata.its_abi_revision)" = 0 ]' 10
check_json "A recorded ITS ABI revision 0 for g1" '.profile.its_metadata.its_abi_revision == 0'

# vmigrate NAME: virsh migrate on A, as an operator types it; virsh's stderr
# is in $T/vmigrate.err.
vmigrate() {
    bed_in a virsh -q -c qemu:///system migrate --live --p2p --persistent --undefinesource "$1" \
        qemu+tcp://10.77.0.2/system >"$T/vmigrate.out" 2>"$T/vmigrate.err"
}

# ---- the incompatible guest ------------------------------------------------------

if vmigrate g2; then
    not_ok "virsh migrate of g2 (revision 1) to hostB fails"
else
    ok "virsh migrate of g2 (revision 1) to hostB fails"
fi
if grep -Eq 'itsmig: refusing incoming migration of g2: (.*; )?its-abi-unsupported' "$T/vmigrate.err"; then
    ok "virsh's error is the hook's: itsmig refuses, naming its-abi-unsupported"
else
    not_ok "virsh's error is the hook's: itsmig refuses, naming its-abi-unsupported"
    diag_file "$T/vmigrate.err" 5
fi
is "$(bed_domstate a g2)" running "g2 keeps running on hostA"
is "$(bed_domstate b g2)" absent "hostB has no g2, not even a paused or defined one"
check "g2's interrupts keep rising on hostA" bed_irq_rises g2 hostA
if grep -q "its-abi-unsupported" "$T/d-b/itsmigd.log" 2>/dev/null ||
    grep -rq g2 "$T/hb/log/libvirtd.log" 2>/dev/null; then
    ok "hostB's side saw the attempt"
else
    not_ok "hostB's side saw the attempt"
fi

# ---- the compatible guest ----------------------------------------------------------

if vmigrate g1; then
    ok "virsh migrate of g1 (revision 0) to hostB succeeds"
else
    not_ok "virsh migrate of g1 (revision 0) to hostB succeeds"
    diag_file "$T/vmigrate.err" 5
fi
is "$(bed_domstate b g1)" running "g1 runs on hostB"
is "$(bed_domstate a g1)" absent "g1 is gone from hostA"
check "g1's ITS-MSI interrupts keep rising on hostB" bed_irq_rises g1 hostB
use_itsmigd b
wait_for 'api GET /v1/domains/g1; [ "$(jbody .profile.its_metadata.host.written)" = incoming-migration ]' 10
check_json "hostB keeps the revision g1 started with on hostA, in a record it wrote on arrival" \
    '.profile.its_metadata.its_abi_revision == 0 and .profile.its_metadata.host.written == "incoming-migration"'

done_testing
