//! Lifecycle events from libvirt, each reported to the core exactly once.
//!
//! libvirt emits events for changes made through virtbus as well as for
//! changes made by anyone else. Every event arrives through libvirt's
//! callbacks (`ffi.rs`) on the event loop thread and goes to exactly one of
//! two places, chosen under one lock:
//!
//! - a **capture**: while a driver call on an object is in progress, that
//!   object's events are collected and returned in the call's `Outcome`, so
//!   the core publishes them with the command, in libvirt's order;
//! - a **notice** otherwise (`DriverNotice`): the core reloads the object and
//!   publishes the event, or adopts an object it did not know.
//!
//! A call ends its capture only once libvirt has delivered the events the
//! call caused ([`Capture::finish`]): it waits for the event the operation
//! always ends with ([`Expect`], e.g. STARTED for `virDomainCreate`, which
//! libvirt's qemu driver precedes with RESUMED), then for a marker timer on
//! libvirt's event loop, which fires after every event queued before it. For
//! in-process drivers (`test:///`) that marker is exact; for connections to a
//! daemon, events travel over the socket, so a short quiet period follows the
//! marker. An event that still comes later is not lost: it becomes a notice.

use super::ffi::{self, RawEvent};
use crate::model::{DriverEvent, DriverNotice};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use virtbus_schemas::lifecycle::{DomainEventType, DomainLifecycle, NetworkEventType, PoolEventType};

/// How long a call waits for the events its operation always emits.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a call waits for its marker timer on the event loop.
const MARKER_TIMEOUT: Duration = Duration::from_secs(1);
/// For daemon connections: no new event for this long ends a capture.
const REMOTE_QUIET: Duration = Duration::from_millis(20);

/// Which object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Domain(Uuid),
    Pool(Uuid),
    Network(Uuid),
}

/// What a call waits for before it ends its capture: the event libvirt
/// always emits last for the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Nothing for sure (a shutdown request, a memory change).
    Nothing,
    /// Any one event (pool and network operations emit exactly one).
    One,
    /// A domain event of this type. libvirt's qemu driver emits others
    /// first (RESUMED before STARTED, SHUTDOWN before STOPPED), so a count
    /// alone could end the capture between the two.
    Domain(DomainEventType),
}

impl Expect {
    /// At least one event, when the object vanished: nothing else could
    /// report its end.
    pub(crate) fn or_one(self) -> Expect {
        match self {
            Expect::Nothing => Expect::One,
            other => other,
        }
    }

    fn met_by(self, events: &[DriverEvent]) -> bool {
        match self {
            Expect::Nothing => true,
            Expect::One => !events.is_empty(),
            Expect::Domain(wanted) => events
                .iter()
                .any(|e| matches!(e, DriverEvent::Domain(d) if d.event == wanted)),
        }
    }
}

/// The event router shared by the callbacks and the driver calls.
pub(crate) struct EventHub {
    state: Mutex<HubState>,
    cond: Condvar,
    notices: crossbeam_channel::Sender<DriverNotice>,
    /// The driver runs inside libvirt.so (`test:///`): the marker is exact.
    in_process: bool,
}

#[derive(Default)]
struct HubState {
    captures: HashMap<Key, Collected>,
    /// Events delivered so far (any object), to detect a quiet period.
    delivered: u64,
    last_delivery: Option<Instant>,
}

#[derive(Default)]
struct Collected {
    events: Vec<DriverEvent>,
    /// Calls capturing this object at once (the core serialises calls per
    /// object, but a define through the node actor may overlap).
    users: usize,
}

/// Turns libvirt's numbers into the object key and our event, `None` for an
/// event number this build does not know (the object is still reloaded).
pub(crate) fn translate(raw: RawEvent) -> (Key, Option<DriverEvent>) {
    match raw {
        RawEvent::Domain { uuid, event, detail } => (
            Key::Domain(uuid),
            DomainEventType::from_number(event).map(|event| DriverEvent::Domain(DomainLifecycle { event, detail })),
        ),
        RawEvent::Pool { uuid, event } => (
            Key::Pool(uuid),
            PoolEventType::from_number(event).map(DriverEvent::Pool),
        ),
        RawEvent::Network { uuid, event } => (
            Key::Network(uuid),
            NetworkEventType::from_number(event).map(DriverEvent::Network),
        ),
    }
}

/// The notice for an event about `key` that no call is capturing.
pub(crate) fn notice(key: Key, event: Option<DriverEvent>) -> DriverNotice {
    match key {
        Key::Domain(uuid) => DriverNotice::Domain {
            uuid,
            event: match event {
                Some(DriverEvent::Domain(e)) => Some(e),
                _ => None,
            },
        },
        Key::Pool(uuid) => DriverNotice::Pool {
            uuid,
            event: match event {
                Some(DriverEvent::Pool(e)) => Some(e),
                _ => None,
            },
        },
        Key::Network(uuid) => DriverNotice::Network {
            uuid,
            event: match event {
                Some(DriverEvent::Network(e)) => Some(e),
                _ => None,
            },
        },
    }
}

impl EventHub {
    pub(crate) fn new(notices: crossbeam_channel::Sender<DriverNotice>, in_process: bool) -> Arc<EventHub> {
        Arc::new(EventHub {
            state: Mutex::new(HubState::default()),
            cond: Condvar::new(),
            notices,
            in_process,
        })
    }

    /// Called by libvirt's callbacks (event loop thread) for every event.
    pub(crate) fn deliver(&self, raw: RawEvent) {
        let (key, event) = translate(raw);
        let mut state = self.state.lock();
        state.delivered += 1;
        state.last_delivery = Some(Instant::now());
        if let Some(collected) = state.captures.get_mut(&key) {
            if let Some(event) = event {
                collected.events.push(event);
                self.cond.notify_all();
                return;
            }
        }
        // Sent under the lock, so a capture that starts after this point
        // cannot publish a later event of the object before this one.
        self.send(notice(key, event));
    }

    /// Hands a notice to the core (also used by the resync after a
    /// reconnect). A core that went away is not an error here.
    pub(crate) fn send(&self, notice: DriverNotice) {
        let _ = self.notices.send(notice);
    }

    /// Starts collecting the events of `key` for a call about to be made.
    pub(crate) fn capture(self: &Arc<Self>, key: Key) -> Capture {
        self.state.lock().captures.entry(key).or_default().users += 1;
        Capture {
            hub: self.clone(),
            key,
            done: false,
        }
    }
}

/// The events of one object during one call. Dropped without
/// [`finish`](Capture::finish) (the call failed), whatever it collected goes
/// on as notices.
pub(crate) struct Capture {
    hub: Arc<EventHub>,
    key: Key,
    done: bool,
}

impl Capture {
    /// Waits until libvirt has delivered what the call caused (the event
    /// `expect` names, then everything queued before now) and returns the
    /// events in libvirt's order.
    pub(crate) fn finish(mut self, expect: Expect) -> Vec<DriverEvent> {
        let hub = self.hub.clone();
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        {
            let mut state = hub.state.lock();
            while !expect.met_by(state.captures.get(&self.key).map_or(&[], |c| c.events.as_slice())) {
                if hub.cond.wait_until(&mut state, deadline).timed_out() {
                    tracing::warn!(key = ?self.key, ?expect, "libvirt did not deliver the expected event in time");
                    break;
                }
            }
        }
        self.wait_for_marker();
        if !hub.in_process {
            self.wait_for_quiet();
        }
        self.done = true;
        self.take()
    }

    /// Puts a marker timer on libvirt's event loop and waits until it fired:
    /// every event queued before has then been dispatched.
    fn wait_for_marker(&self) {
        let fired = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = fired.clone();
        let added = ffi::add_marker(Box::new(move || {
            *flag.0.lock() = true;
            flag.1.notify_all();
        }));
        if !added {
            return;
        }
        let deadline = Instant::now() + MARKER_TIMEOUT;
        let mut done = fired.0.lock();
        while !*done {
            if fired.1.wait_until(&mut done, deadline).timed_out() {
                tracing::warn!("libvirt's event loop did not run the marker in time");
                return;
            }
        }
    }

    /// Waits until no event at all arrived for [`REMOTE_QUIET`].
    fn wait_for_quiet(&self) {
        let hub = &self.hub;
        let deadline = Instant::now() + MARKER_TIMEOUT;
        let mut state = hub.state.lock();
        loop {
            let since = state.last_delivery.map_or(REMOTE_QUIET, |t| t.elapsed());
            if since >= REMOTE_QUIET || Instant::now() >= deadline {
                return;
            }
            let _ = hub.cond.wait_for(&mut state, REMOTE_QUIET - since);
        }
    }

    /// Ends this capture and takes its events.
    fn take(&mut self) -> Vec<DriverEvent> {
        let mut state = self.hub.state.lock();
        let Some(collected) = state.captures.get_mut(&self.key) else {
            return Vec::new();
        };
        collected.users = collected.users.saturating_sub(1);
        let events = std::mem::take(&mut collected.events);
        if collected.users == 0 {
            state.captures.remove(&self.key);
        }
        events
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let key = self.key;
        for event in self.take() {
            self.hub.send(notice(key, Some(event)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_outside_a_capture_become_notices_inside_go_to_the_call() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let hub = EventHub::new(tx, true);
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let capture = hub.capture(Key::Domain(a));
        hub.deliver(RawEvent::Domain {
            uuid: a,
            event: 2,
            detail: 0,
        });
        hub.deliver(RawEvent::Domain {
            uuid: b,
            event: 5,
            detail: 1,
        });
        let mut capture = capture;
        let events = capture.take();
        capture.done = true;
        assert_eq!(
            events,
            vec![DriverEvent::Domain(DomainLifecycle {
                event: DomainEventType::Started,
                detail: 0
            })]
        );
        assert_eq!(
            rx.try_recv().ok(),
            Some(DriverNotice::Domain {
                uuid: b,
                event: Some(DomainLifecycle {
                    event: DomainEventType::Stopped,
                    detail: 1
                })
            })
        );
        hub.deliver(RawEvent::Domain {
            uuid: a,
            event: 3,
            detail: 0,
        });
        assert!(matches!(rx.try_recv(), Ok(DriverNotice::Domain { uuid, .. }) if uuid == a));
    }

    #[test]
    fn a_domain_call_waits_for_its_own_event_not_a_count() {
        let resumed = DriverEvent::Domain(DomainLifecycle {
            event: DomainEventType::Resumed,
            detail: 0,
        });
        let started = DriverEvent::Domain(DomainLifecycle {
            event: DomainEventType::Started,
            detail: 0,
        });
        let start = Expect::Domain(DomainEventType::Started);
        // qemu's start: RESUMED first; the capture must go on to STARTED.
        assert!(!start.met_by(std::slice::from_ref(&resumed)));
        assert!(start.met_by(&[resumed, started]));
        assert!(Expect::Nothing.met_by(&[]));
        assert!(!Expect::Nothing.or_one().met_by(&[]));
        assert!(Expect::One.met_by(&[resumed]));
    }

    #[test]
    fn a_failed_call_passes_what_it_collected_on() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let hub = EventHub::new(tx, true);
        let p = Uuid::from_u128(7);
        let capture = hub.capture(Key::Pool(p));
        hub.deliver(RawEvent::Pool { uuid: p, event: 2 });
        drop(capture);
        assert_eq!(
            rx.try_recv().ok(),
            Some(DriverNotice::Pool {
                uuid: p,
                event: Some(PoolEventType::Started)
            })
        );
    }
}
