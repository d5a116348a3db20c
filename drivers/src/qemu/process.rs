//! qemu processes: spawning, signalling, liveness, and the runtime state a
//! restarted agent reattaches from.
//!
//! qemu runs with `-daemonize`: the spawned process exits once qemu has
//! initialised (the monitor socket listens), or fails with qemu's own error
//! on stderr. The guest process is then nobody's child of ours, the same
//! whether this driver started it or found it after a restart.
//!
//! Runtime state lives in `STATE_DIR/run/`, per domain UUID: `UUID.qmp` (the
//! monitor socket), `UUID.pid` (qemu's pidfile) and `UUID.json`
//! ([`RuntimeState`]: pid, socket, id, live XML, persistence).

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;
use virtbus_schemas::{ErrorCode, VirtError, VirtResult};

/// The files of one domain under `run/`.
#[derive(Debug, Clone)]
pub struct RunFiles {
    pub qmp: PathBuf,
    pub pid: PathBuf,
    pub state: PathBuf,
}

impl RunFiles {
    pub fn new(run_dir: &Path, uuid: Uuid) -> RunFiles {
        RunFiles {
            qmp: run_dir.join(format!("{uuid}.qmp")),
            pid: run_dir.join(format!("{uuid}.pid")),
            state: run_dir.join(format!("{uuid}.json")),
        }
    }

    /// Removes every runtime file; missing ones are fine.
    pub fn remove_all(&self) {
        for path in [&self.qmp, &self.pid, &self.state] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What a running domain needs to be found again after an agent restart.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuntimeState {
    pub uuid: Uuid,
    pub pid: i32,
    pub id: u32,
    pub qmp: PathBuf,
    /// The live definition (`dumpxml` of the running guest).
    pub live_xml: String,
    /// The persistent definition for the next boot, when it differs.
    pub inactive_xml: Option<String>,
    pub persistent: bool,
    pub autostart: bool,
    /// `virDomainState` and reason numbers at the last change.
    pub state: i32,
    pub reason: i32,
}

impl RuntimeState {
    /// Writes the state atomically (temp file, fsync, rename).
    pub fn save(&self, path: &Path) -> VirtResult<()> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| VirtError::internal(format!("cannot encode runtime state of {}: {e}", self.uuid)))?;
        let tmp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            VirtError::new(
                ErrorCode::WriteFailed,
                format!("cannot write runtime state '{}': {e}", path.display()),
            )
        })
    }

    pub fn load(path: &Path) -> Result<RuntimeState, String> {
        let text = std::fs::read(path).map_err(|e| e.to_string())?;
        serde_json::from_slice(&text).map_err(|e| e.to_string())
    }
}

/// How long qemu may take to initialise before the start is abandoned.
pub const SPAWN_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts `emulator args... -pidfile P -daemonize` and returns qemu's pid
/// once it has initialised. On failure the error carries qemu's stderr and
/// no process or file is left behind.
pub fn spawn(emulator: &Path, args: &[String], files: &RunFiles) -> VirtResult<i32> {
    let _ = std::fs::remove_file(&files.pid);
    let _ = std::fs::remove_file(&files.qmp);
    let mut child = Command::new(emulator)
        .args(args)
        .arg("-pidfile")
        .arg(&files.pid)
        .arg("-daemonize")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .spawn()
        .map_err(|e| VirtError::operation_failed(format!("cannot execute emulator '{}': {e}", emulator.display())))?;
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(err) = stderr.as_mut() {
            let _ = std::io::Read::read_to_string(err, &mut text);
        }
        text
    });
    let deadline = Instant::now() + SPAWN_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                kill_from_pidfile(files);
                files.remove_all();
                return Err(VirtError::new(
                    ErrorCode::OperationTimeout,
                    format!("qemu did not finish initialising within {SPAWN_TIMEOUT:?}"),
                ));
            }
            Err(e) => return Err(VirtError::operation_failed(format!("cannot wait for qemu: {e}"))),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    if !status.success() {
        kill_from_pidfile(files);
        files.remove_all();
        let msg = stderr.trim();
        return Err(VirtError::operation_failed(format!(
            "qemu failed to start ({status}): {}",
            if msg.is_empty() { "no error message" } else { msg }
        )));
    }
    match read_pidfile(&files.pid) {
        Some(pid) => Ok(pid),
        None => {
            files.remove_all();
            Err(VirtError::operation_failed(format!(
                "qemu started but wrote no pid to '{}'",
                files.pid.display()
            )))
        }
    }
}

fn kill_from_pidfile(files: &RunFiles) {
    if let Some(pid) = read_pidfile(&files.pid) {
        signal(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

pub fn read_pidfile(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends `sig` to `pid`; a process already gone is not an error.
pub fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    if pid > 1 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// Whether `pid` is a live (not zombie) qemu of the domain `uuid`: the uuid
/// on its command line guards against a recycled pid.
pub fn is_alive(pid: i32, uuid: Uuid) -> bool {
    if pid <= 1 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, Some('Z') | Some('X') | None) {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmd| {
            let text = String::from_utf8_lossy(&cmd);
            text.contains(&uuid.to_string())
        })
        .unwrap_or(false)
}

/// Waits until `pid` is gone, at most `timeout`; true if it went.
pub fn wait_gone(pid: i32, uuid: Uuid, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_alive(pid, uuid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Total cpu time of `pid` (user + system), nanoseconds, from `/proc`.
pub fn cpu_time_ns(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(0) ... utime(11) stime(12), in clock ticks.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|h| *h > 0)
        .unwrap_or(100) as u64;
    Some((utime + stime).saturating_mul(1_000_000_000 / hz))
}
