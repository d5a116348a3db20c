//! `_method_request`: libvirt-qmf's method set (plus network methods) run
//! as core commands (docs/amqp.md §5). Failures are [`QmfError`]s, sent as
//! `_exception`.

use super::error::QmfError;
use super::model::{self, ObjectRef};
use super::wire::MethodRequest;
use super::Agent;
use serde_json::{json, Map, Value};
use virtbus_actors::{DomainOp, NetworkOp, PoolOp};
use virtbus_schemas::{ErrorCode, VirtError};

/// Methods of each class, for the unknown-method check.
fn methods(class: &str) -> &'static [&'static str] {
    match class {
        "node" => &[
            "domainDefineXML",
            "domainCreateXML",
            "storagePoolDefineXML",
            "storagePoolCreateXML",
            "findStoragePoolSources",
            "networkDefineXML",
            "networkCreateXML",
            "getVersion",
        ],
        "domain" => &[
            "create",
            "destroy",
            "undefine",
            "suspend",
            "resume",
            "shutdown",
            "reboot",
            "getXMLDesc",
            "save",
            "restore",
            "migrate",
        ],
        "pool" => &[
            "getXMLDesc",
            "create",
            "build",
            "destroy",
            "delete",
            "undefine",
            "createVolumeXML",
            "refresh",
        ],
        "volume" => &["getXMLDesc", "delete"],
        "network" => &["getXMLDesc", "create", "destroy", "undefine"],
        _ => &[],
    }
}

/// Methods that change nothing, open to every broker user.
pub fn is_read_only(method: &str) -> bool {
    matches!(method, "getXMLDesc" | "getVersion")
}

impl Agent {
    /// Runs one method; `user_id` is the broker-validated AMQP `user_id`.
    pub async fn call(&self, req: &MethodRequest, user_id: Option<&str>) -> Result<Map<String, Value>, QmfError> {
        let target =
            ObjectRef::parse(&req.object_name).ok_or_else(|| QmfError::UnknownObject(req.object_name.clone()))?;
        self.check_exists(&target, &req.object_name)?;
        let class = target.class();
        if !methods(class).contains(&req.method.as_str()) {
            return Err(QmfError::UnknownMethod {
                class: class.into(),
                method: req.method.chars().take(128).collect(),
            });
        }
        if !is_read_only(&req.method) && !user_id.is_some_and(|u| self.writers.iter().any(|w| w == u)) {
            return Err(VirtError::new(
                ErrorCode::OperationDenied,
                format!(
                    "method '{}' of '{}' needs a broker user listed in [amqp] writers (user_id {})",
                    req.method,
                    req.object_name,
                    user_id.map(|u| format!("'{u}'")).unwrap_or_else(|| "not set".into())
                ),
            )
            .into());
        }
        let args = &req.arguments;
        let agent = self.facts.agent_name.as_str();
        let done = || Ok(Map::new());
        match (target, req.method.as_str()) {
            (ObjectRef::Node, "getVersion") => Ok(out(json!({
                "libvirtVersion": "9.0.0",
                "hypervisorVersion": self.facts.hypervisor_version,
                "hypervisorType": self.facts.hypervisor_type,
                "agentVersion": env!("CARGO_PKG_VERSION"),
            }))),
            (ObjectRef::Node, "domainDefineXML") => {
                let d = self.core.define_domain(str_arg(args, "xmlDesc")?).await?;
                Ok(out(
                    json!({"domain": model::object_id(agent, &model::domain_name(d.uuid()))}),
                ))
            }
            (ObjectRef::Node, "domainCreateXML") => {
                let d = self.core.create_domain(str_arg(args, "xmlDesc")?).await?;
                Ok(out(
                    json!({"domain": model::object_id(agent, &model::domain_name(d.uuid()))}),
                ))
            }
            (ObjectRef::Node, "storagePoolDefineXML") => {
                let p = self.core.define_pool(str_arg(args, "xmlDesc")?).await?;
                Ok(out(
                    json!({"pool": model::object_id(agent, &model::pool_name(p.def.uuid))}),
                ))
            }
            (ObjectRef::Node, "storagePoolCreateXML") => {
                let p = self.core.create_pool(str_arg(args, "xmlDesc")?).await?;
                Ok(out(
                    json!({"pool": model::object_id(agent, &model::pool_name(p.def.uuid))}),
                ))
            }
            (ObjectRef::Node, "networkDefineXML") => {
                let n = self.core.define_network(str_arg(args, "xmlDesc")?).await?;
                Ok(out(
                    json!({"network": model::object_id(agent, &model::network_name(n.def.uuid))}),
                ))
            }
            (ObjectRef::Node, "networkCreateXML") => {
                let n = self.core.create_network(str_arg(args, "xmlDesc")?).await?;
                Ok(out(
                    json!({"network": model::object_id(agent, &model::network_name(n.def.uuid))}),
                ))
            }
            (ObjectRef::Node, "findStoragePoolSources") => {
                str_arg(args, "type")?;
                Err(no_support("findStoragePoolSources", "node"))
            }
            (ObjectRef::Domain(uuid), method) => {
                let op = match method {
                    "getXMLDesc" => {
                        let d = self.core.lookup_domain(&uuid.to_string())?;
                        return Ok(out(json!({"description": d.def.to_xml()})));
                    }
                    "create" => DomainOp::Start,
                    "destroy" => DomainOp::Destroy,
                    "undefine" => DomainOp::Undefine,
                    "suspend" => DomainOp::Suspend,
                    "resume" => DomainOp::Resume,
                    "shutdown" => DomainOp::Shutdown,
                    "reboot" => DomainOp::Reboot,
                    "save" | "restore" => {
                        str_arg(args, "filename")?;
                        return Err(no_support(method, &req.object_name));
                    }
                    _ => return Err(no_support(method, &req.object_name)),
                };
                self.core.domain_record(uuid, op).await?;
                done()
            }
            (ObjectRef::Pool(uuid), method) => {
                let op = match method {
                    "getXMLDesc" => {
                        let p = self.core.lookup_pool(&uuid.to_string())?;
                        return Ok(out(json!({"description": p.def.to_xml()})));
                    }
                    "createVolumeXML" => {
                        let v = self.core.create_volume(uuid, str_arg(args, "xmlDesc")?).await?;
                        return Ok(out(json!({
                            "volume": model::object_id(agent, &model::volume_name(uuid, &v.def.name))
                        })));
                    }
                    "create" => PoolOp::Start,
                    "build" => PoolOp::Build,
                    "destroy" => PoolOp::Destroy,
                    "delete" => PoolOp::Delete,
                    "undefine" => PoolOp::Undefine,
                    _ => PoolOp::Refresh,
                };
                self.core.pool_record(uuid, op).await?;
                done()
            }
            (ObjectRef::Volume(pool, name), method) => {
                if method == "getXMLDesc" {
                    let snap = self.core.snapshot();
                    let (_, v) = model::find_volume(&snap, pool, &name)
                        .ok_or_else(|| QmfError::UnknownObject(req.object_name.clone()))?;
                    return Ok(out(json!({"description": v.def.to_xml()})));
                }
                self.core.pool(pool, PoolOp::DeleteVolume(name)).await?;
                done()
            }
            (ObjectRef::Network(uuid), method) => {
                let op = match method {
                    "getXMLDesc" => {
                        let n = self.core.lookup_network(&uuid.to_string())?;
                        return Ok(out(json!({"description": n.def.to_xml()})));
                    }
                    "create" => NetworkOp::Start,
                    "destroy" => NetworkOp::Destroy,
                    _ => NetworkOp::Undefine,
                };
                self.core.network(uuid, op).await?;
                done()
            }
            (target, method) => Err(QmfError::UnknownMethod {
                class: target.class().into(),
                method: method.into(),
            }),
        }
    }

    fn check_exists(&self, target: &ObjectRef, name: &str) -> Result<(), QmfError> {
        let snap = self.core.snapshot();
        let exists = match target {
            ObjectRef::Node => true,
            ObjectRef::Domain(u) | ObjectRef::DomainStats(u) => snap.domains.contains_key(u),
            ObjectRef::Pool(u) => snap.pools.contains_key(u),
            ObjectRef::Network(u) => snap.networks.contains_key(u),
            ObjectRef::Volume(p, v) => model::find_volume(&snap, *p, v).is_some(),
        };
        if exists {
            Ok(())
        } else {
            Err(QmfError::UnknownObject(name.chars().take(256).collect()))
        }
    }
}

/// A required string argument.
fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, QmfError> {
    match args.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(QmfError::invalid_arg(format!(
            "argument '{name}' must be a string, got {}",
            type_name(other)
        ))),
        None => Err(QmfError::invalid_arg(format!("missing argument '{name}'"))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn no_support(method: &str, object: &str) -> QmfError {
    VirtError::new(
        ErrorCode::NoSupport,
        format!("method '{method}' of '{object}' is not supported by this driver"),
    )
    .into()
}

fn out(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
