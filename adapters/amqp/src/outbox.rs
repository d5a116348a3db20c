//! The event outbox: indications wait here, in `seq` order, until the broker
//! confirmed them. The bus subscriber pushes; the publisher of the current
//! connection peeks a window, publishes it and removes what was confirmed,
//! so after a reconnect everything unconfirmed goes out again, in order.

use crate::qmf::event::Indication;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::Notify;

/// One queued indication with its position in the outbox.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: u64,
    pub indication: Arc<Indication>,
}

pub struct Outbox {
    inner: Mutex<Inner>,
    notify: Notify,
}

struct Inner {
    queue: VecDeque<Queued>,
    next_id: u64,
    limit: usize,
    dropped: u64,
}

impl Outbox {
    pub fn new(limit: usize) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                next_id: 1,
                limit: limit.max(1),
                dropped: 0,
            }),
            notify: Notify::new(),
        }
    }

    /// Queues an indication; when full, the oldest is dropped (and counted).
    pub fn push(&self, indication: Indication) {
        let mut inner = self.inner.lock();
        if inner.queue.len() >= inner.limit {
            if let Some(lost) = inner.queue.pop_front() {
                inner.dropped += 1;
                tracing::error!(
                    seq = lost.indication.seq,
                    dropped = inner.dropped,
                    "amqp: event outbox full, oldest unconfirmed event dropped"
                );
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.queue.push_back(Queued {
            id,
            indication: Arc::new(indication),
        });
        drop(inner);
        self.notify.notify_one();
    }

    /// Up to `max` of the oldest unconfirmed indications.
    pub fn peek(&self, max: usize) -> Vec<Queued> {
        self.inner.lock().queue.iter().take(max).cloned().collect()
    }

    /// Removes every indication up to and including `id` (they were confirmed).
    pub fn confirm(&self, id: u64) {
        let mut inner = self.inner.lock();
        while inner.queue.front().is_some_and(|q| q.id <= id) {
            inner.queue.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events dropped because the outbox was full.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().dropped
    }

    /// Waits until something was pushed since the last wait.
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(seq: u64) -> Indication {
        Indication {
            seq,
            epoch: 1,
            routing_key: "k".into(),
            message_id: format!("1-{seq}"),
            body: Vec::new(),
        }
    }

    #[test]
    fn keeps_order_until_confirmed_and_bounds_size() {
        let outbox = Outbox::new(3);
        for seq in 1..=3 {
            outbox.push(ind(seq));
        }
        let window = outbox.peek(2);
        assert_eq!(window.iter().map(|q| q.indication.seq).collect::<Vec<_>>(), vec![1, 2]);
        // Unconfirmed: a second peek (after a reconnect) sees the same events.
        assert_eq!(outbox.peek(2)[0].indication.seq, 1);
        outbox.confirm(window[1].id);
        assert_eq!(
            outbox.peek(5).iter().map(|q| q.indication.seq).collect::<Vec<_>>(),
            vec![3]
        );
        for seq in 4..=6 {
            outbox.push(ind(seq));
        }
        assert_eq!(outbox.dropped(), 1);
        assert_eq!(
            outbox.peek(5).iter().map(|q| q.indication.seq).collect::<Vec<_>>(),
            vec![4, 5, 6]
        );
    }
}
