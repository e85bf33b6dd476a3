# libitsmig: lib/ and its headers in include/itsmig/ (included by Makefile.am).

# Private: a convenience library linked into the programs, with no ABI or API
# promise, so neither the library nor its headers are installed.
noinst_LTLIBRARIES = lib/libitsmig.la
lib_libitsmig_la_SOURCES = \
	lib/diag.c \
	lib/its-abi.c \
	lib/kvm-vm.c \
	lib/kvm-its.c \
	lib/kvm-its-json.c \
	lib/kvm-regs.c \
	lib/kvm-regs-json.c \
	lib/kvm-probe-text.c \
	lib/error.c \
	lib/json-strict.c \
	lib/json-member.c \
	lib/hook-record.c \
	lib/qemu-image.c \
	lib/domain-profile.c \
	lib/host-caps.c \
	lib/host-traits.c \
	lib/compat.c \
	lib/job.c \
	lib/rest-client.c \
	lib/journal.c \
	lib/qemu-log.c
lib_libitsmig_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_CFLAGS) $(LIBXML_CFLAGS) $(CURL_CFLAGS)
lib_libitsmig_la_LIBADD = $(GLIB_LIBS) $(JSON_LIBS) $(LIBXML_LIBS) $(CURL_LIBS)

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
	include/itsmig/compat.h \
	include/itsmig/job.h \
	include/itsmig/rest-client.h \
	include/itsmig/journal.h \
	include/itsmig/qemu-log.h
