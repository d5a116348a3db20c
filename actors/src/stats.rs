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

/// One domain's cached sample and its generation: [`StatsCache::forget`]
/// bumps the generation, so a sample taken outside the domain's actor
/// before a state change cannot be stored after it
/// ([`StatsCache::put_if_generation`]).
#[derive(Default)]
struct Entry {
    sample: Option<(Instant, Arc<DomainStats>)>,
    generation: u64,
}

#[derive(Default)]
pub struct StatsCache {
    entries: Mutex<HashMap<Uuid, Entry>>,
}

impl StatsCache {
    pub fn get(&self, uuid: Uuid, max_age: Duration) -> Option<Arc<DomainStats>> {
        let entries = self.entries.lock();
        let (at, stats) = entries.get(&uuid)?.sample.as_ref()?;
        (at.elapsed() <= max_age).then(|| stats.clone())
    }

    pub fn put(&self, uuid: Uuid, stats: DomainStats) -> Arc<DomainStats> {
        let stats = Arc::new(stats);
        self.entries.lock().entry(uuid).or_default().sample = Some((Instant::now(), stats.clone()));
        stats
    }

    /// The generation of `uuid`'s entry, to hand to
    /// [`StatsCache::put_if_generation`] with a sample taken afterwards.
    pub fn generation(&self, uuid: Uuid) -> u64 {
        self.entries.lock().get(&uuid).map_or(0, |e| e.generation)
    }

    /// Stores a sample taken after [`StatsCache::generation`] returned
    /// `generation`, unless the domain changed state since (then the sample
    /// may describe the old state and is dropped). Whether it was stored.
    pub fn put_if_generation(&self, uuid: Uuid, generation: u64, stats: DomainStats) -> bool {
        let mut entries = self.entries.lock();
        let entry = entries.entry(uuid).or_default();
        if entry.generation != generation {
            return false;
        }
        entry.sample = Some((Instant::now(), Arc::new(stats)));
        true
    }

    /// Drops every sample of `uuid` (a state change makes it stale).
    pub fn forget(&self, uuid: Uuid) {
        let mut entries = self.entries.lock();
        let entry = entries.entry(uuid).or_default();
        entry.sample = None;
        entry.generation = entry.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_taken_across_a_state_change_is_dropped() {
        let cache = StatsCache::default();
        let uuid = Uuid::from_u128(7);
        let before = cache.generation(uuid);
        assert!(cache.put_if_generation(uuid, before, DomainStats::default()));
        assert!(cache.get(uuid, Duration::from_secs(60)).is_some());
        let taken_at = cache.generation(uuid);
        cache.forget(uuid);
        assert!(cache.get(uuid, Duration::from_secs(60)).is_none());
        assert!(!cache.put_if_generation(uuid, taken_at, DomainStats::default()));
        assert!(
            cache.get(uuid, Duration::from_secs(60)).is_none(),
            "stale sample not stored"
        );
        // The actor's own samples (serialised with its commands) always count.
        cache.put(uuid, DomainStats::default());
        assert!(cache.get(uuid, Duration::from_secs(60)).is_some());
    }
}
