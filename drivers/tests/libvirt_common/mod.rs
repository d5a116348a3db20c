//! Shared helpers of the libvirt proxy's end-to-end tests: the real `virtbus`
//! binary ([`Agent`], driven with `virtbus ctl`) and a private `libvirtd`
//! ([`PrivateLibvirtd`]) with its qemu driver, driven with `virsh`.
//!
//! The binary comes from `$VIRTBUS_BIN`, else `$CARGO_TARGET_DIR/debug/virtbus`,
//! else the workspace's `target/debug/virtbus`; it must be built with the
//! `libvirt` feature (`cargo build -p virtbus --features
//! virtbus-drivers/libvirt`; scripts/test builds the workspace with the test
//! features first).

#![allow(dead_code)]

#[path = "../peers/mod.rs"]
mod peers;
use parking_lot::Mutex;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

pub fn binary() -> PathBuf {
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

/// Polls `probe` every 50 ms until it gives a value or `limit` passed.
pub fn wait_for<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `virtbus serve` process; killed when dropped.
pub struct Agent {
    child: Child,
    pub state_dir: PathBuf,
    /// Everything the agent logged so far.
    logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a finished `virtbus ctl` printed.
pub struct CtlRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Agent {
    /// Starts `virtbus serve --connect URI` on `state_dir` (adapters off) and
    /// waits until its control socket listens.
    pub fn start(uri: &str, state_dir: &Path) -> Agent {
        Agent::start_with(uri, state_dir, &["--snmp-listen", "off"])
    }

    /// Like [`Agent::start`], with more `serve` flags (CIM stays off).
    pub fn start_with(uri: &str, state_dir: &Path, extra: &[&str]) -> Agent {
        let mut child = Command::new(binary())
            .args(["serve", "--connect", uri, "--state-dir"])
            .arg(state_dir)
            .args(["--cim-listen", "off"])
            .args(extra)
            .env_remove("VIRTBUS_AMQP_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("virtbus serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().push(line);
            }
        });
        let mut agent = Agent {
            child,
            state_dir: state_dir.to_path_buf(),
            logs,
        };
        let ready = wait_for(Duration::from_secs(60), || {
            if let Ok(Some(status)) = agent.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("agent exited with {status}; logs:\n{}", agent.logs());
            }
            agent.has_logged("ctl: listening").then_some(())
        });
        assert!(ready.is_some(), "agent not ready; logs:\n{}", agent.logs());
        agent
    }

    pub fn logs(&self) -> String {
        self.logs.lock().join("\n")
    }

    pub fn has_logged(&self, needle: &str) -> bool {
        self.logs.lock().iter().any(|l| l.contains(needle))
    }

    /// Waits until the agent logged a line containing `needle`.
    pub fn wait_log(&self, needle: &str, limit: Duration) {
        let seen = wait_for(limit, || self.has_logged(needle).then_some(()));
        assert!(seen.is_some(), "agent never logged {needle:?}; logs:\n{}", self.logs());
    }

    pub fn run(&self, args: &[&str]) -> CtlRun {
        let out = Command::new(binary())
            .arg("ctl")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(args)
            .output()
            .expect("virtbus ctl runs");
        CtlRun {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(run.success, "ctl {args:?} failed: {}", run.stderr);
        run.stdout
    }

    pub fn fails(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(!run.success, "ctl {args:?} unexpectedly succeeded");
        run.stderr
    }

    /// `virtbus ctl events`, as parsed JSON lines.
    pub fn events(&self) -> EventStream {
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
        EventStream { child, rx }
    }
}

/// A running `virtbus ctl events`; stopped when dropped.
pub struct EventStream {
    child: Child,
    pub rx: mpsc::Receiver<serde_json::Value>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EventStream {
    /// The next event, waiting at most `limit`.
    pub fn next(&self, limit: Duration) -> Option<serde_json::Value> {
        self.rx.recv_timeout(limit).ok()
    }
}

pub fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a udp port");
    socket.local_addr().expect("local addr").port()
}

/// libvirtGuestState (LIBVIRT-MIB) of the domain `uuid` through net-snmp's
/// snmpget against the agent's SNMP adapter on `port`.
pub fn snmp_guest_state(port: u16, uuid: &str) -> i64 {
    let hex: String = uuid.trim().chars().filter(|c| *c != '-').collect();
    assert_eq!(hex.len(), 32, "uuid {uuid}");
    // The index is the 16 UUID bytes as sub-identifiers (libvirt-snmp's).
    let index: Vec<String> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex").to_string())
        .collect();
    let oid = format!(".1.3.6.1.4.1.36957.1.1.1.3.{}", index.join("."));
    let out = Command::new("snmpget")
        .args(["-v2c", "-c", "public", "-On", "-Oqv", "-r", "2", "-t", "5"])
        .arg(format!("udp:127.0.0.1:{port}"))
        .arg(&oid)
        .output()
        .expect("snmpget runs (scripts/test installs net-snmp's snmp package)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "snmpget {oid}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("libvirtGuestState is not a number: {text}"))
}

/// Which socket a [`PrivateLibvirtd`] listens on: the one virtbus is told
/// about, or another one, so virsh can change things while virtbus cannot
/// reach the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socket {
    Main,
    Side,
}

impl Socket {
    fn name(self) -> &'static str {
        match self {
            Socket::Main => "main",
            Socket::Side => "side",
        }
    }
}

/// A private `libvirtd` in session mode: its own config, runtime, cache and
/// log directories and unix socket, all in a temporary directory, never a
/// system daemon's. libvirtd runs in session mode only for an unprivileged
/// user (as root it would use the system's /etc/libvirt and /run/libvirt),
/// so under root it runs as `nobody` (65534) through `setpriv`; root's virsh
/// and virtbus reach its socket anyway. Its qemu driver runs real TCG guests.
/// Dropping it destroys its guests and stops it.
pub struct PrivateLibvirtd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// The daemon, or a failure telling how to get it: these tests never pass
/// without a real libvirtd.
fn libvirtd_binary() -> PathBuf {
    peers::peer_binary(
        "VIRTBUS_TEST_LIBVIRTD",
        "/usr/sbin/libvirtd",
        "libvirt-daemon, libvirt-daemon-driver-qemu and libvirt-clients",
    )
}

pub fn virsh_binary() -> PathBuf {
    peers::peer_binary("VIRTBUS_TEST_VIRSH", "/usr/bin/virsh", "libvirt-clients")
}

pub fn qemu_binary() -> PathBuf {
    peers::peer_binary("VIRTBUS_TEST_QEMU", "/usr/bin/qemu-system-x86_64", "qemu-system-x86")
}

/// A disk-less 64 MiB TCG guest: it idles in its firmware, enough for
/// lifecycle work.
pub fn tiny_guest_xml(name: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>{}</emulator></devices></domain>",
        qemu_binary().display()
    )
}

const RUN_AS_NOBODY: u32 = 65534;

impl PrivateLibvirtd {
    /// Lays out the directories and starts the daemon on [`Socket::Main`].
    pub fn start() -> PrivateLibvirtd {
        let _ = libvirtd_binary();
        let dir = tempfile::Builder::new()
            .prefix("virtbus-libvirtd.")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        let as_root = nix::unistd::geteuid().is_root();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for sub in ["home", "config", "runtime", "cache", "log", "sock-main", "sock-side"] {
            let path = root.join(sub);
            std::fs::create_dir(&path).expect("mkdir");
            let mode = if sub == "runtime" { 0o700 } else { 0o755 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            if as_root {
                let id = Some(nix::unistd::Uid::from_raw(RUN_AS_NOBODY));
                let gid = Some(nix::unistd::Gid::from_raw(RUN_AS_NOBODY));
                nix::unistd::chown(&path, id, gid).expect("chown to nobody");
            }
        }
        for socket in [Socket::Main, Socket::Side] {
            // Loopback only: unix sockets, no TCP listener (libvirtd listens on
            // TCP only with --listen).
            let conf = format!(
                "unix_sock_dir = \"{}\"\nlog_outputs = \"3:file:{}\"\n",
                root.join(format!("sock-{}", socket.name())).display(),
                root.join("log/libvirtd.log").display()
            );
            std::fs::write(root.join(format!("{}.conf", socket.name())), conf).expect("write libvirtd.conf");
        }
        let mut daemon = PrivateLibvirtd { dir, child: None };
        daemon.start_on(Socket::Main);
        daemon
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The libvirt URI of the daemon on `socket`.
    pub fn uri_of(&self, socket: Socket) -> String {
        format!(
            "qemu+unix:///session?socket={}/sock-{}/libvirt-sock",
            self.path().display(),
            socket.name()
        )
    }

    /// The URI virtbus is given.
    pub fn uri(&self) -> String {
        self.uri_of(Socket::Main)
    }

    /// Starts the daemon (same state, configuration for `socket`) and waits
    /// until virsh reaches it.
    pub fn start_on(&mut self, socket: Socket) {
        assert!(self.child.is_none(), "libvirtd already runs");
        let root = self.path().to_path_buf();
        let mut cmd = if nix::unistd::geteuid().is_root() {
            let mut c = Command::new("setpriv");
            c.args([
                format!("--reuid={RUN_AS_NOBODY}"),
                format!("--regid={RUN_AS_NOBODY}"),
                "--clear-groups".into(),
                "--".into(),
            ])
            .arg(libvirtd_binary());
            c
        } else {
            Command::new(libvirtd_binary())
        };
        cmd.arg("--config")
            .arg(root.join(format!("{}.conf", socket.name())))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", root.join("home"))
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_RUNTIME_DIR", root.join("runtime"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("libvirtd starts");
        self.child = Some(child);
        let uri = self.uri_of(socket);
        let up = wait_for(Duration::from_secs(60), || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("libvirtd exited with {status}; log:\n{}", self.log());
            }
            let out = self.virsh_on(&uri, &["uri"]);
            out.status.success().then_some(())
        });
        assert!(up.is_some(), "libvirtd did not come up; log:\n{}", self.log());
    }

    /// Stops the daemon (SIGTERM, as a service manager does) and waits for it
    /// to exit. Its guests keep running; the next start reattaches to them.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let exited = wait_for(Duration::from_secs(30), || child.try_wait().ok().flatten());
        if exited.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` to the daemon (SIGSTOP: it hangs without closing its
    /// sockets; SIGCONT: it goes on).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let child = self.child.as_ref().expect("libvirtd runs");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).expect("signal libvirtd");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("log/libvirtd.log")).unwrap_or_default()
    }

    pub fn virsh_on(&self, uri: &str, args: &[&str]) -> Output {
        Command::new(virsh_binary())
            .arg("-q")
            .arg("-c")
            .arg(uri)
            .args(args)
            .output()
            .expect("virsh runs")
    }

    /// Runs virsh against the daemon on `socket`; it must succeed.
    pub fn virsh_ok_on(&self, socket: Socket, args: &[&str]) -> String {
        let out = self.virsh_on(&self.uri_of(socket), args);
        assert!(
            out.status.success(),
            "virsh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn virsh_ok(&self, args: &[&str]) -> String {
        self.virsh_ok_on(Socket::Main, args)
    }

    /// Writes a guest definition into the daemon's directory and returns its
    /// path (for `virsh define` / `virtbus ctl define`).
    pub fn guest_file(&self, name: &str) -> PathBuf {
        let path = self.path().join(format!("{name}.xml"));
        std::fs::write(&path, tiny_guest_xml(name)).expect("write guest xml");
        path
    }

    /// A directory in the daemon's area that the daemon's user owns (a
    /// `dir` pool's target).
    pub fn owned_dir(&self, name: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::create_dir_all(&path).expect("mkdir");
        if nix::unistd::geteuid().is_root() {
            let id = Some(nix::unistd::Uid::from_raw(RUN_AS_NOBODY));
            let gid = Some(nix::unistd::Gid::from_raw(RUN_AS_NOBODY));
            nix::unistd::chown(&path, id, gid).expect("chown to nobody");
        }
        path
    }

    /// `virsh domstate NAME` (e.g. `running`, `paused`, `shut off`).
    pub fn domstate(&self, name: &str) -> String {
        self.virsh_ok(&["domstate", name]).trim().to_string()
    }

    /// `virsh event --all --loop` on the main socket: libvirt's own event
    /// stream, as `(domain, "Started Booted")` pairs.
    pub fn virsh_events(&self) -> VirshEvents {
        let mut child = Command::new(virsh_binary())
            .args(["-c", &self.uri(), "event", "--all", "--loop"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("virsh event starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // event 'lifecycle' for domain 'g1': Started Booted
                let Some(rest) = line.strip_prefix("event 'lifecycle' for domain '") else {
                    continue;
                };
                if let Some((name, what)) = rest.split_once("': ") {
                    if tx.send((name.to_string(), what.to_string())).is_err() {
                        break;
                    }
                }
            }
        });
        VirshEvents { child, rx }
    }

    /// Qemu processes of this daemon still alive (their command lines name
    /// the daemon's directory).
    fn leftover_qemu(&self) -> Vec<i32> {
        let run = self.path().join("runtime/libvirt/qemu/run");
        let root = self.path().display().to_string();
        std::fs::read_dir(run)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse::<i32>().ok())
                    .filter(|pid| {
                        std::fs::read(format!("/proc/{pid}/cmdline"))
                            .map(|c| String::from_utf8_lossy(&c).contains(&root))
                            .unwrap_or(false)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for PrivateLibvirtd {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A test that failed while the daemon was stopped must not leave
            // it hanging.
            self.signal(nix::sys::signal::Signal::SIGCONT);
            let uri = self.uri();
            if let Ok(out) = Command::new(virsh_binary())
                .args(["-q", "-c", &uri, "list", "--name"])
                .output()
            {
                for name in String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()) {
                    let _ = self.virsh_on(&uri, &["destroy", name]);
                }
            }
        }
        self.stop();
        // Guests the daemon could not destroy (it was stopped at the time):
        // only the processes it started for this directory.
        for pid in self.leftover_qemu() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// A running `virsh event --all --loop`; stopped when dropped.
pub struct VirshEvents {
    child: Child,
    pub rx: mpsc::Receiver<(String, String)>,
}

impl Drop for VirshEvents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How virsh prints a lifecycle event (`tools/virsh-domain-event.c` of
/// libvirt 9.0.0): the event's word, then its detail's text, by number.
pub fn virsh_event_text(event: &str, detail_code: i64) -> String {
    let (word, details): (&str, &[&str]) = match event {
        "DEFINED" => ("Defined", &["Added", "Updated", "Renamed", "Snapshot"]),
        "UNDEFINED" => ("Undefined", &["Removed", "Renamed"]),
        "STARTED" => (
            "Started",
            &["Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"],
        ),
        "SUSPENDED" => (
            "Suspended",
            &[
                "Paused",
                "Migrated",
                "I/O Error",
                "Watchdog",
                "Restored",
                "Snapshot",
                "API error",
                "Post-copy",
                "Post-copy Error",
            ],
        ),
        "RESUMED" => (
            "Resumed",
            &["Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"],
        ),
        "STOPPED" => (
            "Stopped",
            &[
                "Shutdown",
                "Destroyed",
                "Crashed",
                "Migrated",
                "Saved",
                "Failed",
                "Snapshot",
            ],
        ),
        "SHUTDOWN" => (
            "Shutdown",
            &[
                "Finished",
                "Finished after guest request",
                "Finished after host request",
            ],
        ),
        "PMSUSPENDED" => ("PMSuspended", &["Memory", "Disk"]),
        "CRASHED" => ("Crashed", &["Panicked", "Crashloaded"]),
        other => panic!("unknown event {other}"),
    };
    let detail = usize::try_from(detail_code)
        .ok()
        .and_then(|i| details.get(i))
        .unwrap_or_else(|| panic!("unknown detail {detail_code} of {event}"));
    format!("{word} {detail}")
}
