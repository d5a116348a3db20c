//! Events as the bus carries them: every change, stamped with `seq`, `epoch`
//! and a timestamp so consumers can detect gaps and duplicates.

use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_drivers::DomainRecord;
use virtbus_schemas::lifecycle::{DomainEventType, NetworkEventType, PoolEventType};

/// One published event. `seq` grows by one per event within an agent run;
/// `epoch` changes at every agent start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub seq: u64,
    pub epoch: u64,
    /// Nanoseconds since the Unix epoch; a JSON integer (may exceed 2^53).
    pub timestamp_ns: u64,
    /// RFC 3339 rendering of `timestamp_ns`, for people and log tools.
    pub time: String,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened, per kind of object. JSON: `{"kind":"domain",...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    Domain {
        uuid: Uuid,
        name: String,
        event: DomainEventType,
        /// libvirt's detail name for `event` (`BOOTED`).
        detail: &'static str,
        /// libvirt's detail number.
        detail_code: i32,
        /// The domain as the snapshot had it right after the change this
        /// event reports (`None`: gone), and right before it. Shared with
        /// the snapshot (no copy), so consumers that run behind the bus
        /// still see the domain as of this event; not serialised. When one
        /// driver call reports several events, they share the call's pair.
        #[serde(skip)]
        record: Option<Arc<DomainRecord>>,
        #[serde(skip)]
        previous: Option<Arc<DomainRecord>>,
    },
    Pool {
        uuid: Uuid,
        name: String,
        event: PoolEventType,
    },
    Network {
        uuid: Uuid,
        name: String,
        event: NetworkEventType,
    },
}
