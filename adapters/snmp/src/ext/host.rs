//! `virtbusHost` (`virtbusObjects.1`): scalars about the host. The node
//! info comes from the snapshot (the core fills it at start); the driver
//! type, version and host name are read once when the agent starts.

use crate::oids::{oid_with, VIRTBUS_MIB};
use async_snmp::handler::GetResult;
use async_snmp::{Value, VarBind};
use virtbus_actors::Core;
use virtbus_schemas::NodeInfo;

/// The host group's arc under `virtbusObjects`.
pub const ARC: u32 = 1;
/// The last scalar (`virtbusHostMemory`).
const LAST: u32 = 12;

/// What does not change while the agent runs.
pub struct Host {
    name: String,
    hypervisor: String,
    hypervisor_version: String,
    uri: String,
}

/// libvirt's version number (major * 1,000,000 + minor * 1,000 + release)
/// as text.
fn version_string(v: u64) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000)
}

fn text(s: &str) -> Value {
    Value::OctetString(s.as_bytes().to_vec().into())
}

impl Host {
    pub fn new(core: &Core) -> Host {
        let node = &core.connection().node;
        Host {
            name: core.hostname().unwrap_or_default(),
            hypervisor: node.hypervisor_type().to_string(),
            hypervisor_version: node.hypervisor_version().map(version_string).unwrap_or_default(),
            uri: core.uri().to_string(),
        }
    }

    fn value(&self, core: &Core, sub: u32) -> Option<Value> {
        let node = || -> NodeInfo {
            core.snapshot()
                .node
                .as_deref()
                .cloned()
                .or_else(|| core.node_info().ok())
                .unwrap_or_default()
        };
        Some(match sub {
            1 => text(&self.name),
            2 => text(&self.hypervisor),
            3 => text(&self.hypervisor_version),
            4 => text(&self.uri),
            5 => text(&node().model),
            6 => Value::Gauge32(node().cpus),
            7 => Value::Gauge32(node().mhz),
            8 => Value::Gauge32(node().nodes),
            9 => Value::Gauge32(node().sockets),
            10 => Value::Gauge32(node().cores),
            11 => Value::Gauge32(node().threads),
            12 => Value::Counter64(node().memory_kib),
            _ => return None,
        })
    }

    /// GET of `virtbusHost.rest`.
    pub fn get(&self, core: &Core, rest: &[u32]) -> GetResult {
        match rest {
            [sub, 0] => match self.value(core, *sub) {
                Some(v) => GetResult::Value(v),
                None => GetResult::NoSuchObject,
            },
            [sub, ..] if (1..=LAST).contains(sub) => GetResult::NoSuchInstance,
            _ => GetResult::NoSuchObject,
        }
    }

    /// GETNEXT within the group: `after` is what follows `virtbusHost` in
    /// the requested OID (`None`: the OID sorts before the group).
    pub fn next(&self, core: &Core, after: Option<&[u32]>) -> Option<VarBind> {
        let next = match after {
            None | Some([]) => 1,
            Some([sub]) => (*sub).max(1),
            Some([sub, ..]) => sub.checked_add(1)?.max(1),
        };
        if next > LAST {
            return None;
        }
        let value = self.value(core, next)?;
        Some(VarBind::new(
            oid_with(VIRTBUS_MIB, &[super::OBJECTS, ARC, next, 0]),
            value,
        ))
    }
}
