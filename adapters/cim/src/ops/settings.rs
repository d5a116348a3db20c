//! The settings-editing methods of KVM_VirtualSystemManagementService
//! (DSP1042 §8.2): AddResourceSettings, ModifyResourceSettings,
//! RemoveResourceSettings and ModifySystemSettings.
//!
//! Each edits the guest's persistent definition (libvirt's inactive XML,
//! `dumpxml --inactive`) and defines it again through the core, as
//! libvirt-cim does with virDomainDefineXML: a running guest keeps its live
//! configuration until its next start. Devices are named by the RASD
//! InstanceID scheme of `model/device.rs` (`<guest>/<id>`).

use super::Engine;
use crate::embedded::{self, Resource};
use crate::error::{CimError, CimStatus};
use crate::value::{Instance, ObjectPath, Value};
use crate::xml::request::Param;
use std::sync::Arc;
use virtbus_actors::DomainOp;
use virtbus_drivers::DomainRecord;
use virtbus_schemas::xml::{self as vxml, Element, Node};

fn invalid(msg: impl Into<String>) -> CimError {
    CimError::new(CimStatus::InvalidParameter, msg)
}

/// Embedded instances of a string (array) parameter.
pub fn embedded_list(param: Option<&Param>, name: &str) -> Result<Vec<Instance>, CimError> {
    match param {
        Some(Param::Array(items)) => items.iter().map(|t| embedded::parse(t)).collect(),
        Some(Param::Value(text)) => Ok(vec![embedded::parse(text)?]),
        Some(Param::Instance(inst)) => Ok(vec![inst.clone()]),
        None | Some(Param::Null) => Err(invalid(format!("missing argument '{name}'"))),
        Some(_) => Err(invalid(format!("{name} must be a string array of embedded instances"))),
    }
}

/// Splits a RASD InstanceID into (guest, device id).
fn split_id(id: &str) -> Result<(&str, &str), CimError> {
    id.split_once('/')
        .filter(|(g, d)| !g.is_empty() && !d.is_empty())
        .ok_or_else(|| invalid(format!("'{id}' is not a resource InstanceID (<guest>/<device>)")))
}

/// The id `model/device.rs` gives the device an element describes.
fn element_id(el: &Element) -> Option<String> {
    let child_attr = |child: &str, attr: &str| el.child(child).and_then(|c| c.attr(attr)).map(str::to_string);
    match el.name.as_str() {
        "disk" => child_attr("target", "dev"),
        "interface" => child_attr("mac", "address"),
        "graphics" => {
            let kind = el.attr("type")?;
            Some(match el.attr("port").filter(|p| *p != "-1") {
                Some(port) => format!("{kind}:{port}"),
                None => kind.to_string(),
            })
        }
        "input" => Some(format!("{}:{}", el.attr("type")?, el.attr("bus").unwrap_or("ps2"))),
        "controller" => Some(format!(
            "controller:{}:{}",
            el.attr("type")?,
            el.attr("index").unwrap_or("0")
        )),
        _ => None,
    }
}

/// Runs `edit` on a copy of the guest's persistent definition and defines
/// the result.
async fn redefine(
    engine: &Engine,
    guest: &str,
    edit: impl FnOnce(&mut Element) -> Result<(), CimError>,
) -> Result<Arc<DomainRecord>, CimError> {
    let snap = engine.core.snapshot();
    let dom = snap
        .domain_by_name(guest)
        .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("domain '{guest}' not found")))?;
    if !dom.persistent {
        return Err(CimError::new(
            CimStatus::Failed,
            format!("domain '{guest}' is transient; only defined guests can be changed"),
        ));
    }
    let mut def = dom
        .inactive_def
        .clone()
        .unwrap_or_else(|| dom.def.clone())
        .as_ref()
        .clone();
    let mut outcome = Ok(());
    def.update_tree(|tree| {
        tree.remove_attr("id");
        outcome = edit(tree);
    })?;
    outcome?;
    Ok(engine.core.define_domain(&def.to_xml()).await?)
}

fn devices(tree: &mut Element) -> &mut Element {
    tree.child_or_insert("devices")
}

fn rasd_path(ns: &str, guest: &str, rasd_class: &str, id: &str) -> ObjectPath {
    ObjectPath::new(ns, rasd_class).key("InstanceID", format!("{guest}/{id}"))
}

/// AddResourceSettings(AffectedConfiguration, ResourceSettings[]) →
/// ResultingResourceSettings[]: adds devices; memory and processors are
/// changed with ModifyResourceSettings instead.
pub async fn add(engine: &Engine, ns: &str, params: super::Params<'_>) -> Result<Vec<ObjectPath>, CimError> {
    let target = match params.get("AffectedConfiguration") {
        Some(Param::Ref(p)) | Some(Param::InstanceName(p)) => p.clone(),
        _ => return Err(invalid("missing argument 'AffectedConfiguration'")),
    };
    let guest = target
        .key_text("InstanceID")
        .and_then(|id| id.strip_prefix("KVM:"))
        .ok_or_else(|| {
            invalid(format!(
                "AffectedConfiguration {target} is not a KVM_VirtualSystemSettingData"
            ))
        })?
        .to_string();
    let rasds = embedded_list(params.get("ResourceSettings"), "ResourceSettings")?;
    let mut added = Vec::new();
    let mut elements = Vec::new();
    for rasd in &rasds {
        match embedded::resource(rasd)? {
            Resource::Device(xml) => {
                let el = vxml::parse(&xml)?;
                let id = element_id(&el).ok_or_else(|| invalid(format!("{} names no device", rasd.class)))?;
                added.push((rasd_class(&el), id));
                elements.push(el);
            }
            Resource::Memory(_) | Resource::Processors(_) => {
                return Err(CimError::new(
                    CimStatus::NotSupported,
                    "a guest's memory and processors are changed with ModifyResourceSettings",
                ))
            }
            Resource::Other => {
                return Err(CimError::new(
                    CimStatus::NotSupported,
                    format!("{} cannot be added", rasd.class),
                ))
            }
        }
    }
    redefine(engine, &guest, |tree| {
        let devs = devices(tree);
        for el in elements {
            let id = element_id(&el);
            if devs.elements().any(|e| e.name == el.name && element_id(e) == id) {
                return Err(CimError::new(
                    CimStatus::AlreadyExists,
                    format!("domain '{guest}' already has device {}", id.unwrap_or_default()),
                ));
            }
            devs.push_child(el);
        }
        Ok(())
    })
    .await?;
    Ok(added
        .into_iter()
        .map(|(class, id)| rasd_path(ns, &guest, class, &id))
        .collect())
}

fn rasd_class(el: &Element) -> &'static str {
    match el.name.as_str() {
        "disk" => "KVM_DiskResourceAllocationSettingData",
        "interface" => "KVM_NetResourceAllocationSettingData",
        "graphics" => "KVM_GraphicsResourceAllocationSettingData",
        "input" => "KVM_InputResourceAllocationSettingData",
        _ => "KVM_ControllerResourceAllocationSettingData",
    }
}

/// RemoveResourceSettings(ResourceSettings REF[]): removes devices.
pub async fn remove(engine: &Engine, params: super::Params<'_>) -> Result<(), CimError> {
    let paths = match params.get("ResourceSettings") {
        Some(Param::RefArray(paths)) => paths.clone(),
        Some(Param::Ref(p)) | Some(Param::InstanceName(p)) => vec![p.clone()],
        _ => return Err(invalid("ResourceSettings must be an array of RASD references")),
    };
    let mut by_guest: Vec<(String, Vec<String>)> = Vec::new();
    for path in &paths {
        let id = path
            .key_text("InstanceID")
            .ok_or_else(|| invalid(format!("{path} has no InstanceID")))?;
        let (guest, dev) = split_id(id)?;
        if dev == "proc" || dev == "mem" {
            return Err(CimError::new(
                CimStatus::NotSupported,
                format!("{id}: a guest always has processors and memory"),
            ));
        }
        match by_guest.iter_mut().find(|(g, _)| g == guest) {
            Some((_, ids)) => ids.push(dev.to_string()),
            None => by_guest.push((guest.to_string(), vec![dev.to_string()])),
        }
    }
    for (guest, ids) in by_guest {
        redefine(engine, &guest, |tree| {
            let devs = devices(tree);
            for id in &ids {
                let before = devs.children.len();
                let mut removed = false;
                devs.children.retain(|node| match node {
                    Node::Element(el) if !removed && element_id(el).as_deref() == Some(id.as_str()) => {
                        removed = true;
                        false
                    }
                    _ => true,
                });
                if devs.children.len() == before {
                    return Err(CimError::new(
                        CimStatus::NotFound,
                        format!("domain '{guest}' has no device {id}"),
                    ));
                }
            }
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// ModifyResourceSettings(ResourceSettings[]) → ResultingResourceSettings[]:
/// memory (VirtualQuantity/AllocationUnits), processors (VirtualQuantity)
/// and a disk's source (Address, e.g. a cdrom's media).
pub async fn modify(engine: &Engine, ns: &str, params: super::Params<'_>) -> Result<Vec<ObjectPath>, CimError> {
    let rasds = embedded_list(params.get("ResourceSettings"), "ResourceSettings")?;
    let mut out = Vec::new();
    for rasd in rasds {
        out.push(modify_one(engine, ns, &rasd).await?);
    }
    Ok(out)
}

/// Applies one RASD (named by its InstanceID); also serves ModifyInstance.
pub async fn modify_one(engine: &Engine, ns: &str, rasd: &Instance) -> Result<ObjectPath, CimError> {
    let id = rasd
        .get_str("InstanceID")
        .ok_or_else(|| invalid(format!("{} has no InstanceID", rasd.class)))?
        .to_string();
    let (guest, dev) = split_id(&id)?;
    let (guest, dev) = (guest.to_string(), dev.to_string());
    let resource = embedded::resource(rasd)?;
    let class_name = match &resource {
        Resource::Memory(_) => "KVM_MemResourceAllocationSettingData",
        Resource::Processors(_) => "KVM_ProcResourceAllocationSettingData",
        _ => "KVM_DiskResourceAllocationSettingData",
    };
    redefine(engine, &guest, |tree| {
        match resource {
            Resource::Memory(Some(kib)) => {
                tree.child_or_insert("memory").set_text(kib.to_string());
                tree.child_or_insert("memory").set_attr("unit", "KiB");
                tree.child_or_insert("currentMemory").set_text(kib.to_string());
                tree.child_or_insert("currentMemory").set_attr("unit", "KiB");
            }
            Resource::Processors(Some(n)) => {
                let vcpu = tree.child_or_insert("vcpu");
                vcpu.set_text(n.to_string());
                vcpu.remove_attr("current");
            }
            Resource::Device(ref xml) if xml.starts_with("<disk") => {
                let address = rasd.get_str("Address").filter(|a| !a.is_empty());
                let devs = devices(tree);
                let disk = devs
                    .elements_mut()
                    .find(|e| e.name == "disk" && element_id(e).as_deref() == Some(dev.as_str()))
                    .ok_or_else(|| CimError::new(CimStatus::NotFound, format!("domain '{guest}' has no disk {dev}")))?;
                disk.remove_children("source");
                if let Some(address) = address {
                    disk.insert_child(0, Element::new("source").with_attr("file", address));
                }
            }
            _ => {
                return Err(CimError::new(
                    CimStatus::NotSupported,
                    format!("{id}: only memory, processors and a disk's Address can be modified"),
                ))
            }
        }
        Ok(())
    })
    .await?;
    Ok(ObjectPath::new(ns, class_name).key("InstanceID", id))
}

/// libvirt's lifecycle action for a VSSD AutomaticShutdownAction /
/// AutomaticRecoveryAction value, as libvirt-cim maps them (2 destroy,
/// 3 restart, 123 preserve).
fn lifecycle_action(prop: &str, value: &str) -> Result<&'static str, CimError> {
    match value.trim() {
        "2" => Ok("destroy"),
        "3" => Ok("restart"),
        "123" => Ok("preserve"),
        other => Err(invalid(format!(
            "{prop} {other} is not supported (2: destroy, 3: restart, 123: preserve)"
        ))),
    }
}

/// A VSSD property that is present and not NULL.
fn given<'a>(vssd: &'a Instance, prop: &str) -> Option<&'a str> {
    vssd.get_str(prop)
}

/// ModifySystemSettings(SystemSettings): changes the guest's settings that
/// libvirt-cim's VSSD carries and our definition can hold — boot order
/// (BootDevices), AutomaticShutdownAction (`<on_poweroff>`),
/// AutomaticRecoveryAction (`<on_crash>`), ClockOffset (0 utc, 1 localtime),
/// Emulator, Kernel/Ramdisk/CommandLine (direct kernel boot; empty removes)
/// and AutoStart. Properties that are absent or NULL keep their values, so a
/// VSSD fetched with GetInstance, edited and sent back works. The name is
/// the key and the UUID fixed: a different one is refused, as libvirt-cim
/// refuses it.
pub async fn modify_system(engine: &Engine, params: super::Params<'_>) -> Result<(), CimError> {
    let vssd = embedded_list(params.get("SystemSettings"), "SystemSettings")?
        .into_iter()
        .next()
        .ok_or_else(|| invalid("missing argument 'SystemSettings'"))?;
    let by_id = vssd.get_str("InstanceID").and_then(|id| id.strip_prefix("KVM:"));
    let by_vsi = vssd.get_str("VirtualSystemIdentifier").filter(|v| !v.is_empty());
    let guest = by_id
        .or(by_vsi)
        .ok_or_else(|| invalid("SystemSettings has neither InstanceID KVM:<guest> nor VirtualSystemIdentifier"))?
        .to_string();
    if let (Some(id), Some(vsi)) = (by_id, by_vsi) {
        if id != vsi {
            return Err(CimError::new(
                CimStatus::NotSupported,
                format!("guest '{id}' cannot be renamed to '{vsi}' (the name is the key)"),
            ));
        }
    }
    let snap = engine.core.snapshot();
    let dom = snap.domain_by_name(&guest).ok_or_else(|| {
        CimError::new(
            CimStatus::NotFound,
            format!("referenced domain '{guest}' does not exist"),
        )
    })?;
    if let Some(uuid) = given(&vssd, "UUID").filter(|u| !u.is_empty()) {
        if !uuid::Uuid::parse_str(uuid).is_ok_and(|u| u == dom.def.uuid) {
            return Err(CimError::new(
                CimStatus::Failed,
                format!(
                    "{guest} is already defined with UUID {} - cannot change UUID to {uuid}",
                    dom.def.uuid
                ),
            ));
        }
    }
    for (prop, current) in [("Arch", &dom.def.os.arch), ("Machine", &dom.def.os.machine)] {
        if let Some(value) = given(&vssd, prop).filter(|v| !v.is_empty()) {
            if Some(value) != current.as_deref() {
                return Err(CimError::new(
                    CimStatus::NotSupported,
                    format!(
                        "{prop} cannot be changed (it is '{}')",
                        current.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
    }
    if given(&vssd, "Bootloader").is_some_and(|b| !b.is_empty()) {
        return Err(CimError::new(
            CimStatus::NotSupported,
            "Bootloader is for Xen paravirtualized guests; boot a KVM guest from Kernel/Ramdisk/CommandLine",
        ));
    }
    let boot = match vssd.get("BootDevices") {
        Some(Value::Array(devs)) => Some(devs.clone()),
        Some(Value::Scalar(dev)) => Some(vec![dev.clone()]),
        _ => None,
    };
    for dev in boot.iter().flatten() {
        if !["hd", "cdrom", "network", "fd"].contains(&dev.as_str()) {
            return Err(invalid(format!(
                "boot device '{dev}' is not one of hd, cdrom, network, fd"
            )));
        }
    }
    let on_poweroff = given(&vssd, "AutomaticShutdownAction")
        .map(|v| lifecycle_action("AutomaticShutdownAction", v))
        .transpose()?;
    let on_crash = given(&vssd, "AutomaticRecoveryAction")
        .map(|v| lifecycle_action("AutomaticRecoveryAction", v))
        .transpose()?;
    let clock = match given(&vssd, "ClockOffset").map(str::trim) {
        None => None,
        Some("0") => Some("utc"),
        Some("1") => Some("localtime"),
        Some(other) => {
            return Err(invalid(format!(
                "ClockOffset {other} is not supported (0: utc, 1: localtime)"
            )))
        }
    };
    let emulator = given(&vssd, "Emulator").filter(|e| !e.is_empty());
    if let Some(e) = emulator {
        if !e.starts_with('/') {
            return Err(invalid(format!("Emulator '{e}' is not an absolute path")));
        }
    }
    let mut os_files = Vec::new();
    for (prop, element) in [("Kernel", "kernel"), ("Ramdisk", "initrd"), ("CommandLine", "cmdline")] {
        if let Some(value) = given(&vssd, prop) {
            if element != "cmdline" && !value.is_empty() && !value.starts_with('/') {
                return Err(invalid(format!("{prop} '{value}' is not an absolute path")));
            }
            os_files.push((element, value.to_string()));
        }
    }
    let autostart = match given(&vssd, "AutoStart").map(str::trim) {
        None => None,
        Some("0") => Some(false),
        Some("1") => Some(true),
        Some(other) => return Err(invalid(format!("AutoStart {other} is not supported (0: no, 1: yes)"))),
    };
    let edits_definition = boot.is_some()
        || on_poweroff.is_some()
        || on_crash.is_some()
        || clock.is_some()
        || emulator.is_some()
        || !os_files.is_empty();
    if !edits_definition && autostart.is_none() {
        return Err(CimError::new(
            CimStatus::NotSupported,
            "SystemSettings changes nothing ModifySystemSettings supports: BootDevices, AutomaticShutdownAction, \
             AutomaticRecoveryAction, ClockOffset, Emulator, Kernel, Ramdisk, CommandLine, AutoStart",
        ));
    }
    let uuid = dom.def.uuid;
    if edits_definition {
        redefine(engine, &guest, |tree| {
            if let Some(boot) = &boot {
                let os = tree.child_or_insert("os");
                os.remove_children("boot");
                for dev in boot {
                    os.push_child(Element::new("boot").with_attr("dev", dev.as_str()));
                }
            }
            for (element, value) in &os_files {
                let os = tree.child_or_insert("os");
                os.remove_children(element);
                if !value.is_empty() {
                    os.push_child(Element::new(*element).with_text(value.as_str()));
                }
            }
            if let Some(action) = on_poweroff {
                tree.child_or_insert("on_poweroff").set_text(action);
            }
            if let Some(action) = on_crash {
                tree.child_or_insert("on_crash").set_text(action);
            }
            if let Some(offset) = clock {
                // A new offset drops the old one's attributes (adjustment, timezone).
                let el = tree.child_or_insert("clock");
                el.attrs
                    .retain(|(name, _)| name != "adjustment" && name != "timezone" && name != "basis");
                el.set_attr("offset", offset);
            }
            if let Some(emulator) = emulator {
                devices(tree).child_or_insert("emulator").set_text(emulator);
            }
            Ok(())
        })
        .await?;
    }
    if let Some(on) = autostart {
        engine.core.domain_record(uuid, DomainOp::SetAutostart(on)).await?;
    }
    Ok(())
}
