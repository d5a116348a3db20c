//! [`Core`]: the handle adapters and the agent use. It starts the actor
//! system, loads the driver and the store, and routes each command to the
//! actor of its object. Reads go to the [`Snapshot`].

use crate::bus::{Bus, Subscription, DEFAULT_CAPACITY};
use crate::domain::DomainKind;
use crate::domain::{DomainOp, DomainReply};
use crate::network::NetworkKind;
use crate::network::NetworkOp;
use crate::node::{Adopt, NewObject, NodeActor};
use crate::object::Command;
use crate::object::{ObjectKind, Refresh};
use crate::pool::PoolKind;
use crate::pool::{PoolOp, PoolReply};
use crate::shared::Shared;
use crate::snapshot::Snapshot;
use crate::store::{Store, StoredState};
use crate::system::ActorSystem;
use actix::{Addr, MailboxError, Supervisor};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;
use virtbus_drivers::model::DriverEvent;
use virtbus_drivers::{Connection, DomainRecord, DomainStats, NetworkRecord, PoolRecord, VolumeRecord};
use virtbus_drivers::{DriverNotice, LinkState};
use virtbus_schemas::{DomainDef, ErrorCode, NetworkDef, NodeInfo, PoolDef, VirtError, VirtResult, VolumeDef};

/// How to start the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Driver URI (`test:///default`).
    pub uri: String,
    /// Where definitions persist; `None` keeps nothing (tests, benchmarks).
    pub state_dir: Option<PathBuf>,
    /// Actor threads; defaults to [`default_workers`].
    pub workers: usize,
    /// Events a slow subscriber may fall behind by.
    pub bus_capacity: usize,
    /// Enables test-only commands.
    pub test_hooks: bool,
}

/// The cores of this machine (as the scheduler lets this process use them).
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// Actor threads by default: half the cores, at least one. The other half
/// runs the protocol adapters ([`adapter_threads`]); with a thread per core
/// neither side waits for the other to be scheduled, which measured faster
/// than both sides using every core (docs/benchmarks.md, core section).
pub fn default_workers() -> usize {
    (cores() / 2).max(1)
}

/// Threads for the protocol adapters' runtime when the actors use `workers`.
pub fn adapter_threads(workers: usize) -> usize {
    cores().saturating_sub(workers).max(1)
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            uri: "test:///default".into(),
            state_dir: None,
            workers: default_workers(),
            bus_capacity: DEFAULT_CAPACITY,
            test_hooks: false,
        }
    }
}

/// Facts about start-up, for the log line and the benchmarks.
#[derive(Debug, Clone)]
pub struct StartReport {
    pub domains: usize,
    pub pools: usize,
    pub networks: usize,
    /// Files in the store that did not parse and were set aside.
    pub set_aside: Vec<(PathBuf, PathBuf, String)>,
    pub load_time: std::time::Duration,
}

/// The running core. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    shared: Arc<Shared>,
    node: Addr<NodeActor>,
    system: Arc<Mutex<ActorSystem>>,
    report: Arc<StartReport>,
    /// Ends the driver notice thread at shutdown.
    stop_notices: crossbeam_channel::Sender<()>,
    state_dir: Option<Arc<PathBuf>>,
}

impl Core {
    /// Opens the driver, replays the store, starts one actor per object.
    pub fn start(config: CoreConfig) -> VirtResult<Core> {
        let started = Instant::now();
        let options = virtbus_drivers::OpenOptions {
            state_dir: config.state_dir.clone(),
        };
        let conn = virtbus_drivers::open_with(&config.uri, &options)?;
        let mut core = Self::start_with(config, conn)?;
        // The report covers opening the driver too (parsing a node file is
        // most of a large start).
        if let Some(report) = Arc::get_mut(&mut core.report) {
            report.load_time = started.elapsed();
        }
        Ok(core)
    }

    /// Like [`Core::start`], on a connection the caller opened (tests use it
    /// to change the driver behind the core's back).
    pub fn start_with(config: CoreConfig, conn: Connection) -> VirtResult<Core> {
        let started = Instant::now();
        // A driver that keeps definitions itself (libvirtd) is the store.
        let store = match &config.state_dir {
            Some(dir) if !conn.keeps_definitions => Some(Store::open(dir, &config.uri)?),
            _ => None,
        };
        let stored = match &store {
            Some(store) => store.load()?,
            None => StoredState::default(),
        };
        let set_aside = stored.set_aside.clone();
        replay_store(&conn, stored);

        let system = ActorSystem::start(config.workers)?;
        let epoch = crate::bus::now_ns();
        let bus = Bus::new(epoch, config.bus_capacity);
        let shared = Arc::new(Shared::new(
            conn,
            bus,
            store,
            system.arbiters.clone(),
            config.test_hooks,
        ));

        let domains = shared.conn.hypervisor.list_domains()?;
        let pools = shared.conn.storage.list_pools()?;
        let networks = shared.conn.network.list_networks()?;
        let node_info = shared.conn.node.node_info()?;
        let counts = (domains.len(), pools.len(), networks.len());
        let uuids: (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>) = (
            domains.iter().map(|d| d.uuid()).collect(),
            pools.iter().map(|p| p.def.uuid).collect(),
            networks.iter().map(|n| n.def.uuid).collect(),
        );
        shared.snapshot.replace_all(|s| {
            for d in domains {
                s.domain_names.insert(d.def.name.clone(), d.uuid());
                s.domains.insert(d.uuid(), Arc::new(d));
            }
            for p in pools {
                s.pool_names.insert(p.def.name.clone(), p.def.uuid);
                s.pools.insert(p.def.uuid, Arc::new(p));
            }
            for n in networks {
                s.network_names.insert(n.def.name.clone(), n.def.uuid);
                s.networks.insert(n.def.uuid, Arc::new(n));
            }
            s.node = Some(Arc::new(node_info));
        });
        for uuid in uuids.0 {
            shared.spawn_domain(uuid);
        }
        for uuid in uuids.1 {
            shared.spawn_pool(uuid);
        }
        for uuid in uuids.2 {
            shared.spawn_network(uuid);
        }
        let node_shared = shared.clone();
        let node = Supervisor::start_in_arbiter(&system.arbiters[0], move |_| NodeActor::new(node_shared));
        let (stop_notices, stopped) = crossbeam_channel::bounded::<()>(1);
        if let Some(notices) = shared.conn.notices.clone() {
            let (shared, node) = (shared.clone(), node.clone());
            std::thread::Builder::new()
                .name("virtbus-notices".into())
                .spawn(move || pump_notices(notices, stopped, shared, node))
                .map_err(|e| VirtError::internal(format!("cannot start the driver notice thread: {e}")))?;
        }
        let report = StartReport {
            domains: counts.0,
            pools: counts.1,
            networks: counts.2,
            set_aside,
            load_time: started.elapsed(),
        };
        Ok(Core {
            shared,
            node,
            system: Arc::new(Mutex::new(system)),
            report: Arc::new(report),
            stop_notices,
            state_dir: config.state_dir.map(Arc::new),
        })
    }

    /// The state directory the core persists into (adapters keep their own
    /// state, e.g. the SNMP engine id, beside it); `None` when persistence is off.
    pub fn state_dir(&self) -> Option<&std::path::Path> {
        self.state_dir.as_deref().map(|p| p.as_path())
    }

    pub fn report(&self) -> &StartReport {
        &self.report
    }

    pub fn uri(&self) -> &str {
        &self.shared.conn.uri
    }

    pub fn connection(&self) -> &Connection {
        &self.shared.conn
    }

    /// Whether the driver follows the service it fronts (libvirtd). While
    /// it is `Down`, the snapshot is the last known state: stale.
    pub fn link_state(&self) -> LinkState {
        self.shared
            .conn
            .link
            .as_ref()
            .map_or(LinkState::Up, |link| link.link_state())
    }

    pub fn epoch(&self) -> u64 {
        self.shared.bus.epoch()
    }

    /// The current picture of every object; never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load()
    }

    pub fn subscribe(&self) -> Subscription {
        self.shared.bus.subscribe()
    }

    pub fn node_info(&self) -> VirtResult<NodeInfo> {
        self.shared.conn.node.node_info()
    }

    pub fn hostname(&self) -> VirtResult<String> {
        self.shared.conn.node.hostname()
    }

    /// Stops all actors. Everything persistent is already on disk: the store
    /// writes before each reply.
    pub fn shutdown(&self) {
        let _ = self.stop_notices.try_send(());
        self.shared.registry.domains.write().clear();
        self.shared.registry.pools.write().clear();
        self.shared.registry.networks.write().clear();
        self.system.lock().stop();
    }

    // ---- lookups -------------------------------------------------------

    /// Finds a domain as virsh does: by id, then UUID, then name.
    pub fn lookup_domain(&self, key: &str) -> VirtResult<Arc<DomainRecord>> {
        let snap = self.snapshot();
        if let Ok(id) = key.parse::<u32>() {
            if let Some(d) = snap.domain_by_id(id) {
                return Ok(d.clone());
            }
        }
        if let Ok(uuid) = Uuid::parse_str(key) {
            if let Some(d) = snap.domains.get(&uuid) {
                return Ok(d.clone());
            }
        }
        snap.domain_by_name(key)
            .cloned()
            .ok_or_else(|| VirtError::new(ErrorCode::NoDomain, format!("no domain with matching name '{key}'")))
    }

    pub fn lookup_pool(&self, key: &str) -> VirtResult<Arc<PoolRecord>> {
        let snap = self.snapshot();
        if let Ok(uuid) = Uuid::parse_str(key) {
            if let Some(p) = snap.pools.get(&uuid) {
                return Ok(p.clone());
            }
        }
        snap.pool_by_name(key).cloned().ok_or_else(|| {
            VirtError::new(
                ErrorCode::NoStoragePool,
                format!("no storage pool with matching name '{key}'"),
            )
        })
    }

    pub fn lookup_network(&self, key: &str) -> VirtResult<Arc<NetworkRecord>> {
        let snap = self.snapshot();
        if let Ok(uuid) = Uuid::parse_str(key) {
            if let Some(n) = snap.networks.get(&uuid) {
                return Ok(n.clone());
            }
        }
        snap.network_by_name(key)
            .cloned()
            .ok_or_else(|| VirtError::new(ErrorCode::NoNetwork, format!("no network with matching name '{key}'")))
    }

    /// `define` (`live == false`) or `create`: through the object's own actor
    /// when it exists (so it is serialised with the object's commands), else
    /// through the node actor, which creates it.
    async fn new_or_existing<K: ObjectKind>(&self, def: K::Def, live: bool) -> VirtResult<Arc<K::Record>>
    where
        NodeActor: actix::Handler<NewObject<K>>,
    {
        let uuid = K::def_uuid(&def);
        if let Some(addr) = K::addr(&self.shared, uuid) {
            let op = K::redefine(def, live);
            let reply = addr.send(Command(op)).await.map_err(|e| mailbox(K::NAME, uuid, e))??;
            return K::reply_record(reply)
                .ok_or_else(|| VirtError::internal(format!("{} {uuid} vanished while being defined", K::NAME)));
        }
        let msg = NewObject::<K> {
            def: Box::new(def),
            live,
        };
        self.node.send(msg).await.map_err(|e| mailbox("node", uuid, e))?
    }

    // ---- domains -------------------------------------------------------

    /// Sends `op` to the actor of object `uuid` of kind `K` and waits for
    /// the reply. The message is queued while the registry is read-locked,
    /// so no address is cloned per command; the wait happens unlocked.
    async fn command<K: ObjectKind>(&self, uuid: Uuid, op: K::Op) -> VirtResult<K::Reply> {
        let request = K::registry(&self.shared)
            .read()
            .get(&uuid)
            .map(|addr| addr.send(Command(op)));
        let request = request.ok_or_else(|| no_object(K::NAME, uuid))?;
        request.await.map_err(|e| mailbox(K::NAME, uuid, e))?
    }

    /// Sends `op` to the domain's actor.
    pub async fn domain(&self, uuid: Uuid, op: DomainOp) -> VirtResult<DomainReply> {
        self.command::<DomainKind>(uuid, op).await
    }

    /// Starts every inactive network, pool and domain marked autostart, in
    /// that order (guests may use their networks and volumes), as libvirtd
    /// does when it starts.
    /// Failures are logged and returned as (kind, name, error); they never
    /// stop the agent. Nothing to do for drivers that keep definitions
    /// (libvirtd autostarts its own objects).
    pub async fn autostart(&self) -> Vec<(&'static str, String, VirtError)> {
        let mut failed = Vec::new();
        if self.shared.conn.keeps_definitions {
            return failed;
        }
        let snap = self.snapshot();
        let due = |mut objects: Vec<(Uuid, String)>| {
            objects.sort_by(|a, b| a.1.cmp(&b.1));
            objects
        };
        let networks = due(snap
            .networks
            .values()
            .filter(|n| n.autostart && !n.active)
            .map(|n| (n.def.uuid, n.def.name.clone()))
            .collect());
        self.autostart_each::<NetworkKind>(networks, || NetworkOp::Start, &mut failed)
            .await;
        let pools = due(snap
            .pools
            .values()
            .filter(|p| p.autostart && !p.is_active())
            .map(|p| (p.def.uuid, p.def.name.clone()))
            .collect());
        self.autostart_each::<PoolKind>(pools, || PoolOp::Start, &mut failed)
            .await;
        let domains = due(snap
            .domains
            .values()
            .filter(|d| d.autostart && !d.is_active())
            .map(|d| (d.uuid(), d.def.name.clone()))
            .collect());
        self.autostart_each::<DomainKind>(domains, || DomainOp::Start, &mut failed)
            .await;
        failed
    }

    /// Starts each of `objects` (uuid, name) of one kind, in order, logging
    /// each outcome and collecting failures.
    async fn autostart_each<K: ObjectKind>(
        &self,
        objects: Vec<(Uuid, String)>,
        start: impl Fn() -> K::Op,
        failed: &mut Vec<(&'static str, String, VirtError)>,
    ) {
        for (uuid, name) in objects {
            match self.command::<K>(uuid, start()).await {
                Ok(_) => tracing::info!(kind = K::NAME, name = %name, "{} {name} autostarted", K::NAME),
                Err(err) => {
                    tracing::error!(kind = K::NAME, name = %name, error = %err, "{} {name}: autostart failed", K::NAME);
                    failed.push((K::NAME, name, err));
                }
            }
        }
    }

    /// Like [`Core::domain`], for commands that answer with the record.
    pub async fn domain_record(&self, uuid: Uuid, op: DomainOp) -> VirtResult<Option<Arc<DomainRecord>>> {
        match self.domain(uuid, op).await? {
            DomainReply::Record(rec) => Ok(rec),
            DomainReply::Stats(_) => Err(VirtError::internal("domain actor answered with stats")),
        }
    }

    pub async fn domain_stats(&self, uuid: Uuid) -> VirtResult<DomainStats> {
        match self.domain(uuid, DomainOp::Stats).await? {
            DomainReply::Stats(stats) => Ok(stats),
            DomainReply::Record(_) => Err(VirtError::internal("domain actor answered without stats")),
        }
    }

    /// The cached sample of `uuid` if it is no older than `max_age`: what
    /// [`Core::stats`] answers without asking the actor, or `None`.
    pub fn cached_stats(&self, uuid: Uuid, max_age: std::time::Duration) -> Option<Arc<DomainStats>> {
        self.shared.stats.get(uuid, max_age)
    }

    /// Statistics no older than `max_age` (see [`crate::stats`]).
    pub async fn stats(&self, uuid: Uuid, max_age: std::time::Duration) -> VirtResult<Arc<DomainStats>> {
        if let Some(stats) = self.cached_stats(uuid, max_age) {
            return Ok(stats);
        }
        let stats = self.domain_stats(uuid).await?;
        // The actor cached its sample; hand out that one so readers share it.
        Ok(self
            .shared
            .stats
            .get(uuid, std::time::Duration::MAX)
            .unwrap_or_else(|| Arc::new(stats)))
    }

    /// Makes sure every domain in `uuids` has a sample no older than
    /// `max_age` cached, for readers about to read many (an SNMP walk of
    /// CPU times). Where the driver samples many domains in one call
    /// ([`HypervisorDriver::domain_stats_many`](virtbus_drivers::HypervisorDriver::domain_stats_many)),
    /// that is one call (on the blocking pool for a blocking driver) instead of
    /// a message to each domain's actor; otherwise the actors are asked
    /// together. Failures are left for the reads themselves to report.
    pub async fn prefetch_stats(&self, uuids: &[Uuid], max_age: std::time::Duration) {
        let stale = self.stale_stats(uuids, max_age);
        if stale.is_empty() {
            return;
        }
        if self.shared.conn.blocking {
            let core = self.clone();
            let batch = stale.clone();
            let sampled = tokio::task::spawn_blocking(move || core.sample_batch(&batch)).await;
            if matches!(sampled, Ok(true)) {
                return;
            }
        } else if self.sample_batch(&stale) {
            return;
        }
        futures::future::join_all(stale.into_iter().map(|uuid| self.stats(uuid, max_age))).await;
    }

    /// [`Core::prefetch_stats`] without waiting: done only when the driver
    /// samples in memory, in one call (the test driver). Whether it was done;
    /// a caller that cannot wait leaves the rest to a path that can.
    pub fn prefetch_stats_now(&self, uuids: &[Uuid], max_age: std::time::Duration) -> bool {
        if self.shared.conn.blocking {
            return false;
        }
        let stale = self.stale_stats(uuids, max_age);
        stale.is_empty() || self.sample_batch(&stale)
    }

    fn stale_stats(&self, uuids: &[Uuid], max_age: std::time::Duration) -> Vec<Uuid> {
        uuids
            .iter()
            .copied()
            .filter(|uuid| self.cached_stats(*uuid, max_age).is_none())
            .collect()
    }

    /// One driver call for `uuids`, cached unless a domain changed state
    /// meanwhile. False when the driver has no such call.
    fn sample_batch(&self, uuids: &[Uuid]) -> bool {
        let cache = &self.shared.stats;
        let generations: Vec<u64> = uuids.iter().map(|uuid| cache.generation(*uuid)).collect();
        let Some(results) = self.shared.conn.hypervisor.domain_stats_many(uuids) else {
            return false;
        };
        for ((uuid, generation), result) in uuids.iter().zip(generations).zip(results) {
            if let Ok(stats) = result {
                cache.put_if_generation(*uuid, generation, stats);
            }
        }
        true
    }

    /// `virDomainDefineXML`.
    pub async fn define_domain(&self, xml: &str) -> VirtResult<Arc<DomainRecord>> {
        let def = DomainDef::from_xml(xml)?;
        self.new_or_existing::<DomainKind>(def, false).await
    }

    /// `virDomainCreateXML`: a transient domain, started.
    pub async fn create_domain(&self, xml: &str) -> VirtResult<Arc<DomainRecord>> {
        let def = DomainDef::from_xml(xml)?;
        self.new_or_existing::<DomainKind>(def, true).await
    }

    // ---- pools and volumes --------------------------------------------

    pub async fn pool(&self, uuid: Uuid, op: PoolOp) -> VirtResult<PoolReply> {
        self.command::<PoolKind>(uuid, op).await
    }

    pub async fn pool_record(&self, uuid: Uuid, op: PoolOp) -> VirtResult<Option<Arc<PoolRecord>>> {
        match self.pool(uuid, op).await? {
            PoolReply::Record(rec) => Ok(rec),
            PoolReply::Volume(_) => Err(VirtError::internal("pool actor answered with a volume")),
        }
    }

    pub async fn define_pool(&self, xml: &str) -> VirtResult<Arc<PoolRecord>> {
        let def = PoolDef::from_xml(xml)?;
        self.new_or_existing::<PoolKind>(def, false).await
    }

    pub async fn create_pool(&self, xml: &str) -> VirtResult<Arc<PoolRecord>> {
        let def = PoolDef::from_xml(xml)?;
        self.new_or_existing::<PoolKind>(def, true).await
    }

    pub async fn create_volume(&self, pool: Uuid, xml: &str) -> VirtResult<VolumeRecord> {
        let def = VolumeDef::from_xml(xml)?;
        match self.pool(pool, PoolOp::CreateVolume(Box::new(def))).await? {
            PoolReply::Volume(vol) => Ok(*vol),
            PoolReply::Record(_) => Err(VirtError::internal("pool actor created no volume")),
        }
    }

    /// Grows volume `name` of `pool` to `capacity_bytes`.
    pub async fn resize_volume(&self, pool: Uuid, name: &str, capacity_bytes: u64) -> VirtResult<VolumeRecord> {
        let op = PoolOp::ResizeVolume {
            name: name.to_string(),
            capacity_bytes,
        };
        match self.pool(pool, op).await? {
            PoolReply::Volume(vol) => Ok(*vol),
            PoolReply::Record(_) => Err(VirtError::internal("pool actor resized no volume")),
        }
    }

    // ---- networks ------------------------------------------------------

    pub async fn network(&self, uuid: Uuid, op: NetworkOp) -> VirtResult<Option<Arc<NetworkRecord>>> {
        self.command::<NetworkKind>(uuid, op).await
    }

    pub async fn define_network(&self, xml: &str) -> VirtResult<Arc<NetworkRecord>> {
        let def = NetworkDef::from_xml(xml)?;
        self.new_or_existing::<NetworkKind>(def, false).await
    }

    pub async fn create_network(&self, xml: &str) -> VirtResult<Arc<NetworkRecord>> {
        let def = NetworkDef::from_xml(xml)?;
        self.new_or_existing::<NetworkKind>(def, true).await
    }
}

/// Routes driver notices to the object's actor, or to the node actor when
/// the object is new to the core, until the driver or the core goes away.
fn pump_notices(
    notices: crossbeam_channel::Receiver<DriverNotice>,
    stop: crossbeam_channel::Receiver<()>,
    shared: Arc<Shared>,
    node: Addr<NodeActor>,
) {
    loop {
        crossbeam_channel::select! {
            recv(notices) -> notice => match notice {
                Ok(DriverNotice::Domain { uuid, event }) => {
                    route::<DomainKind>(&shared, &node, uuid, event.map(DriverEvent::Domain))
                }
                Ok(DriverNotice::Pool { uuid, event }) => {
                    route::<PoolKind>(&shared, &node, uuid, event.map(DriverEvent::Pool))
                }
                Ok(DriverNotice::Network { uuid, event }) => {
                    route::<NetworkKind>(&shared, &node, uuid, event.map(DriverEvent::Network))
                }
                Err(_) => return,
            },
            recv(stop) -> _ => return,
        }
    }
}

fn route<K: ObjectKind>(shared: &Shared, node: &Addr<NodeActor>, uuid: Uuid, event: Option<DriverEvent>)
where
    NodeActor: actix::Handler<Adopt<K>>,
{
    match K::addr(shared, uuid) {
        Some(addr) => addr.do_send(Refresh(event)),
        None => node.do_send(Adopt::<K> {
            uuid,
            event,
            kind: std::marker::PhantomData,
        }),
    }
}

/// Applies the store's definitions and removals on top of the driver's
/// initial objects, without events: this is the state from before the
/// restart, not a change.
fn replay_store(conn: &Connection, stored: StoredState) {
    for def in stored.domains.defined {
        let name = def.name.clone();
        if let Err(err) = conn.hypervisor.define_domain(def) {
            tracing::error!(domain = %name, error = %err, "stored domain definition could not be restored");
        }
    }
    for uuid in stored.domains.removed {
        // A guest the driver found still running after it was undefined
        // (transient now, as libvirt leaves it: a qemu guest reattached)
        // runs on; only a base object the driver recreated as persistent
        // (a node file's domain) goes again.
        if let Some(rec) = conn.hypervisor.get_domain(uuid).ok().filter(|r| r.persistent) {
            // It was undefined and stopped before, so it goes entirely.
            if rec.is_active() {
                let _ = conn.hypervisor.destroy_domain(uuid);
            }
            if let Err(err) = conn.hypervisor.undefine_domain(uuid) {
                tracing::error!(domain = %uuid, error = %err, "stored domain removal could not be replayed");
            }
        }
    }
    for uuid in stored.domains.autostart {
        if let Err(err) = conn.hypervisor.set_domain_autostart(uuid, true) {
            tracing::error!(domain = %uuid, error = %err, "stored autostart mark could not be restored");
        }
    }
    for def in stored.pools.defined {
        let name = def.name.clone();
        if let Err(err) = conn.storage.define_pool(def) {
            tracing::error!(pool = %name, error = %err, "stored pool definition could not be restored");
        }
    }
    for uuid in stored.pools.removed {
        if conn.storage.get_pool(uuid).is_ok() {
            // An active pool must stop before it can be undefined.
            let _ = conn.storage.destroy_pool(uuid);
            if let Err(err) = conn.storage.undefine_pool(uuid) {
                tracing::error!(pool = %uuid, error = %err, "stored pool removal could not be replayed");
            }
        }
    }
    for uuid in stored.pools.autostart {
        if let Err(err) = conn.storage.set_pool_autostart(uuid, true) {
            tracing::error!(pool = %uuid, error = %err, "stored autostart mark could not be restored");
        }
    }
    for def in stored.networks.defined {
        let name = def.name.clone();
        if let Err(err) = conn.network.define_network(def) {
            tracing::error!(network = %name, error = %err, "stored network definition could not be restored");
        }
    }
    for uuid in stored.networks.removed {
        // A network the driver found still running after it was undefined
        // (transient now, as libvirt leaves it) stays up; only a base
        // object the driver recreated as persistent goes again.
        if conn.network.get_network(uuid).is_ok_and(|rec| rec.persistent) {
            let _ = conn.network.destroy_network(uuid);
            if let Err(err) = conn.network.undefine_network(uuid) {
                tracing::error!(network = %uuid, error = %err, "stored network removal could not be replayed");
            }
        }
    }
    for uuid in stored.networks.autostart {
        if let Err(err) = conn.network.set_network_autostart(uuid, true) {
            tracing::error!(network = %uuid, error = %err, "stored autostart mark could not be restored");
        }
    }
}

fn no_object(kind: &str, uuid: Uuid) -> VirtError {
    let code = match kind {
        "pool" => ErrorCode::NoStoragePool,
        "network" => ErrorCode::NoNetwork,
        _ => ErrorCode::NoDomain,
    };
    VirtError::new(code, format!("no {kind} with matching uuid '{uuid}'"))
}

fn mailbox(kind: &str, uuid: Uuid, err: MailboxError) -> VirtError {
    match err {
        MailboxError::Closed => no_object(kind, uuid),
        MailboxError::Timeout => VirtError::new(
            ErrorCode::OperationTimeout,
            format!("{kind} {uuid} did not answer in time"),
        ),
    }
}
