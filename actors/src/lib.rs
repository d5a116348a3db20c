//! virtbus-actors: the core every adapter stands on.
//!
//! One supervised actix actor per domain, storage pool and network
//! ([`object::ObjectActor`]), a node actor that creates new objects
//! ([`node`]), the event [`bus`], the read [`snapshot`] and the definition
//! [`store`]. [`Core`] is the handle the agent and adapters hold.
//!
//! Data path of a command: adapter → [`Core`] → the object's actor (mailbox:
//! one command at a time per object) → driver call → store write (for
//! definitions) → snapshot publish → reply; then the events go on the bus.
//! Reads (listings, walks, enumerations) go straight to the snapshot.
//!
//! Layout: `core.rs` (the facade and start-up), `object.rs` (the generic
//! supervised actor), `domain.rs` / `pool.rs` / `network.rs` (per-kind
//! commands), `node.rs`, `shared.rs` (state all actors share, the registry),
//! `bus.rs` + `event.rs`, `snapshot.rs`, `stats.rs` (sampled counters), `store.rs`, `system.rs` (the actix
//! threads).
//!
//! Invariants: the core never waits for a subscriber; adapters never call a
//! driver; a panic in one actor restarts that actor only.

pub mod bus;
pub mod core;
pub mod domain;
pub mod event;
pub mod network;
pub mod node;
pub mod object;
pub mod pool;
pub mod shared;
pub mod snapshot;
pub mod stats;
pub mod store;
pub mod system;

pub use crate::core::{adapter_threads, default_workers, Core, CoreConfig, StartReport};
pub use bus::{Bus, Received, Subscription};
pub use domain::{DomainOp, DomainReply};
pub use event::{Event, EventBody};
pub use network::NetworkOp;
pub use pool::{PoolOp, PoolReply};
pub use snapshot::Snapshot;
