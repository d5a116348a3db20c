//! End to end: the real `virtbus` binary serving `libvirt+test:///default`,
//! driven with `virtbus ctl`. The event stream must carry exactly the events
//! libvirt's test driver emits for the same commands, in order, once each —
//! the same sequence `agent/tests/ctl_e2e.rs` pins for virtbus's own test
//! driver. The binary must be built with the `libvirt` feature (see
//! `libvirt_common`).
#![cfg(feature = "libvirt")]

mod libvirt_common;

use libvirt_common::Agent;
use std::time::Duration;

const FRESH: &str = "<domain type='test'><name>fresh</name><memory unit='MiB'>128</memory><vcpu>2</vcpu>\
  <os><type>hvm</type></os></domain>";

#[test]
fn ctl_through_the_proxy_emits_libvirts_events_once() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start("libvirt+test:///default", dir.path());
    let list = agent.ok(&["list", "--all"]);
    assert!(list.contains("test") && list.contains("running"), "{list}");
    // An in-process driver has no link to lose: always current.
    let status = agent.ok(&["status"]);
    assert!(status.contains("Connection:     up"), "{status}");
    let events = agent.events();

    let file = dir.path().join("fresh.xml");
    std::fs::write(&file, FRESH).unwrap();
    agent.ok(&["define", file.to_str().unwrap()]);
    agent.ok(&["start", "fresh"]);
    agent.ok(&["suspend", "fresh"]);
    agent.ok(&["resume", "fresh"]);
    agent.ok(&["reboot", "fresh"]);
    agent.ok(&["shutdown", "fresh"]);
    agent.ok(&["start", "fresh"]);
    agent.ok(&["destroy", "fresh"]);
    // libvirt's own error, through the proxy, the core and ctl.
    let err = agent.fails(&["resume", "test"]);
    assert!(err.contains("domain 'test' not paused"), "{err}");
    // The change is visible to the next read.
    let list = agent.ok(&["list", "--all"]);
    assert!(
        list.lines().any(|l| l.contains("fresh") && l.contains("shut off")),
        "{list}"
    );
    // Undefining an inactive domain ends its object; the reply still comes
    // back as a success (this once answered NO_DOMAIN, a core bug now fixed).
    let out = agent.ok(&["undefine", "fresh"]);
    assert!(out.contains("Domain 'fresh' has been undefined"), "{out}");

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
        let e = events.next(Duration::from_secs(10)).expect("an event within 10 s");
        assert_eq!(
            (e["kind"].as_str(), e["name"].as_str()),
            (Some("domain"), Some("fresh")),
            "{e}"
        );
        assert_eq!(
            (e["event"].as_str(), e["detail"].as_str()),
            (Some(event), Some(detail)),
            "{e}"
        );
        let seq = e["seq"].as_u64().unwrap_or(0);
        assert!(seq > last_seq, "seq grows: {seq} after {last_seq}");
        last_seq = seq;
    }
    assert!(
        events.next(Duration::from_millis(500)).is_none(),
        "an event was reported twice or invented"
    );
    let list = agent.ok(&["list", "--all"]);
    assert!(!list.contains("fresh"), "undefined domain still listed:\n{list}");
    let err = agent.fails(&["domstate", "fresh"]);
    assert!(err.contains("failed to get domain 'fresh'"), "{err}");
}

/// A libvirt test-driver node file with `n` domains, every other one running
/// (the test driver's default) and the rest shut off (`<test:runstate>5`).
fn node_file(n: usize) -> String {
    let mut xml = String::from("<node>\n");
    for i in 0..n {
        let runstate = if i % 2 == 0 {
            ""
        } else {
            "<test:runstate>5</test:runstate>"
        };
        xml.push_str(&format!(
            "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
             <name>walk-{i:04}</name><uuid>{:08x}-0000-4000-8000-{:012x}</uuid>\
             <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>{runstate}</domain>\n",
            i * 7919,
            i,
        ));
    }
    xml.push_str("</node>\n");
    xml
}

/// The SNMP front door on a blocking driver: a walk of libvirtGuestTable
/// through the proxy, CPU times included (sampled in batches of rows while
/// the front door waits), is the walk the full agent behind it gives.
#[test]
fn snmp_walks_through_the_proxy_agree_with_the_agent_behind_the_front_door() {
    let dir = tempfile::tempdir().unwrap();
    let n = 600;
    let node = dir.path().join("node.xml");
    std::fs::write(&node, node_file(n)).unwrap();
    let port = libvirt_common::free_udp_port();
    let agent = Agent::start_with(
        &format!("libvirt+test://{}", node.display()),
        &dir.path().join("state"),
        &["--snmp-listen", &format!("udp:127.0.0.1:{port}")],
    );
    agent.wait_log("full agent on udp:", Duration::from_secs(30));
    let logs = agent.logs();
    let behind = logs
        .split("full agent on udp:")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the agent behind the front door")
        .to_string();
    let walk = |target: &str| -> Vec<String> {
        let out = std::process::Command::new("snmpbulkwalk")
            .args(["-v2c", "-c", "public", "-On", "-Cr10", "-t", "5", "-r", "1", target])
            .arg(".1.3.6.1.4.1.36957.1.1")
            .output()
            .expect("snmpbulkwalk runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let front = walk(&format!("127.0.0.1:{port}"));
    let direct = walk(&behind);
    assert_eq!(front.len(), 7 * n, "7 columns of {n} rows");
    let cpu_times: Vec<&String> = front.iter().filter(|l| l.contains("Counter64")).collect();
    assert_eq!(cpu_times.len(), n, "a CPU time for every guest");
    // Samples may be renewed between the walks: compare CPU times by type.
    let comparable = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| match l.split_once(" = Counter64: ") {
                Some((oid, _)) => format!("{oid} = Counter64"),
                None => l.clone(),
            })
            .collect()
    };
    assert_eq!(comparable(&front), comparable(&direct));
}
