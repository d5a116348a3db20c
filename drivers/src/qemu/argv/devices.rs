//! The device part of the command line: disks (`-blockdev` pairs and their
//! `-device`), NICs, serial ports, input devices, VNC, video cards and RNGs,
//! each in libvirt's JSON shape.

use super::{disk_bus, escape, mac_of, pci_addr, target_index, unsupported, Builder};
use serde_json::{json, Map, Value};
use virtbus_schemas::domain::Interface;
use virtbus_schemas::{VirtError, VirtResult};

impl Builder<'_> {
    pub(super) fn disks(&mut self) -> VirtResult<()> {
        let disks = &self.def.devices.disks;
        // libvirt numbers the block nodes down from the number of disks.
        let mut node = disks.len() as u32;
        for (idx, disk) in disks.iter().enumerate() {
            let target = disk.target_dev.clone().unwrap_or_default();
            let bus = disk_bus(disk);
            let cdrom = disk.device == "cdrom";
            if !matches!(disk.device.as_str(), "disk" | "cdrom") {
                return Err(unsupported(format!(
                    "disk '{target}': device '{}' is not supported",
                    disk.device
                )));
            }
            let storage_driver = match (disk.disk_type.as_str(), cdrom) {
                ("file", _) => "file",
                ("block", true) if is_host_cdrom(disk.source.as_deref()) => "host_cdrom",
                ("block", _) => "host_device",
                (other, _) => {
                    return Err(unsupported(format!(
                        "disk '{target}': source type '{other}' is not supported (file or block)"
                    )))
                }
            };
            let cache = match disk.cache.as_deref() {
                None | Some("default") => None,
                Some("writeback") => Some((false, false, true)),
                Some("none") => Some((true, false, true)),
                Some("writethrough") => Some((false, false, false)),
                Some("directsync") => Some((true, false, false)),
                Some("unsafe") => Some((false, true, true)),
                Some(other) => return Err(unsupported(format!("disk '{target}': cache mode '{other}'"))),
            };
            let format = match disk.driver_type.as_deref() {
                None => "raw",
                Some(f @ ("raw" | "qcow2")) => f,
                Some(other) => {
                    return Err(unsupported(format!(
                        "disk '{target}': format '{other}' is not supported (raw or qcow2)"
                    )))
                }
            };
            let readonly = disk.readonly || cdrom;
            let mut drive = None;
            if let Some(source) = &disk.source {
                let storage = format!("libvirt-{node}-storage");
                let fmt = format!("libvirt-{node}-format");
                let mut s = Map::new();
                s.insert("driver".into(), json!(storage_driver));
                s.insert("filename".into(), json!(source));
                s.insert("node-name".into(), json!(storage));
                if let Some((direct, no_flush, _)) = cache {
                    s.insert("cache".into(), json!({"direct": direct, "no-flush": no_flush}));
                }
                s.insert("auto-read-only".into(), json!(true));
                s.insert("discard".into(), json!("unmap"));
                self.push_json("-blockdev", Value::Object(s));
                let mut f = Map::new();
                f.insert("node-name".into(), json!(fmt));
                f.insert("read-only".into(), json!(readonly));
                if let Some((direct, no_flush, _)) = cache {
                    f.insert("cache".into(), json!({"direct": direct, "no-flush": no_flush}));
                }
                f.insert("driver".into(), json!(format));
                f.insert("file".into(), json!(storage));
                self.push_json("-blockdev", Value::Object(f));
                drive = Some(fmt);
            }
            node = node.saturating_sub(1);
            let addr = self.drive_addr(disk, idx)?;
            let mut d = Map::new();
            match bus.as_str() {
                "ide" => {
                    d.insert("driver".into(), json!(if cdrom { "ide-cd" } else { "ide-hd" }));
                    d.insert("bus".into(), json!(format!("ide.{}", addr.bus)));
                    d.insert("unit".into(), json!(addr.unit));
                    d.insert(
                        "id".into(),
                        json!(format!("ide{}-{}-{}", addr.controller, addr.bus, addr.unit)),
                    );
                }
                "sata" => {
                    d.insert("driver".into(), json!(if cdrom { "ide-cd" } else { "ide-hd" }));
                    // q35's built-in AHCI (controller 0) is qemu's "ide"
                    // device, as libvirt names its bus.
                    let bus = if self.is_q35() && addr.controller == 0 {
                        format!("ide.{}", addr.unit)
                    } else {
                        format!("sata{}.{}", addr.controller, addr.unit)
                    };
                    d.insert("bus".into(), json!(bus));
                    d.insert(
                        "id".into(),
                        json!(format!("sata{}-{}-{}", addr.controller, addr.bus, addr.unit)),
                    );
                }
                "virtio" => {
                    if cdrom {
                        return Err(unsupported(format!(
                            "disk '{target}': a cdrom cannot be on the virtio bus"
                        )));
                    }
                    let slot = self.disk_slots.get(&idx).copied().unwrap_or(0);
                    let n = target_index(&target).unwrap_or(idx as u32);
                    d.insert("driver".into(), json!("virtio-blk-pci"));
                    self.insert_place(&mut d, slot);
                    d.insert("id".into(), json!(format!("virtio-disk{n}")));
                }
                "scsi" => {
                    let c = addr.controller;
                    d.insert("driver".into(), json!(if cdrom { "scsi-cd" } else { "scsi-hd" }));
                    d.insert("bus".into(), json!(format!("scsi{c}.0")));
                    let id = if self.scsi_model(c).is_none_or(|m| m == "lsilogic") {
                        d.insert("scsi-id".into(), json!(addr.unit));
                        format!("scsi{c}-{}-{}", addr.bus, addr.unit)
                    } else {
                        d.insert("channel".into(), json!(addr.bus));
                        d.insert("scsi-id".into(), json!(addr.target));
                        d.insert("lun".into(), json!(addr.unit));
                        format!("scsi{c}-{}-{}-{}", addr.bus, addr.target, addr.unit)
                    };
                    let device_id = disk.serial.clone().unwrap_or_else(|| format!("drive-{id}"));
                    d.insert("device_id".into(), json!(device_id));
                    d.insert("id".into(), json!(id));
                }
                other => {
                    return Err(unsupported(format!(
                        "disk '{target}': bus '{other}' is not supported (ide, sata, scsi, virtio)"
                    )))
                }
            }
            if let Some(drive) = drive {
                d.insert("drive".into(), json!(drive));
            }
            if let Some(serial) = &disk.serial {
                d.insert("serial".into(), json!(serial));
            }
            if let Some(index) = self.disk_boot[idx] {
                d.insert("bootindex".into(), json!(index));
            }
            if let Some((_, _, write_cache)) = cache {
                d.insert("write-cache".into(), json!(if write_cache { "on" } else { "off" }));
            }
            self.push_json("-device", Value::Object(d));
        }
        Ok(())
    }

    pub(super) fn nets(&mut self) -> VirtResult<()> {
        let nets = &self.def.devices.interfaces;
        for (i, net) in nets.iter().enumerate() {
            let netdev = self.netdev(net, i)?;
            self.push_json("-netdev", netdev);
            let driver = match net.model.as_deref() {
                None | Some("rtl8139") => "rtl8139",
                Some("virtio") => "virtio-net-pci",
                Some("e1000") => "e1000",
                Some("e1000e") => "e1000e",
                Some(other) => return Err(unsupported(format!("interface model '{other}' is not supported"))),
            };
            let mut d = Map::new();
            d.insert("driver".into(), json!(driver));
            d.insert("netdev".into(), json!(format!("hostnet{i}")));
            d.insert("id".into(), json!(format!("net{i}")));
            d.insert("mac".into(), json!(mac_of(self.def, net, i)));
            if let Some(index) = self.net_boot[i] {
                d.insert("bootindex".into(), json!(index));
            }
            self.insert_place(&mut d, self.net_slots[i]);
            self.push_json("-device", Value::Object(d));
        }
        Ok(())
    }

    pub(super) fn netdev(&self, net: &Interface, i: usize) -> VirtResult<Value> {
        let id = format!("hostnet{i}");
        match net.if_type.as_str() {
            "user" => Ok(json!({"type": "user", "id": id})),
            "bridge" | "ethernet" | "network" if !self.ctx.privileged => Err(VirtError::no_support(format!(
                "interface type '{}' needs root privileges (qemu:///system); use <interface type='user'>",
                net.if_type
            ))),
            "bridge" => {
                let br = net
                    .source
                    .clone()
                    .ok_or_else(|| VirtError::xml("bridge interface without <source bridge=...>"))?;
                Ok(json!({"type": "bridge", "br": br, "id": id}))
            }
            "network" => {
                // The driver made the tap on the network's bridge before
                // building the command line and named it in <target dev>.
                let dev = net.target_dev.as_deref().ok_or_else(|| {
                    VirtError::internal(format!(
                        "interface {i} on network '{}' has no tap device",
                        net.source.as_deref().unwrap_or("")
                    ))
                })?;
                Ok(json!({"type": "tap", "ifname": dev, "script": "no", "downscript": "no", "id": id}))
            }
            "ethernet" => {
                let mut m = Map::new();
                m.insert("type".into(), json!("tap"));
                if let Some(dev) = &net.target_dev {
                    m.insert("ifname".into(), json!(dev));
                }
                m.insert("script".into(), json!("no"));
                m.insert("downscript".into(), json!("no"));
                m.insert("id".into(), json!(id));
                Ok(Value::Object(m))
            }
            other => Err(VirtError::no_support(format!(
                "interface type '{other}' is not supported by the qemu driver; use type 'user' (or 'network', 'bridge', 'ethernet' as root)"
            ))),
        }
    }

    /// `<serial>`s, and a `<console>` of target type serial when there is no
    /// serial (libvirt makes it serial 0).
    pub(super) fn serials(&mut self) -> VirtResult<()> {
        let devices = &self.def.devices;
        let mut list: Vec<virtbus_schemas::domain::CharDev> = devices.serials.clone();
        if list.is_empty() {
            if let Some(console) = devices.consoles.first() {
                if matches!(console.target_type.as_deref(), None | Some("serial")) {
                    list.push(console.clone());
                }
            }
        }
        for c in devices.consoles.iter().skip(usize::from(devices.serials.is_empty())) {
            if matches!(c.target_type.as_deref(), Some("virtio")) {
                return Err(unsupported(
                    "virtio consoles are not supported yet (use a serial console)",
                ));
            }
        }
        for (i, s) in list.iter().enumerate() {
            let id = format!("charserial{i}");
            let chardev = match s.dev_type.as_str() {
                "pty" => format!("pty,id={id}"),
                "file" => {
                    let path = s
                        .source_path
                        .as_deref()
                        .ok_or_else(|| VirtError::xml("file serial without <source path=...>"))?;
                    format!("file,id={id},path={},append=on", escape(path))
                }
                "null" => format!("null,id={id}"),
                other => {
                    return Err(unsupported(format!(
                        "serial type '{other}' is not supported (pty or file)"
                    )))
                }
            };
            self.push("-chardev", chardev);
            let index = s.target_port.unwrap_or(i as u32);
            self.push_json(
                "-device",
                json!({"driver": "isa-serial", "chardev": id, "id": format!("serial{i}"), "index": index}),
            );
        }
        Ok(())
    }

    pub(super) fn inputs(&mut self) -> VirtResult<()> {
        let mut usb_port = 1;
        let inputs = self.def.devices.inputs.clone();
        for (i, input) in inputs.iter().enumerate() {
            match (input.input_type.as_str(), input.bus.as_deref()) {
                // The PS/2 devices are built into the i440fx/q35 machines.
                (_, Some("ps2")) | ("mouse" | "keyboard", None) => {}
                (kind @ ("tablet" | "mouse" | "keyboard"), Some("usb")) => {
                    let driver = match kind {
                        "tablet" => "usb-tablet",
                        "mouse" => "usb-mouse",
                        _ => "usb-kbd",
                    };
                    self.push_json(
                        "-device",
                        json!({"driver": driver, "id": format!("input{i}"), "bus": "usb.0",
                               "port": usb_port.to_string()}),
                    );
                    usb_port += 1;
                }
                (kind, bus) => {
                    return Err(unsupported(format!(
                        "input device '{kind}' on bus '{}' is not supported",
                        bus.unwrap_or("default")
                    )))
                }
            }
        }
        Ok(())
    }

    pub(super) fn graphics(&mut self) -> VirtResult<()> {
        let graphics = self.def.devices.graphics.clone();
        for g in &graphics {
            if g.graphics_type != "vnc" {
                return Err(unsupported(format!(
                    "graphics type '{}' is not supported (vnc only)",
                    g.graphics_type
                )));
            }
            let listen = g.listen.clone().unwrap_or_else(|| "127.0.0.1".into());
            let host = if listen.contains(':') {
                format!("[{listen}]")
            } else {
                listen
            };
            let value = match g.port {
                Some(port) if port >= 5900 => format!("{}:{},audiodev=audio1", host, port - 5900),
                Some(port) => {
                    return Err(VirtError::xml(format!("vnc port {port} is below 5900")));
                }
                // Autoport: qemu picks the first free display.
                None => format!("{host}:0,to=99,audiodev=audio1"),
            };
            self.push("-vnc", escape_keep_audiodev(&value));
        }
        Ok(())
    }

    pub(super) fn videos(&mut self) -> VirtResult<()> {
        let videos: Vec<virtbus_schemas::domain::Video> = self
            .def
            .devices
            .videos
            .iter()
            .filter(|v| v.model_type.as_deref() != Some("none"))
            .cloned()
            .collect();
        for (i, v) in videos.iter().enumerate() {
            let primary = i == 0;
            let driver = match (v.model_type.as_deref(), primary) {
                (Some("cirrus") | None, true) => "cirrus-vga",
                (Some("vga"), true) => "VGA",
                (Some("virtio"), true) => "virtio-vga",
                (Some("virtio"), false) => "virtio-gpu-pci",
                (Some("bochs"), _) => "bochs-display",
                (Some(other), _) => return Err(unsupported(format!("video model '{other}' is not supported"))),
                (None, false) => return Err(unsupported("a secondary video card needs a model")),
            };
            let mut d = Map::new();
            d.insert("driver".into(), json!(driver));
            d.insert("id".into(), json!(format!("video{i}")));
            if driver == "VGA" {
                if let Some(vram) = v.vram {
                    d.insert("vgamem_mb".into(), json!(vram / 1024));
                }
            }
            if i == 0 && self.is_q35() {
                d.insert("bus".into(), json!("pcie.0"));
                d.insert("addr".into(), json!(pci_addr(self.video_slots[i])));
            } else {
                self.insert_place(&mut d, self.video_slots[i]);
            }
            self.push_json("-device", Value::Object(d));
        }
        Ok(())
    }

    pub(super) fn rngs(&mut self) -> VirtResult<()> {
        let rngs = self.def.devices.rngs.clone();
        for (i, rng) in rngs.iter().enumerate() {
            if rng.model != "virtio" {
                return Err(unsupported(format!(
                    "rng model '{}' is not supported (virtio)",
                    rng.model
                )));
            }
            let id = format!("objrng{i}");
            let object = match rng.backend_model.as_deref() {
                Some("builtin") => json!({"qom-type": "rng-builtin", "id": id}),
                None | Some("random") => {
                    let file = rng.backend.clone().unwrap_or_else(|| "/dev/urandom".into());
                    if file != "/dev/urandom" && file != "/dev/random" && file != "/dev/hwrng" {
                        return Err(unsupported(format!("rng backend file '{file}' is not allowed")));
                    }
                    json!({"qom-type": "rng-random", "id": id, "filename": file})
                }
                Some(other) => return Err(unsupported(format!("rng backend '{other}' is not supported"))),
            };
            self.push_json("-object", object);
            let (bus, addr) = self.pci_place(self.rng_slots[i]);
            self.push_json(
                "-device",
                json!({"driver": "virtio-rng-pci", "rng": id, "id": format!("rng{i}"), "bus": bus, "addr": addr}),
            );
        }
        Ok(())
    }
}

/// The VNC value's host part could in principle carry commas; the options we
/// append must stay separate.
fn escape_keep_audiodev(value: &str) -> String {
    match value.split_once(':') {
        Some((host, rest)) if host.contains(',') => format!("{}:{rest}", escape(host)),
        _ => value.to_string(),
    }
}

/// Whether a block cdrom's source is the host's optical drive (libvirt's
/// `virFileIsCDROM`): `/dev/cdrom` or a device resolving to `/dev/srN`.
fn is_host_cdrom(path: Option<&str>) -> bool {
    let Some(path) = path else { return false };
    if path == "/dev/cdrom" {
        return true;
    }
    std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().starts_with("sr")))
        .unwrap_or(false)
}
