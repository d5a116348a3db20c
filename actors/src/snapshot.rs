//! The read snapshot: an immutable picture of every object, swapped
//! atomically on each change.
//!
//! Adapters that enumerate (SNMP walks, CIM enumerations, QMF queries, `ctl
//! list`) read a [`Snapshot`] instead of asking thousands of actors. Maps are
//! persistent (`imbl`), so publishing a change costs O(log n) and readers never
//! wait. Domains are keyed by UUID in byte order — the order SNMP walks the
//! guest table in.

use arc_swap::ArcSwap;
use imbl::{HashMap, OrdMap};
use parking_lot::Mutex;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_drivers::{DomainRecord, NetworkRecord, PoolRecord};
use virtbus_schemas::NodeInfo;

/// One consistent picture of the host.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub domains: OrdMap<Uuid, Arc<DomainRecord>>,
    pub domain_names: HashMap<String, Uuid>,
    pub pools: OrdMap<Uuid, Arc<PoolRecord>>,
    pub pool_names: HashMap<String, Uuid>,
    pub networks: OrdMap<Uuid, Arc<NetworkRecord>>,
    pub network_names: HashMap<String, Uuid>,
    pub node: Option<Arc<NodeInfo>>,
    /// Bumped on every published change.
    pub version: u64,
}

impl Snapshot {
    pub fn domain_by_name(&self, name: &str) -> Option<&Arc<DomainRecord>> {
        self.domain_names.get(name).and_then(|u| self.domains.get(u))
    }

    /// libvirt's `virDomainLookupByID`: the active domain with that id.
    pub fn domain_by_id(&self, id: u32) -> Option<&Arc<DomainRecord>> {
        self.domains.values().find(|d| d.id == Some(id))
    }

    pub fn pool_by_name(&self, name: &str) -> Option<&Arc<PoolRecord>> {
        self.pool_names.get(name).and_then(|u| self.pools.get(u))
    }

    pub fn network_by_name(&self, name: &str) -> Option<&Arc<NetworkRecord>> {
        self.network_names.get(name).and_then(|u| self.networks.get(u))
    }
}

/// The published snapshot plus the writers' master copy.
#[derive(Default)]
pub struct SnapshotCell {
    published: ArcSwap<Snapshot>,
    /// Writers serialise here; readers never touch it.
    master: Mutex<Snapshot>,
}

impl SnapshotCell {
    /// The current picture; cheap (an `Arc` clone), never blocks.
    pub fn load(&self) -> Arc<Snapshot> {
        self.published.load_full()
    }

    /// Applies `change` to the master copy and publishes the result.
    pub fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        let mut master = self.master.lock();
        change(&mut master);
        master.version += 1;
        self.published.store(Arc::new(master.clone()));
    }

    pub fn put_domain(&self, record: DomainRecord) {
        self.update(|s| {
            let uuid = record.uuid();
            // Most changes keep the name: then the name index is left alone
            // (re-inserting clones every key on the path).
            let renamed = match s.domains.get(&uuid) {
                Some(old) if old.def.name == record.def.name => false,
                Some(old) => {
                    s.domain_names.remove(&old.def.name);
                    true
                }
                None => true,
            };
            if renamed {
                s.domain_names.insert(record.def.name.clone(), uuid);
            }
            s.domains.insert(uuid, Arc::new(record));
        });
    }

    pub fn remove_domain(&self, uuid: Uuid) {
        self.update(|s| {
            if let Some(old) = s.domains.remove(&uuid) {
                s.domain_names.remove(&old.def.name);
            }
        });
    }

    pub fn put_pool(&self, record: PoolRecord) {
        self.update(|s| {
            let uuid = record.def.uuid;
            // Most changes keep the name: then the name index is left alone
            // (re-inserting clones every key on the path).
            let renamed = match s.pools.get(&uuid) {
                Some(old) if old.def.name == record.def.name => false,
                Some(old) => {
                    s.pool_names.remove(&old.def.name);
                    true
                }
                None => true,
            };
            if renamed {
                s.pool_names.insert(record.def.name.clone(), uuid);
            }
            s.pools.insert(uuid, Arc::new(record));
        });
    }

    pub fn remove_pool(&self, uuid: Uuid) {
        self.update(|s| {
            if let Some(old) = s.pools.remove(&uuid) {
                s.pool_names.remove(&old.def.name);
            }
        });
    }

    pub fn put_network(&self, record: NetworkRecord) {
        self.update(|s| {
            let uuid = record.def.uuid;
            // Most changes keep the name: then the name index is left alone
            // (re-inserting clones every key on the path).
            let renamed = match s.networks.get(&uuid) {
                Some(old) if old.def.name == record.def.name => false,
                Some(old) => {
                    s.network_names.remove(&old.def.name);
                    true
                }
                None => true,
            };
            if renamed {
                s.network_names.insert(record.def.name.clone(), uuid);
            }
            s.networks.insert(uuid, Arc::new(record));
        });
    }

    pub fn remove_network(&self, uuid: Uuid) {
        self.update(|s| {
            if let Some(old) = s.networks.remove(&uuid) {
                s.network_names.remove(&old.def.name);
            }
        });
    }

    /// Replaces everything at once (start-up), in one publication.
    pub fn replace_all(&self, fill: impl FnOnce(&mut Snapshot)) {
        self.update(|s| {
            let version = s.version;
            *s = Snapshot::default();
            s.version = version;
            fill(s);
        });
    }
}
