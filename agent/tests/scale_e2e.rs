//! A libvirt test-driver node file with 10,000 domains, served and managed
//! through `virtbus ctl` (correctness only; timings live in scripts/bench-core).

mod common;

use common::{node_file, uuid_for, Agent, EventStream};

#[test]
fn ten_thousand_domains_are_listed_and_managed() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let node = node_file(files.path(), N);
    let uri = format!("test://{}", node.display());
    let agent = Agent::start(dir.path(), &["--connect", &uri], &[]);

    let list = agent.ok(&["list", "--all"]);
    let rows: Vec<&str> = list.lines().skip(2).filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), N, "every domain is listed");
    let running = rows.iter().filter(|r| r.ends_with("   running")).count();
    let shut_off = rows.iter().filter(|r| r.ends_with("   shut off")).count();
    assert_eq!((running, shut_off), (N / 2, N / 2), "states from test:runstate");
    // Active domains first, by id; then inactive ones by name (virsh's order).
    assert!(
        rows[0].starts_with(" 1 ") && rows[0].contains("dom-00000"),
        "{}",
        rows[0]
    );
    assert!(
        rows[N - 1].starts_with(" -") && rows[N - 1].contains("dom-09999"),
        "{}",
        rows[N - 1]
    );
    assert_eq!(agent.ok(&["-q", "list"]).lines().count(), N / 2);

    let events = EventStream::open(dir.path());
    agent.ok(&["suspend", "dom-00042"]);
    agent.ok(&["resume", "dom-00042"]);
    agent.ok(&["destroy", "dom-00042"]);
    agent.ok(&["start", "dom-00043"]);
    agent.ok(&["undefine", "dom-00042"]);
    let xml = files.path().join("new.xml");
    std::fs::write(
        &xml,
        "<domain type='test'><name>dom-new</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    )
    .unwrap();
    agent.ok(&["define", xml.to_str().unwrap()]);
    let expected = [
        ("dom-00042", "SUSPENDED", "PAUSED"),
        ("dom-00042", "RESUMED", "UNPAUSED"),
        ("dom-00042", "STOPPED", "DESTROYED"),
        ("dom-00043", "STARTED", "BOOTED"),
        ("dom-00042", "UNDEFINED", "REMOVED"),
        ("dom-new", "DEFINED", "ADDED"),
    ];
    for (name, event, detail) in expected {
        let e = events.next();
        assert_eq!(
            (
                e["name"].as_str().unwrap(),
                e["event"].as_str().unwrap(),
                e["detail"].as_str().unwrap()
            ),
            (name, event, detail)
        );
    }
    assert_eq!(agent.ok(&["domstate", &uuid_for(43)]), "running\n\n", "lookup by uuid");
    let list = agent.ok(&["list", "--all"]);
    assert_eq!(
        list.lines().skip(2).filter(|l| !l.is_empty()).count(),
        N,
        "one undefined, one defined"
    );
    assert!(!list.contains("dom-00042") && list.contains("dom-new"));
}
