//! Harness for the AMQP end-to-end tests: the real `virtbus` binary with
//! the AMQP adapter on the private RabbitMQ node `scripts/test` starts, and
//! Python pika scripts (tests/py/) as consoles and subscribers.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A required environment variable; the test FAILS without it.
pub fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: the AMQP end-to-end tests need the private RabbitMQ node and the \
             Python venv that scripts/test sets up; run them with `scripts/test -p virtbus-amqp`"
        ),
    }
}

pub fn amqp_url() -> String {
    env("VIRTBUS_TEST_AMQP_URL")
}

pub fn python() -> String {
    env("VIRTBUS_TEST_PYTHON")
}

/// The virtbus binary: $VIRTBUS_BIN, else the target dir's debug build.
pub fn virtbus_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("VIRTBUS_BIN") {
        return PathBuf::from(bin);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var("CARGO_TARGET_DIR")
            .ok()
            .map(|d| PathBuf::from(d).join("debug/virtbus")),
        Some(manifest.join("../../target/debug/virtbus")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.exists() {
            return c;
        }
    }
    panic!("virtbus binary not found: build it first with `cargo build -p virtbus` (or set VIRTBUS_BIN)");
}

/// An example binary of this crate (built by `cargo test` of the whole
/// crate, `cargo build --all-targets`, or
/// `cargo build -p virtbus-amqp --example NAME`).
pub fn example_bin(name: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var("CARGO_TARGET_DIR")
            .ok()
            .map(|d| PathBuf::from(d).join("debug/examples").join(name)),
        Some(manifest.join("../../target/debug/examples").join(name)),
    ];
    for c in candidates.into_iter().flatten() {
        if c.exists() {
            return c;
        }
    }
    panic!("example {name} not found: build it first with `cargo build -p virtbus-amqp --example {name}`");
}

pub fn py_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py")
}

/// Runs a Python script from tests/py with `args`; returns its output.
pub fn run_py(script: &str, args: &[&str]) -> Output {
    Command::new(python())
        .arg(py_dir().join(script))
        .args(args)
        .current_dir(py_dir())
        .output()
        .expect("python runs")
}

/// Starts a Python script in the background.
pub fn spawn_py(script: &str, args: &[&str]) -> Child {
    Command::new(python())
        .arg(py_dir().join(script))
        .args(args)
        .current_dir(py_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts")
}

pub fn assert_py_ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A running `virtbus serve` with the AMQP adapter.
pub struct Agent {
    pub child: Child,
    pub state_dir: tempfile::TempDir,
    pub name: String,
    logs: Arc<Mutex<Vec<String>>>,
}

/// How to start an [`Agent`] beyond the defaults of [`Agent::start`].
pub struct AgentOptions<'a> {
    pub instance: &'a str,
    pub writers: &'a [&'a str],
    /// More lines for the `[amqp]` section.
    pub extra_config: &'a str,
    /// Driver URI (`connect`); test:///default when None.
    pub connect: Option<String>,
    /// SNMP listen address; SNMP is off when None.
    pub snmp_listen: Option<String>,
    /// Broker URL; the private test node when None.
    pub url: Option<String>,
    /// Reuse a state directory (an agent restart); a fresh one when None.
    pub state_dir: Option<tempfile::TempDir>,
    /// Wait until the agent logged that it is connected to the broker.
    pub wait_connected: bool,
}

impl<'a> AgentOptions<'a> {
    pub fn new(instance: &'a str, writers: &'a [&'a str]) -> AgentOptions<'a> {
        AgentOptions {
            instance,
            writers,
            extra_config: "",
            connect: None,
            snmp_listen: None,
            url: None,
            state_dir: None,
            wait_connected: true,
        }
    }
}

impl Agent {
    /// Starts an agent with instance `instance`, `writers` allowed to change
    /// things and heartbeats every second; waits until it is connected.
    pub fn start(instance: &str, writers: &[&str], extra_config: &str) -> Agent {
        Agent::start_with(AgentOptions {
            extra_config,
            ..AgentOptions::new(instance, writers)
        })
    }

    pub fn start_with(opts: AgentOptions<'_>) -> Agent {
        let state_dir = match opts.state_dir {
            Some(dir) => dir,
            None => tempfile::tempdir().expect("tempdir"),
        };
        let config = state_dir.path().join("virtbus.toml");
        let writers: Vec<String> = opts.writers.iter().map(|w| format!("\"{w}\"")).collect();
        let connect = opts.connect.unwrap_or_else(|| "test:///default".into());
        let snmp = opts.snmp_listen.unwrap_or_else(|| "off".into());
        std::fs::write(
            &config,
            format!(
                "connect = \"{connect}\"\n[snmp]\nlisten = \"{snmp}\"\n[cim]\nlisten = \"off\"\n[amqp]\nheartbeat_interval = 1\nwriters = [{}]\n{}",
                writers.join(", "),
                opts.extra_config
            ),
        )
        .expect("config written");
        let mut child = Command::new(virtbus_bin())
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(state_dir.path())
            .arg("--agent-name")
            .arg(opts.instance)
            .env("VIRTBUS_AMQP_URL", opts.url.unwrap_or_else(amqp_url))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("virtbus serve starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let stderr = child.stderr.take().expect("stderr piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        let agent = Agent {
            child,
            state_dir,
            name: format!("virtbus:agent:{}", opts.instance),
            logs,
        };
        if opts.wait_connected {
            agent.wait_log("amqp: connected to the broker", Duration::from_secs(60));
        }
        agent.wait_log("ctl: listening", Duration::from_secs(60));
        agent
    }

    /// Kills the agent with SIGKILL and hands back its state directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.state_dir, dir)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn count_log(&self, needle: &str) -> usize {
        self.logs().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until a log line containing `needle` appeared (any time so far).
    pub fn wait_log(&self, needle: &str, limit: Duration) {
        self.wait_log_count(needle, 1, limit)
    }

    pub fn wait_log_count(&self, needle: &str, n: usize, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.count_log(needle) >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "agent did not log '{needle}' {n} time(s) within {limit:?}; logs:\n{}",
            self.logs().join("\n")
        );
    }

    /// `virtbus ctl ARGS`, which must succeed.
    pub fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new(virtbus_bin())
            .arg("ctl")
            .arg("--state-dir")
            .arg(self.state_dir.path())
            .args(args)
            .output()
            .expect("ctl runs");
        assert!(
            out.status.success(),
            "ctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
