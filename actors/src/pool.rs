//! Storage pools (and their volumes): the commands a pool actor understands.
//! Volume commands go through their pool's actor, so a pool and its volumes
//! change one command at a time.

use crate::event::EventBody;
use crate::object::{Applied, ObjectKind};
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
        let name_before = shared.snapshot.load().pools.get(&uuid).map(|p| p.def.name.clone());
        let persist = matches!(op, PoolOp::Redefine(_));
        let undefine = matches!(op, PoolOp::Undefine);
        let mut volume = None;
        let outcome = match op {
            PoolOp::Build => storage.build_pool(uuid)?,
            PoolOp::Start => storage.start_pool(uuid)?,
            PoolOp::Destroy => storage.destroy_pool(uuid)?,
            PoolOp::Delete => storage.delete_pool(uuid)?,
            PoolOp::Undefine => storage.undefine_pool(uuid)?,
            PoolOp::Refresh => storage.refresh_pool(uuid)?,
            PoolOp::Redefine(def) => storage.define_pool(*def)?,
            PoolOp::CreateFrom(def) => storage.create_pool(*def)?,
            PoolOp::CreateVolume(def) => {
                let (vol, outcome) = storage.create_volume(uuid, *def)?;
                volume = Some(vol);
                outcome
            }
            PoolOp::DeleteVolume(name) => storage.delete_volume(uuid, &name)?,
        };
        if let Some(store) = &shared.store {
            match &outcome.record {
                Some(rec) if persist && rec.persistent => store.save(Kind::Pool, uuid, &rec.def.to_xml())?,
                _ if undefine => store.remove(Kind::Pool, uuid)?,
                _ => {}
            }
        }
        let mut done = applied(outcome, uuid, name_before);
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

    fn unregister(shared: &Shared, uuid: Uuid) {
        shared.registry.pools.write().remove(&uuid);
    }
}

pub(crate) fn applied(outcome: Outcome<PoolRecord>, uuid: Uuid, name_before: Option<String>) -> Applied<PoolKind> {
    let name = outcome
        .record
        .as_ref()
        .map(|r| r.def.name.clone())
        .or(name_before)
        .unwrap_or_default();
    let events = outcome
        .events
        .iter()
        .filter_map(|e| match e {
            DriverEvent::Pool(event) => Some(EventBody::Pool {
                uuid,
                name: name.clone(),
                event: *event,
            }),
            _ => None,
        })
        .collect();
    let reply = PoolReply::Record(outcome.record.clone().map(Arc::new));
    Applied {
        record: outcome.record,
        changed: true,
        events,
        reply,
    }
}
