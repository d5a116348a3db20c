//! Association instances between the objects of the model. Each one is
//! built from the endpoint instances' paths; guest-scoped ones honour
//! [`Ctx::guest`].

use super::device::{device_instances, guest_devices, storage_pool_of};
use super::{interop, path_of, pool, system, Ctx};
use crate::schema::{Schema, NS_INTEROP, NS_VIRT};
use crate::value::{CimType, Instance, ObjectPath, Value};

fn path(inst: &Instance) -> ObjectPath {
    let ns = if inst.class == "KVM_RegisteredProfile" {
        NS_INTEROP
    } else {
        NS_VIRT
    };
    path_of(&Schema::default(), ns, inst)
}

fn link(class: &str, a: (&str, ObjectPath), b: (&str, ObjectPath)) -> Instance {
    Instance::new(class)
        .with(a.0, CimType::Reference, Value::Ref(a.1))
        .with(b.0, CimType::Reference, Value::Ref(b.1))
}

pub fn instances(ctx: &Ctx<'_>, class: &str) -> Option<Vec<Instance>> {
    let mut out = Vec::new();
    match class {
        "KVM_SystemDevice" => {
            for dom in ctx.guests() {
                let cs = path(&system::computer_system(ctx, &dom));
                for (dev, _) in device_instances(ctx, &dom) {
                    out.push(link(
                        class,
                        ("GroupComponent", cs.clone()),
                        ("PartComponent", path(&dev)),
                    ));
                }
            }
        }
        "KVM_VirtualSystemSettingDataComponent" => {
            for dom in ctx.guests() {
                let vssd = path(&system::vssd(&dom));
                for dev in guest_devices(&dom, |p| storage_pool_of(ctx, p)) {
                    out.push(link(
                        class,
                        ("GroupComponent", vssd.clone()),
                        ("PartComponent", path(&dev.rasd)),
                    ));
                }
            }
        }
        "KVM_SettingsDefineState" => {
            for dom in ctx.guests() {
                let cs = path(&system::computer_system(ctx, &dom));
                out.push(link(
                    class,
                    ("ManagedElement", cs),
                    ("SettingData", path(&system::vssd(&dom))),
                ));
                let rasds: Vec<(String, ObjectPath)> = guest_devices(&dom, |p| storage_pool_of(ctx, p))
                    .into_iter()
                    .map(|d| (d.id, path(&d.rasd)))
                    .collect();
                for (dev, _) in device_instances(ctx, &dom) {
                    let id = dev.get_str("DeviceID").unwrap_or_default();
                    let local = id.split_once('/').map(|(_, d)| d).unwrap_or(id);
                    let wanted = if dev.class == "KVM_Processor" { "proc" } else { local };
                    if let Some((_, rasd)) = rasds.iter().find(|(rid, _)| rid == wanted) {
                        out.push(link(
                            class,
                            ("ManagedElement", path(&dev)),
                            ("SettingData", rasd.clone()),
                        ));
                    }
                }
            }
        }
        "KVM_ElementSettingData" => {
            for dom in ctx.guests() {
                let cs = path(&system::computer_system(ctx, &dom));
                out.push(link(
                    class,
                    ("ManagedElement", cs),
                    ("SettingData", path(&system::vssd(&dom))),
                ));
            }
        }
        "KVM_HostedDependency" => {
            let host = path(&system::host_system(ctx));
            for dom in ctx.guests() {
                let cs = path(&system::computer_system(ctx, &dom));
                out.push(link(class, ("Antecedent", host.clone()), ("Dependent", cs)));
            }
        }
        "KVM_ElementAllocatedFromPool" => {
            for dom in ctx.guests() {
                for (dev, pool_id) in device_instances(ctx, &dom) {
                    if let Some(pool_ref) = pool_id.as_deref().and_then(pool_path) {
                        out.push(link(class, ("Antecedent", pool_ref), ("Dependent", path(&dev))));
                    }
                }
            }
        }
        "KVM_ResourceAllocationFromPool" => {
            for dom in ctx.guests() {
                for dev in guest_devices(&dom, |p| storage_pool_of(ctx, p)) {
                    if let Some(pool_ref) = dev.pool_id.as_deref().and_then(pool_path) {
                        out.push(link(class, ("Antecedent", pool_ref), ("Dependent", path(&dev.rasd))));
                    }
                }
            }
        }
        "KVM_HostedResourcePool" => {
            let host = path(&system::host_system(ctx));
            for p in pool::all_pools(ctx) {
                out.push(link(
                    class,
                    ("GroupComponent", host.clone()),
                    ("PartComponent", path(&p)),
                ));
            }
        }
        "KVM_HostedService" => {
            let host = path(&system::host_system(ctx));
            for service in [system::vsms(ctx), system::rpcs(ctx)] {
                out.push(link(class, ("Antecedent", host.clone()), ("Dependent", path(&service))));
            }
        }
        "KVM_ElementCapabilities" => {
            for dom in ctx.guests() {
                let cs = path(&system::computer_system(ctx, &dom));
                out.push(link(
                    class,
                    ("ManagedElement", cs),
                    ("Capabilities", path(&system::elec(&dom))),
                ));
            }
            if ctx.guest.is_none() {
                out.push(link(
                    class,
                    ("ManagedElement", path(&system::vsms(ctx))),
                    ("Capabilities", path(&system::vsmc())),
                ));
                for p in pool::all_pools(ctx) {
                    let id = p.get_str("InstanceID").unwrap_or_default();
                    let caps = ObjectPath::new(NS_VIRT, pool::ALLOCATION_CAPABILITIES).key("InstanceID", id);
                    out.push(link(class, ("ManagedElement", path(&p)), ("Capabilities", caps)));
                }
            }
        }
        "KVM_SettingsDefineCapabilities" => {
            out.extend(settings_define_capabilities(ctx).into_iter().map(|(link, _)| link));
        }
        "KVM_ElementConformsToProfile" => {
            let profiles = interop::instances(ctx, "KVM_RegisteredProfile").unwrap_or_default();
            let find = |id: &str| profiles.iter().find(|p| p.get_str("InstanceID") == Some(id)).map(path);
            if let Some(vs) = find("CIM:DSP1057-VirtualSystem-1.0.0a") {
                for dom in ctx.guests() {
                    let cs = path(&system::computer_system(ctx, &dom));
                    out.push(link(class, ("ConformantStandard", vs.clone()), ("ManagedElement", cs)));
                }
            }
            if let (Some(sv), None) = (find("CIM:DSP1042-SystemVirtualization-1.0.0"), &ctx.guest) {
                out.push(link(
                    class,
                    ("ConformantStandard", sv),
                    ("ManagedElement", path(&system::host_system(ctx))),
                ));
            }
        }
        _ => return None,
    }
    Some(out)
}

/// The association instances of `class` with, for those whose far end is
/// not found by its path alone, that far end (the PartComponent): the
/// setting templates of KVM_SettingsDefineCapabilities, which every pool of
/// a kind names alike (libvirt-cim's InstanceIDs) but builds for itself.
pub fn with_far_ends(ctx: &Ctx<'_>, class: &str) -> Option<Vec<(Instance, Option<Instance>)>> {
    if class == "KVM_SettingsDefineCapabilities" {
        return Some(
            settings_define_capabilities(ctx)
                .into_iter()
                .map(|(link, template)| (link, Some(template)))
                .collect(),
        );
    }
    Some(instances(ctx, class)?.into_iter().map(|link| (link, None)).collect())
}

/// Each pool's AllocationCapabilities → each of that pool's setting
/// templates, with PropertyPolicy 0 (independent) and ValueRole/ValueRange
/// from the template's InstanceID, as libvirt-cim sets them.
fn settings_define_capabilities(ctx: &Ctx<'_>) -> Vec<(Instance, Instance)> {
    let mut out = Vec::new();
    if ctx.guest.is_some() {
        return out;
    }
    for caps in pool::allocation_capabilities(ctx) {
        let caps_path = path(&caps);
        let id = caps.get_str("InstanceID").unwrap_or_default();
        for template in pool::templates(ctx, id) {
            let (role, range) = pool::value_role(template.get_str("InstanceID").unwrap_or_default());
            let link = link(
                "KVM_SettingsDefineCapabilities",
                ("GroupComponent", caps_path.clone()),
                ("PartComponent", path(&template)),
            )
            .with("PropertyPolicy", CimType::Uint16, Value::num(0))
            .with("ValueRole", CimType::Uint16, Value::num(role))
            .with("ValueRange", CimType::Uint16, Value::num(range));
            out.push((link, template));
        }
    }
    out
}

fn pool_path(pool_id: &str) -> Option<ObjectPath> {
    let class = pool::class_of(pool_id)?;
    Some(ObjectPath::new(NS_VIRT, class).key("InstanceID", pool_id))
}
