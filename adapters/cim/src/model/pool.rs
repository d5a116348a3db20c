//! Resource pools: the primordial processor, memory, graphics, input and
//! controller pools (`<Kind>Pool/0`), one DiskPool per storage pool
//! (`DiskPool/<name>`) and one NetworkPool per network (`NetworkPool/<name>`).

use super::device::{RT_DISK, RT_GRAPHICS, RT_INPUT, RT_MEM, RT_NET, RT_OTHER, RT_PROC};
use super::Ctx;
use crate::value::{CimType, Instance, Value};
use virtbus_drivers::VolumeRecord;

/// libvirt-cim's CIM_RES_TYPE_IMAGE: the ResourceType of a storage volume.
pub const RT_IMAGE: u16 = 32768;
/// The StorageVolume RASD class.
pub const VOLUME_RASD: &str = "KVM_StorageVolumeResourceAllocationSettingData";

/// libvirt-cim's FormatType of a volume format (1 raw, 2 qcow2, 0 other).
pub fn format_type(format: Option<&str>) -> u16 {
    match format {
        Some("raw") => 1,
        Some("qcow2") => 2,
        _ => 0,
    }
}

/// The InstanceID of a volume's RASD: its path, as libvirt-cim returns it
/// from CreateResourceInPool; `<pool>/<volume>` for a volume without a path.
pub fn volume_id(vol: &VolumeRecord) -> String {
    match &vol.def.target_path {
        Some(path) => path.clone(),
        None => format!("{}/{}", vol.pool, vol.def.name),
    }
}

/// A storage volume as a KVM_StorageVolumeResourceAllocationSettingData.
pub fn volume_rasd(vol: &VolumeRecord) -> Instance {
    let def = &vol.def;
    Instance::new(VOLUME_RASD)
        .with("InstanceID", CimType::String, Value::str(volume_id(vol)))
        .with("ResourceType", CimType::Uint16, Value::num(RT_IMAGE))
        .with("PoolID", CimType::String, Value::str(format!("DiskPool/{}", vol.pool)))
        .with("VolumeName", CimType::String, Value::str(&def.name))
        .with("Path", CimType::String, Value::opt_str(def.target_path.as_deref()))
        .with("Address", CimType::String, Value::opt_str(def.target_path.as_deref()))
        .with(
            "FormatType",
            CimType::Uint16,
            Value::num(format_type(def.format.as_deref())),
        )
        .with("Capacity", CimType::Uint64, Value::num(def.capacity_bytes))
        .with(
            "AllocationQuantity",
            CimType::Uint64,
            Value::num(def.allocation_bytes.unwrap_or(def.capacity_bytes)),
        )
        .with("AllocationUnits", CimType::String, Value::str("Bytes"))
}

fn pool(class: &str, id: &str, resource_type: u16, primordial: bool) -> Instance {
    Instance::new(class)
        .with("InstanceID", CimType::String, Value::str(id))
        .with("PoolID", CimType::String, Value::str(id))
        .with("ElementName", CimType::String, Value::str(id))
        .with("ResourceType", CimType::Uint16, Value::num(resource_type))
        .with("Primordial", CimType::Boolean, Value::bool(primordial))
}

pub fn instances(ctx: &Ctx<'_>, class: &str) -> Option<Vec<Instance>> {
    let node = ctx.snap.node.clone().unwrap_or_default();
    Some(match class {
        "KVM_ProcessorPool" => vec![pool(class, "ProcessorPool/0", RT_PROC, true)
            .with("Capacity", CimType::Uint64, Value::num(node.cpus))
            .with("AllocationUnits", CimType::String, Value::str("Processors"))],
        "KVM_MemoryPool" => vec![pool(class, "MemoryPool/0", RT_MEM, true)
            .with("Capacity", CimType::Uint64, Value::num(node.memory_kib))
            .with("AllocationUnits", CimType::String, Value::str("KiloBytes"))],
        "KVM_GraphicsPool" => vec![pool(class, "GraphicsPool/0", RT_GRAPHICS, true)],
        "KVM_InputPool" => vec![pool(class, "InputPool/0", RT_INPUT, true)],
        "KVM_ControllerPool" => vec![pool(class, "ControllerPool/0", RT_OTHER, true).with(
            "OtherResourceType",
            CimType::String,
            Value::str("controller"),
        )],
        "KVM_DiskPool" => ctx
            .snap
            .pools
            .values()
            .map(|p| {
                pool(class, &format!("DiskPool/{}", p.def.name), RT_DISK, false)
                    .with("Capacity", CimType::Uint64, Value::num(p.def.capacity_bytes))
                    .with("Reserved", CimType::Uint64, Value::num(p.def.allocation_bytes))
                    .with("AllocationUnits", CimType::String, Value::str("Bytes"))
                    .with("Path", CimType::String, Value::opt_str(p.def.target_path.as_deref()))
            })
            .collect(),
        VOLUME_RASD => ctx
            .snap
            .pools
            .values()
            .flat_map(|p| p.volumes.iter().map(volume_rasd))
            .collect(),
        "KVM_NetworkPool" => ctx
            .snap
            .networks
            .values()
            .map(|n| pool(class, &format!("NetworkPool/{}", n.def.name), RT_NET, false))
            .collect(),
        ALLOCATION_CAPABILITIES => allocation_capabilities(ctx),
        _ => return None,
    })
}

/// One KVM_AllocationCapabilities per pool, named like it (libvirt-cim).
pub fn allocation_capabilities(ctx: &Ctx<'_>) -> Vec<Instance> {
    all_pools(ctx)
        .iter()
        .map(|p| {
            let id = p.get_str("InstanceID").unwrap_or_default();
            Instance::new(ALLOCATION_CAPABILITIES)
                .with("InstanceID", CimType::String, Value::str(id))
                .with(
                    "ElementName",
                    CimType::String,
                    Value::str(format!("Allocation of {id}")),
                )
                .with(
                    "ResourceType",
                    CimType::Uint16,
                    p.get("ResourceType").cloned().unwrap_or(Value::Null),
                )
        })
        .collect()
}

pub const ALLOCATION_CAPABILITIES: &str = "KVM_AllocationCapabilities";
/// The setting templates' InstanceIDs with their SettingsDefineCapabilities
/// (ValueRole, ValueRange): Default is the default point, the others the
/// supported minimum, maximum and increment (DSP1043).
pub const TEMPLATES: &[(&str, u16, u16)] = &[
    ("Default", 0, 0),
    ("Minimum", 3, 1),
    ("Maximum", 3, 2),
    ("Increment", 3, 3),
];

/// The setting templates of the pool `pool_id` (processors and memory; other
/// pools have none): RASDs named `Default`, `Minimum`, `Maximum` and
/// `Increment`, as libvirt-cim's SettingsDefineCapabilities returns them.
/// Memory: 256 MiB default, 64 MiB minimum, the host's memory as maximum,
/// 1 MiB steps; processors: 1 by default and at least, the host's CPUs at
/// most, steps of 1.
pub fn templates(ctx: &Ctx<'_>, pool_id: &str) -> Vec<Instance> {
    let node = ctx.snap.node.clone().unwrap_or_default();
    let (class, resource_type, units, quantities): (&str, u16, &str, [u64; 4]) = match pool_id {
        "MemoryPool/0" => (
            "KVM_MemResourceAllocationSettingData",
            RT_MEM,
            "KiloBytes",
            [256 * 1024, 64 * 1024, node.memory_kib.max(256 * 1024), 1024],
        ),
        "ProcessorPool/0" => (
            "KVM_ProcResourceAllocationSettingData",
            RT_PROC,
            "Processors",
            [1, 1, u64::from(node.cpus).max(1), 1],
        ),
        _ => return Vec::new(),
    };
    TEMPLATES
        .iter()
        .zip(quantities)
        .map(|((id, _, _), quantity)| {
            let inst = Instance::new(class)
                .with("InstanceID", CimType::String, Value::str(*id))
                .with("ElementName", CimType::String, Value::str(*id))
                .with("ResourceType", CimType::Uint16, Value::num(resource_type))
                .with("AllocationUnits", CimType::String, Value::str(units))
                .with("VirtualQuantity", CimType::Uint64, Value::num(quantity))
                .with("PoolID", CimType::String, Value::str(pool_id));
            if resource_type == RT_MEM {
                inst.with("Limit", CimType::Uint64, Value::num(quantity))
            } else {
                inst
            }
        })
        .collect()
}

/// The template of `class` with InstanceID `id`, for GetInstance and the
/// far end of SettingsDefineCapabilities (templates are not enumerated).
pub fn template_at(ctx: &Ctx<'_>, class: &str, id: &str) -> Option<Instance> {
    let pool_id = match class {
        "KVM_MemResourceAllocationSettingData" => "MemoryPool/0",
        "KVM_ProcResourceAllocationSettingData" => "ProcessorPool/0",
        _ => return None,
    };
    templates(ctx, pool_id)
        .into_iter()
        .find(|t| t.get_str("InstanceID") == Some(id))
}

/// Pool classes with their instance ids, for associations.
pub fn all_pools(ctx: &Ctx<'_>) -> Vec<Instance> {
    [
        "KVM_ProcessorPool",
        "KVM_MemoryPool",
        "KVM_DiskPool",
        "KVM_NetworkPool",
        "KVM_GraphicsPool",
        "KVM_InputPool",
        "KVM_ControllerPool",
    ]
    .iter()
    .flat_map(|c| instances(ctx, c).unwrap_or_default())
    .collect()
}

/// The class of the pool with `pool_id`.
pub fn class_of(pool_id: &str) -> Option<&'static str> {
    Some(match pool_id.split('/').next()? {
        "ProcessorPool" => "KVM_ProcessorPool",
        "MemoryPool" => "KVM_MemoryPool",
        "DiskPool" => "KVM_DiskPool",
        "NetworkPool" => "KVM_NetworkPool",
        "GraphicsPool" => "KVM_GraphicsPool",
        "InputPool" => "KVM_InputPool",
        "ControllerPool" => "KVM_ControllerPool",
        _ => return None,
    })
}
