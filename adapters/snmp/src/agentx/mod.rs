//! AgentX subagent (RFC 2741): serves LIBVIRT-MIB through an existing
//! master agent (net-snmp's `snmpd`), as libvirt-snmp is usually deployed.
//! The MIB logic is the native agent's ([`Mib`]: the guest table, its SETs
//! in [`crate::guest_set`], and VIRTBUS-MIB);
//! only the transport differs.
//!
//! Layout:
//! - [`wire`]: integers, OIDs, octet strings, varbinds (RFC 2741 §5).
//! - [`pdu`]: header and PDU bodies (§6); our own codec, see docs/snmp.md for
//!   why not the `agentx` crate.
//! - [`requests`]: answers to Get/GetNext/GetBulk/TestSet/CommitSet/UndoSet/
//!   CleanupSet from the shared MIB logic.
//! - [`session`]: one connection: Open, Register, serve, Notify.
//! - this file: the master's address, reconnecting with backoff, and the
//!   notification feed from the bus.

pub mod pdu;
pub mod requests;
pub mod session;
pub mod wire;

use crate::mib::Mib;
use crate::notify::{guest_notif_varbinds, next_guest_notif};
use crate::oids::GUEST_NOTIF;
use async_snmp::{Oid, Value, VarBind};
use session::Session;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use virtbus_actors::Core;

/// snmpTrapOID.0 (SNMPv2-MIB), the first varbind of a Notify-PDU (§6.2.10).
const SNMP_TRAP_OID: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// First and largest pause between connection attempts.
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Notifications queued while the master is away; older ones are kept,
/// newer ones dropped (and counted in the log) beyond this.
const QUEUED_NOTIFICATIONS: usize = 1024;

/// Where the master listens: `unix:/path`, a bare `/path`, or `tcp:HOST:PORT`
/// (net-snmp's `agentXSocket` syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentxAddr {
    Unix(PathBuf),
    Tcp(String),
}

/// Why an AgentX address does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("agentx master address '{0}': expected unix:/PATH, /PATH or tcp:HOST:PORT")]
pub struct AgentxAddrError(pub String);

impl std::str::FromStr for AgentxAddr {
    type Err = AgentxAddrError;

    fn from_str(text: &str) -> Result<AgentxAddr, AgentxAddrError> {
        let fail = || AgentxAddrError(text.to_string());
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(fail());
            }
            return Ok(AgentxAddr::Unix(path.into()));
        }
        if text.starts_with('/') {
            return Ok(AgentxAddr::Unix(text.into()));
        }
        if let Some(host) = text.strip_prefix("tcp:") {
            match host.rsplit_once(':') {
                Some((h, port)) if !h.is_empty() && port.parse::<u16>().is_ok() => {
                    return Ok(AgentxAddr::Tcp(host.to_string()))
                }
                _ => return Err(fail()),
            }
        }
        Err(fail())
    }
}

impl fmt::Display for AgentxAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentxAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            AgentxAddr::Tcp(host) => write!(f, "tcp:{host}"),
        }
    }
}

/// Starts the subagent: connects (and reconnects) to `master`, serves
/// `mib`, and forwards domain events as `libvirtGuestNotif`.
pub fn spawn(core: Core, mib: Arc<Mib>, master: AgentxAddr, cancel: CancellationToken) -> JoinHandle<()> {
    let (tx, rx) = mpsc::channel(QUEUED_NOTIFICATIONS);
    let feed_cancel = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = feed_notifications(core, tx) => {}
            _ = feed_cancel.cancelled() => {}
        }
    });
    tokio::spawn(run(mib, master, rx, cancel))
}

/// Keeps a session to the master, reconnecting with backoff.
async fn run(
    mib: Arc<Mib>,
    master: AgentxAddr,
    mut notifications: mpsc::Receiver<Vec<VarBind>>,
    cancel: CancellationToken,
) {
    let mut backoff = BACKOFF_START;
    let mut failures = 0u32;
    while !cancel.is_cancelled() {
        let opened = tokio::select! {
            opened = Session::open(&master) => opened,
            _ = cancel.cancelled() => return,
        };
        match opened {
            Ok(mut session) => {
                tracing::info!(adapter = "snmp", master = %master, session = session.session_id(),
                    "snmp: agentx registered LIBVIRT-MIB and VIRTBUS-MIB with the master at {master}");
                backoff = BACKOFF_START;
                failures = 0;
                match session.serve(mib.clone(), &mut notifications, &cancel).await {
                    Ok(()) => return,
                    Err(err) => {
                        tracing::warn!(adapter = "snmp", error = %err, "snmp: agentx session ended; reconnecting")
                    }
                }
            }
            Err(err) => {
                // Log the first failure and then every tenth, not each retry.
                if failures.is_multiple_of(10) {
                    tracing::warn!(adapter = "snmp", error = %err, retry_in = ?backoff, "snmp: agentx master unavailable");
                }
                failures = failures.saturating_add(1);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = cancel.cancelled() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// The Notify-PDU varbinds for one guest event: snmpTrapOID.0 then
/// libvirtGuestNotif's objects (the master adds sysUpTime.0).
pub fn notify_varbinds(
    name: &str,
    uuid: &uuid::Uuid,
    state: Option<virtbus_schemas::lifecycle::DomainState>,
) -> Vec<VarBind> {
    with_trap_oid(guest_notif_varbinds(name, uuid, state))
}

/// snmpTrapOID.0 = libvirtGuestNotif, followed by the notification's objects.
fn with_trap_oid(objects: Vec<VarBind>) -> Vec<VarBind> {
    let mut varbinds = vec![VarBind::new(
        Oid::from_slice(SNMP_TRAP_OID),
        Value::ObjectIdentifier(Oid::from_slice(GUEST_NOTIF)),
    )];
    varbinds.extend(objects);
    varbinds
}

async fn feed_notifications(core: Core, tx: mpsc::Sender<Vec<VarBind>>) {
    let mut subscription = core.subscribe();
    let mut dropped = 0u64;
    while let Some(objects) = next_guest_notif(&core, &mut subscription, "agentx").await {
        if tx.try_send(with_trap_oid(objects)).is_err() {
            dropped += 1;
            if dropped == 1 || dropped.is_multiple_of(100) {
                tracing::warn!(
                    adapter = "snmp",
                    dropped,
                    "snmp: agentx master away too long; notifications dropped"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_like_net_snmp() {
        assert_eq!(
            "unix:/var/agentx/master".parse(),
            Ok(AgentxAddr::Unix("/var/agentx/master".into()))
        );
        assert_eq!("/tmp/x.sock".parse(), Ok(AgentxAddr::Unix("/tmp/x.sock".into())));
        assert_eq!("tcp:127.0.0.1:705".parse(), Ok(AgentxAddr::Tcp("127.0.0.1:705".into())));
        assert_eq!("tcp:[::1]:705".parse(), Ok(AgentxAddr::Tcp("[::1]:705".into())));
        for bad in ["", "unix:", "tcp:705", "tcp:host:port", "udp:1.2.3.4:5", "master"] {
            assert!(bad.parse::<AgentxAddr>().is_err(), "{bad}");
        }
        assert_eq!(AgentxAddr::Unix("/a".into()).to_string(), "unix:/a");
    }

    #[test]
    fn notify_starts_with_trap_oid() {
        let vbs = notify_varbinds("alpha", &uuid::Uuid::nil(), None);
        assert_eq!(vbs[0].oid.arcs(), SNMP_TRAP_OID);
        assert_eq!(vbs[0].value, Value::ObjectIdentifier(Oid::from_slice(GUEST_NOTIF)));
        assert_eq!(vbs.len(), 5);
    }
}
