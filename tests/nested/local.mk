# The nested bed: arm64 libvirt + QEMU/KVM with the in-kernel vITS, emulated
# (included by Makefile.am).

NESTED_FILES = tests/nested/nested-bed.sh tests/nested/scenarios.sh tests/nested/fetch-debs.sh \
	tests/nested/rootfs-packages tests/nested/userland.sh \
	tests/nested/cross-build.sh tests/nested/initramfs-init.sh tests/nested/outer-init.sh \
	tests/nested/its-fault.c tests/nested/its-fault-start.S tests/nested/its-fault.ld
EXTRA_DIST += $(NESTED_FILES) tests/bench/bench-nested.sh tests/bench/nested-pause.txt \
	tests/bench/nested-userland.txt

if HAVE_KVM_BED
# A bare-metal guest: no libc, linked where QEMU's virt machine has RAM.
tests/nested/its-fault.elf: tests/nested/its-fault.c tests/nested/its-fault-start.S tests/nested/its-fault.ld
	@$(MKDIR_P) tests/nested
	$(AM_V_CC)$(AARCH64_CC) -ffreestanding -nostdlib -static -mstrict-align -mgeneral-regs-only \
		-fno-pie -no-pie -O2 -Wall -Wextra -Wl,--no-warn-rwx-segments \
		-T $(top_srcdir)/tests/nested/its-fault.ld -o $@ \
		$(top_srcdir)/tests/nested/its-fault-start.S $(top_srcdir)/tests/nested/its-fault.c
check_SCRIPTS += tests/nested/its-fault.elf
CLEANFILES += tests/nested/its-fault.elf tests/nested/nested-bed.console.log
TESTS += tests/nested/nested-bed.sh tests/nested/userland.sh
AM_TESTS_ENVIRONMENT += AARCH64_CC='$(AARCH64_CC)'; export AARCH64_CC;
endif
