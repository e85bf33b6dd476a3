# The example itsmigd.conf and the Prometheus alerting rules (included by Makefile.am).

EXTRA_DIST += etc/itsmigd.conf

# Prometheus alerting rules for /metrics and their runbook (man/itsmig-alerts.7);
# tests/alerts/rules.sh has promtool check and unit-test them.
alertsdir = $(datadir)/itsmig
dist_alerts_DATA = etc/itsmig-alerts.yml

# The example configuration; an existing (perhaps edited) file is never replaced,
# and uninstall removes it only when it is still the one installed.
itsmigconfdir = $(sysconfdir)/itsmig
install-data-local: install-itsmigd-conf
install-itsmigd-conf:
	$(MKDIR_P) '$(DESTDIR)$(itsmigconfdir)'
	if test ! -e '$(DESTDIR)$(itsmigconfdir)/itsmigd.conf'; then \
		$(INSTALL_DATA) $(srcdir)/etc/itsmigd.conf '$(DESTDIR)$(itsmigconfdir)/itsmigd.conf'; \
	fi
uninstall-local: uninstall-itsmigd-conf
uninstall-itsmigd-conf:
	if cmp -s $(srcdir)/etc/itsmigd.conf '$(DESTDIR)$(itsmigconfdir)/itsmigd.conf'; then \
		rm -f '$(DESTDIR)$(itsmigconfdir)/itsmigd.conf'; \
	fi
.PHONY: install-itsmigd-conf uninstall-itsmigd-conf
