//! Storage pools and volumes through libvirt: [`StorageDriver`] for
//! [`LibvirtDriver`] (`virStoragePool*`, `virStorageVol*`). Pool lifecycle
//! events come from libvirt's callbacks; volumes have no lifecycle events.

use super::conn::{c_text, Session};
use super::events::{Expect, Key};
use super::reconnect::Link;
use super::{lv, LibvirtDriver};
use crate::model::{Outcome, PoolRecord, VolumeRecord};
use crate::traits::StorageDriver;
use uuid::Uuid;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virtbus_schemas::lifecycle::PoolState;
use virtbus_schemas::{ErrorCode, PoolDef, VirtResult, VolumeDef};

/// Every pool, active and inactive (`virConnectListAllStoragePools`).
pub(crate) fn list(link: &Link) -> VirtResult<Vec<PoolRecord>> {
    let session = link.session()?;
    let pools = match session.conn().list_all_storage_pools(0) {
        Ok(pools) => pools,
        // A URI without a storage driver has no pools.
        Err(err) if err.code().to_raw() as i32 == ErrorCode::NoSupport.number() => return Ok(Vec::new()),
        Err(err) => return lv(link, Err(err)),
    };
    let mut out = Vec::with_capacity(pools.len());
    for pool in &pools {
        match record(link, pool) {
            Ok(rec) => out.push(rec),
            Err(err) if err.code == ErrorCode::NoStoragePool => {}
            Err(err) => {
                let name = pool.get_name().unwrap_or_default();
                tracing::warn!(pool = %name, error = %err, "libvirt pool left out: cannot read it");
            }
        }
    }
    Ok(out)
}

/// The pool with its volumes, as libvirt has them now.
fn record(link: &Link, pool: &StoragePool) -> VirtResult<PoolRecord> {
    let def = PoolDef::from_xml(&lv(link, pool.get_xml_desc(0))?)?;
    let info = lv(link, pool.get_info())?;
    let state = PoolState::from_number(info.state as i32).unwrap_or(PoolState::Inactive);
    let volumes = if state == PoolState::Running {
        let vols = lv(link, pool.list_all_volumes(0))?;
        let mut out = Vec::with_capacity(vols.len());
        for vol in &vols {
            out.push(VolumeRecord {
                def: VolumeDef::from_xml(&lv(link, vol.get_xml_desc(0))?)?,
                pool: def.name.clone(),
            });
        }
        out
    } else {
        Vec::new()
    };
    let rec = PoolRecord {
        state,
        persistent: lv(link, pool.is_persistent())?,
        autostart: pool.get_autostart().unwrap_or(false),
        volumes,
        def,
    };
    link.seen_pool(&rec);
    Ok(rec)
}

/// A volume as libvirt now describes it, with its pool's record (for the
/// pool's new allocation): what volume create and resize answer.
fn volume_outcome(
    link: &Link,
    pool: &StoragePool,
    vol: &StorageVol,
) -> VirtResult<(VolumeRecord, Outcome<PoolRecord>)> {
    let def = VolumeDef::from_xml(&lv(link, vol.get_xml_desc(0))?)?;
    let rec = record(link, pool)?;
    let volume = VolumeRecord {
        def,
        pool: rec.def.name.clone(),
    };
    Ok((volume, Outcome::new(Some(rec), Vec::new())))
}

fn lookup(link: &Link, session: &Session, uuid: Uuid) -> VirtResult<StoragePool> {
    lv(link, StoragePool::lookup_by_uuid(session.conn(), uuid))
}

fn fetch(link: &Link, session: &Session, uuid: Uuid) -> VirtResult<Option<PoolRecord>> {
    let found = lookup(link, session, uuid).and_then(|p| record(link, &p));
    match found {
        Ok(rec) => Ok(Some(rec)),
        Err(err) if err.code == ErrorCode::NoStoragePool => Ok(None),
        Err(err) => Err(err),
    }
}

impl LibvirtDriver {
    fn pool_call(
        &self,
        uuid: Uuid,
        expect: Expect,
        call: impl FnOnce(&StoragePool) -> Result<(), virt::error::Error>,
    ) -> VirtResult<Outcome<PoolRecord>> {
        let link = &*self.link;
        self.mutate(
            Key::Pool(uuid),
            expect,
            |s| {
                let pool = lookup(link, s, uuid)?;
                lv(link, call(&pool))
            },
            |s| fetch(link, s, uuid),
        )
    }

    fn add_pool(&self, def: PoolDef, live: bool) -> VirtResult<Outcome<PoolRecord>> {
        let xml = def.to_xml();
        c_text("pool XML", &xml)?;
        let link = &*self.link;
        let created = std::cell::Cell::new(def.uuid);
        self.mutate(
            Key::Pool(def.uuid),
            Expect::One,
            |s| {
                let pool = if live {
                    lv(link, StoragePool::create_xml(s.conn(), &xml, 0))?
                } else {
                    lv(link, StoragePool::define_xml(s.conn(), &xml, 0))?
                };
                if let Ok(uuid) = pool.get_uuid() {
                    created.set(uuid);
                }
                Ok(())
            },
            |s| fetch(link, s, created.get()),
        )
    }
}

impl StorageDriver for LibvirtDriver {
    fn list_pools(&self) -> VirtResult<Vec<PoolRecord>> {
        list(&self.link)
    }

    fn get_pool(&self, uuid: Uuid) -> VirtResult<PoolRecord> {
        let session = self.session()?;
        record(&self.link, &lookup(&self.link, &session, uuid)?)
    }

    /// `virStoragePoolDefineXML`: DEFINED.
    fn define_pool(&self, def: PoolDef) -> VirtResult<Outcome<PoolRecord>> {
        self.add_pool(def, false)
    }

    /// `virStoragePoolCreateXML`: STARTED.
    fn create_pool(&self, def: PoolDef) -> VirtResult<Outcome<PoolRecord>> {
        self.add_pool(def, true)
    }

    /// `virStoragePoolBuild` (the test driver emits CREATED, others nothing).
    fn build_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.pool_call(uuid, Expect::Nothing, |p| p.build(0).map(|_| ()))
    }

    /// `virStoragePoolCreate`: STARTED.
    fn start_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.pool_call(uuid, Expect::One, |p| p.create(0).map(|_| ()))
    }

    /// `virStoragePoolDestroy`: STOPPED.
    fn destroy_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.pool_call(uuid, Expect::One, |p| p.destroy())
    }

    /// `virStoragePoolDelete` (the test driver emits DELETED).
    fn delete_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.pool_call(uuid, Expect::Nothing, |p| p.delete(0))
    }

    /// `virStoragePoolUndefine`: UNDEFINED.
    fn undefine_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.pool_call(uuid, Expect::One, |p| p.undefine())
    }

    /// `virStoragePoolRefresh`: its REFRESH event is not a lifecycle event.
    fn refresh_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.pool_call(uuid, Expect::Nothing, |p| p.refresh(0).map(|_| ()))
    }

    /// `virStorageVolCreateXML`.
    fn create_volume(&self, pool: Uuid, def: VolumeDef) -> VirtResult<(VolumeRecord, Outcome<PoolRecord>)> {
        let xml = def.to_xml();
        c_text("volume XML", &xml)?;
        let link = &*self.link;
        let session = self.session()?;
        let handle = lookup(link, &session, pool)?;
        let vol = lv(link, StorageVol::create_xml(&handle, &xml, 0))?;
        volume_outcome(link, &handle, &vol)
    }

    /// `virStorageVolLookupByName` + `virStorageVolDelete`.
    fn delete_volume(&self, pool: Uuid, name: &str) -> VirtResult<Outcome<PoolRecord>> {
        c_text("volume name", name)?;
        let link = &*self.link;
        let session = self.session()?;
        let handle = lookup(link, &session, pool)?;
        let vol = lv(link, StorageVol::lookup_by_name(&handle, name))?;
        lv(link, vol.delete(0))?;
        Ok(Outcome::new(Some(record(link, &handle)?), Vec::new()))
    }

    /// `virStorageVolResize` without flags (grow; libvirt refuses to shrink
    /// without `VIR_STORAGE_VOL_RESIZE_SHRINK`, and its test driver has no
    /// resize at all: NO_SUPPORT, passed on).
    fn resize_volume(
        &self,
        pool: Uuid,
        name: &str,
        capacity_bytes: u64,
    ) -> VirtResult<(VolumeRecord, Outcome<PoolRecord>)> {
        c_text("volume name", name)?;
        let link = &*self.link;
        let session = self.session()?;
        let handle = lookup(link, &session, pool)?;
        let vol = lv(link, StorageVol::lookup_by_name(&handle, name))?;
        lv(link, vol.resize(capacity_bytes, 0))?;
        volume_outcome(link, &handle, &vol)
    }

    /// `virStoragePoolSetAutostart`: no lifecycle event.
    fn set_pool_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<PoolRecord>> {
        self.pool_call(uuid, Expect::Nothing, |p| p.set_autostart(autostart).map(|_| ()))
    }
}
