//! Logs: tracing to stderr, level from `RUST_LOG` (default `info`), as text
//! or JSON lines. Beside the log output sits the SNMP adapter's counting
//! layer for snmpInBadCommunityNames (it prints nothing; see
//! `virtbus_snmp::snmp_group`). The level filter belongs to the log output
//! alone, so it does not hide from that layer the one event it counts.

use crate::cli::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let output: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => output.boxed(),
        LogFormat::Json => output.json().boxed(),
    };
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(virtbus_snmp::bad_community_layer())
        .try_init();
}
