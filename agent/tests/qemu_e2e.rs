//! The real `virtbus serve --connect qemu:///session` with real
//! `qemu-system-x86_64` TCG guests (disk-less, idling in SeaBIOS), driven by
//! `virtbus ctl` and read by net-snmp's `snmpget` and sblim's `wbemcli`
//! (CIM): libvirt's lifecycle event
//! sequence end to end, a qemu killed from outside, and an agent killed with
//! `kill -9` while two guests run, restarted, still managing both.
//!
//! Every guest is destroyed at the end; on a failure the guard kills the
//! qemu processes this test started (found by their pid files in the
//! agent's run dir, checked against their command line), never others.

mod common;

use common::{Agent, EventStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const GUEST_TABLE: &str = ".1.3.6.1.4.1.36957.1.1.1";

fn qemu_binary() -> String {
    let path = std::env::var("VIRTBUS_TEST_QEMU").unwrap_or_else(|_| "/usr/bin/qemu-system-x86_64".into());
    assert!(
        Path::new(&path).exists(),
        "qemu-system-x86_64 not found at {path}: run scripts/test, which installs Debian's qemu-system-x86"
    );
    path
}

fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a udp port");
    socket.local_addr().expect("local addr").port()
}

/// Kills, when dropped, every qemu whose pid file is in `run_dir` and whose
/// command line names that pid file's guest: only guests of this test.
struct QemuGuard {
    run_dir: PathBuf,
}

impl QemuGuard {
    fn new(state_dir: &Path) -> QemuGuard {
        QemuGuard {
            run_dir: state_dir.join("run/qemu"),
        }
    }

    /// (uuid, pid) of every guest with a pid file.
    fn pids(&self) -> Vec<(String, i32)> {
        let Ok(entries) = std::fs::read_dir(&self.run_dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let uuid = name.strip_suffix(".pid")?.to_string();
                let pid = std::fs::read_to_string(e.path()).ok()?.trim().parse().ok()?;
                Some((uuid, pid))
            })
            .collect()
    }
}

impl Drop for QemuGuard {
    fn drop(&mut self) {
        for (uuid, pid) in self.pids() {
            if process_runs_for(pid, &uuid) {
                let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            }
        }
    }
}

/// Whether `pid` is a live (not zombie) process with `uuid` on its command line.
fn process_runs_for(pid: i32, uuid: &str) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    !zombie && String::from_utf8_lossy(&cmdline).contains(uuid)
}

fn guest_xml(name: &str, uuid: &str) -> String {
    guest_xml_vcpus(name, uuid, 1, 1)
}

/// A guest with `current` of `max` vcpus online at start.
fn guest_xml_vcpus(name: &str, uuid: &str, current: u32, max: u32) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>64</memory><vcpu current='{current}'>{max}</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>{}</emulator><memballoon model='virtio'/></devices></domain>",
        qemu_binary()
    )
}

fn write_xml(dir: &Path, name: &str, xml: &str) -> String {
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, xml).expect("xml written");
    path.to_string_lossy().into_owned()
}

/// A qemu:///session agent with SNMP on `snmp_port`, CIM off.
fn start_agent(state_dir: &Path, snmp_port: u16) -> Agent {
    start_agent_with_cim(state_dir, snmp_port, None)
}

/// A qemu:///session agent with SNMP on `snmp_port` and CIM-XML on
/// `cim_port` (HTTP on loopback, no users: no authentication).
fn start_agent_with_cim(state_dir: &Path, snmp_port: u16, cim_port: Option<u16>) -> Agent {
    let listen = format!("udp:127.0.0.1:{snmp_port}");
    let cim = cim_port.map_or_else(|| "off".to_string(), |p| format!("127.0.0.1:{p}"));
    let agent = Agent::start(
        state_dir,
        &[
            "--connect",
            "qemu:///session",
            "--snmp-listen",
            &listen,
            "--cim-listen",
            &cim,
        ],
        &[("VIRTBUS_QEMU_EMULATORS", &qemu_binary())],
    );
    if let Some(port) = cim_port {
        // The control socket may be ready before the CIM listener.
        wait_for("the CIM adapter listens", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }
    agent
}

fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a tcp port");
    listener.local_addr().expect("local addr").port()
}

/// KVM_ComputerSystem.EnabledState of guest `name` through sblim's wbemcli
/// (libvirt-cim's mapping: 2 Enabled, 3 Disabled, 9 Paused).
fn cim_enabled_state(port: u16, name: &str) -> u32 {
    let path = format!(
        "http://127.0.0.1:{port}/root/virt:KVM_ComputerSystem.CreationClassName=\"KVM_ComputerSystem\",Name=\"{name}\""
    );
    let out = Command::new("wbemcli")
        .args(["-noverify", "gi", &path])
        .output()
        .expect("wbemcli runs (scripts/test installs sblim-wbemcli)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wbemcli gi {name}: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.split(',')
        .find_map(|kv| kv.trim().strip_prefix("EnabledState="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no EnabledState in {text}"))
}

/// `(event, detail)` of the next domain event of `name` on the stream. The
/// bound is generous: a loaded machine may take seconds to stop a qemu.
fn next_event_of(events: &EventStream, name: &str) -> (String, String) {
    let mut skipped = Vec::new();
    loop {
        let ev = match events.rx.recv_timeout(Duration::from_secs(60)) {
            Ok(ev) => ev,
            Err(_) => panic!("no event of '{name}' within 60 s; other events meanwhile: {skipped:?}"),
        };
        if ev["kind"] == "domain" && ev["name"] == name {
            return (
                ev["event"].as_str().unwrap_or("").to_string(),
                ev["detail"].as_str().unwrap_or("").to_string(),
            );
        }
        skipped.push(ev);
    }
}

fn expect_events(events: &EventStream, name: &str, expected: &[(&str, &str)]) {
    for (event, detail) in expected {
        let got = next_event_of(events, name);
        assert_eq!(
            (got.0.as_str(), got.1.as_str()),
            (*event, *detail),
            "events of '{name}' out of libvirt's order"
        );
    }
}

fn domstate(agent: &Agent, name: &str) -> String {
    agent.ok(&["domstate", name]).trim().to_string()
}

/// libvirtGuestState of `uuid` through net-snmp's snmpget.
fn snmp_state(port: u16, uuid: &str) -> i64 {
    let index = uuid_index(uuid);
    let oid = format!("{GUEST_TABLE}.3.{index}");
    let out = Command::new("snmpget")
        .args(["-v2c", "-c", "public", "-On", "-Oqv", "-r", "2", "-t", "5"])
        .arg(format!("udp:127.0.0.1:{port}"))
        .arg(&oid)
        .output()
        .expect("snmpget runs (scripts/test installs net-snmp's snmp package)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "snmpget {oid}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("libvirtGuestState is not a number: {text}"))
}

/// The 16 UUID bytes as dotted sub-identifiers (libvirt-snmp's index).
fn uuid_index(uuid: &str) -> String {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    assert_eq!(hex.len(), 32, "uuid {uuid}");
    (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex").to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// One domstats value of `name`.
fn stat(agent: &Agent, name: &str, key: &str) -> Option<String> {
    let out = agent.ok(&["domstats", name]);
    out.lines()
        .filter_map(|l| l.trim().split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

/// Polls (bounded) until `cond` holds; panics with `what` otherwise.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within 60 s");
}

fn pid_of(state_dir: &Path, uuid: &str) -> i32 {
    let path = state_dir.join(format!("run/qemu/{uuid}.pid"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("pid file {}: {e}", path.display()))
        .trim()
        .parse()
        .expect("pid")
}

#[test]
fn lifecycle_through_serve_gives_libvirt_events_and_snmp_and_cim_see_states() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let guard = QemuGuard::new(dir.path());
    let port = free_udp_port();
    let cim = free_tcp_port();
    let agent = start_agent_with_cim(dir.path(), port, Some(cim));
    let events = EventStream::open(dir.path());
    let uuid = "6c3a5e1e-7e0b-4b2a-9f1d-000000000e2e";

    let out = agent.ok(&["define", &write_xml(files.path(), "life", &guest_xml("life", uuid))]);
    assert!(out.contains("Domain 'life' defined"), "{out}");
    expect_events(&events, "life", &[("DEFINED", "ADDED")]);
    assert_eq!(domstate(&agent, "life"), "shut off");
    assert_eq!(snmp_state(port, uuid), 5, "SNMP sees the defined guest shut off");

    agent.ok(&["start", "life"]);
    // libvirt's qemu driver: the RESUME of `cont`, then the start.
    expect_events(&events, "life", &[("RESUMED", "UNPAUSED"), ("STARTED", "BOOTED")]);
    assert_eq!(domstate(&agent, "life"), "running");
    let pid = pid_of(dir.path(), uuid);
    assert!(process_runs_for(pid, uuid), "qemu {pid} runs the guest");
    assert_eq!(snmp_state(port, uuid), 1, "SNMP sees it running");
    assert_eq!(cim_enabled_state(cim, "life"), 2, "CIM sees it enabled");

    agent.ok(&["suspend", "life"]);
    expect_events(&events, "life", &[("SUSPENDED", "PAUSED")]);
    assert_eq!(domstate(&agent, "life"), "paused");
    assert_eq!(snmp_state(port, uuid), 3, "SNMP sees it paused");
    assert_eq!(cim_enabled_state(cim, "life"), 9, "CIM sees it paused");

    agent.ok(&["resume", "life"]);
    expect_events(&events, "life", &[("RESUMED", "UNPAUSED")]);
    assert_eq!(snmp_state(port, uuid), 1);

    // A reset-style reboot: libvirt reports it with its separate reboot
    // event, not a lifecycle event; the same qemu keeps running.
    let out = agent.ok(&["reboot", "life"]);
    assert!(out.contains("Domain 'life' is being rebooted"), "{out}");
    assert_eq!(domstate(&agent, "life"), "running");
    assert_eq!(pid_of(dir.path(), uuid), pid, "reboot keeps the qemu process");

    agent.ok(&["destroy", "life"]);
    // The next event after the reboot is the destroy's: the reboot gave none.
    expect_events(&events, "life", &[("STOPPED", "DESTROYED")]);
    assert_eq!(domstate(&agent, "life"), "shut off");
    assert!(!process_runs_for(pid, uuid), "destroy ended qemu {pid}");
    assert_eq!(snmp_state(port, uuid), 5);
    assert_eq!(cim_enabled_state(cim, "life"), 3, "CIM sees it disabled");

    agent.ok(&["undefine", "life"]);
    expect_events(&events, "life", &[("UNDEFINED", "REMOVED")]);
    let err = agent.fails(&["domstate", "life"]);
    assert!(err.contains("failed to get domain 'life'"), "{err}");
    assert!(guard.pids().is_empty(), "no pid files left: {:?}", guard.pids());

    // A qemu killed from outside: STOPPED/FAILED, the transient guest gone.
    let uuid2 = "6c3a5e1e-7e0b-4b2a-9f1d-00000000dead";
    agent.ok(&[
        "create",
        &write_xml(files.path(), "victim", &guest_xml("victim", uuid2)),
    ]);
    expect_events(&events, "victim", &[("RESUMED", "UNPAUSED"), ("STARTED", "BOOTED")]);
    let pid2 = pid_of(dir.path(), uuid2);
    let status = Command::new("kill")
        .arg("-KILL")
        .arg(pid2.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    expect_events(&events, "victim", &[("STOPPED", "FAILED")]);
    wait_for("the killed transient guest leaves the list", || {
        !agent.ok(&["list", "--all"]).contains("victim")
    });
    drop(agent);
}

#[test]
fn agent_kill_9_with_two_running_guests_then_restart_keeps_managing_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let guard = QemuGuard::new(dir.path());
    let port = free_udp_port();
    let agent = start_agent(dir.path(), port);
    let (ua, ub) = (
        "6c3a5e1e-7e0b-4b2a-9f1d-0000000000aa",
        "6c3a5e1e-7e0b-4b2a-9f1d-0000000000bb",
    );
    // One persistent guest, one transient: both must be found again.
    agent.ok(&[
        "define",
        &write_xml(files.path(), "alpha", &guest_xml_vcpus("alpha", ua, 1, 2)),
    ]);
    agent.ok(&["start", "alpha"]);
    agent.ok(&["create", &write_xml(files.path(), "beta", &guest_xml("beta", ub))]);
    let (pa, pb) = (pid_of(dir.path(), ua), pid_of(dir.path(), ub));
    let list_before = agent.ok(&["list"]);
    let ids_before: Vec<String> = list_before
        .lines()
        .filter(|l| l.contains("alpha") || l.contains("beta"))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids_before.len(), 2, "{list_before}");
    let cpu_before: u64 = stat(&agent, "beta", "cpu.time")
        .expect("cpu.time of beta")
        .parse()
        .expect("number");

    agent.kill9();
    assert!(process_runs_for(pa, ua), "alpha's qemu outlives the agent");
    assert!(process_runs_for(pb, ub), "beta's qemu outlives the agent");

    let agent = start_agent(dir.path(), port);
    let events = EventStream::open(dir.path());
    let list_after = agent.ok(&["list"]);
    for (name, id) in ["alpha", "beta"].iter().zip(&ids_before) {
        let line = list_after
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} missing after restart:\n{list_after}"));
        assert!(line.contains("running"), "{line}");
        assert_eq!(line.split_whitespace().next(), Some(id.as_str()), "{name} keeps its id");
    }
    let info = agent.ok(&["dominfo", "alpha"]);
    assert!(info.contains("Persistent:     yes"), "{info}");
    let info = agent.ok(&["dominfo", "beta"]);
    assert!(info.contains("Persistent:     no"), "{info}");
    assert_eq!(snmp_state(port, ua), 1);
    assert_eq!(snmp_state(port, ub), 1);

    // Both are still managed: their monitors answer.
    agent.ok(&["suspend", "alpha"]);
    expect_events(&events, "alpha", &[("SUSPENDED", "PAUSED")]);
    agent.ok(&["suspend", "beta"]);
    expect_events(&events, "beta", &[("SUSPENDED", "PAUSED")]);
    assert_eq!(snmp_state(port, ua), 3);
    assert_eq!(snmp_state(port, ub), 3);
    agent.ok(&["resume", "alpha"]);
    agent.ok(&["resume", "beta"]);
    expect_events(&events, "alpha", &[("RESUMED", "UNPAUSED")]);
    expect_events(&events, "beta", &[("RESUMED", "UNPAUSED")]);
    assert_eq!(domstate(&agent, "alpha"), "running");
    assert_eq!(domstate(&agent, "beta"), "running");
    assert_eq!(pid_of(dir.path(), ua), pa, "the same qemu, not a new one");
    assert_eq!(pid_of(dir.path(), ub), pb);

    // Stats keep coming from the same processes and grow.
    wait_for("beta's cpu time grows after the restart", || {
        stat(&agent, "beta", "cpu.time")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|now| now > cpu_before)
    });
    assert_eq!(stat(&agent, "alpha", "state.state").as_deref(), Some("1"));

    // vcpu hotplug on a reattached guest: qemu reports the new vcpu.
    assert_eq!(stat(&agent, "alpha", "vcpu.current").as_deref(), Some("1"));
    agent.ok(&["setvcpus", "alpha", "2"]);
    assert_eq!(stat(&agent, "alpha", "vcpu.current").as_deref(), Some("2"));
    let err = agent.fails(&["setvcpus", "alpha", "3"]);
    assert!(err.contains("outside 1..=2"), "{err}");

    agent.ok(&["destroy", "alpha"]);
    expect_events(&events, "alpha", &[("STOPPED", "DESTROYED")]);
    agent.ok(&["destroy", "beta"]);
    expect_events(&events, "beta", &[("STOPPED", "DESTROYED")]);
    assert!(!process_runs_for(pa, ua) && !process_runs_for(pb, ub));
    let all = agent.ok(&["list", "--all"]);
    assert!(all.contains("alpha") && !all.contains("beta"), "{all}");
    assert!(guard.pids().is_empty(), "no pid files left: {:?}", guard.pids());
}

#[test]
fn a_guest_undefined_while_running_survives_an_agent_restart_as_transient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let guard = QemuGuard::new(dir.path());
    let port = free_udp_port();
    let agent = start_agent(dir.path(), port);
    let uuid = "6c3a5e1e-7e0b-4b2a-9f1d-0000000000cc";
    agent.ok(&["define", &write_xml(files.path(), "gamma", &guest_xml("gamma", uuid))]);
    agent.ok(&["start", "gamma"]);
    // libvirt: undefining a running guest makes it transient; it runs on.
    agent.ok(&["undefine", "gamma"]);
    assert!(agent.ok(&["dominfo", "gamma"]).contains("Persistent:     no"));
    let pid = pid_of(dir.path(), uuid);

    agent.kill9();
    let agent = start_agent(dir.path(), port);
    // The store's record of the undefine must not stop the guest the
    // driver found running again.
    assert_eq!(domstate(&agent, "gamma"), "running");
    assert!(process_runs_for(pid, uuid), "the same qemu runs on");
    assert_eq!(pid_of(dir.path(), uuid), pid);
    assert!(agent.ok(&["dominfo", "gamma"]).contains("Persistent:     no"));
    // Destroyed, the transient guest is gone.
    agent.ok(&["destroy", "gamma"]);
    assert!(!agent.ok(&["list", "--all"]).contains("gamma"));
    assert!(guard.pids().is_empty(), "no pid files left: {:?}", guard.pids());
}

#[test]
fn dir_pool_volume_resize_through_ctl_and_networks_are_no_support() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let images = files.path().join("images");
    let agent = start_agent(dir.path(), free_udp_port());
    let pool = format!(
        "<pool type='dir'><name>images</name><target><path>{}</path></target></pool>",
        images.display()
    );
    agent.ok(&["pool-define", &write_xml(files.path(), "pool", &pool)]);
    agent.ok(&["pool-build", "images"]);
    agent.ok(&["pool-start", "images"]);
    agent.ok(&["vol-create-as", "images", "disk.qcow2", "1M", "--format", "qcow2"]);

    let out = agent.ok(&["vol-resize", "disk.qcow2", "4M", "--pool", "images"]);
    assert!(
        out.contains("Size of volume 'disk.qcow2' successfully changed to 4M"),
        "{out}"
    );
    let xml = agent.ok(&["vol-dumpxml", "disk.qcow2", "--pool", "images"]);
    assert!(xml.contains(">4194304</capacity>"), "{xml}");
    // qemu-img agrees: the image itself grew.
    let info = Command::new(std::env::var("VIRTBUS_TEST_QEMU_IMG").unwrap_or_else(|_| "qemu-img".into()))
        .args(["info", "--output=json"])
        .arg(images.join("disk.qcow2"))
        .output()
        .expect("qemu-img runs");
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).expect("qemu-img json");
    assert_eq!(info["virtual-size"], 4194304);

    // By path, without --pool, as virsh allows.
    let path = images.join("disk.qcow2").to_string_lossy().into_owned();
    agent.ok(&["vol-resize", &path, "8M"]);
    assert!(agent.ok(&["vol-dumpxml", &path]).contains(">8388608</capacity>"));

    let err = agent.fails(&["vol-resize", "disk.qcow2", "1M", "--pool", "images"]);
    assert!(
        err.contains("Failed to change size of volume 'disk.qcow2' to 1M") && err.contains("cannot shrink"),
        "{err}"
    );
    let err = agent.fails(&["vol-resize", "missing.img", "1M", "--pool", "images"]);
    assert!(err.contains("missing.img"), "{err}");

    // Virtual networks need root (qemu:///system); the session driver
    // refuses them with a clear NO_SUPPORT and a hint.
    let net = "<network><name>lab</name><bridge name='virbr77'/></network>";
    let err = agent.fails(&["net-define", &write_xml(files.path(), "net", net)]);
    assert!(err.contains("not supported") && err.contains("type='user'"), "{err}");
    let out = agent.ctl(&["net-list", "--all"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("lab"));
    // The agent keeps serving after every refusal.
    assert!(agent.ok(&["pool-list"]).contains("images"));
}

#[test]
fn autostart_pool_and_guest_start_with_the_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let _guard = QemuGuard::new(dir.path());
    let images = files.path().join("images");
    let uuid = "6c3a5e1e-7e0b-4b2a-9f1d-0000000a0705";
    let agent = start_agent(dir.path(), free_udp_port());
    let pool = format!(
        "<pool type='dir'><name>boot-images</name><target><path>{}</path></target></pool>",
        images.display()
    );
    agent.ok(&["pool-define", &write_xml(files.path(), "pool", &pool)]);
    agent.ok(&["pool-build", "boot-images"]);
    assert_eq!(
        agent.ok(&["pool-autostart", "boot-images"]),
        "Pool boot-images marked as autostarted\n\n"
    );
    agent.ok(&["define", &write_xml(files.path(), "early", &guest_xml("early", uuid))]);
    agent.ok(&["autostart", "early"]);
    // A transient guest has no autostart in libvirt's qemu driver.
    agent.ok(&[
        "create",
        &write_xml(
            files.path(),
            "brief",
            &guest_xml("brief", "6c3a5e1e-7e0b-4b2a-9f1d-0000000b0705"),
        ),
    ]);
    let err = agent.fails(&["autostart", "brief"]);
    assert!(err.contains("cannot set autostart for transient domain"), "{err}");
    agent.ok(&["destroy", "brief"]);
    assert_eq!(domstate(&agent, "early"), "shut off");
    assert!(agent.terminate().success());

    let agent = start_agent(dir.path(), free_udp_port());
    assert_eq!(domstate(&agent, "early"), "running", "autostarted with the agent");
    let pid = pid_of(dir.path(), uuid);
    assert!(process_runs_for(pid, uuid));
    let pools = agent.ok(&["pool-list"]);
    assert!(
        pools
            .lines()
            .any(|l| l.contains("boot-images") && l.contains("active") && l.contains("yes")),
        "{pools}"
    );
    agent.ok(&["destroy", "early"]);
    assert!(!process_runs_for(pid, uuid));
}
