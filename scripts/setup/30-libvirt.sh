# libvirt's development files (libvirt-dev: headers and the libvirt.so link)
# for the `libvirt` feature of virtbus-drivers, the `libvirt+URI` proxy, and
# pkg-config, which virt-sys uses to find them. Its tests run against the
# test driver inside libvirt.so (test:///default, node files), so no daemon
# is needed. The feature is off by default (a plain `cargo build` needs no
# libvirt); this fragment adds it to VIRTBUS_TEST_FEATURES, which the test
# command passes as `--features "$VIRTBUS_TEST_FEATURES"`.
if ! pkg-config --exists libvirt 2>/dev/null; then
    apt_install libvirt-dev pkg-config
fi
if pkg-config --exists libvirt 2>/dev/null; then
    export VIRTBUS_TEST_FEATURES="${VIRTBUS_TEST_FEATURES:+$VIRTBUS_TEST_FEATURES,}virtbus-drivers/libvirt"
else
    log "libvirt-dev is not available: the libvirt proxy's tests are left out"
fi
