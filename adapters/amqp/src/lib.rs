//! virtbus-amqp: the AMQP adapter. A QMFv2 agent (locate, heartbeats,
//! queries, methods) on RabbitMQ's AMQP 0-9-1 with JSON bodies, plus every
//! bus event as a QMF data indication. The wire contract is docs/amqp.md.
//!
//! Layout: `qmf/` is the protocol logic without I/O — `wire.rs` (opcodes,
//! headers, request decoding), `predicate.rs` (`_where`), `model.rs`
//! (classes, schemas, object values), `query.rs`, `method.rs`, `event.rs`
//! (indications), `error.rs` (`_exception` codes). `outbox/` holds events
//! until the broker confirms them, in memory and (with a state dir) on disk
//! (`outbox/journal.rs`); `session.rs` owns the connection, reconnects with
//! backoff and replays the outbox. `console.rs` is the other side: a QMF
//! console (locate, query, call, tail) for `virtbus console` and examples.
//!
//! Invariants: the adapter subscribes to the bus before it connects, so no
//! event is missed while the broker is away; an event leaves the outbox only
//! after a publisher confirm; requests are acked after their reply was
//! published.

pub mod console;
pub mod outbox;
pub mod qmf;
pub mod session;

use std::path::PathBuf;
use std::sync::Arc;
use virtbus_actors::{Core, Received, Subscription};

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
    /// A PEM file of CA certificates trusted for `amqps://` in addition to
    /// the system roots.
    pub tls_ca_file: Option<PathBuf>,
    /// Where the outbox lives on disk (`STATE_DIR/amqp/outbox`); memory
    /// only when None.
    pub outbox_dir: Option<PathBuf>,
}

impl std::fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &"<redacted>")
            .field("instance", &self.instance)
            .field("heartbeat_interval_s", &self.heartbeat_interval_s)
            .field("writers", &self.writers)
            .field("outbox_limit", &self.outbox_limit)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("outbox_dir", &self.outbox_dir)
            .finish()
    }
}

pub const DEFAULT_HEARTBEAT_INTERVAL_S: u64 = 10;
pub const DEFAULT_OUTBOX_LIMIT: usize = 100_000;
/// Events the feeder moves from the bus to the outbox in one write.
const FEED_BATCH: usize = 4096;

/// Why the adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("amqp url must start with amqp:// or amqps://")]
    BadUrl,
    #[error("agent name instance '{0}' must not be empty or contain ':'")]
    BadInstance(String),
    #[error("cannot read tls_ca_file {path}: {source}")]
    TlsCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tls_ca_file {0} holds no PEM certificate")]
    TlsCaEmpty(PathBuf),
    #[error("cannot open the event outbox: {0}")]
    Outbox(#[from] outbox::journal::JournalError),
    #[error("cannot start the event feeder thread: {0}")]
    Thread(std::io::Error),
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
    let tls_ca = match &config.tls_ca_file {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|source| StartError::TlsCa {
                path: path.clone(),
                source,
            })?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(StartError::TlsCaEmpty(path.clone()));
            }
            Some(pem)
        }
        None => None,
    };
    let agent = qmf::Agent::new(
        core.clone(),
        config.instance.clone(),
        config.writers.clone(),
        config.heartbeat_interval_s,
    );
    let agent_name = agent.name().to_string();
    let outbox = Arc::new(match &config.outbox_dir {
        Some(dir) => outbox::Outbox::open(dir, config.outbox_limit)?,
        None => outbox::Outbox::new(config.outbox_limit),
    });

    // Subscribe before connecting: events that happen while the broker is
    // unreachable wait in the outbox. The feeder is a thread of its own
    // because it writes and syncs the outbox file.
    let subscription = core.subscribe();
    let feeder_agent = agent.clone();
    let feeder_outbox = outbox.clone();
    std::thread::Builder::new()
        .name("amqp-outbox".into())
        .spawn(move || feed(subscription, &feeder_agent, &feeder_outbox))
        .map_err(StartError::Thread)?;
    let shared = Arc::new(session::Shared::new(agent, config.url, tls_ca, outbox.clone()));
    let task = tokio::spawn(session::run(shared));
    Ok(AmqpAdapter {
        agent_name,
        task,
        outbox,
    })
}

/// Moves bus events into the outbox, in batches of what has piled up,
/// until the bus closes.
fn feed(mut subscription: Subscription, agent: &qmf::Agent, outbox: &outbox::Outbox) {
    loop {
        let mut batch = Vec::new();
        let mut received = Some(futures::executor::block_on(subscription.recv()));
        while let Some(next) = received {
            match next {
                Received::Event(event) => batch.push(agent.indication(&event)),
                Received::Lagged(n) => tracing::error!(
                    adapter = "amqp",
                    missed = n,
                    "amqp: fell behind the event bus; events lost (gap in seq)"
                ),
                Received::Closed => {
                    outbox.push_all(batch);
                    return;
                }
            }
            received = if batch.len() < FEED_BATCH {
                subscription.try_recv()
            } else {
                None
            };
        }
        outbox.push_all(batch);
    }
}
