//! The CIM adapter's settings and start-up (CIM-XML/WBEM server).

use super::{is_off, AdapterError, AdapterHandle};
use clap::Args;
use serde::Deserialize;
use virtbus_actors::Core;

/// `virtbus serve` flags of the CIM adapter.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "cim_flags")]
#[command(next_help_heading = "CIM adapter")]
pub struct Flags {
    /// CIM-XML listen address (HOST:PORT), or `off` [default: off until the CIM adapter is built].
    #[arg(id = "cim_listen", long = "cim-listen", value_name = "ADDR")]
    pub listen: Option<String>,
}

/// The `[cim]` section of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub listen: Option<String>,
}

/// Effective CIM settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Option<String>,
}

impl Settings {
    pub fn resolve(flags: &Flags, file: Section) -> Settings {
        Settings {
            listen: flags.listen.clone().or(file.listen),
        }
    }

    pub fn check(&self) -> Result<(), AdapterError> {
        match &self.listen {
            Some(value) if !is_off(value) => Err(AdapterError::NotBuilt {
                adapter: "the CIM adapter",
                setting: "cim listen",
                value: value.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// Starts the adapter; `Ok(None)` when it is off.
pub async fn start(_core: &Core, settings: &Settings) -> Result<Option<AdapterHandle>, AdapterError> {
    settings.check()?;
    tracing::info!(adapter = "cim", "cim: off (not built yet in this version)");
    Ok(None)
}
