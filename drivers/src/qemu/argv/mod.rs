//! The qemu command line from a domain definition, in the shape libvirt 9.0's
//! qemu driver gives it for a current qemu (`qemuBuildCommandLine` with the
//! "latest" capabilities): JSON `-device`/`-blockdev`/`-netdev`/`-object`
//! values, devices in libvirt's order, PCI slots assigned in libvirt's order
//! (`qemuDomainAssignDevicePCISlots`, i440fx: slot 1 is the PIIX3, slot 2 the
//! primary video card; q35: the primary video card at slot 1 of `pcie.0`,
//! every other device alone on its own `pcie-root-port`, plus one spare
//! port for hotplug).
//!
//! Only what the driver supports is accepted; anything else is a
//! `CONFIG_UNSUPPORTED` error naming the device, never a silently dropped
//! option. Values that go through qemu's key=value parser have their commas
//! doubled ([`escape`]); JSON values need no escaping beyond JSON's own.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use virtbus_schemas::domain::{Disk, Interface};

mod devices;
use virtbus_schemas::{DomainDef, ErrorCode, VirtError, VirtResult};

/// CPU accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    /// The accelerator a domain of `domain_type` gets: `kvm` needs a usable
    /// `/dev/kvm` (an error otherwise), `qemu` always means TCG.
    pub fn for_domain(domain_type: &str, kvm_usable: bool) -> VirtResult<Accel> {
        match domain_type {
            "qemu" => Ok(Accel::Tcg),
            "kvm" if kvm_usable => Ok(Accel::Kvm),
            "kvm" => Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                "domain type 'kvm' needs a usable /dev/kvm, which this host lacks; use <domain type='qemu'> for TCG",
            )),
            other => Err(VirtError::new(
                ErrorCode::ConfigUnsupported,
                format!("domain type '{other}' is not supported by the qemu driver (use 'kvm' or 'qemu')"),
            )),
        }
    }
}

/// Whether `/dev/kvm` can be opened for reading and writing.
pub fn kvm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// What the command line needs besides the definition.
#[derive(Debug, Clone)]
pub struct ArgvContext<'a> {
    pub accel: Accel,
    /// The QMP monitor's unix socket.
    pub qmp_socket: &'a Path,
    /// Whether tap/bridge interfaces are allowed (running as root).
    pub privileged: bool,
}

/// Doubles commas, as qemu's option parser needs inside a `key=value` list.
pub fn escape(value: &str) -> String {
    value.replace(',', ",,")
}

fn unsupported(what: impl Into<String>) -> VirtError {
    VirtError::new(ErrorCode::ConfigUnsupported, what.into())
}

/// The arguments after the emulator path.
pub fn build(def: &DomainDef, ctx: &ArgvContext<'_>) -> VirtResult<Vec<String>> {
    let mut b = Builder::new(def, ctx)?;
    b.run()?;
    Ok(b.args)
}

/// A parsed `<address>`: its type and attributes.
fn address_map(addr: &Option<String>) -> Option<(String, BTreeMap<String, String>)> {
    let text = addr.as_deref()?;
    let mut parts = text.split(' ');
    let kind = parts.next().unwrap_or("").to_string();
    let map = parts
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    Some((kind, map))
}

fn parse_num(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// i440fx PCI slot bookkeeping on bus 0.
struct PciSlots {
    used: BTreeSet<u32>,
}

impl PciSlots {
    fn reserve(&mut self, slot: u32, what: &str) -> VirtResult<()> {
        if !self.used.insert(slot) {
            return Err(VirtError::xml(format!(
                "duplicate PCI address: slot 0x{slot:x} of bus 0 is used twice ({what})"
            )));
        }
        Ok(())
    }

    fn next(&mut self, what: &str) -> VirtResult<u32> {
        let slot = (1..32u32)
            .find(|s| !self.used.contains(s))
            .ok_or_else(|| unsupported(format!("no free PCI slot left on bus 0 for {what}")))?;
        self.used.insert(slot);
        Ok(slot)
    }
}

/// The slot an explicit `<address type='pci'>` asks for, if any.
fn explicit_slot(addr: &Option<String>, what: &str) -> VirtResult<Option<u32>> {
    let Some((kind, map)) = address_map(addr) else {
        return Ok(None);
    };
    if kind != "pci" {
        return Ok(None);
    }
    let bus = map.get("bus").and_then(|b| parse_num(b)).unwrap_or(0);
    if bus != 0 {
        return Err(unsupported(format!(
            "{what}: only PCI bus 0 is supported, got bus {bus}"
        )));
    }
    let slot = map
        .get("slot")
        .and_then(|s| parse_num(s))
        .ok_or_else(|| VirtError::xml(format!("{what}: PCI address without a valid slot")))?;
    Ok(Some(slot))
}

fn pci_addr(slot: u32) -> String {
    format!("0x{slot:x}")
}

/// A disk's place on its controller: (controller, bus, target, unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct DriveAddr {
    controller: u32,
    bus: u32,
    target: u32,
    unit: u32,
}

/// The index a target name encodes: `hda` → 0, `vdb` → 1, `sdaa` → 26.
fn target_index(dev: &str) -> Option<u32> {
    let letters = dev.get(2..)?;
    if letters.is_empty() || !letters.bytes().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let mut idx: u32 = 0;
    for c in letters.bytes() {
        idx = idx.checked_mul(26)?.checked_add(u32::from(c - b'a') + 1)?;
    }
    Some(idx - 1)
}

/// Which `<devices>` kinds exist in the tree that this driver cannot build.
const UNSUPPORTED_DEVICES: &[&str] = &[
    "hostdev",
    "filesystem",
    "sound",
    "watchdog",
    "redirdev",
    "smartcard",
    "hub",
    "tpm",
    "shmem",
    "panic",
    "vsock",
    "iommu",
    "lease",
    "parallel",
    "memory",
];

struct Builder<'a> {
    def: &'a DomainDef,
    ctx: &'a ArgvContext<'a>,
    args: Vec<String>,
    pci: PciSlots,
    /// Boot index per device, from `<boot order>` or `<os><boot dev>`.
    disk_boot: Vec<Option<u32>>,
    net_boot: Vec<Option<u32>>,
    /// Slots assigned per device class, in document order.
    net_slots: Vec<u32>,
    disk_slots: BTreeMap<usize, u32>,
    controller_slots: BTreeMap<usize, u32>,
    balloon_slot: Option<u32>,
    rng_slots: Vec<u32>,
    video_slots: Vec<u32>,
    /// Implicit SCSI controllers libvirt would add for SCSI disks.
    implicit_scsi: BTreeSet<u32>,
    /// The USB controller libvirt adds when the XML names none (q35: a
    /// qemu-xhci, placed in controller order).
    default_usb_slot: Option<u32>,
    /// q35: how many pcie-root-ports the command line starts with.
    root_ports: u32,
    machine: String,
}

impl<'a> Builder<'a> {
    fn new(def: &'a DomainDef, ctx: &'a ArgvContext<'a>) -> VirtResult<Self> {
        let machine = def.os.machine.clone().unwrap_or_else(|| "pc".to_string());
        let mut b = Builder {
            def,
            ctx,
            args: Vec::new(),
            pci: PciSlots { used: BTreeSet::new() },
            disk_boot: vec![None; def.devices.disks.len()],
            net_boot: vec![None; def.devices.interfaces.len()],
            net_slots: Vec::new(),
            disk_slots: BTreeMap::new(),
            controller_slots: BTreeMap::new(),
            balloon_slot: None,
            rng_slots: Vec::new(),
            video_slots: Vec::new(),
            implicit_scsi: BTreeSet::new(),
            default_usb_slot: None,
            root_ports: 0,
            machine,
        };
        b.check_supported()?;
        b.assign_boot();
        b.assign_pci()?;
        Ok(b)
    }

    fn is_i440fx(&self) -> bool {
        self.machine == "pc"
            || self.machine.starts_with("pc-i440fx")
            || (self.machine.starts_with("pc-") && !self.machine.starts_with("pc-q35"))
    }

    fn is_q35(&self) -> bool {
        self.machine == "q35" || self.machine.starts_with("pc-q35")
    }

    /// Where a device with PCI place `slot` goes (`bus`, `addr`): slot
    /// `slot` of bus 0 on i440fx; on q35 alone on root port `pci.SLOT`.
    fn pci_place(&self, slot: u32) -> (String, String) {
        if self.is_q35() {
            (format!("pci.{slot}"), "0x0".into())
        } else {
            ("pci.0".into(), pci_addr(slot))
        }
    }

    /// Inserts `bus` and `addr` for PCI place `slot` into a device's JSON.
    fn insert_place(&self, d: &mut serde_json::Map<String, Value>, slot: u32) {
        let (bus, addr) = self.pci_place(slot);
        d.insert("bus".into(), json!(bus));
        d.insert("addr".into(), json!(addr));
    }

    /// q35's `pcie-root-port`s, functions of consecutive slots of `pcie.0`
    /// from slot 1 (slot 2 when the primary video card holds slot 1), as
    /// libvirt numbers them: port = slot * 8 + function, chassis = index.
    fn root_port_devices(&mut self) {
        let base = if self.video_slots.is_empty() { 1 } else { 2 };
        for k in 0..self.root_ports {
            let (slot, function) = (base + k / 8, k % 8);
            let mut d = serde_json::Map::new();
            d.insert("driver".into(), json!("pcie-root-port"));
            d.insert("port".into(), json!(slot * 8 + function));
            d.insert("chassis".into(), json!(k + 1));
            d.insert("id".into(), json!(format!("pci.{}", k + 1)));
            d.insert("bus".into(), json!("pcie.0"));
            if function == 0 && k + 1 < self.root_ports {
                d.insert("multifunction".into(), json!(true));
            }
            let addr = if function == 0 {
                pci_addr(slot)
            } else {
                format!("0x{slot:x}.0x{function:x}")
            };
            d.insert("addr".into(), json!(addr));
            self.push_json("-device", Value::Object(d));
        }
    }

    fn check_supported(&self) -> VirtResult<()> {
        let def = self.def;
        if def.os.os_type != "hvm" && !def.os.os_type.is_empty() {
            return Err(unsupported(format!(
                "os type '{}' is not supported by the qemu driver (only hvm)",
                def.os.os_type
            )));
        }
        if let Some(arch) = &def.os.arch {
            if arch != "x86_64" && arch != "i686" {
                return Err(unsupported(format!(
                    "architecture '{arch}' is not supported (x86_64 only)"
                )));
            }
        }
        if let Some(devices) = def.element().child("devices") {
            for dev in devices.elements() {
                if UNSUPPORTED_DEVICES.contains(&dev.name.as_str()) {
                    return Err(unsupported(format!(
                        "<{}> devices are not supported by the qemu driver yet",
                        dev.name
                    )));
                }
            }
        }
        // Two disks at the same place on the same controller.
        let mut seen = BTreeSet::new();
        for (idx, disk) in def.devices.disks.iter().enumerate() {
            let bus = disk_bus(disk);
            let addr = self.drive_addr(disk, idx)?;
            if !matches!(bus.as_str(), "virtio") && !seen.insert((bus.clone(), addr)) {
                return Err(VirtError::xml(format!(
                    "duplicate drive address: disk '{}' uses controller {} bus {} target {} unit {} on the {bus} bus, as an earlier disk does",
                    disk.target_dev.as_deref().unwrap_or("?"),
                    addr.controller,
                    addr.bus,
                    addr.target,
                    addr.unit
                )));
            }
        }
        Ok(())
    }

    /// libvirt's `<os><boot dev=...>` → per-device boot index, unless the
    /// devices carry `<boot order=...>` themselves.
    fn assign_boot(&mut self) {
        let devices = &self.def.devices;
        let per_device = devices.disks.iter().any(|d| d.boot_order.is_some())
            || devices.interfaces.iter().any(|i| i.boot_order.is_some());
        if per_device {
            for (i, d) in devices.disks.iter().enumerate() {
                self.disk_boot[i] = d.boot_order;
            }
            for (i, n) in devices.interfaces.iter().enumerate() {
                self.net_boot[i] = n.boot_order;
            }
            return;
        }
        let mut boot_devs = self.def.os.boot_devs.clone();
        if boot_devs.is_empty() && self.def.os.kernel.is_none() {
            boot_devs.push("hd".to_string());
        }
        for (n, dev) in boot_devs.iter().enumerate() {
            let index = Some(n as u32 + 1);
            match dev.as_str() {
                "hd" | "cdrom" | "fd" => {
                    let device = match dev.as_str() {
                        "hd" => "disk",
                        "cdrom" => "cdrom",
                        _ => "floppy",
                    };
                    if let Some(i) = devices.disks.iter().position(|d| d.device == device) {
                        self.disk_boot[i] = index;
                    }
                }
                "network" if !devices.interfaces.is_empty() => self.net_boot[0] = index,
                _ => {}
            }
        }
    }

    /// PCI slots in libvirt's order: explicit addresses first, then primary
    /// video at slot 2, then controllers, NICs, virtio disks, the balloon,
    /// RNGs and the other video cards.
    fn assign_pci(&mut self) -> VirtResult<()> {
        let devices = &self.def.devices;
        let i440fx = self.is_i440fx();
        // Slot 0 is the host bridge; on i440fx slot 1 is the PIIX3.
        self.pci.reserve(0, "host bridge")?;
        if i440fx {
            self.pci.reserve(1, "PIIX3")?;
        } else {
            // q35: the ICH9 functions live at slot 0x1f.
            self.pci.reserve(0x1f, "ICH9")?;
        }
        let mut explicit: Vec<(u32, String)> = Vec::new();
        for c in &devices.controllers {
            if let Some(s) = explicit_slot(&c.address, "controller")? {
                explicit.push((s, format!("controller {}", c.controller_type)));
            }
        }
        for n in &devices.interfaces {
            if let Some(s) = explicit_slot(&n.address, "interface")? {
                explicit.push((s, "interface".into()));
            }
        }
        for d in &devices.disks {
            if let Some(s) = explicit_slot(&d.address, "disk")? {
                explicit.push((s, format!("disk {}", d.target_dev.as_deref().unwrap_or("?"))));
            }
        }
        if self.is_q35() && !explicit.is_empty() {
            return Err(unsupported(format!(
                "explicit PCI addresses are not supported on machine '{}' yet ({})",
                self.machine, explicit[0].1
            )));
        }
        for (slot, what) in &explicit {
            self.pci.reserve(*slot, what)?;
        }
        let videos: Vec<&virtbus_schemas::domain::Video> = devices
            .videos
            .iter()
            .filter(|v| v.model_type.as_deref() != Some("none"))
            .collect();
        if let Some(first) = videos.first() {
            let _ = first;
            let slot = if i440fx && !self.pci.used.contains(&2) {
                self.pci.reserve(2, "primary video")?;
                2
            } else if self.is_q35() {
                // Integrated at slot 1 of pcie.0, not behind a root port.
                1
            } else {
                self.pci.next("primary video")?
            };
            self.video_slots.push(slot);
        }
        for (i, n) in devices.interfaces.iter().enumerate() {
            let slot = match explicit_slot(&n.address, "interface")? {
                Some(s) => s,
                None => self.pci.next("interface")?,
            };
            let _ = i;
            self.net_slots.push(slot);
        }
        // SCSI controllers the disks need but the XML lacks.
        let declared: BTreeSet<u32> = devices
            .controllers
            .iter()
            .filter(|c| c.controller_type == "scsi")
            .map(|c| c.index.unwrap_or(0))
            .collect();
        for (idx, d) in devices.disks.iter().enumerate() {
            if disk_bus(d) == "scsi" {
                let ctrl = self.drive_addr(d, idx)?.controller;
                if !declared.contains(&ctrl) {
                    self.implicit_scsi.insert(ctrl);
                }
            }
        }
        if self.is_q35() && !devices.controllers.iter().any(|c| c.controller_type == "usb") {
            self.default_usb_slot = Some(self.pci.next("usb controller")?);
        }
        for (i, c) in devices.controllers.iter().enumerate() {
            if !controller_needs_pci(c, i440fx) {
                continue;
            }
            let slot = match explicit_slot(&c.address, "controller")? {
                Some(s) => s,
                None => self.pci.next("controller")?,
            };
            self.controller_slots.insert(i, slot);
        }
        let implicit: Vec<u32> = self.implicit_scsi.iter().copied().collect();
        for ctrl in implicit {
            let slot = self.pci.next("scsi controller")?;
            self.controller_slots.insert(usize::MAX - ctrl as usize, slot);
        }
        for (i, d) in devices.disks.iter().enumerate() {
            if disk_bus(d) != "virtio" {
                continue;
            }
            let slot = match explicit_slot(&d.address, "disk")? {
                Some(s) => s,
                None => self.pci.next("virtio disk")?,
            };
            self.disk_slots.insert(i, slot);
        }
        if self.balloon_model() == Some("virtio") {
            self.balloon_slot = Some(self.pci.next("memballoon")?);
        }
        for _ in &devices.rngs {
            let slot = self.pci.next("rng")?;
            self.rng_slots.push(slot);
        }
        for _ in videos.iter().skip(1) {
            let slot = self.pci.next("video")?;
            self.video_slots.push(slot);
        }
        if self.is_q35() {
            // One port per device, plus a spare one for hotplug when any
            // was needed (libvirt adds it when the XML names no root port).
            let used = self.pci.used.iter().filter(|s| **s != 0 && **s != 0x1f).count() as u32;
            self.root_ports = if used > 0 { used + 1 } else { 0 };
        }
        Ok(())
    }

    /// The balloon's model: libvirt adds a virtio balloon when there is no
    /// `<memballoon>` element.
    fn balloon_model(&self) -> Option<&str> {
        match &self.def.devices.memballoon {
            None => Some("virtio"),
            Some(b) if b.model == "none" => None,
            Some(b) => Some(b.model.as_str()),
        }
    }

    fn drive_addr(&self, disk: &Disk, idx: usize) -> VirtResult<DriveAddr> {
        if let Some((kind, map)) = address_map(&disk.address) {
            if kind == "drive" {
                let get = |k: &str| map.get(k).and_then(|v| parse_num(v)).unwrap_or(0);
                return Ok(DriveAddr {
                    controller: get("controller"),
                    bus: get("bus"),
                    target: get("target"),
                    unit: get("unit"),
                });
            }
        }
        let dev = disk.target_dev.as_deref().unwrap_or("");
        let n = target_index(dev).unwrap_or(idx as u32);
        Ok(match disk_bus(disk).as_str() {
            // Two buses of two units on each IDE controller.
            "ide" => DriveAddr {
                controller: n / 4,
                bus: (n % 4) / 2,
                target: 0,
                unit: n % 2,
            },
            // Six ports per AHCI controller.
            "sata" => DriveAddr {
                controller: n / 6,
                bus: 0,
                target: 0,
                unit: n % 6,
            },
            // lsilogic: seven units per controller.
            "scsi" => DriveAddr {
                controller: n / 7,
                bus: 0,
                target: 0,
                unit: n % 7,
            },
            "fdc" => DriveAddr {
                controller: 0,
                bus: 0,
                target: 0,
                unit: n,
            },
            _ => DriveAddr {
                controller: 0,
                bus: 0,
                target: 0,
                unit: n,
            },
        })
    }

    fn push(&mut self, opt: &str, value: impl Into<String>) {
        self.args.push(opt.to_string());
        self.args.push(value.into());
    }

    fn push_json(&mut self, opt: &str, value: Value) {
        self.push(opt, value.to_string());
    }

    fn run(&mut self) -> VirtResult<()> {
        let def = self.def;
        self.push("-name", format!("guest={},debug-threads=on", escape(&def.name)));
        self.args.push("-S".into());
        // `<features><smm state='on|off'/>`: libvirt passes it right after usb=off.
        let smm = def
            .element()
            .child("features")
            .and_then(|f| f.child("smm"))
            .map(|smm| match smm.attr("state") {
                Some("off") => ",smm=off",
                _ => ",smm=on",
            })
            .unwrap_or("");
        self.push(
            "-machine",
            format!(
                "{},usb=off{smm},dump-guest-core=off,memory-backend=pc.ram",
                escape(&self.machine)
            ),
        );
        self.push(
            "-accel",
            match self.ctx.accel {
                Accel::Kvm => "kvm",
                Accel::Tcg => "tcg",
            },
        );
        self.push("-cpu", self.cpu_model()?);
        let mib = def.memory_kib.div_ceil(1024);
        match def.max_memory {
            Some(max) if max.slots > 0 => self.push(
                "-m",
                format!("size={}k,slots={},maxmem={}k", mib * 1024, max.slots, max.kib),
            ),
            _ => self.push("-m", mib.to_string()),
        }
        self.push_json(
            "-object",
            json!({"qom-type": "memory-backend-ram", "id": "pc.ram", "size": mib * 1024 * 1024}),
        );
        self.push("-overcommit", "mem-lock=off");
        self.push("-smp", self.smp()?);
        self.push("-uuid", def.uuid.to_string());
        if def.devices.graphics.is_empty() {
            self.push("-display", "none");
        }
        self.args.push("-no-user-config".into());
        self.args.push("-nodefaults".into());
        self.push(
            "-chardev",
            format!(
                "socket,id=charmonitor,path={},server=on,wait=off",
                escape(&self.ctx.qmp_socket.to_string_lossy())
            ),
        );
        self.push("-mon", "chardev=charmonitor,id=monitor,mode=control");
        let rtc = match def.clock.as_ref().and_then(|c| c.offset.as_deref()) {
            None | Some("utc") => "base=utc",
            Some("localtime") => "base=localtime",
            Some(other) => return Err(unsupported(format!("clock offset '{other}' is not supported"))),
        };
        self.push("-rtc", rtc);
        self.args.push("-no-shutdown".into());
        if !def.features.iter().any(|f| f == "acpi") {
            self.args.push("-no-acpi".into());
        }
        self.push("-boot", self.boot_value());
        if let Some(kernel) = &def.os.kernel {
            self.push("-kernel", kernel.clone());
        }
        if let Some(initrd) = &def.os.initrd {
            self.push("-initrd", initrd.clone());
        }
        if let Some(cmdline) = &def.os.cmdline {
            self.push("-append", cmdline.clone());
        }
        self.controllers()?;
        self.disks()?;
        self.nets()?;
        self.serials()?;
        self.inputs()?;
        self.push_json("-audiodev", json!({"id": "audio1", "driver": "none"}));
        self.graphics()?;
        self.videos()?;
        if let Some(slot) = self.balloon_slot {
            let (bus, addr) = self.pci_place(slot);
            self.push_json(
                "-device",
                json!({"driver": "virtio-balloon-pci", "id": "balloon0", "bus": bus, "addr": addr}),
            );
        }
        self.rngs()?;
        self.push(
            "-sandbox",
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        );
        self.push("-msg", "timestamp=on");
        Ok(())
    }

    /// `-boot`: the `<bootmenu>` setting, then strict boot order.
    fn boot_value(&self) -> String {
        let menu = self.def.element().child("os").and_then(|os| os.child("bootmenu"));
        match menu {
            Some(m) if m.attr("enable") == Some("yes") => match m.attr("timeout") {
                Some(t) => format!("menu=on,splash-time={},strict=on", escape(t)),
                None => "menu=on,strict=on".into(),
            },
            Some(m) if m.attr("enable") == Some("no") => "menu=off,strict=on".into(),
            _ => "strict=on".into(),
        }
    }

    fn cpu_model(&self) -> VirtResult<String> {
        let kvm = self.ctx.accel == Accel::Kvm;
        let Some(cpu) = &self.def.cpu else {
            return Ok("qemu64".into());
        };
        match cpu.mode.as_deref() {
            Some("host-passthrough") | Some("host-model") if kvm => Ok("host".into()),
            Some("host-passthrough") => Err(unsupported(
                "cpu mode 'host-passthrough' needs KVM; use <domain type='kvm'> on a host with /dev/kvm",
            )),
            Some("host-model") | Some("maximum") => Ok("max".into()),
            None | Some("custom") => Ok(cpu.model.as_deref().map(escape).unwrap_or_else(|| "qemu64".into())),
            Some(other) => Err(unsupported(format!("cpu mode '{other}' is not supported"))),
        }
    }

    fn smp(&self) -> VirtResult<String> {
        let vcpu = &self.def.vcpu;
        let (sockets, dies, cores, threads) = match self.def.cpu.as_ref().and_then(|c| c.topology) {
            Some(t) => (t.sockets, t.dies, t.cores, t.threads),
            None => (vcpu.max, 1, 1, 1),
        };
        if sockets * dies * cores * threads != vcpu.max {
            return Err(VirtError::xml(format!(
                "cpu topology {sockets} sockets × {dies} dies × {cores} cores × {threads} threads does not match {} vcpus",
                vcpu.max
            )));
        }
        let mut out = vcpu.current.to_string();
        if vcpu.max != vcpu.current {
            out.push_str(&format!(",maxcpus={}", vcpu.max));
        }
        out.push_str(&format!(",sockets={sockets}"));
        if dies != 1 {
            out.push_str(&format!(",dies={dies}"));
        }
        out.push_str(&format!(",cores={cores},threads={threads}"));
        Ok(out)
    }

    fn controllers(&mut self) -> VirtResult<()> {
        let devices = &self.def.devices;
        let i440fx = self.is_i440fx();
        self.root_port_devices();
        let usb_declared = devices.controllers.iter().any(|c| c.controller_type == "usb");
        if !usb_declared {
            // libvirt adds the machine's default USB controller.
            self.usb_controller(None, None)?;
        }
        for (i, c) in devices.controllers.iter().enumerate() {
            let index = c.index.unwrap_or(0);
            match c.controller_type.as_str() {
                "usb" => self.usb_controller(c.model.as_deref(), Some(i))?,
                "ide" if i440fx && index == 0 => {}
                "fdc" if index == 0 => {}
                "pci" if matches!(c.model.as_deref(), Some("pci-root") | Some("pcie-root") | None) => {}
                "scsi" => {
                    let slot = self.controller_slots.get(&i).copied();
                    self.scsi_controller(c.model.as_deref(), index, slot)?;
                }
                "sata" => {
                    let slot = self.controller_slots.get(&i).copied();
                    if !i440fx && index == 0 {
                        continue;
                    }
                    let (bus, addr) = self.pci_place(slot.unwrap_or(0));
                    self.push_json(
                        "-device",
                        json!({"driver": "ahci", "id": format!("sata{index}"), "bus": bus, "addr": addr}),
                    );
                }
                other => {
                    return Err(unsupported(format!(
                        "controller type '{other}' (model {}) is not supported",
                        c.model.as_deref().unwrap_or("default")
                    )))
                }
            }
        }
        let implicit: Vec<u32> = self.implicit_scsi.iter().copied().collect();
        for ctrl in implicit {
            let slot = self.controller_slots.get(&(usize::MAX - ctrl as usize)).copied();
            self.scsi_controller(None, ctrl, slot)?;
        }
        Ok(())
    }

    /// A USB controller: the `idx`-th controller of the XML, or (`None`) the
    /// one libvirt adds when the XML names none.
    fn usb_controller(&mut self, model: Option<&str>, idx: Option<usize>) -> VirtResult<()> {
        let i440fx = self.is_i440fx();
        match model {
            Some("none") => Ok(()),
            None | Some("piix3-uhci") if i440fx => {
                self.push_json(
                    "-device",
                    json!({"driver": "piix3-usb-uhci", "id": "usb", "bus": "pci.0", "addr": "0x1.0x2"}),
                );
                Ok(())
            }
            None | Some("qemu-xhci") => {
                let assigned = match idx {
                    Some(i) => self.controller_slots.get(&i).copied(),
                    None => self.default_usb_slot,
                };
                let slot = match assigned {
                    Some(s) => s,
                    None => self.pci.next("usb controller")?,
                };
                let (bus, addr) = self.pci_place(slot);
                self.push_json(
                    "-device",
                    json!({"driver": "qemu-xhci", "id": "usb", "bus": bus, "addr": addr}),
                );
                Ok(())
            }
            Some(other) => Err(unsupported(format!("usb controller model '{other}' is not supported"))),
        }
    }

    fn scsi_controller(&mut self, model: Option<&str>, index: u32, slot: Option<u32>) -> VirtResult<()> {
        let driver = match model {
            None | Some("lsilogic") => "lsi",
            Some("virtio-scsi") => "virtio-scsi-pci",
            Some("lsisas1078") => "megasas",
            Some("lsisas1068") => "mptsas1068",
            Some("vmpvscsi") => "pvscsi",
            Some(other) => return Err(unsupported(format!("scsi controller model '{other}' is not supported"))),
        };
        let slot = slot.ok_or_else(|| VirtError::internal(format!("scsi controller {index} got no PCI slot")))?;
        let (bus, addr) = self.pci_place(slot);
        self.push_json(
            "-device",
            json!({"driver": driver, "id": format!("scsi{index}"), "bus": bus, "addr": addr}),
        );
        Ok(())
    }

    fn scsi_model(&self, ctrl: u32) -> Option<&str> {
        self.def
            .devices
            .controllers
            .iter()
            .find(|c| c.controller_type == "scsi" && c.index.unwrap_or(0) == ctrl)
            .and_then(|c| c.model.as_deref())
    }
}

fn controller_needs_pci(c: &virtbus_schemas::domain::Controller, i440fx: bool) -> bool {
    match c.controller_type.as_str() {
        "scsi" => true,
        "sata" => i440fx || c.index.unwrap_or(0) > 0,
        "usb" => matches!(c.model.as_deref(), Some("qemu-xhci")) || (!i440fx && c.model.as_deref() != Some("none")),
        _ => false,
    }
}

/// The bus a disk sits on: `<target bus=>`, else what its name implies.
pub fn disk_bus(disk: &Disk) -> String {
    if let Some(bus) = &disk.target_bus {
        return bus.clone();
    }
    let dev = disk.target_dev.as_deref().unwrap_or("");
    match dev.get(..2) {
        Some("hd") => "ide",
        Some("sd") => "scsi",
        Some("vd") => "virtio",
        Some("fd") => "fdc",
        _ => "ide",
    }
    .to_string()
}

/// The interface's MAC: configured, else one derived from the domain UUID
/// and the NIC's index in libvirt's `52:54:00` range, stable across starts.
pub fn mac_of(def: &DomainDef, net: &Interface, index: usize) -> String {
    if let Some(mac) = &net.mac {
        return mac.clone();
    }
    let b = def.uuid.as_bytes();
    format!(
        "52:54:00:{:02x}:{:02x}:{:02x}",
        b[13],
        b[14],
        b[15].wrapping_add(index as u8)
    )
}
