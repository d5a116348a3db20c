# qemu-system-x86_64 and qemu-img: the real hypervisor and image tool the
# native qemu driver's tests (drivers/tests/qemu_*.rs) start TCG guests and
# create volumes with. Debian's packages: install qemu-system-x86 alone first.
# On machines that ship a newer qemu-utils than the suite's, asking apt for
# both in one transaction fails on the version mismatch; installing the system
# emulator first pulls the matching qemu-utils in (replacing the newer one),
# and the second call then finds it present.
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    apt_install qemu-system-x86
fi
if ! command -v qemu-img >/dev/null 2>&1; then
    apt_install qemu-utils
fi
export VIRTBUS_TEST_QEMU="$(command -v qemu-system-x86_64 || echo /usr/bin/qemu-system-x86_64)"
export VIRTBUS_TEST_QEMU_IMG="$(command -v qemu-img || echo /usr/bin/qemu-img)"
