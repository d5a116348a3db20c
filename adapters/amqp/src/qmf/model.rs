//! The `org.libvirt` object model: class schemas (libvirt-qmf's property
//! and method names plus `network` and `domainStats`) and the `_values` of
//! each object, built from the core's snapshot. Object names are stable
//! (`domain/<uuid>`) so consoles can address objects across agent restarts.

use super::wire::PACKAGE;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use uuid::Uuid;
use virtbus_actors::Snapshot;
use virtbus_drivers::{DomainRecord, DomainStats, NetworkRecord, PoolRecord, VolumeRecord};

/// Classes in query order.
pub const CLASSES: &[&str] = &["node", "domain", "pool", "volume", "network", "domainStats"];
/// Event classes (schema type `_event`).
pub const EVENT_CLASSES: &[&str] = &["domainEvent", "poolEvent", "networkEvent"];

/// One object as a query returns it.
#[derive(Debug, Clone)]
pub struct QmfObject {
    pub class: &'static str,
    pub name: String,
    pub values: Map<String, Value>,
}

/// Facts about the agent the node object and object ids need.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    pub agent_name: String,
    pub hostname: String,
    pub uri: String,
    pub hypervisor_type: String,
    pub hypervisor_version: String,
}

pub fn schema_id(class: &str) -> Value {
    let kind = if EVENT_CLASSES.contains(&class) {
        "_event"
    } else {
        "_data"
    };
    json!({"_package_name": PACKAGE, "_class_name": class, "_type": kind, "_hash": null})
}

pub fn object_id(agent: &str, name: &str) -> Value {
    json!({"_agent_name": agent, "_object_name": name})
}

/// libvirt's `major.minor.micro` from its encoded number.
pub fn version_string(v: u64) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000)
}

pub fn node_values(facts: &NodeFacts, snap: &Snapshot) -> Map<String, Value> {
    let info = snap.node.clone().unwrap_or_default();
    obj(json!({
        "hostname": facts.hostname,
        "uri": facts.uri,
        "libvirtVersion": "9.0.0",
        "apiVersion": "9.0.0",
        "hypervisorVersion": facts.hypervisor_version,
        "hypervisorType": facts.hypervisor_type,
        "model": info.model,
        "memory": info.memory_kib,
        "cpus": info.cpus,
        "mhz": info.mhz,
        "nodes": info.nodes,
        "sockets": info.sockets,
        "cores": info.cores,
        "threads": info.threads,
    }))
}

/// A domain's values; `cpu_time` comes from sampled statistics when the
/// domain runs (0 otherwise).
pub fn domain_values(agent: &str, d: &DomainRecord, cpu_time: u64) -> Map<String, Value> {
    obj(json!({
        "uuid": d.uuid().to_string(),
        "name": d.name(),
        "id": d.id.map(i64::from).unwrap_or(-1),
        "node": object_id(agent, "node"),
        "state": d.state.state.human(),
        "stateCode": d.state.state.number(),
        "stateReason": d.state.reason_name(),
        "numVcpus": d.def.vcpu.current,
        "active": if d.is_active() { "true" } else { "false" },
        "maximumMemory": d.def.memory_kib,
        "memory": d.def.current_memory_kib,
        "cpuTime": cpu_time,
        "persistent": d.persistent,
        "autostart": d.autostart,
    }))
}

pub fn pool_values(agent: &str, p: &PoolRecord) -> Map<String, Value> {
    obj(json!({
        "uuid": p.def.uuid.to_string(),
        "name": p.def.name,
        "parentVolume": "",
        "state": p.state.human(),
        "capacity": p.def.capacity_bytes,
        "allocation": p.def.allocation_bytes,
        "available": p.def.available_bytes,
        "node": object_id(agent, "node"),
        "type": p.def.pool_type,
        "persistent": p.persistent,
        "autostart": p.autostart,
    }))
}

pub fn volume_values(agent: &str, pool: &PoolRecord, v: &VolumeRecord) -> Map<String, Value> {
    obj(json!({
        "key": v.def.key.clone().unwrap_or_default(),
        "path": v.def.target_path.clone().unwrap_or_default(),
        "name": v.def.name,
        "childLVMName": "",
        "capacity": v.def.capacity_bytes,
        "allocation": v.def.allocation_bytes.unwrap_or(0),
        "storagePool": object_id(agent, &pool_name(pool.def.uuid)),
    }))
}

pub fn network_values(agent: &str, n: &NetworkRecord) -> Map<String, Value> {
    obj(json!({
        "uuid": n.def.uuid.to_string(),
        "name": n.def.name,
        "bridge": n.def.bridge.clone().unwrap_or_default(),
        "forwardMode": n.def.forward_mode.clone().unwrap_or_default(),
        "active": n.active,
        "persistent": n.persistent,
        "autostart": n.autostart,
        "node": object_id(agent, "node"),
    }))
}

pub fn stats_values(agent: &str, uuid: Uuid, s: &DomainStats) -> Map<String, Value> {
    obj(json!({
        "domain": object_id(agent, &domain_name(uuid)),
        "cpuTime": s.cpu_time_ns,
        "vcpus": s.vcpus,
        "memoryMax": s.memory_max_kib,
        "memoryCurrent": s.memory_current_kib,
        "block": s.block,
        "net": s.net,
    }))
}

pub fn domain_name(uuid: Uuid) -> String {
    format!("domain/{uuid}")
}
pub fn pool_name(uuid: Uuid) -> String {
    format!("pool/{uuid}")
}
pub fn network_name(uuid: Uuid) -> String {
    format!("network/{uuid}")
}
pub fn volume_name(pool: Uuid, volume: &str) -> String {
    format!("volume/{pool}/{volume}")
}

/// An object name split into what it addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRef {
    Node,
    Domain(Uuid),
    Pool(Uuid),
    Volume(Uuid, String),
    Network(Uuid),
    DomainStats(Uuid),
}

impl ObjectRef {
    pub fn parse(name: &str) -> Option<ObjectRef> {
        if name == "node" {
            return Some(ObjectRef::Node);
        }
        let (kind, rest) = name.split_once('/')?;
        match kind {
            "domain" => Uuid::parse_str(rest).ok().map(ObjectRef::Domain),
            "pool" => Uuid::parse_str(rest).ok().map(ObjectRef::Pool),
            "network" => Uuid::parse_str(rest).ok().map(ObjectRef::Network),
            "domainStats" => Uuid::parse_str(rest).ok().map(ObjectRef::DomainStats),
            "volume" => {
                let (pool, vol) = rest.split_once('/')?;
                Some(ObjectRef::Volume(Uuid::parse_str(pool).ok()?, vol.to_string()))
            }
            _ => None,
        }
    }

    pub fn class(&self) -> &'static str {
        match self {
            ObjectRef::Node => "node",
            ObjectRef::Domain(_) => "domain",
            ObjectRef::Pool(_) => "pool",
            ObjectRef::Volume(..) => "volume",
            ObjectRef::Network(_) => "network",
            ObjectRef::DomainStats(_) => "domainStats",
        }
    }
}

/// Finds a volume by pool and name in the snapshot.
pub fn find_volume<'a>(snap: &'a Snapshot, pool: Uuid, name: &str) -> Option<(&'a Arc<PoolRecord>, &'a VolumeRecord)> {
    let p = snap.pools.get(&pool)?;
    p.volumes.iter().find(|v| v.def.name == name).map(|v| (p, v))
}

/// (name, QMF type) of each property.
type Props = &'static [(&'static str, &'static str)];
/// (method, [(argument, QMF type, direction)]).
type Methods = &'static [(&'static str, &'static [(&'static str, &'static str, &'static str)])];

/// The `SCHEMA` reply for one class: properties with QMF types and methods
/// with their arguments (docs/amqp.md §4, §5).
pub fn schema(class: &str) -> Option<Value> {
    let (props, methods): (Props, Methods) = match class {
        "node" => (
            &[
                ("hostname", "sstr"),
                ("uri", "sstr"),
                ("libvirtVersion", "sstr"),
                ("apiVersion", "sstr"),
                ("hypervisorVersion", "sstr"),
                ("hypervisorType", "sstr"),
                ("model", "sstr"),
                ("memory", "uint64"),
                ("cpus", "uint32"),
                ("mhz", "uint32"),
                ("nodes", "uint32"),
                ("sockets", "uint32"),
                ("cores", "uint32"),
                ("threads", "uint32"),
            ],
            &[
                ("domainDefineXML", &[("xmlDesc", "lstr", "I"), ("domain", "objId", "O")]),
                ("domainCreateXML", &[("xmlDesc", "lstr", "I"), ("domain", "objId", "O")]),
                (
                    "storagePoolDefineXML",
                    &[("xmlDesc", "lstr", "I"), ("pool", "objId", "O")],
                ),
                (
                    "storagePoolCreateXML",
                    &[("xmlDesc", "lstr", "I"), ("pool", "objId", "O")],
                ),
                (
                    "findStoragePoolSources",
                    &[
                        ("type", "lstr", "I"),
                        ("srcSpec", "lstr", "I"),
                        ("xmlDesc", "lstr", "O"),
                    ],
                ),
                (
                    "networkDefineXML",
                    &[("xmlDesc", "lstr", "I"), ("network", "objId", "O")],
                ),
                (
                    "networkCreateXML",
                    &[("xmlDesc", "lstr", "I"), ("network", "objId", "O")],
                ),
                (
                    "getVersion",
                    &[
                        ("libvirtVersion", "sstr", "O"),
                        ("hypervisorVersion", "sstr", "O"),
                        ("hypervisorType", "sstr", "O"),
                        ("agentVersion", "sstr", "O"),
                    ],
                ),
            ],
        ),
        "domain" => (
            &[
                ("uuid", "sstr"),
                ("name", "sstr"),
                ("id", "int64"),
                ("node", "objId"),
                ("state", "sstr"),
                ("stateCode", "uint32"),
                ("stateReason", "sstr"),
                ("numVcpus", "uint32"),
                ("active", "sstr"),
                ("maximumMemory", "uint64"),
                ("memory", "uint64"),
                ("cpuTime", "uint64"),
                ("persistent", "bool"),
                ("autostart", "bool"),
            ],
            &[
                ("create", &[]),
                ("destroy", &[]),
                ("undefine", &[]),
                ("suspend", &[]),
                ("resume", &[]),
                ("shutdown", &[]),
                ("reboot", &[]),
                ("getXMLDesc", &[("description", "lstr", "O")]),
                ("save", &[("filename", "sstr", "I")]),
                ("restore", &[("filename", "sstr", "I")]),
                (
                    "migrate",
                    &[
                        ("destinationUri", "sstr", "I"),
                        ("flags", "uint32", "I"),
                        ("newDomainName", "sstr", "I"),
                        ("uri", "sstr", "I"),
                        ("bandwidth", "uint32", "I"),
                    ],
                ),
            ],
        ),
        "pool" => (
            &[
                ("uuid", "sstr"),
                ("name", "sstr"),
                ("parentVolume", "sstr"),
                ("state", "sstr"),
                ("capacity", "uint64"),
                ("allocation", "uint64"),
                ("available", "uint64"),
                ("node", "objId"),
                ("type", "sstr"),
                ("persistent", "bool"),
                ("autostart", "bool"),
            ],
            &[
                ("getXMLDesc", &[("description", "lstr", "O")]),
                ("create", &[]),
                ("build", &[]),
                ("destroy", &[]),
                ("delete", &[]),
                ("undefine", &[]),
                ("createVolumeXML", &[("xmlDesc", "lstr", "I"), ("volume", "objId", "O")]),
                ("refresh", &[]),
            ],
        ),
        "volume" => (
            &[
                ("key", "sstr"),
                ("path", "sstr"),
                ("name", "sstr"),
                ("childLVMName", "sstr"),
                ("capacity", "uint64"),
                ("allocation", "uint64"),
                ("storagePool", "objId"),
            ],
            &[("getXMLDesc", &[("description", "lstr", "O")]), ("delete", &[])],
        ),
        "network" => (
            &[
                ("uuid", "sstr"),
                ("name", "sstr"),
                ("bridge", "sstr"),
                ("forwardMode", "sstr"),
                ("active", "bool"),
                ("persistent", "bool"),
                ("autostart", "bool"),
                ("node", "objId"),
            ],
            &[
                ("getXMLDesc", &[("description", "lstr", "O")]),
                ("create", &[]),
                ("destroy", &[]),
                ("undefine", &[]),
            ],
        ),
        "domainStats" => (
            &[
                ("domain", "objId"),
                ("cpuTime", "uint64"),
                ("vcpus", "uint32"),
                ("memoryMax", "uint64"),
                ("memoryCurrent", "uint64"),
                ("block", "list"),
                ("net", "list"),
            ],
            &[],
        ),
        "domainEvent" | "poolEvent" | "networkEvent" => (
            &[
                ("object_id", "objId"),
                ("class", "sstr"),
                ("uuid", "sstr"),
                ("name", "sstr"),
                ("event", "sstr"),
                ("event_code", "int32"),
                ("seq", "uint64"),
                ("epoch", "uint64"),
                ("timestamp", "uint64"),
                ("time", "sstr"),
            ],
            &[],
        ),
        _ => return None,
    };
    let mut properties = Map::new();
    for (name, kind) in props {
        properties.insert((*name).into(), json!({"_type": kind, "_access": "RO"}));
    }
    let mut method_map = Map::new();
    for (name, args) in methods {
        let mut arguments = Map::new();
        for (arg, kind, dir) in *args {
            arguments.insert((*arg).into(), json!({"_type": kind, "_dir": dir}));
        }
        method_map.insert((*name).into(), json!({"_arguments": arguments}));
    }
    Some(json!({"_schema_id": schema_id(class), "_properties": properties, "_methods": method_map}))
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
