//! Opening a driver by connection URI.

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
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("uri", &self.uri).finish()
    }
}

/// Opens the driver for `uri`: `test:///default`, `test:///ABSOLUTE/PATH.xml`,
/// `qemu:///system` or `qemu:///session` (optionally `?statedir=PATH`).
/// Other schemes (`qemu:///…`, `libvirt+…`) come with their own drivers.
pub fn open(uri: &str) -> VirtResult<Connection> {
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
        });
    }
    if uri.starts_with("qemu://") {
        let config = QemuConfig::from_uri(uri)?;
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
        });
    }
    let scheme = uri.split(':').next().unwrap_or(uri);
    Err(VirtError::new(
        ErrorCode::NoConnect,
        format!(
            "no driver for connection URI '{uri}': scheme '{scheme}' is not built yet; use test:///default or test:///ABSOLUTE/PATH.xml"
        ),
    ))
}
