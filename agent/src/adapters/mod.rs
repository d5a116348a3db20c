//! Protocol adapters as `virtbus serve` wires them: each module owns its
//! flags ([`clap::Args`], flattened into `serve`), its section of the TOML
//! file, the merged settings, and `start`, which turns them into a running
//! adapter on the [`Core`](virtbus_actors::Core).
//!
//! One file per adapter keeps their settings apart: adding an option to one
//! adapter touches only its module (and `examples/virtbus.toml`).

pub mod amqp;
pub mod cim;
pub mod snmp;

/// A running adapter: stopped by aborting its task at shutdown (adapters
/// that need a graceful stop give `stop` a function).
pub struct AdapterHandle {
    pub name: &'static str,
    pub task: tokio::task::JoinHandle<()>,
    pub stop: Option<Box<dyn FnOnce() + Send>>,
}

/// Why an adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("{adapter} is not built yet in this version of virtbus ({setting} = '{value}'); set it to 'off' or leave it out")]
    NotBuilt {
        adapter: &'static str,
        setting: &'static str,
        value: String,
    },
    #[error("{adapter}: {message}")]
    Failed { adapter: &'static str, message: String },
}

/// `off` (or empty) turns an adapter off.
pub fn is_off(value: &str) -> bool {
    value.is_empty() || value == "off"
}
