//! The bus: typed events fanned out to any number of subscribers.
//!
//! Publishing never blocks: each subscriber reads from a bounded ring
//! (`tokio::sync::broadcast`); one that falls behind loses the oldest events
//! and is told how many it missed ([`Received::Lagged`]) instead of slowing
//! the core down.

use crate::event::{Event, EventBody};
use parking_lot::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// Events a subscriber may fall behind by before it starts losing them.
pub const DEFAULT_CAPACITY: usize = 65_536;

pub struct Bus {
    epoch: u64,
    /// Assigning `seq` and sending under one lock keeps every subscriber's
    /// view in `seq` order.
    inner: Mutex<Inner>,
}

struct Inner {
    next_seq: u64,
    sender: broadcast::Sender<Event>,
}

impl Bus {
    pub fn new(epoch: u64, capacity: usize) -> Bus {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Bus {
            epoch,
            inner: Mutex::new(Inner { next_seq: 1, sender }),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Stamps and publishes one event; returns it as subscribers see it.
    pub fn publish(&self, body: EventBody) -> Event {
        let mut inner = self.inner.lock();
        let timestamp_ns = now_ns();
        let event = Event {
            seq: inner.next_seq,
            epoch: self.epoch,
            timestamp_ns,
            time: rfc3339(timestamp_ns),
            body,
        };
        inner.next_seq += 1;
        // No subscribers is fine: nobody is listening yet.
        let _ = inner.sender.send(event.clone());
        event
    }

    /// The `seq` the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.inner.lock().next_seq
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.inner.lock().sender.subscribe(),
        }
    }
}

/// One subscriber's view of the bus.
pub struct Subscription {
    receiver: broadcast::Receiver<Event>,
}

/// What a subscriber gets next.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Event(Event),
    /// The subscriber fell behind and this many events were dropped for it.
    Lagged(u64),
    /// The bus is gone (agent shutting down).
    Closed,
}

impl Subscription {
    pub async fn recv(&mut self) -> Received {
        match self.receiver.recv().await {
            Ok(event) => Received::Event(event),
            Err(broadcast::error::RecvError::Lagged(n)) => Received::Lagged(n),
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }

    /// Non-blocking variant, for synchronous consumers and tests.
    pub fn try_recv(&mut self) -> Option<Received> {
        match self.receiver.try_recv() {
            Ok(event) => Some(Received::Event(event)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Received::Lagged(n)),
            Err(broadcast::error::TryRecvError::Closed) => Some(Received::Closed),
            Err(broadcast::error::TryRecvError::Empty) => None,
        }
    }
}

pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// RFC 3339 text of nanoseconds since the Unix epoch, as events carry it.
pub fn rfc3339(ns: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;
    use virtbus_schemas::lifecycle::NetworkEventType;

    fn body(n: u8) -> EventBody {
        EventBody::Network {
            uuid: Uuid::from_bytes([n; 16]),
            name: format!("net{n}"),
            event: NetworkEventType::Started,
        }
    }

    #[test]
    fn seq_is_monotonic_and_stamped() {
        let bus = Bus::new(42, 16);
        let mut sub = bus.subscribe();
        bus.publish(body(1));
        bus.publish(body(2));
        let a = match sub.try_recv() {
            Some(Received::Event(e)) => e,
            other => panic!("expected an event, got {other:?}"),
        };
        let b = match sub.try_recv() {
            Some(Received::Event(e)) => e,
            other => panic!("expected an event, got {other:?}"),
        };
        assert_eq!((a.seq, b.seq), (1, 2));
        assert_eq!(a.epoch, 42);
        assert!(a.timestamp_ns > 0 && b.timestamp_ns >= a.timestamp_ns);
        assert!(a.time.contains('T'), "rfc3339 time: {}", a.time);
        assert_eq!(sub.try_recv(), None);
    }

    #[test]
    fn slow_subscriber_is_told_it_lagged_and_publisher_never_blocks() {
        let bus = Bus::new(1, 4);
        let mut slow = bus.subscribe();
        for n in 0..10 {
            bus.publish(body(n));
        }
        assert_eq!(slow.try_recv(), Some(Received::Lagged(6)));
        match slow.try_recv() {
            Some(Received::Event(e)) => assert_eq!(e.seq, 7),
            other => panic!("expected seq 7, got {other:?}"),
        }
    }

    #[test]
    fn json_shape() {
        let bus = Bus::new(7, 4);
        let e = bus.publish(body(3));
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "network");
        assert_eq!(v["event"], "STARTED");
        assert_eq!(v["seq"], 1);
        assert_eq!(v["epoch"], 7);
    }
}
