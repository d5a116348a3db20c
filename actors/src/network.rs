//! Virtual networks: the commands a network actor understands.

use crate::event::EventBody;
use crate::object::{Applied, ObjectKind};
use crate::shared::Shared;
use crate::store::Kind;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_drivers::model::DriverEvent;
use virtbus_drivers::{NetworkRecord, Outcome};
use virtbus_schemas::{ErrorCode, NetworkDef, VirtResult};

#[derive(Debug)]
pub enum NetworkOp {
    Start,
    Destroy,
    Undefine,
    Redefine(Box<NetworkDef>),
    CreateFrom(Box<NetworkDef>),
}

pub struct NetworkKind;

impl ObjectKind for NetworkKind {
    type Record = NetworkRecord;
    type Op = NetworkOp;
    /// The network afterwards; `None` once it no longer exists.
    type Reply = Option<Arc<NetworkRecord>>;
    const NAME: &'static str = "network";

    fn execute(shared: &Shared, uuid: Uuid, op: NetworkOp) -> VirtResult<Applied<Self>> {
        let driver = &shared.conn.network;
        let name_before = shared.snapshot.load().networks.get(&uuid).map(|n| n.def.name.clone());
        let persist = matches!(op, NetworkOp::Redefine(_));
        let undefine = matches!(op, NetworkOp::Undefine);
        let outcome = match op {
            NetworkOp::Start => driver.start_network(uuid)?,
            NetworkOp::Destroy => driver.destroy_network(uuid)?,
            NetworkOp::Undefine => driver.undefine_network(uuid)?,
            NetworkOp::Redefine(def) => driver.define_network(*def)?,
            NetworkOp::CreateFrom(def) => driver.create_network(*def)?,
        };
        if let Some(store) = &shared.store {
            match &outcome.record {
                Some(rec) if persist && rec.persistent => store.save(Kind::Network, uuid, &rec.def.to_xml())?,
                _ if undefine => store.remove(Kind::Network, uuid)?,
                _ => {}
            }
        }
        Ok(applied(outcome, uuid, name_before))
    }

    fn fetch(shared: &Shared, uuid: Uuid) -> VirtResult<Option<NetworkRecord>> {
        match shared.conn.network.get_network(uuid) {
            Ok(rec) => Ok(Some(rec)),
            Err(err) if err.code == ErrorCode::NoNetwork => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn put_snapshot(shared: &Shared, uuid: Uuid, record: Option<NetworkRecord>) {
        match record {
            Some(rec) => shared.snapshot.put_network(rec),
            None => shared.snapshot.remove_network(uuid),
        }
    }

    fn unregister(shared: &Shared, uuid: Uuid) {
        shared.registry.networks.write().remove(&uuid);
    }
}

pub(crate) fn applied(
    outcome: Outcome<NetworkRecord>,
    uuid: Uuid,
    name_before: Option<String>,
) -> Applied<NetworkKind> {
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
            DriverEvent::Network(event) => Some(EventBody::Network {
                uuid,
                name: name.clone(),
                event: *event,
            }),
            _ => None,
        })
        .collect();
    let reply = outcome.record.clone().map(Arc::new);
    Applied {
        record: outcome.record,
        changed: true,
        events,
        reply,
    }
}
