//! The event outbox: indications wait here, in order, until the broker
//! confirmed them. The bus subscriber pushes; the publisher of the current
//! connection peeks a window, publishes it and removes what was confirmed,
//! so after a reconnect everything unconfirmed goes out again, in order.
//!
//! With a state directory the outbox is also on disk ([`journal`]): every
//! pushed event is appended (and synced) there, and a release mark is
//! appended when events leave, so an agent that stops or crashes replays the
//! unconfirmed events of its earlier run first on its next start.
//!
//! Bounded: at most `limit` events wait; when full the oldest is dropped
//! (and released on disk), counted and logged, because the core must never
//! wait for a subscriber (ARCHITECTURE.md). Subscribers see the loss as a
//! gap in `seq`.

pub mod journal;

use crate::qmf::event::Indication;
use journal::{Journal, JournalError};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::path::Path;
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
    /// None: memory only (no state dir, or the disk failed and it was logged).
    journal: Option<Journal>,
}

impl Inner {
    /// A disk error turns the outbox into a memory-only one: the events
    /// still go out while the agent runs, and the operator is told why
    /// they would not survive a restart.
    fn disk_failed(&mut self, err: &JournalError) {
        tracing::error!(
            adapter = "amqp",
            error = %err,
            "amqp: event outbox cannot write to disk; keeping events in memory only \
             (unconfirmed events will not survive an agent restart)"
        );
        self.journal = None;
    }
}

impl Outbox {
    /// A memory-only outbox.
    pub fn new(limit: usize) -> Outbox {
        Outbox::with(limit, None, VecDeque::new(), 1)
    }

    /// An outbox on disk in `dir`; events a previous run left unconfirmed
    /// come first, in their order.
    pub fn open(dir: &Path, limit: usize) -> Result<Outbox, JournalError> {
        let (mut journal, recovered) = Journal::open(dir)?;
        let mut queue: VecDeque<Queued> = recovered
            .events
            .into_iter()
            .map(|(id, ind)| Queued {
                id,
                indication: Arc::new(ind),
            })
            .collect();
        let limit = limit.max(1);
        let mut dropped = 0;
        while queue.len() > limit {
            if let Some(q) = queue.pop_front() {
                dropped += 1;
                journal.release(q.id)?;
            }
        }
        if !queue.is_empty() || dropped > 0 || recovered.discarded_bytes > 0 {
            tracing::info!(
                adapter = "amqp",
                replaying = queue.len(),
                dropped_over_limit = dropped,
                discarded_bytes = recovered.discarded_bytes,
                "amqp: event outbox holds unconfirmed events of an earlier run; they go out first"
            );
        }
        let outbox = Outbox::with(limit, Some(journal), queue, recovered.next_id);
        outbox.inner.lock().dropped = dropped;
        Ok(outbox)
    }

    fn with(limit: usize, journal: Option<Journal>, queue: VecDeque<Queued>, next_id: u64) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner {
                queue,
                next_id,
                limit: limit.max(1),
                dropped: 0,
                journal,
            }),
            notify: Notify::new(),
        }
    }

    /// Queues one indication.
    pub fn push(&self, indication: Indication) {
        self.push_all(vec![indication]);
    }

    /// Queues indications (one disk write and sync for all of them); when
    /// full, the oldest are dropped (counted and logged).
    pub fn push_all(&self, indications: Vec<Indication>) {
        if indications.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        let first_new = inner.queue.len();
        for indication in indications {
            let id = inner.next_id;
            inner.next_id += 1;
            inner.queue.push_back(Queued {
                id,
                indication: Arc::new(indication),
            });
        }
        // Write before dropping, so the journal's release mark never runs
        // ahead of the events it covers.
        let mut sync = None;
        let state = &mut *inner;
        if let Some(journal) = state.journal.as_mut() {
            let new: Vec<(u64, &Indication)> = state
                .queue
                .iter()
                .skip(first_new)
                .map(|q| (q.id, q.indication.as_ref()))
                .collect();
            match journal.append(&new) {
                Ok(()) => sync = journal.sync_handle(),
                Err(err) => inner.disk_failed(&err),
            }
        }
        let mut lost = None;
        while inner.queue.len() > inner.limit {
            lost = inner.queue.pop_front();
            inner.dropped += 1;
        }
        if let Some(lost) = lost {
            let dropped = inner.dropped;
            if let Some(Err(err)) = inner.journal.as_mut().map(|j| j.release(lost.id)) {
                inner.disk_failed(&err);
            }
            tracing::error!(
                adapter = "amqp",
                up_to_seq = lost.indication.seq,
                dropped,
                "amqp: event outbox full ([amqp] outbox_limit), oldest unconfirmed events dropped"
            );
        }
        drop(inner);
        // Sync outside the lock: the publisher keeps confirming meanwhile.
        if let Some(file) = sync {
            if let Err(err) = file.sync_data() {
                tracing::warn!(adapter = "amqp", error = %err, "amqp: event outbox sync failed");
            }
        }
        self.notify.notify_one();
    }

    /// Up to `max` of the oldest unconfirmed indications.
    pub fn peek(&self, max: usize) -> Vec<Queued> {
        self.inner.lock().queue.iter().take(max).cloned().collect()
    }

    /// Up to `max` of the oldest unconfirmed indications with an id above
    /// `after` (those up to `after` are published and await confirms).
    pub fn peek_after(&self, after: u64, max: usize) -> Vec<Queued> {
        let inner = self.inner.lock();
        let start = inner.queue.partition_point(|q| q.id <= after);
        inner.queue.iter().skip(start).take(max).cloned().collect()
    }

    /// Removes every indication up to and including `id` (they were confirmed).
    pub fn confirm(&self, id: u64) {
        let mut inner = self.inner.lock();
        let mut released = false;
        while inner.queue.front().is_some_and(|q| q.id <= id) {
            inner.queue.pop_front();
            released = true;
        }
        if released {
            if let Some(Err(err)) = inner.journal.as_mut().map(|j| j.release(id)) {
                inner.disk_failed(&err);
            }
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

    /// Whether events are kept on disk.
    pub fn on_disk(&self) -> bool {
        self.inner.lock().journal.is_some()
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
        // The publisher of one connection moves on past what it published.
        let next = outbox.peek_after(window[1].id, 5);
        assert_eq!(next.iter().map(|q| q.indication.seq).collect::<Vec<_>>(), vec![3]);
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

    fn seqs(outbox: &Outbox) -> Vec<u64> {
        outbox.peek(usize::MAX).iter().map(|q| q.indication.seq).collect()
    }

    #[test]
    fn on_disk_only_confirmed_events_leave_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::open(dir.path(), 100).expect("open");
        assert!(outbox.on_disk());
        outbox.push_all((1..=10).map(ind).collect());
        let window = outbox.peek(4);
        outbox.confirm(window[3].id);
        drop(outbox);
        // The agent restarts: the six unconfirmed events are still there,
        // in order, and new ones queue behind them.
        let outbox = Outbox::open(dir.path(), 100).expect("reopen");
        assert_eq!(seqs(&outbox), (5..=10).collect::<Vec<_>>());
        outbox.push(ind(11));
        let all = outbox.peek(100);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids keep growing");
        outbox.confirm(all[all.len() - 1].id);
        drop(outbox);
        let outbox = Outbox::open(dir.path(), 100).expect("third open");
        assert!(outbox.is_empty());
    }

    #[test]
    fn on_disk_the_limit_drops_the_oldest_and_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::open(dir.path(), 3).expect("open");
        outbox.push_all((1..=5).map(ind).collect());
        assert_eq!(seqs(&outbox), vec![3, 4, 5]);
        assert_eq!(outbox.dropped(), 2);
        drop(outbox);
        let outbox = Outbox::open(dir.path(), 3).expect("reopen");
        assert_eq!(seqs(&outbox), vec![3, 4, 5], "dropped events stay dropped");
        drop(outbox);
        // A smaller limit on the next start drops the oldest at once.
        let outbox = Outbox::open(dir.path(), 2).expect("reopen smaller");
        assert_eq!(seqs(&outbox), vec![4, 5]);
        assert_eq!(outbox.dropped(), 1);
    }
}
