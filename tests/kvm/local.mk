# The real-kernel bed: static aarch64 tests booted in an arm64 kernel, and the
# probe data it records (included by Makefile.am).

# The real-kernel bed's probe lines to the JSON of `itsmigctl host probe --json`.
check_PROGRAMS += tests/kvm/probe-to-json
tests_kvm_probe_to_json_SOURCES = tests/kvm/probe-to-json.c
tests_kvm_probe_to_json_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_kvm_probe_to_json_LDADD = $(TEST_LIBS) $(JSON_LIBS)

KVM_GUEST_SRCS = \
	tests/kvm/guest-tests.c \
	tests/kvm/guest-tables.c \
	tests/its-fixtures.c \
	$(LIBITSMIG_LIBC_SOURCES) \
	tests/kvm/guest-regs.c
KVM_GUEST_HDRS = tests/its-fixtures.h tests/kvm/guest-tap.h $(noinst_HEADERS)
# One TAP test per kernel: Debian 12's, Debian 13's, trixie-backports' newest.
KVM_BEDS = tests/kvm/bed-bookworm.sh tests/kvm/bed-trixie.sh tests/kvm/bed-trixie-backports.sh
EXTRA_DIST += tests/kvm/guest-tap.h tests/kvm/guest-tables.c tests/kvm/guest-regs.c tests/kvm/guest-tests.c tests/kvm/kvm-bed.sh tests/kvm/fetch-kernel.sh tests/kvm/private-apt.sh tests/kvm/init.sh \
	tests/kvm/boot.sh $(KVM_BEDS)

if HAVE_KVM_BED
tests/kvm/itsmig-guest-tests: $(KVM_GUEST_SRCS) $(KVM_GUEST_HDRS) config.h
	@$(MKDIR_P) tests/kvm
	$(AM_V_CC)$(AARCH64_CC) -static -O2 -g0 -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		-Wno-missing-field-initializers -I$(top_srcdir)/include -I$(top_srcdir)/tests \
		-I$(top_srcdir)/tests/kvm -I$(top_builddir) \
		-o $@ $(addprefix $(top_srcdir)/,$(KVM_GUEST_SRCS))
check_SCRIPTS = tests/kvm/itsmig-guest-tests
CLEANFILES += tests/kvm/itsmig-guest-tests tests/kvm/kvm-bed.console.log \
	tests/kvm/kvm-bed-bookworm.console.log tests/kvm/kvm-bed-trixie.console.log \
	tests/kvm/kvm-bed-trixie-backports.console.log \
	tests/kvm/probe*.json tests/kvm/probe*.times
TESTS += $(KVM_BEDS)
AM_TESTS_ENVIRONMENT += QEMU_AARCH64='$(QEMU_AARCH64)'; export QEMU_AARCH64;
endif
# tests/data/probe/ from a run of the bed on each kernel (needs the bed's tools).
update-probe-data: tests/kvm/itsmig-guest-tests tests/kvm/probe-to-json client/itsmigctl
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/tests/kvm/update-probe-data.sh
.PHONY: update-probe-data
