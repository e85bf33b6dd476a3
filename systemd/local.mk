# itsmigd's systemd units (included by Makefile.am).

EXTRA_DIST += systemd/itsmigd.service.in systemd/itsmigd.socket

systemd/itsmigd.service: systemd/itsmigd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' $(srcdir)/systemd/itsmigd.service.in >$@.tmp && \
	mv $@.tmp $@
CLEANFILES += systemd/itsmigd.service systemd/itsmigd.service.tmp
all-local: systemd/itsmigd.service

if INSTALL_SYSTEMD_UNITS
systemdsystemunit_DATA = systemd/itsmigd.service systemd/itsmigd.socket
endif
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir='$$dc_install_base/$(systemdsystemunitdir)'

