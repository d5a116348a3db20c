# libvirt for the `libvirt+URI` proxy (the `libvirt` feature of
# virtbus-drivers):
# - libvirt's development files (libvirt-dev: headers and the libvirt.so
#   link) and pkg-config, which virt-sys uses to find them. The feature is
#   off by default (a plain `cargo build` needs no libvirt); this fragment
#   adds it to VIRTBUS_TEST_FEATURES, which the test command passes as
#   `--features "$VIRTBUS_TEST_FEATURES"`.
# - libvirtd with its qemu driver and virsh (libvirt-daemon,
#   libvirt-daemon-driver-qemu, libvirt-clients) for the tests against a
#   real daemon (drivers/tests/libvirtd_qemu.rs). Debian's libvirt-daemon has
#   no service scripts (those are in libvirt-daemon-system, not installed),
#   so installing it starts no system daemon. The tests start private
#   daemons themselves, in session mode with their own directories and unix
#   sockets under a temp dir (as `nobody` when run as root); nothing here
#   touches a system libvirtd.
#
# Exports:
#   VIRTBUS_TEST_LIBVIRTD   the libvirtd binary
#   VIRTBUS_TEST_VIRSH      the virsh binary
if ! pkg-config --exists libvirt 2>/dev/null; then
    apt_install libvirt-dev pkg-config
fi
libvirt_missing=()
for pkg in libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients; do
    case "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" in
    *" installed") ;;
    *) libvirt_missing+=("$pkg") ;;
    esac
done
if [ "${#libvirt_missing[@]}" -gt 0 ]; then
    apt_install "${libvirt_missing[@]}"
fi
if pkg-config --exists libvirt 2>/dev/null; then
    export VIRTBUS_TEST_FEATURES="${VIRTBUS_TEST_FEATURES:+$VIRTBUS_TEST_FEATURES,}virtbus-drivers/libvirt"
else
    log "libvirt-dev is not available: the libvirt proxy's tests are left out"
fi
export VIRTBUS_TEST_LIBVIRTD="$(command -v libvirtd || echo /usr/sbin/libvirtd)"
export VIRTBUS_TEST_VIRSH="$(command -v virsh || echo /usr/bin/virsh)"
