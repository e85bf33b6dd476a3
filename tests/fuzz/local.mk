# Fuzzing (included by Makefile.am).

# Each harness tests/fuzz/fuzz-NAME.c is built twice:
#  - for `make check`, with tests/fuzz/replay.c as main() under ASan and UBSan
#    (-fno-sanitize-recover=all) with the configured compiler: tests/fuzz/replay.sh
#    runs every file of tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME through it;
#  - for `make fuzz`, with clang's libFuzzer (tests/fuzz/campaign.sh), which
#    runs a campaign over each harness and writes tests/bench/fuzz.txt.
FUZZ_HARNESSES = its-walk qemu-image domain-profile host-caps job-journal qemu-log \
	http-router hook-record daemon-config peer-reply migration-record
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_REPLAY_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir) $(ITSMIGD_DEFS)
FUZZ_REPLAY_CFLAGS = $(ITSMIGD_CFLAGS) $(LIBXML_CFLAGS) $(FUZZ_SAN) -g -O1
FUZZ_REPLAY_LIBS = tests/fuzz/libitsmig-san.a $(GIO_LIBS) $(JSON_LIBS) $(LIBXML_LIBS) \
	$(LIBVIRT_LIBS)

# libitsmig compiled again with the sanitizers, for the replay programs.
check_LIBRARIES = tests/fuzz/libitsmig-san.a
tests_fuzz_libitsmig_san_a_SOURCES = $(lib_libitsmig_la_SOURCES)
tests_fuzz_libitsmig_san_a_CPPFLAGS = $(AM_CPPFLAGS)
tests_fuzz_libitsmig_san_a_CFLAGS = $(lib_libitsmig_la_CFLAGS) $(FUZZ_SAN) -g -O1

FUZZ_SRC_its_walk = tests/fuzz/fuzz-its-walk.c
FUZZ_SRC_qemu_image = tests/fuzz/fuzz-qemu-image.c
FUZZ_SRC_domain_profile = tests/fuzz/fuzz-domain-profile.c
FUZZ_SRC_host_caps = tests/fuzz/fuzz-host-caps.c
FUZZ_SRC_job_journal = tests/fuzz/fuzz-job-journal.c
FUZZ_SRC_qemu_log = tests/fuzz/fuzz-qemu-log.c
FUZZ_SRC_http_router = tests/fuzz/fuzz-http-router.c daemon/http-router.c daemon/http-routes.c
FUZZ_SRC_hook_record = tests/fuzz/fuzz-hook-record.c
FUZZ_SRC_daemon_config = tests/fuzz/fuzz-daemon-config.c daemon/daemon-config.c daemon/config-peer.c \
	daemon/config-host.c daemon/config-policy.c
FUZZ_SRC_peer_reply = tests/fuzz/fuzz-peer-reply.c daemon/peer-reply.c
FUZZ_SRC_migration_record = tests/fuzz/fuzz-migration-record.c daemon/migration-record.c

check_PROGRAMS += tests/fuzz/replay-its-walk tests/fuzz/replay-qemu-image \
	tests/fuzz/replay-domain-profile tests/fuzz/replay-host-caps \
	tests/fuzz/replay-job-journal tests/fuzz/replay-qemu-log tests/fuzz/replay-http-router \
	tests/fuzz/replay-hook-record tests/fuzz/replay-daemon-config tests/fuzz/replay-peer-reply \
	tests/fuzz/replay-migration-record
tests_fuzz_replay_its_walk_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_its_walk)
tests_fuzz_replay_its_walk_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_its_walk_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_its_walk_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_its_walk_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_qemu_image_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_qemu_image)
tests_fuzz_replay_qemu_image_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_qemu_image_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_qemu_image_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_qemu_image_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_domain_profile_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_domain_profile)
tests_fuzz_replay_domain_profile_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_domain_profile_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_domain_profile_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_domain_profile_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_host_caps_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_host_caps)
tests_fuzz_replay_host_caps_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_host_caps_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_host_caps_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_host_caps_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_job_journal_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_job_journal)
tests_fuzz_replay_job_journal_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_job_journal_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_job_journal_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_job_journal_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_qemu_log_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_qemu_log)
tests_fuzz_replay_qemu_log_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_qemu_log_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_qemu_log_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_qemu_log_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_http_router_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_http_router)
tests_fuzz_replay_http_router_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_http_router_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_http_router_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_http_router_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_hook_record_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_hook_record)
tests_fuzz_replay_hook_record_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_hook_record_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_hook_record_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_hook_record_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_daemon_config_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_daemon_config)
tests_fuzz_replay_daemon_config_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_daemon_config_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_daemon_config_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_daemon_config_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_peer_reply_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_peer_reply)
tests_fuzz_replay_peer_reply_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_peer_reply_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_peer_reply_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_peer_reply_LDADD = $(FUZZ_REPLAY_LIBS)
tests_fuzz_replay_migration_record_SOURCES = tests/fuzz/replay.c $(FUZZ_SRC_migration_record)
tests_fuzz_replay_migration_record_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
tests_fuzz_replay_migration_record_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
tests_fuzz_replay_migration_record_LDFLAGS = $(FUZZ_SAN)
tests_fuzz_replay_migration_record_LDADD = $(FUZZ_REPLAY_LIBS)
EXTRA_DIST += tests/fuzz/fuzz.h tests/fuzz/fuzz-alloc.h tests/fuzz/corpus tests/fuzz/regress \
	tests/fuzz/campaign.sh
TESTS += tests/fuzz/replay.sh
EXTRA_DIST += tests/fuzz/replay.sh
AM_TESTS_ENVIRONMENT += FUZZ_HARNESSES='$(FUZZ_HARNESSES)'; export FUZZ_HARNESSES;

# Seeds the campaign adds to the corpus of qemu-image (streams of every shape).
noinst_PROGRAMS += tests/fuzz/make-seeds
tests_fuzz_make_seeds_SOURCES = tests/fuzz/make-seeds.c tests/qemu-image-builder.c \
	tests/qemu-image-builder.h
tests_fuzz_make_seeds_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_fuzz_make_seeds_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_fuzz_make_seeds_LDADD = $(GLIB_LIBS)

# make fuzz [FUZZ_TIME=seconds per harness] [FUZZ_RUNS=executions per harness]
# [FUZZ_JOBS=processes per harness] [FUZZ_ONLY='its-walk ...']: one harness at a
# time under nice -n 19; the corpora
# grow in tests/fuzz/work/ of the build tree, the summary goes to tests/bench/fuzz.txt.
FUZZ_CC = clang
FUZZ_TIME = 600
FUZZ_RUNS = 0
FUZZ_JOBS = 1
FUZZ_ONLY = $(FUZZ_HARNESSES)
fuzz: tests/fuzz/make-seeds
	FUZZ_CC='$(FUZZ_CC)' FUZZ_JOBS='$(FUZZ_JOBS)' \
	FUZZ_CFLAGS='-g -O1 -I$(abs_top_srcdir)/include -I$(abs_top_srcdir) -I$(abs_top_builddir) $(ITSMIGD_CFLAGS) $(LIBXML_CFLAGS)' \
	FUZZ_SYSCONFDIR='$(sysconfdir)' FUZZ_RUNSTATEDIR='$(runstatedir)' \
	FUZZ_LOCALSTATEDIR='$(localstatedir)' \
	FUZZ_LIBS='$(GIO_LIBS) $(JSON_LIBS) $(LIBXML_LIBS) $(LIBVIRT_LIBS) $(CURL_LIBS)' \
	FUZZ_LIB_SRC='$(lib_libitsmig_la_SOURCES)' \
	FUZZ_SRC_its_walk='$(FUZZ_SRC_its_walk)' FUZZ_SRC_qemu_image='$(FUZZ_SRC_qemu_image)' \
	FUZZ_SRC_domain_profile='$(FUZZ_SRC_domain_profile)' \
	FUZZ_SRC_host_caps='$(FUZZ_SRC_host_caps)' FUZZ_SRC_job_journal='$(FUZZ_SRC_job_journal)' \
	FUZZ_SRC_qemu_log='$(FUZZ_SRC_qemu_log)' FUZZ_SRC_http_router='$(FUZZ_SRC_http_router)' \
	FUZZ_SRC_hook_record='$(FUZZ_SRC_hook_record)' \
	FUZZ_SRC_daemon_config='$(FUZZ_SRC_daemon_config)' \
	FUZZ_SRC_peer_reply='$(FUZZ_SRC_peer_reply)' \
	FUZZ_SRC_migration_record='$(FUZZ_SRC_migration_record)' \
	$(SHELL) $(top_srcdir)/tests/fuzz/campaign.sh '$(abs_top_srcdir)' '$(abs_top_builddir)' \
		'$(FUZZ_TIME)' '$(FUZZ_RUNS)' '$(FUZZ_ONLY)'
.PHONY: fuzz
clean-local: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/work
.PHONY: clean-fuzz
