//! The CIM data model the server speaks in: typed values, object paths
//! (instance names) and instances. Values travel as their CIM-XML text form;
//! the type says how to write and compare them.

use std::fmt;

/// CIM intrinsic data types (DSP0004 §5.2) as CIM-XML spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CimType {
    Boolean,
    String,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Datetime,
    Reference,
}

impl CimType {
    pub fn as_str(self) -> &'static str {
        match self {
            CimType::Boolean => "boolean",
            CimType::String => "string",
            CimType::Uint8 => "uint8",
            CimType::Uint16 => "uint16",
            CimType::Uint32 => "uint32",
            CimType::Uint64 => "uint64",
            CimType::Sint32 => "sint32",
            CimType::Sint64 => "sint64",
            CimType::Datetime => "datetime",
            CimType::Reference => "reference",
        }
    }

    pub fn parse(text: &str) -> Option<CimType> {
        Some(match text {
            "boolean" => CimType::Boolean,
            "string" | "char16" => CimType::String,
            "uint8" => CimType::Uint8,
            "uint16" => CimType::Uint16,
            "uint32" => CimType::Uint32,
            "uint64" => CimType::Uint64,
            "sint8" | "sint16" | "sint32" => CimType::Sint32,
            "sint64" => CimType::Sint64,
            "datetime" => CimType::Datetime,
            "reference" => CimType::Reference,
            _ => return None,
        })
    }

    /// `KEYVALUE VALUETYPE` for a key of this type.
    pub fn key_value_type(self) -> &'static str {
        match self {
            CimType::Boolean => "boolean",
            CimType::String | CimType::Datetime | CimType::Reference => "string",
            _ => "numeric",
        }
    }
}

/// A property, parameter or key value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// A scalar in CIM-XML text form (`TRUE`, `42`, `name`).
    Scalar(String),
    Array(Vec<String>),
    Ref(ObjectPath),
    /// An array of references (method outputs such as ResultingResourceSettings).
    RefArray(Vec<ObjectPath>),
    /// An embedded instance (EmbeddedInstance string parameter).
    Instance(Box<Instance>),
    InstanceArray(Vec<Instance>),
}

impl Value {
    pub fn str(text: impl Into<String>) -> Value {
        Value::Scalar(text.into())
    }

    pub fn num(n: impl fmt::Display) -> Value {
        Value::Scalar(n.to_string())
    }

    pub fn bool(b: bool) -> Value {
        Value::Scalar(if b { "TRUE" } else { "FALSE" }.into())
    }

    pub fn opt_str(text: Option<&str>) -> Value {
        text.map(Value::str).unwrap_or(Value::Null)
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match self {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// One key binding of an instance name.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    /// A string/numeric/boolean key in text form.
    Text(String),
    Ref(ObjectPath),
}

/// An instance name, optionally with its namespace (`root/virt:Class.k="v"`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectPath {
    pub namespace: Option<String>,
    pub class: String,
    pub keys: Vec<(String, KeyValue)>,
}

impl ObjectPath {
    pub fn new(namespace: &str, class: &str) -> ObjectPath {
        ObjectPath {
            namespace: Some(namespace.to_string()),
            class: class.to_string(),
            keys: Vec::new(),
        }
    }

    pub fn key(mut self, name: &str, value: impl Into<String>) -> ObjectPath {
        self.keys.push((name.to_string(), KeyValue::Text(value.into())));
        self
    }

    /// The text of key `name` (case-insensitive, as CIM names are).
    pub fn key_text(&self, name: &str) -> Option<&str> {
        self.keys.iter().find_map(|(k, v)| match v {
            KeyValue::Text(t) if k.eq_ignore_ascii_case(name) => Some(t.as_str()),
            _ => None,
        })
    }

    /// Same class and keys (namespaces compared when both have one).
    pub fn matches(&self, other: &ObjectPath) -> bool {
        if !self.class.eq_ignore_ascii_case(&other.class) || self.keys.len() != other.keys.len() {
            return false;
        }
        if let (Some(a), Some(b)) = (&self.namespace, &other.namespace) {
            if !a.trim_matches('/').eq_ignore_ascii_case(b.trim_matches('/')) {
                return false;
            }
        }
        self.keys.iter().all(|(name, value)| {
            other.keys.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case(name)
                    && match (value, v) {
                        (KeyValue::Text(a), KeyValue::Text(b)) => a == b,
                        (KeyValue::Ref(a), KeyValue::Ref(b)) => a.matches(b),
                        _ => false,
                    }
            })
        })
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}:")?;
        }
        write!(f, "{}", self.class)?;
        for (i, (name, value)) in self.keys.iter().enumerate() {
            f.write_str(if i == 0 { "." } else { "," })?;
            match value {
                KeyValue::Text(t) => write!(f, "{name}=\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""))?,
                KeyValue::Ref(p) => write!(f, "{name}=\"{}\"", p.to_string().replace('"', "\\\""))?,
            }
        }
        Ok(())
    }
}

/// A property of an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub ty: CimType,
    pub value: Value,
}

/// An instance: its class and properties (the path is derived from the
/// class's key properties, see [`crate::schema`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instance {
    pub class: String,
    pub props: Vec<Property>,
}

impl Instance {
    pub fn new(class: &str) -> Instance {
        Instance {
            class: class.to_string(),
            props: Vec::new(),
        }
    }

    /// Adds a property (builder style).
    pub fn with(mut self, name: &str, ty: CimType, value: Value) -> Instance {
        self.set(name, ty, value);
        self
    }

    pub fn set(&mut self, name: &str, ty: CimType, value: Value) {
        if let Some(p) = self.props.iter_mut().find(|p| p.name.eq_ignore_ascii_case(name)) {
            p.ty = ty;
            p.value = value;
        } else {
            self.props.push(Property {
                name: name.to_string(),
                ty,
                value,
            });
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| &p.value)
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_scalar)
    }
}
