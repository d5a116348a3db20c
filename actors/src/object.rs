//! The supervised actor that owns one object (domain, pool or network).
//!
//! [`ObjectActor<K>`] is generic over the kind `K`; the kind supplies the
//! driver calls ([`ObjectKind::execute`]) and how results reach the snapshot.
//! The actor adds what every object needs:
//!
//! - commands to one object run one at a time, in mailbox order;
//! - a panic in a handler is caught, the caller gets `INTERNAL_ERROR`, and the
//!   actor is stopped so its [`actix::Supervisor`] restarts it; on restart it
//!   reloads its object from the driver (the truth) into the snapshot;
//! - after each command the snapshot is updated *before* the reply, so the
//!   next read through any adapter sees the change; then the events go out;
//! - when the object ceases to exist the actor leaves the registry and stops.

use crate::shared::Shared;
use actix::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use uuid::Uuid;
use virtbus_schemas::{VirtError, VirtResult};

use crate::event::EventBody;
use virtbus_drivers::model::DriverEvent;

/// What an executed command did.
pub struct Applied<K: ObjectKind> {
    /// The object afterwards; `None` once it no longer exists.
    pub record: Option<K::Record>,
    /// Whether `record` changed (a pure read leaves the snapshot alone).
    pub changed: bool,
    pub events: Vec<EventBody>,
    pub reply: K::Reply,
}

/// The actors of one kind, by object UUID.
pub type Registered<K> = parking_lot::RwLock<std::collections::HashMap<Uuid, Addr<ObjectActor<K>>>>;

/// A kind of object managed by [`ObjectActor`].
pub trait ObjectKind: Sized + Unpin + 'static {
    type Record: Clone + Send + Sync + 'static;
    type Op: Send + std::fmt::Debug + 'static;
    type Reply: Send + 'static;
    /// "domain", "pool", "network".
    const NAME: &'static str;

    /// Runs `op` against the driver (and the store). May block when the
    /// driver does; may panic (the actor survives it).
    fn execute(shared: &Shared, uuid: Uuid, op: Self::Op) -> VirtResult<Applied<Self>>;
    /// The object as the driver has it now; `Ok(None)` if it is gone.
    fn fetch(shared: &Shared, uuid: Uuid) -> VirtResult<Option<Self::Record>>;
    /// Publishes `record` into the snapshot (`None`: removes the object).
    fn put_snapshot(shared: &Shared, uuid: Uuid, record: Option<Self::Record>);
    /// [`ObjectKind::put_snapshot`] for a change that `events` report: kinds
    /// whose events carry the object as of the event fill it in here.
    fn put_snapshot_for(shared: &Shared, uuid: Uuid, record: Option<Self::Record>, events: &mut [EventBody]) {
        let _ = events;
        Self::put_snapshot(shared, uuid, record);
    }
    /// This kind's part of the registry: the address of each object's actor.
    fn registry(shared: &Shared) -> &Registered<Self>;
    /// Drops the object's address from the registry.
    fn unregister(shared: &Shared, uuid: Uuid) {
        Self::registry(shared).write().remove(&uuid);
    }
    /// The object's name, for events.
    fn name_ref(record: &Self::Record) -> &str;
    fn name_of(record: &Self::Record) -> String {
        Self::name_ref(record).to_string()
    }
    /// The object's name as the snapshot has it.
    fn snapshot_name(shared: &Shared, uuid: Uuid) -> Option<String>;
    /// The bus event for a driver event about this object, if it is one of
    /// this kind's events.
    fn event_body(uuid: Uuid, name: &str, event: &DriverEvent) -> Option<EventBody>;

    /// The kind's XML definition.
    type Def: Send + 'static;
    fn def_uuid(def: &Self::Def) -> Uuid;
    /// The command that re-defines (`live == false`) or creates from `def`
    /// an object that already has an actor.
    fn redefine(def: Self::Def, live: bool) -> Self::Op;
    /// Defines (`live == false`) or creates and starts (`live == true`) a new
    /// object through the driver.
    fn create(shared: &Shared, def: Self::Def, live: bool) -> VirtResult<virtbus_drivers::Outcome<Self::Record>>;
    /// The XML to persist for a defined object (`None`: nothing to keep).
    fn persistent_xml(record: &Self::Record) -> Option<String>;
    const STORE_KIND: crate::store::Kind;
    /// The address of the object's actor, if it has one.
    fn addr(shared: &Shared, uuid: Uuid) -> Option<Addr<ObjectActor<Self>>> {
        Self::registry(shared).read().get(&uuid).cloned()
    }
    fn spawn(shared: &Arc<Shared>, uuid: Uuid);
    /// The record from a reply of this kind, if it carries one.
    fn reply_record(reply: Self::Reply) -> Option<Arc<Self::Record>>;
}

/// The driver noticed a change by itself: reload the object from the driver,
/// publish the snapshot, then the event (if any). Serialised with commands
/// through the mailbox like everything else.
pub struct Refresh(pub Option<DriverEvent>);

impl Message for Refresh {
    type Result = ();
}

/// A command for the object an actor owns.
pub struct Command<K: ObjectKind>(pub K::Op);

impl<K: ObjectKind> Message for Command<K> {
    type Result = VirtResult<K::Reply>;
}

pub struct ObjectActor<K: ObjectKind> {
    uuid: Uuid,
    shared: Arc<Shared>,
    /// Restarts after panics, for logs and tests.
    restarts: u32,
    /// Set once the object is gone, so a supervisor restart does nothing.
    gone: bool,
    /// The last name seen, for events about an object that just vanished.
    name_hint: Option<String>,
    _kind: std::marker::PhantomData<K>,
}

impl<K: ObjectKind> ObjectActor<K> {
    pub fn new(uuid: Uuid, shared: Arc<Shared>) -> Self {
        ObjectActor {
            uuid,
            shared,
            restarts: 0,
            gone: false,
            name_hint: None,
            _kind: std::marker::PhantomData,
        }
    }

    /// Turns a finished execution into the reply, updating the snapshot and
    /// publishing events on success.
    fn finish(
        &mut self,
        result: Result<VirtResult<Applied<K>>, String>,
        ctx: &mut Context<Self>,
    ) -> VirtResult<K::Reply> {
        match result {
            Ok(Ok(applied)) => {
                if let Some(record) = &applied.record {
                    if self.name_hint.as_deref() != Some(K::name_ref(record)) {
                        self.name_hint = Some(K::name_of(record));
                    }
                }
                let gone = applied.record.is_none();
                let mut events = applied.events;
                if applied.changed || gone {
                    K::put_snapshot_for(&self.shared, self.uuid, applied.record, &mut events);
                }
                for body in events {
                    self.shared.bus.publish(body);
                }
                if gone {
                    self.gone = true;
                    K::unregister(&self.shared, self.uuid);
                    ctx.stop();
                }
                Ok(applied.reply)
            }
            Ok(Err(err)) => Err(err),
            Err(panic) => {
                tracing::error!(kind = K::NAME, uuid = %self.uuid, panic = %panic, "actor panicked; restarting it from driver state");
                ctx.stop();
                Err(VirtError::internal(format!(
                    "{} actor for {} failed while handling the command ({panic}); it was restarted from driver state",
                    K::NAME,
                    self.uuid
                )))
            }
        }
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

impl<K: ObjectKind> Actor for ObjectActor<K> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Enough mailbox for many concurrent callers before they wait.
        ctx.set_mailbox_capacity(1024);
        // Events about an object that vanishes need its last name.
        if self.name_hint.is_none() {
            self.name_hint = K::snapshot_name(&self.shared, self.uuid);
        }
    }
}

impl<K: ObjectKind> Supervised for ObjectActor<K> {
    /// Reloads the object from the driver after a panic.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        if self.gone {
            return;
        }
        self.restarts += 1;
        match K::fetch(&self.shared, self.uuid) {
            Ok(record) => {
                let gone = record.is_none();
                K::put_snapshot(&self.shared, self.uuid, record);
                if gone {
                    self.gone = true;
                    K::unregister(&self.shared, self.uuid);
                }
                tracing::info!(kind = K::NAME, uuid = %self.uuid, restarts = self.restarts, "actor restarted from driver state");
            }
            Err(err) => {
                tracing::error!(kind = K::NAME, uuid = %self.uuid, error = %err, "actor restarted but could not reload its object");
            }
        }
    }
}

/// A command's reply: ready now (in-memory drivers), or later from the
/// blocking pool. A later reply is forwarded by a task of its own, so it
/// reaches the caller even when the command ends the object (and its actor).
pub enum CommandReply<T> {
    Now(T),
    Later(tokio::sync::oneshot::Receiver<T>),
}

impl<A, M, T> actix::dev::MessageResponse<A, M> for CommandReply<T>
where
    A: Actor,
    M: Message<Result = T>,
    T: Send + 'static,
{
    fn handle(self, _ctx: &mut A::Context, tx: Option<actix::dev::OneshotSender<T>>) {
        match self {
            CommandReply::Now(value) => {
                if let Some(tx) = tx {
                    let _ = tx.send(value);
                }
            }
            CommandReply::Later(rx) => {
                actix::spawn(async move {
                    if let (Ok(value), Some(tx)) = (rx.await, tx) {
                        let _ = tx.send(value);
                    }
                });
            }
        }
    }
}

impl<K: ObjectKind> Handler<Command<K>> for ObjectActor<K> {
    type Result = CommandReply<VirtResult<K::Reply>>;

    fn handle(&mut self, msg: Command<K>, ctx: &mut Context<Self>) -> Self::Result {
        let uuid = self.uuid;
        if !self.shared.conn.blocking {
            let shared = self.shared.clone();
            let result = catch_unwind(AssertUnwindSafe(|| K::execute(&shared, uuid, msg.0))).map_err(panic_text);
            return CommandReply::Now(self.finish(result, ctx));
        }
        // A blocking driver runs on tokio's blocking pool; `ctx.wait` keeps
        // this object's later commands queued until it is done.
        let shared = self.shared.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let work = tokio::task::spawn_blocking(move || {
            catch_unwind(AssertUnwindSafe(|| K::execute(&shared, uuid, msg.0))).map_err(panic_text)
        });
        ctx.wait(actix::fut::wrap_future::<_, Self>(work).map(move |joined, act, ctx| {
            let result = joined.unwrap_or_else(|err| Err(err.to_string()));
            let _ = tx.send(act.finish(result, ctx));
        }));
        CommandReply::Later(rx)
    }
}

impl<K: ObjectKind> Handler<Refresh> for ObjectActor<K> {
    type Result = ();

    fn handle(&mut self, msg: Refresh, ctx: &mut Context<Self>) {
        // The hint may be empty: an actor spawned for a new object can start
        // before the snapshot holds the object. The snapshot has it by now.
        let name_before = self
            .name_hint
            .clone()
            .or_else(|| K::snapshot_name(&self.shared, self.uuid));
        match K::fetch(&self.shared, self.uuid) {
            Ok(record) => {
                let name = record.as_ref().map(K::name_of).or(name_before).unwrap_or_default();
                self.name_hint = Some(name.clone());
                let gone = record.is_none();
                let mut body = msg.0.as_ref().and_then(|e| K::event_body(self.uuid, &name, e));
                K::put_snapshot_for(&self.shared, self.uuid, record, body.as_mut_slice());
                if let Some(body) = body {
                    self.shared.bus.publish(body);
                }
                if gone {
                    self.gone = true;
                    K::unregister(&self.shared, self.uuid);
                    ctx.stop();
                }
            }
            Err(err) => {
                tracing::warn!(kind = K::NAME, uuid = %self.uuid, error = %err, "could not reload after a driver notice");
            }
        }
    }
}

/// Builds the reply and bus events of a driver outcome for kind `K`.
pub(crate) fn applied<K: ObjectKind>(
    outcome: virtbus_drivers::Outcome<K::Record>,
    uuid: Uuid,
    name_before: impl FnOnce() -> Option<String>,
    reply: impl FnOnce(Option<&K::Record>) -> K::Reply,
) -> Applied<K> {
    // The name of an object that just vanished is still in the snapshot:
    // the actor removes it only after this command.
    let name = match &outcome.record {
        Some(record) => K::name_of(record),
        None => name_before().unwrap_or_default(),
    };
    let events = outcome
        .events
        .iter()
        .filter_map(|e| K::event_body(uuid, &name, e))
        .collect();
    let reply = reply(outcome.record.as_ref());
    Applied {
        record: outcome.record,
        changed: true,
        events,
        reply,
    }
}
