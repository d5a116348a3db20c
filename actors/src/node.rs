//! The node actor: the one place new objects come into being.
//!
//! `define`/`create` of an object that has no actor yet go here, so two
//! concurrent definitions of the same new name are decided in order; the node
//! actor calls the driver, starts the new object's supervised actor, publishes
//! the snapshot and persists the definition before it replies.

use crate::domain::{self, DomainReply};
use crate::network;
use crate::object::Applied;
use crate::pool::{self, PoolReply};
use crate::shared::Shared;
use crate::store::Kind;
use actix::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use virtbus_drivers::{DomainRecord, NetworkRecord, PoolRecord};
use virtbus_schemas::{DomainDef, NetworkDef, PoolDef, VirtError, VirtResult};

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

/// Define (`live == false`) or create-and-start (`live == true`) a domain.
pub struct NewDomain {
    pub def: Box<DomainDef>,
    pub live: bool,
}

impl Message for NewDomain {
    type Result = VirtResult<Arc<DomainRecord>>;
}

pub struct NewPool {
    pub def: Box<PoolDef>,
    pub live: bool,
}

impl Message for NewPool {
    type Result = VirtResult<Arc<PoolRecord>>;
}

pub struct NewNetwork {
    pub def: Box<NetworkDef>,
    pub live: bool,
}

impl Message for NewNetwork {
    type Result = VirtResult<Arc<NetworkRecord>>;
}

/// Runs `f`, turning a panic into INTERNAL_ERROR (the node actor has no
/// state to lose, so it simply carries on).
fn guarded<T>(what: &str, f: impl FnOnce() -> VirtResult<T>) -> VirtResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        tracing::error!(operation = what, "node actor caught a panic");
        Err(VirtError::internal(format!("{what} failed unexpectedly")))
    })
}

fn publish<K: crate::object::ObjectKind>(shared: &Shared, applied: Applied<K>) -> Applied<K> {
    for body in &applied.events {
        shared.bus.publish(body.clone());
    }
    applied
}

impl Handler<NewDomain> for NodeActor {
    type Result = VirtResult<Arc<DomainRecord>>;

    fn handle(&mut self, msg: NewDomain, _ctx: &mut Context<Self>) -> Self::Result {
        let shared = &self.shared;
        guarded("domain definition", || {
            let hv = &shared.conn.hypervisor;
            let uuid = msg.def.uuid;
            let outcome = if msg.live {
                hv.create_domain(*msg.def)?
            } else {
                hv.define_domain(*msg.def)?
            };
            let record = outcome
                .record
                .clone()
                .ok_or_else(|| VirtError::internal("driver returned no domain after defining it"))?;
            if !msg.live {
                if let Some(store) = &shared.store {
                    store.save(Kind::Domain, uuid, &record.persistent_def().to_xml())?;
                }
            }
            let done = domain::applied(outcome, uuid, None);
            if !shared.registry.domains.read().contains_key(&uuid) {
                shared.spawn_domain(uuid);
            }
            shared.snapshot.put_domain(record);
            let done = publish(shared, done);
            match done.reply {
                DomainReply::Record(Some(rec)) => Ok(rec),
                _ => Err(VirtError::internal("domain vanished while being defined")),
            }
        })
    }
}

impl Handler<NewPool> for NodeActor {
    type Result = VirtResult<Arc<PoolRecord>>;

    fn handle(&mut self, msg: NewPool, _ctx: &mut Context<Self>) -> Self::Result {
        let shared = &self.shared;
        guarded("pool definition", || {
            let storage = &shared.conn.storage;
            let uuid = msg.def.uuid;
            let outcome = if msg.live {
                storage.create_pool(*msg.def)?
            } else {
                storage.define_pool(*msg.def)?
            };
            let record = outcome
                .record
                .clone()
                .ok_or_else(|| VirtError::internal("driver returned no pool after defining it"))?;
            if !msg.live {
                if let Some(store) = &shared.store {
                    store.save(Kind::Pool, uuid, &record.def.to_xml())?;
                }
            }
            let done = pool::applied(outcome, uuid, None);
            if !shared.registry.pools.read().contains_key(&uuid) {
                shared.spawn_pool(uuid);
            }
            shared.snapshot.put_pool(record);
            let done = publish(shared, done);
            match done.reply {
                PoolReply::Record(Some(rec)) => Ok(rec),
                _ => Err(VirtError::internal("pool vanished while being defined")),
            }
        })
    }
}

impl Handler<NewNetwork> for NodeActor {
    type Result = VirtResult<Arc<NetworkRecord>>;

    fn handle(&mut self, msg: NewNetwork, _ctx: &mut Context<Self>) -> Self::Result {
        let shared = &self.shared;
        guarded("network definition", || {
            let driver = &shared.conn.network;
            let uuid = msg.def.uuid;
            let outcome = if msg.live {
                driver.create_network(*msg.def)?
            } else {
                driver.define_network(*msg.def)?
            };
            let record = outcome
                .record
                .clone()
                .ok_or_else(|| VirtError::internal("driver returned no network after defining it"))?;
            if !msg.live {
                if let Some(store) = &shared.store {
                    store.save(Kind::Network, uuid, &record.def.to_xml())?;
                }
            }
            let done = network::applied(outcome, uuid, None);
            if !shared.registry.networks.read().contains_key(&uuid) {
                shared.spawn_network(uuid);
            }
            shared.snapshot.put_network(record);
            let done = publish(shared, done);
            done.reply
                .ok_or_else(|| VirtError::internal("network vanished while being defined"))
        })
    }
}
