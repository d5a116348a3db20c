//! Nothing lost across a broker crash: the private RabbitMQ node is killed
//! (SIGKILL, by the pid it reports) in the middle of a burst of 10,000
//! lifecycle changes (suspend/resume of ten domains, pipelined over the
//! control socket), more changes happen while it is down (ctl and SNMP keep
//! answering), it is restarted, and a pika subscriber whose durable queue
//! was bound before receives every event, in per-object order, duplicates
//! detectable by `seq`. Its own test binary (one test), so no other AMQP
//! test runs while the broker is down.

mod common;

use common::{amqp_url, assert_py_ok, env, run_py, Agent, AgentOptions};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DOMAINS: usize = 10;
/// Lifecycle changes while the broker is up, then killed mid-way.
const BURST: usize = 6_000;
/// Changes while the broker is down.
const WHILE_DOWN: usize = 4_000;
/// Requests written before their replies are read, per connection.
const PIPELINE: usize = 50;

fn rabbitmqctl(args: &[&str]) -> std::process::Output {
    let bin = env("VIRTBUS_TEST_RABBITMQ_BIN");
    Command::new(format!("{bin}/rabbitmqctl"))
        .arg("-n")
        .arg(env("VIRTBUS_TEST_RABBITMQ_NODE"))
        .args(args)
        .output()
        .expect("rabbitmqctl runs")
}

/// The node's OS pid, as it tells it (the pid file is not always written).
fn broker_pid() -> String {
    let out = rabbitmqctl(&["eval", "os:getpid()."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = text.trim().trim_matches('"');
    assert!(
        pid.chars().all(|c| c.is_ascii_digit()) && !pid.is_empty(),
        "pid '{pid}'"
    );
    pid.to_string()
}

fn kill_broker(pid: &str) {
    let status = Command::new("kill").args(["-9", pid]).status().expect("kill runs");
    assert!(status.success(), "kill -9 {pid} failed");
    // Wait until the node is gone.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("broker pid {pid} still alive after SIGKILL");
}

fn start_broker() {
    let env_file = env("VIRTBUS_TEST_RABBITMQ_ENV");
    let bin = env("VIRTBUS_TEST_RABBITMQ_BIN");
    let log = Path::new(&env_file).with_file_name("log/restart.out");
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

/// A test-driver node file with `DOMAINS` running domains `burst-N`.
fn node_file(dir: &Path) -> PathBuf {
    let mut xml = String::from("<node>\n");
    for i in 0..DOMAINS {
        xml.push_str(&format!(
            "<domain type='test'><name>burst-{i}</name><uuid>00000000-0000-4000-8000-{i:012}</uuid>\
             <memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n"
        ));
    }
    xml.push_str("</node>\n");
    let path = dir.join("burst-node.xml");
    std::fs::write(&path, xml).expect("node file written");
    path
}

/// `changes` lifecycle changes spread over the domains: one control
/// connection per domain, suspend/resume alternating, `PIPELINE` requests in
/// flight per connection. Every reply must be `ok`; `done` counts them.
fn burst(socket: &Path, changes: usize, done: &Arc<AtomicUsize>) -> Vec<std::thread::JoinHandle<()>> {
    (0..DOMAINS)
        .map(|d| {
            let socket = socket.to_path_buf();
            let done = done.clone();
            let mine = changes / DOMAINS;
            std::thread::spawn(move || {
                let stream = UnixStream::connect(&socket).expect("control socket");
                let mut writer = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                let mut sent = 0;
                while sent < mine {
                    let n = PIPELINE.min(mine - sent);
                    let mut batch = String::new();
                    for i in sent..sent + n {
                        let cmd = if i % 2 == 0 { "suspend" } else { "resume" };
                        batch.push_str(&format!("{{\"cmd\":\"{cmd}\",\"domain\":\"burst-{d}\"}}\n"));
                    }
                    writer.write_all(batch.as_bytes()).expect("requests written");
                    for _ in 0..n {
                        let mut line = String::new();
                        reader.read_line(&mut line).expect("reply read");
                        assert!(line.starts_with("{\"ok\""), "burst-{d}: {line}");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    sent += n;
                }
            })
        })
        .collect()
}

fn join(threads: Vec<std::thread::JoinHandle<()>>) {
    for t in threads {
        t.join().expect("burst thread");
    }
}

fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    socket.local_addr().expect("addr").port()
}

/// The guest names SNMP serves (libvirtGuestName column).
fn snmp_guest_names(port: u16) -> String {
    let out = Command::new("snmpwalk")
        .args(["-v2c", "-c", "public", "-On", "-t", "5", "-r", "2"])
        .arg(format!("udp:127.0.0.1:{port}"))
        .arg(".1.3.6.1.4.1.36957.1.1.1.2")
        .output()
        .expect("snmpwalk runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_event_arrives_in_order_across_a_broker_crash() {
    let url = amqp_url();
    let files = tempfile::tempdir().expect("tempdir");
    let node = node_file(files.path());
    let snmp_port = free_udp_port();
    let mut agent = Agent::start_with(AgentOptions {
        connect: Some(format!("test://{}", node.display())),
        snmp_listen: Some(format!("udp:127.0.0.1:{snmp_port}")),
        ..AgentOptions::new("e2e-restart", &["guest"])
    });
    let listed = agent.ctl(&["list"]);
    assert_eq!(listed.matches("running").count(), DOMAINS, "{listed}");
    let queue = format!("virtbus-e2e-restart-{}", std::process::id());
    let pattern = "agent.ind.event.org_libvirt.domain.*.*.virtbus.agent.e2e-restart";
    assert_py_ok(&run_py("subscriber.py", &["bind", &url, &queue, pattern]), "bind");
    let socket = agent.state_dir.path().join("virtbus.sock");

    // The burst; the broker dies a third of the way in (its pid is asked
    // for first: rabbitmqctl takes longer than the burst).
    let pid = broker_pid();
    let done = Arc::new(AtomicUsize::new(0));
    let threads = burst(&socket, BURST, &done);
    let started = Instant::now();
    while done.load(Ordering::Relaxed) < BURST / 3 {
        assert!(started.elapsed() < Duration::from_secs(300), "burst stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
    let at_kill = done.load(Ordering::Relaxed);
    kill_broker(&pid);
    join(threads);
    agent.wait_log("reconnecting", Duration::from_secs(30));

    // The broker is down: the agent keeps serving ctl and SNMP and keeps
    // the events.
    join(burst(&socket, WHILE_DOWN, &done));
    assert!(agent.ctl(&["list"]).contains("burst-3"));
    assert!(snmp_guest_names(snmp_port).contains("\"burst-3\""));
    assert!(agent.is_running());
    start_broker();
    agent.wait_log_count("amqp: connected to the broker", 2, Duration::from_secs(60));

    let want = BURST + WHILE_DOWN;
    let out = run_py("subscriber.py", &["drain", &url, &queue, &want.to_string(), "240"]);
    let stdout = assert_py_ok(&out, "drain");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("summary is JSON");
    let events = summary["events"].as_array().expect("events list");
    eprintln!(
        "SIGKILL sent to the broker after {at_kill} of {BURST} changes; {} distinct events, {} duplicates dropped by (epoch, seq)",
        events.len(),
        summary["dups"]
    );
    assert_eq!(events.len(), want, "distinct events received");
    let epochs: HashSet<u64> = events.iter().filter_map(|e| e["epoch"].as_u64()).collect();
    assert_eq!(epochs.len(), 1, "one agent run, one epoch");
    // Every seq of the run arrived: a contiguous range without gaps.
    let mut seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    seqs.sort_unstable();
    let first = seqs[0];
    assert_eq!(seqs, (first..first + want as u64).collect::<Vec<_>>(), "no seq missing");
    // Per object: in seq order of arrival, alternating SUSPENDED/RESUMED.
    let mut per_domain: BTreeMap<String, Vec<(u64, String, String)>> = BTreeMap::new();
    for e in events {
        per_domain
            .entry(e["name"].as_str().unwrap_or("?").to_string())
            .or_default()
            .push((
                e["seq"].as_u64().unwrap_or(0),
                e["event"].as_str().unwrap_or("?").to_string(),
                e["key"].as_str().unwrap_or("?").to_string(),
            ));
    }
    assert_eq!(per_domain.len(), DOMAINS);
    for (name, evs) in &per_domain {
        assert_eq!(evs.len(), want / DOMAINS, "{name}");
        assert!(
            evs.windows(2).all(|w| w[0].0 < w[1].0),
            "{name}: arrival order is seq order"
        );
        for (i, (seq, event, key)) in evs.iter().enumerate() {
            let (expect, word) = if i % 2 == 0 {
                ("SUSPENDED", ".suspended.notice.")
            } else {
                ("RESUMED", ".resumed.notice.")
            };
            assert_eq!(event, expect, "{name} event {i} (seq {seq})");
            assert!(key.contains(word), "{name} seq {seq}: {key}");
        }
    }
    let _ = rabbitmqctl(&["delete_queue", &queue]);
}
