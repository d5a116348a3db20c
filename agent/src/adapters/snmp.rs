//! The SNMP adapter's settings and start-up (LIBVIRT-MIB agent).

use super::{is_off, AdapterError, AdapterHandle};
use clap::Args;
use serde::Deserialize;
use virtbus_actors::Core;

/// `virtbus serve` flags of the SNMP adapter.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "snmp_flags")]
#[command(next_help_heading = "SNMP adapter")]
pub struct Flags {
    /// SNMP listen address (udp:HOST:PORT), or `off` [default: off until the SNMP adapter is built].
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
}

/// Effective SNMP settings: flags over file over defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Option<String>,
    pub community: String,
    pub rw_community: Option<String>,
    pub trap_sinks: Vec<String>,
}

impl Settings {
    pub fn resolve(flags: &Flags, file: Section) -> Settings {
        let trap_sinks = if flags.trap_sinks.is_empty() {
            file.trap_sinks
        } else {
            flags.trap_sinks.clone()
        };
        Settings {
            listen: flags.listen.clone().or(file.listen),
            community: flags
                .community
                .clone()
                .or(file.community)
                .unwrap_or_else(|| "public".into()),
            rw_community: flags.rw_community.clone().or(file.rw_community),
            trap_sinks,
        }
    }

    /// Refuses settings that ask for the adapter before it exists.
    pub fn check(&self) -> Result<(), AdapterError> {
        match &self.listen {
            Some(value) if !is_off(value) => Err(AdapterError::NotBuilt {
                adapter: "the SNMP adapter",
                setting: "snmp listen",
                value: value.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// Starts the adapter; `Ok(None)` when it is off.
pub async fn start(_core: &Core, settings: &Settings) -> Result<Option<AdapterHandle>, AdapterError> {
    settings.check()?;
    tracing::info!(adapter = "snmp", "snmp: off (not built yet in this version)");
    Ok(None)
}
