# The tests that `make check` runs: unit tests (GTest, TAP), itsmigd driven
# against libvirtd, the shell checks (included by Makefile.am).  The beds, the
# fuzzers and the benchmarks have their own fragments under tests/.

LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir; \
	top_builddir='$(abs_top_builddir)'; export top_builddir;

TEST_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
TEST_LIBS = lib/libitsmig.la $(GLIB_LIBS)

# The libc-only sources compile without GLib, json-glib or libxml2.
TESTS += tests/libc-only.sh
EXTRA_DIST += tests/libc-only.sh
AM_TESTS_ENVIRONMENT += LIBITSMIG_LIBC_SOURCES='$(LIBITSMIG_LIBC_SOURCES)'; \
	export LIBITSMIG_LIBC_SOURCES; CC='$(CC)'; export CC;

# The C sources as .clang-format says (clang-format -i FILE mends one).
TESTS += tests/format.sh
EXTRA_DIST += tests/format.sh

# The Prometheus alerting rules (etc/itsmig-alerts.yml): promtool checks and
# unit-tests them.
TESTS += tests/alerts/rules.sh
EXTRA_DIST += tests/alerts/rules.sh tests/alerts/itsmig-alerts-test.yml

check_PROGRAMS += tests/test-its-abi
tests_test_its_abi_SOURCES = tests/test-its-abi.c tests/its-fixtures.c tests/its-fixtures.h
tests_test_its_abi_CFLAGS = $(TEST_CFLAGS)
tests_test_its_abi_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_test_its_abi_LDADD = $(TEST_LIBS)
TESTS += tests/test-its-abi

check_PROGRAMS += tests/test-qemu-image
tests_test_qemu_image_SOURCES = tests/test-qemu-image.c tests/its-fixtures.c tests/its-fixtures.h \
	tests/qemu-image-builder.c tests/qemu-image-builder.h
tests_test_qemu_image_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_test_qemu_image_CFLAGS = $(TEST_CFLAGS) $(GIO_CFLAGS)
tests_test_qemu_image_LDADD = $(TEST_LIBS) $(GIO_LIBS)
TESTS += tests/test-qemu-image
# Streams QEMU writes itself (skips without qemu-system-aarch64).
TESTS += tests/qemu-image.sh
EXTRA_DIST += tests/qemu-image.sh
# A save image libvirt's QEMU driver writes (skips unless root, with libvirtd).
TESTS += tests/qemu-image-libvirt.sh
EXTRA_DIST += tests/qemu-image-libvirt.sh
AM_TESTS_ENVIRONMENT += AARCH64_CC='$(AARCH64_CC)'; export AARCH64_CC;

check_PROGRAMS += tests/test-kvm-its
tests_test_kvm_its_SOURCES = tests/test-kvm-its.c
tests_test_kvm_its_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_kvm_its_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-kvm-its

check_PROGRAMS += tests/test-kvm-regs
tests_test_kvm_regs_SOURCES = tests/test-kvm-regs.c tests/probe-data.c tests/probe-data.h
tests_test_kvm_regs_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_kvm_regs_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-kvm-regs
# What `itsmigctl host probe --json` printed on each Debian arm64 kernel, from
# the real-kernel bed (make update-probe-data regenerates them).
EXTRA_DIST += tests/data/probe/bookworm.json tests/data/probe/trixie.json \
	tests/data/probe/trixie-backports.json tests/kvm/update-probe-data.sh

check_PROGRAMS += tests/test-itsmigctl
tests_test_itsmigctl_SOURCES = tests/test-itsmigctl.c tests/its-fixtures.c tests/its-fixtures.h \
	tests/qemu-image-builder.c tests/qemu-image-builder.h
tests_test_itsmigctl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_test_itsmigctl_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS) -DITSMIGCTL='"$(abs_top_builddir)/client/itsmigctl"'
tests_test_itsmigctl_LDADD = $(TEST_LIBS) $(JSON_LIBS)
tests_test_itsmigctl_DEPENDENCIES = client/itsmigctl lib/libitsmig.la
TESTS += tests/test-itsmigctl

# The daemon's unit tests link daemon/libitsmigd.la rather than compiling its
# sources again; only the fault points (daemon/job-fault.c, compiled per
# program, armed or not) come with the program that needs them.
check_PROGRAMS += tests/test-http-router
tests_test_http_router_SOURCES = tests/test-http-router.c
tests_test_http_router_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_http_router_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_http_router_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-http-router

check_PROGRAMS += tests/test-daemon-config
tests_test_daemon_config_SOURCES = tests/test-daemon-config.c
	daemon/daemon-config.h daemon/config-peer.c daemon/config-host.c daemon/config-policy.c \
	daemon/config-private.h
tests_test_daemon_config_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_daemon_config_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_daemon_config_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-daemon-config

check_PROGRAMS += tests/test-event-bus
tests_test_event_bus_SOURCES = tests/test-event-bus.c
tests_test_event_bus_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_event_bus_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_event_bus_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-event-bus

check_PROGRAMS += tests/test-metrics
tests_test_metrics_SOURCES = tests/test-metrics.c
tests_test_metrics_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_metrics_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_metrics_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-metrics

check_PROGRAMS += tests/test-domain-registry
tests_test_domain_registry_SOURCES = tests/test-domain-registry.c
tests_test_domain_registry_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_domain_registry_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_domain_registry_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-domain-registry

check_PROGRAMS += tests/test-domain-metadata
tests_test_domain_metadata_SOURCES = tests/test-domain-metadata.c
	daemon/domain-metadata.c daemon/domain-metadata.h
tests_test_domain_metadata_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_domain_metadata_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_domain_metadata_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-domain-metadata

check_PROGRAMS += tests/test-migration-record
tests_test_migration_record_SOURCES = tests/test-migration-record.c
	daemon/migration-record.c daemon/migration-record.h
tests_test_migration_record_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_migration_record_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_migration_record_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-migration-record

check_PROGRAMS += tests/test-peer-reply
tests_test_peer_reply_SOURCES = tests/test-peer-reply.c
tests_test_peer_reply_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_peer_reply_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_peer_reply_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-peer-reply

check_PROGRAMS += tests/test-qemu-marker
tests_test_qemu_marker_SOURCES = tests/test-qemu-marker.c
	daemon/qemu-marker.c daemon/qemu-marker.h \
	daemon/virt-domain.c daemon/virt-domain.h
tests_test_qemu_marker_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_qemu_marker_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_qemu_marker_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-qemu-marker

# Against libvirt's in-process test driver (test:///default).
check_PROGRAMS += tests/test-virt-domain
tests_test_virt_domain_SOURCES = tests/test-virt-domain.c
tests_test_virt_domain_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
tests_test_virt_domain_CFLAGS = $(ITSMIGD_CFLAGS)
tests_test_virt_domain_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS)
TESTS += tests/test-virt-domain

check_PROGRAMS += tests/test-domain-profile
tests_test_domain_profile_SOURCES = tests/test-domain-profile.c
tests_test_domain_profile_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS) $(LIBXML_CFLAGS)
tests_test_domain_profile_LDADD = $(TEST_LIBS) $(JSON_LIBS) $(LIBXML_LIBS)
TESTS += tests/test-domain-profile
EXTRA_DIST += \
	tests/data/domains/aarch64-virt-gicv3.xml \
	tests/data/domains/aarch64-virt-gicv2.xml \
	tests/data/domains/aarch64-virt-2.7.xml \
	tests/data/domains/aarch64-virt-gic-host.xml \
	tests/data/domains/aarch64-virt-its-off.xml \
	tests/data/domains/aarch64-virt-inactive.xml \
	tests/data/domains/aarch64-virt-metadata.xml \
	tests/data/domains/aarch64-virt-metadata-unprefixed.xml \
	tests/data/domains/test-default.xml
# The metadata record through real libvirt (virsh, test driver); uses test-domain-profile.
TESTS += tests/domain-metadata-libvirt.sh
EXTRA_DIST += tests/domain-metadata-libvirt.sh

TESTS += tests/daemon/systemd-units.sh tests/daemon/tls.sh tests/daemon/run-command.sh
EXTRA_DIST += tests/daemon/systemd-units.sh tests/daemon/tls.sh tests/daemon/run-command.sh

# ---- itsmigd driven for real: a private libvirtd with the test driver ------
check_PROGRAMS += tests/notify-listener tests/daemon/http-raw
tests_notify_listener_SOURCES = tests/notify-listener.c
tests_daemon_http_raw_SOURCES = tests/daemon/http-raw.c
# libvirt save images with ITS tables for the hook's restore gate (hook.sh).
check_PROGRAMS += tests/write-save-image
tests_write_save_image_SOURCES = tests/write-save-image.c tests/its-fixtures.c \
	tests/its-fixtures.h tests/qemu-image-builder.c tests/qemu-image-builder.h
tests_write_save_image_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_write_save_image_CFLAGS = $(TEST_CFLAGS)
tests_write_save_image_LDADD = $(TEST_LIBS)
DAEMON_TESTS = \
	tests/daemon/events.sh \
	tests/daemon/libvirtd-stall.sh \
	tests/daemon/reconnect.sh \
	tests/daemon/rollback-reconnect.sh \
	tests/daemon/rollback-reexamine.sh \
	tests/daemon/systemd.sh \
	tests/daemon/bad-input.sh \
	tests/daemon/peers.sh \
	tests/daemon/regs.sh \
	tests/daemon/traits.sh \
	tests/daemon/validate.sh \
	tests/daemon/migrate.sh \
	tests/daemon/loop.sh \
	tests/daemon/incoming.sh \
	tests/daemon/job-state.sh \
	tests/daemon/slowloris.sh \
	tests/daemon/prometheus.sh \
	tests/daemon/profiles.sh
TESTS += $(DAEMON_TESTS)
EXTRA_DIST += $(DAEMON_TESTS) tests/daemon/lib.sh tests/daemon/fake-peer.py \
	tests/daemon/nova-load.py \
	tests/daemon/slowloris.py

# The OpenAPI document against the route table and the running daemon.
check_PROGRAMS += tests/test-openapi
tests_test_openapi_SOURCES = tests/test-openapi.c daemon/job-fault.c
tests_test_openapi_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS) \
	-DITSMIGD_BIN='"$(abs_top_builddir)/daemon/itsmigd"'
tests_test_openapi_CFLAGS = $(ITSMIGD_CFLAGS) $(CURL_CFLAGS)
tests_test_openapi_LDADD = daemon/libitsmigd.la $(ITSMIGD_LIBS) $(CURL_LIBS)
tests_test_openapi_DEPENDENCIES = daemon/itsmigd daemon/libitsmigd.la
TESTS += tests/test-openapi

# ---- host capabilities document (lib/host-caps.c) ----------------------------

check_PROGRAMS += tests/test-host-caps
tests_test_host_caps_SOURCES = tests/test-host-caps.c
tests_test_host_caps_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_host_caps_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-host-caps
# The JSON Schema against the library's documents and its parser.
TESTS += tests/host-caps-schema.sh
EXTRA_DIST += tests/host-caps-schema.sh

# ---- fleet traits and labels (lib/host-traits.c) -----------------------------

check_PROGRAMS += tests/test-host-traits
tests_test_host_traits_SOURCES = tests/test-host-traits.c
tests_test_host_traits_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_host_traits_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-host-traits

# ---- compatibility rules (lib/compat.c) -------------------------------------

check_PROGRAMS += tests/test-compat
tests_test_compat_SOURCES = tests/test-compat.c tests/probe-data.c tests/probe-data.h
tests_test_compat_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS) $(LIBXML_CFLAGS)
tests_test_compat_LDADD = $(TEST_LIBS) $(JSON_LIBS) $(LIBXML_LIBS)
TESTS += tests/test-compat

# ---- migration job model (lib/job.c) ----------------------------------------

check_PROGRAMS += tests/test-job
tests_test_job_SOURCES = tests/test-job.c
tests_test_job_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_job_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-job

# ---- the REST client (lib/rest-client.c), itsmigctl and the libvirt hook ------

check_PROGRAMS += tests/test-secret-file
tests_test_secret_file_SOURCES = tests/test-secret-file.c
tests_test_secret_file_CFLAGS = $(TEST_CFLAGS)
tests_test_secret_file_LDADD = $(TEST_LIBS)
TESTS += tests/test-secret-file

check_PROGRAMS += tests/test-rest-client
tests_test_rest_client_SOURCES = tests/test-rest-client.c
tests_test_rest_client_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_rest_client_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-rest-client

HOOK_TESTS = tests/daemon/hook.sh tests/daemon/client.sh
TESTS += $(HOOK_TESTS)
EXTRA_DIST += $(HOOK_TESTS) tests/daemon/fake-itsmigd.py tests/daemon/stall-fs.py

# ---- migration journal (lib/journal.c), JSON members, hook record ----

check_PROGRAMS += tests/test-journal
tests_test_journal_SOURCES = tests/test-journal.c
tests_test_journal_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_journal_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-journal

check_PROGRAMS += tests/test-json-member
tests_test_json_member_SOURCES = tests/test-json-member.c
tests_test_json_member_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_json_member_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-json-member

check_PROGRAMS += tests/test-hook-record
tests_test_hook_record_SOURCES = tests/test-hook-record.c
tests_test_hook_record_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_hook_record_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-hook-record

check_PROGRAMS += tests/test-host-history
tests_test_host_history_SOURCES = tests/test-host-history.c
tests_test_host_history_CFLAGS = $(TEST_CFLAGS) $(JSON_CFLAGS)
tests_test_host_history_LDADD = $(TEST_LIBS) $(JSON_LIBS)
TESTS += tests/test-host-history

# ---- QEMU log scanner (lib/qemu-log.c) ----

check_PROGRAMS += tests/test-qemu-log
tests_test_qemu_log_SOURCES = tests/test-qemu-log.c
tests_test_qemu_log_CFLAGS = $(TEST_CFLAGS)
tests_test_qemu_log_LDADD = $(TEST_LIBS)
TESTS += tests/test-qemu-log

# ---- bash completion ----

TESTS += tests/completion.sh
EXTRA_DIST += tests/completion.sh

# ---- Debian package (debian/local.mk) ----

# Builds the packages from the release tree, lints them and installs, upgrades
# and purges them in a Debian 12 root; skips without root or the tools.
TESTS += tests/pkg/package.sh
EXTRA_DIST += tests/pkg/package.sh tests/pkg/make-root.sh
