# The two-host bed: two libvirt hosts in namespaces, real aarch64 guests
# (included by Makefile.am).

E2E_TESTS = tests/e2e/migrate.sh tests/e2e/veto.sh tests/e2e/faults.sh tests/e2e/run-state.sh \
	tests/e2e/verify.sh tests/e2e/restart-incoming.sh tests/e2e/journal-full.sh \
	tests/e2e/abort-detach.sh tests/e2e/peer-stall.sh tests/e2e/libvirtd-restart.sh \
	tests/e2e/devices.sh tests/e2e/chaos.sh
EXTRA_DIST += $(E2E_TESTS) tests/e2e/bed.sh tests/e2e/guest-probe.c tests/e2e/guest-init.sh \
	tests/e2e/console-reader.py tests/bench/bench-downtime.sh tests/bench/downtime.txt \
	tests/bench/chaos.txt

# make chaos [ROUNDS=200] [CHAOS_SEED=S] [CHAOS_TIME=seconds]: the randomized fault run of
# tests/e2e/chaos.sh for ROUNDS rounds (make check runs 2), no new round after CHAOS_TIME
# seconds (0: no limit); its summary goes to tests/bench/chaos.txt after every round.
ROUNDS = 200
CHAOS_SEED =
CHAOS_TIME = 0
chaos: daemon/itsmigd $(check_SCRIPTS)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	QEMU_AARCH64='$(QEMU_AARCH64)' CHAOS_ROUNDS='$(ROUNDS)' CHAOS_SEED='$(CHAOS_SEED)' \
	CHAOS_TIME='$(CHAOS_TIME)' \
	CHAOS_REPORT='$(abs_top_srcdir)/tests/bench/chaos.txt' \
	CHAOS_KEEP='$(abs_top_builddir)/tests/e2e/chaos-kept' \
		$(SHELL) $(top_srcdir)/tests/e2e/chaos.sh
.PHONY: chaos

if HAVE_KVM_BED
tests/e2e/itsmig-guest-probe: tests/e2e/guest-probe.c
	@$(MKDIR_P) tests/e2e
	$(AM_V_CC)$(AARCH64_CC) -static -O2 -g0 -std=gnu11 -Wall -Wextra -o $@ $(top_srcdir)/tests/e2e/guest-probe.c
check_SCRIPTS += tests/e2e/itsmig-guest-probe
CLEANFILES += tests/e2e/itsmig-guest-probe
TESTS += $(E2E_TESTS)
endif
