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

/// The four kinds of setting template, in libvirt-cim's order.
const KINDS: [&str; 4] = ["Minimum", "Maximum", "Default", "Increment"];

/// SettingsDefineCapabilities' (ValueRole, ValueRange) for a template's
/// InstanceID, by the word it contains as libvirt-cim decides it (DSP1043):
/// Default is the default point (0, 0), the others supported (3) minimum
/// (1), maximum (2) or increment (3).
pub fn value_role(id: &str) -> (u16, u16) {
    if id.contains("Default") {
        (0, 0)
    } else if id.contains("Increment") {
        (3, 3)
    } else if id.contains("Maximum") {
        (3, 2)
    } else if id.contains("Minimum") {
        (3, 1)
    } else {
        (3, 0)
    }
}

fn template(class: &str, id: &str, resource_type: u16, pool_id: &str) -> Instance {
    Instance::new(class)
        .with("InstanceID", CimType::String, Value::str(id))
        .with("ElementName", CimType::String, Value::str(id))
        .with("ResourceType", CimType::Uint16, Value::num(resource_type))
        .with("PoolID", CimType::String, Value::str(pool_id))
}

/// The setting templates of the pool `pool_id`, as libvirt-cim's
/// SettingsDefineCapabilities builds them for a KVM host, kind by kind
/// (Minimum, Maximum, Default, Increment). Several templates of one pool
/// can share a path (graphics: sdl and vnc are each `Default`, …), as in
/// libvirt-cim; controller pools have none.
pub fn templates(ctx: &Ctx<'_>, pool_id: &str) -> Vec<Instance> {
    let node = ctx.snap.node.clone().unwrap_or_default();
    let (kind, name) = pool_id.split_once('/').unwrap_or((pool_id, ""));
    let mut out = Vec::new();
    match kind {
        "MemoryPool" => {
            // 256 MiB default, 64 MiB minimum, the host's memory at most, 1 MiB steps.
            let quantities = [64 * 1024, node.memory_kib.max(256 * 1024), 256 * 1024, 1024];
            for (id, quantity) in KINDS.iter().zip(quantities) {
                out.push(
                    template("KVM_MemResourceAllocationSettingData", id, RT_MEM, pool_id)
                        .with("AllocationUnits", CimType::String, Value::str("KiloBytes"))
                        .with("VirtualQuantity", CimType::Uint64, Value::num(quantity))
                        .with("Limit", CimType::Uint64, Value::num(quantity)),
                );
            }
        }
        "ProcessorPool" => {
            // libvirt-cim's minimum of 0 processors is not copied: a guest needs one.
            let quantities = [1, u64::from(node.cpus).max(1), 1, 1];
            for (id, quantity) in KINDS.iter().zip(quantities) {
                out.push(
                    template("KVM_ProcResourceAllocationSettingData", id, RT_PROC, pool_id)
                        .with("AllocationUnits", CimType::String, Value::str("Processors"))
                        .with("VirtualQuantity", CimType::Uint64, Value::num(quantity)),
                );
            }
        }
        "DiskPool" => {
            let Some(p) = ctx.snap.pools.values().find(|p| p.def.name == name) else {
                return out;
            };
            // Sizes in MegaBytes: 2000 minimum (or less if the pool has less
            // free), the pool's free space at most, 250 steps, 5000 default.
            let free_mb = p.def.available_bytes >> 20;
            let sizes = [free_mb.min(2000), free_mb, 5000, 250];
            for (id, size) in KINDS.iter().zip(sizes) {
                if p.def.pool_type == "dir" {
                    out.push(
                        template(VOLUME_RASD, &format!("New Storage Volume {id}"), RT_IMAGE, pool_id)
                            .with("VolumeName", CimType::String, Value::str("tmp.img"))
                            .with("Path", CimType::String, Value::opt_str(p.def.target_path.as_deref()))
                            .with("FormatType", CimType::Uint16, Value::num(format_type(Some("raw"))))
                            .with("Capacity", CimType::Uint64, Value::num(0u64))
                            .with("AllocationQuantity", CimType::Uint64, Value::num(0u64))
                            .with("AllocationUnits", CimType::String, Value::str("G")),
                    );
                }
                out.push(disk_template(id, pool_id, 0, "hda", Some(size)));
                out.push(disk_template(&format!("{id} CDROM"), pool_id, 1, "hdc", None));
                out.push(disk_template(&format!("{id} floppy"), pool_id, 2, "fda", None));
            }
        }
        "NetworkPool" => {
            if !ctx.snap.networks.values().any(|n| n.def.name == name) {
                return out;
            }
            // NICs per guest: none to libvirt-cim's KVM limit of 8, one by
            // default, in steps of one; QoS reservation/limit 1 KB/s at least.
            let counts = [0u64, 8, 1, 1];
            for (id, count) in KINDS.iter().zip(counts) {
                let inst = template("KVM_NetResourceAllocationSettingData", id, RT_NET, pool_id)
                    .with("NetworkType", CimType::String, Value::str("network"))
                    .with("NetworkName", CimType::String, Value::str(name))
                    .with("VirtualDevice", CimType::String, Value::str("vtap1"))
                    .with("ResourceSubType", CimType::String, Value::str("e1000"))
                    .with("VirtualQuantity", CimType::Uint64, Value::num(count));
                out.push(if matches!(*id, "Minimum" | "Increment") {
                    inst.with("Reservation", CimType::Uint64, Value::num(1u64))
                        .with("Limit", CimType::Uint64, Value::num(1u64))
                        .with("AllocationUnits", CimType::String, Value::str("KiloBytes per Second"))
                } else {
                    inst
                });
            }
        }
        "GraphicsPool" => {
            for id in KINDS {
                let graphics = |subtype: &str| {
                    template("KVM_GraphicsResourceAllocationSettingData", id, RT_GRAPHICS, pool_id).with(
                        "ResourceSubType",
                        CimType::String,
                        Value::str(subtype),
                    )
                };
                out.push(graphics("sdl"));
                for address in ["127.0.0.1:-1", "[::1]:-1"] {
                    out.push(
                        graphics("vnc")
                            .with("Address", CimType::String, Value::str(address))
                            .with("KeyMap", CimType::String, Value::str("en-us")),
                    );
                }
            }
        }
        "InputPool" => {
            for id in KINDS {
                for (subtype, bus, caption) in [
                    ("mouse", "ps2", "PS2 Mouse"),
                    ("mouse", "usb", "USB Mouse"),
                    ("tablet", "usb", "USB Tablet"),
                ] {
                    out.push(
                        template("KVM_InputResourceAllocationSettingData", id, RT_INPUT, pool_id)
                            .with("ResourceSubType", CimType::String, Value::str(subtype))
                            .with("BusType", CimType::String, Value::str(bus))
                            .with("Caption", CimType::String, Value::str(caption)),
                    );
                }
            }
        }
        _ => {}
    }
    out
}

/// A disk template: `emulated` 0 disk (with a size in MegaBytes), 1 CD-ROM,
/// 2 floppy; read-only, no cache, backed by /dev/null as in libvirt-cim.
fn disk_template(id: &str, pool_id: &str, emulated: u16, device: &str, size_mb: Option<u64>) -> Instance {
    let inst = template("KVM_DiskResourceAllocationSettingData", id, RT_DISK, pool_id)
        .with("Address", CimType::String, Value::str("/dev/null"))
        .with("VirtualDevice", CimType::String, Value::str(device))
        .with("EmulatedType", CimType::Uint16, Value::num(emulated))
        .with("readonly", CimType::Boolean, Value::bool(true))
        .with("DriverCache", CimType::String, Value::str("none"));
    match size_mb {
        Some(size) => inst
            .with("AllocationUnits", CimType::String, Value::str("MegaBytes"))
            .with("VirtualQuantity", CimType::Uint64, Value::num(size)),
        None => inst,
    }
}

/// The template of `class` with InstanceID `id`, for GetInstance and the
/// source of an association query (templates are not enumerated): the
/// first one with that path, as built for the first pool of its kind.
pub fn template_at(ctx: &Ctx<'_>, class: &str, id: &str) -> Option<Instance> {
    let kind = match class {
        "KVM_MemResourceAllocationSettingData" => "MemoryPool/",
        "KVM_ProcResourceAllocationSettingData" => "ProcessorPool/",
        "KVM_DiskResourceAllocationSettingData" | VOLUME_RASD => "DiskPool/",
        "KVM_NetResourceAllocationSettingData" => "NetworkPool/",
        "KVM_GraphicsResourceAllocationSettingData" => "GraphicsPool/",
        "KVM_InputResourceAllocationSettingData" => "InputPool/",
        _ => return None,
    };
    all_pools(ctx)
        .iter()
        .filter_map(|p| p.get_str("InstanceID"))
        .filter(|pool_id| pool_id.starts_with(kind))
        .find_map(|pool_id| {
            templates(ctx, pool_id)
                .into_iter()
                .find(|t| t.class == class && t.get_str("InstanceID") == Some(id))
        })
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
