//! The agent's configuration: TOML file (`--config`) overridden by flags.
//! Every key is documented in `examples/virtbus.toml`.

use crate::adapters::{self, AdapterError};
use crate::cli::{LogFormat, ServeArgs};
use serde::Deserialize;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The configuration file's shape. Unknown keys are an error, so a typo
/// does not silently fall back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub connect: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub workers: Option<usize>,
    #[serde(default)]
    pub snmp: adapters::snmp::Section,
    #[serde(default)]
    pub cim: adapters::cim::Section,
    #[serde(default)]
    pub amqp: adapters::amqp::Section,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error("no state directory: set --state-dir, VIRTBUS_STATE_DIR, XDG_STATE_HOME or HOME")]
    NoStateDir,
}

/// The effective settings of `virtbus serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connect: String,
    pub state_dir: PathBuf,
    pub log_format: LogFormat,
    pub workers: Option<usize>,
    pub snmp: adapters::snmp::Settings,
    pub cim: adapters::cim::Settings,
    pub amqp: adapters::amqp::Settings,
}

impl Settings {
    /// Merges file and flags (flags win) and checks them.
    pub fn resolve(args: &ServeArgs) -> Result<Settings, ConfigError> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let snmp = adapters::snmp::Settings::resolve(&args.snmp, file.snmp);
        let cim = adapters::cim::Settings::resolve(&args.cim, file.cim);
        let amqp = adapters::amqp::Settings::resolve(&args.amqp, file.amqp);
        // Refuse a bad adapter setting before anything starts.
        snmp.check()?;
        cim.check()?;
        amqp.check()?;
        let state_dir = args
            .state_dir
            .clone()
            .or(file.state_dir)
            .map(Ok)
            .unwrap_or_else(default_state_dir)?;
        Ok(Settings {
            connect: args
                .connect
                .clone()
                .or(file.connect)
                .unwrap_or_else(|| "test:///default".to_string()),
            state_dir,
            log_format: args.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            workers: args.workers.or(file.workers),
            snmp,
            cim,
            amqp,
        })
    }
}

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        message: err.to_string(),
    })
}

/// `/var/lib/virtbus` as root, else `$XDG_STATE_HOME/virtbus` (or
/// `~/.local/state/virtbus`), as DESIGN.md §4 says.
pub fn default_state_dir() -> Result<PathBuf, ConfigError> {
    let is_root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if is_root {
        return Ok(PathBuf::from("/var/lib/virtbus"));
    }
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("virtbus"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".local/state/virtbus"))
        .ok_or(ConfigError::NoStateDir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("virtbus.toml");
        std::fs::write(
            &path,
            "connect = 'test:///x.xml'\nstate_dir = '/tmp/a'\nlog_format = 'json'\n[snmp]\nlisten = 'off'\n",
        )
        .unwrap();
        let mut args = ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        };
        let s = Settings::resolve(&args).unwrap();
        assert_eq!(s.connect, "test:///x.xml");
        assert_eq!(s.state_dir, PathBuf::from("/tmp/a"));
        assert_eq!(s.log_format, LogFormat::Json);
        args.connect = Some("test:///default".into());
        args.state_dir = Some(PathBuf::from("/tmp/b"));
        let s = Settings::resolve(&args).unwrap();
        assert_eq!(s.connect, "test:///default");
        assert_eq!(s.state_dir, PathBuf::from("/tmp/b"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("virtbus.toml");
        std::fs::write(&path, "conect = 'typo'\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let err = Settings::resolve(&args).unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn shipped_example_config_parses() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/virtbus.toml");
        let text = std::fs::read_to_string(example).unwrap();
        let parsed: FileConfig = toml::from_str(&text).unwrap();
        assert_eq!(parsed.connect.as_deref(), Some("test:///default"));
    }
}
