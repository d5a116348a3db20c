//! The qemu driver against real `qemu-system-x86_64` (TCG) guests: the
//! lifecycle with libvirt's event sequence, a qemu killed from outside,
//! reattaching after a driver restart, and bad input leaving nothing behind.

mod qemu_common;

use qemu_common::*;
use std::time::{Duration, Instant};
use virtbus_drivers::model::DriverEvent;
use virtbus_drivers::{DriverNotice, HypervisorDriver};
use virtbus_schemas::lifecycle::{
    DefinedDetail, DomainLifecycle, DomainState, PausedReason, ResumedDetail, RunningReason, ShutoffReason,
    StartedDetail, StoppedDetail, SuspendedDetail, UndefinedDetail,
};
use virtbus_schemas::ErrorCode;

fn dom(events: &[DriverEvent]) -> Vec<DomainLifecycle> {
    events
        .iter()
        .filter_map(|e| match e {
            DriverEvent::Domain(d) => Some(*d),
            _ => None,
        })
        .collect()
}

#[test]
fn define_start_suspend_resume_reboot_destroy_undefine_with_libvirt_events() {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, notices) = open_driver(state.path());
    let def = tiny_guest("life", "");
    let uuid = def.uuid;

    let out = driver.define_domain(def).expect("define");
    assert_eq!(dom(&out.events), vec![DomainLifecycle::defined(DefinedDetail::Added)]);

    let out = driver.start_domain(uuid).expect("start");
    assert_eq!(
        dom(&out.events),
        vec![
            DomainLifecycle::resumed(ResumedDetail::Unpaused),
            DomainLifecycle::started(StartedDetail::Booted)
        ]
    );
    let rec = out.record.expect("record");
    assert_eq!(rec.state.state, DomainState::Running);
    assert!(rec.id.is_some());
    assert_eq!(rec.def.id, rec.id.map(|i| i as i32));
    let pid = driver.pid_of(uuid).expect("pid");
    assert!(qemu_running_for(uuid), "qemu {pid} should run");
    assert!(run_files(state.path()).iter().any(|f| f.ends_with(".json")));

    let err = driver.start_domain(uuid).expect_err("second start");
    assert_eq!(err.code, ErrorCode::OperationInvalid);

    let out = driver.suspend_domain(uuid).expect("suspend");
    assert_eq!(
        dom(&out.events),
        vec![DomainLifecycle::suspended(SuspendedDetail::Paused)]
    );
    assert_eq!(
        out.record.expect("record").state,
        virtbus_schemas::lifecycle::StateWithReason::paused(PausedReason::User)
    );

    let out = driver.resume_domain(uuid).expect("resume");
    assert_eq!(
        dom(&out.events),
        vec![DomainLifecycle::resumed(ResumedDetail::Unpaused)]
    );
    assert_eq!(out.record.expect("record").state.state, DomainState::Running);

    let out = driver.reboot_domain(uuid).expect("reboot");
    assert!(out.events.is_empty(), "reboot is no lifecycle event in libvirt");
    assert_eq!(out.record.expect("record").state.state, DomainState::Running);

    let stats = driver.domain_stats(uuid).expect("stats");
    assert_eq!(stats.vcpus, 1);
    assert_eq!(stats.memory_max_kib, 64 * 1024);
    assert!(stats.cpu_time_ns > 0, "a running TCG guest uses cpu");

    driver.set_memory(uuid, 48 * 1024).expect("balloon");
    assert_eq!(driver.get_domain(uuid).expect("get").def.current_memory_kib, 48 * 1024);
    let err = driver.set_memory(uuid, 128 * 1024).expect_err("above max");
    assert_eq!(err.code, ErrorCode::InvalidArg);
    let err = driver.set_max_memory(uuid, 128 * 1024).expect_err("max while running");
    assert_eq!(err.code, ErrorCode::OperationInvalid);

    let out = driver.destroy_domain(uuid).expect("destroy");
    assert_eq!(
        dom(&out.events),
        vec![DomainLifecycle::stopped(StoppedDetail::Destroyed)]
    );
    let rec = out.record.expect("persistent domain stays");
    assert_eq!(
        rec.state,
        virtbus_schemas::lifecycle::StateWithReason::shutoff(ShutoffReason::Destroyed)
    );
    assert_eq!(rec.id, None);
    assert_eq!(rec.def.id, None);
    assert!(!qemu_running_for(uuid), "qemu must be gone after destroy");
    assert!(run_files(state.path()).is_empty(), "{:?}", run_files(state.path()));

    let out = driver.undefine_domain(uuid).expect("undefine");
    assert_eq!(
        dom(&out.events),
        vec![DomainLifecycle::undefined(UndefinedDetail::Removed)]
    );
    assert!(out.record.is_none());
    assert_eq!(driver.get_domain(uuid).expect_err("gone").code, ErrorCode::NoDomain);

    // Everything above came through calls: the driver noticed nothing on
    // its own that it had not already reported.
    let stray: Vec<_> = notices
        .try_iter()
        .filter(|n| matches!(n, DriverNotice::Domain { event: Some(_), .. }))
        .collect();
    assert!(stray.is_empty(), "unexpected notices {stray:?}");
}

#[test]
fn qemu_killed_from_outside_gives_stopped_failed_within_a_second() {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, notices) = open_driver(state.path());
    let def = tiny_guest("victim", "");
    let uuid = def.uuid;
    driver.define_domain(def).expect("define");
    driver.start_domain(uuid).expect("start");
    let pid = driver.pid_of(uuid).expect("pid");

    let killed = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let notice = next_notice(&notices, Duration::from_secs(1)).expect("a notice within a second");
    assert!(killed.elapsed() < Duration::from_secs(1));
    assert_eq!(
        notice,
        DriverNotice::Domain {
            uuid,
            event: Some(DomainLifecycle::stopped(StoppedDetail::Failed))
        }
    );
    // The driver's state shows the stop before the notice went out.
    let rec = driver.get_domain(uuid).expect("persistent domain stays");
    assert_eq!(
        rec.state,
        virtbus_schemas::lifecycle::StateWithReason::shutoff(ShutoffReason::Crashed)
    );
    assert!(run_files(state.path()).is_empty(), "{:?}", run_files(state.path()));

    // A transient guest killed from outside disappears.
    let def = tiny_guest("transient-victim", "");
    let tuuid = def.uuid;
    driver.create_domain(def).expect("create");
    let pid = driver.pid_of(tuuid).expect("pid");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    let notice = next_notice(&notices, Duration::from_secs(1)).expect("notice");
    assert_eq!(
        notice,
        DriverNotice::Domain {
            uuid: tuuid,
            event: Some(DomainLifecycle::stopped(StoppedDetail::Failed))
        }
    );
    assert_eq!(driver.get_domain(tuuid).expect_err("gone").code, ErrorCode::NoDomain);
}

#[test]
fn a_new_driver_reattaches_to_running_guests_and_keeps_managing_them() {
    let state = tempfile::tempdir().expect("tempdir");
    let persistent = tiny_guest("keep-a", "");
    let transient = tiny_guest("keep-b", "");
    let dead = tiny_guest("keep-c", "");
    let (pu, tu, du) = (persistent.uuid, transient.uuid, dead.uuid);
    let (pids, ids) = {
        let (driver, _notices) = open_driver(state.path());
        driver.define_domain(persistent).expect("define");
        driver.start_domain(pu).expect("start");
        driver.create_domain(transient).expect("create");
        driver.define_domain(dead).expect("define");
        driver.start_domain(du).expect("start");
        driver.suspend_domain(tu).expect("suspend");
        let pids = (driver.pid_of(pu).expect("pid"), driver.pid_of(tu).expect("pid"));
        let ids = (
            driver.get_domain(pu).expect("get").id,
            driver.get_domain(tu).expect("get").id,
        );
        // While no driver watches, one guest dies.
        let dpid = driver.pid_of(du).expect("pid");
        drop(driver);
        std::process::Command::new("kill")
            .args(["-9", &dpid.to_string()])
            .status()
            .expect("kill");
        (pids, ids)
    };
    std::thread::sleep(Duration::from_millis(100));

    let (driver, notices) = open_driver(state.path());
    let a = driver.get_domain(pu).expect("persistent guest found again");
    assert_eq!(a.state.state, DomainState::Running);
    assert!(a.persistent);
    assert_eq!(a.id, ids.0);
    assert_eq!(driver.pid_of(pu), Some(pids.0));
    let b = driver.get_domain(tu).expect("transient guest found again");
    assert_eq!(b.state.state, DomainState::Paused);
    assert!(!b.persistent);
    assert_eq!(b.id, ids.1);
    let c = driver.get_domain(du).expect("dead persistent guest known");
    assert_eq!(
        c.state,
        virtbus_schemas::lifecycle::StateWithReason::shutoff(ShutoffReason::Crashed)
    );

    // Still managed: resume, suspend, stats that grow.
    let out = driver.resume_domain(tu).expect("resume after reattach");
    assert_eq!(
        dom(&out.events),
        vec![DomainLifecycle::resumed(ResumedDetail::Unpaused)]
    );
    assert_eq!(
        out.record.expect("record").state,
        virtbus_schemas::lifecycle::StateWithReason::running(RunningReason::Unpaused)
    );
    driver.suspend_domain(pu).expect("suspend after reattach");
    driver.resume_domain(pu).expect("resume after reattach");
    let first = driver.domain_stats(tu).expect("stats").cpu_time_ns;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut later = first;
    while later <= first && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        later = driver.domain_stats(tu).expect("stats").cpu_time_ns;
    }
    assert!(later > first, "cpu time should grow ({first} → {later})");
    // A new start gets an id after the reattached ones.
    driver.start_domain(du).expect("restart the dead one");
    assert!(driver.get_domain(du).expect("get").id > ids.0.max(ids.1));

    // Exits are still detected for reattached guests.
    std::process::Command::new("kill")
        .args(["-9", &pids.1.to_string()])
        .status()
        .expect("kill");
    let notice = next_notice(&notices, Duration::from_secs(1)).expect("notice");
    assert_eq!(
        notice,
        DriverNotice::Domain {
            uuid: tu,
            event: Some(DomainLifecycle::stopped(StoppedDetail::Failed))
        }
    );
    driver.destroy_domain(pu).expect("destroy");
    driver.destroy_domain(du).expect("destroy");
    assert!(run_files(state.path()).is_empty(), "{:?}", run_files(state.path()));
}

#[test]
fn bad_input_is_refused_and_leaves_nothing_behind() {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, _notices) = open_driver(state.path());

    // An emulator off the allow-list, even one that exists.
    let mut def = tiny_guest("evil", "");
    def.update_tree(|t| {
        if let Some(e) = t.child_mut("devices").and_then(|d| d.child_mut("emulator")) {
            e.set_text("/bin/sh");
        }
    })
    .expect("edit");
    let err = driver.define_domain(def.clone()).expect_err("disallowed emulator");
    assert_eq!(err.code, ErrorCode::OperationDenied);
    assert!(err.message.contains("/bin/sh"), "{}", err.message);
    let err = driver.create_domain(def).expect_err("disallowed emulator");
    assert_eq!(err.code, ErrorCode::OperationDenied);

    // A missing disk file.
    let missing = state.path().join("nope.img");
    let def = tiny_guest(
        "nodisk",
        &format!(
            "<disk type='file' device='disk'><source file='{}'/><target dev='vda' bus='virtio'/></disk>",
            missing.display()
        ),
    );
    let uuid = def.uuid;
    let err = driver.create_domain(def).expect_err("missing disk");
    assert_eq!(err.code, ErrorCode::OperationFailed);
    assert!(err.message.contains("nope.img"), "{}", err.message);
    assert_eq!(driver.get_domain(uuid).expect_err("not kept").code, ErrorCode::NoDomain);

    // An unknown machine type: qemu's own error, no process, no files.
    let mut def = tiny_guest("badmachine", "");
    def.update_tree(|t| {
        if let Some(ty) = t.child_mut("os").and_then(|o| o.child_mut("type")) {
            ty.set_attr("machine", "no-such-machine");
        }
    })
    .expect("edit");
    let uuid = def.uuid;
    driver.define_domain(def).expect("define is fine");
    let err = driver.start_domain(uuid).expect_err("unknown machine");
    assert_eq!(err.code, ErrorCode::OperationFailed);
    assert!(err.message.contains("no-such-machine"), "{}", err.message);
    assert_eq!(driver.get_domain(uuid).expect("kept").state.state, DomainState::Shutoff);
    assert!(!qemu_running_for(uuid));

    // A device qemu itself refuses once it runs (a raw file declared
    // qcow2): qemu's own message, whether qemu failed before or after
    // opening its monitor; no process, no files.
    let raw = state.path().join("raw.img");
    std::fs::write(&raw, vec![0u8; 1 << 20]).expect("raw disk");
    let def = tiny_guest(
        "notqcow2",
        &format!(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/><target dev='vda' bus='virtio'/></disk>",
            raw.display()
        ),
    );
    let bad_image = def.uuid;
    let err = driver.create_domain(def).expect_err("not a qcow2 image");
    assert_eq!(err.code, ErrorCode::OperationFailed);
    assert!(err.message.contains("qcow2"), "{}", err.message);
    assert!(err.message.contains("notqcow2"), "{}", err.message);
    assert!(!qemu_running_for(bad_image));
    assert!(run_files(state.path()).is_empty(), "{:?}", run_files(state.path()));

    // Two guests on one disk without <shareable/>.
    let disk = state.path().join("shared.img");
    std::fs::write(&disk, vec![0u8; 1 << 20]).expect("disk");
    let dev = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{}'/><target dev='vda' bus='virtio'/></disk>",
        disk.display()
    );
    let first = tiny_guest("disk-a", &dev);
    let second = tiny_guest("disk-b", &dev);
    let (fu, su) = (first.uuid, second.uuid);
    driver.create_domain(first).expect("first guest");
    let err = driver.create_domain(second).expect_err("second guest on the same disk");
    assert_eq!(err.code, ErrorCode::OperationInvalid);
    assert!(err.message.contains("shareable"), "{}", err.message);
    assert!(!qemu_running_for(su));
    driver.destroy_domain(fu).expect("destroy");

    // Unsupported devices never reach qemu.
    let def = tiny_guest("sound", "<sound model='ich6'/>");
    let err = driver.create_domain(def).expect_err("sound");
    assert_eq!(err.code, ErrorCode::ConfigUnsupported);

    // Operations on inactive or unknown domains.
    let err = driver.suspend_domain(uuid).expect_err("inactive");
    assert_eq!(err.code, ErrorCode::OperationInvalid);
    let err = driver.destroy_domain(uuid::Uuid::new_v4()).expect_err("unknown");
    assert_eq!(err.code, ErrorCode::NoDomain);

    assert!(run_files(state.path()).is_empty(), "{:?}", run_files(state.path()));
}

#[test]
fn sigterm_from_outside_is_a_host_shutdown_then_a_normal_stop() {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, notices) = open_driver(state.path());
    let def = tiny_guest("termed", "");
    let uuid = def.uuid;
    driver.define_domain(def).expect("define");
    driver.start_domain(uuid).expect("start");
    let pid = driver.pid_of(uuid).expect("pid");
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    let first = next_notice(&notices, Duration::from_secs(2)).expect("shutdown notice");
    assert_eq!(
        first,
        DriverNotice::Domain {
            uuid,
            event: Some(DomainLifecycle::shutdown(
                virtbus_schemas::lifecycle::ShutdownDetail::Host
            ))
        }
    );
    let second = next_notice(&notices, Duration::from_secs(2)).expect("stop notice");
    assert_eq!(
        second,
        DriverNotice::Domain {
            uuid,
            event: Some(DomainLifecycle::stopped(StoppedDetail::Shutdown))
        }
    );
    let rec = driver.get_domain(uuid).expect("get");
    assert_eq!(
        rec.state,
        virtbus_schemas::lifecycle::StateWithReason::shutoff(ShutoffReason::Shutdown)
    );
}

#[test]
fn shutdown_of_a_guest_that_ignores_it_falls_back_to_destroy_when_configured() {
    let state = tempfile::tempdir().expect("tempdir");
    let qemu = qemu_binary();
    let uri = format!("qemu:///session?statedir={}", state.path().display());
    let mut config = virtbus_drivers::qemu::QemuConfig::from_uri(&uri).expect("uri");
    config.emulators = vec![qemu.clone()];
    config.default_emulator = qemu;
    config.shutdown_fallback = Some(Duration::from_millis(500));
    let (driver, notices) = virtbus_drivers::qemu::QemuDriver::open(config).expect("open");
    let def = tiny_guest("stubborn", "");
    let uuid = def.uuid;
    driver.define_domain(def).expect("define");
    driver.start_domain(uuid).expect("start");
    // SeaBIOS without an OS ignores the ACPI power button.
    let out = driver.shutdown_domain(uuid).expect("shutdown request");
    assert!(out.events.is_empty(), "the stop comes later, by notice");
    assert_eq!(out.record.expect("record").state.state, DomainState::Running);
    let notice = next_notice(&notices, Duration::from_secs(3)).expect("fallback notice");
    assert_eq!(
        notice,
        DriverNotice::Domain {
            uuid,
            event: Some(DomainLifecycle::stopped(StoppedDetail::Destroyed))
        }
    );
    assert_eq!(
        driver.get_domain(uuid).expect("get").state,
        virtbus_schemas::lifecycle::StateWithReason::shutoff(ShutoffReason::Destroyed)
    );
    assert!(!qemu_running_for(uuid));
}

/// Destroys a guest when dropped, so a failed assertion leaves no qemu.
struct DestroyOnDrop<'a>(&'a virtbus_drivers::qemu::QemuDriver, uuid::Uuid);

impl Drop for DestroyOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.destroy_domain(self.1);
    }
}

#[test]
fn vcpus_hotplug_into_a_running_guest_within_its_maximum() {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, _notices) = open_driver(state.path());
    let uuid = uuid::Uuid::new_v4();
    let xml = format!(
        "<domain type='qemu'><name>hotcpu</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>64</memory><vcpu current='1'>3</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>\
         <devices><emulator>{}</emulator></devices></domain>",
        qemu_binary().display()
    );
    driver
        .define_domain(virtbus_schemas::DomainDef::from_xml(&xml).expect("xml"))
        .expect("define");
    driver.start_domain(uuid).expect("start");
    let _guard = DestroyOnDrop(&driver, uuid);
    assert_eq!(driver.domain_stats(uuid).expect("stats").vcpus, 1);

    // Two vcpus plugged into the free slots: qemu reports three online.
    let out = driver.set_vcpus(uuid, 3).expect("hotplug");
    assert!(out.events.is_empty(), "vcpu hotplug is no lifecycle event");
    let rec = out.record.expect("record");
    assert_eq!(rec.def.vcpu.current, 3, "the live definition shows the new count");
    assert_eq!(
        rec.inactive_def.as_ref().map(|d| d.vcpu.current),
        Some(1),
        "the persistent definition is untouched (live change only)"
    );
    assert_eq!(driver.domain_stats(uuid).expect("stats").vcpus, 3);
    let live_xml = rec.def.to_xml();
    assert!(
        live_xml.contains(">3</vcpu>") && !live_xml.contains("current="),
        "all vcpus online, as libvirt writes it: {live_xml}"
    );

    for bad in [0, 4] {
        let err = driver.set_vcpus(uuid, bad).expect_err("outside 1..=max");
        assert_eq!(err.code, ErrorCode::InvalidArg, "{bad}: {err}");
    }
    // Unplugging needs the guest OS's cooperation (ACPI's modern cpu
    // hotplug interface, which only an OS switches on): qemu refuses it for
    // a guest idling in SeaBIOS, and the guest keeps its vcpus.
    let err = driver.set_vcpus(uuid, 2).expect_err("no OS to eject the cpu");
    assert_eq!(err.code, ErrorCode::OperationFailed, "{err}");
    assert!(err.message.contains("cannot unplug vcpu 'vcpu2'"), "{err}");
    assert_eq!(driver.get_domain(uuid).expect("get").def.vcpu.current, 3);

    driver.destroy_domain(uuid).expect("destroy");
    // Inactive again: the persistent count applies, and changes the config.
    let rec = driver.get_domain(uuid).expect("get");
    assert_eq!(rec.def.vcpu.current, 1);
    let rec = driver.set_vcpus(uuid, 2).expect("config").record.expect("record");
    assert_eq!(rec.def.vcpu.current, 2);
    assert!(!qemu_running_for(uuid));
}

/// Frames sent from the host into `ifname` through a raw packet socket.
fn send_frames(ifname: &str, count: usize) {
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(('{ifname}', 0))\n\
         for _ in range({count}):\n    s.send(b'\\xff' * 6 + b'\\x02' * 6 + b'\\x88\\xb5' + b'x' * 50)\n"
    );
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "raw frames into {ifname}");
}

#[test]
fn interface_counters_come_from_the_tap_device_swapped_and_user_networking_has_none() {
    let state = tempfile::tempdir().expect("tempdir");
    let qemu = qemu_binary();
    let uri = format!("qemu:///session?statedir={}", state.path().display());
    let mut config = virtbus_drivers::qemu::QemuConfig::from_uri(&uri).expect("uri");
    config.emulators = vec![qemu.clone()];
    config.default_emulator = qemu.clone();
    let ifname = format!("vbt{}", std::process::id() % 100_000);
    let devices = format!(
        "<interface type='ethernet'><target dev='{ifname}'/><model type='e1000'/></interface>\
         <interface type='user'><model type='e1000'/></interface>"
    );
    let def = tiny_guest("netcount", &devices);
    let uuid = def.uuid;

    if !nix::unistd::geteuid().is_root() {
        // Unprivileged: a tap interface is refused, so only user networking
        // (which has no counters) can run.
        let (driver, _notices) = virtbus_drivers::qemu::QemuDriver::open(config).expect("open");
        let err = driver.create_domain(def).expect_err("tap needs root");
        assert_eq!(err.code, ErrorCode::NoSupport, "{err}");
        return;
    }
    config.privileged = true;
    let (driver, _notices) = virtbus_drivers::qemu::QemuDriver::open(config).expect("open");
    driver.create_domain(def).expect("create with a tap");
    let _guard = DestroyOnDrop(&driver, uuid);
    let up = std::process::Command::new("ip")
        .args(["link", "set", "dev", &ifname, "up"])
        .status()
        .expect("ip runs");
    assert!(up.success(), "ip link set {ifname} up");
    send_frames(&ifname, 5);

    // The kernel's queue hands the frames to the tap asynchronously: wait
    // (bounded) until they are counted.
    let started = Instant::now();
    let mut stats = driver.domain_stats(uuid).expect("stats");
    while stats.net.first().is_some_and(|n| n.rx_packets < 5) && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        stats = driver.domain_stats(uuid).expect("stats");
    }
    assert_eq!(
        stats.net.len(),
        1,
        "one entry: the user interface has no host device: {:?}",
        stats.net
    );
    let net = &stats.net[0];
    assert_eq!(net.name, ifname);
    // What the host sent into the tap is what the guest received.
    assert!(net.rx_packets >= 5, "{net:?}");
    assert!(net.rx_bytes >= 5 * 64, "{net:?}");
    let host_rx: u64 = std::fs::read_to_string(format!("/sys/class/net/{ifname}/statistics/rx_packets"))
        .expect("host counter")
        .trim()
        .parse()
        .expect("number");
    assert_eq!(net.tx_packets, host_rx, "guest transmit = host receive");

    driver.destroy_domain(uuid).expect("destroy");
    assert!(
        !std::path::Path::new(&format!("/sys/class/net/{ifname}")).exists(),
        "the tap goes with qemu"
    );
}

#[test]
fn a_q35_guest_with_root_ports_starts_and_runs() {
    let state = tempfile::tempdir().expect("tempdir");
    let (driver, _notices) = open_driver(state.path());
    let disk = state.path().join("q35.qcow2");
    let status = std::process::Command::new(qemu_img_binary())
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("16M")
        .status()
        .expect("qemu-img runs");
    assert!(status.success());
    let uuid = uuid::Uuid::new_v4();
    let xml = format!(
        "<domain type='qemu'><name>q35guest</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>\
         <devices><emulator>{}</emulator>\
         <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/><target dev='vda' bus='virtio'/></disk>\
         <interface type='user'><model type='virtio'/></interface>\
         <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\
         </devices></domain>",
        qemu_binary().display(),
        disk.display()
    );
    let def = virtbus_schemas::DomainDef::from_xml(&xml).expect("xml");
    driver.create_domain(def).expect("q35 guest starts");
    let _guard = DestroyOnDrop(&driver, uuid);
    // qemu accepted every root port and device: the guest runs, the disk
    // behind its root port answers block stats.
    let rec = driver.get_domain(uuid).expect("get");
    assert_eq!(rec.state.state, DomainState::Running);
    let stats = driver.domain_stats(uuid).expect("stats");
    assert_eq!(stats.block.len(), 1, "{:?}", stats.block);
    assert_eq!(stats.block[0].name, "vda");
    driver.destroy_domain(uuid).expect("destroy");
    assert!(!qemu_running_for(uuid));
}
