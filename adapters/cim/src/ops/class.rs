//! GetClass, EnumerateClasses and EnumerateClassNames (DSP0200 §5.3.2.1,
//! §5.3.2.7, §5.3.2.8).

use super::{Engine, Params};
use crate::error::{CimError, CimStatus};
use crate::xml::write::{self, esc, ClassOptions};
use std::fmt::Write;

pub fn get_class(engine: &Engine, ns: &str, params: Params<'_>) -> Result<String, CimError> {
    let name = params.required_class("ClassName")?;
    let def = engine
        .schema
        .get(ns, &name)
        .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("class '{name}' does not exist in {ns}")))?;
    let opts = ClassOptions {
        local_only: params.flag("LocalOnly", true)?,
        include_qualifiers: params.flag("IncludeQualifiers", true)?,
        include_class_origin: params.flag("IncludeClassOrigin", false)?,
    };
    let props = params.property_list()?;
    let mut out = String::from("<IRETURNVALUE>");
    write::class(&mut out, &engine.schema, def, opts, props.as_deref());
    out.push_str("</IRETURNVALUE>");
    Ok(out)
}

pub fn enumerate_classes(engine: &Engine, ns: &str, params: Params<'_>, names_only: bool) -> Result<String, CimError> {
    let parent = params.class_name("ClassName")?;
    if let Some(parent) = &parent {
        if engine.schema.get(ns, parent).is_none() {
            return Err(CimError::new(
                CimStatus::InvalidClass,
                format!("class '{parent}' does not exist in {ns}"),
            ));
        }
    }
    let deep = params.flag("DeepInheritance", false)?;
    let opts = ClassOptions {
        local_only: params.flag("LocalOnly", true)?,
        include_qualifiers: params.flag("IncludeQualifiers", true)?,
        include_class_origin: params.flag("IncludeClassOrigin", false)?,
    };
    let mut out = String::from("<IRETURNVALUE>");
    for def in engine.schema.in_namespace(ns) {
        let selected = match (&parent, deep) {
            (None, false) => def.superclass.is_none(),
            (None, true) => true,
            (Some(p), false) => def.superclass.is_some_and(|s| s.eq_ignore_ascii_case(p)),
            (Some(p), true) => !def.name.eq_ignore_ascii_case(p) && engine.schema.is_a(def.name, p),
        };
        if !selected {
            continue;
        }
        if names_only {
            let _ = write!(out, "<CLASSNAME NAME=\"{}\"/>", esc(def.name));
        } else {
            write::class(&mut out, &engine.schema, def, opts, None);
        }
    }
    out.push_str("</IRETURNVALUE>");
    Ok(out)
}
