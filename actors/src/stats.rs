//! Sampled domain statistics with a freshness bound.
//!
//! Adapters that show counters (SNMP's CpuTime, CIM metrics, QMF stats) ask
//! [`Core::stats`](crate::Core::stats) with the age they can accept; a sample
//! that is fresh enough comes from this cache, an older one is re-sampled
//! through the domain's actor (so it stays serialised with commands).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;
use virtbus_drivers::DomainStats;

/// The freshness bound adapters use unless they have a reason not to.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct StatsCache {
    entries: Mutex<HashMap<Uuid, (Instant, Arc<DomainStats>)>>,
}

impl StatsCache {
    pub fn get(&self, uuid: Uuid, max_age: Duration) -> Option<Arc<DomainStats>> {
        let entries = self.entries.lock();
        let (at, stats) = entries.get(&uuid)?;
        (at.elapsed() <= max_age).then(|| stats.clone())
    }

    pub fn put(&self, uuid: Uuid, stats: DomainStats) -> Arc<DomainStats> {
        let stats = Arc::new(stats);
        self.entries.lock().insert(uuid, (Instant::now(), stats.clone()));
        stats
    }

    /// Drops every sample of `uuid` (a state change makes it stale).
    pub fn forget(&self, uuid: Uuid) {
        self.entries.lock().remove(&uuid);
    }
}
