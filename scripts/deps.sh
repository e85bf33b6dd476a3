#!/bin/sh
# Installs what building and testing itsmig needs on Debian 12, as root.
# Idempotent: packages already present are left alone.
set -eu

BUILD="build-essential autoconf automake autoconf-archive libtool pkg-config
       libglib2.0-dev libjson-glib-dev libxml2-dev libvirt-dev libvirt-glib-1.0-dev
       libmicrohttpd-dev libsystemd-dev libcurl4-openssl-dev systemd"
# itsmigd at run time talks to a libvirt daemon (the README starts one).
RUN="libvirt-daemon libvirt-clients curl"
# The real-kernel bed: an aarch64 cross compiler, QEMU, cpio; the kernels and
# busybox themselves are arm64 packages fetched by the bed (newer kernels'
# modules are xz or zstd compressed).
KVM_BED="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-system-arm cpio xz-utils zstd"
# The two-host bed: libvirt with its QEMU driver, namespaces and a veth pair.
E2E_BED="libvirt-daemon-driver-qemu iproute2 util-linux passwd"
# The nested bed: an ext4 image of arm64 packages, itsmig cross-built from git;
# the userland check runs that build on a later suite's libraries under qemu-user.
NESTED_BED="e2fsprogs git qemu-user"
# The daemon's tests and benchmarks: valgrind, TLS certificates, load, fake peers
# and the JSON Schema check (Debian's python3).
DAEMON_TESTS="valgrind openssl wrk bc jq python3 python3-jsonschema"
# The hook's stalled save image: a FUSE file system in Python.
DAEMON_TESTS="$DAEMON_TESTS python3-fusepy fuse3"
# make fuzz: clang with libFuzzer and the sanitizer runtimes (make check replays
# the fuzz inputs with gcc's ASan and UBSan, which build-essential brings).
FUZZ="clang libclang-rt-14-dev"
# Nova's own provider config loader reads the traits file itsmig writes.
DAEMON_TESTS="$DAEMON_TESTS python3-nova"
# The package test (tests/pkg/): build, lint, and a Debian 12 root to install into.
PKG_TEST="debhelper bash-completion lintian debootstrap"
# The alert rules' checks and the scrape test: promtool and a Prometheus server
# that the test starts itself (the package's own service must not start).
METRICS_TESTS="prometheus"
# Compressed save images: the programs libvirt runs for qemu.conf's
# save_image_format, which its inspect --image and the restore gate run too.
DAEMON_TESTS="$DAEMON_TESTS gzip bzip2 xz-utils lzop zstd"
# make check holds the C sources to .clang-format (tests/format.sh).
FORMAT_TEST="clang-format"

want="$BUILD $RUN"
case "${1:-}" in
--test) want="$want $KVM_BED $E2E_BED $NESTED_BED $DAEMON_TESTS $FUZZ $PKG_TEST $METRICS_TESTS $FORMAT_TEST" ;;
"") ;;
*) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
    echo "scripts/deps.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

updated=no
if [ "${1:-}" = --test ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -q
    updated=yes
fi

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    [ "$updated" = yes ] || apt-get update -q
    # Packages such as prometheus start a system service on install; tests
    # start their own instances.  policy-rc.d refuses every start (invoke-rc.d
    # and deb-systemd-invoke ask it) while we install, unless one exists.
    policy=/usr/sbin/policy-rc.d
    own_policy=no
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing ||
        { [ "$own_policy" = no ] || rm -f "$policy"; exit 1; }
    [ "$own_policy" = no ] || rm -f "$policy"
fi

# The two-host bed runs libvirtd as on a host, and a privileged libvirtd
# looks up its default QEMU account before reading qemu.conf.  That account
# comes with libvirt-daemon-system, which would also start a system libvirtd
# on install; the bed needs only the account.
if [ "${1:-}" = --test ]; then
    getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
    getent passwd libvirt-qemu >/dev/null ||
        useradd --system --gid libvirt-qemu --home-dir /var/lib/libvirt \
            --no-create-home --shell /usr/sbin/nologin libvirt-qemu
fi
