//! Extrinsic methods (DSP0200 §5.3.3): KVM_ComputerSystem.RequestStateChange
//! and KVM_VirtualSystemManagementService.DefineSystem/DestroySystem (the
//! settings-editing methods live in `settings.rs`).
//!
//! RequestStateChange follows libvirt-cim: 2 starts a shut-off guest or
//! resumes a paused one, 3 destroys, 4 shuts down, 9 pauses, 10 reboots,
//! 11 resets;
//! a state the guest cannot leave that way is CIM_ERR_FAILED "invalid state
//! transition"; other values are CIM_ERR_NOT_SUPPORTED.

use super::instance::check_path;
use super::{pools, settings, Engine, Params};
use crate::embedded;
use crate::error::{CimError, CimStatus};
use crate::model::{self, system};
use crate::value::{CimType, ObjectPath, Value};
use crate::xml::request::{Param, Target};
use crate::xml::write;
use virtbus_actors::DomainOp;
use virtbus_schemas::lifecycle::DomainState;

/// Return value of a method that completed (DMTF "Completed with No Error").
const RC_OK: u32 = 0;

pub async fn invoke(
    engine: &Engine,
    ns: &str,
    target: &Target,
    name: &str,
    params: Params<'_>,
) -> Result<String, CimError> {
    super::check_namespace(ns)?;
    let class = match target {
        Target::Instance(path) => &path.class,
        Target::Class(class) => class,
    };
    let def = engine.class(ns, class)?;
    let method = engine.schema.method(def, name).ok_or_else(|| {
        CimError::new(
            CimStatus::MethodNotFound,
            format!("class {} has no method {name}", def.name),
        )
    })?;
    for (pname, _) in params.0 {
        if !method
            .params
            .iter()
            .any(|p| p.input && p.name.eq_ignore_ascii_case(pname))
        {
            return Err(CimError::new(
                CimStatus::InvalidParameter,
                format!("method {name} has no input parameter {pname}"),
            ));
        }
    }
    let path = match target {
        Target::Instance(path) => {
            check_path(engine, ns, path)?;
            let snap = engine.core.snapshot();
            let mut ctx = engine.ctx(&snap, ns);
            ctx.guest = model::guest_of(path);
            if model::get_instance(&engine.schema, &ctx, path).is_none() {
                return Err(CimError::new(CimStatus::NotFound, format!("no instance {path}")));
            }
            path.clone()
        }
        Target::Class(_) => {
            return Err(CimError::new(
                CimStatus::MethodNotAvailable,
                format!("{name} must be invoked on an instance of {}", def.name),
            ))
        }
    };
    let (rc, outputs) = match (def.name, method.name) {
        ("KVM_ComputerSystem", "RequestStateChange") => (request_state_change(engine, &path, params).await?, vec![]),
        ("KVM_VirtualSystemManagementService", "DefineSystem") => define_system(engine, ns, params).await?,
        ("KVM_VirtualSystemManagementService", "DestroySystem") => (destroy_system(engine, params).await?, vec![]),
        ("KVM_VirtualSystemManagementService", "AddResourceSettings") => {
            let paths = settings::add(engine, ns, params).await?;
            (RC_OK, vec![("ResultingResourceSettings", Value::RefArray(paths))])
        }
        ("KVM_VirtualSystemManagementService", "ModifyResourceSettings") => {
            let paths = settings::modify(engine, ns, params).await?;
            (RC_OK, vec![("ResultingResourceSettings", Value::RefArray(paths))])
        }
        ("KVM_VirtualSystemManagementService", "RemoveResourceSettings") => {
            settings::remove(engine, params).await?;
            (RC_OK, vec![])
        }
        ("KVM_ResourcePoolConfigurationService", "CreateChildResourcePool") => {
            let pool = pools::create_child(engine, ns, params).await?;
            (RC_OK, vec![("Pool", Value::Ref(pool))])
        }
        ("KVM_ResourcePoolConfigurationService", "DeleteResourcePool") => {
            pools::delete(engine, params).await?;
            (RC_OK, vec![])
        }
        ("KVM_ResourcePoolConfigurationService", "CreateResourceInPool") => {
            let resource = pools::create_in_pool(engine, ns, params).await?;
            (RC_OK, vec![("Resource", Value::Ref(resource))])
        }
        ("KVM_ResourcePoolConfigurationService", "DeleteResourceInPool") => {
            pools::delete_in_pool(engine, params).await?;
            (RC_OK, vec![])
        }
        ("KVM_VirtualSystemManagementService", "ModifySystemSettings") => {
            settings::modify_system(engine, params).await?;
            (RC_OK, vec![])
        }
        _ => {
            return Err(CimError::new(
                CimStatus::MethodNotAvailable,
                format!("{}.{name} is not available", def.name),
            ))
        }
    };
    let mut out = format!("<RETURNVALUE PARAMTYPE=\"uint32\"><VALUE>{rc}</VALUE></RETURNVALUE>");
    for (pname, value) in outputs {
        write::param_value(&mut out, pname, CimType::Reference, &value, &engine.host);
    }
    Ok(out)
}

fn guest_uuid(engine: &Engine, name: &str) -> Result<(uuid::Uuid, DomainState), CimError> {
    let snap = engine.core.snapshot();
    let dom = snap
        .domain_by_name(name)
        .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("domain '{name}' not found")))?;
    Ok((dom.uuid(), dom.state.state))
}

/// The core command for a `RequestedState` from the guest's current state.
pub fn state_change_op(requested: u16, state: DomainState) -> Result<DomainOp, CimError> {
    use DomainState as S;
    let invalid = || CimError::new(CimStatus::Failed, "invalid state transition");
    let not_running = || CimError::new(CimStatus::Failed, "domain not running");
    match requested {
        2 => match state {
            S::Shutoff | S::Crashed => Ok(DomainOp::Start),
            S::Paused => Ok(DomainOp::Resume),
            _ => Err(invalid()),
        },
        3 => match state {
            S::Running | S::Blocked => Ok(DomainOp::Destroy),
            _ => Err(invalid()),
        },
        4 => match state {
            S::Running | S::Blocked => Ok(DomainOp::Shutdown),
            _ => Err(invalid()),
        },
        9 => match state {
            S::Running | S::Blocked => Ok(DomainOp::Suspend),
            _ => Err(not_running()),
        },
        10 => match state {
            S::Running | S::Blocked | S::Paused => Ok(DomainOp::Reboot),
            _ => Err(not_running()),
        },
        // libvirt-cim resets running, blocked and paused guests (virDomainReset).
        11 => match state {
            S::Running | S::Blocked | S::Paused => Ok(DomainOp::Reset),
            _ => Err(not_running()),
        },
        other => Err(CimError::new(
            CimStatus::NotSupported,
            format!("RequestedState {other} is not supported"),
        )),
    }
}

async fn request_state_change(engine: &Engine, path: &ObjectPath, params: Params<'_>) -> Result<u32, CimError> {
    let requested = params
        .uint("RequestedState")?
        .ok_or_else(|| CimError::new(CimStatus::InvalidParameter, "RequestedState is missing"))?;
    let requested = u16::try_from(requested)
        .map_err(|_| CimError::new(CimStatus::InvalidParameter, "RequestedState must be a uint16"))?;
    let name = path
        .key_text("Name")
        .ok_or_else(|| CimError::new(CimStatus::InvalidParameter, "the Name key is missing"))?;
    let (uuid, state) = guest_uuid(engine, name)?;
    let op = state_change_op(requested, state)?;
    engine.core.domain_record(uuid, op).await?;
    engine.requested.set(uuid, requested);
    Ok(RC_OK)
}

async fn define_system(
    engine: &Engine,
    ns: &str,
    params: Params<'_>,
) -> Result<(u32, Vec<(&'static str, Value)>), CimError> {
    let system_settings = match params.get("SystemSettings") {
        Some(Param::Value(text)) => embedded::parse(text)?,
        Some(Param::Instance(inst)) => inst.clone(),
        _ => {
            return Err(CimError::new(
                CimStatus::InvalidParameter,
                "missing argument 'SystemSettings'",
            ))
        }
    };
    let resources = match params.get("ResourceSettings") {
        Some(Param::Array(items)) => items
            .iter()
            .map(|t| embedded::parse(t))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Param::Value(text)) => vec![embedded::parse(text)?],
        None | Some(Param::Null) => Vec::new(),
        Some(_) => {
            return Err(CimError::new(
                CimStatus::InvalidParameter,
                "ResourceSettings must be a string array",
            ))
        }
    };
    if params.get("ReferenceConfiguration").is_some_and(|p| *p != Param::Null) {
        return Err(CimError::new(
            CimStatus::NotSupported,
            "ReferenceConfiguration is not supported",
        ));
    }
    let domain_type = if engine.core.uri().starts_with("test:") {
        "test"
    } else {
        "kvm"
    };
    let xml = embedded::domain_xml(domain_type, &system_settings, &resources)?;
    let record = engine.core.define_domain(&xml).await?;
    let cs = system::computer_system(&engine.ctx(&engine.core.snapshot(), ns), &record);
    let path = model::path_of(&engine.schema, ns, &cs);
    Ok((RC_OK, vec![("ResultingSystem", Value::Ref(path))]))
}

async fn destroy_system(engine: &Engine, params: Params<'_>) -> Result<u32, CimError> {
    let target = match params.get("AffectedSystem") {
        Some(Param::Ref(path)) | Some(Param::InstanceName(path)) => path.clone(),
        _ => {
            return Err(CimError::new(
                CimStatus::InvalidParameter,
                "missing argument 'AffectedSystem'",
            ))
        }
    };
    let name = target
        .key_text("Name")
        .ok_or_else(|| CimError::new(CimStatus::InvalidParameter, "AffectedSystem has no Name key"))?;
    let (uuid, state) = guest_uuid(engine, name).map_err(|_| {
        CimError::new(
            CimStatus::NotFound,
            format!("referenced domain '{name}' does not exist"),
        )
    })?;
    if state.is_active() {
        engine.core.domain_record(uuid, DomainOp::Destroy).await?;
    }
    if engine.core.snapshot().domains.get(&uuid).is_some_and(|d| d.persistent) {
        engine.core.domain_record(uuid, DomainOp::Undefine).await?;
    }
    Ok(RC_OK)
}
