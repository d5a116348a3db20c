//! GetInstance, EnumerateInstances and EnumerateInstanceNames (DSP0200
//! §5.3.2.2, §5.3.2.9, §5.3.2.10), answered from one snapshot; CreateInstance
//! and DeleteInstance (§5.3.2.6, §5.3.2.8) of indication filters,
//! destinations and subscriptions in root/interop.

use super::{Engine, Params};
use crate::error::{CimError, CimStatus};
use crate::indication;
use crate::model::{self, path_of};
use crate::schema::{NS_INTEROP, NS_VIRT};
use crate::value::ObjectPath;
use crate::xml::request::Param;
use crate::xml::write;

/// Checks `path` names an existing class with exactly its key properties.
pub fn check_path(engine: &Engine, ns: &str, path: &ObjectPath) -> Result<(), CimError> {
    let def = engine.class(ns, &path.class)?;
    let keys = engine.schema.keys(def);
    for (name, _) in &path.keys {
        if !keys.iter().any(|k| k.name.eq_ignore_ascii_case(name)) {
            return Err(CimError::new(
                CimStatus::InvalidParameter,
                format!("'{name}' is not a key of {}", def.name),
            ));
        }
    }
    Ok(())
}

/// Rejects flags that are present but not booleans. Instances carry no
/// qualifiers and every property is served, so their values change nothing.
fn check_flags(params: Params<'_>, names: &[&str]) -> Result<(), CimError> {
    for name in names {
        params.flag(name, false)?;
    }
    Ok(())
}

pub fn get_instance(engine: &Engine, ns: &str, params: Params<'_>) -> Result<String, CimError> {
    let mut path = params.instance_name("InstanceName")?;
    path.namespace = Some(ns.to_string());
    check_path(engine, ns, &path)?;
    check_flags(params, &["LocalOnly", "IncludeQualifiers", "IncludeClassOrigin"])?;
    let props = params.property_list()?;
    let snap = engine.core.snapshot();
    let mut ctx = engine.ctx(&snap, ns);
    ctx.guest = model::guest_of(&path);
    let inst = model::get_instance(&engine.schema, &ctx, &path)
        .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("no instance {path}")))?;
    let mut out = String::from("<IRETURNVALUE>");
    write::instance(&mut out, &inst, props.as_deref(), &engine.host);
    out.push_str("</IRETURNVALUE>");
    Ok(out)
}

pub fn enumerate(engine: &Engine, ns: &str, params: Params<'_>, names_only: bool) -> Result<String, CimError> {
    let class = params.required_class("ClassName")?;
    let def = engine.class(ns, &class)?;
    check_flags(
        params,
        &[
            "DeepInheritance",
            "LocalOnly",
            "IncludeQualifiers",
            "IncludeClassOrigin",
        ],
    )?;
    let props = params.property_list()?;
    let snap = engine.core.snapshot();
    let ctx = engine.ctx(&snap, ns);
    let mut out = String::from("<IRETURNVALUE>");
    for concrete in model::concrete_below(&engine.schema, ns, def.name) {
        for inst in model::instances(&ctx, concrete) {
            let path = path_of(&engine.schema, ns, &inst);
            if names_only {
                write::instance_name(&mut out, &path);
            } else {
                out.push_str("<VALUE.NAMEDINSTANCE>");
                write::instance_name(&mut out, &path);
                write::instance(&mut out, &inst, props.as_deref(), &engine.host);
                out.push_str("</VALUE.NAMEDINSTANCE>");
            }
        }
    }
    out.push_str("</IRETURNVALUE>");
    Ok(out)
}

/// Whether instances of `class` are created and deleted by clients.
fn client_managed(engine: &Engine, ns: &str, class: &str) -> Result<&'static str, CimError> {
    let def = engine.class(ns, class)?;
    if ns == NS_INTEROP && indication::CLASSES.contains(&def.name) {
        Ok(def.name)
    } else {
        Err(CimError::new(
            CimStatus::NotSupported,
            format!(
                "instances of {} are not created or deleted by clients; use the methods of KVM_VirtualSystemManagementService",
                def.name
            ),
        ))
    }
}

pub fn create_instance(engine: &Engine, ns: &str, params: Params<'_>) -> Result<String, CimError> {
    let inst = match params.get("NewInstance") {
        Some(Param::Instance(inst)) => inst.clone(),
        _ => {
            return Err(CimError::new(
                CimStatus::InvalidParameter,
                "NewInstance must be an instance",
            ))
        }
    };
    client_managed(engine, ns, &inst.class)?;
    let path = engine.indications.create(&engine.schema, &engine.host, inst)?;
    engine.start_indications();
    let mut out = String::from("<IRETURNVALUE>");
    write::instance_name(&mut out, &path);
    out.push_str("</IRETURNVALUE>");
    Ok(out)
}

pub fn delete_instance(engine: &Engine, ns: &str, params: Params<'_>) -> Result<String, CimError> {
    let mut path = params.instance_name("InstanceName")?;
    path.namespace = Some(ns.to_string());
    client_managed(engine, ns, &path.class)?;
    check_path(engine, ns, &path)?;
    engine.indications.delete(&engine.schema, &path)?;
    Ok(String::new())
}

/// ModifyInstance (DSP0200 §5.3.2.7): a subscription's SubscriptionState or
/// OnFatalErrorPolicy; a RASD's settings (as ModifyResourceSettings does:
/// memory, processors, a disk's Address). Properties outside PropertyList
/// keep their values.
pub async fn modify_instance(engine: &Engine, ns: &str, params: Params<'_>) -> Result<String, CimError> {
    let modified = match params.get("ModifiedInstance") {
        Some(Param::Instance(inst)) => inst.clone(),
        _ => {
            return Err(CimError::new(
                CimStatus::InvalidParameter,
                "ModifiedInstance must be a named instance",
            ))
        }
    };
    check_flags(params, &["IncludeQualifiers"])?;
    let props = params.property_list()?;
    let def = engine.class(ns, &modified.class)?;
    let path = path_of(&engine.schema, ns, &modified);
    let chosen: Vec<_> = modified
        .props
        .iter()
        .filter(|p| {
            props
                .as_ref()
                .is_none_or(|list| list.iter().any(|n| n.eq_ignore_ascii_case(&p.name)))
        })
        .filter(|p| {
            !engine
                .schema
                .keys(def)
                .iter()
                .any(|k| k.name.eq_ignore_ascii_case(&p.name))
        })
        .cloned()
        .collect();
    if ns == NS_INTEROP && def.name == indication::SUBSCRIPTION {
        engine.indications.modify_subscription(&engine.schema, &path, &chosen)?;
        return Ok(String::new());
    }
    if ns == NS_VIRT && engine.schema.is_a(def.name, "CIM_ResourceAllocationSettingData") {
        let snap = engine.core.snapshot();
        let mut ctx = engine.ctx(&snap, ns);
        ctx.guest = model::guest_of(&path);
        let mut current = model::get_instance(&engine.schema, &ctx, &path)
            .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("no instance {path}")))?;
        for prop in chosen {
            current.set(&prop.name, prop.ty, prop.value);
        }
        super::settings::modify_one(engine, ns, &current).await?;
        return Ok(String::new());
    }
    Err(CimError::new(
        CimStatus::NotSupported,
        format!("instances of {} cannot be modified", def.name),
    ))
}
