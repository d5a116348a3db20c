//! Shared helpers of the qemu driver tests: the real `qemu-system-x86_64`
//! (installed by `scripts/test`), a driver on a private state dir, and a
//! minimal TCG guest that idles in its firmware.

#![allow(dead_code)]

#[path = "../peers/mod.rs"]
mod peers;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;
use virtbus_drivers::qemu::{QemuConfig, QemuDriver};
use virtbus_drivers::DriverNotice;
use virtbus_schemas::DomainDef;

/// The emulator, or a failure telling how to get it: these tests never
/// pass without a real qemu.
pub fn qemu_binary() -> PathBuf {
    peers::peer_binary(
        "VIRTBUS_TEST_QEMU",
        "/usr/bin/qemu-system-x86_64",
        "qemu-system-x86 and qemu-utils",
    )
}

pub fn qemu_img_binary() -> PathBuf {
    peers::peer_binary("VIRTBUS_TEST_QEMU_IMG", "/usr/bin/qemu-img", "qemu-utils")
}

/// A session driver on `state_dir`, allowed to run the test emulator.
pub fn open_driver(state_dir: &Path) -> (QemuDriver, crossbeam_channel::Receiver<DriverNotice>) {
    let qemu = qemu_binary();
    let uri = format!("qemu:///session?statedir={}", state_dir.display());
    let mut config = QemuConfig::from_uri(&uri).expect("qemu URI");
    config.emulators = vec![qemu.clone()];
    config.default_emulator = qemu;
    QemuDriver::open(config).expect("open qemu driver")
}

/// A disk-less TCG guest: it sits in SeaBIOS, enough for lifecycle work.
pub fn tiny_guest(name: &str, extra_devices: &str) -> DomainDef {
    let qemu = qemu_binary();
    let uuid = Uuid::new_v4();
    let xml = format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>{}</emulator>{extra_devices}<memballoon model='virtio'/></devices></domain>",
        qemu.display()
    );
    DomainDef::from_xml(&xml).expect("guest xml")
}

/// The next notice, waiting at most `timeout`.
pub fn next_notice(rx: &crossbeam_channel::Receiver<DriverNotice>, timeout: Duration) -> Option<DriverNotice> {
    rx.recv_timeout(timeout).ok()
}

/// Files left in the driver's run dir.
pub fn run_files(state_dir: &Path) -> Vec<String> {
    std::fs::read_dir(state_dir.join("run/qemu"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether any process runs with `uuid` on its command line.
pub fn qemu_running_for(uuid: Uuid) -> bool {
    let needle = uuid.to_string();
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten().any(|e| {
                let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                let zombie = stat
                    .rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
                !zombie && String::from_utf8_lossy(&cmd).contains(&needle)
            })
        })
        .unwrap_or(false)
}
