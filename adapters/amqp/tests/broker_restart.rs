//! Nothing lost across a broker crash: the private RabbitMQ node is killed
//! (SIGKILL, by the pid it reports) in the middle of a stream of lifecycle
//! changes, more changes happen while it is down, it is restarted, and a
//! pika subscriber whose durable queue was bound before receives every
//! event, in order, duplicates detectable by `seq`. Its own test binary, so
//! no other AMQP test runs while the broker is down.

mod common;

use common::{amqp_url, assert_py_ok, env, run_py, Agent};
use std::process::Command;
use std::time::{Duration, Instant};

const PAIRS_PER_PHASE: usize = 40;

fn churn(agent: &Agent, pairs: usize) {
    for _ in 0..pairs {
        agent.ctl(&["suspend", "test"]);
        agent.ctl(&["resume", "test"]);
    }
}

fn rabbitmqctl(args: &[&str]) -> std::process::Output {
    let bin = env("VIRTBUS_TEST_RABBITMQ_BIN");
    Command::new(format!("{bin}/rabbitmqctl"))
        .arg("-n")
        .arg(env("VIRTBUS_TEST_RABBITMQ_NODE"))
        .args(args)
        .output()
        .expect("rabbitmqctl runs")
}

fn kill_broker() {
    // The node tells its own OS pid (the pid file is not always written).
    let out = rabbitmqctl(&["eval", "os:getpid()."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = text.trim().trim_matches('"');
    assert!(
        pid.chars().all(|c| c.is_ascii_digit()) && !pid.is_empty(),
        "pid '{pid}'"
    );
    let status = Command::new("kill").args(["-9", pid]).status().expect("kill runs");
    assert!(status.success(), "kill -9 {pid} failed");
    // Wait until the node is gone.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("broker pid {pid} still alive after SIGKILL");
}

fn start_broker() {
    let env_file = env("VIRTBUS_TEST_RABBITMQ_ENV");
    let bin = env("VIRTBUS_TEST_RABBITMQ_BIN");
    let log = std::path::Path::new(&env_file).with_file_name("log/restart.out");
    // The node must hold none of the test's file descriptors (cargo test's
    // output pipe would never close), so everything goes to its log.
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". '{env_file}' && (setsid '{bin}/rabbitmq-server' >>'{}' 2>&1 </dev/null &)",
            log.display()
        ))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("bash runs");
    assert!(status.success());
    // await_startup fails at once while the node is not registered yet.
    let started = Instant::now();
    loop {
        let out = rabbitmqctl(&["await_startup", "--timeout", "20"]);
        if out.status.success() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "broker did not come back: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn every_event_arrives_in_order_across_a_broker_crash() {
    let url = amqp_url();
    let mut agent = Agent::start("e2e-restart", &["guest"], "");
    let queue = format!("virtbus-e2e-restart-{}", std::process::id());
    let pattern = "agent.ind.event.org_libvirt.domain.*.*.virtbus.agent.e2e-restart";
    assert_py_ok(&run_py("subscriber.py", &["bind", &url, &queue, pattern]), "bind");

    churn(&agent, PAIRS_PER_PHASE);
    kill_broker();
    agent.wait_log("reconnecting", Duration::from_secs(30));
    // The broker is down: the agent keeps serving ctl and keeps the events.
    churn(&agent, PAIRS_PER_PHASE);
    assert!(agent.is_running());
    start_broker();
    agent.wait_log_count("amqp: connected to the broker", 2, Duration::from_secs(60));
    churn(&agent, PAIRS_PER_PHASE);

    let want = 6 * PAIRS_PER_PHASE;
    let out = run_py("subscriber.py", &["drain", &url, &queue, &want.to_string(), "60"]);
    let stdout = assert_py_ok(&out, "drain");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("summary is JSON");
    let events = summary["events"].as_array().expect("events list");
    assert_eq!(events.len(), want, "distinct events received; summary: {stdout}");
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let first = seqs[0];
    let expected: Vec<u64> = (first..first + want as u64).collect();
    assert_eq!(seqs, expected, "events in seq order without gaps");
    for (i, e) in events.iter().enumerate() {
        let (name, key_word) = if i % 2 == 0 {
            ("SUSPENDED", ".suspended.notice.")
        } else {
            ("RESUMED", ".resumed.notice.")
        };
        assert_eq!(e["event"], name, "event {i}");
        assert_eq!(e["name"], "test");
        assert!(e["key"].as_str().is_some_and(|k| k.contains(key_word)), "{e}");
    }
    let epochs: std::collections::HashSet<u64> = events.iter().filter_map(|e| e["epoch"].as_u64()).collect();
    assert_eq!(epochs.len(), 1, "one agent run, one epoch");
    let _ = rabbitmqctl(&["delete_queue", &queue]);
}
