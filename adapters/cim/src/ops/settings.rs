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

/// ModifySystemSettings(SystemSettings): the boot order (BootDevices).
pub async fn modify_system(engine: &Engine, params: super::Params<'_>) -> Result<(), CimError> {
    let vssd = embedded_list(params.get("SystemSettings"), "SystemSettings")?
        .into_iter()
        .next()
        .ok_or_else(|| invalid("missing argument 'SystemSettings'"))?;
    let guest = vssd
        .get_str("InstanceID")
        .and_then(|id| id.strip_prefix("KVM:"))
        .or_else(|| vssd.get_str("VirtualSystemIdentifier"))
        .ok_or_else(|| invalid("SystemSettings has neither InstanceID KVM:<guest> nor VirtualSystemIdentifier"))?
        .to_string();
    let Some(Value::Array(boot)) = vssd.get("BootDevices").cloned() else {
        return Err(CimError::new(
            CimStatus::NotSupported,
            "ModifySystemSettings changes BootDevices only; it is missing",
        ));
    };
    for dev in &boot {
        if !["hd", "cdrom", "network", "fd"].contains(&dev.as_str()) {
            return Err(invalid(format!(
                "boot device '{dev}' is not one of hd, cdrom, network, fd"
            )));
        }
    }
    redefine(engine, &guest, |tree| {
        let os = tree.child_or_insert("os");
        os.remove_children("boot");
        for dev in &boot {
            os.push_child(Element::new("boot").with_attr("dev", dev.as_str()));
        }
        Ok(())
    })
    .await?;
    Ok(())
}
