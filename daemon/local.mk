# itsmigd, and the daemon's parts as a convenience library (included by Makefile.am).

sbin_PROGRAMS = daemon/itsmigd
# Everything but main(), so that tests can link the route table and the parts.
noinst_LTLIBRARIES += daemon/libitsmigd.la
# The pure parts, also compiled into their unit tests.
ITSMIGD_CORE = \
	daemon/daemon-config.c daemon/daemon-config.h \
	daemon/config-peer.c daemon/config-host.c daemon/config-policy.c \
	daemon/config-private.h \
	daemon/http-router.c daemon/http-router.h \
	daemon/event-bus.c daemon/event-bus.h \
	daemon/virt-names.c daemon/virt-names.h
daemon_libitsmigd_la_SOURCES = \
	$(ITSMIGD_CORE) \
	daemon/itsmigd.h \
	daemon/log.c daemon/log.h \
	daemon/metrics.c daemon/metrics.h \
	daemon/domain-registry.c daemon/domain-registry.h \
	daemon/domain-view.c daemon/domain-view.h \
	daemon/virt-connect.c daemon/virt-connect.h daemon/virt-private.h \
	daemon/virt-events.c \
	daemon/virt-worker.c \
	daemon/domain-sync.c \
	daemon/virt-domain.c daemon/virt-domain.h \
	daemon/virt-repair.c daemon/virt-repair.h \
	daemon/http-server.c daemon/http-server.h daemon/http-private.h \
	daemon/http-request.c daemon/http-reply.c \
	daemon/http-routes.c daemon/http-routes.h \
	daemon/http-health.c \
	daemon/http-host.c \
	daemon/http-domains.c \
	daemon/http-events.c \
	daemon/http-metrics.c \
	daemon/http-log.c \
	daemon/http-compat.c \
	daemon/local-host.c daemon/local-host.h \
	daemon/peer-client.c daemon/peer-client.h \
	daemon/peer-reply.c daemon/peer-reply.h \
	daemon/domain-metadata.c daemon/domain-metadata.h \
	daemon/preflight.c daemon/preflight.h \
	daemon/orchestrator.h daemon/job-run.h \
	daemon/job-table.c \
	daemon/job-record.c \
	daemon/job-worker.c \
	daemon/job-steps.c \
	daemon/job-devices.c \
	daemon/job-transfer.c \
	daemon/job-dest.c \
	daemon/job-run.c \
	daemon/its-evidence.c daemon/its-evidence.h \
	daemon/http-migrations.c \
	daemon/http-incoming.c \
	daemon/migration-record.c daemon/migration-record.h \
	daemon/qemu-marker.c daemon/qemu-marker.h
ITSMIGD_DEFS = \
	-DSYSCONFDIR='"$(sysconfdir)"' \
	-DRUNSTATEDIR='"$(runstatedir)"' \
	-DLOCALSTATEDIR='"$(localstatedir)"' \
	-DG_LOG_DOMAIN='"itsmigd"' \
	-DG_LOG_USE_STRUCTURED=1 \
	-DVIR_ENUM_SENTINELS
ITSMIGD_CFLAGS = $(AM_CFLAGS) $(GIO_CFLAGS) $(JSON_CFLAGS) $(LIBXML_CFLAGS) $(LIBVIRT_CFLAGS) \
	$(LIBVIRT_QEMU_CFLAGS) $(LIBVIRT_GLIB_CFLAGS) $(MHD_CFLAGS) $(SYSTEMD_CFLAGS) $(CURL_CFLAGS)
ITSMIGD_LIBS = lib/libitsmig.la $(GIO_LIBS) $(JSON_LIBS) $(LIBXML_LIBS) $(LIBVIRT_LIBS) \
	$(LIBVIRT_QEMU_LIBS) $(LIBVIRT_GLIB_LIBS) \
	$(MHD_LIBS) $(SYSTEMD_LIBS) $(CURL_LIBS)
daemon_libitsmigd_la_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
daemon_libitsmigd_la_CFLAGS = $(ITSMIGD_CFLAGS)
# The fault points (daemon/job-fault.c) are armed only in tests/itsmigd-fault,
# built with ITSMIGD_FAULT_INJECTION for the tests; in itsmigd they are empty
# functions, and ITSMIGD_FAULT is ignored with a warning.
daemon_itsmigd_SOURCES = daemon/main.c daemon/daemon.c daemon/daemon.h daemon/job-fault.c
daemon_itsmigd_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
daemon_itsmigd_CFLAGS = $(ITSMIGD_CFLAGS)
daemon_itsmigd_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
check_PROGRAMS += tests/itsmigd-fault
tests_itsmigd_fault_SOURCES = daemon/main.c daemon/daemon.c daemon/daemon.h daemon/job-fault.c
tests_itsmigd_fault_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS) -DITSMIGD_FAULT_INJECTION
tests_itsmigd_fault_CFLAGS = $(ITSMIGD_CFLAGS)
tests_itsmigd_fault_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
