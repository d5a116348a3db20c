//! The store: persistent definitions as libvirt XML files under the state
//! directory, written atomically.
//!
//! Layout: `STATE_DIR/defs/<uri-key>/{domains,pools,networks}/<uuid>.xml` for
//! a definition made or changed through the agent, and `<uuid>.removed` (empty)
//! for one undefined through it, and `<uuid>.autostart` (empty) for one
//! marked to start with the agent (libvirt keeps symlinks in `autostart/`). The driver supplies the base (a test node
//! file, or nothing); the store replays the agent's changes on top at start.
//!
//! Every write is temp file → fsync → rename → fsync of the directory, so a
//! `kill -9` at any moment leaves either the old or the new file. A file that
//! does not parse is renamed to `*.corrupt-<unix time>`, reported, and skipped.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;
use virtbus_schemas::{DomainDef, ErrorCode, NetworkDef, PoolDef, VirtError, VirtResult};

/// The kinds of object the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Domain,
    Pool,
    Network,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Domain => "domains",
            Kind::Pool => "pools",
            Kind::Network => "networks",
        }
    }
}

/// What the store holds for one kind.
#[derive(Debug)]
pub struct Stored<T> {
    pub defined: Vec<T>,
    pub removed: Vec<Uuid>,
    /// Objects marked autostart.
    pub autostart: Vec<Uuid>,
}

impl<T> Default for Stored<T> {
    fn default() -> Self {
        Stored {
            defined: Vec::new(),
            removed: Vec::new(),
            autostart: Vec::new(),
        }
    }
}

/// Everything loaded at start, plus the files that had to be set aside.
#[derive(Debug, Default)]
pub struct StoredState {
    pub domains: Stored<DomainDef>,
    pub pools: Stored<PoolDef>,
    pub networks: Stored<NetworkDef>,
    /// (file it was, file it is now, why)
    pub set_aside: Vec<(PathBuf, PathBuf, String)>,
}

pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating) the store for connection `uri` under `state_dir`.
    pub fn open(state_dir: &Path, uri: &str) -> VirtResult<Store> {
        let root = state_dir.join("defs").join(uri_key(uri));
        for kind in [Kind::Domain, Kind::Pool, Kind::Network] {
            let dir = root.join(kind.dir());
            fs::create_dir_all(&dir).map_err(|e| io_error("create store directory", &dir, e))?;
        }
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Persists a definition (and clears any earlier removal mark).
    pub fn save(&self, kind: Kind, uuid: Uuid, xml: &str) -> VirtResult<()> {
        let dir = self.root.join(kind.dir());
        write_atomic(&dir, &format!("{uuid}.xml"), xml.as_bytes())?;
        remove_if_present(&dir.join(format!("{uuid}.removed")))?;
        sync_dir(&dir)
    }

    /// Records that an object was undefined through the agent (which also
    /// ends its autostart, as in libvirt).
    pub fn remove(&self, kind: Kind, uuid: Uuid) -> VirtResult<()> {
        let dir = self.root.join(kind.dir());
        write_atomic(&dir, &format!("{uuid}.removed"), b"")?;
        remove_if_present(&dir.join(format!("{uuid}.xml")))?;
        remove_if_present(&dir.join(format!("{uuid}.autostart")))?;
        sync_dir(&dir)
    }

    /// Marks (or unmarks) an object to be started when the agent starts.
    pub fn set_autostart(&self, kind: Kind, uuid: Uuid, autostart: bool) -> VirtResult<()> {
        let dir = self.root.join(kind.dir());
        let name = format!("{uuid}.autostart");
        if autostart {
            write_atomic(&dir, &name, b"")?;
        } else {
            remove_if_present(&dir.join(&name))?;
        }
        sync_dir(&dir)
    }

    /// Reads everything back; corrupt files are set aside, never fatal.
    pub fn load(&self) -> VirtResult<StoredState> {
        let mut state = StoredState::default();
        state.domains = self.load_kind(Kind::Domain, DomainDef::from_xml, |d| d.uuid, &mut state.set_aside)?;
        state.pools = self.load_kind(Kind::Pool, PoolDef::from_xml, |d| d.uuid, &mut state.set_aside)?;
        state.networks = self.load_kind(Kind::Network, NetworkDef::from_xml, |d| d.uuid, &mut state.set_aside)?;
        Ok(state)
    }

    fn load_kind<T>(
        &self,
        kind: Kind,
        parse: fn(&str) -> VirtResult<T>,
        uuid_of: fn(&T) -> Uuid,
        set_aside: &mut Vec<(PathBuf, PathBuf, String)>,
    ) -> VirtResult<Stored<T>> {
        let dir = self.root.join(kind.dir());
        let mut stored = Stored::default();
        let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|e| io_error("read store directory", &dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if file_name.starts_with(".tmp-") {
                // An interrupted write: the rename never happened, so the
                // previous version (if any) is still in place.
                remove_if_present(&path)?;
                continue;
            }
            if let Some(stem) = file_name.strip_suffix(".autostart") {
                match Uuid::parse_str(stem) {
                    Ok(uuid) => stored.autostart.push(uuid),
                    Err(_) => set_aside.push(quarantine(&path, "autostart mark not named by a uuid")?),
                }
                continue;
            }
            if let Some(stem) = file_name.strip_suffix(".removed") {
                match Uuid::parse_str(stem) {
                    Ok(uuid) => stored.removed.push(uuid),
                    Err(_) => set_aside.push(quarantine(&path, "removal mark not named by a uuid")?),
                }
                continue;
            }
            let Some(stem) = file_name.strip_suffix(".xml") else {
                continue;
            };
            let outcome = fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| parse(&text).map_err(|e| e.message));
            match outcome {
                Ok(def) if Uuid::parse_str(stem).ok() == Some(uuid_of(&def)) => stored.defined.push(def),
                Ok(def) => set_aside.push(quarantine(
                    &path,
                    &format!("file name does not match the definition's uuid {}", uuid_of(&def)),
                )?),
                Err(why) => set_aside.push(quarantine(&path, &why)?),
            }
        }
        Ok(stored)
    }
}

/// A directory name for a connection URI: readable, and unique thanks to a
/// hash of the whole URI.
fn uri_key(uri: &str) -> String {
    let readable: String = uri
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in uri.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let tail: String = readable
        .chars()
        .rev()
        .take(48)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{tail}-{hash:016x}")
}

fn quarantine(path: &Path, why: &str) -> VirtResult<(PathBuf, PathBuf, String)> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut target = path.as_os_str().to_owned();
    target.push(format!(".corrupt-{stamp}"));
    let target = PathBuf::from(target);
    fs::rename(path, &target).map_err(|e| io_error("set aside corrupt file", path, e))?;
    tracing::error!(file = %path.display(), moved_to = %target.display(), reason = why, "corrupt definition set aside");
    Ok((path.to_path_buf(), target, why.to_string()))
}

fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> VirtResult<()> {
    let tmp = dir.join(format!(".tmp-{}-{name}", std::process::id()));
    let target = dir.join(name);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| io_error("create", &tmp, e))?;
    file.write_all(data).map_err(|e| io_error("write", &tmp, e))?;
    file.sync_all().map_err(|e| io_error("fsync", &tmp, e))?;
    drop(file);
    fs::rename(&tmp, &target).map_err(|e| io_error("rename into place", &target, e))
}

fn sync_dir(dir: &Path) -> VirtResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("fsync directory", dir, e))
}

fn remove_if_present(path: &Path) -> VirtResult<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove", path, e)),
    }
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> VirtError {
    VirtError::new(
        ErrorCode::SystemError,
        format!("cannot {what} '{}': {err}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOM: &str = "<domain type='test'><name>a</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory></domain>";

    #[test]
    fn save_load_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test:///default").unwrap();
        let uuid = Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap();
        store.save(Kind::Domain, uuid, DOM).unwrap();
        let state = store.load().unwrap();
        assert_eq!(state.domains.defined.len(), 1);
        assert_eq!(state.domains.defined[0].name, "a");
        store.remove(Kind::Domain, uuid).unwrap();
        let state = store.load().unwrap();
        assert!(state.domains.defined.is_empty());
        assert_eq!(state.domains.removed, vec![uuid]);
    }

    #[test]
    fn corrupt_file_is_set_aside_and_the_rest_loads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test:///default").unwrap();
        let good = Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap();
        store.save(Kind::Domain, good, DOM).unwrap();
        let bad_path = store
            .root()
            .join("domains")
            .join(format!("{}.xml", Uuid::from_bytes([9; 16])));
        fs::write(&bad_path, "<domain><name>broken</na").unwrap();
        let state = store.load().unwrap();
        assert_eq!(state.domains.defined.len(), 1);
        assert_eq!(state.set_aside.len(), 1);
        assert!(!bad_path.exists());
        assert!(state.set_aside[0].1.to_string_lossy().contains(".corrupt-"));
        // Set aside once: the next load is clean.
        assert!(store.load().unwrap().set_aside.is_empty());
    }

    #[test]
    fn interrupted_write_leaves_the_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test:///x.xml").unwrap();
        let uuid = Uuid::parse_str("11111111-2222-3333-4444-555555555555").unwrap();
        store.save(Kind::Domain, uuid, DOM).unwrap();
        fs::write(store.root().join("domains").join(".tmp-1-junk.xml"), "<dom").unwrap();
        let state = store.load().unwrap();
        assert_eq!(state.domains.defined.len(), 1);
        assert!(state.set_aside.is_empty());
    }

    #[test]
    fn uri_keys_differ_for_colliding_readable_forms() {
        assert_ne!(uri_key("test:///a/b.xml"), uri_key("test:///a_b.xml"));
    }
}
