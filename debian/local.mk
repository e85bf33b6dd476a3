# The Debian packaging (debian/), built and installed by tests/pkg/package.sh
# (included by Makefile.am).

# In the release tarball, so that the package builds from it too.
EXTRA_DIST += \
	debian/changelog \
	debian/control \
	debian/copyright \
	debian/rules \
	debian/source/format \
	debian/README.source \
	debian/not-installed \
	debian/itsmigd.README.Debian \
	debian/itsmigd.docs \
	debian/itsmigd.install \
	debian/itsmigd.postrm \
	debian/itsmigd.tmpfiles \
	debian/itsmigctl.bash-completion \
	debian/itsmigctl.install \
	debian/itsmig-libvirt-hook.install \
	debian/itsmig-libvirt-hook.links \
	debian/itsmig-libvirt-hook.postinst \
	debian/itsmig-libvirt-hook.postrm
