//! GET and GETNEXT over a VIRTBUS-MIB table: instance OIDs are
//! `virtbusObjects.TABLE.1.COLUMN.INDEX`, walked column by column, rows in
//! index order. Every index starts with a UUID, so a GETNEXT finds the UUID
//! to start from with one ordered-map range lookup (as the guest table
//! does) and asks only that UUID's rows, then the next UUID's, until one
//! has a row after the requested index.

use super::rows::{value, Row, Table};
use crate::guest_table::index_bound_after;
use crate::oids::{oid_with, VIRTBUS_MIB};
use async_snmp::handler::{GetResult, HandlerResult};
use async_snmp::VarBind;
use std::ops::Bound;
use uuid::Uuid;
use virtbus_actors::{Core, Snapshot};

/// The entry's arc under each table.
const ENTRY: u32 = 1;

/// The UUID the first 16 arcs of `index` spell, if they do.
fn leading_uuid(index: &[u32]) -> Option<Uuid> {
    let mut bytes = [0u8; 16];
    for (byte, arc) in bytes.iter_mut().zip(index.get(..16)?) {
        *byte = u8::try_from(*arc).ok()?;
    }
    Some(Uuid::from_bytes(bytes))
}

/// GET of `TABLE.rest` (`rest` = entry, column, index).
pub async fn get(core: &Core, table: Table, rest: &[u32]) -> HandlerResult<GetResult> {
    let [ENTRY, col, index @ ..] = rest else {
        return Ok(GetResult::NoSuchObject);
    };
    if !table.columns().contains(col) {
        return Ok(GetResult::NoSuchObject);
    }
    let Some(uuid) = leading_uuid(index) else {
        return Ok(GetResult::NoSuchInstance);
    };
    let snap = core.snapshot();
    let rows = table.rows_of(core, &snap, uuid).await?;
    Ok(
        match rows
            .iter()
            .find(|r| r.index == index)
            .and_then(|r| value(&r.data, *col))
        {
            Some(v) => GetResult::Value(v),
            None => GetResult::NoSuchInstance,
        },
    )
}

/// The first row whose index is greater than `after` (any row when
/// `None`).
async fn first_row_after(
    core: &Core,
    snap: &Snapshot,
    table: Table,
    after: Option<&[u32]>,
) -> HandlerResult<Option<Row>> {
    let lower = match after {
        None => Bound::Unbounded,
        Some(index) => match leading_uuid(index) {
            Some(uuid) => {
                // The rows of this UUID after the index, then later UUIDs.
                let rows = table.rows_of(core, snap, uuid).await?;
                if let Some(row) = rows.into_iter().find(|r| r.index.as_slice() > index) {
                    return Ok(Some(row));
                }
                Bound::Excluded(uuid)
            }
            // Shorter than a UUID, or an arc above 255: every row of the
            // first UUID at or after the bound comes after it.
            None => match index_bound_after(index) {
                Some(bound) => bound,
                None => return Ok(None),
            },
        },
    };
    for uuid in table.uuids_from(snap, lower) {
        // A UUID may have no rows (a pool without volumes, a guest whose
        // counters are gone): go on to the next.
        if let Some(row) = table.rows_of(core, snap, uuid).await?.into_iter().next() {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// GETNEXT within `TABLE`: `after` is what follows the table's OID in the
/// requested OID (`None`: it sorts before the table).
pub async fn next(core: &Core, table: Table, after: Option<&[u32]>) -> HandlerResult<Option<VarBind>> {
    let columns = table.columns();
    let (start_col, mut bound) = match after {
        None | Some([]) => (columns[0], None),
        Some([entry, ..]) if *entry < ENTRY => (columns[0], None),
        Some([ENTRY]) => (columns[0], None),
        Some([ENTRY, col, index @ ..]) => {
            if columns.contains(col) {
                (*col, Some(index))
            } else {
                match columns.iter().find(|c| *c > col) {
                    Some(next) => (*next, None),
                    None => return Ok(None),
                }
            }
        }
        Some(_) => return Ok(None),
    };
    let snap = core.snapshot();
    let first = columns.iter().position(|c| *c == start_col).unwrap_or(0);
    for col in &columns[first..] {
        if let Some(row) = first_row_after(core, &snap, table, bound).await? {
            if let Some(v) = value(&row.data, *col) {
                let mut arcs = vec![super::OBJECTS, table.arc(), ENTRY, *col];
                arcs.extend_from_slice(&row.index);
                return Ok(Some(VarBind::new(oid_with(VIRTBUS_MIB, &arcs), v)));
            }
        }
        bound = None;
    }
    Ok(None)
}
