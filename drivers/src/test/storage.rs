//! Storage pools and volumes of the test driver: [`StorageDriver`] for
//! [`TestDriver`], after libvirt 9.0.0's `testStoragePool*` and
//! `testStorageVol*` functions.

use super::table::{Managed, Slot};
use super::TestDriver;
use crate::model::{DriverEvent, Outcome, PoolRecord, VolumeRecord};
use crate::pool_obj::{no_pool, pool_event, PoolObj};
use crate::traits::StorageDriver;
use uuid::Uuid;
use virtbus_schemas::lifecycle::PoolEventType;
use virtbus_schemas::{ErrorCode, PoolDef, TestPool, VirtError, VirtResult, VolumeDef};

/// `defaultPoolCap`: every test pool claims 100 GiB.
pub(crate) const DEFAULT_POOL_CAPACITY: u64 = 100 * 1024 * 1024 * 1024;

impl PoolObj {
    /// Adds a volume with the test driver's path and key defaults and
    /// accounts its allocation, as `testOpenVolumesForPool` and
    /// `testStorageVolCreateXML` do.
    fn add_volume(&mut self, mut vol: VolumeDef) -> VirtResult<VolumeDef> {
        if self.volumes.iter().any(|v| v.name == vol.name) {
            return Err(VirtError::operation_failed(format!(
                "storage vol '{}' already exists in pool '{}'",
                vol.name, self.def.name
            )));
        }
        let allocation = vol.allocation_bytes.unwrap_or(vol.capacity_bytes);
        if self.def.allocation_bytes.saturating_add(allocation) > self.def.capacity_bytes {
            return Err(VirtError::internal(format!(
                "not enough free space in pool '{}' for volume '{}'",
                self.def.name, vol.name
            )));
        }
        vol.allocation_bytes = Some(allocation);
        let dir = self.def.target_path.clone().unwrap_or_default();
        let path = vol.target_path.clone().unwrap_or_else(|| format!("{dir}/{}", vol.name));
        vol.target_path = Some(path.clone());
        if vol.key.is_none() {
            vol.key = Some(path);
        }
        self.def.allocation_bytes += allocation;
        self.def.available_bytes = self.def.capacity_bytes - self.def.allocation_bytes;
        self.volumes.push(vol.clone());
        Ok(vol)
    }
}

/// `testStoragePoolObjSetDefaults`.
fn with_defaults(mut def: PoolDef) -> PoolDef {
    def.capacity_bytes = DEFAULT_POOL_CAPACITY;
    def.allocation_bytes = 0;
    def.available_bytes = DEFAULT_POOL_CAPACITY;
    def
}

impl Managed for PoolObj {
    type Record = PoolRecord;

    fn record(&self) -> PoolRecord {
        PoolObj::record(self)
    }

    fn is_gone(&self) -> bool {
        !self.persistent && !self.active
    }
}

impl TestDriver {
    /// `testParseStorage`: pools of a node file are active, with their volumes.
    pub(crate) fn load_pool(&self, pool: TestPool) -> VirtResult<()> {
        let mut obj = PoolObj {
            def: with_defaults(pool.def),
            active: true,
            persistent: true,
            autostart: false,
            volumes: Vec::new(),
        };
        for vol in pool.volumes {
            obj.add_volume(vol)?;
        }
        let (uuid, name) = (obj.def.uuid, obj.def.name.clone());
        self.pools.insert(uuid, &name, obj)?;
        Ok(())
    }

    fn with_pool(
        &self,
        uuid: Uuid,
        op: impl FnOnce(&mut PoolObj) -> VirtResult<Vec<DriverEvent>>,
    ) -> VirtResult<Outcome<PoolRecord>> {
        self.pools.apply(uuid, no_pool, op)
    }

    /// `virStoragePoolObjListAdd`, for define (`live == false`) and create.
    fn add_pool(&self, def: PoolDef, live: bool) -> VirtResult<Outcome<PoolRecord>> {
        let uuid = def.uuid;
        match self.pools.slot_for(uuid, &def.name, |o: &PoolObj| o.def.name.clone())? {
            Slot::Existing(cell) => {
                let mut obj = cell.lock();
                if live {
                    if obj.active {
                        return Err(VirtError::operation_invalid(format!(
                            "pool is already active as '{}'",
                            obj.def.name
                        )));
                    }
                    obj.def = with_defaults(def);
                    obj.active = true;
                    return Ok(Outcome::new(Some(obj.record()), pool_event(PoolEventType::Started)));
                }
                obj.def = with_defaults(def);
                obj.persistent = true;
                Ok(Outcome::new(Some(obj.record()), pool_event(PoolEventType::Defined)))
            }
            Slot::Vacant => {
                let name = def.name.clone();
                let obj = PoolObj {
                    def: with_defaults(def),
                    active: live,
                    persistent: !live,
                    autostart: false,
                    volumes: Vec::new(),
                };
                let record = obj.record();
                self.pools.insert(uuid, &name, obj)?;
                let ev = if live {
                    PoolEventType::Started
                } else {
                    PoolEventType::Defined
                };
                Ok(Outcome::new(Some(record), pool_event(ev)))
            }
        }
    }
}

impl StorageDriver for TestDriver {
    fn list_pools(&self) -> VirtResult<Vec<PoolRecord>> {
        Ok(self.pools.all().iter().map(|c| c.lock().record()).collect())
    }

    fn get_pool(&self, uuid: Uuid) -> VirtResult<PoolRecord> {
        let cell = self.pools.get(uuid).ok_or_else(|| no_pool(uuid))?;
        let record = cell.lock().record();
        Ok(record)
    }

    /// `testStoragePoolDefineXML`.
    fn define_pool(&self, def: PoolDef) -> VirtResult<Outcome<PoolRecord>> {
        self.add_pool(def, false)
    }

    /// `testStoragePoolCreateXML`.
    fn create_pool(&self, def: PoolDef) -> VirtResult<Outcome<PoolRecord>> {
        self.add_pool(def, true)
    }

    /// `testStoragePoolBuild`: only for inactive pools; queues CREATED.
    fn build_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.with_pool(uuid, |obj| {
            obj.require_inactive()?;
            Ok(pool_event(PoolEventType::Created))
        })
    }

    /// `testStoragePoolCreate`.
    fn start_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.with_pool(uuid, |obj| {
            obj.require_inactive()?;
            obj.active = true;
            Ok(pool_event(PoolEventType::Started))
        })
    }

    /// `testStoragePoolDestroy`: a transient pool disappears.
    fn destroy_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.with_pool(uuid, |obj| {
            obj.require_active()?;
            obj.active = false;
            Ok(pool_event(PoolEventType::Stopped))
        })
    }

    /// `testStoragePoolDelete`: only for inactive pools; queues DELETED.
    fn delete_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.with_pool(uuid, |obj| {
            obj.require_inactive()?;
            Ok(pool_event(PoolEventType::Deleted))
        })
    }

    /// `testStoragePoolUndefine`.
    fn undefine_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.with_pool(uuid, |obj| {
            obj.require_inactive()?;
            obj.persistent = false;
            obj.autostart = false;
            Ok(pool_event(PoolEventType::Undefined))
        })
    }

    /// `testStoragePoolSetAutostart`: libvirt's test driver gives every
    /// persistent pool (from the node file or defined) an empty config file
    /// name, so it accepts those; a transient pool has none and is refused.
    /// No lifecycle event.
    fn set_pool_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<PoolRecord>> {
        self.with_pool(uuid, |obj| {
            if !obj.persistent {
                return Err(VirtError::invalid_arg("pool has no config file"));
            }
            obj.autostart = autostart;
            Ok(Vec::new())
        })
    }

    /// `testStoragePoolRefresh`: only a REFRESHED event, which is not a
    /// lifecycle event.
    fn refresh_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.with_pool(uuid, |obj| {
            obj.require_active()?;
            Ok(Vec::new())
        })
    }

    /// `testStorageVolCreateXML`.
    fn create_volume(&self, pool: Uuid, def: VolumeDef) -> VirtResult<(VolumeRecord, Outcome<PoolRecord>)> {
        let mut created = None;
        let outcome = self.with_pool(pool, |obj| {
            obj.require_active()?;
            let vol = obj.add_volume(def)?;
            created = Some(VolumeRecord {
                def: vol,
                pool: obj.def.name.clone(),
            });
            Ok(Vec::new())
        })?;
        let vol = created.ok_or_else(|| VirtError::internal("volume creation reported no volume"))?;
        Ok((vol, outcome))
    }

    /// `testStorageVolDelete`.
    fn delete_volume(&self, pool: Uuid, name: &str) -> VirtResult<Outcome<PoolRecord>> {
        self.with_pool(pool, |obj| {
            obj.require_active()?;
            let idx = obj.volumes.iter().position(|v| v.name == name).ok_or_else(|| {
                VirtError::new(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching name '{name}'"),
                )
            })?;
            let vol = obj.volumes.remove(idx);
            let allocation = vol.allocation_bytes.unwrap_or(vol.capacity_bytes);
            obj.def.allocation_bytes = obj.def.allocation_bytes.saturating_sub(allocation);
            obj.def.available_bytes = obj.def.capacity_bytes - obj.def.allocation_bytes;
            Ok(Vec::new())
        })
    }
}
