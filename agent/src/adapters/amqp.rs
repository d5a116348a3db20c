//! The AMQP adapter's settings and start-up (QMF over RabbitMQ).

use super::{is_off, AdapterError, AdapterHandle};
use clap::Args;
use serde::Deserialize;
use virtbus_actors::Core;

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
}

/// Effective AMQP settings. The URL may hold a password: never log it.
#[derive(Clone)]
pub struct Settings {
    pub url: Option<String>,
    pub agent_name: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("agent_name", &self.agent_name)
            .finish()
    }
}

impl Settings {
    pub fn resolve(flags: &Flags, file: Section) -> Settings {
        Settings {
            url: flags.url.clone().or(file.url),
            agent_name: flags.agent_name.clone().or(file.agent_name),
        }
    }

    pub fn check(&self) -> Result<(), AdapterError> {
        match &self.url {
            // The URL may carry a password, so it is not echoed back.
            Some(value) if !is_off(value) => Err(AdapterError::NotBuilt {
                adapter: "the AMQP adapter",
                setting: "amqp url",
                value: "<set>".into(),
            }),
            _ => Ok(()),
        }
    }
}

/// Starts the adapter; `Ok(None)` when it is off.
pub async fn start(_core: &Core, settings: &Settings) -> Result<Option<AdapterHandle>, AdapterError> {
    settings.check()?;
    tracing::info!(adapter = "amqp", "amqp: off (not built yet in this version)");
    Ok(None)
}
