//! The event outbox is on disk: events made while the broker is
//! unreachable survive a SIGKILL of the agent, and the restarted agent
//! (same state dir) publishes them first, in order, with their old epoch.

mod common;

use common::{amqp_url, assert_py_ok, run_py, Agent, AgentOptions};
use std::time::{Duration, Instant};
use virtbus_amqp::outbox::journal::Journal;

const PAIRS: usize = 20;

#[test]
fn unconfirmed_events_survive_an_agent_kill() {
    let url = amqp_url();
    let queue = format!("virtbus-e2e-outbox-{}", std::process::id());
    let pattern = "agent.ind.event.org_libvirt.domain.*.*.virtbus.agent.e2e-outbox";
    assert_py_ok(&run_py("subscriber.py", &["bind", &url, &queue, pattern]), "bind");

    // First run: no broker at that address (port 1 refuses), so every event
    // stays in the outbox.
    let first = Agent::start_with(AgentOptions {
        url: Some("amqp://guest:guest@127.0.0.1:1/%2f".into()),
        wait_connected: false,
        ..AgentOptions::new("e2e-outbox", &["guest"])
    });
    for _ in 0..PAIRS {
        first.ctl(&["suspend", "test"]);
        first.ctl(&["resume", "test"]);
    }
    let outbox_dir = first.state_dir.path().join("amqp/outbox");
    let started = Instant::now();
    loop {
        let pending = Journal::inspect(&outbox_dir).expect("outbox readable").events.len();
        if pending == 2 * PAIRS {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "outbox holds {pending} events, want {}",
            2 * PAIRS
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let state_dir = first.kill();

    // Second run on the same state dir, with the broker.
    let second = Agent::start_with(AgentOptions {
        state_dir: Some(state_dir),
        ..AgentOptions::new("e2e-outbox", &["guest"])
    });
    assert!(second
        .logs()
        .iter()
        .any(|l| l.contains("unconfirmed events of an earlier run")));
    second.ctl(&["suspend", "test"]);

    let want = 2 * PAIRS + 1;
    let out = run_py("subscriber.py", &["drain", &url, &queue, &want.to_string(), "60"]);
    let stdout = assert_py_ok(&out, "drain");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("summary is JSON");
    let events = summary["events"].as_array().expect("events list");
    assert_eq!(events.len(), want, "{stdout}");
    let old: Vec<&serde_json::Value> = events[..2 * PAIRS].iter().collect();
    let old_epoch = old[0]["epoch"].as_u64().expect("epoch");
    assert!(old.iter().all(|e| e["epoch"].as_u64() == Some(old_epoch)));
    let seqs: Vec<u64> = old.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let first_seq = seqs[0];
    assert_eq!(seqs, (first_seq..first_seq + 2 * PAIRS as u64).collect::<Vec<_>>());
    for (i, e) in old.iter().enumerate() {
        assert_eq!(e["event"], if i % 2 == 0 { "SUSPENDED" } else { "RESUMED" }, "{e}");
    }
    // The new run's event comes after the replayed ones, with a new epoch.
    let last = &events[2 * PAIRS];
    assert_eq!(last["event"], "SUSPENDED");
    assert_ne!(last["epoch"].as_u64(), Some(old_epoch));
    // Everything was confirmed: the outbox on disk is empty again.
    let started = Instant::now();
    let outbox_dir = second.state_dir.path().join("amqp/outbox");
    while !Journal::inspect(&outbox_dir)
        .expect("outbox readable")
        .events
        .is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(30), "outbox never emptied");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::process::Command::new(format!("{}/rabbitmqctl", common::env("VIRTBUS_TEST_RABBITMQ_BIN")))
        .args(["-n", &common::env("VIRTBUS_TEST_RABBITMQ_NODE"), "delete_queue", &queue])
        .output();
}
