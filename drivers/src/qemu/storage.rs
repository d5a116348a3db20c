//! `dir` storage pools and their volumes: [`StorageDriver`] for
//! [`QemuDriver`], after libvirt's `storage_backend_fs` (a pool is a
//! directory; a volume is a raw or qcow2 file made and read with `qemu-img`).
//!
//! Pool definitions persist through the core's store; the volumes are the
//! files themselves, found again by a refresh when the pool starts.

use super::{Inner, QemuDriver};
use crate::model::{DriverEvent, Outcome, PoolRecord, VolumeRecord};
use crate::pool_obj::{no_pool, pool_event, PoolObj};
use crate::traits::StorageDriver;
use parking_lot::Mutex;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_schemas::lifecycle::PoolEventType;
use virtbus_schemas::xml::escape;
use virtbus_schemas::{ErrorCode, PoolDef, VirtError, VirtResult, VolumeDef};

impl PoolObj {
    fn dir(&self) -> PathBuf {
        PathBuf::from(self.def.target_path.clone().unwrap_or_default())
    }

    /// `virStorageBackendFileSystemRefresh`: sizes from statvfs, volumes from
    /// the directory's regular files.
    fn refresh(&mut self) -> VirtResult<()> {
        let dir = self.dir();
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            VirtError::operation_failed(format!(
                "cannot open directory '{}' of storage pool '{}': {e}",
                dir.display(),
                self.def.name
            ))
        })?;
        let mut volumes = Vec::new();
        let mut names: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .filter(|(n, _)| !n.starts_with('.'))
            .collect();
        names.sort();
        for (name, path) in names {
            match volume_from_file(&name, &path) {
                Ok(v) => volumes.push(v),
                Err(err) => tracing::warn!(file = %path.display(), error = %err, "volume skipped"),
            }
        }
        self.volumes = volumes;
        if let Ok(st) = nix::sys::statvfs::statvfs(&dir) {
            let frsize = st.fragment_size();
            let capacity = st.blocks() * frsize;
            let free = st.blocks_free() * frsize;
            self.def.capacity_bytes = capacity;
            self.def.allocation_bytes = capacity.saturating_sub(free);
            self.def.available_bytes = st.blocks_available() * frsize;
            self.def.sync();
        }
        Ok(())
    }
}

/// The `qemu-img` binary: `VIRTBUS_QEMU_IMG`, else from `PATH`.
fn qemu_img() -> PathBuf {
    std::env::var_os("VIRTBUS_QEMU_IMG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("qemu-img"))
}

fn run_qemu_img(args: &[&std::ffi::OsStr], what: &str) -> VirtResult<String> {
    let out = Command::new(qemu_img())
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| VirtError::operation_failed(format!("cannot run qemu-img to {what}: {e}")))?;
    if !out.status.success() {
        return Err(VirtError::operation_failed(format!(
            "qemu-img failed to {what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `qemu-img info --output=json` of one file.
pub fn image_info(path: &Path) -> VirtResult<Value> {
    let text = run_qemu_img(
        &[
            "info".as_ref(),
            "--output=json".as_ref(),
            "-U".as_ref(),
            path.as_os_str(),
        ],
        &format!("read '{}'", path.display()),
    )?;
    serde_json::from_str(&text)
        .map_err(|e| VirtError::operation_failed(format!("qemu-img info of '{}' is not JSON: {e}", path.display())))
}

/// A volume's definition from its file, as a refresh finds it.
fn volume_from_file(name: &str, path: &Path) -> VirtResult<VolumeDef> {
    let info = image_info(path)?;
    let capacity = info.get("virtual-size").and_then(Value::as_u64).unwrap_or(0);
    let allocation = info.get("actual-size").and_then(Value::as_u64).unwrap_or(0);
    let format = info.get("format").and_then(Value::as_str).unwrap_or("raw");
    let backing = info
        .get("full-backing-filename")
        .or_else(|| info.get("backing-filename"))
        .and_then(Value::as_str);
    let p = escape(&path.to_string_lossy());
    let backing_xml = backing
        .map(|b| format!("<backingStore><path>{}</path></backingStore>", escape(b)))
        .unwrap_or_default();
    let xml = format!(
        "<volume type='file'><name>{}</name><key>{p}</key><capacity unit='bytes'>{capacity}</capacity>\
         <allocation unit='bytes'>{allocation}</allocation><target><path>{p}</path>\
         <format type='{}'/></target>{backing_xml}</volume>",
        escape(name),
        escape(format)
    );
    VolumeDef::from_xml(&xml)
}

/// libvirt refuses volume names that would leave the pool's directory.
fn check_volume_name(name: &str) -> VirtResult<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains("..") {
        return Err(VirtError::invalid_arg(format!(
            "volume name '{name}' is not allowed: it must not be empty or contain '/' or '..'"
        )));
    }
    Ok(())
}

impl Inner {
    fn pool_cell(&self, uuid: Uuid) -> VirtResult<Arc<Mutex<PoolObj>>> {
        self.pools.read().get(&uuid).cloned().ok_or_else(|| no_pool(uuid))
    }

    fn with_pool(
        &self,
        uuid: Uuid,
        op: impl FnOnce(&mut PoolObj) -> VirtResult<Vec<DriverEvent>>,
    ) -> VirtResult<Outcome<PoolRecord>> {
        let cell = self.pool_cell(uuid)?;
        let mut obj = cell.lock();
        let events = op(&mut obj)?;
        if !obj.persistent && !obj.active {
            self.pools.write().remove(&uuid);
            return Ok(Outcome::new(None, events));
        }
        Ok(Outcome::new(Some(obj.record()), events))
    }

    fn add_pool(&self, def: PoolDef, live: bool) -> VirtResult<Outcome<PoolRecord>> {
        if def.pool_type != "dir" {
            return Err(VirtError::no_support(format!(
                "storage pool type '{}' of pool '{}' is not supported by the qemu driver (only 'dir')",
                def.pool_type, def.name
            )));
        }
        match def.target_path.as_deref() {
            Some(p) if p.starts_with('/') => {}
            _ => {
                return Err(VirtError::xml(format!(
                    "storage pool '{}' needs an absolute <target><path>",
                    def.name
                )))
            }
        }
        let uuid = def.uuid;
        let cells: Vec<_> = self.pools.read().values().cloned().collect();
        for cell in &cells {
            let other = cell.lock();
            if other.def.name == def.name && other.def.uuid != uuid {
                return Err(VirtError::operation_failed(format!(
                    "pool '{}' already exists with uuid {}",
                    def.name, other.def.uuid
                )));
            }
            if other.def.uuid == uuid && other.def.name != def.name {
                return Err(VirtError::operation_failed(format!(
                    "pool '{}' is already defined with uuid {uuid}",
                    other.def.name
                )));
            }
        }
        let existing = self.pools.read().get(&uuid).cloned();
        if let Some(cell) = existing {
            let mut obj = cell.lock();
            if live {
                if obj.active {
                    return Err(VirtError::operation_invalid(format!(
                        "storage pool '{}' is already active",
                        obj.def.name
                    )));
                }
                obj.def = def;
                obj.refresh()?;
                obj.active = true;
                return Ok(Outcome::new(Some(obj.record()), pool_event(PoolEventType::Started)));
            }
            obj.def = def;
            obj.persistent = true;
            return Ok(Outcome::new(Some(obj.record()), pool_event(PoolEventType::Defined)));
        }
        let mut obj = PoolObj {
            def,
            active: false,
            persistent: !live,
            autostart: false,
            volumes: Vec::new(),
        };
        if live {
            obj.refresh()?;
            obj.active = true;
        }
        let record = obj.record();
        self.pools.write().insert(uuid, Arc::new(Mutex::new(obj)));
        let ev = if live {
            PoolEventType::Started
        } else {
            PoolEventType::Defined
        };
        Ok(Outcome::new(Some(record), pool_event(ev)))
    }
}

impl StorageDriver for QemuDriver {
    fn list_pools(&self) -> VirtResult<Vec<PoolRecord>> {
        let cells: Vec<_> = self.inner.pools.read().values().cloned().collect();
        Ok(cells.iter().map(|c| c.lock().record()).collect())
    }

    fn get_pool(&self, uuid: Uuid) -> VirtResult<PoolRecord> {
        let cell = self.inner.pool_cell(uuid)?;
        let record = cell.lock().record();
        Ok(record)
    }

    fn define_pool(&self, def: PoolDef) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.add_pool(def, false)
    }

    fn create_pool(&self, def: PoolDef) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.add_pool(def, true)
    }

    /// `virStorageBackendFileSystemBuild`: makes the directory.
    fn build_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.with_pool(uuid, |obj| {
            obj.require_inactive()?;
            let dir = obj.dir();
            std::fs::create_dir_all(&dir).map_err(|e| {
                VirtError::operation_failed(format!(
                    "cannot create directory '{}' of storage pool '{}': {e}",
                    dir.display(),
                    obj.def.name
                ))
            })?;
            Ok(pool_event(PoolEventType::Created))
        })
    }

    fn start_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.with_pool(uuid, |obj| {
            obj.require_inactive()?;
            obj.refresh()?;
            obj.active = true;
            Ok(pool_event(PoolEventType::Started))
        })
    }

    fn destroy_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.with_pool(uuid, |obj| {
            obj.require_active()?;
            obj.active = false;
            obj.volumes.clear();
            Ok(pool_event(PoolEventType::Stopped))
        })
    }

    /// `virStorageBackendFileSystemDelete`: removes the (empty) directory.
    fn delete_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.with_pool(uuid, |obj| {
            obj.require_inactive()?;
            let dir = obj.dir();
            std::fs::remove_dir(&dir).map_err(|e| {
                VirtError::operation_failed(format!(
                    "failed to remove pool '{}' directory '{}': {e}",
                    obj.def.name,
                    dir.display()
                ))
            })?;
            Ok(pool_event(PoolEventType::Deleted))
        })
    }

    fn undefine_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.with_pool(uuid, |obj| {
            obj.require_inactive()?;
            obj.persistent = false;
            obj.autostart = false;
            Ok(pool_event(PoolEventType::Undefined))
        })
    }

    /// `storagePoolSetAutostart`: persistent pools only.
    fn set_pool_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.with_pool(uuid, |obj| {
            obj.set_autostart(autostart)?;
            Ok(Vec::new())
        })
    }

    fn refresh_pool(&self, uuid: Uuid) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.with_pool(uuid, |obj| {
            obj.require_active()?;
            obj.refresh()?;
            Ok(Vec::new())
        })
    }

    /// `virStorageBackendFileSystemVolCreate` with `qemu-img create`.
    fn create_volume(&self, pool: Uuid, def: VolumeDef) -> VirtResult<(VolumeRecord, Outcome<PoolRecord>)> {
        let mut created = None;
        let outcome = self.inner.with_pool(pool, |obj| {
            obj.require_active()?;
            check_volume_name(&def.name)?;
            if obj.volumes.iter().any(|v| v.name == def.name) {
                return Err(VirtError::operation_failed(format!(
                    "storage vol '{}' already exists in pool '{}'",
                    def.name, obj.def.name
                )));
            }
            let path = obj.dir().join(&def.name);
            if path.exists() {
                return Err(VirtError::operation_failed(format!(
                    "file '{}' already exists in pool '{}'",
                    def.name, obj.def.name
                )));
            }
            let format = def.format.clone().unwrap_or_else(|| "raw".into());
            if format != "raw" && format != "qcow2" {
                return Err(VirtError::no_support(format!(
                    "volume format '{format}' is not supported (raw or qcow2)"
                )));
            }
            let mut args: Vec<std::ffi::OsString> =
                vec!["create".into(), "-q".into(), "-f".into(), format.clone().into()];
            if let Some(backing) = &def.backing_path {
                if format != "qcow2" {
                    return Err(VirtError::invalid_arg("a backing store needs the qcow2 format"));
                }
                let info = image_info(Path::new(backing))?;
                let backing_format = info.get("format").and_then(Value::as_str).unwrap_or("raw").to_string();
                args.extend(["-b".into(), backing.into(), "-F".into(), backing_format.into()]);
            }
            args.push(path.clone().into());
            args.push(def.capacity_bytes.to_string().into());
            let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            run_qemu_img(&refs, &format!("create volume '{}'", def.name))?;
            let vol = match volume_from_file(&def.name, &path) {
                Ok(v) => v,
                Err(err) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(err);
                }
            };
            obj.volumes.push(vol.clone());
            created = Some(VolumeRecord {
                def: vol,
                pool: obj.def.name.clone(),
            });
            Ok(Vec::new())
        })?;
        let vol = created.ok_or_else(|| VirtError::internal("volume creation reported no volume"))?;
        Ok((vol, outcome))
    }

    fn delete_volume(&self, pool: Uuid, name: &str) -> VirtResult<Outcome<PoolRecord>> {
        self.inner.with_pool(pool, |obj| {
            obj.require_active()?;
            check_volume_name(name)?;
            let idx = obj.volumes.iter().position(|v| v.name == name).ok_or_else(|| {
                VirtError::new(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching name '{name}'"),
                )
            })?;
            let path = obj.dir().join(name);
            std::fs::remove_file(&path).map_err(|e| {
                VirtError::operation_failed(format!("cannot remove volume file '{}': {e}", path.display()))
            })?;
            obj.volumes.remove(idx);
            Ok(Vec::new())
        })
    }

    /// `virStorageVolResize` without flags: grow only (`qemu-img resize`).
    fn resize_volume(
        &self,
        pool: Uuid,
        name: &str,
        capacity_bytes: u64,
    ) -> VirtResult<(VolumeRecord, Outcome<PoolRecord>)> {
        let mut result = None;
        let outcome = self.inner.with_pool(pool, |obj| {
            obj.require_active()?;
            check_volume_name(name)?;
            let idx = obj.volumes.iter().position(|v| v.name == name).ok_or_else(|| {
                VirtError::new(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching name '{name}'"),
                )
            })?;
            if capacity_bytes < obj.volumes[idx].capacity_bytes {
                return Err(VirtError::invalid_arg(format!(
                    "cannot shrink volume '{name}' from {} to {capacity_bytes} bytes",
                    obj.volumes[idx].capacity_bytes
                )));
            }
            let path = obj.dir().join(name);
            let format = obj.volumes[idx].format.clone().unwrap_or_else(|| "raw".into());
            run_qemu_img(
                &[
                    "resize".as_ref(),
                    "-q".as_ref(),
                    "-f".as_ref(),
                    format.as_ref(),
                    path.as_os_str(),
                    capacity_bytes.to_string().as_ref(),
                ],
                &format!("resize volume '{name}'"),
            )?;
            let vol = volume_from_file(name, &path)?;
            obj.volumes[idx] = vol.clone();
            result = Some(VolumeRecord {
                def: vol,
                pool: obj.def.name.clone(),
            });
            Ok(Vec::new())
        })?;
        let vol = result.ok_or_else(|| VirtError::internal("volume resize reported no volume"))?;
        Ok((vol, outcome))
    }
}
