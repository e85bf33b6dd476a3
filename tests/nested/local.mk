# The nested bed: arm64 libvirt + QEMU/KVM with the in-kernel vITS, emulated
# (included by Makefile.am).

NESTED_FILES = tests/nested/nested-bed.sh tests/nested/bed-lib.sh tests/nested/scenarios.sh \
	tests/nested/xk-guest.sh tests/nested/xk-matrix.sh tests/nested/xk-ci.sh tests/nested/fetch-debs.sh \
	tests/nested/xk-live.sh tests/nested/xk-live-host.sh tests/nested/xk-live-ci.sh tests/nested/xk-lib.sh \
	tests/nested/rootfs-packages tests/nested/userland.sh \
	tests/nested/cross-build.sh tests/nested/initramfs-init.sh tests/nested/outer-init.sh \
	tests/nested/bare-metal.h tests/nested/its-fault.c tests/nested/its-map.c \
	tests/nested/its-fault-start.S tests/nested/its-fault.ld
EXTRA_DIST += $(NESTED_FILES) tests/bench/bench-nested.sh tests/bench/nested-pause.txt \
	tests/bench/nested-userland.txt tests/bench/xk-matrix.txt tests/bench/xk-matrix-qemu.txt \
	tests/bench/xk-live-cross.txt tests/bench/xk-live-bookworm-trixie.txt \
	tests/bench/xk-live-trixie-trixie-backports.txt tests/bench/xk-live.txt \
	docs/cross-kernel.md


if HAVE_KVM_BED
# Bare-metal guests: no libc, linked where QEMU's virt machine has RAM.
BARE_METAL_DEPS = tests/nested/bare-metal.h tests/nested/its-fault-start.S tests/nested/its-fault.ld
BARE_METAL_LINK = $(AARCH64_CC) -ffreestanding -nostdlib -static -mstrict-align -mgeneral-regs-only \
	-fno-pie -no-pie -O2 -Wall -Wextra -Wl,--no-warn-rwx-segments \
	-T $(top_srcdir)/tests/nested/its-fault.ld $(top_srcdir)/tests/nested/its-fault-start.S
tests/nested/its-fault.elf: tests/nested/its-fault.c $(BARE_METAL_DEPS)
	@$(MKDIR_P) tests/nested
	$(AM_V_CC)$(BARE_METAL_LINK) -o $@ $(top_srcdir)/tests/nested/its-fault.c
tests/nested/its-map.elf: tests/nested/its-map.c $(BARE_METAL_DEPS)
	@$(MKDIR_P) tests/nested
	$(AM_V_CC)$(BARE_METAL_LINK) -o $@ $(top_srcdir)/tests/nested/its-map.c
check_SCRIPTS += tests/nested/its-fault.elf tests/nested/its-map.elf
CLEANFILES += tests/nested/its-fault.elf tests/nested/its-map.elf tests/nested/nested-bed.console.log tests/nested/xk-*.console.log \
	tests/nested/xk-matrix*.out tests/nested/xk-matrix*.md tests/nested/xk-live*.out tests/nested/xk-live*.md
TESTS += tests/nested/nested-bed.sh tests/nested/userland.sh tests/nested/xk-ci.sh tests/nested/xk-live-ci.sh
AM_TESTS_ENVIRONMENT += AARCH64_CC='$(AARCH64_CC)'; export AARCH64_CC;

# Every ordered pair of Debian's arm64 kernels, save/restore (as root, about
# 21 min); the output is kept, its table in docs/cross-kernel.md.
# XK_PLAN=qemu: Debian 12's QEMU against Debian 13's, kept beside it.
XK_PLAN = full
xk-matrix: tests/e2e/itsmig-guest-probe tests/nested/its-fault.elf tests/nested/its-map.elf
	out=xk-matrix; [ '$(XK_PLAN)' = full ] || out=xk-matrix-$(XK_PLAN); \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	QEMU_AARCH64='$(QEMU_AARCH64)' AARCH64_CC='$(AARCH64_CC)' \
	ITSMIG_XK_TABLE="$(abs_top_builddir)/tests/nested/$$out.md" \
		$(SHELL) $(top_srcdir)/tests/nested/xk-matrix.sh '$(XK_PLAN)' | tee "tests/nested/$$out.out" && \
	! grep -q -E '^(not ok|Bail out)' "tests/nested/$$out.out" && \
	grep -q -E '^1\.\.[1-9][0-9]*$$' "tests/nested/$$out.out" && \
	cp "tests/nested/$$out.out" "$(abs_top_srcdir)/tests/bench/$$out.txt"

# Every ordered pair of Debian's arm64 kernels, live (as root; two arm64 hosts
# at once); the output is kept, its table in docs/cross-kernel.md.
# XK_LIVE_PLAN: full, cross, ci or qemu (tests/nested/xk-live.sh).
XK_LIVE_PLAN = full
xk-live: tests/e2e/itsmig-guest-probe tests/nested/its-fault.elf tests/nested/its-map.elf
	out=xk-live; [ '$(XK_LIVE_PLAN)' = full ] || out=xk-live-$(XK_LIVE_PLAN); \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	QEMU_AARCH64='$(QEMU_AARCH64)' AARCH64_CC='$(AARCH64_CC)' \
	ITSMIG_XK_TABLE="$(abs_top_builddir)/tests/nested/$$out.md" \
		$(SHELL) $(top_srcdir)/tests/nested/xk-live.sh '$(XK_LIVE_PLAN)' | tee "tests/nested/$$out.out" && \
	! grep -q -E '^(not ok|Bail out)' "tests/nested/$$out.out" && \
	grep -q -E '^1\.\.[1-9][0-9]*$$' "tests/nested/$$out.out" && \
	cp "tests/nested/$$out.out" "$(abs_top_srcdir)/tests/bench/$$out.txt"
endif
.PHONY: xk-matrix xk-live
