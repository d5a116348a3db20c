//! A table of objects of one kind, indexed by UUID and by name, with
//! libvirt's duplicate rules (`virDomainObjListAddLocked` and its pool and
//! network twins).
//!
//! Each object sits behind its own mutex, so calls on different objects do not
//! wait for each other; the index lock is held only to find, add or remove.

use crate::model::{DriverEvent, Outcome};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use uuid::Uuid;
use virtbus_schemas::{ErrorCode, VirtError, VirtResult};

/// An object a table holds: how it reports itself and when it is gone.
pub(crate) trait Managed {
    type Record;
    fn record(&self) -> Self::Record;
    /// libvirt drops an object that is neither persistent nor active (a
    /// transient domain, pool or network that stopped).
    fn is_gone(&self) -> bool;
}

/// Where a definition lands in a table.
pub(crate) enum Slot<T> {
    /// Same UUID and name as an existing object.
    Existing(Arc<Mutex<T>>),
    /// Neither UUID nor name is taken.
    Vacant,
}

pub(crate) struct Table<T> {
    /// "domain", "pool", "network": used in messages.
    kind: &'static str,
    index: RwLock<Index<T>>,
}

struct Index<T> {
    by_uuid: HashMap<Uuid, Entry<T>>,
    by_name: HashMap<String, Uuid>,
    /// Insertion order, so listings are stable like libvirt's.
    order: BTreeMap<u64, Uuid>,
    next_seq: u64,
}

struct Entry<T> {
    seq: u64,
    name: String,
    cell: Arc<Mutex<T>>,
}

impl<T> Table<T> {
    pub(crate) fn new(kind: &'static str) -> Self {
        Table {
            kind,
            index: RwLock::new(Index {
                by_uuid: HashMap::new(),
                by_name: HashMap::new(),
                order: BTreeMap::new(),
                next_seq: 0,
            }),
        }
    }

    pub(crate) fn get(&self, uuid: Uuid) -> Option<Arc<Mutex<T>>> {
        self.index.read().by_uuid.get(&uuid).map(|e| e.cell.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.index.read().by_uuid.len()
    }

    /// All objects in insertion order.
    pub(crate) fn all(&self) -> Vec<Arc<Mutex<T>>> {
        let index = self.index.read();
        index
            .order
            .values()
            .filter_map(|u| index.by_uuid.get(u).map(|e| e.cell.clone()))
            .collect()
    }

    /// Applies libvirt's duplicate checks for a definition with `uuid` and
    /// `name`: same UUID with another name, or same name with another UUID,
    /// is `OPERATION_FAILED`. Returns the existing object when both match.
    pub(crate) fn slot_for(&self, uuid: Uuid, name: &str, current_name: impl Fn(&T) -> String) -> VirtResult<Slot<T>> {
        let index = self.index.read();
        if let Some(existing) = index.by_uuid.get(&uuid) {
            let existing_name = current_name(&existing.cell.lock());
            if existing_name != name {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    format!("{} '{existing_name}' is already defined with uuid {uuid}", self.kind),
                ));
            }
            return Ok(Slot::Existing(existing.cell.clone()));
        }
        if let Some(other) = index.by_name.get(name) {
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                format!("{} '{name}' already exists with uuid {other}", self.kind),
            ));
        }
        Ok(Slot::Vacant)
    }

    /// Inserts a new object; fails if the UUID or name was taken meanwhile.
    pub(crate) fn insert(&self, uuid: Uuid, name: &str, obj: T) -> VirtResult<Arc<Mutex<T>>> {
        let mut index = self.index.write();
        if index.by_uuid.contains_key(&uuid) || index.by_name.contains_key(name) {
            return Err(VirtError::new(
                ErrorCode::OperationFailed,
                format!("{} '{name}' already exists with uuid {uuid}", self.kind),
            ));
        }
        let cell = Arc::new(Mutex::new(obj));
        let seq = index.next_seq;
        index.next_seq += 1;
        index.by_uuid.insert(
            uuid,
            Entry {
                seq,
                name: name.to_string(),
                cell: cell.clone(),
            },
        );
        index.by_name.insert(name.to_string(), uuid);
        index.order.insert(seq, uuid);
        Ok(cell)
    }

    /// Runs `op` on one object under its lock, then removes the object from
    /// the table if the operation left it gone.
    pub(crate) fn apply(
        &self,
        uuid: Uuid,
        missing: impl FnOnce(Uuid) -> VirtError,
        op: impl FnOnce(&mut T) -> VirtResult<Vec<DriverEvent>>,
    ) -> VirtResult<Outcome<T::Record>>
    where
        T: Managed,
    {
        let cell = self.get(uuid).ok_or_else(|| missing(uuid))?;
        let mut obj = cell.lock();
        let events = op(&mut obj)?;
        let gone = obj.is_gone();
        let record = obj.record();
        drop(obj);
        if gone {
            self.remove(uuid);
            return Ok(Outcome::new(None, events));
        }
        Ok(Outcome::new(Some(record), events))
    }

    pub(crate) fn remove(&self, uuid: Uuid) {
        let mut index = self.index.write();
        if let Some(entry) = index.by_uuid.remove(&uuid) {
            index.by_name.remove(&entry.name);
            index.order.remove(&entry.seq);
        }
    }
}
