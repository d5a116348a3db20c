//! KVM_ResourcePoolConfigurationService (DSP1041 §8): CreateChildResourcePool
//! and DeleteResourcePool for disk and network pools, as libvirt-cim serves
//! them — a
//! `dir` storage pool from a KVM_DiskPoolResourceAllocationSettingData with
//! `Type` 1 (DISK_POOL_DIR) and `Path`; defined and started through the
//! core. Network pools come from a KVM_NetPoolResourceAllocationSettingData
//! (Address, Netmask, IPRangeStart/End, ForwardMode, ForwardDevice): a
//! virtual network, defined and started; on drivers without networks (qemu)
//! the driver's NO_SUPPORT is CIM_ERR_NOT_SUPPORTED. Other pool kinds are
//! CIM_ERR_NOT_SUPPORTED, as in libvirt-cim.
//!
//! CreateResourceInPool and DeleteResourceInPool create and delete storage
//! volumes in a disk pool, from a KVM_StorageVolumeResourceAllocationSettingData
//! (VolumeName, Capacity, AllocationQuantity, AllocationUnits, FormatType 1
//! raw / 2 qcow2, Path); the created volume's RASD is named by its path, as
//! libvirt-cim names it.

use super::settings::embedded_list;
use super::{Engine, Params};
use crate::error::{CimError, CimStatus};
use crate::model::pool::{class_of, volume_id, VOLUME_RASD};
use crate::value::{Instance, ObjectPath};
use crate::xml::request::Param;
use std::net::Ipv4Addr;
use std::sync::Arc;
use virtbus_actors::{NetworkOp, PoolOp};
use virtbus_drivers::{PoolRecord, VolumeRecord};
use virtbus_schemas::units::unit_scale;
use virtbus_schemas::xml::escape;

/// libvirt-cim's DISK_POOL_DIR.
const DISK_POOL_DIR: &str = "1";

fn invalid(msg: impl Into<String>) -> CimError {
    CimError::new(CimStatus::InvalidParameter, msg)
}

/// CreateChildResourcePool(ElementName, Settings[]) → Pool.
pub async fn create_child(engine: &Engine, ns: &str, params: Params<'_>) -> Result<ObjectPath, CimError> {
    let name = params
        .string("ElementName")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("missing argument 'ElementName'"))?;
    let settings = embedded_list(params.get("Settings"), "Settings")?;
    let rasd = settings
        .first()
        .ok_or_else(|| invalid("Settings holds no pool settings"))?;
    let class = rasd.class.to_ascii_lowercase();
    if class.contains("netpool") {
        return create_network_pool(engine, ns, &name, rasd).await;
    }
    if !class.contains("diskpool") {
        return Err(CimError::new(
            CimStatus::NotSupported,
            format!(
                "pools from {} are not supported; only disk and network pools \
                 (DiskPoolResourceAllocationSettingData, NetPoolResourceAllocationSettingData)",
                rasd.class
            ),
        ));
    }
    match rasd.get_str("Type") {
        Some(DISK_POOL_DIR) => {}
        None => return Err(invalid("the pool settings have no Type")),
        Some(other) => {
            return Err(CimError::new(
                CimStatus::NotSupported,
                format!("storage pool type {other} is not supported (1: dir)"),
            ))
        }
    }
    let path = rasd
        .get_str("Path")
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| invalid("the pool settings need an absolute Path"))?;
    if engine.core.snapshot().pool_by_name(&name).is_some() {
        return Err(CimError::new(
            CimStatus::AlreadyExists,
            format!("a storage pool named '{name}' exists already"),
        ));
    }
    let xml = format!(
        "<pool type='dir'><name>{}</name><target><path>{}</path></target></pool>",
        escape(&name),
        escape(path)
    );
    let autostart = match rasd.get_str("Autostart").map(str::trim) {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => return Err(invalid(format!("Autostart {other} is not supported (0: no, 1: yes)"))),
    };
    let record = engine.core.define_pool(&xml).await?;
    let uuid = record.def.uuid;
    // As libvirt-cim: a pool that does not start is undefined again.
    if let Err(err) = engine.core.pool_record(uuid, PoolOp::Start).await {
        if let Err(undo) = engine.core.pool_record(uuid, PoolOp::Undefine).await {
            tracing::warn!(pool = %name, error = %undo, "cim: a storage pool that did not start stays defined");
        }
        return Err(err.into());
    }
    if autostart {
        engine.core.pool_record(uuid, PoolOp::SetAutostart(true)).await?;
    }
    Ok(ObjectPath::new(ns, "KVM_DiskPool").key("InstanceID", format!("DiskPool/{name}")))
}

/// An IPv4 property of a NetPool RASD, or libvirt-cim's default for it.
fn ipv4(rasd: &Instance, prop: &str, default: &str) -> Result<Ipv4Addr, CimError> {
    let text = rasd
        .get_str(prop)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(default);
    text.parse()
        .map_err(|_| invalid(format!("{prop} '{text}' is not an IPv4 address")))
}

/// The libvirt network XML for a NetPool RASD: libvirt-cim's properties
/// and defaults (Address 192.168.122.1, Netmask 255.255.255.0, DHCP range
/// .2–.254, ForwardMode 1 NAT), checked before libvirt sees them.
fn network_xml(name: &str, rasd: &Instance) -> Result<String, CimError> {
    let address = ipv4(rasd, "Address", "192.168.122.1")?;
    let netmask = ipv4(rasd, "Netmask", "255.255.255.0")?;
    let start = ipv4(rasd, "IPRangeStart", "192.168.122.2")?;
    let end = ipv4(rasd, "IPRangeEnd", "192.168.122.254")?;
    let mask = u32::from(netmask);
    if mask == 0 || mask.leading_ones() + mask.trailing_zeros() != 32 {
        return Err(invalid(format!("Netmask {netmask} is not a network mask")));
    }
    let net = u32::from(address) & mask;
    for (prop, ip) in [("IPRangeStart", start), ("IPRangeEnd", end)] {
        if u32::from(ip) & mask != net {
            return Err(invalid(format!(
                "{prop} {ip} is not in the network {address}/{netmask}"
            )));
        }
    }
    if u32::from(start) > u32::from(end) {
        return Err(invalid(format!("IPRangeStart {start} is above IPRangeEnd {end}")));
    }
    let mode = match rasd.get_str("ForwardMode").map(str::trim) {
        None | Some("1") => Some("nat"),
        Some("0") => None,
        Some("2") => Some("route"),
        Some(other) => {
            return Err(invalid(format!(
                "ForwardMode {other} is not supported (0: none, 1: NAT, 2: routed)"
            )))
        }
    };
    let dev = rasd.get_str("ForwardDevice").filter(|d| !d.is_empty());
    if let Some(dev) = dev {
        if dev.len() > 15 || dev.contains('/') || dev.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!("ForwardDevice '{dev}' is not an interface name")));
        }
    }
    let mut xml = format!("<network><name>{}</name>", escape(name));
    match (mode, dev) {
        (Some(mode), Some(dev)) => xml.push_str(&format!("<forward mode='{mode}' dev='{}'/>", escape(dev))),
        (Some(mode), None) => xml.push_str(&format!("<forward mode='{mode}'/>")),
        (None, Some(_)) => return Err(invalid("ForwardDevice needs a ForwardMode (1: NAT, 2: routed)")),
        (None, None) => {}
    }
    xml.push_str(&format!(
        "<ip address='{address}' netmask='{netmask}'><dhcp><range start='{start}' end='{end}'/></dhcp></ip></network>"
    ));
    Ok(xml)
}

/// A network pool: defines and starts the virtual network `name`. A network
/// that does not start is undefined again, so a failed call leaves nothing.
async fn create_network_pool(engine: &Engine, ns: &str, name: &str, rasd: &Instance) -> Result<ObjectPath, CimError> {
    let xml = network_xml(name, rasd)?;
    if engine.core.snapshot().network_by_name(name).is_some() {
        return Err(CimError::new(
            CimStatus::AlreadyExists,
            format!("a network named '{name}' exists already"),
        ));
    }
    let record = engine.core.define_network(&xml).await?;
    let uuid = record.def.uuid;
    if let Err(err) = engine.core.network(uuid, NetworkOp::Start).await {
        if let Err(undo) = engine.core.network(uuid, NetworkOp::Undefine).await {
            tracing::warn!(network = %name, error = %undo, "cim: a network that did not start stays defined");
        }
        return Err(err.into());
    }
    Ok(ObjectPath::new(ns, "KVM_NetworkPool").key("InstanceID", format!("NetworkPool/{name}")))
}

/// DeleteResourcePool(Pool): stops and undefines a disk pool (storage pool)
/// or a network pool (virtual network).
pub async fn delete(engine: &Engine, params: Params<'_>) -> Result<(), CimError> {
    let pool = match params.get("Pool") {
        Some(Param::Ref(p)) | Some(Param::InstanceName(p)) => p.clone(),
        _ => return Err(invalid("missing argument 'Pool'")),
    };
    let id = pool.key_text("InstanceID").unwrap_or_default();
    let snap = engine.core.snapshot();
    if let Some(name) = id.strip_prefix("NetworkPool/") {
        let record = snap.network_by_name(name).ok_or_else(|| {
            CimError::new(
                CimStatus::NotFound,
                format!("network not found: no network with matching name '{name}'"),
            )
        })?;
        let uuid = record.def.uuid;
        if record.active {
            engine.core.network(uuid, NetworkOp::Destroy).await?;
        }
        if record.persistent {
            engine.core.network(uuid, NetworkOp::Undefine).await?;
        }
        return Ok(());
    }
    let name = id.strip_prefix("DiskPool/").ok_or_else(|| {
        CimError::new(
            CimStatus::NotSupported,
            format!("pool '{id}' is neither a disk nor a network pool; only those are deleted"),
        )
    })?;
    let record = snap
        .pool_by_name(name)
        .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("storage pool '{name}' not found")))?;
    let uuid = record.def.uuid;
    if record.is_active() {
        engine.core.pool_record(uuid, PoolOp::Destroy).await?;
    }
    if record.persistent {
        engine.core.pool_record(uuid, PoolOp::Undefine).await?;
    }
    Ok(())
}

/// The disk pool a `Pool` reference names (`KVM_DiskPool`, `DiskPool/<name>`).
fn disk_pool(engine: &Engine, params: &Params<'_>) -> Result<Arc<PoolRecord>, CimError> {
    let pool = match params.get("Pool") {
        Some(Param::Ref(p)) | Some(Param::InstanceName(p)) => p.clone(),
        None | Some(Param::Null) => return Err(invalid("missing argument 'Pool'")),
        Some(_) => return Err(invalid("Pool must be a reference to a KVM_DiskPool")),
    };
    let id = pool
        .key_text("InstanceID")
        .ok_or_else(|| invalid(format!("Pool {pool} has no InstanceID key")))?;
    let name = match id.strip_prefix("DiskPool/") {
        Some(name) if !name.is_empty() => name,
        _ if class_of(id).is_some() => {
            return Err(CimError::new(
                CimStatus::NotSupported,
                format!("pool '{id}' is not a disk pool; storage volumes live in disk pools"),
            ))
        }
        _ => return Err(invalid(format!("Pool has an invalid InstanceID '{id}'"))),
    };
    engine.core.snapshot().pool_by_name(name).cloned().ok_or_else(|| {
        CimError::new(
            CimStatus::NotFound,
            format!("storage pool not found: no storage pool with matching name '{name}'"),
        )
    })
}

/// The one embedded instance of a scalar EmbeddedInstance parameter.
fn one_embedded(params: &Params<'_>, name: &str) -> Result<Instance, CimError> {
    let mut list = embedded_list(params.get(name), name)?;
    if list.len() != 1 {
        return Err(invalid(format!("{name} must hold exactly one embedded instance")));
    }
    Ok(list.remove(0))
}

/// Bytes per `AllocationUnits` of a volume RASD: libvirt's unit names
/// (`bytes`, `K`, `KiB`, `MB`, `G`, ...), as libvirt-cim passes them on, or
/// the DMTF names Bytes, KiloBytes, MegaBytes, GigaBytes, TeraBytes (powers
/// of 1024, as for memory RASDs).
fn volume_unit(units: Option<&str>) -> Result<u64, CimError> {
    let units = units.map(str::trim).filter(|u| !u.is_empty()).unwrap_or("bytes");
    let dmtf = match units.to_ascii_lowercase().as_str() {
        "kilobytes" => Some(1 << 10),
        "megabytes" => Some(1 << 20),
        "gigabytes" => Some(1 << 30),
        "terabytes" => Some(1 << 40),
        _ => None,
    };
    dmtf.or_else(|| unit_scale(units))
        .ok_or_else(|| invalid(format!("AllocationUnits '{units}' is not a unit libvirt knows")))
}

fn volume_size(rasd: &Instance, prop: &str, scale: u64) -> Result<Option<u64>, CimError> {
    let Some(text) = rasd.get_str(prop).map(str::trim) else {
        return Ok(None);
    };
    let n: u64 = text
        .parse()
        .map_err(|_| invalid(format!("{prop} '{text}' is not an unsigned integer")))?;
    n.checked_mul(scale)
        .map(Some)
        .ok_or_else(|| invalid(format!("{prop} {text} does not fit in 64 bits of bytes")))
}

/// The libvirt volume XML for a StorageVolume RASD in `pool`.
fn volume_xml(rasd: &Instance, pool: &PoolRecord) -> Result<String, CimError> {
    if !rasd
        .class
        .to_ascii_lowercase()
        .ends_with("storagevolumeresourceallocationsettingdata")
    {
        return Err(CimError::new(
            CimStatus::NotSupported,
            format!(
                "resources from {} are not supported; CreateResourceInPool creates storage volumes \
                 ({VOLUME_RASD})",
                rasd.class
            ),
        ));
    }
    let name = rasd
        .get_str("VolumeName")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("the volume settings have no VolumeName"))?;
    if name.contains('/') || name == "." || name == ".." || name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "VolumeName '{name}' is not a file name (no '/', '.', '..' or control characters)"
        )));
    }
    let scale = volume_unit(rasd.get_str("AllocationUnits"))?;
    let capacity =
        volume_size(rasd, "Capacity", scale)?.ok_or_else(|| invalid("the volume settings have no Capacity"))?;
    let allocation = volume_size(rasd, "AllocationQuantity", scale)?;
    let format = match rasd.get_str("FormatType").map(str::trim) {
        None | Some("1") => "raw",
        Some("2") => "qcow2",
        Some(other) => {
            return Err(invalid(format!(
                "FormatType {other} is not supported (1: raw, 2: qcow2)"
            )))
        }
    };
    // libvirt puts a dir pool's volume at <pool path>/<name>; a Path that
    // says otherwise is a mistake, not a request we could honour.
    if let (Some(path), Some(dir)) = (rasd.get_str("Path").filter(|p| !p.is_empty()), &pool.def.target_path) {
        let dir = dir.trim_end_matches('/');
        let wanted = format!("{dir}/{name}");
        if path.trim_end_matches('/') != dir && path != wanted {
            return Err(invalid(format!(
                "Path '{path}' is not where pool '{}' puts the volume ('{wanted}')",
                pool.def.name
            )));
        }
    }
    let mut xml = format!(
        "<volume><name>{}</name><capacity unit='bytes'>{capacity}</capacity>",
        escape(name)
    );
    if let Some(alloc) = allocation {
        xml.push_str(&format!("<allocation unit='bytes'>{alloc}</allocation>"));
    }
    xml.push_str(&format!("<target><format type='{format}'/></target></volume>"));
    Ok(xml)
}

/// CreateResourceInPool(Settings, Pool) → Resource: creates a storage volume.
pub async fn create_in_pool(engine: &Engine, ns: &str, params: Params<'_>) -> Result<ObjectPath, CimError> {
    let rasd = one_embedded(&params, "Settings")?;
    let pool = disk_pool(engine, &params)?;
    let xml = volume_xml(&rasd, &pool)?;
    let vol = engine.core.create_volume(pool.def.uuid, &xml).await.map_err(|e| {
        let err = CimError::from(e);
        CimError::new(
            err.status,
            format!("Unable to create storage volume: {}", err.description),
        )
    })?;
    Ok(ObjectPath::new(ns, VOLUME_RASD).key("InstanceID", volume_id(&vol)))
}

/// The volume of `pool` a Resource RASD names: by `Address` or `Path` (the
/// volume's path, as libvirt-cim looks it up), `InstanceID` or `VolumeName`.
fn find_volume<'p>(pool: &'p PoolRecord, rasd: &Instance) -> Result<&'p VolumeRecord, CimError> {
    let nonempty = |p: &str| rasd.get_str(p).filter(|v| !v.is_empty());
    let (what, hit) = if let Some(path) = nonempty("Address").or_else(|| nonempty("Path")) {
        (
            format!("path '{path}'"),
            pool.volumes.iter().find(|v| v.def.target_path.as_deref() == Some(path)),
        )
    } else if let Some(id) = nonempty("InstanceID") {
        (format!("id '{id}'"), pool.volumes.iter().find(|v| volume_id(v) == id))
    } else if let Some(name) = nonempty("VolumeName") {
        (
            format!("name '{name}'"),
            pool.volumes.iter().find(|v| v.def.name == name),
        )
    } else {
        return Err(invalid(
            "the Resource settings name no volume: give its Address or Path, InstanceID or VolumeName",
        ));
    };
    hit.ok_or_else(|| {
        CimError::new(
            CimStatus::NotFound,
            format!("no storage vol with matching {what} in pool '{}'", pool.def.name),
        )
    })
}

/// DeleteResourceInPool(Resource, Pool): deletes a storage volume.
pub async fn delete_in_pool(engine: &Engine, params: Params<'_>) -> Result<(), CimError> {
    let rasd = one_embedded(&params, "Resource")?;
    let pool = disk_pool(engine, &params)?;
    let vol = find_volume(&pool, &rasd)?;
    engine
        .core
        .pool(pool.def.uuid, PoolOp::DeleteVolume(vol.def.name.clone()))
        .await
        .map_err(|e| {
            let err = CimError::from(e);
            CimError::new(err.status, format!("Unable to delete resource: {}", err.description))
        })?;
    Ok(())
}
