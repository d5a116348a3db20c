//! `<devices>` of a domain: a read-only typed view (formatdomain's "Devices").
//!
//! The view is lenient: libvirt validates devices in detail, virtbus reports
//! what drivers and adapters need (targets, sources, models, MACs) and keeps the
//! rest in the domain's tree. A value that does not parse reads as `None`.

use crate::fields::{attr, attr_num, child_attr, child_text};
use crate::xml::Element;

/// All devices of a domain, by kind, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    pub emulator: Option<String>,
    pub disks: Vec<Disk>,
    pub controllers: Vec<Controller>,
    pub interfaces: Vec<Interface>,
    pub serials: Vec<CharDev>,
    pub consoles: Vec<CharDev>,
    pub channels: Vec<CharDev>,
    pub graphics: Vec<Graphics>,
    pub videos: Vec<Video>,
    pub inputs: Vec<Input>,
    pub memballoon: Option<MemBalloon>,
    pub rngs: Vec<Rng>,
}

/// `<disk type= device=>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disk {
    /// `type`: file, block, dir, network, volume, nvme, vhostuser.
    pub disk_type: String,
    /// `device`: disk (the default), cdrom, floppy, lun.
    pub device: String,
    pub driver_name: Option<String>,
    pub driver_type: Option<String>,
    pub cache: Option<String>,
    /// The source's main value: the path, the network name, or the volume name.
    pub source: Option<String>,
    /// Which `<source>` attribute `source` came from: file, dev, dir, name, volume.
    pub source_attr: Option<String>,
    /// `<source pool=>` for volume disks.
    pub source_pool: Option<String>,
    /// `<source protocol=>` for network disks (rbd, nbd, iscsi, ...).
    pub source_protocol: Option<String>,
    pub target_dev: Option<String>,
    pub target_bus: Option<String>,
    pub readonly: bool,
    pub shareable: bool,
    pub serial: Option<String>,
    pub boot_order: Option<u32>,
    /// The `<address>`, see [`address_string`].
    pub address: Option<String>,
}

/// `<controller type= index= model=>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Controller {
    pub controller_type: String,
    pub index: Option<u32>,
    pub model: Option<String>,
    pub address: Option<String>,
}

/// `<interface type=>`: a guest NIC.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interface {
    /// `type`: network, bridge, direct, user, ethernet, ...
    pub if_type: String,
    /// Lowercase, as libvirt formats MAC addresses.
    pub mac: Option<String>,
    /// The source's main value: network name, bridge name or host device.
    pub source: Option<String>,
    /// Which `<source>` attribute `source` came from: network, bridge, dev, ...
    pub source_attr: Option<String>,
    pub model: Option<String>,
    /// `<target dev=>`: the host-side device name (vnet0).
    pub target_dev: Option<String>,
    pub boot_order: Option<u32>,
    pub address: Option<String>,
}

/// A character device: `<serial>`, `<console>`, `<channel>`, `<parallel>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharDev {
    /// `type`: pty, file, unix, tcp, spicevmc, ...
    pub dev_type: String,
    /// `<source path=>` (or `mode`-less `host`/`service` are left in the tree).
    pub source_path: Option<String>,
    pub target_type: Option<String>,
    pub target_port: Option<u32>,
    /// `<target name=>` of a channel (org.qemu.guest_agent.0).
    pub target_name: Option<String>,
}

/// `<graphics type=>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Graphics {
    pub graphics_type: String,
    /// The configured port; `None` with autoport (libvirt writes `port='-1'`).
    pub port: Option<i32>,
    pub autoport: Option<bool>,
    /// `listen` attribute, else the first `<listen address=>`.
    pub listen: Option<String>,
}

/// `<video><model type= vram= heads= primary=/></video>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Video {
    pub model_type: Option<String>,
    /// KiB.
    pub vram: Option<u64>,
    pub heads: Option<u32>,
    pub primary: bool,
}

/// `<input type= bus=>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    pub input_type: String,
    pub bus: Option<String>,
}

/// `<memballoon model=>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemBalloon {
    pub model: String,
    /// `<stats period=>` in seconds.
    pub period: Option<u32>,
}

/// `<rng model=><backend model=>SOURCE</backend></rng>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rng {
    pub model: String,
    pub backend_model: Option<String>,
    /// The backend's text (a device path such as /dev/urandom), if any.
    pub backend: Option<String>,
}

/// The device address as one string: its `type` then `key=value` for each other
/// attribute in document order (`pci domain=0x0000 bus=0x01 slot=0x00 function=0x0`).
pub fn address_string(dev: &Element) -> Option<String> {
    let addr = dev.child("address")?;
    let mut out = addr.attr("type").unwrap_or("").to_string();
    for (key, value) in addr.attrs.iter().filter(|(k, _)| k != "type") {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    Some(out)
}

/// The first of `names` present as an attribute of `<source>`, with its name.
fn source_of(dev: &Element, names: &[&str]) -> (Option<String>, Option<String>) {
    if let Some(src) = dev.child("source") {
        for name in names {
            if let Some(value) = src.attr(name) {
                return (Some(value.to_string()), Some((*name).to_string()));
            }
        }
    }
    (None, None)
}

impl Devices {
    /// Reads the typed view of a `<devices>` element.
    pub fn from_element(el: &Element) -> Devices {
        let mut devices = Devices {
            emulator: child_text(el, "emulator"),
            ..Devices::default()
        };
        for dev in el.elements() {
            match dev.name.as_str() {
                "disk" => devices.disks.push(Disk::from_element(dev)),
                "controller" => devices.controllers.push(Controller {
                    controller_type: attr(dev, "type").unwrap_or_default(),
                    index: attr_num(dev, "index"),
                    model: attr(dev, "model"),
                    address: address_string(dev),
                }),
                "interface" => devices.interfaces.push(Interface::from_element(dev)),
                "serial" => devices.serials.push(CharDev::from_element(dev)),
                "console" => devices.consoles.push(CharDev::from_element(dev)),
                "channel" => devices.channels.push(CharDev::from_element(dev)),
                "graphics" => devices.graphics.push(Graphics::from_element(dev)),
                "video" => {
                    let model = dev.child("model");
                    devices.videos.push(Video {
                        model_type: model.and_then(|m| attr(m, "type")),
                        vram: model.and_then(|m| attr_num(m, "vram")),
                        heads: model.and_then(|m| attr_num(m, "heads")),
                        primary: model.and_then(|m| m.attr("primary")) == Some("yes"),
                    });
                }
                "input" => devices.inputs.push(Input {
                    input_type: attr(dev, "type").unwrap_or_default(),
                    bus: attr(dev, "bus"),
                }),
                "memballoon" if devices.memballoon.is_none() => {
                    devices.memballoon = Some(MemBalloon {
                        model: attr(dev, "model").unwrap_or_default(),
                        period: dev.child("stats").and_then(|s| attr_num(s, "period")),
                    });
                }
                "rng" => {
                    let backend = dev.child("backend");
                    devices.rngs.push(Rng {
                        model: attr(dev, "model").unwrap_or_default(),
                        backend_model: backend.and_then(|b| attr(b, "model")),
                        backend: backend.map(Element::text).filter(|t| !t.is_empty()),
                    });
                }
                _ => {}
            }
        }
        // Definitions are kept for long and in large numbers (100,000 domains on a
        // test node): give back the slack the pushes left.
        devices.disks.shrink_to_fit();
        devices.controllers.shrink_to_fit();
        devices.interfaces.shrink_to_fit();
        devices.serials.shrink_to_fit();
        devices.consoles.shrink_to_fit();
        devices.channels.shrink_to_fit();
        devices.graphics.shrink_to_fit();
        devices.videos.shrink_to_fit();
        devices.inputs.shrink_to_fit();
        devices.rngs.shrink_to_fit();
        devices
    }
}

impl Disk {
    fn from_element(dev: &Element) -> Disk {
        let (source, source_attr) = source_of(dev, &["file", "dev", "dir", "name", "volume"]);
        let driver = dev.child("driver");
        Disk {
            disk_type: attr(dev, "type").unwrap_or_else(|| "file".to_string()),
            device: attr(dev, "device").unwrap_or_else(|| "disk".to_string()),
            driver_name: driver.and_then(|d| attr(d, "name")),
            driver_type: driver.and_then(|d| attr(d, "type")),
            cache: driver.and_then(|d| attr(d, "cache")),
            source,
            source_attr,
            source_pool: child_attr(dev, "source", "pool"),
            source_protocol: child_attr(dev, "source", "protocol"),
            target_dev: child_attr(dev, "target", "dev"),
            target_bus: child_attr(dev, "target", "bus"),
            readonly: dev.child("readonly").is_some(),
            shareable: dev.child("shareable").is_some(),
            serial: child_text(dev, "serial"),
            boot_order: dev.child("boot").and_then(|b| attr_num(b, "order")),
            address: address_string(dev),
        }
    }
}

impl Interface {
    fn from_element(dev: &Element) -> Interface {
        let (source, source_attr) = source_of(dev, &["network", "bridge", "dev", "name", "path", "address"]);
        Interface {
            if_type: attr(dev, "type").unwrap_or_default(),
            mac: child_attr(dev, "mac", "address").map(|m| m.to_ascii_lowercase()),
            source,
            source_attr,
            model: child_attr(dev, "model", "type"),
            target_dev: child_attr(dev, "target", "dev"),
            boot_order: dev.child("boot").and_then(|b| attr_num(b, "order")),
            address: address_string(dev),
        }
    }
}

impl CharDev {
    fn from_element(dev: &Element) -> CharDev {
        let target = dev.child("target");
        CharDev {
            dev_type: attr(dev, "type").unwrap_or_else(|| "pty".to_string()),
            source_path: child_attr(dev, "source", "path"),
            target_type: target.and_then(|t| attr(t, "type")),
            target_port: target.and_then(|t| attr_num(t, "port")),
            target_name: target.and_then(|t| attr(t, "name")),
        }
    }
}

impl Graphics {
    fn from_element(dev: &Element) -> Graphics {
        let listen = attr(dev, "listen").or_else(|| {
            dev.children_named("listen")
                .find_map(|l| attr(l, "address").or_else(|| attr(l, "socket")))
        });
        let graphics_type = attr(dev, "type").unwrap_or_default();
        let mut port: Option<i32> = attr_num(dev, "port");
        let mut autoport = dev.attr("autoport").map(|a| a == "yes");
        // libvirt (virDomainGraphicsDefParseXMLVNC and friends): no port or -1
        // means autoport, and autoport discards a configured port.
        if matches!(graphics_type.as_str(), "vnc" | "spice" | "rdp") {
            if port.is_none() || port == Some(-1) {
                autoport = Some(true);
            }
            if autoport == Some(true) {
                port = None;
            }
        }
        Graphics {
            graphics_type,
            port,
            autoport,
            listen,
        }
    }
}
