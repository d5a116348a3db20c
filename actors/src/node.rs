//! The node actor: the one place new objects come into being.
//!
//! `define`/`create` of an object that has no actor yet go here, so two
//! concurrent definitions of the same new name are decided in order; the node
//! actor calls the driver, persists the definition, starts the new object's
//! supervised actor, publishes the snapshot and then the events, before it
//! replies. Objects a driver reports by itself (created behind virtbus's
//! back) are adopted here too.

use crate::object::{ObjectKind, Refresh};
use crate::shared::Shared;
use actix::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use uuid::Uuid;
use virtbus_drivers::model::DriverEvent;
use virtbus_schemas::{VirtError, VirtResult};

pub struct NodeActor {
    shared: Arc<Shared>,
}

impl NodeActor {
    pub fn new(shared: Arc<Shared>) -> Self {
        NodeActor { shared }
    }
}

impl Actor for NodeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl Supervised for NodeActor {}

/// Define (`live == false`) or create-and-start (`live == true`) an object
/// of kind `K`.
pub struct NewObject<K: ObjectKind> {
    pub def: Box<K::Def>,
    pub live: bool,
}

impl<K: ObjectKind> Message for NewObject<K> {
    type Result = VirtResult<Arc<K::Record>>;
}

/// An object of kind `K` the driver reported by itself: start managing it.
pub struct Adopt<K: ObjectKind> {
    pub uuid: Uuid,
    pub event: Option<DriverEvent>,
    pub kind: std::marker::PhantomData<fn() -> K>,
}

impl<K: ObjectKind> Message for Adopt<K> {
    type Result = ();
}

/// Runs `f`, turning a panic into INTERNAL_ERROR (the node actor has no
/// state to lose, so it simply carries on).
fn guarded<T>(what: &str, f: impl FnOnce() -> VirtResult<T>) -> VirtResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        tracing::error!(operation = what, "node actor caught a panic");
        Err(VirtError::internal(format!("{what} failed unexpectedly")))
    })
}

impl<K: ObjectKind> Handler<NewObject<K>> for NodeActor {
    type Result = VirtResult<Arc<K::Record>>;

    fn handle(&mut self, msg: NewObject<K>, _ctx: &mut Context<Self>) -> Self::Result {
        let shared = &self.shared;
        guarded(K::NAME, || {
            let uuid = K::def_uuid(&msg.def);
            let outcome = K::create(shared, *msg.def, msg.live)?;
            if !msg.live {
                if let (Some(store), Some(record)) = (&shared.store, outcome.record.as_ref()) {
                    if let Some(xml) = K::persistent_xml(record) {
                        store.save(K::STORE_KIND, uuid, &xml)?;
                    }
                }
            }
            let record = outcome
                .record
                .clone()
                .map(Arc::new)
                .ok_or_else(|| VirtError::internal(format!("driver returned no {} after defining it", K::NAME)))?;
            let name = K::name_of(&record);
            let mut events: Vec<_> = outcome
                .events
                .iter()
                .filter_map(|e| K::event_body(uuid, &name, e))
                .collect();
            if K::addr(shared, uuid).is_none() {
                K::spawn(shared, uuid);
            }
            K::put_snapshot_for(shared, uuid, outcome.record, &mut events);
            for body in events {
                shared.bus.publish(body);
            }
            Ok(record)
        })
    }
}

impl<K: ObjectKind> Handler<Adopt<K>> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: Adopt<K>, _ctx: &mut Context<Self>) {
        let shared = &self.shared;
        if let Some(addr) = K::addr(shared, msg.uuid) {
            // Adopted meanwhile: the object's own actor handles the notice.
            addr.do_send(Refresh(msg.event));
            return;
        }
        match K::fetch(shared, msg.uuid) {
            Ok(Some(record)) => {
                let name = K::name_of(&record);
                K::spawn(shared, msg.uuid);
                let mut body = msg.event.as_ref().and_then(|e| K::event_body(msg.uuid, &name, e));
                K::put_snapshot_for(shared, msg.uuid, Some(record), body.as_mut_slice());
                if let Some(body) = body {
                    shared.bus.publish(body);
                }
                tracing::info!(kind = K::NAME, uuid = %msg.uuid, name, "adopted an object the driver reported");
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(kind = K::NAME, uuid = %msg.uuid, error = %err, "could not adopt"),
        }
    }
}
