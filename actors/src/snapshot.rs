//! The read snapshot: an immutable picture of every object, swapped
//! atomically on each change.
//!
//! Adapters that enumerate (SNMP walks, CIM enumerations, QMF queries, `ctl
//! list`) read a [`Snapshot`] instead of asking thousands of actors. Maps are
//! persistent (`imbl`), so publishing a change costs O(log n) and readers never
//! wait. Domains are keyed by UUID in byte order — the order SNMP walks the
//! guest table in.
//!
//! Publication is lazy: writers change the master copy and mark it dirty; the
//! next reader publishes it (one `Arc` swap). A burst of commands with no
//! reader in between therefore changes the master's maps in place (their nodes
//! are not shared with a published picture) instead of copying a path per
//! change, and a reader still sees every change whose command has answered.

use arc_swap::ArcSwap;
use imbl::{HashMap, OrdMap};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Writers serialise here; readers take it only to publish pending
    /// changes.
    master: Mutex<Snapshot>,
    /// The master holds changes `published` does not have yet. Set and
    /// cleared only with `master` locked.
    dirty: AtomicBool,
}

impl SnapshotCell {
    /// The current picture, including every change made before this call;
    /// cheap (an `Arc` clone). Publishes pending changes first, which takes
    /// the writers' lock briefly.
    pub fn load(&self) -> Arc<Snapshot> {
        // Acquire pairs with the Release stores below: seeing `false` means
        // the publication that cleared it (and every change before it) is
        // visible; a change that finished before this call either left
        // `true` here or was published by whoever cleared it.
        if self.dirty.load(Ordering::Acquire) {
            let master = self.master.lock();
            if self.dirty.load(Ordering::Relaxed) {
                self.published.store(Arc::new(master.clone()));
                self.dirty.store(false, Ordering::Release);
            }
        }
        self.published.load_full()
    }

    /// Reads the latest state (published or not) without publishing it: for
    /// writers that need one field while their own changes are pending.
    pub fn read<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        f(&self.master.lock())
    }

    /// Applies `change` to the master copy; the next [`SnapshotCell::load`]
    /// publishes it.
    pub fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        let mut master = self.master.lock();
        change(&mut master);
        master.version += 1;
        self.dirty.store(true, Ordering::Release);
    }

    /// Stores `record`; returns the entry it replaced and the stored one.
    pub fn put_domain(&self, record: DomainRecord) -> (Option<Arc<DomainRecord>>, Arc<DomainRecord>) {
        let mut swapped = None;
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
            let record = Arc::new(record);
            let before = s.domains.insert(uuid, record.clone());
            swapped = Some((before, record));
        });
        swapped.expect("update runs its change")
    }

    /// Removes the domain; returns the entry it had.
    pub fn remove_domain(&self, uuid: Uuid) -> Option<Arc<DomainRecord>> {
        let mut removed = None;
        self.update(|s| {
            if let Some(old) = s.domains.remove(&uuid) {
                s.domain_names.remove(&old.def.name);
                removed = Some(old);
            }
        });
        removed
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

#[cfg(test)]
mod tests {
    use super::*;
    use virtbus_schemas::lifecycle::{RunningReason, StateWithReason};
    use virtbus_schemas::DomainDef;

    fn record(name: &str, id: u32) -> DomainRecord {
        let xml = format!(
            "<domain type='test'><name>{name}</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\
             <memory>8192</memory><os><type>hvm</type></os></domain>"
        );
        DomainRecord {
            def: Arc::new(DomainDef::from_xml(&xml).unwrap()),
            inactive_def: None,
            id: Some(id),
            state: StateWithReason::running(RunningReason::Booted),
            persistent: true,
            autostart: false,
            has_managed_save: false,
        }
    }

    #[test]
    fn every_finished_change_is_seen_by_the_next_load() {
        let cell = SnapshotCell::default();
        let uuid = record("a", 0).uuid();
        // Changes with no reader in between, then one load: the last wins.
        for id in 1..=3 {
            cell.put_domain(record("a", id));
        }
        let snap = cell.load();
        assert_eq!(snap.domains.get(&uuid).unwrap().id, Some(3));
        assert_eq!(snap.version, 3);
        // A published picture never changes afterwards.
        cell.put_domain(record("b", 4));
        assert_eq!(snap.domains.get(&uuid).unwrap().id, Some(3));
        assert!(snap.domain_by_name("b").is_none());
        let renamed = cell.load();
        assert_eq!(renamed.domain_by_name("b").unwrap().id, Some(4));
        assert!(renamed.domain_by_name("a").is_none());
        // `read` sees pending changes without publishing them.
        cell.put_domain(record("b", 5));
        assert_eq!(cell.read(|s| s.domains.get(&uuid).unwrap().id), Some(5));
        assert_eq!(cell.load().domains.get(&uuid).unwrap().id, Some(5));
    }

    #[test]
    fn readers_racing_a_writer_never_see_an_older_value_than_the_last_finished_write() {
        let cell = Arc::new(SnapshotCell::default());
        let uuid = record("a", 0).uuid();
        cell.put_domain(record("a", 0));
        let finished = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let writer = {
            let (cell, finished) = (cell.clone(), finished.clone());
            std::thread::spawn(move || {
                for id in 1..=5_000 {
                    cell.put_domain(record("a", id));
                    finished.store(id, Ordering::Release);
                }
            })
        };
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (cell, finished) = (cell.clone(), finished.clone());
                std::thread::spawn(move || {
                    let mut last = 0;
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                    while last < 5_000 && std::time::Instant::now() < deadline {
                        let floor = finished.load(Ordering::Acquire);
                        let seen = cell.load().domains.get(&uuid).unwrap().id.unwrap();
                        assert!(seen >= floor, "saw {seen} after write {floor} had finished");
                        assert!(seen >= last, "went back from {last} to {seen}");
                        last = seen;
                    }
                })
            })
            .collect();
        writer.join().unwrap();
        for reader in readers {
            reader.join().unwrap();
        }
    }
}
