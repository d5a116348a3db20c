//! The AMQP adapter's settings and start-up (QMF over RabbitMQ, see
//! docs/amqp.md).

use super::{is_off, AdapterError, AdapterHandle};
use clap::Args;
use serde::Deserialize;
use virtbus_actors::Core;
use virtbus_amqp::{AmqpConfig, DEFAULT_HEARTBEAT_INTERVAL_S, DEFAULT_OUTBOX_LIMIT};

/// `virtbus serve` flags of the AMQP adapter.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "amqp_flags")]
#[command(next_help_heading = "AMQP adapter")]
pub struct Flags {
    /// AMQP broker URL (amqp://user:pass@host:port/vhost); AMQP stays off without one.
    #[arg(
        long = "amqp-url",
        value_name = "URL",
        env = "VIRTBUS_AMQP_URL",
        hide_env_values = true
    )]
    pub url: Option<String>,
    /// Instance part of the QMF agent name [default: the host name].
    #[arg(id = "agent_name", long = "agent-name", value_name = "NAME")]
    pub agent_name: Option<String>,
}

/// The `[amqp]` section of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub url: Option<String>,
    pub agent_name: Option<String>,
    /// Seconds between QMF heartbeats.
    pub heartbeat_interval: Option<u64>,
    /// Broker users (AMQP `user_id`) allowed to call mutating methods.
    pub writers: Option<Vec<String>>,
    /// Unconfirmed events kept before the oldest are dropped.
    pub outbox_limit: Option<usize>,
    /// PEM CA certificates trusted for amqps:// besides the system roots.
    pub tls_ca_file: Option<std::path::PathBuf>,
}

/// Effective AMQP settings. The URL may hold a password: never log it.
#[derive(Clone)]
pub struct Settings {
    pub url: Option<String>,
    pub agent_name: Option<String>,
    pub heartbeat_interval: u64,
    pub writers: Vec<String>,
    pub outbox_limit: usize,
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("agent_name", &self.agent_name)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("writers", &self.writers)
            .field("outbox_limit", &self.outbox_limit)
            .field("tls_ca_file", &self.tls_ca_file)
            .finish()
    }
}

impl Settings {
    pub fn resolve(flags: &Flags, file: Section) -> Settings {
        Settings {
            url: flags.url.clone().or(file.url),
            agent_name: flags.agent_name.clone().or(file.agent_name),
            heartbeat_interval: file.heartbeat_interval.unwrap_or(DEFAULT_HEARTBEAT_INTERVAL_S),
            writers: file.writers.unwrap_or_default(),
            outbox_limit: file.outbox_limit.unwrap_or(DEFAULT_OUTBOX_LIMIT),
            tls_ca_file: file.tls_ca_file,
        }
    }

    fn enabled_url(&self) -> Option<&str> {
        self.url.as_deref().filter(|u| !is_off(u))
    }

    pub fn check(&self) -> Result<(), AdapterError> {
        let failed = |message: &str| AdapterError::Failed {
            adapter: "amqp",
            message: message.into(),
        };
        if let Some(url) = self.enabled_url() {
            // The URL may carry a password, so it is not echoed back.
            if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
                return Err(failed("amqp url must start with amqp:// or amqps://"));
            }
            if self.heartbeat_interval == 0 {
                return Err(failed("heartbeat_interval must be at least 1 second"));
            }
            if let Some(name) = &self.agent_name {
                if name.is_empty() || name.contains(':') {
                    return Err(failed("agent name must not be empty or contain ':'"));
                }
            }
        }
        Ok(())
    }
}

/// Starts the adapter; `Ok(None)` when it is off.
pub async fn start(core: &Core, settings: &Settings) -> Result<Option<AdapterHandle>, AdapterError> {
    settings.check()?;
    let Some(url) = settings.enabled_url() else {
        tracing::info!(adapter = "amqp", "amqp: off");
        return Ok(None);
    };
    let instance = match &settings.agent_name {
        Some(name) => name.clone(),
        None => core.hostname().unwrap_or_else(|_| "localhost".into()),
    };
    let config = AmqpConfig {
        url: url.to_string(),
        instance,
        heartbeat_interval_s: settings.heartbeat_interval,
        writers: settings.writers.clone(),
        outbox_limit: settings.outbox_limit,
        tls_ca_file: settings.tls_ca_file.clone(),
        outbox_dir: core.state_dir().map(|dir| dir.join("amqp").join("outbox")),
    };
    let adapter = virtbus_amqp::start(core, config).map_err(|err| AdapterError::Failed {
        adapter: "amqp",
        message: err.to_string(),
    })?;
    tracing::info!(
        adapter = "amqp",
        agent = %adapter.agent_name,
        "amqp: QMF agent {} (connecting to the broker)",
        adapter.agent_name
    );
    Ok(Some(AdapterHandle {
        name: "amqp",
        task: adapter.task,
        stop: None,
    }))
}
