//! Writing CIM-XML responses (DSP0201): the envelope, instance names and
//! paths, instances, classes and errors, into one `String`.

use crate::error::CimError;
use crate::schema::{ClassDef, PropDef, Schema};
use crate::value::{CimType, Instance, KeyValue, ObjectPath, Value};
use std::fmt::Write;

/// Escapes text for element content and attribute values.
pub fn esc(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// The response envelope around one `IMETHODRESPONSE`/`METHODRESPONSE`.
pub fn envelope(message_id: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 200);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<CIM CIMVERSION=\"2.0\" DTDVERSION=\"2.0\">");
    let _ = write!(
        out,
        "<MESSAGE ID=\"{}\" PROTOCOLVERSION=\"1.0\"><SIMPLERSP>",
        esc(message_id)
    );
    out.push_str(body);
    out.push_str("</SIMPLERSP></MESSAGE></CIM>\n");
    out
}

pub fn error(out: &mut String, err: &CimError) {
    let _ = write!(
        out,
        "<ERROR CODE=\"{}\" DESCRIPTION=\"{}\"/>",
        err.status.code(),
        esc(&err.description)
    );
}

pub fn local_namespace_path(out: &mut String, namespace: &str) {
    out.push_str("<LOCALNAMESPACEPATH>");
    for part in namespace.split('/').filter(|p| !p.is_empty()) {
        let _ = write!(out, "<NAMESPACE NAME=\"{}\"/>", esc(part));
    }
    out.push_str("</LOCALNAMESPACEPATH>");
}

/// `INSTANCENAME` (keys only).
pub fn instance_name(out: &mut String, path: &ObjectPath) {
    let _ = write!(out, "<INSTANCENAME CLASSNAME=\"{}\">", esc(&path.class));
    for (name, value) in &path.keys {
        let _ = write!(out, "<KEYBINDING NAME=\"{}\">", esc(name));
        match value {
            KeyValue::Text(text) => {
                let _ = write!(out, "<KEYVALUE VALUETYPE=\"string\">{}</KEYVALUE>", esc(text));
            }
            KeyValue::Ref(target) => {
                out.push_str("<VALUE.REFERENCE>");
                instance_path(out, target, "localhost");
                out.push_str("</VALUE.REFERENCE>");
            }
        }
        out.push_str("</KEYBINDING>");
    }
    out.push_str("</INSTANCENAME>");
}

/// `INSTANCEPATH` (host, namespace, keys), or `INSTANCENAME` when the path
/// has no namespace.
pub fn instance_path(out: &mut String, path: &ObjectPath, host: &str) {
    match &path.namespace {
        Some(ns) => {
            let _ = write!(out, "<INSTANCEPATH><NAMESPACEPATH><HOST>{}</HOST>", esc(host));
            local_namespace_path(out, ns);
            out.push_str("</NAMESPACEPATH>");
            instance_name(out, path);
            out.push_str("</INSTANCEPATH>");
        }
        None => instance_name(out, path),
    }
}

fn scalar(out: &mut String, text: &str) {
    let _ = write!(out, "<VALUE>{}</VALUE>", esc(text));
}

/// An `INSTANCE`, with only the properties in `props` when given.
pub fn instance(out: &mut String, inst: &Instance, props: Option<&[String]>, host: &str) {
    let _ = write!(out, "<INSTANCE CLASSNAME=\"{}\">", esc(&inst.class));
    for prop in &inst.props {
        if let Some(list) = props {
            if !list.iter().any(|p| p.eq_ignore_ascii_case(&prop.name)) {
                continue;
            }
        }
        let name = esc(&prop.name);
        let ty = prop.ty.as_str();
        match &prop.value {
            Value::Null => {
                // Written open/close: sblim wbemcli's parser rejects empty-element tags here.
                if prop.ty == CimType::Reference {
                    let _ = write!(out, "<PROPERTY.REFERENCE NAME=\"{name}\"></PROPERTY.REFERENCE>");
                } else {
                    let _ = write!(out, "<PROPERTY NAME=\"{name}\" TYPE=\"{ty}\"></PROPERTY>");
                }
            }
            Value::Scalar(text) => {
                let _ = write!(out, "<PROPERTY NAME=\"{name}\" TYPE=\"{ty}\">");
                scalar(out, text);
                out.push_str("</PROPERTY>");
            }
            Value::Array(items) => {
                let _ = write!(out, "<PROPERTY.ARRAY NAME=\"{name}\" TYPE=\"{ty}\"><VALUE.ARRAY>");
                for item in items {
                    scalar(out, item);
                }
                out.push_str("</VALUE.ARRAY></PROPERTY.ARRAY>");
            }
            Value::Ref(target) => {
                let _ = write!(
                    out,
                    "<PROPERTY.REFERENCE NAME=\"{name}\" REFERENCECLASS=\"{}\"><VALUE.REFERENCE>",
                    esc(&target.class)
                );
                instance_path(out, target, host);
                out.push_str("</VALUE.REFERENCE></PROPERTY.REFERENCE>");
            }
            Value::RefArray(targets) => {
                let _ = write!(
                    out,
                    "<PROPERTY.ARRAY NAME=\"{name}\" TYPE=\"reference\"><VALUE.REFARRAY>"
                );
                for target in targets {
                    out.push_str("<VALUE.REFERENCE>");
                    instance_path(out, target, host);
                    out.push_str("</VALUE.REFERENCE>");
                }
                out.push_str("</VALUE.REFARRAY></PROPERTY.ARRAY>");
            }
            Value::Instance(embedded) => {
                let mut inner = String::new();
                instance(&mut inner, embedded, None, host);
                let _ = write!(
                    out,
                    "<PROPERTY NAME=\"{name}\" TYPE=\"string\" EmbeddedObject=\"instance\">"
                );
                scalar(out, &inner);
                out.push_str("</PROPERTY>");
            }
            Value::InstanceArray(items) => {
                let _ = write!(
                    out,
                    "<PROPERTY.ARRAY NAME=\"{name}\" TYPE=\"string\" EmbeddedObject=\"instance\"><VALUE.ARRAY>"
                );
                for item in items {
                    let mut inner = String::new();
                    instance(&mut inner, item, None, host);
                    scalar(out, &inner);
                }
                out.push_str("</VALUE.ARRAY></PROPERTY.ARRAY>");
            }
        }
    }
    out.push_str("</INSTANCE>");
}

/// A `PARAMVALUE` or `RETURNVALUE` payload for a method output.
pub fn param_value(out: &mut String, name: &str, ty: CimType, value: &Value, host: &str) {
    match value {
        Value::Ref(target) => {
            let _ = write!(
                out,
                "<PARAMVALUE NAME=\"{}\" PARAMTYPE=\"reference\"><VALUE.REFERENCE>",
                esc(name)
            );
            instance_path(out, target, host);
            out.push_str("</VALUE.REFERENCE></PARAMVALUE>");
        }
        Value::RefArray(targets) => {
            let _ = write!(
                out,
                "<PARAMVALUE NAME=\"{}\" PARAMTYPE=\"reference\"><VALUE.REFARRAY>",
                esc(name)
            );
            for target in targets {
                out.push_str("<VALUE.REFERENCE>");
                instance_path(out, target, host);
                out.push_str("</VALUE.REFERENCE>");
            }
            out.push_str("</VALUE.REFARRAY></PARAMVALUE>");
        }
        Value::Scalar(text) => {
            let _ = write!(out, "<PARAMVALUE NAME=\"{}\" PARAMTYPE=\"{}\">", esc(name), ty.as_str());
            scalar(out, text);
            out.push_str("</PARAMVALUE>");
        }
        _ => {
            let _ = write!(out, "<PARAMVALUE NAME=\"{}\"/>", esc(name));
        }
    }
}

fn qualifier_bool(out: &mut String, name: &str) {
    let _ = write!(
        out,
        "<QUALIFIER NAME=\"{name}\" TYPE=\"boolean\"><VALUE>TRUE</VALUE></QUALIFIER>"
    );
}

fn qualifier_str(out: &mut String, name: &str, value: &str) {
    let _ = write!(
        out,
        "<QUALIFIER NAME=\"{name}\" TYPE=\"string\"><VALUE>{}</VALUE></QUALIFIER>",
        esc(value)
    );
}

fn qualifier_array(out: &mut String, name: &str, items: &[&str]) {
    let _ = write!(out, "<QUALIFIER NAME=\"{name}\" TYPE=\"string\"><VALUE.ARRAY>");
    for item in items {
        scalar(out, item);
    }
    out.push_str("</VALUE.ARRAY></QUALIFIER>");
}

fn property_def(out: &mut String, prop: &PropDef, origin: &str, propagated: bool, qualifiers: bool, co: bool) {
    let name = esc(prop.name);
    let origin_attr = if co {
        format!(
            " CLASSORIGIN=\"{}\" PROPAGATED=\"{}\"",
            esc(origin),
            if propagated { "true" } else { "false" }
        )
    } else {
        String::new()
    };
    let open_tag = if prop.ty == CimType::Reference {
        format!(
            "<PROPERTY.REFERENCE NAME=\"{name}\" REFERENCECLASS=\"{}\"{origin_attr}>",
            esc(prop.ref_class.unwrap_or("CIM_ManagedElement"))
        )
    } else if prop.array {
        format!(
            "<PROPERTY.ARRAY NAME=\"{name}\" TYPE=\"{}\"{origin_attr}>",
            prop.ty.as_str()
        )
    } else {
        format!("<PROPERTY NAME=\"{name}\" TYPE=\"{}\"{origin_attr}>", prop.ty.as_str())
    };
    out.push_str(&open_tag);
    if qualifiers {
        if prop.key {
            qualifier_bool(out, "Key");
        }
        if let Some(embedded) = prop.embedded_instance {
            qualifier_str(out, "EmbeddedInstance", embedded);
        }
        if let Some((map, values)) = prop.value_map {
            qualifier_array(out, "ValueMap", map);
            qualifier_array(out, "Values", values);
        }
    }
    out.push_str(if prop.ty == CimType::Reference {
        "</PROPERTY.REFERENCE>"
    } else if prop.array {
        "</PROPERTY.ARRAY>"
    } else {
        "</PROPERTY>"
    });
}

/// Options of GetClass/EnumerateClasses that shape a `CLASS`.
#[derive(Debug, Clone, Copy)]
pub struct ClassOptions {
    pub local_only: bool,
    pub include_qualifiers: bool,
    pub include_class_origin: bool,
}

/// A `CLASS` with its (inherited unless `local_only`) properties and methods.
pub fn class(out: &mut String, schema: &Schema, def: &'static ClassDef, opts: ClassOptions, props: Option<&[String]>) {
    let _ = write!(out, "<CLASS NAME=\"{}\"", esc(def.name));
    if let Some(sup) = def.superclass {
        let _ = write!(out, " SUPERCLASS=\"{}\"", esc(sup));
    }
    out.push('>');
    if opts.include_qualifiers {
        if def.association {
            qualifier_bool(out, "Association");
        }
        if def.indication {
            qualifier_bool(out, "Indication");
        }
        if def.is_abstract {
            qualifier_bool(out, "Abstract");
        }
        qualifier_str(out, "Description", def.description);
    }
    for (origin, prop) in schema.all_properties(def) {
        if opts.local_only && origin != def.name {
            continue;
        }
        if let Some(list) = props {
            if !list.iter().any(|p| p.eq_ignore_ascii_case(prop.name)) {
                continue;
            }
        }
        property_def(
            out,
            prop,
            origin,
            origin != def.name,
            opts.include_qualifiers,
            opts.include_class_origin,
        );
    }
    for (origin, method) in schema.all_methods(def) {
        if opts.local_only && origin != def.name {
            continue;
        }
        let _ = write!(
            out,
            "<METHOD NAME=\"{}\" TYPE=\"{}\"",
            esc(method.name),
            method.ret.as_str()
        );
        if opts.include_class_origin {
            let _ = write!(
                out,
                " CLASSORIGIN=\"{}\" PROPAGATED=\"{}\"",
                esc(origin),
                if origin != def.name { "true" } else { "false" }
            );
        }
        out.push('>');
        for param in method.params {
            let (open, close) = if param.ty == CimType::Reference {
                let tag = if param.array {
                    "PARAMETER.REFARRAY"
                } else {
                    "PARAMETER.REFERENCE"
                };
                (
                    format!(
                        "<{tag} NAME=\"{}\" REFERENCECLASS=\"{}\">",
                        esc(param.name),
                        esc(param.ref_class.unwrap_or("CIM_ManagedElement"))
                    ),
                    format!("</{tag}>"),
                )
            } else if param.array {
                (
                    format!(
                        "<PARAMETER.ARRAY NAME=\"{}\" TYPE=\"{}\">",
                        esc(param.name),
                        param.ty.as_str()
                    ),
                    "</PARAMETER.ARRAY>".to_string(),
                )
            } else {
                (
                    format!(
                        "<PARAMETER NAME=\"{}\" TYPE=\"{}\">",
                        esc(param.name),
                        param.ty.as_str()
                    ),
                    "</PARAMETER>".to_string(),
                )
            };
            out.push_str(&open);
            if param.input {
                qualifier_bool(out, "In");
            }
            if param.output {
                qualifier_bool(out, "Out");
            }
            if let Some(embedded) = param.embedded_instance {
                qualifier_str(out, "EmbeddedInstance", embedded);
            }
            out.push_str(&close);
        }
        out.push_str("</METHOD>");
    }
    out.push_str("</CLASS>");
}
