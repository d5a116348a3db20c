//! Answers the master's requests (RFC 2741 §7.2) from the same MIB logic the
//! native agent uses: reads through [`Mib::get_value`] / [`Mib::next_value`]
//! (the guest table and VIRTBUS-MIB), writes through [`GuestSetter::test_in`] and
//! [`RowChange`]'s commit and undo. Only the AgentX framing of the answers
//! lives here: search ranges, GetBulk repetition, and the set transaction
//! (TestSet → CommitSet → UndoSet/CleanupSet, §7.2.4).
//!
//! [`GuestSetter::test_in`]: crate::guest_set::GuestSetter::test_in

use super::pdu::{res_error, Body};
use super::wire::SearchRange;
use crate::guest_set::{RowChange, Txn};
use crate::mib::Mib;
use async_snmp::handler::{GetNextResult, GetResult, HandlerResult};
use async_snmp::{ErrorStatus, Value, VarBind};
use std::sync::Arc;

/// At most this many varbinds in one GetBulk response; net-snmp's master
/// asks for what fits its own message anyway.
const MAX_BULK_VARBINDS: usize = 2048;

/// What to answer: `res.error`, `res.index` and the varbinds.
#[derive(Debug, PartialEq)]
pub struct Answer {
    pub error: u16,
    pub index: u16,
    pub varbinds: Vec<VarBind>,
}

impl Answer {
    fn ok(varbinds: Vec<VarBind>) -> Answer {
        Answer {
            error: res_error::NO_ERROR,
            index: 0,
            varbinds,
        }
    }

    fn status(status: ErrorStatus, index: usize) -> Answer {
        Answer {
            error: u16::try_from(status.as_i32()).unwrap_or(res_error::PROCESSING_ERROR),
            index: u16::try_from(index).unwrap_or(u16::MAX),
            varbinds: Vec::new(),
        }
    }
}

/// One set transaction in progress (the master runs one at a time per
/// session, §7.2.4).
struct SetTransaction {
    id: u32,
    changes: Vec<RowChange>,
    /// Changes whose commit ran (the failed one included: its partial work
    /// is undone too).
    committed: usize,
}

/// Per-session request state.
pub struct Responder {
    mib: Arc<Mib>,
    set: Option<SetTransaction>,
}

impl Responder {
    pub fn new(mib: Arc<Mib>) -> Responder {
        Responder { mib, set: None }
    }

    /// The answer to one request body; `None` for CleanupSet, which has no
    /// response (§7.2.4.3), and for bodies a master does not send.
    pub async fn answer(&mut self, session: u32, transaction: u32, body: &Body) -> Option<Answer> {
        Some(match body {
            Body::Get(ranges) => self.get(ranges).await,
            Body::GetNext(ranges) => self.get_next(ranges).await,
            Body::GetBulk {
                non_repeaters,
                max_repetitions,
                ranges,
            } => self.get_bulk(*non_repeaters, *max_repetitions, ranges).await,
            Body::TestSet(varbinds) => self.test_set(session, transaction, varbinds),
            Body::CommitSet => self.commit_set(transaction).await,
            Body::UndoSet => self.undo_set(transaction).await,
            Body::CleanupSet => {
                // Dropping the changes releases their row plans.
                self.set = None;
                return None;
            }
            _ => return None,
        })
    }

    async fn get(&self, ranges: &[SearchRange]) -> Answer {
        let mut varbinds = Vec::with_capacity(ranges.len());
        for (i, range) in ranges.iter().enumerate() {
            let value = match self.mib.get_value(&range.start).await {
                Ok(GetResult::Value(value)) => value,
                Ok(GetResult::NoSuchInstance) => Value::NoSuchInstance,
                Ok(_) => Value::NoSuchObject,
                Err(err) => return read_failed(i, &err),
            };
            varbinds.push(VarBind::new(range.start.clone(), value));
        }
        Answer::ok(varbinds)
    }

    /// The first instance in `range` (§7.2.3.2), or endOfMibView named by
    /// the range's start.
    async fn next_in(&self, range: &SearchRange) -> HandlerResult<VarBind> {
        if range.include {
            if let GetResult::Value(value) = self.mib.get_value(&range.start).await? {
                return Ok(VarBind::new(range.start.clone(), value));
            }
        }
        Ok(match self.mib.next_value(&range.start).await? {
            GetNextResult::Value(vb) if range.end.is_empty() || vb.oid < range.end => vb,
            _ => VarBind::new(range.start.clone(), Value::EndOfMibView),
        })
    }

    async fn get_next(&self, ranges: &[SearchRange]) -> Answer {
        let mut varbinds = Vec::with_capacity(ranges.len());
        for (i, range) in ranges.iter().enumerate() {
            match self.next_in(range).await {
                Ok(vb) => varbinds.push(vb),
                Err(err) => return read_failed(i, &err),
            }
        }
        Answer::ok(varbinds)
    }

    /// §7.2.3.3: the non-repeaters once, then the repeaters interleaved
    /// until every one has reached its end or the repetitions are used up.
    async fn get_bulk(&self, non_repeaters: u16, max_repetitions: u16, ranges: &[SearchRange]) -> Answer {
        let split = usize::from(non_repeaters).min(ranges.len());
        let (single, repeated) = ranges.split_at(split);
        let mut varbinds = Vec::new();
        for (i, range) in single.iter().enumerate() {
            match self.next_in(range).await {
                Ok(vb) => varbinds.push(vb),
                Err(err) => return read_failed(i, &err),
            }
        }
        let mut cursors: Vec<SearchRange> = repeated.to_vec();
        for _ in 0..max_repetitions {
            if cursors.is_empty() || varbinds.len() + cursors.len() > MAX_BULK_VARBINDS {
                break;
            }
            let mut all_ended = true;
            for (j, cursor) in cursors.iter_mut().enumerate() {
                let vb = match self.next_in(cursor).await {
                    Ok(vb) => vb,
                    Err(err) => return read_failed(split + j, &err),
                };
                if !matches!(vb.value, Value::EndOfMibView) {
                    all_ended = false;
                    cursor.start = vb.oid.clone();
                    cursor.include = false;
                }
                varbinds.push(vb);
            }
            if all_ended {
                break;
            }
        }
        Answer::ok(varbinds)
    }

    fn test_set(&mut self, session: u32, transaction: u32, varbinds: &[VarBind]) -> Answer {
        // A new TestSet ends whatever transaction was left (the master
        // should have cleaned it up).
        self.set = None;
        let txn = Txn::AgentX { session, transaction };
        let setter = self.mib.guests.setter();
        let mut changes = Vec::with_capacity(varbinds.len());
        for (i, vb) in varbinds.iter().enumerate() {
            match setter.test_in(txn, &vb.oid, &vb.value) {
                Ok(change) => changes.push(change),
                Err(err) => return Answer::status(err.to_error_status(), i + 1),
            }
        }
        self.set = Some(SetTransaction {
            id: transaction,
            changes,
            committed: 0,
        });
        Answer::ok(Vec::new())
    }

    async fn commit_set(&mut self, transaction: u32) -> Answer {
        let Some(set) = self.set.as_mut().filter(|s| s.id == transaction) else {
            return Answer::status(ErrorStatus::CommitFailed, 0);
        };
        for i in 0..set.changes.len() {
            set.committed = i + 1;
            if set.changes[i].commit_change().await.is_err() {
                return Answer::status(ErrorStatus::CommitFailed, i + 1);
            }
        }
        Answer::ok(Vec::new())
    }

    async fn undo_set(&mut self, transaction: u32) -> Answer {
        let Some(set) = self.set.as_mut().filter(|s| s.id == transaction) else {
            return Answer::status(ErrorStatus::UndoFailed, 0);
        };
        let mut answer = Answer::ok(Vec::new());
        for i in (0..set.committed).rev() {
            if set.changes[i].undo_change().await.is_err() {
                answer = Answer::status(ErrorStatus::UndoFailed, i + 1);
            }
        }
        set.committed = 0;
        answer
    }
}

fn read_failed(i: usize, err: &async_snmp::handler::HandlerError) -> Answer {
    tracing::warn!(adapter = "snmp", error = %err, "snmp: agentx read failed");
    Answer::status(ErrorStatus::GenErr, i + 1)
}
