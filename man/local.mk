# The manual pages (included by Makefile.am).

dist_man_MANS += \
	man/itsmigctl.1 \
	man/itsmigd.8 \
	man/itsmigd.conf.5 \
	man/itsmig-alerts.7 \
	man/itsmig-compat.7
