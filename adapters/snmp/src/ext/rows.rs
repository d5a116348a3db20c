//! The rows of each VIRTBUS-MIB table and what their columns read.
//!
//! Every table is indexed first by a UUID (16 sub-identifiers): the pool's,
//! the network's, or the guest's (`libvirtGuestUUID`, as in
//! libvirtGuestTable); volumes, disks and interfaces add their name as a
//! length-prefixed octet string. [`Table::rows_of`] gives the rows of one
//! UUID in index order; [`super::index`] walks UUIDs in order.

use crate::errors::{read_outcome, ReadOutcome};
use async_snmp::handler::{HandlerError, HandlerResult};
use async_snmp::Value;
use std::ops::Bound;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_actors::stats::DEFAULT_MAX_AGE;
use virtbus_actors::{Core, Snapshot};
use virtbus_drivers::{DomainRecord, DomainStats, NetworkRecord, PoolRecord};

/// The longest name that can be part of an index: an OID has at most 128
/// sub-identifiers, and the longest prefix before the name (entry, column,
/// UUID, length) takes 28 of them.
pub const MAX_INDEX_NAME: usize = 100;

/// The tables of `virtbusObjects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Pools,
    Volumes,
    Networks,
    Blocks,
    Interfaces,
}

/// What one row's columns read from.
pub enum RowData {
    Pool(Arc<PoolRecord>),
    Volume(Arc<PoolRecord>, usize),
    Network(Arc<NetworkRecord>),
    Block(Arc<DomainStats>, usize),
    Interface(Arc<DomainStats>, usize),
}

/// One row: its index (the sub-identifiers after the column) and its data.
pub struct Row {
    pub index: Vec<u32>,
    pub data: RowData,
}

fn uuid_arcs(uuid: &Uuid) -> Vec<u32> {
    uuid.as_bytes().iter().map(|b| u32::from(*b)).collect()
}

/// The index of a named row under `uuid`: the UUID, the name's length, the
/// name's octets. `None` for a name that does not fit.
fn named_index(uuid: &Uuid, name: &str) -> Option<Vec<u32>> {
    if name.is_empty() || name.len() > MAX_INDEX_NAME {
        return None;
    }
    let mut index = uuid_arcs(uuid);
    index.push(name.len() as u32);
    index.extend(name.bytes().map(u32::from));
    Some(index)
}

/// Sorts rows into index order; of two rows with the same index (two disks
/// with one target name) only the first is served.
fn ordered(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| a.index.cmp(&b.index));
    rows.dedup_by(|b, a| a.index == b.index);
    rows
}

fn text(s: &str) -> Value {
    Value::OctetString(s.as_bytes().to_vec().into())
}

fn truth(b: bool) -> Value {
    // SNMPv2-TC TruthValue: true(1), false(2).
    Value::Integer(if b { 1 } else { 2 })
}

impl Table {
    /// The table's arc under `virtbusObjects`.
    pub fn arc(self) -> u32 {
        match self {
            Table::Pools => 2,
            Table::Volumes => 3,
            Table::Networks => 4,
            Table::Blocks => 5,
            Table::Interfaces => 6,
        }
    }

    /// The readable columns, in OID order (column 1 is the not-accessible
    /// index).
    pub fn columns(self) -> &'static [u32] {
        match self {
            Table::Pools => &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            Table::Volumes => &[2, 3, 4, 5, 6, 7, 8, 9],
            Table::Networks => &[2, 3, 4, 5, 6, 7, 8],
            Table::Blocks => &[2, 3, 4, 5, 6, 7],
            Table::Interfaces => &[2, 3, 4, 5, 6, 7, 8, 9, 10],
        }
    }

    /// Whether a guest can have rows here without asking for its counters:
    /// it is active and has such devices (libvirt has no counters for an
    /// inactive guest).
    fn guest_may_have_rows(self, record: &DomainRecord) -> bool {
        let devices = &record.def.devices;
        record.is_active()
            && match self {
                Table::Blocks => devices.disks.iter().any(|d| d.target_dev.is_some()),
                Table::Interfaces => !devices.interfaces.is_empty(),
                _ => false,
            }
    }

    /// The UUIDs that may have rows, from `lower` on, in order.
    pub fn uuids_from<'a>(self, snap: &'a Snapshot, lower: Bound<Uuid>) -> Box<dyn Iterator<Item = Uuid> + Send + 'a> {
        let range = (lower, Bound::Unbounded);
        match self {
            Table::Pools | Table::Volumes => Box::new(snap.pools.range(range).map(|(u, _)| *u)),
            Table::Networks => Box::new(snap.networks.range(range).map(|(u, _)| *u)),
            Table::Blocks | Table::Interfaces => Box::new(
                snap.domains
                    .range(range)
                    .filter(move |(_, d)| self.guest_may_have_rows(d))
                    .map(|(u, _)| *u),
            ),
        }
    }

    /// The rows under `uuid`, in index order.
    pub async fn rows_of(self, core: &Core, snap: &Snapshot, uuid: Uuid) -> HandlerResult<Vec<Row>> {
        Ok(match self {
            Table::Pools => snap
                .pools
                .get(&uuid)
                .map(|p| Row {
                    index: uuid_arcs(&uuid),
                    data: RowData::Pool(p.clone()),
                })
                .into_iter()
                .collect(),
            Table::Volumes => match snap.pools.get(&uuid) {
                None => Vec::new(),
                Some(pool) => ordered(
                    pool.volumes
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| {
                            Some(Row {
                                index: named_index(&uuid, &v.def.name)?,
                                data: RowData::Volume(pool.clone(), i),
                            })
                        })
                        .collect(),
                ),
            },
            Table::Networks => snap
                .networks
                .get(&uuid)
                .map(|n| Row {
                    index: uuid_arcs(&uuid),
                    data: RowData::Network(n.clone()),
                })
                .into_iter()
                .collect(),
            Table::Blocks | Table::Interfaces => {
                let Some(record) = snap.domains.get(&uuid).filter(|d| self.guest_may_have_rows(d)) else {
                    return Ok(Vec::new());
                };
                let stats = match core.stats(record.uuid(), DEFAULT_MAX_AGE).await {
                    Ok(stats) => stats,
                    Err(err) => match read_outcome(&err) {
                        // Gone, or stopped since the snapshot: no rows.
                        ReadOutcome::NoSuchInstance | ReadOutcome::Zero => return Ok(Vec::new()),
                        ReadOutcome::GenErr => {
                            return Err(HandlerError::new(format!("counters of domain {uuid}: {}", err.message)))
                        }
                    },
                };
                let names: Vec<&str> = if self == Table::Blocks {
                    stats.block.iter().map(|b| b.name.as_str()).collect()
                } else {
                    stats.net.iter().map(|n| n.name.as_str()).collect()
                };
                let rows = names
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, name)| {
                        let data = if self == Table::Blocks {
                            RowData::Block(stats.clone(), i)
                        } else {
                            RowData::Interface(stats.clone(), i)
                        };
                        Some(Row {
                            index: named_index(&uuid, name)?,
                            data,
                        })
                    })
                    .collect();
                ordered(rows)
            }
        })
    }
}

/// The value of readable column `col` of a row (`None`: no such column).
pub fn value(data: &RowData, col: u32) -> Option<Value> {
    Some(match data {
        RowData::Pool(p) => match col {
            2 => text(&p.def.name),
            3 => Value::OctetString(p.def.uuid.as_bytes().to_vec().into()),
            4 => Value::Integer(p.state.number()),
            5 => Value::Counter64(p.def.capacity_bytes),
            6 => Value::Counter64(p.def.allocation_bytes),
            7 => Value::Counter64(p.def.available_bytes),
            8 => text(&p.def.pool_type),
            9 => truth(p.autostart),
            10 => truth(p.persistent),
            11 => Value::Gauge32(u32::try_from(p.volumes.len()).unwrap_or(u32::MAX)),
            _ => return None,
        },
        RowData::Volume(p, i) => {
            let v = &p.volumes.get(*i)?.def;
            match col {
                2 => text(&v.name),
                3 => text(&p.def.name),
                4 => text(v.key.as_deref().unwrap_or("")),
                5 => text(v.target_path.as_deref().unwrap_or("")),
                6 => text(v.vol_type.as_deref().unwrap_or("")),
                7 => text(v.format.as_deref().unwrap_or("")),
                8 => Value::Counter64(v.capacity_bytes),
                9 => Value::Counter64(v.effective_allocation()),
                _ => return None,
            }
        }
        RowData::Network(n) => match col {
            2 => text(&n.def.name),
            3 => Value::OctetString(n.def.uuid.as_bytes().to_vec().into()),
            4 => truth(n.active),
            5 => text(n.def.bridge.as_deref().unwrap_or("")),
            6 => text(n.def.forward_mode.as_deref().unwrap_or("")),
            7 => truth(n.autostart),
            8 => truth(n.persistent),
            _ => return None,
        },
        RowData::Block(s, i) => {
            let b = s.block.get(*i)?;
            match col {
                2 => text(&b.name),
                3 => Value::Counter64(b.rd_reqs),
                4 => Value::Counter64(b.rd_bytes),
                5 => Value::Counter64(b.wr_reqs),
                6 => Value::Counter64(b.wr_bytes),
                7 => Value::Counter64(b.errors),
                _ => return None,
            }
        }
        RowData::Interface(s, i) => {
            let n = s.net.get(*i)?;
            match col {
                2 => text(&n.name),
                3 => Value::Counter64(n.rx_bytes),
                4 => Value::Counter64(n.rx_packets),
                5 => Value::Counter64(n.rx_errs),
                6 => Value::Counter64(n.rx_drop),
                7 => Value::Counter64(n.tx_bytes),
                8 => Value::Counter64(n.tx_packets),
                9 => Value::Counter64(n.tx_errs),
                10 => Value::Counter64(n.tx_drop),
                _ => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_index_is_uuid_length_octets() {
        let u = Uuid::from_u128(1);
        let index = named_index(&u, "vda").unwrap();
        assert_eq!(&index[..16], uuid_arcs(&u).as_slice());
        assert_eq!(&index[16..], &[3, u32::from(b'v'), u32::from(b'd'), u32::from(b'a')]);
        assert!(named_index(&u, "").is_none());
        assert!(named_index(&u, &"x".repeat(MAX_INDEX_NAME + 1)).is_none());
        assert!(named_index(&u, &"x".repeat(MAX_INDEX_NAME)).is_some());
    }
}
