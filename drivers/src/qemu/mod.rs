//! The native `qemu:///system` / `qemu:///session` driver: what libvirt's qemu
//! driver does, without libvirt.
//!
//! Layout:
//! - [`argv`]: the qemu command line from a domain definition (libvirt 9.0's
//!   shape, checked against its `qemuxml2argvdata`).
//! - [`qmp`]: the QMP client (greeting, capabilities, commands, events).
//! - [`process`]: spawning (`-daemonize`), signals, liveness, runtime state
//!   under `STATE_DIR/run/qemu/` for reattaching after a restart.
//! - `domains.rs`: [`HypervisorDriver`](crate::HypervisorDriver) for
//!   [`QemuDriver`]; `lifecycle.rs`: starting, stopping and reattaching one
//!   guest; `events.rs`: QMP events → libvirt lifecycle events.
//! - `netstats.rs`: interface counters from the host side of tap devices.
//! - `storage.rs`: `dir` pools and their volumes through `qemu-img`.
//! - `hotplug.rs`: vcpu hotplug of running guests (`query-hotpluggable-cpus`,
//!   `device_add`/`device_del`).
//! - `host.rs`: node info.
//! - [`network`]: virtual networks (bridge, dnsmasq, nftables; root only)
//!   and `taps.rs`, the tap devices of guests' `type='network'` interfaces.
//!
//! Calls block (spawning qemu, waiting for QMP); the connection is marked
//! `blocking` so the actors run them off their threads. Changes qemu makes on
//! its own (the guest paused on an I/O error, powered off, qemu killed) go
//! out as [`DriverNotice`]s after the driver's state already shows them.

pub mod argv;
mod domains;
mod events;
mod host;
mod hotplug;
mod lifecycle;
mod netstats;
pub(crate) mod network;
pub mod process;
pub mod qmp;
mod storage;
mod taps;

use crate::model::DriverNotice;
use crate::pool_obj::PoolObj;
use domains::DomObj;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use virtbus_schemas::{ErrorCode, VirtError, VirtResult};

/// Emulators a domain may name in `<emulator>` unless configured otherwise.
pub const DEFAULT_EMULATORS: &[&str] = &[
    "/usr/bin/qemu-system-x86_64",
    "/usr/bin/qemu-system-i386",
    "/usr/bin/qemu-kvm",
    "/usr/libexec/qemu-kvm",
];

/// How the driver runs.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    /// The agent's state dir; runtime state goes to `STATE_DIR/run/qemu/`.
    pub state_dir: PathBuf,
    /// `qemu:///system` as root: tap and bridge interfaces are allowed.
    pub privileged: bool,
    /// The only emulator binaries a domain may run.
    pub emulators: Vec<PathBuf>,
    /// Used when a domain names no `<emulator>`.
    pub default_emulator: PathBuf,
    /// How long destroy waits after SIGTERM before SIGKILL (libvirt: 10 s).
    pub destroy_grace: Duration,
    /// How long a QMP command may take.
    pub qmp_timeout: Duration,
    /// When set, a shutdown the guest has not completed after this long is
    /// turned into a destroy.
    pub shutdown_fallback: Option<Duration>,
}

impl QemuConfig {
    /// The configuration for `uri` (`qemu:///system`, `qemu:///session`, with
    /// optional parameters `statedir=PATH` and `shutdown_timeout=SECONDS`, the
    /// time after which a shutdown the guest ignores becomes a destroy; 0 or
    /// absent: never), the environment filling in the rest:
    /// `VIRTBUS_STATE_DIR` (state dir), `VIRTBUS_QEMU_EMULATORS` (a
    /// colon-separated allow-list replacing the default one).
    pub fn from_uri(uri: &str) -> VirtResult<QemuConfig> {
        let rest = uri
            .strip_prefix("qemu://")
            .ok_or_else(|| VirtError::new(ErrorCode::NoConnect, format!("not a qemu URI: '{uri}'")))?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let system = match path {
            "/system" => true,
            "/session" => false,
            other => {
                return Err(VirtError::new(
                    ErrorCode::NoConnect,
                    format!("unsupported qemu URI path '{other}' in '{uri}': use qemu:///system or qemu:///session"),
                ))
            }
        };
        let mut state_dir = None;
        let mut shutdown_fallback = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("statedir", v)) if !v.is_empty() => state_dir = Some(PathBuf::from(v)),
                Some(("shutdown_timeout", v)) => {
                    let secs: u64 = v.parse().map_err(|_| {
                        VirtError::invalid_arg(format!(
                            "shutdown_timeout '{v}' in qemu URI '{uri}' is not a number of seconds"
                        ))
                    })?;
                    shutdown_fallback = (secs > 0).then(|| Duration::from_secs(secs));
                }
                _ => {
                    return Err(VirtError::invalid_arg(format!(
                    "unknown parameter '{pair}' in qemu URI '{uri}' (known: statedir=PATH, shutdown_timeout=SECONDS)"
                )))
                }
            }
        }
        let root = nix::unistd::geteuid().is_root();
        if system && !root {
            return Err(VirtError::new(
                ErrorCode::OperationDenied,
                "qemu:///system needs root privileges; use qemu:///session",
            ));
        }
        let state_dir = state_dir
            .or_else(|| std::env::var_os("VIRTBUS_STATE_DIR").map(PathBuf::from))
            .unwrap_or_else(|| default_state_dir(root));
        let emulators: Vec<PathBuf> = match std::env::var("VIRTBUS_QEMU_EMULATORS") {
            Ok(list) if !list.trim().is_empty() => {
                list.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect()
            }
            _ => DEFAULT_EMULATORS.iter().map(PathBuf::from).collect(),
        };
        let default_emulator = emulators
            .iter()
            .find(|p| p.exists())
            .cloned()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_EMULATORS[0]));
        Ok(QemuConfig {
            state_dir,
            privileged: system && root,
            emulators,
            default_emulator,
            destroy_grace: Duration::from_secs(10),
            qmp_timeout: Duration::from_secs(30),
            shutdown_fallback,
        })
    }

    pub fn run_dir(&self) -> PathBuf {
        self.state_dir.join("run").join("qemu")
    }

    /// Runtime state of active virtual networks.
    pub fn network_run_dir(&self) -> PathBuf {
        self.state_dir.join("run").join("network")
    }
}

fn default_state_dir(root: bool) -> PathBuf {
    if root {
        return PathBuf::from("/var/lib/virtbus");
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return Path::new(&dir).join("virtbus");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    Path::new(&home).join(".local/state/virtbus")
}

/// The driver's shared state.
pub(crate) struct Inner {
    config: QemuConfig,
    domains: RwLock<HashMap<Uuid, Arc<Mutex<DomObj>>>>,
    names: Mutex<HashMap<String, Uuid>>,
    /// Disk paths of running guests → (guest, shareable).
    active_disks: Mutex<HashMap<String, (Uuid, bool)>>,
    pools: RwLock<HashMap<Uuid, Arc<Mutex<PoolObj>>>>,
    networks: RwLock<HashMap<Uuid, Arc<Mutex<network::NetObj>>>>,
    /// Name, bridge and subnet of each active network, for collision checks.
    active_networks: Mutex<HashMap<Uuid, network::host::ActiveSummary>>,
    /// Held while a network starts (collision check to bridge made).
    network_start: Mutex<()>,
    next_id: AtomicU32,
    /// Distinguishes one run of a guest from the next, so a late event of a
    /// stopped qemu never touches its successor.
    next_generation: AtomicU64,
    notices: crossbeam_channel::Sender<DriverNotice>,
    kvm: bool,
}

/// The qemu driver. Cheap to clone.
#[derive(Clone)]
pub struct QemuDriver {
    inner: Arc<Inner>,
}

impl QemuDriver {
    /// Opens the driver: creates the run dir and reattaches to the guests
    /// whose runtime state it finds there. Returns the notice receiver.
    pub fn open(config: QemuConfig) -> VirtResult<(QemuDriver, crossbeam_channel::Receiver<DriverNotice>)> {
        for run_dir in [config.run_dir(), config.network_run_dir()] {
            std::fs::create_dir_all(&run_dir).map_err(|e| {
                VirtError::new(
                    ErrorCode::OpenFailed,
                    format!("cannot create the run dir '{}': {e}", run_dir.display()),
                )
            })?;
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let inner = Arc::new(Inner {
            config,
            domains: RwLock::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
            active_disks: Mutex::new(HashMap::new()),
            pools: RwLock::new(HashMap::new()),
            networks: RwLock::new(HashMap::new()),
            active_networks: Mutex::new(HashMap::new()),
            network_start: Mutex::new(()),
            next_id: AtomicU32::new(1),
            next_generation: AtomicU64::new(1),
            notices: tx,
            kvm: argv::kvm_usable(),
        });
        // Networks first: guests found again keep their taps on the bridges.
        network::reattach_all(&inner);
        lifecycle::reattach_all(&inner);
        Ok((QemuDriver { inner }, rx))
    }

    pub fn config(&self) -> &QemuConfig {
        &self.inner.config
    }

    /// The pid of a running guest's qemu (tests, benchmarks).
    pub fn pid_of(&self, uuid: Uuid) -> Option<i32> {
        let cell = self.inner.domains.read().get(&uuid).cloned()?;
        let obj = cell.lock();
        obj.run.as_ref().map(|r| r.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parameters() {
        let c = QemuConfig::from_uri("qemu:///session?statedir=/tmp/vb&shutdown_timeout=30").expect("valid");
        assert_eq!(c.state_dir, PathBuf::from("/tmp/vb"));
        assert_eq!(c.shutdown_fallback, Some(Duration::from_secs(30)));
        let c = QemuConfig::from_uri("qemu:///session?shutdown_timeout=0").expect("valid");
        assert_eq!(c.shutdown_fallback, None, "0 turns the fall-back off");
        let c = QemuConfig::from_uri("qemu:///session").expect("valid");
        assert_eq!(c.shutdown_fallback, None);
        for bad in [
            "qemu:///session?shutdown_timeout=soon",
            "qemu:///session?shutdown_timeout=-1",
            "qemu:///session?colour=blue",
        ] {
            let err = QemuConfig::from_uri(bad).expect_err(bad);
            assert_eq!(err.code, ErrorCode::InvalidArg, "{bad}: {err}");
        }
        let err = QemuConfig::from_uri("qemu:///elsewhere").expect_err("path");
        assert_eq!(err.code, ErrorCode::NoConnect);
    }
}
