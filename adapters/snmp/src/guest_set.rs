//! SETs on `libvirtGuestState` and `libvirtGuestRowStatus`: the test phase
//! decides from the snapshot (so a refusal carries its precise status), the
//! commit phase asks the core, and undo asks it for the inverse.
//!
//! The agent tests every varbind, then commits them in order, undoing the
//! committed ones if one fails (RFC 3416 §4.2.5, driven by async-snmp). Both
//! columns of one row in one request act together — `RowStatus=createAndGo`
//! followed by `State=paused` starts the guest paused, as libvirt-snmp
//! allows — so the varbinds of one request share a per-row plan keyed by
//! the request ([`Txn`]: source and request-id for the native agent, session
//! and transaction id for the AgentX subagent), and the row's first commit
//! carries out the plan.
//!
//! Both front ends use the same entry points: [`GuestSetter::test_in`] for
//! the test phase and [`RowChange::commit_change`] / [`RowChange::undo_change`]
//! after it; dropping a [`RowChange`] is the cleanup.
//!
//! Accepted writes (anything else is refused in the test phase):
//!
//! | column | value | on a guest that is | does |
//! |---|---|---|---|
//! | State | paused(3) | running | suspend |
//! | State | running(1) | paused | resume |
//! | State | shutdown(4) | running | shutdown |
//! | RowStatus | createAndGo(4) | not active | start (paused if State=paused follows) |
//! | RowStatus | destroy(6) | active | destroy |

use crate::oids::{column, row_status, GUEST_ENTRY};
use async_snmp::handler::{
    BoxFuture, PreparedSet, RequestContext, SetCommitError, SetCommitResult, SetTestError, SetTestResult, SetUndoError,
    SetUndoResult,
};
use async_snmp::{Oid, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use uuid::Uuid;
use virtbus_actors::domain::DomainOp;
use virtbus_actors::Core;
use virtbus_schemas::lifecycle::DomainState;

const RUNNING: i32 = 1;
const PAUSED: i32 = 3;
const SHUTDOWN: i32 = 4;
/// The largest state number our MIB's enumeration lists (pmsuspended).
const MAX_STATE: i32 = 7;

/// The request a SET varbind belongs to: its varbinds share row plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Txn {
    /// A native SNMP request: the manager's address and request-id.
    Snmp { source: SocketAddr, request_id: i32 },
    /// An AgentX set transaction (RFC 2741 §7.2.4): session and transaction id.
    AgentX { session: u32, transaction: u32 },
}

type TxnKey = Txn;

/// What one request asks of one row.
#[derive(Default)]
struct RowPlan {
    state: Option<i32>,
    row_status: Option<i32>,
    /// Prepared varbinds still holding this plan.
    holders: usize,
    /// Set once the row's first commit ran: the inverse operations of what
    /// succeeded, to run in reverse on undo.
    undo: Option<Vec<DomainOp>>,
}

#[derive(Default)]
struct Plans {
    rows: HashMap<(TxnKey, Uuid), RowPlan>,
}

/// Tests SET varbinds and hands out their prepared changes.
pub struct GuestSetter {
    core: Core,
    plans: Arc<Mutex<Plans>>,
}

fn lock(plans: &Mutex<Plans>) -> MutexGuard<'_, Plans> {
    plans.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl GuestSetter {
    pub fn new(core: Core) -> GuestSetter {
        GuestSetter {
            core,
            plans: Arc::default(),
        }
    }

    /// The test phase for one varbind of a native SNMP request.
    pub fn test(&self, ctx: &RequestContext, oid: &Oid, value: &Value) -> SetTestResult {
        let txn = Txn::Snmp {
            source: ctx.source(),
            request_id: ctx.request_id(),
        };
        Ok(Box::new(self.test_in(txn, oid, value)?))
    }

    /// The test phase for one varbind of request `txn`: refuses with the
    /// precise status, or hands out the prepared change.
    pub fn test_in(&self, txn: Txn, oid: &Oid, value: &Value) -> Result<RowChange, SetTestError> {
        let arcs = oid.arcs();
        let Some([col, index @ ..]) = arcs.strip_prefix(GUEST_ENTRY) else {
            return Err(SetTestError::NotWritable);
        };
        if *col != column::STATE && *col != column::ROW_STATUS {
            return Err(SetTestError::NotWritable);
        }
        let Some(uuid) = index_uuid(index) else {
            return Err(SetTestError::NoCreation);
        };
        let Value::Integer(wanted) = value else {
            return Err(SetTestError::WrongType);
        };
        let wanted = *wanted;
        let snapshot = self.core.snapshot();
        // Rows are guests the core knows; SNMP cannot define new ones.
        let Some(record) = snapshot.domains.get(&uuid) else {
            return Err(SetTestError::NoCreation);
        };
        let current = record.state.state;
        let key = (txn, uuid);
        let mut plans = lock(&self.plans);
        let plan = plans.rows.entry(key).or_default();
        let verdict = if *col == column::STATE {
            test_state(plan, current, wanted)
        } else {
            test_row_status(plan, record.is_active(), wanted)
        };
        if let Err(err) = verdict {
            if plan.holders == 0 {
                plans.rows.remove(&key);
            }
            return Err(err);
        }
        if *col == column::STATE {
            plan.state = Some(wanted);
        } else {
            plan.row_status = Some(wanted);
        }
        plan.holders += 1;
        Ok(RowChange {
            core: self.core.clone(),
            plans: self.plans.clone(),
            key,
        })
    }
}

fn index_uuid(index: &[u32]) -> Option<Uuid> {
    if index.len() != 16 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (byte, arc) in bytes.iter_mut().zip(index) {
        *byte = u8::try_from(*arc).ok()?;
    }
    Some(Uuid::from_bytes(bytes))
}

fn test_state(plan: &RowPlan, current: DomainState, wanted: i32) -> Result<(), SetTestError> {
    if !(0..=MAX_STATE).contains(&wanted) {
        return Err(SetTestError::WrongValue);
    }
    if plan.state.is_some() {
        return Err(SetTestError::InconsistentValue);
    }
    match plan.row_status {
        // Starting in this request: the state says how it starts.
        Some(row_status::CREATE_AND_GO) if wanted == RUNNING || wanted == PAUSED => return Ok(()),
        Some(_) => return Err(SetTestError::InconsistentValue),
        None => {}
    }
    match (current, wanted) {
        (DomainState::Running, PAUSED | SHUTDOWN) | (DomainState::Paused, RUNNING) => Ok(()),
        _ => Err(SetTestError::InconsistentValue),
    }
}

fn test_row_status(plan: &RowPlan, active: bool, wanted: i32) -> Result<(), SetTestError> {
    match wanted {
        row_status::NOT_READY | row_status::CREATE_AND_WAIT => return Err(SetTestError::WrongValue),
        w if !(row_status::ACTIVE..=row_status::DESTROY).contains(&w) => return Err(SetTestError::WrongValue),
        _ => {}
    }
    if plan.row_status.is_some() || plan.state.is_some() {
        // RowStatus first, then State: see the module doc.
        return Err(SetTestError::InconsistentValue);
    }
    match wanted {
        row_status::CREATE_AND_GO if !active => Ok(()),
        row_status::DESTROY if active => Ok(()),
        _ => Err(SetTestError::InconsistentValue),
    }
}

/// One tested varbind; the row's plan is shared with its sibling varbinds.
pub struct RowChange {
    core: Core,
    plans: Arc<Mutex<Plans>>,
    key: (TxnKey, Uuid),
}

/// The operations that carry out a plan, each with its inverse.
fn plan_ops(state: Option<i32>, row: Option<i32>) -> Vec<(DomainOp, DomainOp)> {
    match (row, state) {
        (Some(row_status::CREATE_AND_GO), Some(PAUSED)) => {
            vec![
                (DomainOp::Start, DomainOp::Destroy),
                (DomainOp::Suspend, DomainOp::Resume),
            ]
        }
        (Some(row_status::CREATE_AND_GO), _) => vec![(DomainOp::Start, DomainOp::Destroy)],
        (Some(row_status::DESTROY), _) => vec![(DomainOp::Destroy, DomainOp::Start)],
        (_, Some(PAUSED)) => vec![(DomainOp::Suspend, DomainOp::Resume)],
        (_, Some(RUNNING)) => vec![(DomainOp::Resume, DomainOp::Suspend)],
        (_, Some(SHUTDOWN)) => vec![(DomainOp::Shutdown, DomainOp::Start)],
        _ => Vec::new(),
    }
}

impl RowChange {
    /// Carries out the row's plan (once per row; later siblings do nothing).
    pub async fn commit_change(&mut self) -> SetCommitResult {
        let ops = {
            let mut plans = lock(&self.plans);
            let Some(plan) = plans.rows.get_mut(&self.key) else {
                return Err(SetCommitError::Failed);
            };
            if plan.undo.is_some() {
                // A sibling varbind of this row already carried out the plan.
                return Ok(());
            }
            plan.undo = Some(Vec::new());
            plan_ops(plan.state, plan.row_status)
        };
        let uuid = self.key.1;
        let mut undo = Vec::new();
        let mut result = Ok(());
        for (op, inverse) in ops {
            match self.core.domain_record(uuid, op).await {
                Ok(_) => undo.push(inverse),
                Err(err) => {
                    tracing::info!(adapter = "snmp", domain = %uuid, error = %err, "snmp set failed");
                    result = Err(SetCommitError::Failed);
                    break;
                }
            }
        }
        if let Some(plan) = lock(&self.plans).rows.get_mut(&self.key) {
            plan.undo = Some(undo);
        }
        result
    }

    /// Runs the inverse of what the row's commit did, in reverse (once per row).
    pub async fn undo_change(&mut self) -> SetUndoResult {
        let inverse = lock(&self.plans)
            .rows
            .get_mut(&self.key)
            .and_then(|plan| plan.undo.take());
        let uuid = self.key.1;
        let mut result = Ok(());
        for op in inverse.unwrap_or_default().into_iter().rev() {
            if let Err(err) = self.core.domain_record(uuid, op).await {
                tracing::warn!(adapter = "snmp", domain = %uuid, error = %err, "snmp set undo failed");
                result = Err(SetUndoError::Failed);
            }
        }
        // Later undos of sibling varbinds find nothing left to do.
        if let Some(plan) = lock(&self.plans).rows.get_mut(&self.key) {
            plan.undo = Some(Vec::new());
        }
        result
    }
}

impl PreparedSet for RowChange {
    fn commit<'a>(
        &'a mut self,
        _ctx: &'a RequestContext,
        _oid: &'a Oid,
        _value: &'a Value,
    ) -> BoxFuture<'a, SetCommitResult> {
        Box::pin(self.commit_change())
    }

    fn undo<'a>(
        &'a mut self,
        _ctx: &'a RequestContext,
        _oid: &'a Oid,
        _value: &'a Value,
    ) -> BoxFuture<'a, SetUndoResult> {
        Box::pin(self.undo_change())
    }
}

impl Drop for RowChange {
    /// Releases this varbind's hold on the row plan; the last one removes it.
    /// Runs on every path (finalize, free, undo, abort), and only touches the
    /// in-memory map, so it is safe as the synchronous fallback too.
    fn drop(&mut self) {
        let mut plans = lock(&self.plans);
        if let Some(plan) = plans.rows.get_mut(&self.key) {
            plan.holders = plan.holders.saturating_sub(1);
            if plan.holders == 0 {
                plans.rows.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_transitions_follow_libvirt_snmp() {
        let plan = RowPlan::default();
        assert_eq!(test_state(&plan, DomainState::Running, PAUSED), Ok(()));
        assert_eq!(test_state(&plan, DomainState::Running, SHUTDOWN), Ok(()));
        assert_eq!(test_state(&plan, DomainState::Paused, RUNNING), Ok(()));
        assert_eq!(
            test_state(&plan, DomainState::Running, RUNNING),
            Err(SetTestError::InconsistentValue)
        );
        assert_eq!(
            test_state(&plan, DomainState::Shutoff, RUNNING),
            Err(SetTestError::InconsistentValue)
        );
        assert_eq!(
            test_state(&plan, DomainState::Paused, SHUTDOWN),
            Err(SetTestError::InconsistentValue)
        );
        assert_eq!(
            test_state(&plan, DomainState::Running, 5),
            Err(SetTestError::InconsistentValue)
        );
        assert_eq!(
            test_state(&plan, DomainState::Running, 8),
            Err(SetTestError::WrongValue)
        );
        assert_eq!(
            test_state(&plan, DomainState::Running, -1),
            Err(SetTestError::WrongValue)
        );
    }

    #[test]
    fn state_after_create_and_go_chooses_how_to_start() {
        let plan = RowPlan {
            row_status: Some(row_status::CREATE_AND_GO),
            ..RowPlan::default()
        };
        assert_eq!(test_state(&plan, DomainState::Shutoff, PAUSED), Ok(()));
        assert_eq!(
            test_state(&plan, DomainState::Shutoff, SHUTDOWN),
            Err(SetTestError::InconsistentValue)
        );
        assert!(matches!(
            plan_ops(Some(PAUSED), Some(row_status::CREATE_AND_GO)).as_slice(),
            [(DomainOp::Start, _), (DomainOp::Suspend, _)]
        ));
    }

    #[test]
    fn row_status_values() {
        let plan = RowPlan::default();
        assert_eq!(test_row_status(&plan, false, row_status::CREATE_AND_GO), Ok(()));
        assert_eq!(
            test_row_status(&plan, true, row_status::CREATE_AND_GO),
            Err(SetTestError::InconsistentValue)
        );
        assert_eq!(test_row_status(&plan, true, row_status::DESTROY), Ok(()));
        assert_eq!(
            test_row_status(&plan, false, row_status::DESTROY),
            Err(SetTestError::InconsistentValue)
        );
        assert_eq!(
            test_row_status(&plan, true, row_status::CREATE_AND_WAIT),
            Err(SetTestError::WrongValue)
        );
        assert_eq!(
            test_row_status(&plan, true, row_status::NOT_READY),
            Err(SetTestError::WrongValue)
        );
        assert_eq!(
            test_row_status(&plan, true, row_status::ACTIVE),
            Err(SetTestError::InconsistentValue)
        );
        assert_eq!(test_row_status(&plan, true, 7), Err(SetTestError::WrongValue));
    }
}
