//! qemu processes: spawning, signalling, liveness, and the runtime state a
//! restarted agent reattaches from.
//!
//! qemu runs in its own process group with its stderr in `UUID.log`; a start
//! is complete once the monitor socket accepts connections. Liveness is
//! judged from `/proc` (pid plus the UUID on the command line), the same
//! whether this driver started the guest or found it after a restart.
//!
//! Runtime state lives in `STATE_DIR/run/`, per domain UUID: `UUID.qmp` (the
//! monitor socket), `UUID.pid` (qemu's pidfile), `UUID.log` and `UUID.json`
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
    /// qemu's stderr.
    pub log: PathBuf,
}

impl RunFiles {
    pub fn new(run_dir: &Path, uuid: Uuid) -> RunFiles {
        RunFiles {
            qmp: run_dir.join(format!("{uuid}.qmp")),
            pid: run_dir.join(format!("{uuid}.pid")),
            state: run_dir.join(format!("{uuid}.json")),
            log: run_dir.join(format!("{uuid}.log")),
        }
    }

    /// Removes every runtime file; missing ones are fine.
    pub fn remove_all(&self) {
        for path in [&self.qmp, &self.pid, &self.state, &self.log] {
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

/// Replaces `path` with `data` atomically: a temporary file beside it
/// (`NAME.tmp`), fsync, rename. For the driver's runtime files under `run/`.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl RuntimeState {
    /// Writes the state atomically (temp file, fsync, rename).
    pub fn save(&self, path: &Path) -> VirtResult<()> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| VirtError::internal(format!("cannot encode runtime state of {}: {e}", self.uuid)))?;
        write_atomic(path, &text).map_err(|e| {
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

/// Starts `emulator args... -pidfile P` in its own process group, with
/// stderr to the domain's log file, and waits until its monitor socket
/// accepts connections. On failure the error carries qemu's own message
/// (from the log) and no process or file is left behind.
///
/// qemu stays a child of this process (`-daemonize` would fork, which the
/// `-sandbox ... spawn=deny` policy forbids); a thread reaps it when it
/// exits. After an agent restart the init process does.
pub fn spawn(emulator: &Path, args: &[String], files: &RunFiles) -> VirtResult<i32> {
    use std::os::unix::process::CommandExt;
    let _ = std::fs::remove_file(&files.pid);
    let _ = std::fs::remove_file(&files.qmp);
    let log = std::fs::File::create(&files.log)
        .map_err(|e| VirtError::operation_failed(format!("cannot create qemu log '{}': {e}", files.log.display())))?;
    let mut child = Command::new(emulator)
        .args(args)
        .arg("-pidfile")
        .arg(&files.pid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .env("LC_ALL", "C")
        .process_group(0)
        .spawn()
        .map_err(|e| {
            files.remove_all();
            VirtError::operation_failed(format!("cannot execute emulator '{}': {e}", emulator.display()))
        })?;
    let pid = child.id() as i32;
    let deadline = Instant::now() + SPAWN_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let text = std::fs::read_to_string(&files.log).unwrap_or_default();
                files.remove_all();
                let msg = text.trim();
                return Err(VirtError::operation_failed(format!(
                    "qemu failed to start ({status}): {}",
                    if msg.is_empty() { "no error message" } else { msg }
                )));
            }
            Ok(None) => {}
            Err(e) => return Err(VirtError::operation_failed(format!("cannot wait for qemu: {e}"))),
        }
        if std::os::unix::net::UnixStream::connect(&files.qmp).is_ok() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            files.remove_all();
            return Err(VirtError::new(
                ErrorCode::OperationTimeout,
                format!("qemu did not open its monitor within {SPAWN_TIMEOUT:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = std::thread::Builder::new()
        .name("virtbus-qemu-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        });
    Ok(pid)
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
