//! virtbus-amqp: the AMQP adapter. A QMFv2 agent (locate, heartbeats,
//! queries, methods) on RabbitMQ's AMQP 0-9-1 with JSON bodies, plus every
//! bus event as a QMF data indication. The wire contract is docs/amqp.md.
//!
//! Layout: `qmf/` is the protocol logic without I/O — `wire.rs` (opcodes,
//! headers, request decoding), `predicate.rs` (`_where`), `model.rs`
//! (classes, schemas, object values), `query.rs`, `method.rs`, `event.rs`
//! (indications), `error.rs` (`_exception` codes). `outbox.rs` holds events
//! until the broker confirms them; `session.rs` owns the connection,
//! reconnects with backoff and replays the outbox.
//!
//! Invariants: the adapter subscribes to the bus before it connects, so no
//! event is missed while the broker is away; an event leaves the outbox only
//! after a publisher confirm; requests are acked after their reply was
//! published.

pub mod outbox;
pub mod qmf;
pub mod session;

use std::sync::Arc;
use virtbus_actors::{Core, Received};

/// How to run the adapter.
#[derive(Clone)]
pub struct AmqpConfig {
    /// Broker URL; may hold a password, never logged.
    pub url: String,
    /// Instance part of the agent name.
    pub instance: String,
    pub heartbeat_interval_s: u64,
    /// Broker users allowed to call mutating methods.
    pub writers: Vec<String>,
    /// Unconfirmed events kept before the oldest are dropped.
    pub outbox_limit: usize,
}

impl std::fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &"<redacted>")
            .field("instance", &self.instance)
            .field("heartbeat_interval_s", &self.heartbeat_interval_s)
            .field("writers", &self.writers)
            .field("outbox_limit", &self.outbox_limit)
            .finish()
    }
}

pub const DEFAULT_HEARTBEAT_INTERVAL_S: u64 = 10;
pub const DEFAULT_OUTBOX_LIMIT: usize = 1_000_000;

/// Why the adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("amqp url must start with amqp:// or amqps://")]
    BadUrl,
    #[error("agent name instance '{0}' must not be empty or contain ':'")]
    BadInstance(String),
}

/// The running adapter.
pub struct AmqpAdapter {
    pub agent_name: String,
    pub task: tokio::task::JoinHandle<()>,
    pub outbox: Arc<outbox::Outbox>,
}

/// Starts the adapter on the current tokio runtime. The broker may be down:
/// the adapter keeps retrying and queues events meanwhile.
pub fn start(core: &Core, config: AmqpConfig) -> Result<AmqpAdapter, StartError> {
    if !(config.url.starts_with("amqp://") || config.url.starts_with("amqps://")) {
        return Err(StartError::BadUrl);
    }
    if config.instance.is_empty() || config.instance.contains(':') {
        return Err(StartError::BadInstance(config.instance));
    }
    let agent = qmf::Agent::new(
        core.clone(),
        config.instance.clone(),
        config.writers.clone(),
        config.heartbeat_interval_s,
    );
    let agent_name = agent.name().to_string();
    let outbox = Arc::new(outbox::Outbox::new(config.outbox_limit));

    // Subscribe before connecting: events that happen while the broker is
    // unreachable wait in the outbox.
    let mut subscription = core.subscribe();
    let feeder_agent = agent.clone();
    let feeder_outbox = outbox.clone();
    let shared = Arc::new(session::Shared::new(agent, config.url, outbox.clone()));
    let task = tokio::spawn(async move {
        let feeder = async move {
            loop {
                match subscription.recv().await {
                    Received::Event(event) => feeder_outbox.push(feeder_agent.indication(&event)),
                    Received::Lagged(n) => tracing::error!(
                        adapter = "amqp",
                        missed = n,
                        "amqp: fell behind the event bus; events lost (gap in seq)"
                    ),
                    Received::Closed => break,
                }
            }
        };
        tokio::select! {
            _ = feeder => {},
            _ = session::run(shared) => {},
        }
    });
    Ok(AmqpAdapter {
        agent_name,
        task,
        outbox,
    })
}
