//! Storage pools (and their volumes): the commands a pool actor understands.
//! Volume commands go through their pool's actor, so a pool and its volumes
//! change one command at a time.

use crate::event::EventBody;
use crate::object::{self, Applied, ObjectKind};
use crate::shared::Shared;
use crate::store::Kind;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_drivers::model::DriverEvent;
use virtbus_drivers::{Outcome, PoolRecord, VolumeRecord};
use virtbus_schemas::{ErrorCode, PoolDef, VirtResult, VolumeDef};

#[derive(Debug)]
pub enum PoolOp {
    Build,
    Start,
    Destroy,
    Delete,
    Undefine,
    Refresh,
    Redefine(Box<PoolDef>),
    CreateFrom(Box<PoolDef>),
    CreateVolume(Box<VolumeDef>),
    DeleteVolume(String),
    /// Start with the agent (`virStoragePoolSetAutostart`).
    SetAutostart(bool),
    /// Grow volume `name` to `capacity_bytes` (`virStorageVolResize`).
    ResizeVolume {
        name: String,
        capacity_bytes: u64,
    },
}

#[derive(Debug)]
pub enum PoolReply {
    Record(Option<Arc<PoolRecord>>),
    Volume(Box<VolumeRecord>),
}

pub struct PoolKind;

impl ObjectKind for PoolKind {
    type Record = PoolRecord;
    type Op = PoolOp;
    type Reply = PoolReply;
    const NAME: &'static str = "pool";

    fn execute(shared: &Shared, uuid: Uuid, op: PoolOp) -> VirtResult<Applied<Self>> {
        let storage = &shared.conn.storage;
        let persist = matches!(op, PoolOp::Redefine(_));
        let undefine = matches!(op, PoolOp::Undefine);
        let autostart = match op {
            PoolOp::SetAutostart(on) => Some(on),
            _ => None,
        };
        let mut volume = None;
        let outcome = match op {
            PoolOp::Build => storage.build_pool(uuid)?,
            PoolOp::Start => storage.start_pool(uuid)?,
            PoolOp::Destroy => storage.destroy_pool(uuid)?,
            PoolOp::Delete => storage.delete_pool(uuid)?,
            PoolOp::Undefine => storage.undefine_pool(uuid)?,
            PoolOp::Refresh => storage.refresh_pool(uuid)?,
            PoolOp::SetAutostart(on) => storage.set_pool_autostart(uuid, on)?,
            PoolOp::Redefine(def) => storage.define_pool(*def)?,
            PoolOp::CreateFrom(def) => storage.create_pool(*def)?,
            PoolOp::CreateVolume(def) => {
                let (vol, outcome) = storage.create_volume(uuid, *def)?;
                volume = Some(vol);
                outcome
            }
            PoolOp::DeleteVolume(name) => storage.delete_volume(uuid, &name)?,
            PoolOp::ResizeVolume { name, capacity_bytes } => {
                let (vol, outcome) = storage.resize_volume(uuid, &name, capacity_bytes)?;
                volume = Some(vol);
                outcome
            }
        };
        if let Some(store) = &shared.store {
            match &outcome.record {
                Some(rec) if persist && rec.persistent => store.save(Kind::Pool, uuid, &rec.def.to_xml())?,
                _ if undefine => store.remove(Kind::Pool, uuid)?,
                _ => {}
            }
            if let Some(on) = autostart {
                store.set_autostart(Kind::Pool, uuid, on)?;
            }
        }
        let mut done = applied(outcome, uuid, || Self::snapshot_name(shared, uuid));
        if let Some(vol) = volume {
            done.reply = PoolReply::Volume(Box::new(vol));
        }
        Ok(done)
    }

    fn fetch(shared: &Shared, uuid: Uuid) -> VirtResult<Option<PoolRecord>> {
        match shared.conn.storage.get_pool(uuid) {
            Ok(rec) => Ok(Some(rec)),
            Err(err) if err.code == ErrorCode::NoStoragePool => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn put_snapshot(shared: &Shared, uuid: Uuid, record: Option<PoolRecord>) {
        match record {
            Some(rec) => shared.snapshot.put_pool(rec),
            None => shared.snapshot.remove_pool(uuid),
        }
    }

    fn registry(shared: &Shared) -> &crate::object::Registered<Self> {
        &shared.registry.pools
    }

    type Def = PoolDef;

    fn def_uuid(def: &PoolDef) -> Uuid {
        def.uuid
    }

    fn redefine(def: PoolDef, live: bool) -> PoolOp {
        if live {
            PoolOp::CreateFrom(Box::new(def))
        } else {
            PoolOp::Redefine(Box::new(def))
        }
    }

    fn create(shared: &Shared, def: PoolDef, live: bool) -> VirtResult<Outcome<PoolRecord>> {
        if live {
            shared.conn.storage.create_pool(def)
        } else {
            shared.conn.storage.define_pool(def)
        }
    }

    fn persistent_xml(record: &PoolRecord) -> Option<String> {
        record.persistent.then(|| record.def.to_xml())
    }

    const STORE_KIND: Kind = Kind::Pool;

    fn spawn(shared: &Arc<Shared>, uuid: Uuid) {
        shared.spawn_pool(uuid);
    }

    fn reply_record(reply: Self::Reply) -> Option<Arc<PoolRecord>> {
        match reply {
            PoolReply::Record(rec) => rec,
            PoolReply::Volume(_) => None,
        }
    }

    fn name_ref(record: &PoolRecord) -> &str {
        &record.def.name
    }

    fn snapshot_name(shared: &Shared, uuid: Uuid) -> Option<String> {
        shared.snapshot.read(|s| s.pools.get(&uuid).map(|r| r.def.name.clone()))
    }

    fn event_body(uuid: Uuid, name: &str, event: &DriverEvent) -> Option<EventBody> {
        match event {
            DriverEvent::Pool(event) => Some(EventBody::Pool {
                uuid,
                name: name.to_string(),
                event: *event,
            }),
            _ => None,
        }
    }
}

pub(crate) fn applied(
    outcome: virtbus_drivers::Outcome<PoolRecord>,
    uuid: Uuid,
    name_before: impl FnOnce() -> Option<String>,
) -> Applied<PoolKind> {
    object::applied::<PoolKind>(outcome, uuid, name_before, |r| {
        PoolReply::Record(r.cloned().map(Arc::new))
    })
}
