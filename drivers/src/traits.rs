//! The driver traits, one per kind of object, after libvirt's driver tables
//! (`virHypervisorDriver`, `virStorageDriver`, `virNetworkDriver`).
//!
//! Objects are addressed by UUID; name lookups are the registry's job. Every
//! mutating call returns an [`Outcome`] carrying the lifecycle events the call
//! caused, in libvirt's order, so the caller can publish them. Errors carry
//! libvirt's error code and the same message libvirt's driver gives.

use crate::model::{DomainRecord, DomainStats, NetworkRecord, Outcome, PoolRecord, VolumeRecord};
use uuid::Uuid;
use virtbus_schemas::{DomainDef, NetworkDef, NodeInfo, PoolDef, VirtResult, VolumeDef};

/// Domains: `virHypervisorDriver`'s lifecycle subset.
pub trait HypervisorDriver: Send + Sync {
    fn list_domains(&self) -> VirtResult<Vec<DomainRecord>>;
    fn get_domain(&self, uuid: Uuid) -> VirtResult<DomainRecord>;
    /// `virDomainDefineXML`: new persistent domain, or an update of the one
    /// with the same name and UUID.
    fn define_domain(&self, def: DomainDef) -> VirtResult<Outcome<DomainRecord>>;
    /// `virDomainCreateXML`: a transient domain, started at once.
    fn create_domain(&self, def: DomainDef) -> VirtResult<Outcome<DomainRecord>>;
    fn undefine_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>>;
    /// `virDomainCreate`: start a defined, inactive domain.
    fn start_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>>;
    fn shutdown_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>>;
    fn destroy_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>>;
    fn suspend_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>>;
    fn resume_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>>;
    fn reboot_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>>;
    /// `virDomainReset`: a hard reset, like pressing the reset button; no
    /// lifecycle event. Drivers without it answer NO_SUPPORT.
    fn reset_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        Err(virtbus_schemas::VirtError::no_support(format!(
            "reset of domain {uuid} is not supported by this driver"
        )))
    }
    /// `virDomainSetMemory`: the current (balloon) memory, KiB.
    fn set_memory(&self, uuid: Uuid, kib: u64) -> VirtResult<Outcome<DomainRecord>>;
    /// `virDomainSetMaxMemory`: the maximum memory, KiB.
    fn set_max_memory(&self, uuid: Uuid, kib: u64) -> VirtResult<Outcome<DomainRecord>>;
    /// `virDomainSetVcpus`: the number of active vcpus.
    fn set_vcpus(&self, uuid: Uuid, count: u32) -> VirtResult<Outcome<DomainRecord>>;
    fn domain_stats(&self, uuid: Uuid) -> VirtResult<DomainStats>;
    /// Statistics of several domains in one call, for drivers that can
    /// sample any domain at any time from any thread (their own locking
    /// suffices, and a sample needs no per-domain session): the core then
    /// samples a whole walk's worth at once instead of asking each domain's
    /// actor. `None` (the default): sample through the actors, one by one.
    fn domain_stats_many(&self, uuids: &[Uuid]) -> Option<Vec<VirtResult<DomainStats>>> {
        let _ = uuids;
        None
    }
    /// `virDomainSetAutostart`: whether the agent starts the domain when it
    /// starts. No lifecycle event. Drivers without it answer NO_SUPPORT.
    fn set_domain_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<DomainRecord>> {
        let _ = (uuid, autostart);
        Err(virtbus_schemas::VirtError::no_support("virDomainSetAutostart"))
    }
}

/// Storage pools and their volumes: `virStorageDriver`.
pub trait StorageDriver: Send + Sync {
    fn list_pools(&self) -> VirtResult<Vec<PoolRecord>>;
    fn get_pool(&self, uuid: Uuid) -> VirtResult<PoolRecord>;
    fn define_pool(&self, def: PoolDef) -> VirtResult<Outcome<PoolRecord>>;
    /// `virStoragePoolCreateXML`: a transient pool, started at once.
    fn create_pool(&self, def: PoolDef) -> VirtResult<Outcome<PoolRecord>>;
    fn build_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>>;
    fn start_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>>;
    fn destroy_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>>;
    fn delete_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>>;
    fn undefine_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>>;
    fn refresh_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>>;
    fn create_volume(&self, pool: Uuid, def: VolumeDef) -> VirtResult<(VolumeRecord, Outcome<PoolRecord>)>;
    fn delete_volume(&self, pool: Uuid, name: &str) -> VirtResult<Outcome<PoolRecord>>;
    /// `virStoragePoolSetAutostart`: whether the agent starts the pool when
    /// it starts. Drivers without it answer NO_SUPPORT.
    fn set_pool_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<PoolRecord>> {
        let _ = (uuid, autostart);
        Err(virtbus_schemas::VirtError::no_support("virStoragePoolSetAutostart"))
    }
    /// `virStorageVolResize` without flags: grows volume `name` of `pool` to
    /// `capacity_bytes` (shrinking is INVALID_ARG). Drivers without it answer
    /// NO_SUPPORT, as libvirt's test driver does.
    fn resize_volume(
        &self,
        pool: Uuid,
        name: &str,
        capacity_bytes: u64,
    ) -> VirtResult<(VolumeRecord, Outcome<PoolRecord>)> {
        // libvirt's virReportUnsupportedError names only the API.
        let _ = (pool, name, capacity_bytes);
        Err(virtbus_schemas::VirtError::no_support("virStorageVolResize"))
    }
}

/// Virtual networks: `virNetworkDriver`.
pub trait NetworkDriver: Send + Sync {
    fn list_networks(&self) -> VirtResult<Vec<NetworkRecord>>;
    fn get_network(&self, uuid: Uuid) -> VirtResult<NetworkRecord>;
    fn define_network(&self, def: NetworkDef) -> VirtResult<Outcome<NetworkRecord>>;
    /// `virNetworkCreateXML`: a transient network, started at once.
    fn create_network(&self, def: NetworkDef) -> VirtResult<Outcome<NetworkRecord>>;
    fn start_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>>;
    fn destroy_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>>;
    fn undefine_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>>;
    /// `virNetworkSetAutostart`: whether the agent starts the network when
    /// it starts. No event. Drivers without it answer NO_SUPPORT.
    fn set_network_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<NetworkRecord>> {
        let _ = (uuid, autostart);
        Err(virtbus_schemas::VirtError::no_support("virNetworkSetAutostart"))
    }
}

/// The host: `virNodeGetInfo` and friends.
pub trait NodeDriver: Send + Sync {
    fn node_info(&self) -> VirtResult<NodeInfo>;
    fn hostname(&self) -> VirtResult<String>;
    /// The hypervisor's type as `virConnectGetType` gives it (`TEST`, `QEMU`).
    fn hypervisor_type(&self) -> &'static str;
    /// The hypervisor's version, libvirt-encoded (major * 1e6 + minor * 1e3 + micro).
    fn hypervisor_version(&self) -> VirtResult<u64>;
}
