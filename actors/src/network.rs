//! Virtual networks: the commands a network actor understands.

use crate::event::EventBody;
use crate::object::{self, Applied, ObjectKind};
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
    /// Start with the agent (`virNetworkSetAutostart`).
    SetAutostart(bool),
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
        let persist = matches!(op, NetworkOp::Redefine(_));
        let undefine = matches!(op, NetworkOp::Undefine);
        let autostart = match op {
            NetworkOp::SetAutostart(on) => Some(on),
            _ => None,
        };
        let outcome = match op {
            NetworkOp::Start => driver.start_network(uuid)?,
            NetworkOp::Destroy => driver.destroy_network(uuid)?,
            NetworkOp::Undefine => driver.undefine_network(uuid)?,
            NetworkOp::Redefine(def) => driver.define_network(*def)?,
            NetworkOp::CreateFrom(def) => driver.create_network(*def)?,
            NetworkOp::SetAutostart(on) => driver.set_network_autostart(uuid, on)?,
        };
        if let Some(store) = &shared.store {
            match &outcome.record {
                Some(rec) if persist && rec.persistent => store.save(Kind::Network, uuid, &rec.def.to_xml())?,
                _ if undefine => store.remove(Kind::Network, uuid)?,
                _ => {}
            }
            if let Some(on) = autostart {
                store.set_autostart(Kind::Network, uuid, on)?;
            }
        }
        Ok(applied(outcome, uuid, || Self::snapshot_name(shared, uuid)))
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

    fn registry(shared: &Shared) -> &crate::object::Registered<Self> {
        &shared.registry.networks
    }

    type Def = NetworkDef;

    fn def_uuid(def: &NetworkDef) -> Uuid {
        def.uuid
    }

    fn redefine(def: NetworkDef, live: bool) -> NetworkOp {
        if live {
            NetworkOp::CreateFrom(Box::new(def))
        } else {
            NetworkOp::Redefine(Box::new(def))
        }
    }

    fn create(shared: &Shared, def: NetworkDef, live: bool) -> VirtResult<Outcome<NetworkRecord>> {
        if live {
            shared.conn.network.create_network(def)
        } else {
            shared.conn.network.define_network(def)
        }
    }

    fn persistent_xml(record: &NetworkRecord) -> Option<String> {
        record.persistent.then(|| record.def.to_xml())
    }

    const STORE_KIND: Kind = Kind::Network;

    fn spawn(shared: &Arc<Shared>, uuid: Uuid) {
        shared.spawn_network(uuid);
    }

    fn reply_record(reply: Self::Reply) -> Option<Arc<NetworkRecord>> {
        reply
    }

    fn name_ref(record: &NetworkRecord) -> &str {
        &record.def.name
    }

    fn snapshot_name(shared: &Shared, uuid: Uuid) -> Option<String> {
        shared
            .snapshot
            .read(|s| s.networks.get(&uuid).map(|r| r.def.name.clone()))
    }

    fn event_body(uuid: Uuid, name: &str, event: &DriverEvent) -> Option<EventBody> {
        match event {
            DriverEvent::Network(event) => Some(EventBody::Network {
                uuid,
                name: name.to_string(),
                event: *event,
            }),
            _ => None,
        }
    }
}

pub(crate) fn applied(
    outcome: virtbus_drivers::Outcome<NetworkRecord>,
    uuid: Uuid,
    name_before: impl FnOnce() -> Option<String>,
) -> Applied<NetworkKind> {
    object::applied::<NetworkKind>(outcome, uuid, name_before, |r| r.cloned().map(Arc::new))
}
