//! A storage pool as drivers that keep pools themselves hold it (the test
//! driver in memory, the qemu driver over a directory): libvirt's
//! `virStoragePoolObj`, with the checks and the record every storage
//! operation needs. Each driver adds its own behaviour in its own module.

use crate::model::{DriverEvent, PoolRecord, VolumeRecord};
use uuid::Uuid;
use virtbus_schemas::lifecycle::{PoolEventType, PoolState};
use virtbus_schemas::{ErrorCode, PoolDef, VirtError, VirtResult, VolumeDef};

pub(crate) struct PoolObj {
    pub(crate) def: PoolDef,
    pub(crate) active: bool,
    pub(crate) persistent: bool,
    pub(crate) autostart: bool,
    pub(crate) volumes: Vec<VolumeDef>,
}

impl PoolObj {
    pub(crate) fn record(&self) -> PoolRecord {
        PoolRecord {
            def: self.def.clone(),
            state: if self.active {
                PoolState::Running
            } else {
                PoolState::Inactive
            },
            persistent: self.persistent,
            autostart: self.autostart,
            volumes: self
                .volumes
                .iter()
                .map(|v| VolumeRecord {
                    def: v.clone(),
                    pool: self.def.name.clone(),
                })
                .collect(),
        }
    }

    /// libvirt's "find active pool" lookups (`testStoragePoolObjFindActiveByName`).
    pub(crate) fn require_active(&self) -> VirtResult<()> {
        if self.active {
            Ok(())
        } else {
            Err(VirtError::operation_invalid(format!(
                "storage pool '{}' is not active",
                self.def.name
            )))
        }
    }

    /// `virStoragePoolSetAutostart` on a pool kept by the driver: only a pool
    /// with a persistent definition (libvirt: a config file) has autostart.
    pub(crate) fn set_autostart(&mut self, autostart: bool) -> VirtResult<()> {
        if !self.persistent {
            return Err(VirtError::invalid_arg(format!(
                "pool '{}' has no config file (it is transient)",
                self.def.name
            )));
        }
        self.autostart = autostart;
        Ok(())
    }

    /// libvirt's "find inactive pool" lookups (`testStoragePoolObjFindInactiveByName`).
    pub(crate) fn require_inactive(&self) -> VirtResult<()> {
        if self.active {
            Err(VirtError::operation_invalid(format!(
                "storage pool '{}' is active",
                self.def.name
            )))
        } else {
            Ok(())
        }
    }
}

/// One pool lifecycle event, as an operation's event list.
pub(crate) fn pool_event(e: PoolEventType) -> Vec<DriverEvent> {
    vec![DriverEvent::Pool(e)]
}

/// `NO_STORAGE_POOL` for a UUID no pool has.
pub(crate) fn no_pool(uuid: Uuid) -> VirtError {
    VirtError::new(
        ErrorCode::NoStoragePool,
        format!("no storage pool with matching uuid '{uuid}'"),
    )
}
