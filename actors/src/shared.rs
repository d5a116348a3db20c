//! State every actor shares: the driver connection, the bus, the snapshot,
//! the store and the registry of actor addresses.

use crate::bus::Bus;
use crate::domain::DomainKind;
use crate::network::NetworkKind;
use crate::object::{ObjectActor, Registered};
use crate::pool::PoolKind;
use crate::snapshot::SnapshotCell;
use crate::stats::StatsCache;
use crate::store::Store;
use actix::{Addr, ArbiterHandle, Supervisor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use uuid::Uuid;
use virtbus_drivers::Connection;

pub type DomainAddr = Addr<ObjectActor<DomainKind>>;
pub type PoolAddr = Addr<ObjectActor<PoolKind>>;
pub type NetworkAddr = Addr<ObjectActor<NetworkKind>>;

/// UUID → actor address, one map per kind. Names resolve through the
/// snapshot; addresses live here.
#[derive(Default)]
pub struct Registry {
    pub domains: Registered<DomainKind>,
    pub pools: Registered<PoolKind>,
    pub networks: Registered<NetworkKind>,
}

pub struct Shared {
    pub conn: Connection,
    pub bus: Bus,
    pub snapshot: SnapshotCell,
    pub store: Option<Store>,
    pub registry: Registry,
    pub stats: StatsCache,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
    /// Enables test-only commands (a deliberate panic).
    pub test_hooks: bool,
}

impl Shared {
    pub fn new(
        conn: Connection,
        bus: Bus,
        store: Option<Store>,
        arbiters: Vec<ArbiterHandle>,
        test_hooks: bool,
    ) -> Shared {
        Shared {
            conn,
            bus,
            snapshot: SnapshotCell::default(),
            store,
            registry: Registry::default(),
            stats: StatsCache::default(),
            arbiters,
            next_arbiter: AtomicUsize::new(0),
            test_hooks,
        }
    }

    /// Arbiters are used round-robin so objects spread over the cores.
    fn arbiter(&self) -> &ArbiterHandle {
        let idx = self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        &self.arbiters[idx]
    }

    pub fn spawn_domain(self: &Arc<Self>, uuid: Uuid) -> DomainAddr {
        let shared = self.clone();
        let addr = Supervisor::start_in_arbiter(self.arbiter(), move |_| ObjectActor::new(uuid, shared));
        self.registry.domains.write().insert(uuid, addr.clone());
        addr
    }

    pub fn spawn_pool(self: &Arc<Self>, uuid: Uuid) -> PoolAddr {
        let shared = self.clone();
        let addr = Supervisor::start_in_arbiter(self.arbiter(), move |_| ObjectActor::new(uuid, shared));
        self.registry.pools.write().insert(uuid, addr.clone());
        addr
    }

    pub fn spawn_network(self: &Arc<Self>, uuid: Uuid) -> NetworkAddr {
        let shared = self.clone();
        let addr = Supervisor::start_in_arbiter(self.arbiter(), move |_| ObjectActor::new(uuid, shared));
        self.registry.networks.write().insert(uuid, addr.clone());
        addr
    }
}
