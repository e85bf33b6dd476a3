# libitsmig: lib/ and its headers in include/itsmig/ (included by Makefile.am).

# Private: a convenience library linked into the programs, with no ABI or API
# promise, so neither the library nor its headers are installed.
noinst_LTLIBRARIES = lib/libitsmig.la
# libc only (no GLib, json-glib or libxml2): the ITS codec, walker and save
# side, the scratch VM and the probes.  They are also built into the static
# aarch64 guest of the real-kernel bed (KVM_GUEST_SRCS); lib/README.md.
LIBITSMIG_LIBC_SOURCES = \
	lib/diag.c \
	lib/its-abi.c \
	lib/its-walk.c \
	lib/its-save.c \
	lib/kvm-vm.c \
	lib/kvm-its.c \
	lib/kvm-regs.c \
	lib/kvm-regs-probe.c \
	lib/kvm-probe-text.c
EXTRA_DIST += lib/README.md
lib_libitsmig_la_SOURCES = \
	$(LIBITSMIG_LIBC_SOURCES) \
	lib/kvm-its-json.c \
	lib/kvm-regs-json.c \
	lib/error.c \
	lib/json-strict.c \
	lib/json-member.c \
	lib/hook-record.c \
	lib/qemu-image.c \
	lib/qemu-image-stream.c \
	lib/qemu-image-vmsd.c \
	lib/domain-profile.c \
	lib/domain-xml.c \
	lib/its-metadata.c \
	lib/secret-file.c \
	lib/host-caps.c \
	lib/host-caps-conf.c \
	lib/host-caps-machines.c \
	lib/host-caps-write.c \
	lib/host-caps-read.c \
	lib/host-traits.c \
	lib/host-history.c \
	lib/file-replace.c \
	lib/file-read.c \
	lib/compat.c \
	lib/compat-regs.c \
	lib/compat-rules.c \
	lib/job.c \
	lib/job-recover.c \
	lib/job-write.c \
	lib/job-read.c \
	lib/rest-client.c \
	lib/journal.c \
	lib/qemu-log.c
lib_libitsmig_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(GIO_CFLAGS) $(JSON_CFLAGS) $(LIBXML_CFLAGS) $(CURL_CFLAGS)
lib_libitsmig_la_LIBADD = $(GLIB_LIBS) $(GIO_LIBS) $(JSON_LIBS) $(LIBXML_LIBS) $(CURL_LIBS)

noinst_HEADERS = \
	include/itsmig/diag.h \
	include/itsmig/its-abi.h \
	include/itsmig/kvm-vm.h \
	include/itsmig/kvm-its.h \
	include/itsmig/kvm-its-json.h \
	include/itsmig/kvm-regs.h \
	include/itsmig/kvm-regs-json.h \
	include/itsmig/kvm-probe-text.h \
	include/itsmig/error.h \
	include/itsmig/domain-profile.h \
	include/itsmig/json-strict.h \
	include/itsmig/json-member.h \
	include/itsmig/hook-record.h \
	include/itsmig/qemu-image.h \
	include/itsmig/host-caps.h \
	include/itsmig/host-traits.h \
	include/itsmig/host-history.h \
	include/itsmig/compat.h \
	include/itsmig/job.h \
	include/itsmig/rest-client.h \
	include/itsmig/journal.h \
	include/itsmig/qemu-log.h \
	include/itsmig/secret-file.h \
	lib/its-abi-private.h \
	lib/qemu-image-private.h \
	lib/domain-xml.h \
	lib/host-caps-private.h \
	lib/file-replace.h \
	lib/file-read.h \
	lib/compat-private.h \
	lib/job-private.h
