//! `virtbus serve` + `virtbus ctl` end to end: the real binary, the real
//! socket, virsh-compatible output.

mod common;

use common::{Agent, EventStream};
use std::os::unix::fs::PermissionsExt;

const FRESH: &str = "<domain type='test'>\n  <name>fresh</name>\n  <memory unit='MiB'>128</memory>\n  <vcpu>2</vcpu>\n  <os><type>hvm</type></os>\n  <devices><disk type='file' device='disk'><source file='/x.img'/><target dev='vda' bus='virtio'/></disk></devices>\n  <seclabel type='none'/>\n</domain>\n";

#[test]
fn default_host_is_listed_like_virsh() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &[], &[]);
    assert_eq!(
        agent.ok(&["list", "--all"]),
        " Id   Name   State\n----------------------\n 1    test   running\n\n"
    );
    assert_eq!(agent.ok(&["domstate", "test", "--reason"]), "running (unknown)\n\n");
    let info = agent.ok(&["dominfo", "test"]);
    assert!(
        info.contains("UUID:           6695eb01-f6a4-8304-79aa-97f2502e193f\n"),
        "{info}"
    );
    assert!(info.contains("Max memory:     8388608 KiB\n"), "{info}");
    assert!(agent.ok(&["nodeinfo"]).contains("CPU model:           i686\n"));
    assert!(agent
        .ok(&["pool-info", "default-pool"])
        .contains("Capacity:       100.00 GiB\n"));
    assert!(agent.ok(&["net-info", "default"]).contains("Bridge:         virbr0\n"));
    assert_eq!(agent.ok(&["-q", "list"]), " 1   test   running\n");
}

#[test]
fn control_socket_is_owner_only_and_single_agent() {
    let top = tempfile::tempdir().unwrap();
    let state = top.path().join("state");
    let dir = state.as_path();
    let agent = Agent::start(dir, &[], &[]);
    let mode = std::fs::metadata(agent.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "a state directory the agent creates is owner-only");
    // A second agent on the same state directory refuses to start.
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--state-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another virtbus agent already uses state directory"),
        "{err}"
    );
    // The first one is unharmed.
    assert!(agent.ok(&["list"]).contains("test"));
    // SIGTERM: clean exit, socket removed.
    let socket = agent.socket();
    let status = agent.terminate();
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "socket removed on shutdown");
}

#[test]
fn lifecycle_commands_print_virsh_messages_and_emit_events() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &[], &[]);
    let events = EventStream::open(dir.path());
    let file = dir.path().join("fresh.xml");
    std::fs::write(&file, FRESH).unwrap();
    let file_s = file.to_str().unwrap();

    assert_eq!(
        agent.ok(&["define", file_s]),
        format!("Domain 'fresh' defined from {file_s}\n\n")
    );
    assert_eq!(agent.ok(&["start", "fresh"]), "Domain 'fresh' started\n\n");
    assert_eq!(agent.ok(&["suspend", "fresh"]), "Domain 'fresh' suspended\n\n");
    assert_eq!(agent.ok(&["resume", "fresh"]), "Domain 'fresh' resumed\n\n");
    assert_eq!(agent.ok(&["reboot", "fresh"]), "Domain 'fresh' is being rebooted\n\n");
    assert_eq!(agent.ok(&["reset", "fresh"]), "Domain 'fresh' was reset\n\n");
    assert_eq!(agent.ok(&["shutdown", "fresh"]), "Domain 'fresh' is being shutdown\n\n");
    assert_eq!(agent.ok(&["start", "fresh"]), "Domain 'fresh' started\n\n");
    assert_eq!(agent.ok(&["destroy", "fresh"]), "Domain 'fresh' destroyed\n\n");
    assert_eq!(
        agent.ok(&["undefine", "fresh"]),
        "Domain 'fresh' has been undefined\n\n"
    );

    // libvirt's test driver emits exactly these, in this order (reboot with
    // on_reboot=restart emits none).
    let expected = [
        ("DEFINED", "ADDED"),
        ("STARTED", "BOOTED"),
        ("SUSPENDED", "PAUSED"),
        ("RESUMED", "UNPAUSED"),
        ("STOPPED", "SHUTDOWN"),
        ("STARTED", "BOOTED"),
        ("STOPPED", "DESTROYED"),
        ("UNDEFINED", "REMOVED"),
    ];
    let mut last_seq = 0;
    for (event, detail) in expected {
        let e = events.next();
        assert_eq!(e["kind"], "domain");
        assert_eq!(e["name"], "fresh");
        assert_eq!(
            (e["event"].as_str().unwrap(), e["detail"].as_str().unwrap()),
            (event, detail),
            "{e}"
        );
        let seq = e["seq"].as_u64().unwrap();
        assert!(seq > last_seq, "seq grows: {seq} after {last_seq}");
        assert!(e["epoch"].as_u64().unwrap() > 0 && e["timestamp_ns"].as_u64().unwrap() > 0);
        last_seq = seq;
    }
    assert!(
        events.rx.recv_timeout(std::time::Duration::from_millis(300)).is_err(),
        "no extra events"
    );

    // Pools, volumes and networks.
    assert_eq!(
        agent.ok(&["vol-create-as", "default-pool", "disk1.img", "1G"]),
        "Vol disk1.img created\n\n"
    );
    assert!(agent
        .ok(&["vol-list", "default-pool"])
        .contains(" disk1.img   /default-pool/disk1.img\n"));
    assert!(agent
        .ok(&["vol-dumpxml", "--pool", "default-pool", "disk1.img"])
        .contains("<name>disk1.img</name>"));
    // libvirt's test driver has no virStorageVolResize: NO_SUPPORT, as there.
    let err = agent.fails(&["vol-resize", "--pool", "default-pool", "disk1.img", "2G"]);
    assert!(
        err.contains("Failed to change size of volume 'disk1.img' to 2G")
            && err.contains("not supported by the connection driver: virStorageVolResize"),
        "{err}"
    );
    assert!(agent
        .ok(&["pool-info", "default-pool"])
        .contains("Allocation:     1.00 GiB\n"));
    assert_eq!(
        agent.ok(&["vol-delete", "--pool", "default-pool", "disk1.img"]),
        "Vol disk1.img deleted\n\n"
    );
    assert_eq!(
        agent.ok(&["pool-destroy", "default-pool"]),
        "Pool default-pool destroyed\n\n"
    );
    assert_eq!(events.next()["event"], "STOPPED");
    assert_eq!(agent.ok(&["net-destroy", "default"]), "Network default destroyed\n\n");
    assert_eq!(events.next()["kind"], "network");
    assert_eq!(
        agent.ok(&["net-undefine", "default"]),
        "Network default has been undefined\n\n"
    );
    assert!(agent.ok(&["net-list", "--all"]).ends_with("-\n\n"), "no networks left");
}

#[test]
fn panic_in_an_actor_is_answered_and_survived() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(dir.path(), &[], &[("VIRTBUS_TEST_HOOKS", "1")]);
    let err = agent.fails(&["debug-panic", "test"]);
    assert!(err.contains("internal error") && err.contains("restarted"), "{err}");
    assert!(agent.is_running());
    // The restarted actor manages its domain as before.
    assert_eq!(agent.ok(&["suspend", "test"]), "Domain 'test' suspended\n\n");
    assert_eq!(agent.ok(&["domstate", "test"]), "paused\n\n");
    assert!(agent
        .drain_logs()
        .iter()
        .any(|l| l.contains("actor restarted from driver state")));
}

#[test]
fn panic_hook_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &[], &[]);
    let err = agent.fails(&["debug-panic", "test"]);
    assert!(err.contains("test hook is disabled"), "{err}");
}

#[test]
fn adapters_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &["--snmp-listen", "off", "--cim-listen", "off"], &[]);
    assert!(agent.ok(&["list"]).contains("test"));
}

#[test]
fn a_bad_config_file_is_refused_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("virtbus.toml");
    std::fs::write(&config, "conect = 'typo'\n").unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is invalid") && err.contains("conect"), "{err}");
}

#[test]
fn json_logs_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(dir.path(), &["--log-format", "json"], &[]);
    let line = agent
        .drain_logs()
        .iter()
        .find(|l| l.contains("core started"))
        .cloned()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(v["fields"]["domains"], 1);
}

#[test]
fn autostart_marks_persist_and_start_domains_with_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let xml = files.path().join("auto.xml");
    std::fs::write(
        &xml,
        "<domain type='test'><name>auto</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    )
    .unwrap();
    let agent = Agent::start(dir.path(), &["--snmp-listen", "off", "--cim-listen", "off"], &[]);
    agent.ok(&["define", xml.to_str().unwrap()]);
    assert_eq!(
        agent.ok(&["autostart", "auto"]),
        "Domain 'auto' marked as autostarted\n\n"
    );
    assert!(agent.ok(&["dominfo", "auto"]).contains("Autostart:      enable\n"));
    let err = agent.fails(&["autostart", "nosuch"]);
    assert!(err.contains("failed to get domain 'nosuch'"), "{err}");
    // libvirt's test driver marks persistent pools (`virsh -c
    // test:///default pool-autostart default-pool` succeeds) and refuses
    // transient ones, which have no config file.
    assert_eq!(
        agent.ok(&["pool-autostart", "default-pool"]),
        "Pool default-pool marked as autostarted\n\n"
    );
    assert!(agent
        .ok(&["pool-info", "default-pool"])
        .contains("Autostart:      yes\n"));
    let pool_xml = files.path().join("tmp-pool.xml");
    std::fs::write(
        &pool_xml,
        "<pool type='dir'><name>tmp</name><target><path>/tmp-pool</path></target></pool>",
    )
    .unwrap();
    agent.ok(&["pool-create", pool_xml.to_str().unwrap()]);
    let err = agent.fails(&["pool-autostart", "tmp"]);
    assert!(
        err.contains("failed to mark pool tmp as autostarted") && err.contains("pool has no config file"),
        "{err}"
    );
    // Networks likewise (libvirt's test driver marks persistent ones and
    // refuses transient ones); a defined network starts with the agent.
    let net_xml = files.path().join("autonet.xml");
    std::fs::write(
        &net_xml,
        "<network><name>autonet</name><bridge name='vbauto0'/></network>",
    )
    .unwrap();
    agent.ok(&["net-define", net_xml.to_str().unwrap()]);
    assert_eq!(
        agent.ok(&["net-autostart", "autonet"]),
        "Network autonet marked as autostarted\n\n"
    );
    assert!(info_says(&agent.ok(&["net-info", "autonet"]), "Autostart:", "yes"));
    assert!(info_says(&agent.ok(&["net-info", "autonet"]), "Active:", "no"));
    let tmp_net = files.path().join("tmpnet.xml");
    std::fs::write(
        &tmp_net,
        "<network><name>tmpnet</name><bridge name='vbtmp0'/></network>",
    )
    .unwrap();
    agent.ok(&["net-create", tmp_net.to_str().unwrap()]);
    let err = agent.fails(&["net-autostart", "tmpnet"]);
    assert!(
        err.contains("failed to mark network tmpnet as autostarted")
            && err.contains("cannot set autostart for transient network"),
        "{err}"
    );
    assert!(agent.terminate().success());

    // The mark survived, and the agent started the domain on its way up.
    let agent = Agent::start(dir.path(), &["--snmp-listen", "off", "--cim-listen", "off"], &[]);
    assert_eq!(agent.ok(&["domstate", "auto"]), "running\n\n");
    assert!(info_says(&agent.ok(&["net-info", "autonet"]), "Active:", "yes"));
    assert!(info_says(&agent.ok(&["net-info", "autonet"]), "Autostart:", "yes"));
    assert!(agent.ok(&["dominfo", "auto"]).contains("Autostart:      enable\n"));
    assert_eq!(
        agent.ok(&["autostart", "--disable", "auto"]),
        "Domain 'auto' unmarked as autostarted\n\n"
    );
    agent.ok(&["destroy", "auto"]);
    assert!(agent.terminate().success());

    let agent = Agent::start(dir.path(), &["--snmp-listen", "off", "--cim-listen", "off"], &[]);
    assert_eq!(agent.ok(&["domstate", "auto"]), "shut off\n\n");
    assert!(agent.ok(&["dominfo", "auto"]).contains("Autostart:      disable\n"));
}

/// Whether the `LABEL value` line of a virsh-style info output has `value`.
fn info_says(info: &str, label: &str, value: &str) -> bool {
    info.lines()
        .any(|l| l.strip_prefix(label).is_some_and(|rest| rest.trim() == value))
}
