//! KVM_ResourcePoolConfigurationService (DSP1041 §8): CreateChildResourcePool
//! and DeleteResourcePool for disk pools, as libvirt-cim serves them — a
//! `dir` storage pool from a KVM_DiskPoolResourceAllocationSettingData with
//! `Type` 1 (DISK_POOL_DIR) and `Path`; defined and started through the
//! core. Other pool kinds are CIM_ERR_NOT_SUPPORTED, as in libvirt-cim.

use super::settings::embedded_list;
use super::{Engine, Params};
use crate::error::{CimError, CimStatus};
use crate::value::ObjectPath;
use crate::xml::request::Param;
use virtbus_actors::PoolOp;
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
    if !rasd.class.to_ascii_lowercase().contains("diskpool") {
        return Err(CimError::new(
            CimStatus::NotSupported,
            format!(
                "pools from {} are not supported; only disk pools (DiskPoolResourceAllocationSettingData)",
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
    let xml = format!(
        "<pool type='dir'><name>{}</name><target><path>{}</path></target></pool>",
        escape(&name),
        escape(path)
    );
    let record = engine.core.define_pool(&xml).await?;
    engine.core.pool_record(record.def.uuid, PoolOp::Start).await?;
    Ok(ObjectPath::new(ns, "KVM_DiskPool").key("InstanceID", format!("DiskPool/{name}")))
}

/// DeleteResourcePool(Pool): stops and undefines a disk pool.
pub async fn delete(engine: &Engine, params: Params<'_>) -> Result<(), CimError> {
    let pool = match params.get("Pool") {
        Some(Param::Ref(p)) | Some(Param::InstanceName(p)) => p.clone(),
        _ => return Err(invalid("missing argument 'Pool'")),
    };
    let id = pool.key_text("InstanceID").unwrap_or_default();
    let name = id.strip_prefix("DiskPool/").ok_or_else(|| {
        CimError::new(
            CimStatus::NotSupported,
            format!("pool '{id}' is not a disk pool; only disk pools are deleted here"),
        )
    })?;
    let snap = engine.core.snapshot();
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
