//! The instances of the KVM_* model, computed from one core [`Snapshot`].
//!
//! Every concrete class has a provider that yields its instances
//! ([`instances`]); guest-scoped providers honour [`Ctx::guest`] so that a
//! lookup about one guest does not build the instances of all of them.
//! Layout: `system.rs` (guests, host, settings, services, capabilities),
//! `device.rs` (the devices of a guest and their RASDs), `pool.rs`,
//! `interop.rs` (root/interop) and `assoc.rs` (association instances).

pub mod assoc;
pub mod device;
pub mod interop;
pub mod pool;
pub mod system;

use crate::schema::Schema;
use crate::value::{Instance, KeyValue, ObjectPath, Value};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_actors::Snapshot;
use virtbus_drivers::DomainRecord;

/// The `RequestedState` last asked of each guest (libvirt-cim keeps it in
/// its infostore; we keep it for the life of the agent).
#[derive(Default)]
pub struct RequestedStates(Mutex<HashMap<Uuid, u16>>);

impl RequestedStates {
    pub fn get(&self, uuid: &Uuid) -> Option<u16> {
        self.0.lock().get(uuid).copied()
    }

    pub fn set(&self, uuid: Uuid, state: u16) {
        self.0.lock().insert(uuid, state);
    }
}

/// What a provider reads.
pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub host: &'a str,
    pub requested: &'a RequestedStates,
    pub namespace: &'a str,
    /// Restricts guest-scoped providers to one guest (by name).
    pub guest: Option<String>,
    /// Indication filters, destinations and subscriptions (root/interop).
    pub indications: Option<&'a crate::indication::Registry>,
}

impl Ctx<'_> {
    /// The guests in scope, in snapshot (UUID) order.
    pub fn guests(&self) -> Vec<Arc<DomainRecord>> {
        match &self.guest {
            Some(name) => self.snap.domain_by_name(name).cloned().into_iter().collect(),
            None => self.snap.domains.values().cloned().collect(),
        }
    }

    pub fn path(&self, class: &str) -> ObjectPath {
        ObjectPath::new(self.namespace, class)
    }
}

/// The concrete classes instances can exist of.
pub const CONCRETE: &[&str] = &[
    "KVM_ComputerSystem",
    "KVM_HostSystem",
    "KVM_VirtualSystemSettingData",
    "KVM_ProcResourceAllocationSettingData",
    "KVM_MemResourceAllocationSettingData",
    "KVM_DiskResourceAllocationSettingData",
    "KVM_NetResourceAllocationSettingData",
    "KVM_GraphicsResourceAllocationSettingData",
    "KVM_InputResourceAllocationSettingData",
    "KVM_ConsoleResourceAllocationSettingData",
    "KVM_ControllerResourceAllocationSettingData",
    "KVM_StorageVolumeResourceAllocationSettingData",
    "KVM_Processor",
    "KVM_Memory",
    "KVM_LogicalDisk",
    "KVM_NetworkPort",
    "KVM_DisplayController",
    "KVM_PointingDevice",
    "KVM_Controller",
    "KVM_ProcessorPool",
    "KVM_MemoryPool",
    "KVM_DiskPool",
    "KVM_NetworkPool",
    "KVM_GraphicsPool",
    "KVM_InputPool",
    "KVM_ControllerPool",
    "KVM_VirtualSystemManagementService",
    "KVM_ResourcePoolConfigurationService",
    "KVM_EnabledLogicalElementCapabilities",
    "KVM_VirtualSystemManagementCapabilities",
    "KVM_AllocationCapabilities",
    "CIM_Namespace",
    "CIM_ObjectManager",
    "KVM_RegisteredProfile",
    "KVM_SystemDevice",
    "KVM_VirtualSystemSettingDataComponent",
    "KVM_SettingsDefineState",
    "KVM_ElementSettingData",
    "KVM_HostedDependency",
    "KVM_ElementAllocatedFromPool",
    "KVM_ResourceAllocationFromPool",
    "KVM_HostedResourcePool",
    "KVM_HostedService",
    "KVM_ElementCapabilities",
    "KVM_SettingsDefineCapabilities",
    "KVM_ElementConformsToProfile",
    "CIM_IndicationFilter",
    "CIM_ListenerDestinationCIMXML",
    "CIM_IndicationHandlerCIMXML",
    "CIM_IndicationSubscription",
];

/// The instances of exactly `class` (no subclasses) visible in the context.
pub fn instances(ctx: &Ctx<'_>, class: &str) -> Vec<Instance> {
    if crate::indication::CLASSES.contains(&class) {
        return ctx.indications.map(|r| r.instances(class)).unwrap_or_default();
    }
    if let Some(list) = system::instances(ctx, class) {
        return list;
    }
    if let Some(list) = device::instances(ctx, class) {
        return list;
    }
    if let Some(list) = pool::instances(ctx, class) {
        return list;
    }
    if let Some(list) = interop::instances(ctx, class) {
        return list;
    }
    assoc::instances(ctx, class).unwrap_or_default()
}

/// The instances of the association `class` with the far end each one
/// carries (see [`assoc::with_far_ends`]).
pub fn association_instances(ctx: &Ctx<'_>, class: &str) -> Vec<(Instance, Option<Instance>)> {
    assoc::with_far_ends(ctx, class)
        .unwrap_or_else(|| instances(ctx, class).into_iter().map(|link| (link, None)).collect())
}

/// The concrete classes at or below `class` that have instances in `namespace`.
pub fn concrete_below<'s>(schema: &'s Schema, namespace: &'s str, class: &'s str) -> Vec<&'static str> {
    CONCRETE
        .iter()
        .copied()
        .filter(|c| schema.get(namespace, c).is_some() && schema.is_a(c, class))
        .collect()
}

/// An instance's path from its class's key properties.
pub fn path_of(schema: &Schema, namespace: &str, inst: &Instance) -> ObjectPath {
    let mut path = ObjectPath::new(namespace, &inst.class);
    if let Some(def) = schema.get(namespace, &inst.class) {
        for key in schema.keys(def) {
            match inst.get(key.name) {
                Some(Value::Scalar(text)) => path.keys.push((key.name.to_string(), KeyValue::Text(text.clone()))),
                Some(Value::Ref(target)) => path.keys.push((key.name.to_string(), KeyValue::Ref(target.clone()))),
                _ => {}
            }
        }
    }
    path
}

/// The guest a path is about, when its keys say so; lets lookups build the
/// instances of one guest only.
pub fn guest_of(path: &ObjectPath) -> Option<String> {
    let class = path.class.to_ascii_lowercase();
    if class == "kvm_computersystem" {
        return path.key_text("Name").map(str::to_string);
    }
    if class == "kvm_virtualsystemsettingdata" {
        return path
            .key_text("InstanceID")
            .and_then(|id| id.strip_prefix("KVM:"))
            .map(str::to_string);
    }
    if class == "kvm_enabledlogicalelementcapabilities" {
        return path.key_text("InstanceID").map(str::to_string);
    }
    if class.ends_with("resourceallocationsettingdata")
        && !class.ends_with("storagevolumeresourceallocationsettingdata")
    {
        return path
            .key_text("InstanceID")
            .and_then(|id| id.split_once('/'))
            .map(|(guest, _)| guest.to_string());
    }
    if path
        .key_text("SystemCreationClassName")
        .is_some_and(|c| c.eq_ignore_ascii_case("KVM_ComputerSystem"))
    {
        return path.key_text("SystemName").map(str::to_string);
    }
    None
}

/// Finds the instance a path names (keys compared exactly).
pub fn get_instance(schema: &Schema, ctx: &Ctx<'_>, path: &ObjectPath) -> Option<Instance> {
    let def = schema.get(ctx.namespace, &path.class)?;
    instances(ctx, def.name)
        .into_iter()
        .find(|inst| path_of(schema, ctx.namespace, inst).matches(path))
        .or_else(|| pool::template_at(ctx, def.name, path.key_text("InstanceID")?))
}
