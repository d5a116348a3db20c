//! The CIM adapter's settings and start-up (CIM-XML/WBEM server, see
//! docs/cim.md).

use super::{is_off, AdapterError, AdapterHandle};
use clap::Args;
use serde::Deserialize;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
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
    /// HTTPS listen address HOST:PORT [default: off]; needs `tls_cert` and `tls_key`.
    pub https_listen: Option<String>,
    /// PEM certificate chain of the HTTPS listener.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the HTTPS listener.
    pub tls_key: Option<PathBuf>,
    /// Largest request body in bytes [default: 16 MiB].
    pub max_body: Option<usize>,
    /// PEM CA certificate(s) trusted for https:// indication listeners, in
    /// addition to the system's CA store.
    pub listener_ca_file: Option<PathBuf>,
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

    /// The HTTP listener's configuration; `None` when it is off.
    pub fn config(&self) -> Result<Option<virtbus_cim::ServerConfig>, AdapterError> {
        let listen = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        if is_off(listen) {
            return Ok(None);
        }
        self.listener(listen, None).map(Some)
    }

    /// The HTTPS listener's configuration; `None` when it is off.
    pub fn https_config(&self) -> Result<Option<virtbus_cim::ServerConfig>, AdapterError> {
        let failed = |message: String| AdapterError::Failed {
            adapter: "cim",
            message,
        };
        let listen = match self.file.https_listen.as_deref() {
            None => return Ok(None),
            Some(listen) if is_off(listen) => return Ok(None),
            Some(listen) => listen,
        };
        let (Some(cert), Some(key)) = (&self.file.tls_cert, &self.file.tls_key) else {
            return Err(failed(format!(
                "https_listen = '{listen}' needs tls_cert and tls_key (PEM files) in [cim]"
            )));
        };
        let tls = virtbus_cim::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        // Read the files now, so a bad certificate stops the agent at start.
        virtbus_cim::tls_acceptor(&tls).map_err(|e| failed(e.to_string()))?;
        self.listener(listen, Some(tls)).map(Some)
    }

    fn listener(
        &self,
        listen: &str,
        tls: Option<virtbus_cim::TlsFiles>,
    ) -> Result<virtbus_cim::ServerConfig, AdapterError> {
        let mut config = virtbus_cim::ServerConfig::new(parse_addr(listen)?);
        config.tls = tls;
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
        Ok(config)
    }

    /// The indication delivery's TLS trust: the system store plus `listener_ca_file`.
    pub fn listener_tls(&self) -> Result<virtbus_cim::ListenerTls, AdapterError> {
        let tls = virtbus_cim::ListenerTls::default();
        match &self.file.listener_ca_file {
            None => Ok(tls),
            Some(file) => tls.with_ca_file(file).map_err(|e| AdapterError::Failed {
                adapter: "cim",
                message: e.to_string(),
            }),
        }
    }

    pub fn check(&self) -> Result<(), AdapterError> {
        self.config()?;
        self.listener_tls()?;
        self.https_config().map(|_| ())
    }
}

/// Starts the adapter (HTTP and/or HTTPS listeners sharing one engine);
/// `Ok(None)` when both are off.
pub async fn start(
    core: &Core,
    settings: &Settings,
    state_dir: &std::path::Path,
) -> Result<Option<AdapterHandle>, AdapterError> {
    let failed = |err: virtbus_cim::StartError| AdapterError::Failed {
        adapter: "cim",
        message: err.to_string(),
    };
    let http = settings.config()?;
    let https = settings.https_config()?;
    if http.is_none() && https.is_none() {
        tracing::info!(adapter = "cim", "cim: off");
        return Ok(None);
    }
    // Indication subscriptions outlive agent restarts (docs/cim.md).
    let mut engine =
        virtbus_cim::Engine::new(core.clone()).with_subscriptions_file(state_dir.join("cim/subscriptions.xml"));
    engine.listener_tls = settings.listener_tls()?;
    let engine = Arc::new(engine);
    let mut tasks = Vec::new();
    if let Some(config) = http {
        let explicit = settings.listen.is_some();
        match virtbus_cim::start(engine.clone(), config).await {
            Ok(server) => {
                tracing::info!(adapter = "cim", addr = %server.local_addr, "cim: listening on http://{}/cimom", server.local_addr);
                tasks.push(server.task);
            }
            // The default address is a convenience: when something else holds it
            // (another agent, a parallel test), run without it rather than fail.
            Err(err @ virtbus_cim::StartError::Bind { .. }) if !explicit => {
                tracing::warn!(adapter = "cim", error = %err, "cim: default address unavailable; cim http off");
            }
            Err(err) => return Err(failed(err)),
        }
    }
    if let Some(config) = https {
        let server = virtbus_cim::start(engine.clone(), config).await.map_err(failed)?;
        tracing::info!(adapter = "cim", addr = %server.local_addr, "cim: listening on https://{}/cimom", server.local_addr);
        tasks.push(server.task);
    }
    if tasks.is_empty() {
        return Ok(None);
    }
    let task = tokio::spawn(async move {
        let _aborts: Vec<AbortOnDrop> = tasks.iter().map(|t| AbortOnDrop(t.abort_handle())).collect();
        for task in tasks {
            let _ = task.await;
        }
    });
    Ok(Some(AdapterHandle {
        name: "cim",
        task,
        stop: None,
    }))
}

/// Aborts the listener tasks when the adapter's task is aborted at shutdown.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
