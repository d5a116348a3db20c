//! Harness for end-to-end tests: runs the real `virtbus` binary as an agent
//! on a private state directory and drives it with `virtbus ctl`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_virtbus");

pub struct Agent {
    pub child: Child,
    pub state_dir: PathBuf,
    /// Lines the agent logged on stderr, collected by a reader thread.
    logs: mpsc::Receiver<String>,
    pub log_lines: Vec<String>,
}

impl Agent {
    /// Starts `virtbus serve` with `args` on `state_dir` and waits until its
    /// control socket answers.
    pub fn start(state_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Agent {
        Agent::start_wrapped(&[], state_dir, args, envs)
    }

    /// Like [`Agent::start`], with the agent run through `wrapper` (e.g.
    /// `ip netns exec NS`, which execs it: the child is the agent itself).
    pub fn start_wrapped(wrapper: &[&str], state_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Agent {
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(BIN);
                cmd
            }
            None => Command::new(BIN),
        };
        cmd.arg("serve")
            .arg("--state-dir")
            .arg(state_dir)
            .args(args)
            .env_remove("VIRTBUS_AMQP_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("virtbus serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut agent = Agent {
            child,
            state_dir: state_dir.to_path_buf(),
            logs: rx,
            log_lines: Vec::new(),
        };
        agent.wait_ready(Duration::from_secs(60));
        agent
    }

    fn wait_ready(&mut self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain_logs();
                panic!("agent exited early with {status}; logs:\n{}", self.log_lines.join("\n"));
            }
            self.drain_logs();
            if self.log_lines.iter().any(|l| l.contains("ctl: listening")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("agent not ready within {limit:?}; logs:\n{}", self.log_lines.join("\n"));
    }

    pub fn drain_logs(&mut self) -> &[String] {
        while let Ok(line) = self.logs.try_recv() {
            self.log_lines.push(line);
        }
        &self.log_lines
    }

    pub fn socket(&self) -> PathBuf {
        self.state_dir.join("virtbus.sock")
    }

    /// Runs `virtbus ctl ARGS` against this agent.
    pub fn ctl(&self, args: &[&str]) -> Output {
        ctl(&self.state_dir, args)
    }

    /// Runs a ctl command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "ctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a ctl command that must fail; returns its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(!out.status.success(), "ctl {args:?} unexpectedly succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        signal(&self.child, "TERM");
        let status = wait_exit(&mut self.child, Duration::from_secs(30));
        self.drain_logs();
        status
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        signal(&self.child, "KILL");
        wait_exit(&mut self.child, Duration::from_secs(30));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ctl(state_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("ctl")
        .arg("--state-dir")
        .arg(state_dir)
        .args(args)
        .output()
        .expect("virtbus ctl runs")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        assert!(started.elapsed() < limit, "agent did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A libvirt test-driver node file with `n` domains; odd ones are shut off.
pub fn node_file(dir: &Path, n: usize) -> PathBuf {
    let mut xml = String::from("<node>\n<cpu><mhz>2000</mhz><model>x86_64</model><active>4</active><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>2</threads></cpu>\n<memory>16777216</memory>\n");
    for i in 0..n {
        let runstate = if i % 2 == 1 {
            "<test:runstate>5</test:runstate>"
        } else {
            ""
        };
        xml.push_str(&format!(
            "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>dom-{i:05}</name><uuid>{}</uuid><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>{runstate}</domain>\n",
            uuid_for(i)
        ));
    }
    xml.push_str("<pool type='dir'><name>pool0</name><uuid>00000000-0000-0000-0000-00000000aaaa</uuid><target><path>/pool0</path></target><volume type='file'><name>seed.img</name><capacity>1048576</capacity></volume></pool>\n");
    xml.push_str(
        "<network><name>net0</name><uuid>00000000-0000-0000-0000-00000000bbbb</uuid><bridge name='br0'/></network>\n",
    );
    xml.push_str("</node>\n");
    let path = dir.join(format!("node-{n}.xml"));
    std::fs::write(&path, xml).expect("node file written");
    path
}

pub fn uuid_for(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// Streams `virtbus ctl events` into a channel of JSON values.
pub struct EventStream {
    child: Child,
    pub rx: mpsc::Receiver<serde_json::Value>,
}

impl EventStream {
    pub fn open(state_dir: &Path) -> EventStream {
        let mut child = Command::new(BIN)
            .arg("ctl")
            .arg("--state-dir")
            .arg(state_dir)
            .arg("events")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ctl events starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
        // The banner comes once the agent has subscribed us.
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
        EventStream { child, rx }
    }

    pub fn next(&self) -> serde_json::Value {
        self.rx
            .recv_timeout(Duration::from_secs(10))
            .expect("an event within 10 s")
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
