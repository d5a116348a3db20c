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
