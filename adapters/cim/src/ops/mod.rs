//! Running decoded requests: the [`Engine`] holds what operations share
//! (core handle, schema, enumeration contexts) and dispatches each call to
//! its family: `class.rs` (GetClass, EnumerateClass(Name)s), `instance.rs`
//! (GetInstance, EnumerateInstance(Name)s, Create/DeleteInstance), `assoc.rs` (Associators,
//! References and their Names forms), `pull.rs` (Open*/Pull*/Close) and
//! `method.rs` (extrinsic methods).

pub mod assoc;
pub mod class;
pub mod instance;
pub mod method;
pub mod pools;
pub mod pull;
pub mod query;
pub mod settings;

use crate::error::{CimError, CimStatus};
use crate::indication::Registry;
use crate::model::{Ctx, RequestedStates};
use crate::schema::{Schema, NS_INTEROP, NS_VIRT};
use crate::value::ObjectPath;
use crate::xml::request::{Call, Param, Request};
use crate::xml::write;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use virtbus_actors::{Core, Snapshot};

/// Shared state of the operations.
pub struct Engine {
    pub core: Core,
    pub schema: Schema,
    pub requested: Arc<RequestedStates>,
    pub host: String,
    pub contexts: pull::Contexts,
    pub indications: Arc<Registry>,
    /// How HTTPS listener destinations are verified.
    pub listener_tls: crate::ListenerTls,
}

impl Engine {
    /// The class `name` in namespace `ns`, or CIM_ERR_INVALID_CLASS.
    pub fn class(&self, ns: &str, name: &str) -> Result<&'static crate::schema::ClassDef, CimError> {
        self.schema.get(ns, name).ok_or_else(|| {
            CimError::new(
                CimStatus::InvalidClass,
                format!("class '{name}' does not exist in {ns}"),
            )
        })
    }

    pub fn new(core: Core) -> Engine {
        let host = core.hostname().unwrap_or_else(|_| "localhost".into());
        Engine {
            core,
            schema: Schema::default(),
            requested: Arc::default(),
            host,
            contexts: pull::Contexts::default(),
            indications: Arc::default(),
            listener_tls: Default::default(),
        }
    }

    /// Trusts the PEM CA certificates in `file` for HTTPS listener
    /// destinations, besides the system's CA store.
    pub fn with_listener_ca(mut self, file: &std::path::Path) -> Result<Engine, crate::StartError> {
        self.listener_tls = std::mem::take(&mut self.listener_tls).with_ca_file(file)?;
        Ok(self)
    }

    /// Keeps indication subscriptions in `file` (loaded now, written on
    /// every change), so they outlive an agent restart.
    pub fn with_subscriptions_file(mut self, file: PathBuf) -> Engine {
        self.indications = Arc::new(Registry::load(file));
        self
    }

    /// Starts delivering indications from the bus (once; needs a tokio runtime).
    pub fn start_indications(&self) {
        crate::indication::export::ensure_started(
            &self.indications,
            &self.core,
            &self.host,
            &self.requested,
            &self.listener_tls,
        );
    }

    pub fn ctx<'a>(&'a self, snap: &'a Snapshot, namespace: &'a str) -> Ctx<'a> {
        Ctx {
            snap,
            host: &self.host,
            requested: &self.requested,
            namespace,
            guest: None,
            indications: Some(&self.indications),
        }
    }

    /// Runs a request and returns the whole response document.
    pub async fn handle(&self, req: &Request) -> String {
        let name = req.call.name();
        let mut body = String::new();
        match &req.call {
            Call::Intrinsic { name, params } => {
                let _ = write!(body, "<IMETHODRESPONSE NAME=\"{}\">", write::esc(name));
                match self.intrinsic(&req.namespace, name, Params(params)).await {
                    Ok(out) => body.push_str(&out),
                    Err(err) => write::error(&mut body, &err),
                }
                body.push_str("</IMETHODRESPONSE>");
            }
            Call::Extrinsic { name, target, params } => {
                let _ = write!(body, "<METHODRESPONSE NAME=\"{}\">", write::esc(name));
                match method::invoke(self, &req.namespace, target, name, Params(params)).await {
                    Ok(out) => body.push_str(&out),
                    Err(err) => write::error(&mut body, &err),
                }
                body.push_str("</METHODRESPONSE>");
            }
        }
        tracing::debug!(op = name, namespace = %req.namespace, "cim request");
        write::envelope(&req.message_id, &body)
    }

    async fn intrinsic(&self, ns: &str, name: &str, params: Params<'_>) -> Result<String, CimError> {
        check_namespace(ns)?;
        match name {
            "GetClass" => class::get_class(self, ns, params),
            "EnumerateClasses" => class::enumerate_classes(self, ns, params, false),
            "EnumerateClassNames" => class::enumerate_classes(self, ns, params, true),
            "GetInstance" => instance::get_instance(self, ns, params),
            "EnumerateInstances" => instance::enumerate(self, ns, params, false),
            "EnumerateInstanceNames" => instance::enumerate(self, ns, params, true),
            "Associators" => assoc::associators(self, ns, params, assoc::Kind::Associators),
            "AssociatorNames" => assoc::associators(self, ns, params, assoc::Kind::AssociatorNames),
            "References" => assoc::associators(self, ns, params, assoc::Kind::References),
            "ReferenceNames" => assoc::associators(self, ns, params, assoc::Kind::ReferenceNames),
            "OpenEnumerateInstances" => pull::open(self, ns, params, false),
            "OpenEnumerateInstancePaths" => pull::open(self, ns, params, true),
            "PullInstancesWithPath" => pull::pull(self, params, pull::Shape::WithPaths),
            "PullInstancePaths" => pull::pull(self, params, pull::Shape::Paths),
            "PullInstances" => pull::pull(self, params, pull::Shape::Instances),
            "OpenQueryInstances" => pull::open_query(self, ns, params),
            "EnumerationCount" => pull::count(self, params),
            "OpenAssociatorInstances" => pull::open_assoc(self, ns, params, false, false),
            "OpenAssociatorInstancePaths" => pull::open_assoc(self, ns, params, false, true),
            "OpenReferenceInstances" => pull::open_assoc(self, ns, params, true, false),
            "OpenReferenceInstancePaths" => pull::open_assoc(self, ns, params, true, true),
            "CloseEnumeration" => pull::close(self, params),
            "ExecQuery" => query::exec_query(self, ns, params),
            "CreateInstance" => instance::create_instance(self, ns, params),
            "DeleteInstance" => instance::delete_instance(self, ns, params),
            "ModifyInstance" => instance::modify_instance(self, ns, params).await,
            "GetProperty"
            | "SetProperty"
            | "CreateClass"
            | "ModifyClass"
            | "DeleteClass"
            | "GetQualifier"
            | "SetQualifier"
            | "DeleteQualifier"
            | "EnumerateQualifiers" => Err(CimError::new(
                CimStatus::NotSupported,
                format!("operation {name} is not supported by this server"),
            )),
            other => Err(CimError::new(
                CimStatus::NotSupported,
                format!("unknown operation {other}"),
            )),
        }
    }
}

pub fn check_namespace(ns: &str) -> Result<(), CimError> {
    if ns == NS_VIRT || ns == NS_INTEROP {
        Ok(())
    } else {
        Err(CimError::new(
            CimStatus::InvalidNamespace,
            format!("namespace '{ns}' does not exist"),
        ))
    }
}

/// The parameters of one call, looked up by name (case-insensitive).
#[derive(Clone, Copy)]
pub struct Params<'a>(pub &'a [(String, Param)]);

impl<'a> Params<'a> {
    pub fn get(&self, name: &str) -> Option<&'a Param> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| p)
    }

    /// A boolean flag; `default` when absent.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, CimError> {
        match self.get(name) {
            None | Some(Param::Null) => Ok(default),
            Some(Param::Value(v)) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(Param::Value(v)) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(CimError::new(
                CimStatus::InvalidParameter,
                format!("parameter {name} must be a boolean"),
            )),
        }
    }

    pub fn class_name(&self, name: &str) -> Result<Option<String>, CimError> {
        match self.get(name) {
            None | Some(Param::Null) => Ok(None),
            Some(Param::ClassName(c)) => Ok(Some(c.clone())),
            Some(Param::Value(c)) => Ok(Some(c.clone())),
            Some(_) => Err(CimError::new(
                CimStatus::InvalidParameter,
                format!("parameter {name} must be a class name"),
            )),
        }
    }

    pub fn required_class(&self, name: &str) -> Result<String, CimError> {
        self.class_name(name)?
            .ok_or_else(|| CimError::new(CimStatus::InvalidParameter, format!("parameter {name} is missing")))
    }

    pub fn instance_name(&self, name: &str) -> Result<ObjectPath, CimError> {
        match self.get(name) {
            Some(Param::InstanceName(p)) | Some(Param::Ref(p)) => Ok(p.clone()),
            None | Some(Param::Null) => Err(CimError::new(
                CimStatus::InvalidParameter,
                format!("parameter {name} is missing"),
            )),
            Some(_) => Err(CimError::new(
                CimStatus::InvalidParameter,
                format!("parameter {name} must be an instance name"),
            )),
        }
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, CimError> {
        match self.get(name) {
            None | Some(Param::Null) => Ok(None),
            Some(Param::Value(v)) => Ok(Some(v.clone())),
            Some(_) => Err(CimError::new(
                CimStatus::InvalidParameter,
                format!("parameter {name} must be a string"),
            )),
        }
    }

    pub fn uint(&self, name: &str) -> Result<Option<u64>, CimError> {
        match self.string(name)? {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                CimError::new(
                    CimStatus::InvalidParameter,
                    format!("parameter {name} must be an unsigned integer"),
                )
            }),
        }
    }

    /// `PropertyList`: `None` means all properties.
    pub fn property_list(&self) -> Result<Option<Vec<String>>, CimError> {
        match self.get("PropertyList") {
            None | Some(Param::Null) => Ok(None),
            Some(Param::Array(items)) => Ok(Some(items.clone())),
            Some(Param::Value(v)) => Ok(Some(vec![v.clone()])),
            Some(_) => Err(CimError::new(
                CimStatus::InvalidParameter,
                "PropertyList must be a string array",
            )),
        }
    }
}
