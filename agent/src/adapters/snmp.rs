//! The SNMP adapter's settings and start-up (LIBVIRT-MIB agent, crate
//! `virtbus-snmp`; wire contract in docs/snmp.md).

use super::{is_off, AdapterError, AdapterHandle};
use clap::Args;
use serde::Deserialize;
use std::net::{SocketAddr, ToSocketAddrs};
use virtbus_actors::Core;
use virtbus_snmp::{AgentxAddr, SnmpConfig, SnmpServer, TrapVersion, UsmUserConfig};

/// Where the agent listens when nothing is configured (DESIGN.md §4).
const DEFAULT_LISTEN: &str = "udp:127.0.0.1:1161";

/// `virtbus serve` flags of the SNMP adapter.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "snmp_flags")]
#[command(next_help_heading = "SNMP adapter")]
pub struct Flags {
    /// SNMP listen address(es), comma-separated (udp:HOST:PORT, udp6:[::1]:PORT), or `off` [default: udp:127.0.0.1:1161].
    #[arg(id = "snmp_listen", long = "snmp-listen", value_name = "ADDR")]
    pub listen: Option<String>,
    /// SNMP read-only community [default: public].
    #[arg(id = "snmp_community", long = "snmp-community", value_name = "NAME")]
    pub community: Option<String>,
    /// SNMP read-write community; SET stays disabled without one.
    #[arg(id = "snmp_rw_community", long = "snmp-rw-community", value_name = "NAME")]
    pub rw_community: Option<String>,
    /// Where to send SNMP notifications (udp:HOST:PORT); repeatable.
    #[arg(id = "snmp_trap_sink", long = "snmp-trap-sink", value_name = "ADDR")]
    pub trap_sinks: Vec<String>,
    /// Also serve LIBVIRT-MIB as an AgentX subagent of this master (unix:/PATH, /PATH or tcp:HOST:PORT), or `off` [default: off].
    #[arg(id = "snmp_agentx", long = "snmp-agentx", value_name = "ADDR")]
    pub agentx: Option<String>,
}

/// One `[[snmp.users]]` entry: an SNMPv3 user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSection {
    pub name: String,
    pub auth_protocol: String,
    pub auth_password: String,
    pub priv_protocol: Option<String>,
    pub priv_password: Option<String>,
    #[serde(default)]
    pub write: bool,
    pub view: Option<String>,
}

/// The `[snmp]` section of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub listen: Option<String>,
    pub community: Option<String>,
    pub rw_community: Option<String>,
    #[serde(default)]
    pub trap_sinks: Vec<String>,
    pub trap_community: Option<String>,
    /// `v2c` (default) or `v1`: the version of every notification.
    pub trap_version: Option<String>,
    #[serde(default)]
    pub informs: bool,
    /// Milliseconds to wait for an inform's acknowledgement [default: 1000].
    pub inform_timeout_ms: Option<u64>,
    /// Retransmissions of an unacknowledged inform [default: 5].
    pub inform_retries: Option<u32>,
    /// Where the SNMPv3 engine identity persists (a directory).
    pub engine_state_dir: Option<std::path::PathBuf>,
    pub sys_contact: Option<String>,
    pub sys_location: Option<String>,
    pub sys_name: Option<String>,
    #[serde(default)]
    pub users: Vec<UserSection>,
    /// AgentX master to register with (`unix:/PATH`, `tcp:HOST:PORT`).
    pub agentx: Option<String>,
}

/// Effective SNMP settings: flags over file over defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Option<String>,
    pub community: String,
    pub rw_community: Option<String>,
    pub trap_sinks: Vec<String>,
    pub agentx: Option<String>,
    pub file: Section,
}

impl Settings {
    pub fn resolve(flags: &Flags, file: Section) -> Settings {
        let trap_sinks = if flags.trap_sinks.is_empty() {
            file.trap_sinks.clone()
        } else {
            flags.trap_sinks.clone()
        };
        Settings {
            listen: flags.listen.clone().or(file.listen.clone()),
            community: flags
                .community
                .clone()
                .or(file.community.clone())
                .unwrap_or_else(|| "public".into()),
            rw_community: flags.rw_community.clone().or(file.rw_community.clone()),
            trap_sinks,
            agentx: flags.agentx.clone().or(file.agentx.clone()),
            file,
        }
    }

    /// Refuses settings that cannot work before anything starts.
    pub fn check(&self) -> Result<(), AdapterError> {
        self.config().map(|_| ())
    }

    /// The adapter's configuration; `None` when it is off.
    fn config(&self) -> Result<Option<SnmpConfig>, AdapterError> {
        let listen = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let fail = |message: String| AdapterError::Failed {
            adapter: "snmp",
            message,
        };
        let agentx = match self.agentx.as_deref().map(str::trim) {
            None => None,
            Some(text) if is_off(text) => None,
            Some(text) => Some(text.parse::<AgentxAddr>().map_err(|e| fail(e.to_string()))?),
        };
        if is_off(listen) && agentx.is_none() {
            return Ok(None);
        }
        let listen = if is_off(listen) {
            Vec::new()
        } else {
            listen
                .split(',')
                .map(|a| parse_udp(a.trim()).map_err(fail))
                .collect::<Result<Vec<_>, _>>()?
        };
        let trap_sinks = self
            .trap_sinks
            .iter()
            .map(|a| parse_udp(a.trim()).map_err(fail))
            .collect::<Result<Vec<_>, _>>()?;
        let trap_version = match self
            .file
            .trap_version
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("v2c") | Some("2c") | Some("2") => TrapVersion::V2c,
            Some("v1") | Some("1") => TrapVersion::V1,
            Some(other) => return Err(fail(format!("trap_version '{other}': expected \"v1\" or \"v2c\""))),
        };
        if self.file.informs && trap_version == TrapVersion::V1 {
            return Err(fail(
                "informs = true needs trap_version = \"v2c\" (SNMPv1 has no inform)".into(),
            ));
        }
        if self.community.is_empty() {
            return Err(fail("the read-only community must not be empty".into()));
        }
        let users = self
            .file
            .users
            .iter()
            .map(|u| UsmUserConfig {
                name: u.name.clone(),
                auth_protocol: u.auth_protocol.clone(),
                auth_password: u.auth_password.clone(),
                priv_protocol: u.priv_protocol.clone(),
                priv_password: u.priv_password.clone(),
                write: u.write,
                view: u.view.clone(),
            })
            .collect();
        Ok(Some(SnmpConfig {
            listen,
            community: self.community.clone(),
            rw_community: self.rw_community.clone().filter(|c| !c.is_empty()),
            trap_sinks,
            trap_community: self
                .file
                .trap_community
                .clone()
                .unwrap_or_else(|| self.community.clone()),
            trap_version,
            informs: self.file.informs,
            inform_timeout: self
                .file
                .inform_timeout_ms
                .map(std::time::Duration::from_millis)
                .unwrap_or(virtbus_snmp::config::DEFAULT_INFORM_TIMEOUT),
            inform_retries: self
                .file
                .inform_retries
                .unwrap_or(virtbus_snmp::config::DEFAULT_INFORM_RETRIES),
            state_dir: self.file.engine_state_dir.clone(),
            sys_contact: self.file.sys_contact.clone().unwrap_or_default(),
            sys_location: self.file.sys_location.clone().unwrap_or_default(),
            sys_name: self.file.sys_name.clone().unwrap_or_default(),
            users,
            agentx,
        }))
    }
}

/// `udp:HOST:PORT`, `udp6:[ADDR]:PORT` or plain `HOST:PORT`.
fn parse_udp(text: &str) -> Result<SocketAddr, String> {
    let bare = text
        .strip_prefix("udp6:")
        .or_else(|| text.strip_prefix("udp:"))
        .unwrap_or(text);
    bare.to_socket_addrs()
        .map_err(|e| format!("address '{text}': {e}"))?
        .next()
        .ok_or_else(|| format!("address '{text}' resolves to nothing"))
}

/// Starts the adapter; `Ok(None)` when it is off.
pub async fn start(core: &Core, settings: &Settings) -> Result<Option<AdapterHandle>, AdapterError> {
    let Some(mut config) = settings.config()? else {
        tracing::info!(adapter = "snmp", "snmp: off");
        return Ok(None);
    };
    // The engine id and boots counter live beside the core's state unless
    // the configuration names another place.
    if config.state_dir.is_none() {
        config.state_dir = core.state_dir().map(|dir| dir.join("snmp"));
    }
    let explicit = settings.listen.is_some();
    let fallback = config.agentx.is_some().then(|| SnmpConfig {
        listen: Vec::new(),
        ..config.clone()
    });
    let server = match SnmpServer::start(core, config).await {
        Ok(server) => server,
        // The default address is a convenience: when something else holds it
        // (another agent, a parallel test), run without the native agent
        // rather than fail (the AgentX subagent, if configured, still runs).
        Err(err @ virtbus_snmp::SnmpError::Bind { .. }) if !explicit => {
            tracing::warn!(adapter = "snmp", error = %err, "snmp: default address unavailable; native agent off");
            match fallback {
                Some(config) => SnmpServer::start(core, config)
                    .await
                    .map_err(|err| AdapterError::Failed {
                        adapter: "snmp",
                        message: err.to_string(),
                    })?,
                None => return Ok(None),
            }
        }
        Err(err) => {
            return Err(AdapterError::Failed {
                adapter: "snmp",
                message: err.to_string(),
            })
        }
    };
    for (addr, agent) in server.local_addrs().into_iter().zip(server.agent_addrs()) {
        if addr == agent {
            tracing::info!(adapter = "snmp", %addr, "snmp: listening on udp:{addr}");
        } else {
            tracing::info!(adapter = "snmp", %addr, %agent,
                "snmp: listening on udp:{addr} (requests it does not answer itself go to the full agent on udp:{agent})");
        }
    }
    if let Some(master) = settings.config()?.and_then(|c| c.agentx) {
        tracing::info!(adapter = "snmp", %master, "snmp: agentx subagent of {master}");
    }
    let cancel = server.cancellation_token();
    let task = tokio::spawn(server.wait());
    Ok(Some(AdapterHandle {
        name: "snmp",
        task,
        stop: Some(Box::new(move || cancel.cancel())),
    }))
}
