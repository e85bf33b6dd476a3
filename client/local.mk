# itsmigctl, its bash completion and the libvirt hook (included by Makefile.am).

bin_PROGRAMS = client/itsmigctl
client_itsmigctl_SOURCES = \
	client/itsmigctl.c \
	client/itsmigctl.h \
	client/cmd-its.c \
	client/its-semantics.c client/its-semantics.h \
	client/cmd-host.c \
	client/cmd-validate.c \
	client/cmd-daemon.c \
	client/cmd-migrate.c \
	client/job-print.c client/job-print.h \
	client/cmd-events.c \
	client/ctl-rest.c \
	daemon/daemon-config.c daemon/daemon-config.h \
	daemon/config-peer.c daemon/config-host.c daemon/config-policy.c \
	daemon/config-private.h
# host validate reads itsmigd.conf with the daemon's own parser and asks libvirt.
client_itsmigctl_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
client_itsmigctl_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_CFLAGS) $(LIBVIRT_CFLAGS)
client_itsmigctl_LDADD = lib/libitsmig.la $(GLIB_LIBS) $(JSON_LIBS) $(LIBVIRT_LIBS)

bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = client/completion/itsmigctl

# The libvirt hook reads itsmigd.conf with the daemon's own parser, and links
# neither libvirt nor the daemon.  It is installed under libvirt's name for it.
noinst_PROGRAMS += client/hooks/itsmig-hook
client_hooks_itsmig_hook_SOURCES = \
	client/hooks/itsmig-hook.c \
	client/hooks/hook-image.c client/hooks/hook-image.h \
	daemon/daemon-config.c daemon/daemon-config.h \
	daemon/config-peer.c daemon/config-host.c daemon/config-policy.c \
	daemon/config-private.h
client_hooks_itsmig_hook_CPPFLAGS = $(AM_CPPFLAGS) $(ITSMIGD_DEFS)
client_hooks_itsmig_hook_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_CFLAGS)
client_hooks_itsmig_hook_LDADD = lib/libitsmig.la $(GLIB_LIBS) $(JSON_LIBS)

libvirthookdir = $(sysconfdir)/libvirt/hooks/qemu.d
install-exec-local: install-itsmig-hook
install-itsmig-hook: client/hooks/itsmig-hook$(EXEEXT)
	$(MKDIR_P) '$(DESTDIR)$(libvirthookdir)'
	$(LIBTOOL) $(AM_LIBTOOLFLAGS) $(LIBTOOLFLAGS) --mode=install $(INSTALL_PROGRAM) \
		client/hooks/itsmig-hook$(EXEEXT) '$(DESTDIR)$(libvirthookdir)/50-itsmig'
uninstall-local: uninstall-itsmig-hook
uninstall-itsmig-hook:
	rm -f '$(DESTDIR)$(libvirthookdir)/50-itsmig'
.PHONY: install-itsmig-hook uninstall-itsmig-hook

