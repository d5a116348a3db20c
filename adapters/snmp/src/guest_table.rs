//! `libvirtGuestTable` reads: GET and GETNEXT (GETBULK is GETNEXT repeated by
//! the agent) over the core's snapshot, in SNMP's lexicographic order.
//!
//! The snapshot keeps domains ordered by UUID bytes, which is exactly the
//! order of the 16-arc index, so a GETNEXT is one ordered-map range lookup.
//! Only `libvirtGuestCpuTime` asks the core (a cached sample no older than
//! [`DEFAULT_MAX_AGE`]).
//!
//! The logic lives in inherent methods ([`GuestTable::get_value`],
//! [`GuestTable::next_value`], [`GuestTable::setter`]) that need no
//! request context, so both front ends share it: the native agent through
//! the [`MibHandler`] impl below, the AgentX subagent ([`crate::agentx`])
//! directly.

use crate::errors::{read_outcome, ReadOutcome};
use crate::guest_set::GuestSetter;
use crate::oids::{column, guest_instance, GUEST_ENTRY};
use async_snmp::handler::{
    BoxFuture, GetNextResult, GetResult, HandlerError, HandlerResult, MibHandler, RequestContext, SetTestResult,
};
use async_snmp::{Oid, Value, VarBind};
use std::ops::Bound;
use uuid::Uuid;
use virtbus_actors::snapshot::Snapshot;
use virtbus_actors::stats::DEFAULT_MAX_AGE;
use virtbus_actors::Core;
use virtbus_drivers::DomainRecord;
use virtbus_schemas::lifecycle::DomainState;

/// The MIB handler registered at `libvirtMIB` (enterprises.36957).
pub struct GuestTable {
    core: Core,
    setter: GuestSetter,
}

impl GuestTable {
    pub fn new(core: Core) -> GuestTable {
        GuestTable {
            setter: GuestSetter::new(core.clone()),
            core,
        }
    }

    /// The SET logic (test/commit/undo) of this table.
    pub fn setter(&self) -> &GuestSetter {
        &self.setter
    }

    /// The value of one readable column for one guest, if it can be read
    /// without waiting: `Err(NeedsSample)` for a running guest's CPU time
    /// whose cached sample is older than [`DEFAULT_MAX_AGE`].
    fn column_value_now(&self, col: u32, record: &DomainRecord) -> Result<Option<Value>, NeedsSample> {
        let def = &record.def;
        let value = match col {
            column::NAME => Value::OctetString(def.name.clone().into_bytes().into()),
            column::STATE => Value::Integer(state_number(record.state.state)),
            // Unsigned32 shares Gauge32's tag (RFC 2578 §7.1.11); UInteger32 would be the
            // obsolete APPLICATION 7 type.
            column::CPU_COUNT => Value::Gauge32(def.vcpu.current),
            column::MEMORY_CURRENT => Value::Gauge32(mib(def.current_memory_kib)),
            column::MEMORY_LIMIT => Value::Gauge32(mib(def.memory_kib)),
            column::CPU_TIME => {
                if !record.is_active() {
                    Value::Counter64(0)
                } else if let Some(stats) = self.core.cached_stats(record.uuid(), DEFAULT_MAX_AGE) {
                    Value::Counter64(stats.cpu_time_ns)
                } else {
                    return Err(NeedsSample);
                }
            }
            column::ROW_STATUS => Value::Integer(crate::oids::row_status::ACTIVE),
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// The value of one readable column for one guest.
    ///
    /// Everything but a CPU time that needs a new sample is answered without
    /// awaiting; that one case is boxed, so the futures of GET and GETNEXT
    /// (moved into a box per varbind by the agent) stay small.
    async fn column_value(&self, col: u32, record: &DomainRecord) -> HandlerResult<Option<Value>> {
        match self.column_value_now(col, record) {
            Ok(value) => Ok(value),
            Err(NeedsSample) => Box::pin(self.sampled_cpu_time(record)).await,
        }
    }

    /// libvirtGuestCpuTime from a new sample (through the domain's actor).
    async fn sampled_cpu_time(&self, record: &DomainRecord) -> HandlerResult<Option<Value>> {
        match self.core.stats(record.uuid(), DEFAULT_MAX_AGE).await {
            Ok(stats) => Ok(Some(Value::Counter64(stats.cpu_time_ns))),
            Err(err) => match read_outcome(&err) {
                ReadOutcome::NoSuchInstance => Ok(None),
                ReadOutcome::Zero => Ok(Some(Value::Counter64(0))),
                ReadOutcome::GenErr => Err(HandlerError::new(format!(
                    "cpu time of domain {}: {}",
                    record.uuid(),
                    err.message
                ))),
            },
        }
    }

    /// GET of one instance under `libvirtMIB`.
    pub async fn get_value(&self, oid: &Oid) -> HandlerResult<GetResult> {
        let snapshot = self.core.snapshot();
        let (col, record) = match locate(&snapshot, oid) {
            Located::Instance(col, record) => (col, record),
            Located::NoSuchObject => return Ok(GetResult::NoSuchObject),
            Located::NoSuchInstance => return Ok(GetResult::NoSuchInstance),
        };
        Ok(match self.column_value(col, record).await? {
            Some(value) => GetResult::Value(value),
            None => GetResult::NoSuchInstance,
        })
    }

    /// GET of one instance of the table, answered only when it has a value
    /// that needs no waiting (see [`crate::front`]); `None` otherwise.
    pub fn get_now(&self, oid: &Oid) -> Option<Value> {
        let snapshot = self.core.snapshot();
        match locate(&snapshot, oid) {
            Located::Instance(col, record) => self.column_value_now(col, record).ok().flatten(),
            _ => None,
        }
    }

    /// GETNEXT: the first readable instance after `oid`.
    pub async fn next_value(&self, oid: &Oid) -> HandlerResult<GetNextResult> {
        let snapshot = self.core.snapshot();
        let Some((first, mut bound)) = walk_start(oid) else {
            return Ok(GetNextResult::EndOfMibView);
        };
        for col in &column::READABLE[first..] {
            if let Some(lower) = bound {
                // A row may vanish between the snapshot and a core call;
                // skip such rows rather than end the walk.
                for (uuid, record) in snapshot.domains.range((lower, Bound::Unbounded)) {
                    let value = match self.column_value_now(*col, record) {
                        Ok(value) => value,
                        Err(NeedsSample) => {
                            self.prefetch_cpu_times(&snapshot, *uuid).await;
                            self.column_value(*col, record).await?
                        }
                    };
                    if let Some(value) = value {
                        return Ok(GetNextResult::Value(VarBind::new(guest_instance(*col, uuid), value)));
                    }
                }
            }
            bound = Some(Bound::Unbounded);
        }
        Ok(GetNextResult::EndOfMibView)
    }

    /// GETNEXT answered without waiting: the next instance of the table
    /// when there is one and its value is at hand; `None` at the table's end
    /// or when a CPU time needs a new sample (the full agent then answers,
    /// see [`crate::front`]).
    pub fn next_now(&self, oid: &Oid) -> Option<VarBind> {
        match self.next_step(oid) {
            Step::Value(vb) => Some(vb),
            Step::Leave | Step::Sample(_) => None,
        }
    }

    /// GETNEXT for the front door: like [`GuestTable::next_now`], but when
    /// CPU times need a sample that the driver cannot take without waiting
    /// (a blocking driver: the libvirt proxy), takes it — one batch for the
    /// rows ahead ([`Core::prefetch_stats`]) — and answers; `None` only at the
    /// table's end. The front door waits meanwhile, as a single-threaded
    /// agent such as snmpd does.
    pub async fn next_sampled(&self, oid: &Oid) -> Option<VarBind> {
        match self.next_step(oid) {
            Step::Value(vb) => Some(vb),
            Step::Leave => None,
            Step::Sample(from) => {
                let snapshot = self.core.snapshot();
                self.prefetch_cpu_times(&snapshot, from).await;
                self.next_now(oid)
            }
        }
    }

    fn next_step(&self, oid: &Oid) -> Step {
        let snapshot = self.core.snapshot();
        let Some((first, mut bound)) = walk_start(oid) else {
            return Step::Leave;
        };
        for col in &column::READABLE[first..] {
            if let Some(lower) = bound {
                for (uuid, record) in snapshot.domains.range((lower, Bound::Unbounded)) {
                    let value = match self.column_value_now(*col, record) {
                        Err(NeedsSample) if self.prefetch_cpu_times_now(&snapshot, *uuid) => {
                            self.column_value_now(*col, record)
                        }
                        value => value,
                    };
                    match value {
                        Ok(Some(value)) => return Step::Value(VarBind::new(guest_instance(*col, uuid), value)),
                        Ok(None) => {}
                        Err(NeedsSample) => return Step::Sample(*uuid),
                    }
                }
            }
            bound = Some(Bound::Unbounded);
        }
        Step::Leave
    }
}

/// Where a non-waiting GETNEXT got to.
enum Step {
    Value(VarBind),
    /// Nothing after this in the table.
    Leave,
    /// CPU times from this row on need a sample first.
    Sample(Uuid),
}

/// A running guest's CPU time must be sampled (through its actor) first.
struct NeedsSample;

/// What a GET names in the table.
enum Located<'a> {
    Instance(u32, &'a DomainRecord),
    NoSuchObject,
    NoSuchInstance,
}

fn locate<'a>(snapshot: &'a Snapshot, oid: &Oid) -> Located<'a> {
    let arcs = oid.arcs();
    let Some(rest) = arcs.strip_prefix(GUEST_ENTRY) else {
        return Located::NoSuchObject;
    };
    match rest.first() {
        Some(col) if column::READABLE.contains(col) => {}
        _ => return Located::NoSuchObject,
    }
    let Some((col, uuid)) = parse_instance(oid) else {
        return Located::NoSuchInstance;
    };
    match snapshot.domains.get(&uuid) {
        Some(record) => Located::Instance(col, record),
        None => Located::NoSuchInstance,
    }
}

/// Where a GETNEXT from `oid` starts: the position in [`column::READABLE`]
/// of the first readable column at or after the one named, and within it
/// the bound of the first row after the given index (`None`: no row of
/// that column can follow). `None` when nothing in the table follows.
fn walk_start(oid: &Oid) -> Option<(usize, Option<Bound<Uuid>>)> {
    let arcs = oid.arcs();
    let (start_col, bound) = match arcs.strip_prefix(GUEST_ENTRY) {
        Some([]) => (column::READABLE[0], Some(Bound::Unbounded)),
        Some([col, index @ ..]) => {
            if column::READABLE.contains(col) {
                (*col, index_bound_after(index))
            } else {
                (*column::READABLE.iter().find(|c| *c > col)?, Some(Bound::Unbounded))
            }
        }
        None if oid < &Oid::from_slice(GUEST_ENTRY) => (column::READABLE[0], Some(Bound::Unbounded)),
        None => return None,
    };
    let first = column::READABLE.iter().position(|c| *c == start_col).unwrap_or(0);
    Some((first, bound))
}

impl GuestTable {
    /// Samples, all at once, the CPU times a walk of `libvirtGuestCpuTime`
    /// is about to read from the row `from` on, whose sample is not fresh:
    /// the next [`CPU_TIME_PREFETCH`] active rows.
    ///
    /// A walk reads one row per GETNEXT step, and a sample older than
    /// [`DEFAULT_MAX_AGE`] must be taken anew. One at a time, through each
    /// domain's actor, that was two thread wake-ups per running guest
    /// (measured with `scripts/bench-snmp`: about 12,000 context switches
    /// for one `-Cr10` walk of the column over 5,000 running guests,
    /// against 1,000 for any other column). Asked together
    /// ([`Core::prefetch_stats`]: one driver call where the driver can; rows
    /// with a fresh sample are left alone), the walk's next steps find the
    /// samples cached. The samples are taken now and served within the same
    /// walk, well inside the freshness bound; failures are left for the read
    /// itself to report.
    async fn prefetch_cpu_times(&self, snapshot: &Snapshot, from: Uuid) {
        let rows = rows_to_sample(snapshot, from);
        self.core.prefetch_stats(&rows, DEFAULT_MAX_AGE).await;
    }

    /// [`GuestTable::prefetch_cpu_times`] without waiting, where the driver
    /// allows it ([`Core::prefetch_stats_now`]); false when it did not.
    fn prefetch_cpu_times_now(&self, snapshot: &Snapshot, from: Uuid) -> bool {
        self.core
            .prefetch_stats_now(&rows_to_sample(snapshot, from), DEFAULT_MAX_AGE)
    }
}

/// The next [`CPU_TIME_PREFETCH`] active rows, from `from` on.
fn rows_to_sample(snapshot: &Snapshot, from: Uuid) -> Vec<Uuid> {
    snapshot
        .domains
        .range((Bound::Included(from), Bound::Unbounded))
        .filter(|(_, record)| record.is_active())
        .map(|(uuid, _)| *uuid)
        .take(CPU_TIME_PREFETCH)
        .collect()
}

/// Rows whose CPU time one prefetch samples together.
const CPU_TIME_PREFETCH: usize = 256;

/// libvirt's state number, as libvirt-snmp reports it (0 and 7 included;
/// our MIB lists them).
pub fn state_number(state: DomainState) -> i32 {
    state.number()
}

/// KiB → MiB, rounded down, saturating at the 32-bit maximum.
fn mib(kib: u64) -> u32 {
    u32::try_from(kib / 1024).unwrap_or(u32::MAX)
}

/// The column and UUID an instance OID names, if it is well formed.
pub fn parse_instance(oid: &Oid) -> Option<(u32, Uuid)> {
    let arcs = oid.arcs();
    let rest = arcs.strip_prefix(GUEST_ENTRY)?;
    let (&col, index) = rest.split_first()?;
    if index.len() != 16 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (byte, arc) in bytes.iter_mut().zip(index) {
        *byte = u8::try_from(*arc).ok()?;
    }
    Some((col, Uuid::from_bytes(bytes)))
}

/// The smallest UUID whose 16-arc index is greater than `suffix`, as a range
/// bound over UUIDs (`None`: no index can be greater).
pub(crate) fn index_bound_after(suffix: &[u32]) -> Option<Bound<Uuid>> {
    let mut bytes = [0u8; 16];
    for (i, arc) in suffix.iter().take(16).enumerate() {
        match u8::try_from(*arc) {
            Ok(b) => bytes[i] = b,
            Err(_) => {
                // Arc i exceeds every UUID byte: the next index is the first one
                // whose first i bytes are greater, i.e. that prefix plus one.
                let mut prefix = bytes;
                for b in prefix[i..].iter_mut() {
                    *b = 0;
                }
                let mut pos = i;
                loop {
                    if pos == 0 {
                        return None;
                    }
                    pos -= 1;
                    if prefix[pos] == u8::MAX {
                        prefix[pos] = 0;
                    } else {
                        prefix[pos] += 1;
                        break;
                    }
                }
                return Some(Bound::Included(Uuid::from_bytes(prefix)));
            }
        }
    }
    if suffix.len() >= 16 {
        // Exactly this index, or it with more arcs: the next row is after it.
        Some(Bound::Excluded(Uuid::from_bytes(bytes)))
    } else {
        // A shorter suffix sorts before every index that starts with it.
        Some(Bound::Included(Uuid::from_bytes(bytes)))
    }
}

impl MibHandler for GuestTable {
    fn get<'a>(&'a self, _ctx: &'a RequestContext, oid: &'a Oid) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(self.get_value(oid))
    }

    fn get_next<'a>(&'a self, _ctx: &'a RequestContext, oid: &'a Oid) -> BoxFuture<'a, HandlerResult<GetNextResult>> {
        Box::pin(self.next_value(oid))
    }

    fn test_set<'a>(&'a self, ctx: &'a RequestContext, oid: &'a Oid, value: &'a Value) -> BoxFuture<'a, SetTestResult> {
        Box::pin(async move { self.setter.test(ctx, oid, value) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid(bytes: [u8; 16]) -> Uuid {
        Uuid::from_bytes(bytes)
    }

    #[test]
    fn bound_of_short_suffix_includes_padded_uuid() {
        assert_eq!(index_bound_after(&[]), Some(Bound::Included(Uuid::nil())));
        let mut b = [0u8; 16];
        b[0] = 7;
        assert_eq!(index_bound_after(&[7]), Some(Bound::Included(uuid(b))));
    }

    #[test]
    fn bound_of_full_index_excludes_it() {
        let b = [9u8; 16];
        let arcs: Vec<u32> = b.iter().map(|x| u32::from(*x)).collect();
        assert_eq!(index_bound_after(&arcs), Some(Bound::Excluded(uuid(b))));
        let mut longer = arcs.clone();
        longer.push(0);
        assert_eq!(index_bound_after(&longer), Some(Bound::Excluded(uuid(b))));
    }

    #[test]
    fn bound_of_out_of_range_arc_carries_into_prefix() {
        let mut b = [0u8; 16];
        b[0] = 4;
        assert_eq!(index_bound_after(&[3, 256]), Some(Bound::Included(uuid(b))));
        let mut c = [0u8; 16];
        c[0] = 2;
        assert_eq!(index_bound_after(&[1, 255, 300]), Some(Bound::Included(uuid(c))));
        assert_eq!(index_bound_after(&[255, 255, 999]), None);
        assert_eq!(index_bound_after(&[256]), None);
    }

    #[test]
    fn instance_round_trips() {
        let u = Uuid::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        let oid = guest_instance(column::STATE, &u);
        assert_eq!(parse_instance(&oid), Some((column::STATE, u)));
        let mut arcs = oid.arcs().to_vec();
        arcs.pop();
        assert_eq!(parse_instance(&Oid::from_slice(&arcs)), None);
    }
}
