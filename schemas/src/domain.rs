//! libvirt domain XML (`formatdomain`): a typed view over the element tree.
//!
//! [`DomainDef`] reads the fields virtbus works with (identity, memory, vCPUs,
//! OS, CPU, clock, lifecycle actions, devices) and keeps the whole document as a
//! private [`Element`] tree, the source of truth for everything it does not
//! model. Writing back ([`DomainDef::to_element`]) updates only the scalar fields
//! drivers edit — type, id, name, uuid, title, description, memory sizes, vCPU
//! counts and the `on_*` actions — so define → dumpxml loses nothing. Other edits
//! go through the tree with [`DomainDef::update_tree`], which re-reads the model.
//!
//! Validation follows libvirt's lax parser (`virDomainDefParseXML`): unknown
//! elements are kept, not rejected; the checks are the ones libvirt makes on the
//! modelled fields. Errors are `XML_ERROR` naming the element, value and line.

mod devices;

pub use devices::{
    address_string, CharDev, Controller, Devices, Disk, Graphics, Input, Interface, MemBalloon, Rng, Video,
};

use crate::error::{VirtError, VirtResult};
use crate::fields::{
    attr, attr_u32, check_name, child_text, ensure_child, expect_root, invalid, missing, scaled_child, set_child_text,
    set_sized_child, uuid_child,
};
use crate::xml::{self, Element};
use uuid::Uuid;

/// libvirt's order of the top-level elements of `<domain>`
/// (`virDomainDefFormatInternal`), used to place elements virtbus adds.
const DOMAIN_ORDER: &[&str] = &[
    "name",
    "uuid",
    "genid",
    "title",
    "description",
    "metadata",
    "maxMemory",
    "memory",
    "currentMemory",
    "blkiotune",
    "memtune",
    "memoryBacking",
    "vcpu",
    "vcpus",
    "iothreads",
    "iothreadids",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "os",
    "idmap",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "on_lockfailure",
    "pm",
    "perf",
    "devices",
    "seclabel",
];

/// `virDomainVirtType` names accepted in `<domain type=...>`.
const VIRT_TYPES: &[&str] = &[
    "qemu",
    "kqemu",
    "kvm",
    "xen",
    "lxc",
    "uml",
    "openvz",
    "test",
    "vmware",
    "hyperv",
    "vbox",
    "phyp",
    "parallels",
    "bhyve",
    "vz",
    "hvf",
];

/// `virDomainLifecycleAction` names; the coredump ones are valid for `on_crash` only.
const LIFECYCLE_ACTIONS: &[&str] = &["destroy", "restart", "rename-restart", "preserve"];
const CRASH_ACTIONS: &[&str] = &["coredump-destroy", "coredump-restart"];

/// The largest memory size libvirt accepts on 64-bit hosts: `LLONG_MAX` bytes,
/// checked after rounding up to KiB (`virDomainParseMemory`).
const MAX_MEMORY_KIB: u64 = (i64::MAX as u64).div_ceil(1024);

/// `<maxMemory slots='16' unit='KiB'>`: the hotplug ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxMemory {
    pub kib: u64,
    pub slots: u32,
}

/// `<vcpu placement=... cpuset=... current=N>MAX</vcpu>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcpu {
    pub max: u32,
    pub current: u32,
    pub placement: Option<String>,
    pub cpuset: Option<String>,
}

impl Default for Vcpu {
    /// libvirt's default without `<vcpu>`: one vCPU.
    fn default() -> Self {
        Vcpu {
            max: 1,
            current: 1,
            placement: None,
            cpuset: None,
        }
    }
}

/// `<os>`: guest type, firmware and boot configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OsDef {
    /// `<type>`: hvm, xen, linux, exe, uml or xenpvh (empty if absent).
    pub os_type: String,
    /// `<type arch=...>`.
    pub arch: Option<String>,
    /// `<type machine=...>`.
    pub machine: Option<String>,
    /// `<boot dev=...>` in order (hd, cdrom, network, fd).
    pub boot_devs: Vec<String>,
    pub kernel: Option<String>,
    pub initrd: Option<String>,
    pub cmdline: Option<String>,
    /// `<loader>` path.
    pub loader: Option<String>,
}

/// `<cpu>`: guest CPU model and topology.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuDef {
    /// `mode`: custom, host-model, host-passthrough, maximum.
    pub mode: Option<String>,
    /// `match`: minimum, exact, strict.
    pub match_mode: Option<String>,
    pub model: Option<String>,
    pub vendor: Option<String>,
    pub topology: Option<CpuTopology>,
}

/// `<cpu><topology sockets= dies= cores= threads=/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTopology {
    pub sockets: u32,
    /// libvirt defaults `dies` to 1.
    pub dies: u32,
    pub cores: u32,
    pub threads: u32,
}

/// `<clock offset=...>` with its timers' names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClockDef {
    pub offset: Option<String>,
    pub timers: Vec<String>,
}

/// A libvirt domain definition: typed fields plus the full document.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainDef {
    /// `<domain type=...>`: kvm, qemu, test, ...
    pub domain_type: String,
    /// `<domain id=...>`: set for running domains only.
    pub id: Option<i32>,
    pub name: String,
    /// Generated (v4) if the XML has none.
    pub uuid: Uuid,
    pub title: Option<String>,
    pub description: Option<String>,
    /// `<memory>`, in KiB.
    pub memory_kib: u64,
    /// `<currentMemory>`, in KiB; libvirt's rule: absent, 0 or above `memory`
    /// means `memory`.
    pub current_memory_kib: u64,
    pub max_memory: Option<MaxMemory>,
    pub vcpu: Vcpu,
    pub os: OsDef,
    /// Names of the elements under `<features>` (acpi, apic, pae, ...).
    pub features: Vec<String>,
    pub cpu: Option<CpuDef>,
    pub clock: Option<ClockDef>,
    pub on_poweroff: Option<String>,
    pub on_reboot: Option<String>,
    pub on_crash: Option<String>,
    /// A read-only view of `<devices>`; edit devices through [`DomainDef::update_tree`].
    pub devices: Devices,
    /// The whole document: the source of truth for everything not modelled.
    tree: Element,
}

impl DomainDef {
    /// Parses and validates a domain document.
    pub fn from_xml(xml: &str) -> VirtResult<DomainDef> {
        Self::from_element(xml::parse(xml)?)
    }

    /// Reads and validates a `<domain>` element. The stored tree is brought in
    /// line with the typed fields at once (uuid added, memory in KiB, ...), so a
    /// definition and its re-parsed output compare equal.
    pub fn from_element(el: Element) -> VirtResult<DomainDef> {
        expect_root(&el, "domain")?;
        let domain_type = match el.attr("type") {
            None => {
                return Err(VirtError::xml(format!(
                    "missing attribute 'type' in <domain> at line {}",
                    el.line
                )))
            }
            Some(t) if !VIRT_TYPES.contains(&t) => {
                return Err(invalid(&el, "domain type", t, "unknown virtualization type"))
            }
            Some(t) => t.to_string(),
        };
        let id = match el.attr("id") {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<i32>()
                    .map_err(|_| invalid(&el, "attribute 'id'", v, "expected an integer"))?,
            ),
        };
        let name = check_name(&el, "domain")?;
        let uuid = uuid_child(&el)?;
        let title = child_text(&el, "title");
        if let (Some(t), Some(t_el)) = (&title, el.child("title")) {
            if t.contains('\n') {
                return Err(invalid(t_el, "title", t, "a domain title cannot contain newlines"));
            }
        }
        let description = child_text(&el, "description");

        let (memory_kib, current_memory_kib, max_memory) = parse_memory(&el)?;
        let vcpu = parse_vcpu(&el)?;
        let os = parse_os(&el);
        let features = el
            .child("features")
            .map(|f| f.elements().map(|e| e.name.clone()).collect())
            .unwrap_or_default();
        let cpu = parse_cpu(&el)?;
        let clock = el.child("clock").map(|c| ClockDef {
            offset: attr(c, "offset"),
            timers: c.children_named("timer").filter_map(|t| attr(t, "name")).collect(),
        });
        let on_poweroff = lifecycle_action(&el, "on_poweroff")?;
        let on_reboot = lifecycle_action(&el, "on_reboot")?;
        let on_crash = lifecycle_action(&el, "on_crash")?;
        let devices = el.child("devices").map(Devices::from_element).unwrap_or_default();

        let mut def = DomainDef {
            domain_type,
            id,
            name,
            uuid,
            title,
            description,
            memory_kib,
            current_memory_kib,
            max_memory,
            vcpu,
            os,
            features,
            cpu,
            clock,
            on_poweroff,
            on_reboot,
            on_crash,
            devices,
            tree: el,
        };
        def.sync();
        // Elements added by the sync (uuid, currentMemory, vcpu) may have grown the
        // root's vector; definitions live long, so give the slack back.
        def.tree.children.shrink_to_fit();
        Ok(def)
    }

    /// The stored tree with the scalar fields written back.
    pub fn to_element(&self) -> Element {
        let mut tree = self.tree.clone();
        self.write_back(&mut tree);
        tree
    }

    /// The definition as libvirt-style XML.
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }

    /// The stored tree as parsed or last synced (see [`DomainDef::sync`]).
    pub fn element(&self) -> &Element {
        &self.tree
    }

    /// Writes the scalar fields into the stored tree, so [`DomainDef::element`]
    /// reflects edits made to them.
    pub fn sync(&mut self) {
        let mut tree = std::mem::take(&mut self.tree);
        self.write_back(&mut tree);
        self.tree = tree;
    }

    /// Edits the document through its tree (for anything the scalar fields do not
    /// cover: devices, features, ...), then re-reads and re-validates the model.
    /// On error the definition is left unchanged.
    pub fn update_tree(&mut self, edit: impl FnOnce(&mut Element)) -> VirtResult<()> {
        let mut tree = self.to_element();
        edit(&mut tree);
        *self = DomainDef::from_element(tree)?;
        Ok(())
    }

    fn write_back(&self, tree: &mut Element) {
        tree.set_attr("type", self.domain_type.as_str());
        match self.id {
            Some(id) => tree.set_attr("id", id.to_string()),
            None => tree.remove_attr("id"),
        }
        set_child_text(tree, "name", Some(&self.name), DOMAIN_ORDER);
        set_child_text(tree, "uuid", Some(&self.uuid.to_string()), DOMAIN_ORDER);
        set_child_text(tree, "title", self.title.as_deref(), DOMAIN_ORDER);
        set_child_text(tree, "description", self.description.as_deref(), DOMAIN_ORDER);
        match self.max_memory {
            Some(max) => {
                set_sized_child(tree, "maxMemory", Some(max.kib), "KiB", DOMAIN_ORDER);
                let el = ensure_child(tree, "maxMemory", DOMAIN_ORDER);
                el.set_attr("slots", max.slots.to_string());
            }
            None => tree.remove_children("maxMemory"),
        }
        set_sized_child(tree, "memory", Some(self.memory_kib), "KiB", DOMAIN_ORDER);
        set_sized_child(
            tree,
            "currentMemory",
            Some(self.current_memory_kib),
            "KiB",
            DOMAIN_ORDER,
        );

        let vcpu = ensure_child(tree, "vcpu", DOMAIN_ORDER);
        match &self.vcpu.placement {
            Some(p) => vcpu.set_attr("placement", p.as_str()),
            None => vcpu.remove_attr("placement"),
        }
        match &self.vcpu.cpuset {
            Some(c) => vcpu.set_attr("cpuset", c.as_str()),
            None => vcpu.remove_attr("cpuset"),
        }
        if self.vcpu.current != self.vcpu.max {
            vcpu.set_attr("current", self.vcpu.current.to_string());
        } else {
            vcpu.remove_attr("current");
        }
        let max = self.vcpu.max.to_string();
        if vcpu.text() != max {
            vcpu.set_text(max);
        }

        set_child_text(tree, "on_poweroff", self.on_poweroff.as_deref(), DOMAIN_ORDER);
        set_child_text(tree, "on_reboot", self.on_reboot.as_deref(), DOMAIN_ORDER);
        set_child_text(tree, "on_crash", self.on_crash.as_deref(), DOMAIN_ORDER);
    }
}

/// `<memory>`, `<currentMemory>` and `<maxMemory>`, all in KiB.
fn parse_memory(el: &Element) -> VirtResult<(u64, u64, Option<MaxMemory>)> {
    let kib_of = |name: &str| -> VirtResult<Option<u64>> {
        let Some(bytes) = scaled_child(el, name, "KiB")? else {
            return Ok(None);
        };
        let kib = crate::units::bytes_to_kib_ceil(bytes);
        if kib >= MAX_MEMORY_KIB {
            let child = el.child(name).ok_or_else(|| missing(el, name))?;
            return Err(invalid(
                child,
                "memory size",
                &child.text(),
                "size value too large, the limit is 2^63 bytes",
            ));
        }
        Ok(Some(kib))
    };
    let memory = kib_of("memory")?.ok_or_else(|| missing(el, "memory"))?;
    let has_numa = el
        .child("cpu")
        .and_then(|c| c.child("numa"))
        .is_some_and(|n| n.child("cell").is_some());
    if memory == 0 && !has_numa {
        let child = el.child("memory").ok_or_else(|| missing(el, "memory"))?;
        return Err(invalid(
            child,
            "memory size",
            &child.text(),
            "memory size must be greater than 0",
        ));
    }
    // virDomainDefPostParseMemory: a balloon above the total, or none, means the total.
    let current = match kib_of("currentMemory")? {
        Some(cur) if cur > 0 && cur <= memory => cur,
        _ => memory,
    };
    let max = match kib_of("maxMemory")? {
        None => None,
        Some(kib) => {
            let slots = match el.child("maxMemory") {
                Some(m) => attr_u32(m, "slots")?.unwrap_or(0),
                None => 0,
            };
            Some(MaxMemory { kib, slots })
        }
    };
    Ok((memory, current, max))
}

/// `<vcpu>`: libvirt's `virDomainVcpuParse`.
fn parse_vcpu(el: &Element) -> VirtResult<Vcpu> {
    let Some(v) = el.child("vcpu") else {
        return Ok(Vcpu::default());
    };
    let text = v.text();
    let max: u32 = text
        .parse()
        .map_err(|_| invalid(v, "vcpu count", &text, "maximum vcpus count must be an integer"))?;
    if max == 0 {
        return Err(invalid(v, "vcpu count", &text, "a domain needs at least one vcpu"));
    }
    let current = attr_u32(v, "current")?.unwrap_or(max);
    if current == 0 {
        return Err(invalid(
            v,
            "attribute 'current'",
            "0",
            "a domain needs at least one vcpu",
        ));
    }
    if current > max {
        return Err(invalid(
            v,
            "attribute 'current'",
            &current.to_string(),
            &format!("maximum vcpu count {max} must not be less than current vcpu count"),
        ));
    }
    Ok(Vcpu {
        max,
        current,
        placement: attr(v, "placement"),
        cpuset: attr(v, "cpuset"),
    })
}

fn parse_os(el: &Element) -> OsDef {
    let Some(os) = el.child("os") else {
        return OsDef::default();
    };
    let type_el = os.child("type");
    OsDef {
        os_type: type_el.map(Element::text).unwrap_or_default(),
        arch: type_el.and_then(|t| attr(t, "arch")),
        machine: type_el.and_then(|t| attr(t, "machine")),
        boot_devs: os.children_named("boot").filter_map(|b| attr(b, "dev")).collect(),
        kernel: child_text(os, "kernel"),
        initrd: child_text(os, "initrd"),
        cmdline: child_text(os, "cmdline"),
        loader: child_text(os, "loader"),
    }
}

fn parse_cpu(el: &Element) -> VirtResult<Option<CpuDef>> {
    let Some(cpu) = el.child("cpu") else {
        return Ok(None);
    };
    let topology = match cpu.child("topology") {
        None => None,
        Some(t) => Some(CpuTopology {
            sockets: attr_u32(t, "sockets")?.unwrap_or(1),
            dies: attr_u32(t, "dies")?.unwrap_or(1),
            cores: attr_u32(t, "cores")?.unwrap_or(1),
            threads: attr_u32(t, "threads")?.unwrap_or(1),
        }),
    };
    Ok(Some(CpuDef {
        mode: attr(cpu, "mode"),
        match_mode: attr(cpu, "match"),
        model: child_text(cpu, "model"),
        vendor: child_text(cpu, "vendor"),
        topology,
    }))
}

fn lifecycle_action(el: &Element, name: &str) -> VirtResult<Option<String>> {
    let Some(child) = el.child(name) else {
        return Ok(None);
    };
    let action = child.text();
    let known = LIFECYCLE_ACTIONS.contains(&action.as_str())
        || (name == "on_crash" && CRASH_ACTIONS.contains(&action.as_str()));
    if !known {
        return Err(invalid(child, "lifecycle action", &action, "unknown action"));
    }
    Ok(Some(action))
}

#[cfg(test)]
mod tests;
