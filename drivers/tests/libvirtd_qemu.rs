//! End to end against a real libvirtd: a private daemon in session mode
//! ([`PrivateLibvirtd`]: own directories and unix socket, never a system
//! daemon) with its qemu driver and real TCG guests, and the real `virtbus`
//! binary serving it as `libvirt+qemu+unix:///session?socket=...`.
//!
//! - Changes made with `virsh` show in `virtbus ctl list` and as events;
//!   changes made through virtbus show in `virsh`; virtbus's event stream is
//!   libvirt's own (`virsh event --all --loop`), once each, in order. The
//!   same both ways for storage pools, volumes and networks.
//! - libvirtd stopped while virtbus runs: the outage is logged and shown by
//!   `ctl status`, reads serve the last snapshot marked stale, calls fail
//!   with NO_CONNECT; changes made with virsh while virtbus cannot reach the
//!   daemon (it listens on another socket meanwhile) arrive as events once
//!   virtbus has reconnected.
//! - A hung libvirtd (SIGSTOP: its socket stays open, it just stops
//!   answering) is detected by keepalive and reported the same way.
#![cfg(feature = "libvirt")]

mod libvirt_common;

use libvirt_common::{free_udp_port, snmp_guest_state, virsh_event_text, wait_for, Agent, PrivateLibvirtd, Socket};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The row of `name` in `virtbus ctl list --all`, as `(id, state)`.
fn ctl_row(agent: &Agent, name: &str) -> Option<(String, String)> {
    let list = agent.ok(&["list", "--all"]);
    list.lines().find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.len() >= 3 && cols[1] == name).then(|| (cols[0].to_string(), cols[2..].join(" ")))
    })
}

/// Waits until `virtbus ctl list --all` shows `name` in `state`.
fn wait_ctl_state(agent: &Agent, name: &str, state: &str) {
    let seen = wait_for(WAIT, || ctl_row(agent, name).filter(|(_, s)| s == state).map(|_| ()));
    assert!(
        seen.is_some(),
        "ctl list never showed {name} {state}:\n{}",
        agent.ok(&["list", "--all"])
    );
}

fn wait_ctl_gone(agent: &Agent, name: &str) {
    let gone = wait_for(WAIT, || ctl_row(agent, name).is_none().then_some(()));
    assert!(
        gone.is_some(),
        "ctl list still shows {name}:\n{}",
        agent.ok(&["list", "--all"])
    );
}

/// A virtbus event as `(domain, virsh's text)`.
fn as_virsh(e: &serde_json::Value) -> (String, String) {
    assert_eq!(e["kind"], "domain", "{e}");
    (
        e["name"].as_str().unwrap_or_default().to_string(),
        virsh_event_text(
            e["event"].as_str().unwrap_or_default(),
            e["detail_code"].as_i64().unwrap_or(-1),
        ),
    )
}

#[test]
fn virsh_and_virtbus_see_each_others_changes_and_the_same_events() {
    let daemon = PrivateLibvirtd::start();
    let state = tempfile::tempdir().unwrap();
    let agent = Agent::start(&format!("libvirt+{}", daemon.uri()), state.path());
    let reference = daemon.virsh_events();
    let stream = agent.events();

    // Both listeners are registered once they report a probe domain's
    // definition and removal; then everything after is in both streams.
    let probe = daemon.guest_file("probe");
    daemon.virsh_ok(&["define", probe.to_str().unwrap()]);
    daemon.virsh_ok(&["undefine", "probe"]);
    let synced = wait_for(WAIT, || {
        let (name, what) = reference.rx.recv_timeout(Duration::from_secs(1)).ok()?;
        (name == "probe" && what == "Undefined Removed").then_some(())
    });
    assert!(synced.is_some(), "virsh event never reported the probe domain");
    let synced = wait_for(WAIT, || {
        let e = stream.next(Duration::from_secs(1))?;
        (as_virsh(&e) == ("probe".to_string(), "Undefined Removed".to_string())).then_some(())
    });
    assert!(synced.is_some(), "virtbus never reported the probe domain");

    // Changes made with virsh show in virtbus.
    let g1 = daemon.guest_file("g1");
    daemon.virsh_ok(&["define", g1.to_str().unwrap()]);
    wait_ctl_state(&agent, "g1", "shut off");
    daemon.virsh_ok(&["start", "g1"]);
    wait_ctl_state(&agent, "g1", "running");
    let (id, _) = ctl_row(&agent, "g1").unwrap();
    assert_eq!(id, daemon.virsh_ok(&["domid", "g1"]).trim(), "same id as libvirt's");
    daemon.virsh_ok(&["suspend", "g1"]);
    wait_ctl_state(&agent, "g1", "paused");

    // Changes made through virtbus show in virsh.
    agent.ok(&["resume", "g1"]);
    assert_eq!(daemon.domstate("g1"), "running");
    let g2 = daemon.guest_file("g2");
    agent.ok(&["define", g2.to_str().unwrap()]);
    assert!(daemon.virsh_ok(&["list", "--all", "--name"]).lines().any(|l| l == "g2"));
    assert_eq!(daemon.domstate("g2"), "shut off");
    agent.ok(&["autostart", "g2"]);
    let info = daemon.virsh_ok(&["dominfo", "g2"]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Autostart:") && l.ends_with("enable")),
        "{info}"
    );
    agent.ok(&["autostart", "--disable", "g2"]);
    let info = daemon.virsh_ok(&["dominfo", "g2"]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Autostart:") && l.ends_with("disable")),
        "{info}"
    );
    agent.ok(&["start", "g2"]);
    assert_eq!(daemon.domstate("g2"), "running");
    agent.ok(&["destroy", "g2"]);
    assert_eq!(daemon.domstate("g2"), "shut off");
    agent.ok(&["undefine", "g2"]);
    assert!(!daemon.virsh_ok(&["list", "--all", "--name"]).lines().any(|l| l == "g2"));
    // libvirt's error, through the proxy, with libvirt's words.
    let err = agent.fails(&["resume", "g1"]);
    assert!(
        err.contains("error: Requested operation is not valid: domain is already running"),
        "{err}"
    );

    // And virsh again.
    daemon.virsh_ok(&["destroy", "g1"]);
    wait_ctl_state(&agent, "g1", "shut off");
    daemon.virsh_ok(&["undefine", "g1"]);
    wait_ctl_gone(&agent, "g1");

    // libvirt's stream up to g1's removal, then virtbus's: the same events
    // in the same order, none twice.
    let mut want = Vec::new();
    let done = wait_for(WAIT, || {
        let event = reference.rx.recv_timeout(Duration::from_secs(1)).ok()?;
        let last = event == ("g1".to_string(), "Undefined Removed".to_string());
        want.push(event);
        last.then_some(())
    });
    assert!(done.is_some(), "virsh event stream incomplete: {want:?}");
    let mut got = Vec::new();
    while got.len() < want.len() {
        match stream.next(WAIT) {
            Some(e) => got.push(as_virsh(&e)),
            None => break,
        }
    }
    assert_eq!(got, want, "virtbus's events differ from libvirt's");
    assert!(
        stream.next(Duration::from_secs(1)).is_none(),
        "virtbus reported more events than libvirt"
    );
    // The sequence holds what the steps above must have caused.
    let required = [
        ("g1", "Defined Added"),
        ("g1", "Started Booted"),
        ("g1", "Suspended Paused"),
        ("g1", "Resumed Unpaused"),
        ("g2", "Defined Added"),
        ("g2", "Started Booted"),
        ("g2", "Stopped Destroyed"),
        ("g2", "Undefined Removed"),
        ("g1", "Stopped Destroyed"),
        ("g1", "Undefined Removed"),
    ];
    let mut rest = want.iter();
    for (name, what) in required {
        assert!(
            rest.any(|(n, w)| n == name && w == what),
            "{name} {what} missing or out of order in {want:?}"
        );
    }
}

#[test]
fn libvirtd_outage_is_reported_and_missed_changes_are_emitted_after_reconnect() {
    let mut daemon = PrivateLibvirtd::start();
    let g1 = daemon.guest_file("g1");
    let g2 = daemon.guest_file("g2");
    let g3 = daemon.guest_file("g3");
    daemon.virsh_ok(&["define", g1.to_str().unwrap()]);
    daemon.virsh_ok(&["start", "g1"]);
    daemon.virsh_ok(&["define", g2.to_str().unwrap()]);
    let g4 = daemon.guest_file("g4");
    daemon.virsh_ok(&["define", g4.to_str().unwrap()]);
    daemon.virsh_ok(&["start", "g4"]);

    let g1_uuid = daemon.virsh_ok(&["domuuid", "g1"]);

    let state = tempfile::tempdir().unwrap();
    let snmp_port = free_udp_port();
    let agent = Agent::start_with(
        &format!("libvirt+{}", daemon.uri()),
        state.path(),
        &["--snmp-listen", &format!("udp:127.0.0.1:{snmp_port}")],
    );
    let stream = agent.events();
    // libvirtGuestState: running(1), paused(3).
    assert_eq!(snmp_guest_state(snmp_port, &g1_uuid), 1);
    let status = agent.ok(&["status"]);
    assert!(
        status.contains("Connection:     up") && status.contains("Snapshot:       current"),
        "{status}"
    );

    // libvirtd goes away: reported in the log and by ctl.
    daemon.stop();
    agent.wait_log("lost the libvirt connection", WAIT);
    let status = agent.ok(&["status"]);
    assert!(status.contains("Connection:     down since"), "{status}");
    assert!(status.contains("Snapshot:       stale"), "{status}");
    // Reads serve the last snapshot, marked stale.
    let list = agent.run(&["list", "--all"]);
    assert!(list.success, "{}", list.stderr);
    assert!(
        list.stderr.contains("warning: the agent lost its connection"),
        "no stale warning: {}",
        list.stderr
    );
    assert_eq!(ctl_row(&agent, "g1").map(|r| r.1).as_deref(), Some("running"));
    assert_eq!(ctl_row(&agent, "g2").map(|r| r.1).as_deref(), Some("shut off"));
    // SNMP keeps answering from the last snapshot (LIBVIRT-MIB has no way
    // to mark it stale).
    assert_eq!(snmp_guest_state(snmp_port, &g1_uuid), 1);
    // Calls fail with libvirt's NO_CONNECT, naming the URI.
    let err = agent.fails(&["start", "g2"]);
    assert!(err.contains("is down; reconnecting"), "{err}");

    // Meanwhile someone changes things with virsh, on a socket virtbus does
    // not know: virtbus keeps failing to reconnect.
    daemon.start_on(Socket::Side);
    daemon.virsh_ok_on(Socket::Side, &["suspend", "g1"]);
    daemon.virsh_ok_on(Socket::Side, &["undefine", "g2"]);
    daemon.virsh_ok_on(Socket::Side, &["define", g3.to_str().unwrap()]);
    daemon.virsh_ok_on(Socket::Side, &["start", "g3"]);
    // Stopped and started again: running before and after, but a new id.
    daemon.virsh_ok_on(Socket::Side, &["destroy", "g4"]);
    daemon.virsh_ok_on(Socket::Side, &["start", "g4"]);
    let target = daemon.owned_dir("pool-missed");
    daemon.virsh_ok_on(
        Socket::Side,
        &["pool-define-as", "missed", "dir", "--target", target.to_str().unwrap()],
    );
    daemon.virsh_ok_on(Socket::Side, &["pool-start", "missed"]);
    agent.wait_log("libvirt still unreachable", WAIT);
    daemon.stop();

    // libvirtd back where virtbus looks: it reconnects and emits what it
    // missed, each change once, in libvirt's order per domain.
    daemon.start_on(Socket::Main);
    agent.wait_log("libvirt connection restored", WAIT);
    let mut got: Vec<(String, String)> = Vec::new();
    let mut pool_events = Vec::new();
    while got.len() + pool_events.len() < 8 {
        match stream.next(WAIT) {
            Some(e) if e["kind"] == "pool" => pool_events.push(format!("{} {}", e["name"], e["event"])),
            Some(e) => got.push(as_virsh(&e)),
            None => break,
        }
    }
    assert_eq!(
        pool_events,
        [r#""missed" "DEFINED""#, r#""missed" "STARTED""#],
        "{got:?}"
    );
    let of = |name: &str| -> Vec<&str> { got.iter().filter(|(n, _)| n == name).map(|(_, w)| w.as_str()).collect() };
    assert_eq!(of("g1"), ["Suspended Paused"], "{got:?}");
    assert_eq!(of("g2"), ["Undefined Removed"], "{got:?}");
    assert_eq!(of("g3"), ["Defined Added", "Started Booted"], "{got:?}");
    // How g4 stopped is lost with the daemon's history: reported as FAILED.
    assert_eq!(of("g4"), ["Stopped Failed", "Started Booted"], "{got:?}");
    assert!(
        stream.next(Duration::from_secs(1)).is_none(),
        "more events than changes"
    );

    // Current again: no stale marker, the missed changes in the listing.
    let status = agent.ok(&["status"]);
    assert!(status.contains("Connection:     up"), "{status}");
    let list = agent.run(&["list", "--all"]);
    assert!(!list.stderr.contains("warning"), "{}", list.stderr);
    assert_eq!(ctl_row(&agent, "g1").map(|r| r.1).as_deref(), Some("paused"));
    assert_eq!(ctl_row(&agent, "g3").map(|r| r.1).as_deref(), Some("running"));
    assert_eq!(ctl_row(&agent, "g2"), None);
    assert_eq!(
        ctl_table_state(&agent, "pool-list", "missed").as_deref(),
        Some("active")
    );
    assert_eq!(snmp_guest_state(snmp_port, &g1_uuid), 3);

    // Events flow live again on the new connection, both ways.
    daemon.virsh_ok(&["resume", "g1"]);
    let e = stream.next(WAIT).expect("g1's resume as an event");
    assert_eq!(as_virsh(&e), ("g1".to_string(), "Resumed Unpaused".to_string()));
    agent.ok(&["destroy", "g3"]);
    assert_eq!(daemon.domstate("g3"), "shut off");
}

/// The row of `name` in a `virtbus ctl pool-list --all` / `net-list --all`
/// table, as its state column.
fn ctl_table_state(agent: &Agent, list: &str, name: &str) -> Option<String> {
    let out = agent.ok(&[list, "--all"]);
    out.lines().find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.len() >= 2 && cols[0] == name).then(|| cols[1].to_string())
    })
}

fn wait_ctl_table(agent: &Agent, list: &str, name: &str, state: Option<&str>) {
    let seen = wait_for(WAIT, || {
        (ctl_table_state(agent, list, name).as_deref() == state).then_some(())
    });
    assert!(
        seen.is_some(),
        "ctl {list} never showed {name} as {state:?}:\n{}",
        agent.ok(&[list, "--all"])
    );
}

/// `virsh LIST --all --name` (pool-list, net-list, vol-list POOL).
fn virsh_names(daemon: &PrivateLibvirtd, args: &[&str]) -> Vec<String> {
    daemon
        .virsh_ok(args)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn pools_volumes_and_networks_changed_on_either_side_show_on_the_other() {
    let daemon = PrivateLibvirtd::start();
    let state = tempfile::tempdir().unwrap();
    let agent = Agent::start(&format!("libvirt+{}", daemon.uri()), state.path());
    let stream = agent.events();
    let target = daemon.owned_dir("pool-a");

    // A dir pool made with virsh shows in virtbus.
    daemon.virsh_ok(&["pool-define-as", "vpool", "dir", "--target", target.to_str().unwrap()]);
    wait_ctl_table(&agent, "pool-list", "vpool", Some("inactive"));
    daemon.virsh_ok(&["pool-start", "vpool"]);
    wait_ctl_table(&agent, "pool-list", "vpool", Some("active"));
    // Volumes: made through virtbus, seen by virsh; made with virsh, seen
    // by virtbus after a refresh (libvirt has no lifecycle event for them).
    agent.ok(&["vol-create-as", "vpool", "v1", "1M"]);
    assert!(virsh_names(&daemon, &["vol-list", "vpool"]).contains(&"v1".to_string()));
    daemon.virsh_ok(&["vol-create-as", "vpool", "v2", "1M"]);
    agent.ok(&["pool-refresh", "vpool"]);
    let vols = agent.ok(&["vol-list", "vpool"]);
    assert!(vols.contains("v1") && vols.contains("v2"), "{vols}");
    // Resize and autostart through virtbus, seen by virsh.
    agent.ok(&["vol-resize", "v1", "2M", "--pool", "vpool"]);
    let info = daemon.virsh_ok(&["vol-info", "v1", "--pool", "vpool"]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Capacity:") && l.ends_with("2.00 MiB")),
        "{info}"
    );
    agent.ok(&["pool-autostart", "vpool"]);
    let info = daemon.virsh_ok(&["pool-info", "vpool"]);
    assert!(
        info.lines().any(|l| l.starts_with("Autostart:") && l.ends_with("yes")),
        "{info}"
    );
    // Pool changes through virtbus show in virsh.
    agent.ok(&["pool-destroy", "vpool"]);
    assert!(virsh_names(&daemon, &["pool-list", "--inactive", "--name"]).contains(&"vpool".to_string()));
    agent.ok(&["pool-undefine", "vpool"]);
    assert!(!virsh_names(&daemon, &["pool-list", "--all", "--name"]).contains(&"vpool".to_string()));

    // A network defined through virtbus shows in virsh; undefined with
    // virsh, it leaves virtbus.
    let net = daemon.path().join("vnet.xml");
    std::fs::write(
        &net,
        "<network><name>vnet</name><bridge name='vbtest0'/>\
         <ip address='192.168.251.1' netmask='255.255.255.0'/></network>",
    )
    .unwrap();
    agent.ok(&["net-define", net.to_str().unwrap()]);
    assert!(virsh_names(&daemon, &["net-list", "--all", "--name"]).contains(&"vnet".to_string()));
    daemon.virsh_ok(&["net-undefine", "vnet"]);
    wait_ctl_table(&agent, "net-list", "vnet", None);

    // Each change once, as libvirt emitted it.
    let want = [
        ("pool", "vpool", "DEFINED"),
        ("pool", "vpool", "STARTED"),
        ("pool", "vpool", "STOPPED"),
        ("pool", "vpool", "UNDEFINED"),
        ("network", "vnet", "DEFINED"),
        ("network", "vnet", "UNDEFINED"),
    ];
    let mut got = Vec::new();
    while got.len() < want.len() {
        match stream.next(WAIT) {
            Some(e) => got.push((
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["name"].as_str().unwrap_or_default().to_string(),
                e["event"].as_str().unwrap_or_default().to_string(),
            )),
            None => break,
        }
    }
    let got_ref: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|(k, n, e)| (k.as_str(), n.as_str(), e.as_str()))
        .collect();
    assert_eq!(got_ref, want);
    assert!(
        stream.next(Duration::from_secs(1)).is_none(),
        "an event was reported twice or invented"
    );
}

#[test]
fn a_hung_libvirtd_is_detected_by_keepalive_and_reconnected() {
    let daemon = PrivateLibvirtd::start();
    let g1 = daemon.guest_file("g1");
    daemon.virsh_ok(&["define", g1.to_str().unwrap()]);
    let state = tempfile::tempdir().unwrap();
    let agent = Agent::start(&format!("libvirt+{}", daemon.uri()), state.path());

    // No EOF this time: only keepalive (5 s interval, 3 misses) can tell.
    daemon.signal(nix::sys::signal::Signal::SIGSTOP);
    agent.wait_log("keepalive timeout", WAIT);
    agent.wait_log("lost the libvirt connection", WAIT);
    let status = agent.ok(&["status"]);
    assert!(status.contains("Connection:     down since"), "{status}");
    assert!(status.contains("keepalive timeout"), "{status}");
    let list = agent.run(&["list", "--all"]);
    assert!(list.success && list.stdout.contains("g1"), "{}", list.stderr);
    assert!(
        list.stderr.contains("warning: the agent lost its connection"),
        "{}",
        list.stderr
    );

    daemon.signal(nix::sys::signal::Signal::SIGCONT);
    agent.wait_log("libvirt connection restored", WAIT);
    let status = agent.ok(&["status"]);
    assert!(status.contains("Connection:     up"), "{status}");
    // Calls work again.
    agent.ok(&["start", "g1"]);
    assert_eq!(daemon.domstate("g1"), "running");
}
