//! Associators, AssociatorNames, References and ReferenceNames (DSP0200
//! §5.3.2.11–14) with AssocClass/ResultClass/Role/ResultRole filters.

use super::instance::check_path;
use super::{Engine, Params};
use crate::error::{CimError, CimStatus};
use crate::model::{self, path_of};
use crate::value::{Instance, ObjectPath, Value};
use crate::xml::write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Associators,
    AssociatorNames,
    References,
    ReferenceNames,
}

/// What an association query found: the association instances that
/// qualify and the distinct far ends, from one snapshot.
pub struct Found {
    pub snap: std::sync::Arc<virtbus_actors::Snapshot>,
    pub refs: Vec<Instance>,
    /// The far ends' paths, each with its instance when the association
    /// carries it (setting templates); the others are looked up by path.
    pub targets: Vec<(ObjectPath, Option<Instance>)>,
    pub props: Option<Vec<String>>,
}

impl Found {
    /// The far-end instances (Associators), each with its path.
    pub fn target_instances(&self, engine: &Engine, ns: &str) -> Vec<(ObjectPath, Instance)> {
        self.targets
            .iter()
            .filter_map(|(path, carried)| {
                if let Some(inst) = carried {
                    return Some((path.clone(), inst.clone()));
                }
                let target_ns = path.namespace.clone().unwrap_or_else(|| ns.to_string());
                let mut target_ctx = engine.ctx(&self.snap, &target_ns);
                target_ctx.guest = model::guest_of(path);
                model::get_instance(&engine.schema, &target_ctx, path).map(|inst| (path.clone(), inst))
            })
            .collect()
    }
}

pub fn associators(engine: &Engine, ns: &str, params: Params<'_>, kind: Kind) -> Result<String, CimError> {
    let references = matches!(kind, Kind::References | Kind::ReferenceNames);
    let found = find(engine, ns, params, "ObjectName", references)?;
    let Found {
        refs, targets, props, ..
    } = &found;
    let props = props.clone();
    let mut out = String::from("<IRETURNVALUE>");
    match kind {
        Kind::ReferenceNames => {
            for inst in refs {
                out.push_str("<OBJECTPATH>");
                write::instance_path(&mut out, &path_of(&engine.schema, ns, inst), &engine.host);
                out.push_str("</OBJECTPATH>");
            }
        }
        Kind::References => {
            for inst in refs {
                out.push_str("<VALUE.OBJECTWITHPATH>");
                write::instance_path(&mut out, &path_of(&engine.schema, ns, inst), &engine.host);
                write::instance(&mut out, inst, props.as_deref(), &engine.host);
                out.push_str("</VALUE.OBJECTWITHPATH>");
            }
        }
        Kind::AssociatorNames => {
            for (i, (path, _)) in targets.iter().enumerate() {
                // Templates sharing a path are named once.
                if targets[..i].iter().any(|(t, _)| t.matches(path)) {
                    continue;
                }
                out.push_str("<OBJECTPATH>");
                write::instance_path(&mut out, path, &engine.host);
                out.push_str("</OBJECTPATH>");
            }
        }
        Kind::Associators => {
            for (path, inst) in found.target_instances(engine, ns) {
                out.push_str("<VALUE.OBJECTWITHPATH>");
                write::instance_path(&mut out, &path, &engine.host);
                write::instance(&mut out, &inst, props.as_deref(), &engine.host);
                out.push_str("</VALUE.OBJECTWITHPATH>");
            }
        }
    }
    out.push_str("</IRETURNVALUE>");
    Ok(out)
}

/// Runs an association query: `source_param` names the source instance
/// (`ObjectName` for the classic operations, `InstanceName` for the pull
/// ones); `references` selects the References filters (ResultClass names
/// the association class, no AssocClass or ResultRole, DSP0200 §5.3.2.13).
pub fn find(
    engine: &Engine,
    ns: &str,
    params: Params<'_>,
    source_param: &str,
    references: bool,
) -> Result<Found, CimError> {
    let mut source = match params.get(source_param) {
        Some(crate::xml::request::Param::ClassName(_)) => {
            return Err(CimError::new(
                CimStatus::NotSupported,
                "class-level association operations are not supported",
            ))
        }
        _ => params.instance_name(source_param)?,
    };
    source.namespace = Some(ns.to_string());
    check_path(engine, ns, &source)?;
    let filter_class = |name: &str| -> Result<Option<String>, CimError> {
        let value = params.class_name(name)?;
        if let Some(class) = &value {
            if engine.schema.get(ns, class).is_none() {
                return Err(CimError::new(
                    CimStatus::InvalidParameter,
                    format!("class '{class}' does not exist"),
                ));
            }
        }
        Ok(value)
    };
    let (assoc_class, result_class) = if references {
        (filter_class("ResultClass")?, None)
    } else {
        (filter_class("AssocClass")?, filter_class("ResultClass")?)
    };
    let role = params.string("Role")?;
    let result_role = if references { None } else { params.string("ResultRole")? };
    let props = params.property_list()?;

    let snap = engine.core.snapshot();
    let mut ctx = engine.ctx(&snap, ns);
    ctx.guest = model::guest_of(&source);
    if model::get_instance(&engine.schema, &ctx, &source).is_none() {
        return Err(CimError::new(CimStatus::NotFound, format!("no instance {source}")));
    }

    let mut refs: Vec<Instance> = Vec::new();
    let mut targets: Vec<(ObjectPath, Option<Instance>)> = Vec::new();
    let associations = model::concrete_below(
        &engine.schema,
        ns,
        assoc_class.as_deref().unwrap_or("CIM_ManagedElement"),
    )
    .into_iter()
    .filter(|c| engine.schema.get(ns, c).is_some_and(|d| d.association));
    for class in associations {
        for (inst, far_end) in model::association_instances(&ctx, class) {
            let endpoints: Vec<(&str, &ObjectPath)> = inst
                .props
                .iter()
                .filter_map(|p| match &p.value {
                    Value::Ref(path) => Some((p.name.as_str(), path)),
                    _ => None,
                })
                .collect();
            let from_source = endpoints.iter().any(|(name, path)| {
                path.matches(&source) && role.as_deref().is_none_or(|r| r.eq_ignore_ascii_case(name))
            });
            if !from_source {
                continue;
            }
            let mut hit = false;
            for (name, path) in &endpoints {
                if path.matches(&source) && endpoints.len() > 1 {
                    // The source end; for self-associations another end still counts.
                    if role.as_deref().is_none_or(|r| r.eq_ignore_ascii_case(name)) {
                        continue;
                    }
                }
                if result_role.as_deref().is_some_and(|r| !r.eq_ignore_ascii_case(name)) {
                    continue;
                }
                if result_class
                    .as_deref()
                    .is_some_and(|rc| !engine.schema.is_a(&path.class, rc))
                {
                    continue;
                }
                hit = true;
                // A carried far end (a template) is the PartComponent; a
                // pool's templates may share a path, so those are told
                // apart by their instance.
                let carried = far_end.as_ref().filter(|_| name.eq_ignore_ascii_case("PartComponent"));
                let seen = targets
                    .iter()
                    .any(|(t, t_inst)| t.matches(path) && (carried.is_none() || t_inst.as_ref() == carried));
                if !seen {
                    targets.push(((*path).clone(), carried.cloned()));
                }
            }
            if hit {
                refs.push(inst);
            }
        }
    }
    drop(ctx);
    Ok(Found {
        snap,
        refs,
        targets,
        props,
    })
}
