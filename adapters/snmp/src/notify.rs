//! Domain life-cycle events from the core's bus → `libvirtGuestNotif`.
//!
//! One notification per domain event, as libvirt-snmp sends one per libvirt
//! lifecycle callback. Its varbinds are libvirt-snmp's: sysUpTime.0,
//! snmpTrapOID.0 (added by the agent), then libvirtGuestName.0,
//! libvirtGuestUUID.0, libvirtGuestState.0 and libvirtGuestRowStatus.0 —
//! instance `.0`, not the UUID index, exactly as libvirt-snmp encodes them.
//! The state is the guest's state after the event (from the snapshot; a guest
//! that is gone reads shutoff), the row status notInService for a guest that
//! is shut down, shut off or crashed and active otherwise.
//!
//! The task reads the bus at its own pace; the bus never waits for it (a
//! slow sender is told it lagged and logs how many events it missed).

use crate::oids::{column, oid_with, row_status, GUEST_ENTRY, GUEST_NOTIF};
use crate::system_group::SystemGroup;
use async_snmp::agent::Agent;
use async_snmp::{Oid, Value, VarBind};
use std::sync::Arc;
use uuid::Uuid;
use virtbus_actors::{Core, EventBody, Received, Subscription};
use virtbus_schemas::lifecycle::DomainState;

/// The notification's variable bindings (after sysUpTime and snmpTrapOID).
pub fn guest_notif_varbinds(name: &str, uuid: &Uuid, state: Option<DomainState>) -> Vec<VarBind> {
    let state = state.unwrap_or(DomainState::Shutoff);
    let status = match state {
        DomainState::Shutdown | DomainState::Shutoff | DomainState::Crashed => row_status::NOT_IN_SERVICE,
        _ => row_status::ACTIVE,
    };
    vec![
        VarBind::new(
            oid_with(GUEST_ENTRY, &[column::NAME, 0]),
            Value::OctetString(name.as_bytes().to_vec().into()),
        ),
        VarBind::new(
            oid_with(GUEST_ENTRY, &[column::UUID, 0]),
            Value::OctetString(uuid.as_bytes().to_vec().into()),
        ),
        VarBind::new(
            oid_with(GUEST_ENTRY, &[column::STATE, 0]),
            Value::Integer(state.number()),
        ),
        VarBind::new(oid_with(GUEST_ENTRY, &[column::ROW_STATUS, 0]), Value::Integer(status)),
    ]
}

/// The `libvirtGuestNotif` objects for the next domain event on the bus;
/// `None` once the bus closes. A subscriber that fell behind logs how many
/// events `path` (which sender: native agent, AgentX) missed and goes on.
pub(crate) async fn next_guest_notif(core: &Core, subscription: &mut Subscription, path: &str) -> Option<Vec<VarBind>> {
    loop {
        let event = match subscription.recv().await {
            Received::Event(event) => event,
            Received::Lagged(n) => {
                tracing::warn!(
                    adapter = "snmp",
                    missed = n,
                    sender = path,
                    "snmp notifications fell behind the bus; events missed"
                );
                continue;
            }
            Received::Closed => return None,
        };
        let EventBody::Domain { uuid, name, .. } = &event.body else {
            continue;
        };
        let state = core.snapshot().domains.get(uuid).map(|d| d.state.state);
        return Some(guest_notif_varbinds(name, uuid, state));
    }
}

/// Sends notifications for bus events until the bus closes.
pub async fn run(core: Core, agents: Vec<Arc<Agent>>, system: Arc<SystemGroup>, informs: bool) {
    let mut subscription = core.subscribe();
    let trap_oid = Oid::from_slice(GUEST_NOTIF);
    while let Some(varbinds) = next_guest_notif(&core, &mut subscription, "native agent").await {
        for agent in &agents {
            let (agent, trap_oid, varbinds, uptime) =
                (agent.clone(), trap_oid.clone(), varbinds.clone(), system.uptime());
            if informs {
                // Informs wait for acknowledgements and retry; never hold up
                // the next event for that.
                tokio::spawn(async move {
                    let outcome = agent.send_inform(&trap_oid, uptime, varbinds).await;
                    for failed in outcome
                        .sinks()
                        .iter()
                        .filter(|s| !matches!(s.status, async_snmp::agent::SinkStatus::Succeeded))
                    {
                        tracing::warn!(adapter = "snmp", sink = %failed.sink.dest(), "snmp inform not acknowledged");
                    }
                });
            } else {
                agent.send_trap_best_effort(&trap_oid, uptime, varbinds).await;
            }
        }
    }
}
