//! root/interop: the object manager, the namespaces and the registered
//! profiles (libvirt-cim's RegisteredProfile InstanceIDs), which is what
//! pywbem's `WBEMServer` looks for.

use super::Ctx;
use crate::schema::{NS_INTEROP, NS_VIRT};
use crate::value::{CimType, Instance, Value};

pub const OBJECT_MANAGER_CLASS: &str = "CIM_ObjectManager";

/// (InstanceID, RegisteredName, RegisteredVersion), DMTF organisation (2).
pub const PROFILES: &[(&str, &str, &str)] = &[
    (
        "CIM:DSP1042-SystemVirtualization-1.0.0",
        "System Virtualization",
        "1.0.0",
    ),
    ("CIM:DSP1057-VirtualSystem-1.0.0a", "Virtual System Profile", "1.0.0a"),
    (
        "CIM:DSP1059-GenericDeviceResourceVirtualization-1.0.0_d",
        "Generic Device Resource Virtualization",
        "1.0.0",
    ),
    (
        "CIM:DSP1045-MemoryResourceVirtualization-1.0.0",
        "Memory Resource Virtualization",
        "1.0.0",
    ),
    (
        "CIM:DSP1043-AllocationCapabilities-1.0.0a",
        "Allocation Capabilities",
        "1.0.0a",
    ),
];

pub fn object_manager_name(ctx: &Ctx<'_>) -> String {
    format!("virtbus:{}", ctx.host)
}

pub fn object_manager(ctx: &Ctx<'_>) -> Instance {
    Instance::new(OBJECT_MANAGER_CLASS)
        .with("SystemCreationClassName", CimType::String, Value::str("KVM_HostSystem"))
        .with("SystemName", CimType::String, Value::str(ctx.host))
        .with("CreationClassName", CimType::String, Value::str(OBJECT_MANAGER_CLASS))
        .with("Name", CimType::String, Value::str(object_manager_name(ctx)))
        .with("ElementName", CimType::String, Value::str("virtbus"))
        .with(
            "Description",
            CimType::String,
            Value::str(format!("virtbus {} CIM server", env!("CARGO_PKG_VERSION"))),
        )
        .with("EnabledState", CimType::Uint16, Value::num(2))
        .with("Started", CimType::Boolean, Value::bool(true))
}

pub fn instances(ctx: &Ctx<'_>, class: &str) -> Option<Vec<Instance>> {
    Some(match class {
        OBJECT_MANAGER_CLASS => vec![object_manager(ctx)],
        "CIM_Namespace" => [NS_INTEROP, NS_VIRT]
            .iter()
            .map(|ns| {
                Instance::new("CIM_Namespace")
                    .with("SystemCreationClassName", CimType::String, Value::str("KVM_HostSystem"))
                    .with("SystemName", CimType::String, Value::str(ctx.host))
                    .with(
                        "ObjectManagerCreationClassName",
                        CimType::String,
                        Value::str(OBJECT_MANAGER_CLASS),
                    )
                    .with(
                        "ObjectManagerName",
                        CimType::String,
                        Value::str(object_manager_name(ctx)),
                    )
                    .with("CreationClassName", CimType::String, Value::str("CIM_Namespace"))
                    .with("Name", CimType::String, Value::str(*ns))
                    .with("ClassInfo", CimType::Uint16, Value::num(0))
            })
            .collect(),
        "KVM_RegisteredProfile" => PROFILES
            .iter()
            .map(|(id, name, version)| {
                Instance::new("KVM_RegisteredProfile")
                    .with("InstanceID", CimType::String, Value::str(*id))
                    .with("RegisteredOrganization", CimType::Uint16, Value::num(2))
                    .with("RegisteredName", CimType::String, Value::str(*name))
                    .with("RegisteredVersion", CimType::String, Value::str(*version))
                    .with("AdvertiseTypes", CimType::Uint16, Value::Array(vec!["3".into()]))
                    .with("ElementName", CimType::String, Value::str(*name))
            })
            .collect(),
        _ => return None,
    })
}
