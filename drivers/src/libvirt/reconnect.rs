//! The link to libvirt: the current [`Session`], loss detection, reconnect
//! with backoff, and the resynchronisation that emits the events a consumer
//! missed while libvirt was unreachable.
//!
//! - **Detection**: libvirt's close callback (EOF, keepalive timeout — the
//!   session asks for keepalive every 5 s, 3 misses) and a liveness check
//!   every [`CHECK_INTERVAL`].
//! - **While down**: calls fail with `NO_CONNECT` naming the URI; the core
//!   keeps serving its last snapshot, which [`Link::state`] marks stale
//!   (since when, why, attempts) until the resync after reconnecting is done.
//! - **Reconnect**: attempts after 0.25 s, doubling to at most
//!   [`MAX_BACKOFF`].
//! - **Resync**: the link remembers what it last reported about every object
//!   ([`Shadow`], updated from every record the driver hands out); after a
//!   reconnect it lists everything again and sends one notice per change,
//!   with the lifecycle event libvirt would have sent (derived from the state
//!   and reason it finds), so subscribers see each missed change.

use super::conn::Session;
use super::events::{EventHub, Key};
use super::ffi::{self, RawEvent};
use crate::link::{LinkDown, LinkState};
use crate::model::{DomainRecord, DriverNotice, NetworkRecord, PoolRecord};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};
use uuid::Uuid;
use virtbus_schemas::lifecycle::{
    DefinedDetail, DomainLifecycle, DomainState, NetworkEventType, PoolEventType, ResumedDetail, RunningReason,
    ShutoffReason, StartedDetail, StateWithReason, StoppedDetail, SuspendedDetail, UndefinedDetail,
};
use virtbus_schemas::{ErrorCode, VirtError, VirtResult};

/// How often the monitor checks the connection without a close callback.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What the link last reported about each object.
#[derive(Default)]
pub(crate) struct Shadow {
    domains: HashMap<Uuid, DomSeen>,
    pools: HashMap<Uuid, Seen>,
    networks: HashMap<Uuid, Seen>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct DomSeen {
    state: StateWithReason,
    persistent: bool,
    /// libvirt's id while running: a new id means the domain stopped and
    /// started again in between.
    id: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    active: bool,
    persistent: bool,
}

pub(crate) struct Link {
    uri: String,
    session: RwLock<Option<Arc<Session>>>,
    hub: Arc<EventHub>,
    shadow: Mutex<Shadow>,
    /// Signals a suspected loss, with what revealed it.
    lost: crossbeam_channel::Sender<String>,
    /// The current outage, from the loss until the resync after reconnecting.
    down: Mutex<Option<LinkDown>>,
}

impl Link {
    /// Connects once (this must work) and starts the monitor thread, which
    /// ends when the link is dropped.
    pub(crate) fn open(uri: &str, hub: Arc<EventHub>) -> VirtResult<Arc<Link>> {
        let (lost, lost_rx) = crossbeam_channel::bounded(1);
        let link = Arc::new(Link {
            uri: uri.to_string(),
            session: RwLock::new(None),
            hub,
            shadow: Mutex::new(Shadow::default()),
            lost,
            down: Mutex::new(None),
        });
        let session = link.connect()?;
        *link.session.write() = Some(Arc::new(session));
        let weak = Arc::downgrade(&link);
        std::thread::Builder::new()
            .name("virtbus-libvirt-link".into())
            .spawn(move || monitor(weak, lost_rx))
            .map_err(|e| VirtError::internal(format!("cannot start the libvirt monitor thread: {e}")))?;
        Ok(link)
    }

    fn connect(&self) -> VirtResult<Session> {
        let hub = self.hub.clone();
        let events: Arc<ffi::EventSink> = Arc::new(move |raw: RawEvent| hub.deliver(raw));
        let lost = self.lost.clone();
        let uri = self.uri.clone();
        let closed: Arc<ffi::CloseSink> = Arc::new(move |reason| {
            let reason = ffi::close_reason(reason);
            tracing::warn!(uri = %uri, reason, "libvirt closed the connection");
            let _ = lost.try_send(format!("libvirt closed the connection: {reason}"));
        });
        Session::open(&self.uri, &events, closed)
    }

    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// The live session, or `NO_CONNECT` while libvirt is unreachable.
    pub(crate) fn session(&self) -> VirtResult<Arc<Session>> {
        self.session.read().clone().ok_or_else(|| {
            VirtError::new(
                ErrorCode::NoConnect,
                format!("libvirt connection '{}' is down; reconnecting", self.uri),
            )
        })
    }

    /// Called when a call failed in a way that suggests the connection died.
    pub(crate) fn suspect(&self, err: &VirtError) {
        if matches!(
            err.code,
            ErrorCode::SystemError | ErrorCode::NoConnect | ErrorCode::Rpc | ErrorCode::InvalidConn
        ) {
            let _ = self.lost.try_send(format!("a call failed: {err}"));
        }
    }

    /// Whether libvirt is reachable, and since when not.
    pub(crate) fn state(&self) -> LinkState {
        match &*self.down.lock() {
            Some(down) => LinkState::Down(down.clone()),
            None => LinkState::Up,
        }
    }

    pub(crate) fn seen_domain(&self, rec: &DomainRecord) {
        self.shadow.lock().domains.insert(
            rec.uuid(),
            DomSeen {
                state: rec.state,
                persistent: rec.persistent,
                id: rec.id,
            },
        );
    }

    pub(crate) fn seen_pool(&self, rec: &PoolRecord) {
        self.shadow.lock().pools.insert(
            rec.def.uuid,
            Seen {
                active: rec.is_active(),
                persistent: rec.persistent,
            },
        );
    }

    pub(crate) fn seen_network(&self, rec: &NetworkRecord) {
        self.shadow.lock().networks.insert(
            rec.def.uuid,
            Seen {
                active: rec.active,
                persistent: rec.persistent,
            },
        );
    }

    pub(crate) fn forget(&self, key: Key) {
        let mut shadow = self.shadow.lock();
        match key {
            Key::Domain(u) => {
                shadow.domains.remove(&u);
            }
            Key::Pool(u) => {
                shadow.pools.remove(&u);
            }
            Key::Network(u) => {
                shadow.networks.remove(&u);
            }
        }
    }

    /// One round of the monitor: is the connection gone?
    fn is_down(&self) -> bool {
        match self.session.read().as_ref() {
            Some(s) => !s.is_alive(),
            None => true,
        }
    }

    /// Drops the dead session and opens the outage.
    fn drop_session(&self, reason: String) {
        let old = self.session.write().take();
        if old.is_some() {
            tracing::warn!(uri = %self.uri, %reason, "lost the libvirt connection; serving the last snapshot (stale) and reconnecting");
        }
        self.down.lock().get_or_insert_with(|| LinkDown {
            since: SystemTime::now(),
            reason,
            attempts: 0,
            last_error: None,
        });
        // Dropped outside the lock: closing may block on a dead socket.
        drop(old);
    }

    /// A reconnect attempt failed; `retry_in` is the wait before the next.
    fn attempt_failed(&self, err: &VirtError, retry_in: Duration) {
        let mut down = self.down.lock();
        let attempts = down.as_mut().map_or(0, |d| {
            d.attempts += 1;
            d.last_error = Some(err.to_string());
            d.attempts
        });
        tracing::info!(uri = %self.uri, attempts, retry_in_ms = retry_in.as_millis() as u64, error = %err, "libvirt still unreachable");
    }

    /// The outage is over: reconnected and resynchronised.
    fn recovered(&self) {
        if let Some(down) = self.down.lock().take() {
            let secs = down.since.elapsed().map_or(0.0, |d| d.as_secs_f64());
            tracing::info!(uri = %self.uri, down_secs = format!("{secs:.1}"), attempts = down.attempts + 1, "libvirt connection restored; snapshot current again");
        }
    }
}

/// The monitor thread: waits for a loss, reconnects with backoff, resyncs.
fn monitor(link: Weak<Link>, lost: crossbeam_channel::Receiver<String>) {
    loop {
        let signalled = match lost.recv_timeout(CHECK_INTERVAL) {
            Ok(reason) => Some(reason),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        };
        let Some(strong) = link.upgrade() else { return };
        if !strong.is_down() {
            // Nothing wrong, or a suspicious error while libvirt still says
            // the connection is alive: keep it.
            continue;
        }
        strong.drop_session(signalled.unwrap_or_else(|| "libvirt reports the connection dead".into()));
        drop(strong);
        let mut backoff = Backoff::default();
        loop {
            std::thread::sleep(backoff.current());
            let Some(strong) = link.upgrade() else { return };
            match strong.connect() {
                Ok(session) => {
                    *strong.session.write() = Some(Arc::new(session));
                    tracing::info!(uri = %strong.uri, "reconnected to libvirt; resynchronising");
                    match resync(&strong) {
                        Ok(()) => {
                            strong.recovered();
                            break;
                        }
                        Err(err) => {
                            // Still stale: try the whole reconnect again.
                            let old = strong.session.write().take();
                            drop(old);
                            strong.attempt_failed(&err, backoff.advance());
                        }
                    }
                }
                Err(err) => strong.attempt_failed(&err, backoff.advance()),
            }
        }
        // Losses signalled while reconnecting are about the old session.
        while lost.try_recv().is_ok() {}
    }
}

/// The waits between reconnect attempts: [`FIRST_BACKOFF`], doubling up to
/// [`MAX_BACKOFF`].
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(FIRST_BACKOFF)
    }
}

impl Backoff {
    fn current(&self) -> Duration {
        self.0
    }

    /// Moves to the next wait and returns it.
    fn advance(&mut self) -> Duration {
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
        self.0
    }
}

/// Lists everything on the new connection and sends a notice for each
/// difference to what was last reported.
fn resync(link: &Link) -> VirtResult<()> {
    let before = std::mem::take(&mut *link.shadow.lock());
    let listed = (|| {
        Ok::<_, VirtError>((
            super::domains::list(link)?,
            super::storage::list(link)?,
            super::networks::list(link)?,
        ))
    })();
    let (domains, pools, networks) = match listed {
        Ok(all) => all,
        Err(err) => {
            *link.shadow.lock() = before;
            return Err(err);
        }
    };
    let mut after = Shadow::default();
    for d in &domains {
        after.domains.insert(
            d.uuid(),
            DomSeen {
                state: d.state,
                persistent: d.persistent,
                id: d.id,
            },
        );
    }
    for p in &pools {
        after.pools.insert(
            p.def.uuid,
            Seen {
                active: p.is_active(),
                persistent: p.persistent,
            },
        );
    }
    for n in &networks {
        after.networks.insert(
            n.def.uuid,
            Seen {
                active: n.active,
                persistent: n.persistent,
            },
        );
    }
    let notices = diff(&before, &after);
    *link.shadow.lock() = after;
    for notice in notices {
        link.hub.send(notice);
    }
    Ok(())
}

/// The notices that bring a consumer who saw `before` to `after`.
fn diff(before: &Shadow, after: &Shadow) -> Vec<DriverNotice> {
    let mut out = Vec::new();
    for (uuid, old) in &before.domains {
        match after.domains.get(uuid) {
            None => {
                let event = if old.persistent {
                    DomainLifecycle::undefined(UndefinedDetail::Removed)
                } else {
                    DomainLifecycle::stopped(StoppedDetail::Failed)
                };
                out.push(DriverNotice::Domain {
                    uuid: *uuid,
                    event: Some(event),
                });
            }
            Some(new) => {
                for event in domain_changes(Some(old), new) {
                    out.push(DriverNotice::Domain {
                        uuid: *uuid,
                        event: Some(event),
                    });
                }
            }
        }
    }
    for (uuid, new) in &after.domains {
        if !before.domains.contains_key(uuid) {
            for event in domain_changes(None, new) {
                out.push(DriverNotice::Domain {
                    uuid: *uuid,
                    event: Some(event),
                });
            }
        }
    }
    for (uuid, event) in object_changes(&before.pools, &after.pools) {
        out.push(DriverNotice::Pool {
            uuid,
            event: Some(match event {
                Change::Defined => PoolEventType::Defined,
                Change::Undefined => PoolEventType::Undefined,
                Change::Started => PoolEventType::Started,
                Change::Stopped => PoolEventType::Stopped,
            }),
        });
    }
    for (uuid, event) in object_changes(&before.networks, &after.networks) {
        out.push(DriverNotice::Network {
            uuid,
            event: Some(match event {
                Change::Defined => NetworkEventType::Defined,
                Change::Undefined => NetworkEventType::Undefined,
                Change::Started => NetworkEventType::Started,
                Change::Stopped => NetworkEventType::Stopped,
            }),
        });
    }
    out
}

/// The lifecycle events that take a domain from `old` (`None`: unknown
/// before) to `new`, in the order libvirt emits them.
fn domain_changes(old: Option<&DomSeen>, new: &DomSeen) -> Vec<DomainLifecycle> {
    let mut events = Vec::new();
    let was_persistent = old.is_some_and(|o| o.persistent);
    if new.persistent && !was_persistent {
        events.push(DomainLifecycle::defined(DefinedDetail::Added));
    }
    let old_state = old.map(|o| o.state.state).unwrap_or(DomainState::Shutoff);
    let new_state = new.state.state;
    let (was_active, is_active) = (old_state.is_active(), new_state.is_active());
    // Running before and after, under another id: it stopped and started
    // again while we were away. How it stopped is lost (libvirt keeps only
    // the current reason), so the stop is reported as FAILED, as for any
    // stop whose reason is unknown.
    let restarted = was_active && is_active && old.and_then(|o| o.id).is_some_and(|id| new.id != Some(id));
    if restarted {
        events.push(DomainLifecycle::stopped(StoppedDetail::Failed));
    }
    if (!was_active || restarted) && is_active {
        // The reason says how it started only while it runs; a paused
        // domain's reason is a paused reason.
        let running_reason = (new_state == DomainState::Running)
            .then(|| RunningReason::from_number(new.state.reason))
            .flatten();
        let detail = match running_reason {
            Some(RunningReason::Migrated) => StartedDetail::Migrated,
            Some(RunningReason::Restored) => StartedDetail::Restored,
            Some(RunningReason::FromSnapshot) => StartedDetail::FromSnapshot,
            Some(RunningReason::Wakeup) => StartedDetail::Wakeup,
            _ => StartedDetail::Booted,
        };
        events.push(DomainLifecycle::started(detail));
        if new_state == DomainState::Paused {
            events.push(DomainLifecycle::suspended(SuspendedDetail::Paused));
        }
    } else if was_active && !is_active {
        let detail = match ShutoffReason::from_number(new.state.reason) {
            Some(ShutoffReason::Shutdown) => StoppedDetail::Shutdown,
            Some(ShutoffReason::Destroyed) => StoppedDetail::Destroyed,
            Some(ShutoffReason::Crashed) => StoppedDetail::Crashed,
            Some(ShutoffReason::Migrated) => StoppedDetail::Migrated,
            Some(ShutoffReason::Saved) => StoppedDetail::Saved,
            Some(ShutoffReason::FromSnapshot) => StoppedDetail::FromSnapshot,
            _ => StoppedDetail::Failed,
        };
        events.push(DomainLifecycle::stopped(detail));
    } else if was_active && is_active && !restarted {
        if old_state != DomainState::Paused && new_state == DomainState::Paused {
            events.push(DomainLifecycle::suspended(SuspendedDetail::Paused));
        } else if old_state == DomainState::Paused && new_state != DomainState::Paused {
            events.push(DomainLifecycle::resumed(ResumedDetail::Unpaused));
        }
    }
    if was_persistent && !new.persistent {
        events.push(DomainLifecycle::undefined(UndefinedDetail::Removed));
    }
    events
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Defined,
    Undefined,
    Started,
    Stopped,
}

fn object_changes(before: &HashMap<Uuid, Seen>, after: &HashMap<Uuid, Seen>) -> Vec<(Uuid, Change)> {
    let mut out = Vec::new();
    let gone = Seen {
        active: false,
        persistent: false,
    };
    for (uuid, old) in before {
        let new = after.get(uuid).copied().unwrap_or(gone);
        push_changes(&mut out, *uuid, *old, new);
    }
    for (uuid, new) in after {
        if !before.contains_key(uuid) {
            push_changes(&mut out, *uuid, gone, *new);
        }
    }
    out
}

fn push_changes(out: &mut Vec<(Uuid, Change)>, uuid: Uuid, old: Seen, new: Seen) {
    if new.persistent && !old.persistent {
        out.push((uuid, Change::Defined));
    }
    if new.active && !old.active {
        out.push((uuid, Change::Started));
    }
    if old.active && !new.active {
        out.push((uuid, Change::Stopped));
    }
    if old.persistent && !new.persistent {
        out.push((uuid, Change::Undefined));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virtbus_schemas::lifecycle::PausedReason;

    fn dom(state: StateWithReason, persistent: bool) -> DomSeen {
        let id = state.state.is_active().then_some(1);
        DomSeen { state, persistent, id }
    }

    #[test]
    fn a_domain_restarted_while_away_is_reported_stopped_then_started() {
        let before = dom(StateWithReason::running(RunningReason::Booted), true);
        let mut after = before;
        assert_eq!(domain_changes(Some(&before), &after), []);
        after.id = Some(7);
        assert_eq!(
            domain_changes(Some(&before), &after),
            [
                DomainLifecycle::stopped(StoppedDetail::Failed),
                DomainLifecycle::started(StartedDetail::Booted)
            ]
        );
        after.state = StateWithReason::paused(PausedReason::User);
        assert_eq!(
            domain_changes(Some(&before), &after),
            [
                DomainLifecycle::stopped(StoppedDetail::Failed),
                DomainLifecycle::started(StartedDetail::Booted),
                DomainLifecycle::suspended(SuspendedDetail::Paused)
            ]
        );
    }

    #[test]
    fn missed_domain_changes_become_libvirt_events() {
        let (a, b, c, d) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let mut before = Shadow::default();
        before
            .domains
            .insert(a, dom(StateWithReason::running(RunningReason::Booted), true));
        before
            .domains
            .insert(b, dom(StateWithReason::shutoff(ShutoffReason::Unknown), true));
        before
            .domains
            .insert(c, dom(StateWithReason::running(RunningReason::Booted), true));
        let mut after = Shadow::default();
        after
            .domains
            .insert(a, dom(StateWithReason::shutoff(ShutoffReason::Destroyed), true));
        after
            .domains
            .insert(c, dom(StateWithReason::paused(PausedReason::User), true));
        after
            .domains
            .insert(d, dom(StateWithReason::running(RunningReason::Booted), true));
        let mut got = diff(&before, &after);
        got.sort_by_key(|n| match n {
            DriverNotice::Domain { uuid, .. } => *uuid,
            _ => Uuid::nil(),
        });
        let ev = |uuid, e| DriverNotice::Domain { uuid, event: Some(e) };
        assert_eq!(
            got,
            vec![
                ev(a, DomainLifecycle::stopped(StoppedDetail::Destroyed)),
                ev(b, DomainLifecycle::undefined(UndefinedDetail::Removed)),
                ev(c, DomainLifecycle::suspended(SuspendedDetail::Paused)),
                ev(d, DomainLifecycle::defined(DefinedDetail::Added)),
                ev(d, DomainLifecycle::started(StartedDetail::Booted)),
            ]
        );
    }

    #[test]
    fn reconnect_waits_double_up_to_the_maximum() {
        let mut backoff = Backoff::default();
        let mut waits = vec![backoff.current()];
        for _ in 0..7 {
            waits.push(backoff.advance());
        }
        let ms: Vec<u128> = waits.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    }

    #[test]
    fn missed_pool_changes_in_order() {
        let p = Uuid::from_u128(9);
        let mut before = HashMap::new();
        before.insert(
            p,
            Seen {
                active: true,
                persistent: true,
            },
        );
        let after = HashMap::new();
        assert_eq!(
            object_changes(&before, &after),
            vec![(p, Change::Stopped), (p, Change::Undefined)]
        );
    }
}
