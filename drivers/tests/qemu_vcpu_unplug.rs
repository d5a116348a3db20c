//! vcpu hot-unplug against real TCG guests on `pc` and `q35`.
//!
//! qemu removes a hotplugged vcpu only with the guest's help: `device_del`
//! raises an ACPI event, and the guest must eject the cpu through qemu's
//! cpu hotplug registers (what an OS's ACPI driver does, in `_EJ0`). And
//! qemu accepts the request only once the guest switched those registers
//! from their legacy mode to the modern interface; firmware never does,
//! so a guest idling in SeaBIOS refuses every unplug (tested in
//! `qemu_lifecycle.rs`).
//!
//! Instead of an OS, these guests boot a 512-byte boot sector of ours
//! (below, assembled by hand, the source beside the bytes) that plays the
//! OS's part: it switches to the modern interface, and then (the
//! cooperating one) polls every cpu's status and ejects the ones qemu asks
//! to remove, or (the deaf one) ignores them, so the driver's timeout is
//! seen for real.

mod qemu_common;

use qemu_common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use virtbus_drivers::HypervisorDriver;
use virtbus_schemas::ErrorCode;
use virtbus_schemas::VirtResult;

/// Where qemu's ACPI cpu hotplug registers sit: PIIX4 (`pc`) 0xaf00, ICH9
/// (`q35`) 0x0cd8; the modern interface takes the legacy one's place.
fn hotplug_base(machine: &str) -> u16 {
    if machine == "q35" {
        0x0cd8
    } else {
        0xaf00
    }
}

/// What the boot sector does with an unplug request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guest {
    /// Ejects the cpu at once, as an OS does.
    Ejects,
    /// Acknowledges the request and ejects the cpu 182 timer ticks (10 s)
    /// later: after the driver's 5 s wait, so the eject happens on its own.
    EjectsLate,
    /// Never answers.
    Ignores,
}

/// What the boot sector writes to the first serial port once it runs (and
/// has switched to the modern interface).
const BOOTED: u8 = b'!';

/// 16-bit real-mode code, loaded by SeaBIOS at 0x7c00. `BASE` is patched in.
fn program(base: u16, guest: Guest) -> Vec<u8> {
    let [lo, hi] = base.to_le_bytes();
    let mut code = vec![
        0xba, lo, hi, //       mov  $BASE, %dx
        0x30, 0xc0, //         xor  %al, %al
        0xee, //               out  %al, (%dx)    ; 0 at the legacy bitmap: modern interface on
        0xba, 0xf8, 0x03, //   mov  $0x3f8, %dx
        0xb0, BOOTED, //       mov  $BOOTED, %al
        0xee,   //               out  %al, (%dx)    ; to COM1: past the firmware, switched
    ];
    if guest == Guest::Ignores {
        code.extend([
            0xfb, //           idle: sti
            0xf4, //                 hlt
            0xeb, 0xfc, //           jmp idle
        ]);
        return code;
    }
    code.extend([
        0x66, 0x31, 0xdb, //   scan: xor  %ebx, %ebx       ; cpu selector
        0xba, lo, hi, //       next: mov  $BASE, %dx
        0x66, 0x89, 0xd8, //         mov  %ebx, %eax
        0x66, 0xef, //               out  %eax, (%dx)     ; select the cpu
        0x83, 0xc2, 0x04, //         add  $4, %dx
        0xec, //                     in   (%dx), %al      ; its status
        0xa8, 0x04, //               test $4, %al         ; removal requested?
    ]);
    if guest == Guest::Ejects {
        code.extend([
            0x74, 0x06, //           jz   skip
            0xb0, 0x04, //           mov  $4, %al
            0xee, //                 out  %al, (%dx)      ; acknowledge the request
            0xb0, 0x08, //           mov  $8, %al
            0xee, //                 out  %al, (%dx)      ; eject the cpu
        ]);
    } else {
        code.extend([
            0x74, 0x2e, //           jz   skip
            0xb0, 0x04, //           mov  $4, %al
            0xee, //                 out  %al, (%dx)      ; acknowledge the request
            0xb8, 0x40, 0x00, //     mov  $0x40, %ax
            0x8e, 0xc0, //           mov  %ax, %es        ; the BIOS data area
            0x26, 0x66, 0x8b, 0x0e, 0x6c, 0x00, // mov %es:0x6c, %ecx ; timer ticks now
            0xfb, //           wait: sti
            0xf4, //                 hlt
            0x26, 0x66, 0xa1, 0x6c, 0x00, //     mov %es:0x6c, %eax
            0x66, 0x29, 0xc8, //     sub  %ecx, %eax
            0x66, 0x3d, 0xb6, 0x00, 0x00, 0x00, // cmp $182, %eax  ; 10 s at 18.2 Hz
            0x72, 0xee, //           jb   wait
            0xba, lo, hi, //         mov  $BASE, %dx
            0x66, 0x89, 0xd8, //     mov  %ebx, %eax
            0x66, 0xef, //           out  %eax, (%dx)     ; select it again
            0x83, 0xc2, 0x04, //     add  $4, %dx
            0xb0, 0x08, //           mov  $8, %al
            0xee, //                 out  %al, (%dx)      ; eject the cpu
        ]);
    }
    let back: u8 = if guest == Guest::Ejects { 0xe2 } else { 0xba };
    code.extend([
        0x66,
        0x43, //         skip: inc  %ebx
        0x66,
        0x83,
        0xfb,
        0x08, //   cmp  $8, %ebx
        0x72,
        back, //               jb   next
        0xfb, //                     sti
        0xf4, //                     hlt                  ; until the next timer tick
        0xeb,
        back.wrapping_sub(0x07), // jmp scan
    ]);
    code
}

/// A 1 MiB raw disk whose boot sector is `program`.
fn boot_disk(dir: &Path, machine: &str, guest: Guest) -> PathBuf {
    let code = program(hotplug_base(machine), guest);
    let mut image = vec![0u8; 1024 * 1024];
    image[..code.len()].copy_from_slice(&code);
    image[510] = 0x55;
    image[511] = 0xaa;
    let path = dir.join(format!("boot-{machine}-{guest:?}.img"));
    std::fs::write(&path, image).expect("boot disk written");
    path
}

fn guest(dir: &Path, machine: &str, behaviour: Guest) -> virtbus_schemas::DomainDef {
    let disk = boot_disk(dir, machine, behaviour);
    let (dev, bus) = if machine == "q35" {
        ("sda", "sata")
    } else {
        ("hda", "ide")
    };
    let xml = format!(
        "<domain type='qemu'><name>unplug-{machine}</name><uuid>{}</uuid>\
         <memory unit='MiB'>64</memory><vcpu current='1'>3</vcpu>\
         <os><type arch='x86_64' machine='{machine}'>hvm</type><boot dev='hd'/></os><features><acpi/></features>\
         <devices><emulator>{}</emulator>\
         <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{}'/><target dev='{dev}' bus='{bus}'/></disk>\
         <serial type='file'><source path='{}'/><target port='0'/></serial>\
         <memballoon model='none'/></devices></domain>",
        uuid::Uuid::new_v4(),
        qemu_binary().display(),
        disk.display(),
        serial_log(dir).display()
    );
    virtbus_schemas::DomainDef::from_xml(&xml).expect("guest xml")
}

fn serial_log(dir: &Path) -> PathBuf {
    dir.join("serial.log")
}

/// Waits (bounded) until the guest's boot sector runs. A vcpu hotplugged
/// while SeaBIOS is still starting the processors can hang it for good (it
/// waits for as many processors as it counted, and the new one answers
/// its start-up IPI too), which a loaded machine, slow to leave the
/// firmware, once showed: so the tests hotplug only after this.
fn wait_booted(dir: &Path) {
    let started = Instant::now();
    while !std::fs::read(serial_log(dir)).unwrap_or_default().contains(&BOOTED) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the guest never reached its boot sector"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Destroys a guest when dropped, so a failed assertion leaves no qemu.
struct DestroyOnDrop<'a>(&'a virtbus_drivers::qemu::QemuDriver, uuid::Uuid);

impl Drop for DestroyOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.destroy_domain(self.1);
    }
}

/// qemu's refusal while the guest has not yet switched to the modern
/// interface (the boot sector runs a moment after the start).
fn still_legacy(result: &VirtResult<impl Sized>) -> bool {
    matches!(result, Err(e) if e.message.contains("not supported device type"))
}

/// `setvcpus` down, retried (bounded) while the guest is still in its
/// firmware; returns the first answer from a guest past that point.
fn set_vcpus_once_booted(
    driver: &virtbus_drivers::qemu::QemuDriver,
    uuid: uuid::Uuid,
    count: u32,
) -> VirtResult<virtbus_drivers::Outcome<virtbus_drivers::DomainRecord>> {
    let started = Instant::now();
    loop {
        let result = driver.set_vcpus(uuid, count);
        if !still_legacy(&result) {
            return result;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the boot sector never switched on the modern cpu hotplug interface"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn unplug_with_a_cooperating_guest(machine: &str) {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, _notices) = open_driver(state.path());
    let def = guest(state.path(), machine, Guest::Ejects);
    let uuid = def.uuid;
    driver.create_domain(def).expect("start");
    let _guard = DestroyOnDrop(&driver, uuid);
    wait_booted(state.path());

    driver.set_vcpus(uuid, 3).expect("hotplug two vcpus");
    assert_eq!(driver.domain_stats(uuid).expect("stats").vcpus, 3);

    // Down to one: both hotplugged vcpus ejected by the guest.
    let out = set_vcpus_once_booted(&driver, uuid, 1).expect("unplug");
    assert!(out.events.is_empty(), "no lifecycle event");
    assert_eq!(out.record.expect("record").def.vcpu.current, 1);
    assert_eq!(
        driver.domain_stats(uuid).expect("stats").vcpus,
        1,
        "qemu has one vcpu left"
    );

    // Another unplug request finds only the vcpu the guest booted with,
    // which is not hot-unpluggable; zero is out of range.
    let err = driver.set_vcpus(uuid, 0).expect_err("zero vcpus");
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert_eq!(driver.get_domain(uuid).expect("get").def.vcpu.current, 1);
    // No second hotplug here: qemu 7.2 with TCG (Debian bookworm's)
    // crashes on the next vcpu device_add after any vcpu unplug (see
    // docs/qemu.md).
    driver.destroy_domain(uuid).expect("destroy");
}

#[test]
fn a_guest_that_ejects_cpus_gets_vcpus_unplugged_on_pc() {
    unplug_with_a_cooperating_guest("pc");
}

#[test]
fn a_guest_that_ejects_cpus_gets_vcpus_unplugged_on_q35() {
    unplug_with_a_cooperating_guest("q35");
}

#[test]
fn a_guest_that_ignores_the_unplug_request_times_out_and_keeps_its_vcpus() {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, _notices) = open_driver(state.path());
    let def = guest(state.path(), "pc", Guest::Ignores);
    let uuid = def.uuid;
    driver.create_domain(def).expect("start");
    let _guard = DestroyOnDrop(&driver, uuid);
    wait_booted(state.path());
    driver.set_vcpus(uuid, 2).expect("hotplug one vcpu");

    // qemu accepts the request, the guest never ejects: after libvirt's
    // 5 s wait, OPERATION_FAILED with libvirt's wording.
    let err = set_vcpus_once_booted(&driver, uuid, 1).expect_err("the guest does not cooperate");
    assert_eq!(err.code, ErrorCode::OperationFailed, "{err}");
    assert!(err.message.contains("vcpu unplug request timed out"), "{err}");
    // Nothing changed: the live definition and qemu both keep two vcpus.
    let rec = driver.get_domain(uuid).expect("get");
    assert_eq!(rec.def.vcpu.current, 2);
    assert_eq!(driver.domain_stats(uuid).expect("stats").vcpus, 2);
    // The guest runs on, managed as before.
    driver.suspend_domain(uuid).expect("suspend");
    driver.resume_domain(uuid).expect("resume");
    driver.destroy_domain(uuid).expect("destroy");
    assert!(!qemu_running_for(uuid));
}

#[test]
fn a_vcpu_the_guest_ejects_after_the_timeout_leaves_the_live_definition_too() {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, notices) = open_driver(state.path());
    let def = guest(state.path(), "pc", Guest::EjectsLate);
    let uuid = def.uuid;
    driver.create_domain(def).expect("start");
    let _guard = DestroyOnDrop(&driver, uuid);
    wait_booted(state.path());
    driver.set_vcpus(uuid, 2).expect("hotplug one vcpu");
    while notices.try_recv().is_ok() {}

    let err = set_vcpus_once_booted(&driver, uuid, 1).expect_err("the guest answers only after 10 s");
    assert!(err.message.contains("vcpu unplug request timed out"), "{err}");
    assert_eq!(driver.get_domain(uuid).expect("get").def.vcpu.current, 2);

    // Later the guest ejects the cpu: qemu reports the removal, the driver
    // takes qemu's count into the live definition and tells the core.
    let started = Instant::now();
    let notice = loop {
        match notices.recv_timeout(Duration::from_secs(1)) {
            Ok(virtbus_drivers::DriverNotice::Domain { uuid: u, event: None }) if u == uuid => break true,
            _ if started.elapsed() > Duration::from_secs(60) => break false,
            _ => {}
        }
    };
    assert!(notice, "a refresh notice for the guest after its vcpu left");
    assert_eq!(driver.get_domain(uuid).expect("get").def.vcpu.current, 1);
    assert_eq!(driver.domain_stats(uuid).expect("stats").vcpus, 1);
    assert!(!driver
        .get_domain(uuid)
        .expect("get")
        .def
        .to_xml()
        .contains("current='2'"));
    driver.destroy_domain(uuid).expect("destroy");
}
