//! End to end: the real `virtbus` binary serving `libvirt+test:///default`,
//! driven with `virtbus ctl`. The event stream must carry exactly the events
//! libvirt's test driver emits for the same commands, in order, once each —
//! the same sequence `agent/tests/ctl_e2e.rs` pins for virtbus's own test
//! driver.
//!
//! The binary comes from `$VIRTBUS_BIN`, else `$CARGO_TARGET_DIR/debug/virtbus`,
//! else the workspace's `target/debug/virtbus`; it must be built with the
//! `libvirt` feature (`cargo build -p virtbus --features
//! virtbus-drivers/libvirt`; scripts/test builds the workspace with the test
//! features first).
#![cfg(feature = "libvirt")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FRESH: &str = "<domain type='test'><name>fresh</name><memory unit='MiB'>128</memory><vcpu>2</vcpu>\
  <os><type>hvm</type></os></domain>";

fn binary() -> PathBuf {
    if let Ok(bin) = std::env::var("VIRTBUS_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/virtbus");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p virtbus --features virtbus-drivers/libvirt`",
        bin.display()
    );
    bin
}

/// The agent process; killed when dropped.
struct Agent {
    child: Child,
    state_dir: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn start(state_dir: &Path) -> Agent {
        let mut child = Command::new(binary())
            .args(["serve", "--connect", "libvirt+test:///default", "--state-dir"])
            .arg(state_dir)
            .args(["--snmp-listen", "off", "--cim-listen", "off"])
            .env_remove("VIRTBUS_AMQP_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("virtbus serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut logs = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let ready = line.contains("ctl: listening");
                    logs.push(line);
                    if ready {
                        break;
                    }
                }
                Err(_) if Instant::now() > deadline => panic!("agent not ready; logs:\n{}", logs.join("\n")),
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        std::thread::sleep(Duration::from_millis(100));
                        logs.extend(rx.try_iter());
                        panic!("agent exited with {status}; logs:\n{}", logs.join("\n"));
                    }
                }
            }
        }
        Agent {
            child,
            state_dir: state_dir.to_path_buf(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = Command::new(binary())
            .arg("ctl")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(args)
            .output()
            .expect("virtbus ctl runs");
        assert!(
            out.status.success(),
            "ctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = Command::new(binary())
            .arg("ctl")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(args)
            .output()
            .expect("virtbus ctl runs");
        assert!(!out.status.success(), "ctl {args:?} unexpectedly succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `virtbus ctl events`, as parsed JSON lines.
    fn events(&self) -> (Child, mpsc::Receiver<serde_json::Value>) {
        let mut child = Command::new(binary())
            .arg("ctl")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("events")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ctl events starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
        let mut banner = String::new();
        stderr.read_line(&mut banner).expect("ctl events banner");
        assert!(banner.contains("streaming events"), "unexpected banner: {banner}");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        (child, rx)
    }
}

#[test]
fn ctl_through_the_proxy_emits_libvirts_events_once() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path());
    let list = agent.ok(&["list", "--all"]);
    assert!(list.contains("test") && list.contains("running"), "{list}");
    let (mut stream, events) = agent.events();

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

    let expected = [
        ("DEFINED", "ADDED"),
        ("STARTED", "BOOTED"),
        ("SUSPENDED", "PAUSED"),
        ("RESUMED", "UNPAUSED"),
        ("STOPPED", "SHUTDOWN"),
        ("STARTED", "BOOTED"),
        ("STOPPED", "DESTROYED"),
    ];
    let mut last_seq = 0;
    for (event, detail) in expected {
        let e = events
            .recv_timeout(Duration::from_secs(10))
            .expect("an event within 10 s");
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
        events.recv_timeout(Duration::from_millis(500)).is_err(),
        "an event was reported twice or invented"
    );
    // The change is visible to the next read.
    let list = agent.ok(&["list", "--all"]);
    assert!(
        list.lines().any(|l| l.contains("fresh") && l.contains("shut off")),
        "{list}"
    );
    let _ = stream.kill();
    let _ = stream.wait();
}
