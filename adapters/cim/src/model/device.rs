//! A guest's devices and their resource allocations (RASDs).
//!
//! IDs as libvirt-cim forms them: the device id is `proc`, `mem`, the disk
//! target (`hda`), the MAC address, the graphics type with its port
//! (`vnc:5900`), `type:bus` for inputs (`mouse:ps2`), `charconsole:<port>`
//! and `controller:<type>:<index>`; RASD InstanceIDs and DeviceIDs are
//! `<guest>/<id>` (processors, one device per vCPU: `<guest>/<n>`).

use super::Ctx;
use crate::value::{CimType, Instance, Value};
use virtbus_drivers::DomainRecord;

/// CIM ResourceType values libvirt-cim uses.
pub const RT_OTHER: u16 = 1;
pub const RT_PROC: u16 = 3;
pub const RT_MEM: u16 = 4;
pub const RT_NET: u16 = 10;
pub const RT_INPUT: u16 = 13;
pub const RT_DISK: u16 = 17;
pub const RT_GRAPHICS: u16 = 24;

/// The device classes with the RASD class and the pool they come from.
pub struct GuestDevice {
    pub id: String,
    pub device_class: Option<&'static str>,
    pub rasd: Instance,
    pub pool_id: Option<String>,
}

fn rasd(class: &str, guest: &str, id: &str, resource_type: u16) -> Instance {
    Instance::new(class)
        .with("InstanceID", CimType::String, Value::str(format!("{guest}/{id}")))
        .with("ElementName", CimType::String, Value::str(id))
        .with("ResourceType", CimType::Uint16, Value::num(resource_type))
}

/// Every device of a guest, with its RASD.
pub fn guest_devices(dom: &DomainRecord, storage_pool_of: impl Fn(&str) -> Option<String>) -> Vec<GuestDevice> {
    let def = &dom.def;
    let guest = def.name.as_str();
    let mut out = Vec::new();
    out.push(GuestDevice {
        id: "proc".into(),
        device_class: Some("KVM_Processor"),
        rasd: rasd("KVM_ProcResourceAllocationSettingData", guest, "proc", RT_PROC)
            .with("VirtualQuantity", CimType::Uint64, Value::num(def.vcpu.current.max(1)))
            .with("Limit", CimType::Uint64, Value::num(def.vcpu.max))
            .with("AllocationUnits", CimType::String, Value::str("count"))
            .with("PoolID", CimType::String, Value::str("ProcessorPool/0")),
        pool_id: Some("ProcessorPool/0".into()),
    });
    out.push(GuestDevice {
        id: "mem".into(),
        device_class: Some("KVM_Memory"),
        rasd: rasd("KVM_MemResourceAllocationSettingData", guest, "mem", RT_MEM)
            .with("VirtualQuantity", CimType::Uint64, Value::num(def.current_memory_kib))
            .with("Reservation", CimType::Uint64, Value::num(def.current_memory_kib))
            .with("Limit", CimType::Uint64, Value::num(def.memory_kib))
            .with("AllocationUnits", CimType::String, Value::str("KiloBytes"))
            .with("PoolID", CimType::String, Value::str("MemoryPool/0")),
        pool_id: Some("MemoryPool/0".into()),
    });
    for disk in &def.devices.disks {
        let Some(target) = disk.target_dev.clone() else {
            continue;
        };
        let emulated = match disk.device.as_str() {
            "cdrom" => 1,
            "floppy" => 2,
            "lun" => 4,
            _ => 0,
        };
        let pool = disk
            .source_pool
            .clone()
            .or_else(|| disk.source.as_deref().and_then(&storage_pool_of))
            .map(|p| format!("DiskPool/{p}"));
        out.push(GuestDevice {
            id: target.clone(),
            device_class: Some("KVM_LogicalDisk"),
            rasd: rasd("KVM_DiskResourceAllocationSettingData", guest, &target, RT_DISK)
                .with("Address", CimType::String, Value::opt_str(disk.source.as_deref()))
                .with("VirtualDevice", CimType::String, Value::str(&target))
                .with("EmulatedType", CimType::Uint16, Value::num(emulated))
                .with("BusType", CimType::String, Value::opt_str(disk.target_bus.as_deref()))
                .with("readonly", CimType::Boolean, Value::bool(disk.readonly))
                .with("shareable", CimType::Boolean, Value::bool(disk.shareable))
                .with(
                    "DriverName",
                    CimType::String,
                    Value::opt_str(disk.driver_name.as_deref()),
                )
                .with(
                    "DriverType",
                    CimType::String,
                    Value::opt_str(disk.driver_type.as_deref()),
                )
                .with("DriverCache", CimType::String, Value::opt_str(disk.cache.as_deref()))
                .with("PoolID", CimType::String, Value::opt_str(pool.as_deref())),
            pool_id: pool,
        });
    }
    for nic in &def.devices.interfaces {
        let Some(mac) = nic.mac.clone() else { continue };
        let pool = match nic.if_type.as_str() {
            "network" => nic.source.as_ref().map(|n| format!("NetworkPool/{n}")),
            _ => None,
        };
        out.push(GuestDevice {
            id: mac.clone(),
            device_class: Some("KVM_NetworkPort"),
            rasd: rasd("KVM_NetResourceAllocationSettingData", guest, &mac, RT_NET)
                .with("Address", CimType::String, Value::str(&mac))
                .with("NetworkType", CimType::String, Value::str(&nic.if_type))
                .with("NetworkName", CimType::String, Value::opt_str(nic.source.as_deref()))
                .with(
                    "VirtualDevice",
                    CimType::String,
                    Value::opt_str(nic.target_dev.as_deref()),
                )
                .with("ResourceSubType", CimType::String, Value::opt_str(nic.model.as_deref()))
                .with("PoolID", CimType::String, Value::opt_str(pool.as_deref())),
            pool_id: pool,
        });
    }
    for g in &def.devices.graphics {
        let id = match g.port {
            Some(port) => format!("{}:{port}", g.graphics_type),
            None => g.graphics_type.clone(),
        };
        let address = format!(
            "{}:{}",
            g.listen.as_deref().unwrap_or("127.0.0.1"),
            g.port.map(|p| p.to_string()).unwrap_or_else(|| "-1".into())
        );
        out.push(GuestDevice {
            id: id.clone(),
            device_class: Some("KVM_DisplayController"),
            rasd: rasd("KVM_GraphicsResourceAllocationSettingData", guest, &id, RT_GRAPHICS)
                .with("ResourceSubType", CimType::String, Value::str(&g.graphics_type))
                .with("Address", CimType::String, Value::str(address))
                .with("PoolID", CimType::String, Value::str("GraphicsPool/0")),
            pool_id: Some("GraphicsPool/0".into()),
        });
    }
    for input in &def.devices.inputs {
        let bus = input.bus.clone().unwrap_or_else(|| "ps2".into());
        let id = format!("{}:{bus}", input.input_type);
        out.push(GuestDevice {
            id: id.clone(),
            device_class: Some("KVM_PointingDevice"),
            rasd: rasd("KVM_InputResourceAllocationSettingData", guest, &id, RT_INPUT)
                .with("ResourceSubType", CimType::String, Value::str(&input.input_type))
                .with("BusType", CimType::String, Value::str(&bus))
                .with("PoolID", CimType::String, Value::str("InputPool/0")),
            pool_id: Some("InputPool/0".into()),
        });
    }
    for (idx, console) in def.devices.consoles.iter().enumerate() {
        let port = console.target_port.unwrap_or(idx as u32).to_string();
        let id = format!("charconsole:{port}");
        out.push(GuestDevice {
            id: id.clone(),
            device_class: None,
            rasd: rasd("KVM_ConsoleResourceAllocationSettingData", guest, &id, RT_OTHER)
                .with("OtherResourceType", CimType::String, Value::str("console"))
                .with(
                    "SourcePath",
                    CimType::String,
                    Value::opt_str(console.source_path.as_deref()),
                )
                .with("TargetPort", CimType::String, Value::str(&port)),
            pool_id: None,
        });
    }
    for ctl in &def.devices.controllers {
        let index = ctl.index.unwrap_or(0);
        let id = format!("controller:{}:{index}", ctl.controller_type);
        out.push(GuestDevice {
            id: id.clone(),
            device_class: Some("KVM_Controller"),
            rasd: rasd("KVM_ControllerResourceAllocationSettingData", guest, &id, RT_OTHER)
                .with("OtherResourceType", CimType::String, Value::str("controller"))
                .with("ResourceSubType", CimType::String, Value::str(&ctl.controller_type))
                .with("Type", CimType::String, Value::str(&ctl.controller_type))
                .with("Model", CimType::String, Value::opt_str(ctl.model.as_deref()))
                .with("Index", CimType::Uint64, Value::num(index))
                .with("PoolID", CimType::String, Value::str("ControllerPool/0")),
            pool_id: Some("ControllerPool/0".into()),
        });
    }
    out
}

fn device(class: &str, guest: &str, id: &str) -> Instance {
    Instance::new(class)
        .with(
            "SystemCreationClassName",
            CimType::String,
            Value::str(super::system::CS_CLASS),
        )
        .with("SystemName", CimType::String, Value::str(guest))
        .with("CreationClassName", CimType::String, Value::str(class))
        .with("DeviceID", CimType::String, Value::str(format!("{guest}/{id}")))
        .with("ElementName", CimType::String, Value::str(id))
}

/// The device instances of one guest (class, pool id), vCPUs one each.
pub fn device_instances(ctx: &Ctx<'_>, dom: &DomainRecord) -> Vec<(Instance, Option<String>)> {
    let guest = dom.name();
    let mut out = Vec::new();
    for dev in guest_devices(dom, |path| storage_pool_of(ctx, path)) {
        let Some(class) = dev.device_class else { continue };
        match class {
            "KVM_Processor" => {
                for n in 0..dom.def.vcpu.current.max(1) {
                    out.push((device(class, guest, &n.to_string()), dev.pool_id.clone()));
                }
            }
            "KVM_Memory" => {
                let inst = device(class, guest, &dev.id)
                    .with("BlockSize", CimType::Uint64, Value::num(1024))
                    .with(
                        "NumberOfBlocks",
                        CimType::Uint64,
                        Value::num(dom.def.current_memory_kib),
                    )
                    .with("ConsumableBlocks", CimType::Uint64, Value::num(dom.def.memory_kib));
                out.push((inst, dev.pool_id.clone()));
            }
            "KVM_LogicalDisk" => {
                let inst = device(class, guest, &dev.id).with(
                    "Name",
                    CimType::String,
                    dev.rasd.get("Address").cloned().unwrap_or(Value::Null),
                );
                out.push((inst, dev.pool_id.clone()));
            }
            "KVM_NetworkPort" => {
                let inst = device(class, guest, &dev.id)
                    .with("PermanentAddress", CimType::String, Value::str(&dev.id))
                    .with("NetworkAddresses", CimType::String, Value::Array(vec![dev.id.clone()]))
                    .with("LinkTechnology", CimType::Uint16, Value::num(2));
                out.push((inst, dev.pool_id.clone()));
            }
            "KVM_DisplayController" => {
                let inst = device(class, guest, &dev.id).with(
                    "VideoProcessor",
                    CimType::String,
                    dev.rasd.get("ResourceSubType").cloned().unwrap_or(Value::Null),
                );
                out.push((inst, dev.pool_id.clone()));
            }
            "KVM_PointingDevice" => {
                let kind = if dev.id.starts_with("tablet") { 2 } else { 1 };
                let inst = device(class, guest, &dev.id).with("PointingType", CimType::Uint16, Value::num(kind));
                out.push((inst, dev.pool_id.clone()));
            }
            other => out.push((device(other, guest, &dev.id), dev.pool_id.clone())),
        }
    }
    out
}

/// The storage pool holding the volume at `path`, if any.
pub fn storage_pool_of(ctx: &Ctx<'_>, path: &str) -> Option<String> {
    ctx.snap
        .pools
        .values()
        .find(|p| p.volumes.iter().any(|v| v.def.target_path.as_deref() == Some(path)))
        .map(|p| p.def.name.clone())
}

const RASD_CLASSES: &[&str] = &[
    "KVM_ProcResourceAllocationSettingData",
    "KVM_MemResourceAllocationSettingData",
    "KVM_DiskResourceAllocationSettingData",
    "KVM_NetResourceAllocationSettingData",
    "KVM_GraphicsResourceAllocationSettingData",
    "KVM_InputResourceAllocationSettingData",
    "KVM_ConsoleResourceAllocationSettingData",
    "KVM_ControllerResourceAllocationSettingData",
];

const DEVICE_CLASSES: &[&str] = &[
    "KVM_Processor",
    "KVM_Memory",
    "KVM_LogicalDisk",
    "KVM_NetworkPort",
    "KVM_DisplayController",
    "KVM_PointingDevice",
    "KVM_Controller",
];

pub fn instances(ctx: &Ctx<'_>, class: &str) -> Option<Vec<Instance>> {
    if RASD_CLASSES.contains(&class) {
        let mut out = Vec::new();
        for dom in ctx.guests() {
            for dev in guest_devices(&dom, |path| storage_pool_of(ctx, path)) {
                if dev.rasd.class == class {
                    out.push(dev.rasd);
                }
            }
        }
        return Some(out);
    }
    if DEVICE_CLASSES.contains(&class) {
        let mut out = Vec::new();
        for dom in ctx.guests() {
            out.extend(
                device_instances(ctx, &dom)
                    .into_iter()
                    .map(|(i, _)| i)
                    .filter(|i| i.class == class),
            );
        }
        return Some(out);
    }
    None
}
