//! Opening a driver by connection URI.

use crate::link::LinkStatus;
use crate::qemu::{QemuConfig, QemuDriver};
use crate::test::TestDriver;
use crate::traits::{HypervisorDriver, NetworkDriver, NodeDriver, StorageDriver};
use std::sync::Arc;
use virtbus_schemas::{ErrorCode, VirtError, VirtResult};

/// An open connection: the four driver tables of one URI.
#[derive(Clone)]
pub struct Connection {
    pub uri: String,
    pub hypervisor: Arc<dyn HypervisorDriver>,
    pub storage: Arc<dyn StorageDriver>,
    pub network: Arc<dyn NetworkDriver>,
    pub node: Arc<dyn NodeDriver>,
    /// Whether calls may block for long (spawning processes, I/O): the actor
    /// layer then runs them off its threads. The test driver is in memory.
    pub blocking: bool,
    /// Changes the driver notices by itself (guest exits, libvirt events);
    /// `None` for drivers where every change comes through a call.
    pub notices: Option<crossbeam_channel::Receiver<crate::model::DriverNotice>>,
    /// The driver keeps definitions itself (libvirtd does): the core's store
    /// then neither replays nor writes them, so an object undefined behind
    /// virtbus's back stays undefined.
    pub keeps_definitions: bool,
    /// The driver's link to the service it fronts (libvirtd), whose state
    /// tells whether the snapshot is stale; `None` for drivers that own their
    /// objects.
    pub link: Option<Arc<dyn LinkStatus>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("uri", &self.uri).finish()
    }
}

/// What the agent tells a driver when opening it.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The agent's state directory: drivers with runtime state (the qemu
    /// driver's `run/`) keep it here unless the URI names another place.
    pub state_dir: Option<std::path::PathBuf>,
}

/// Opens the driver for `uri` with default options (see [`open_with`]).
pub fn open(uri: &str) -> VirtResult<Connection> {
    open_with(uri, &OpenOptions::default())
}

/// Opens the driver for `uri`: `test:///default`, `test:///ABSOLUTE/PATH.xml`,
/// `qemu:///system` or `qemu:///session` (optionally `?statedir=PATH`), or
/// `libvirt+URI` (any libvirt URI, proxied; needs the `libvirt` feature).
pub fn open_with(uri: &str, options: &OpenOptions) -> VirtResult<Connection> {
    if let Some(inner) = uri.strip_prefix("libvirt+") {
        return open_libvirt(uri, inner);
    }
    if let Some(path) = uri.strip_prefix("test://") {
        let driver = Arc::new(TestDriver::open(path)?);
        return Ok(Connection {
            uri: uri.to_string(),
            hypervisor: driver.clone(),
            storage: driver.clone(),
            network: driver.clone(),
            node: driver,
            blocking: false,
            notices: None,
            keeps_definitions: false,
            link: None,
        });
    }
    if uri.starts_with("qemu://") {
        let mut config = QemuConfig::from_uri(uri)?;
        if !uri.contains("statedir=") {
            if let Some(dir) = &options.state_dir {
                config.state_dir = dir.clone();
            }
        }
        let (driver, notices) = QemuDriver::open(config)?;
        let driver = Arc::new(driver);
        return Ok(Connection {
            uri: uri.to_string(),
            hypervisor: driver.clone(),
            storage: driver.clone(),
            network: driver.clone(),
            node: driver,
            blocking: true,
            notices: Some(notices),
            keeps_definitions: false,
            link: None,
        });
    }
    let scheme = uri.split(':').next().unwrap_or(uri);
    Err(VirtError::new(
        ErrorCode::NoConnect,
        format!(
            "no driver for connection URI '{uri}': scheme '{scheme}' is not supported; use test:///default, test:///ABSOLUTE/PATH.xml, qemu:///system or qemu:///session"
        ),
    ))
}

#[cfg(feature = "libvirt")]
fn open_libvirt(uri: &str, inner: &str) -> VirtResult<Connection> {
    let (driver, notices) = crate::libvirt::LibvirtDriver::open(inner)?;
    let driver = Arc::new(driver);
    Ok(Connection {
        uri: uri.to_string(),
        hypervisor: driver.clone(),
        storage: driver.clone(),
        network: driver.clone(),
        node: driver.clone(),
        blocking: true,
        notices: Some(notices),
        keeps_definitions: true,
        link: Some(driver),
    })
}

#[cfg(not(feature = "libvirt"))]
fn open_libvirt(uri: &str, _inner: &str) -> VirtResult<Connection> {
    Err(VirtError::new(
        ErrorCode::NoSupport,
        format!(
            "cannot open '{uri}': this virtbus was built without libvirt support; rebuild with `--features virtbus-drivers/libvirt` (needs libvirt's development files, e.g. Debian's libvirt-dev)"
        ),
    ))
}
