# Benchmarks; their output is kept in tests/bench/ (included by Makefile.am).

noinst_PROGRAMS += tests/bench/bench-its-abi
tests_bench_bench_its_abi_SOURCES = tests/bench/bench-its-abi.c tests/its-fixtures.c tests/its-fixtures.h
tests_bench_bench_its_abi_CFLAGS = $(AM_CFLAGS) -O2
tests_bench_bench_its_abi_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_bench_bench_its_abi_LDADD = lib/libitsmig.la
noinst_PROGRAMS += tests/bench/bench-image
tests_bench_bench_image_SOURCES = tests/bench/bench-image.c tests/its-fixtures.c \
	tests/its-fixtures.h tests/qemu-image-builder.c tests/qemu-image-builder.h
tests_bench_bench_image_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -O2 \
	-DITSMIGCTL='"$(abs_top_builddir)/client/itsmigctl"'
tests_bench_bench_image_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_bench_bench_image_LDADD = lib/libitsmig.la $(GLIB_LIBS)
EXTRA_DIST += tests/bench/image.txt
EXTRA_DIST += tests/bench/README.md tests/bench/its-abi.txt tests/bench/bench-rest.sh \
	tests/bench/rest.txt tests/bench/bench-preflight.sh tests/bench/preflight.txt \
	tests/bench/libvirtd.sh tests/bench/bench-probe.sh tests/bench/probe.txt \
	tests/bench/bench-metrics.sh tests/bench/metrics.txt

bench: tests/bench/bench-its-abi tests/bench/bench-image daemon/itsmigd client/itsmigctl tests/kvm/probe-to-json $(check_SCRIPTS)
	$(top_builddir)/libtool --mode=execute $(top_builddir)/tests/bench/bench-its-abi \
		| tee $(top_srcdir)/tests/bench/its-abi.txt
	$(top_builddir)/libtool --mode=execute $(top_builddir)/tests/bench/bench-image \
		| tee $(top_srcdir)/tests/bench/image.txt
	$(SHELL) $(top_srcdir)/tests/bench/bench-rest.sh $(top_builddir) \
		| tee $(top_srcdir)/tests/bench/rest.txt
	$(SHELL) $(top_srcdir)/tests/bench/bench-metrics.sh $(top_builddir) \
		| tee $(top_srcdir)/tests/bench/metrics.txt
	$(SHELL) $(top_srcdir)/tests/bench/bench-preflight.sh $(top_builddir) \
		| tee $(top_srcdir)/tests/bench/preflight.txt
	$(SHELL) $(top_srcdir)/tests/bench/bench-downtime.sh $(top_builddir) \
		| tee $(top_srcdir)/tests/bench/downtime.txt
	$(SHELL) $(top_srcdir)/tests/bench/bench-nested.sh $(top_builddir) \
		| tee $(top_srcdir)/tests/bench/nested-pause.txt
	top_srcdir='$(abs_top_srcdir)' $(SHELL) $(top_srcdir)/tests/bench/bench-probe.sh \
		$(abs_top_builddir) | tee $(top_srcdir)/tests/bench/probe.txt
.PHONY: bench
