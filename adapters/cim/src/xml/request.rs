//! Decoding a CIM-XML request message (DSP0201 `SIMPLEREQ`) from the element
//! tree: the intrinsic (`IMETHODCALL`) or extrinsic (`METHODCALL`) call, its
//! namespace, target and parameters.

use super::dom::Element;
use crate::value::{CimType, Instance, KeyValue, ObjectPath, Value};

/// Why a message is not a request we can run. Each maps to an HTTP 400
/// with a `CIMError` header (DSP0200 §7.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request is not valid cim-xml: {0}")]
    NotValid(String),
    #[error("multiple requests in one message are not supported")]
    MultipleRequests,
}

impl RequestError {
    /// The `CIMError` header value.
    pub fn header(&self) -> &'static str {
        match self {
            RequestError::NotValid(_) => "request-not-valid",
            RequestError::MultipleRequests => "multiple-requests-unsupported",
        }
    }
}

/// A parameter as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Value(String),
    Array(Vec<String>),
    ClassName(String),
    InstanceName(ObjectPath),
    Instance(Instance),
    Ref(ObjectPath),
    RefArray(Vec<ObjectPath>),
}

/// The object an extrinsic method is invoked on.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Instance(ObjectPath),
    Class(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Intrinsic {
        name: String,
        params: Vec<(String, Param)>,
    },
    Extrinsic {
        name: String,
        target: Target,
        params: Vec<(String, Param)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub message_id: String,
    pub namespace: String,
    pub call: Call,
}

impl Call {
    pub fn name(&self) -> &str {
        match self {
            Call::Intrinsic { name, .. } | Call::Extrinsic { name, .. } => name,
        }
    }
}

fn invalid(msg: impl Into<String>) -> RequestError {
    RequestError::NotValid(msg.into())
}

fn need<'a>(el: &'a Element, name: &str) -> Result<&'a Element, RequestError> {
    el.child(name)
        .ok_or_else(|| invalid(format!("{} has no {name}", el.name)))
}

fn need_attr<'a>(el: &'a Element, name: &str) -> Result<&'a str, RequestError> {
    el.attr(name)
        .ok_or_else(|| invalid(format!("{} has no {name} attribute", el.name)))
}

/// `LOCALNAMESPACEPATH` → `root/virt`.
pub fn namespace(el: &Element) -> Result<String, RequestError> {
    let parts: Result<Vec<&str>, RequestError> = el.children_named("NAMESPACE").map(|n| need_attr(n, "NAME")).collect();
    let parts = parts?;
    if parts.is_empty() {
        return Err(invalid("LOCALNAMESPACEPATH has no NAMESPACE"));
    }
    Ok(parts.join("/"))
}

/// `INSTANCENAME`.
pub fn instance_name(el: &Element, ns: Option<String>) -> Result<ObjectPath, RequestError> {
    let mut path = ObjectPath {
        namespace: ns,
        class: need_attr(el, "CLASSNAME")?.to_string(),
        keys: Vec::new(),
    };
    for kb in el.children_named("KEYBINDING") {
        let name = need_attr(kb, "NAME")?.to_string();
        let value = if let Some(kv) = kb.child("KEYVALUE") {
            KeyValue::Text(kv.text.clone())
        } else if let Some(r) = kb.child("VALUE.REFERENCE") {
            KeyValue::Ref(reference(r)?)
        } else {
            return Err(invalid(format!("KEYBINDING {name} has no value")));
        };
        path.keys.push((name, value));
    }
    Ok(path)
}

/// The path inside a `VALUE.REFERENCE`.
pub fn reference(el: &Element) -> Result<ObjectPath, RequestError> {
    let inner = el.children.first().ok_or_else(|| invalid("VALUE.REFERENCE is empty"))?;
    match inner.name.as_str() {
        "INSTANCEPATH" => {
            let nsp = need(inner, "NAMESPACEPATH")?;
            let ns = namespace(need(nsp, "LOCALNAMESPACEPATH")?)?;
            instance_name(need(inner, "INSTANCENAME")?, Some(ns))
        }
        "LOCALINSTANCEPATH" => {
            let ns = namespace(need(inner, "LOCALNAMESPACEPATH")?)?;
            instance_name(need(inner, "INSTANCENAME")?, Some(ns))
        }
        "INSTANCENAME" => instance_name(inner, None),
        "CLASSPATH" | "LOCALCLASSPATH" | "CLASSNAME" => {
            let cn = if inner.name == "CLASSNAME" {
                inner
            } else {
                need(inner, "CLASSNAME")?
            };
            Ok(ObjectPath {
                namespace: None,
                class: need_attr(cn, "NAME")?.to_string(),
                keys: Vec::new(),
            })
        }
        other => Err(invalid(format!("VALUE.REFERENCE holds {other}"))),
    }
}

/// `INSTANCE` with its properties.
pub fn instance(el: &Element) -> Result<Instance, RequestError> {
    let mut inst = Instance::new(need_attr(el, "CLASSNAME")?);
    for prop in &el.children {
        let name = match prop.name.as_str() {
            "PROPERTY" | "PROPERTY.ARRAY" | "PROPERTY.REFERENCE" => need_attr(prop, "NAME")?,
            _ => continue,
        };
        let ty = prop
            .attr("TYPE")
            .and_then(CimType::parse)
            .unwrap_or(if prop.name == "PROPERTY.REFERENCE" {
                CimType::Reference
            } else {
                CimType::String
            });
        let value = match prop.name.as_str() {
            "PROPERTY" => prop
                .child("VALUE")
                .map(|v| Value::Scalar(v.text.clone()))
                .unwrap_or(Value::Null),
            "PROPERTY.ARRAY" => prop
                .child("VALUE.ARRAY")
                .map(|a| Value::Array(a.children_named("VALUE").map(|v| v.text.clone()).collect()))
                .unwrap_or(Value::Null),
            _ => match prop.child("VALUE.REFERENCE") {
                Some(r) => Value::Ref(reference(r)?),
                None => Value::Null,
            },
        };
        inst.set(name, ty, value);
    }
    Ok(inst)
}

fn param_value(el: &Element) -> Result<Param, RequestError> {
    let Some(inner) = el.children.first() else {
        return Ok(Param::Null);
    };
    Ok(match inner.name.as_str() {
        "VALUE" => Param::Value(inner.text.clone()),
        "VALUE.ARRAY" => Param::Array(inner.children_named("VALUE").map(|v| v.text.clone()).collect()),
        "CLASSNAME" => Param::ClassName(need_attr(inner, "NAME")?.to_string()),
        "INSTANCENAME" => Param::InstanceName(instance_name(inner, None)?),
        "INSTANCE" => Param::Instance(instance(inner)?),
        "VALUE.NAMEDINSTANCE" => Param::Instance(instance(need(inner, "INSTANCE")?)?),
        "VALUE.REFERENCE" => Param::Ref(reference(inner)?),
        "VALUE.REFARRAY" => Param::RefArray(
            inner
                .children_named("VALUE.REFERENCE")
                .map(reference)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        other => return Err(invalid(format!("parameter value {other} is not supported"))),
    })
}

/// Decodes a request from its root element.
pub fn decode(root: &Element) -> Result<Request, RequestError> {
    if root.name != "CIM" {
        return Err(invalid(format!("root element is {}, not CIM", root.name)));
    }
    let message = need(root, "MESSAGE")?;
    let message_id = need_attr(message, "ID")?.to_string();
    if message.child("MULTIREQ").is_some() {
        return Err(RequestError::MultipleRequests);
    }
    let simple = need(message, "SIMPLEREQ")?;
    if let Some(call) = simple.child("IMETHODCALL") {
        let name = need_attr(call, "NAME")?.to_string();
        let ns = namespace(need(call, "LOCALNAMESPACEPATH")?)?;
        let mut params = Vec::new();
        for p in call.children_named("IPARAMVALUE") {
            params.push((need_attr(p, "NAME")?.to_string(), param_value(p)?));
        }
        return Ok(Request {
            message_id,
            namespace: ns,
            call: Call::Intrinsic { name, params },
        });
    }
    if let Some(call) = simple.child("METHODCALL") {
        let name = need_attr(call, "NAME")?.to_string();
        let (ns, target) = if let Some(lip) = call.child("LOCALINSTANCEPATH") {
            let ns = namespace(need(lip, "LOCALNAMESPACEPATH")?)?;
            let path = instance_name(need(lip, "INSTANCENAME")?, Some(ns.clone()))?;
            (ns, Target::Instance(path))
        } else if let Some(lcp) = call.child("LOCALCLASSPATH") {
            let ns = namespace(need(lcp, "LOCALNAMESPACEPATH")?)?;
            (
                ns,
                Target::Class(need_attr(need(lcp, "CLASSNAME")?, "NAME")?.to_string()),
            )
        } else {
            return Err(invalid("METHODCALL has no LOCALINSTANCEPATH or LOCALCLASSPATH"));
        };
        let mut params = Vec::new();
        for p in call.children_named("PARAMVALUE") {
            params.push((need_attr(p, "NAME")?.to_string(), param_value(p)?));
        }
        return Ok(Request {
            message_id,
            namespace: ns,
            call: Call::Extrinsic { name, target, params },
        });
    }
    Err(invalid("SIMPLEREQ has no IMETHODCALL or METHODCALL"))
}
