//! The SNMPv3 engine identity (RFC 3414 §2.2): the engine ID stays the same
//! across restarts and `snmpEngineBoots` grows by one at each start, so a
//! replayed old message falls outside the time window. Both live in
//! `STATE_DIR/snmp-engine` (two `key=value` lines), written atomically.

use async_snmp::v3::{AuthoritativeEngine, PersistedAuthoritativeEngine};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the engine state could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum EngineStateError {
    #[error("snmp engine state {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("snmp engine state {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("snmp engine: {0}")]
    Engine(String),
}

/// The file name under the state dir.
pub const FILE_NAME: &str = "snmp-engine";

/// A new engine ID in RFC 3411's format: enterprise 36957 with the high bit
/// set, format 5 (octets), then 12 random octets.
pub fn new_engine_id() -> Vec<u8> {
    let mut id = vec![0x80, 0x00, 0x90, 0x5d, 0x05];
    id.extend((0..12).map(|_| rand::random::<u8>()));
    id
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses the file's text into (engine ID, boots).
pub fn parse(text: &str) -> Result<(Vec<u8>, u32), String> {
    let mut id = None;
    let mut boots = None;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.split_once('=') {
            Some(("engine_id", v)) => id = Some(unhex(v.trim()).ok_or("engine_id is not hex")?),
            Some(("boots", v)) => boots = Some(v.trim().parse::<u32>().map_err(|e| format!("boots: {e}"))?),
            _ => return Err(format!("unexpected line '{line}'")),
        }
    }
    Ok((id.ok_or("no engine_id")?, boots.ok_or("no boots")?))
}

fn save(path: &Path, engine_id: &[u8], boots: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&tmp)?;
        writeln!(
            file,
            "# virtbus SNMPv3 engine identity; keep it to keep managers' keys valid"
        )?;
        writeln!(file, "engine_id={}", hex(engine_id))?;
        writeln!(file, "boots={boots}")?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Loads (or creates) the engine state under `state_dir` and counts this
/// start as a boot; without a state dir, a fresh engine that persists
/// nothing.
pub fn load_engine(state_dir: Option<&Path>) -> Result<AuthoritativeEngine, EngineStateError> {
    let Some(dir) = state_dir else {
        return AuthoritativeEngine::install(new_engine_id(), |_| Ok::<(), std::io::Error>(()))
            .map_err(|e| EngineStateError::Engine(e.to_string()));
    };
    let path = dir.join(FILE_NAME);
    let persist_path = path.clone();
    let persist =
        move |state: &PersistedAuthoritativeEngine| save(&persist_path, state.engine_id(), state.engine_boots());
    let engine = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (id, boots) = parse(&text).map_err(|message| EngineStateError::Corrupt {
                path: path.clone(),
                message,
            })?;
            let previous = PersistedAuthoritativeEngine::new(id, boots).map_err(|e| EngineStateError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?;
            AuthoritativeEngine::restart(previous, persist)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|source| EngineStateError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            AuthoritativeEngine::install(new_engine_id(), persist)
        }
        Err(source) => return Err(EngineStateError::Io { path, source }),
    };
    engine.map_err(|e| EngineStateError::Engine(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boots_grow_and_id_stays_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_engine(Some(dir.path())).unwrap();
        let id = first.engine_id().to_vec();
        drop(first);
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(parse(&text).unwrap(), (id.clone(), 1));
        let second = load_engine(Some(dir.path())).unwrap();
        assert_eq!(second.engine_id(), id.as_slice());
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(parse(&text).unwrap(), (id, 2));
    }

    #[test]
    fn corrupt_state_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "engine_id=zz\nboots=1\n").unwrap();
        let err = load_engine(Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("engine_id is not hex"), "{err}");
    }
}
