//! The CIM adapter's settings and start-up (CIM-XML/WBEM server, see
//! docs/cim.md).

use super::{is_off, AdapterError, AdapterHandle};
use clap::Args;
use serde::Deserialize;
use std::net::{SocketAddr, ToSocketAddrs};
use virtbus_actors::Core;

const DEFAULT_LISTEN: &str = "127.0.0.1:5988";

/// `virtbus serve` flags of the CIM adapter.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "cim_flags")]
#[command(next_help_heading = "CIM adapter")]
pub struct Flags {
    /// CIM-XML (HTTP) listen address HOST:PORT, or `off` [default: 127.0.0.1:5988].
    #[arg(id = "cim_listen", long = "cim-listen", value_name = "ADDR")]
    pub listen: Option<String>,
}

/// One `[[cim.users]]` entry: HTTP Basic credentials with a SHA-512 crypt
/// password hash (`mkpasswd -m sha-512`, `openssl passwd -6`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    pub password_hash: String,
}

/// The `[cim]` section of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub listen: Option<String>,
    /// Largest request body in bytes [default: 16 MiB].
    pub max_body: Option<usize>,
    #[serde(default)]
    pub users: Vec<UserEntry>,
}

/// Effective CIM settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Option<String>,
    pub file: Section,
}

fn parse_addr(text: &str) -> Result<SocketAddr, AdapterError> {
    let failed = |message: String| AdapterError::Failed {
        adapter: "cim",
        message,
    };
    text.to_socket_addrs()
        .map_err(|e| failed(format!("cim listen address '{text}': {e}")))?
        .next()
        .ok_or_else(|| failed(format!("cim listen address '{text}' resolves to nothing")))
}

impl Settings {
    pub fn resolve(flags: &Flags, file: Section) -> Settings {
        Settings {
            listen: flags.listen.clone().or(file.listen.clone()),
            file,
        }
    }

    /// The server configuration; `None` when the adapter is off.
    pub fn config(&self) -> Result<Option<virtbus_cim::ServerConfig>, AdapterError> {
        let listen = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        if is_off(listen) {
            return Ok(None);
        }
        let mut config = virtbus_cim::ServerConfig::new(parse_addr(listen)?);
        if let Some(max) = self.file.max_body {
            config.max_body = max;
        }
        config.users = self
            .file
            .users
            .iter()
            .map(|u| virtbus_cim::User {
                name: u.name.clone(),
                password_hash: u.password_hash.clone(),
            })
            .collect();
        for user in &config.users {
            user.check().map_err(|e| AdapterError::Failed {
                adapter: "cim",
                message: e.to_string(),
            })?;
        }
        if !config.listen.ip().is_loopback() && config.users.is_empty() {
            return Err(AdapterError::Failed {
                adapter: "cim",
                message: format!(
                    "listener {} is not on loopback: configure [[cim.users]] (HTTP Basic auth is required off loopback)",
                    config.listen
                ),
            });
        }
        Ok(Some(config))
    }

    pub fn check(&self) -> Result<(), AdapterError> {
        self.config().map(|_| ())
    }
}

/// Starts the adapter; `Ok(None)` when it is off.
pub async fn start(core: &Core, settings: &Settings) -> Result<Option<AdapterHandle>, AdapterError> {
    let Some(config) = settings.config()? else {
        tracing::info!(adapter = "cim", "cim: off");
        return Ok(None);
    };
    let explicit = settings.listen.is_some();
    let engine = virtbus_cim::Engine::new(core.clone());
    let server = match virtbus_cim::start(engine, config).await {
        Ok(server) => server,
        // The default address is a convenience: when something else holds it
        // (another agent, a parallel test), run without CIM rather than fail.
        Err(err @ virtbus_cim::StartError::Bind { .. }) if !explicit => {
            tracing::warn!(adapter = "cim", error = %err, "cim: default address unavailable; cim off");
            return Ok(None);
        }
        Err(err) => {
            return Err(AdapterError::Failed {
                adapter: "cim",
                message: err.to_string(),
            })
        }
    };
    tracing::info!(adapter = "cim", addr = %server.local_addr, "cim: listening on http://{}/cimom", server.local_addr);
    Ok(Some(AdapterHandle {
        name: "cim",
        task: server.task,
        stop: None,
    }))
}
