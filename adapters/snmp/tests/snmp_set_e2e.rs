//! SETs and notifications through net-snmp's snmpset and snmptrapd against a
//! real `virtbus serve`: each accepted SET changes the guest (as `virtbus
//! ctl` sees it, and the very next GET), each refused one leaves everything
//! as it was with the right error-status, and a trap reaches snmptrapd for
//! each life-cycle event.

mod common;
use common::*;
use std::time::Duration;

const ENTRY: &str = ".1.3.6.1.4.1.36957.1.1.1";

fn state_oid(uuid: &str) -> String {
    format!("{ENTRY}.3.{}", index(uuid))
}
fn row_oid(uuid: &str) -> String {
    format!("{ENTRY}.9.{}", index(uuid))
}

/// snmpset with `community`; (success, stdout+stderr).
fn set(agent: &Agent, community: &str, args: &[&str]) -> (bool, String) {
    let out = agent.snmp("snmpset", &["-v2c", "-c", community, "-OnUe", "-Ir"], args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && !text.contains("Error in packet"), text)
}

fn get_state(agent: &Agent, uuid: &str) -> String {
    value_of(agent.v2c("snmpget", "public", &["-OnUe"], &[&state_oid(uuid)]).trim()).to_string()
}

/// Waits until `count` libvirtGuestNotif traps naming `name` arrived.
fn wait_for(traps: &TrapReceiver, name: &str, count: usize) -> String {
    traps.wait(
        Duration::from_secs(10),
        &format!("waited for {count} traps for {name}"),
        |text| {
            let n = text.matches(".1.3.6.1.4.1.36957.0.1").count();
            let named = text.matches(&format!("\"{name}\"")).count();
            (n >= count && named >= count).then(|| text.to_string())
        },
    )
}

#[test]
fn sets_drive_the_guest_and_each_event_traps() {
    let traps = TrapReceiver::start();
    let sink = format!("udp:127.0.0.1:{}", traps.port);
    let agent = Agent::start(&["--snmp-rw-community", "private", "--snmp-trap-sink", &sink]);

    // running -> paused: suspends, visible to the very next GET and to ctl.
    let (ok, text) = set(&agent, "private", &[&state_oid(ALPHA), "i", "3"]);
    assert!(ok, "{text}");
    assert_eq!(get_state(&agent, ALPHA), "INTEGER: 3");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "paused");
    let log = wait_for(&traps, "alpha", 1);
    // The UUID varbind carries the 16 raw octets (shown with the MIB's hint).
    assert!(
        log.contains(&format!(".1.3.6.1.4.1.36957.1.1.1.1.0 = STRING: {ALPHA}")),
        "{log}"
    );
    assert!(
        log.contains(".1.3.6.1.4.1.36957.1.1.1.2.0 = STRING: \"alpha\""),
        "{log}"
    );
    assert!(
        log.contains(".1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.4.1.36957.0.1"),
        "{log}"
    );
    assert!(log.contains(".1.3.6.1.4.1.36957.1.1.1.3.0 = INTEGER: 3"), "{log}");

    // paused -> running: resumes.
    let (ok, text) = set(&agent, "private", &[&state_oid(ALPHA), "i", "1"]);
    assert!(ok, "{text}");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "running");
    wait_for(&traps, "alpha", 2);

    // running -> shutdown: the test driver shuts the guest off at once.
    let (ok, text) = set(&agent, "private", &[&state_oid(ALPHA), "i", "4"]);
    assert!(ok, "{text}");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "shut off");
    assert_eq!(get_state(&agent, ALPHA), "INTEGER: 5");
    let log = wait_for(&traps, "alpha", 3);
    assert!(
        log.contains(".1.3.6.1.4.1.36957.1.1.1.9.0 = INTEGER: 2"),
        "notInService after shutdown:\n{log}"
    );

    // createAndGo starts the defined guest; destroy stops it.
    let (ok, text) = set(&agent, "private", &[&row_oid(ALPHA), "i", "4"]);
    assert!(ok, "{text}");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "running");
    wait_for(&traps, "alpha", 4);
    let (ok, text) = set(&agent, "private", &[&row_oid(ALPHA), "i", "6"]);
    assert!(ok, "{text}");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "shut off");
    wait_for(&traps, "alpha", 5);

    // createAndGo with State=paused in the same request starts it paused.
    let (ok, text) = set(
        &agent,
        "private",
        &[&row_oid(GAMMA), "i", "4", &state_oid(GAMMA), "i", "3"],
    );
    assert!(ok, "{text}");
    assert_eq!(agent.ctl(&["domstate", "gamma"]).trim(), "paused");
}

#[test]
fn refused_sets_change_nothing() {
    let agent = Agent::start(&["--snmp-rw-community", "private"]);
    let before = agent.ctl(&["list", "--all"]);
    let cases: &[(&str, &[&str], &str)] = &[
        // The read-only community may not write.
        ("public", &[&state_oid(ALPHA), "i", "3"], "noAccess"),
        // Wrong type for State.
        ("private", &[&state_oid(ALPHA), "s", "paused"], "wrongType"),
        // Name is read-only.
        (
            "private",
            &[&format!("{ENTRY}.2.{}", index(ALPHA)), "s", "renamed"],
            "notWritable",
        ),
        // A shut-off guest cannot be paused.
        ("private", &[&state_oid(GAMMA), "i", "3"], "inconsistentValue"),
        // Out of the enumeration.
        ("private", &[&state_oid(ALPHA), "i", "9"], "wrongValue"),
        // createAndWait is never supported; createAndGo on a running guest is inconsistent.
        ("private", &[&row_oid(GAMMA), "i", "5"], "wrongValue"),
        ("private", &[&row_oid(ALPHA), "i", "4"], "inconsistentValue"),
        // An unknown guest cannot be created.
        (
            "private",
            &[&format!("{ENTRY}.9.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16"), "i", "4"],
            "noCreation",
        ),
        // All or nothing: alpha's valid change is not made when gamma's fails.
        (
            "private",
            &[&state_oid(ALPHA), "i", "3", &state_oid(GAMMA), "i", "3"],
            "inconsistentValue",
        ),
    ];
    for (community, args, status) in cases {
        let (ok, text) = set(&agent, community, args);
        assert!(!ok, "{args:?} should fail: {text}");
        assert!(text.contains(status), "{args:?}: expected {status} in {text}");
        assert_eq!(agent.ctl(&["list", "--all"]), before, "{args:?} changed something");
    }
    assert_eq!(get_state(&agent, ALPHA), "INTEGER: 1");
}

#[test]
fn set_is_off_without_a_write_community() {
    let agent = Agent::start(&[]);
    let (ok, text) = set(&agent, "public", &[&state_oid(ALPHA), "i", "3"]);
    assert!(!ok, "{text}");
    assert!(text.contains("noAccess") || text.contains("notWritable"), "{text}");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "running");
}
