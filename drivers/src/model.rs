//! Records a driver returns: an object's definition plus its runtime state.

use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_schemas::lifecycle::StateWithReason;
use virtbus_schemas::lifecycle::{DomainLifecycle, NetworkEventType, PoolEventType, PoolState};
use virtbus_schemas::{DomainDef, NetworkDef, PoolDef, VolumeDef};

/// A domain as the driver knows it now (`virDomainObj`).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainRecord {
    /// The live definition (what `dumpxml` shows). Shared, so records are
    /// cheap to copy into the snapshot on every change.
    pub def: Arc<DomainDef>,
    /// The persistent definition for the next boot while the domain runs
    /// (libvirt's `newDef`, `dumpxml --inactive`); `None` when it equals `def`.
    pub inactive_def: Option<Arc<DomainDef>>,
    /// Runtime id while active, as libvirt numbers them; `None` when inactive.
    pub id: Option<u32>,
    pub state: StateWithReason,
    /// Defined (has a persistent config) rather than transient.
    pub persistent: bool,
    pub autostart: bool,
    pub has_managed_save: bool,
}

impl DomainRecord {
    pub fn uuid(&self) -> Uuid {
        self.def.uuid
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }

    pub fn is_active(&self) -> bool {
        self.state.state.is_active()
    }

    /// The definition that persists: the next-boot config, else the live one.
    pub fn persistent_def(&self) -> &Arc<DomainDef> {
        self.inactive_def.as_ref().unwrap_or(&self.def)
    }
}

/// Statistics of one domain, sampled when asked (`virDomainGetInfo` plus the
/// block and interface counters of `virConnectGetAllDomainStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DomainStats {
    /// Total cpu time consumed, nanoseconds.
    pub cpu_time_ns: u64,
    pub vcpus: u32,
    pub memory_max_kib: u64,
    pub memory_current_kib: u64,
    pub block: Vec<BlockStats>,
    pub net: Vec<NetStats>,
}

/// Counters of one disk, by target name (`vda`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlockStats {
    pub name: String,
    pub rd_reqs: u64,
    pub rd_bytes: u64,
    pub wr_reqs: u64,
    pub wr_bytes: u64,
    pub errors: u64,
}

/// Counters of one interface, by host-side device name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetStats {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errs: u64,
    pub rx_drop: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errs: u64,
    pub tx_drop: u64,
}

/// A storage pool and its volumes (`virStoragePoolObj`).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRecord {
    pub def: PoolDef,
    pub state: PoolState,
    pub persistent: bool,
    pub autostart: bool,
    pub volumes: Vec<VolumeRecord>,
}

impl PoolRecord {
    pub fn is_active(&self) -> bool {
        self.state == PoolState::Running
    }
}

/// A storage volume with the key and path its pool gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRecord {
    pub def: VolumeDef,
    pub pool: String,
}

/// A virtual network (`virNetworkObj`).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRecord {
    pub def: NetworkDef,
    pub active: bool,
    pub persistent: bool,
    pub autostart: bool,
}

/// A lifecycle event a driver operation caused, in the order libvirt emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverEvent {
    Domain(DomainLifecycle),
    Pool(PoolEventType),
    Network(NetworkEventType),
}

/// What an operation on one object did: the object afterwards (`None` when it
/// no longer exists, e.g. a transient domain that stopped) and its events.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<R> {
    pub record: Option<R>,
    pub events: Vec<DriverEvent>,
}

impl<R> Outcome<R> {
    pub fn new(record: Option<R>, events: Vec<DriverEvent>) -> Self {
        Outcome { record, events }
    }
}

/// Something a driver noticed on its own, outside any call: a guest that
/// exited, an object changed behind virtbus's back (libvirt proxy). The core
/// routes it to the object's actor, which reloads the object from the driver
/// and publishes `event` (when there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverNotice {
    Domain {
        uuid: Uuid,
        event: Option<DomainLifecycle>,
    },
    Pool {
        uuid: Uuid,
        event: Option<PoolEventType>,
    },
    Network {
        uuid: Uuid,
        event: Option<NetworkEventType>,
    },
}
