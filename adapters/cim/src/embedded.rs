//! Embedded instances in method parameters (DefineSystem's SystemSettings
//! and ResourceSettings): CIM-XML `<INSTANCE>` text, or MOF `instance of`
//! text as cimtest sends it; and the libvirt domain XML built from them.

use crate::error::{CimError, CimStatus};
use crate::value::{CimType, Instance, Value};
use crate::xml::{dom, request};
use quick_xml::escape::escape;

fn bad(msg: impl Into<String>) -> CimError {
    CimError::new(CimStatus::InvalidParameter, msg)
}

/// Parses one embedded instance (XML or MOF).
pub fn parse(text: &str) -> Result<Instance, CimError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        let el = dom::parse(trimmed.as_bytes(), dom::Limits::default())
            .map_err(|e| bad(format!("embedded instance: {e}")))?;
        // An instance with its path, as pywbem's tocimxmlstr() writes a
        // fetched instance, carries the INSTANCE inside.
        let inst = match el.name.as_str() {
            "INSTANCE" => &el,
            "VALUE.NAMEDINSTANCE" | "VALUE.OBJECTWITHLOCALPATH" | "VALUE.OBJECTWITHPATH" => el
                .child("INSTANCE")
                .ok_or_else(|| bad(format!("embedded {} holds no INSTANCE", el.name)))?,
            other => return Err(bad(format!("embedded object is {other}, not INSTANCE"))),
        };
        request::instance(inst).map_err(|e| bad(format!("embedded instance: {e}")))
    } else {
        parse_mof(trimmed)
    }
}

/// `instance of Class { Name = value; ... };` with string, number, boolean
/// and array (`{a, b}`) values.
pub fn parse_mof(text: &str) -> Result<Instance, CimError> {
    let rest = text
        .strip_prefix("instance of")
        .ok_or_else(|| bad("embedded instance is neither CIM-XML nor MOF 'instance of' text"))?;
    let (class, body) = rest.split_once('{').ok_or_else(|| bad("MOF instance has no '{'"))?;
    let class = class.trim();
    if class.is_empty() || !class.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad(format!("MOF instance has a bad class name '{class}'")));
    }
    let mut inst = Instance::new(class);
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        match chars.peek() {
            None => return Err(bad("MOF instance is not closed with '}'")),
            Some('}') => break,
            _ => {}
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if name.is_empty() || chars.next() != Some('=') {
            return Err(bad(format!("MOF instance of {class}: expected 'name = value'")));
        }
        let value = mof_value(&mut chars, class)?;
        inst.set(&name, CimType::String, value);
    }
    Ok(inst)
}

fn mof_scalar(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, class: &str) -> Result<String, CimError> {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
    let mut out = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        loop {
            match chars.next() {
                None => return Err(bad(format!("MOF instance of {class}: unterminated string"))),
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c) => out.push(c),
                    None => return Err(bad(format!("MOF instance of {class}: unterminated string"))),
                },
                Some(c) => out.push(c),
            }
        }
        // Adjacent string literals concatenate in MOF.
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            out.push_str(&mof_scalar(chars, class)?);
        }
        return Ok(out);
    }
    while let Some(&c) = chars.peek() {
        if c == ';' || c == ',' || c == '}' || c.is_whitespace() {
            break;
        }
        out.push(c);
        chars.next();
    }
    if out.is_empty() {
        return Err(bad(format!("MOF instance of {class}: missing value")));
    }
    Ok(out)
}

fn mof_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, class: &str) -> Result<Value, CimError> {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
    if chars.peek() == Some(&'{') {
        chars.next();
        let mut items = Vec::new();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
                chars.next();
            }
            match chars.peek() {
                Some('}') => {
                    chars.next();
                    break;
                }
                None => return Err(bad(format!("MOF instance of {class}: unterminated array"))),
                _ => items.push(mof_scalar(chars, class)?),
            }
        }
        return Ok(Value::Array(items));
    }
    let scalar = mof_scalar(chars, class)?;
    Ok(if scalar.eq_ignore_ascii_case("null") {
        Value::Null
    } else {
        Value::Scalar(scalar)
    })
}

fn prop<'a>(inst: &'a Instance, name: &str) -> Option<&'a str> {
    inst.get_str(name).filter(|s| !s.is_empty())
}

fn number(inst: &Instance, name: &str) -> Result<Option<u64>, CimError> {
    match prop(inst, name) {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|_| {
            bad(format!(
                "{}.{name} must be an unsigned integer, not '{text}'",
                inst.class
            ))
        }),
    }
}

/// Memory in KiB from a memory RASD (`AllocationUnits` KiloBytes or
/// MegaBytes, the latter the default as in libvirt-cim's templates).
fn memory_kib(rasd: &Instance) -> Result<Option<u64>, CimError> {
    let Some(quantity) = number(rasd, "VirtualQuantity")? else {
        return Ok(None);
    };
    let units = prop(rasd, "AllocationUnits")
        .unwrap_or("MegaBytes")
        .to_ascii_lowercase();
    let factor = match units.as_str() {
        "kilobytes" | "kb" | "kib" | "byte*2^10" => 1,
        "megabytes" | "mb" | "mib" | "byte*2^20" => 1024,
        "gigabytes" | "gb" | "gib" | "byte*2^30" => 1024 * 1024,
        other => return Err(bad(format!("memory AllocationUnits '{other}' is not supported"))),
    };
    quantity
        .checked_mul(factor)
        .map(Some)
        .ok_or_else(|| bad("memory VirtualQuantity is too large"))
}

/// What a RASD asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// Memory in KiB (None: no VirtualQuantity).
    Memory(Option<u64>),
    /// vCPUs (None: no VirtualQuantity).
    Processors(Option<u64>),
    /// A device element (`<disk>`, `<interface>`, ...), as libvirt XML.
    Device(String),
    /// A RASD of a kind DefineSystem ignores (console, controller, ...).
    Other,
}

/// Classifies one RASD by class name or ResourceType and builds its device XML.
pub fn resource(rasd: &Instance) -> Result<Resource, CimError> {
    let class = rasd.class.to_ascii_lowercase();
    let resource_type = number(rasd, "ResourceType")?;
    if class.contains("memresource") || resource_type == Some(4) {
        return Ok(Resource::Memory(memory_kib(rasd)?));
    }
    if class.contains("procresource") || resource_type == Some(3) {
        return Ok(Resource::Processors(number(rasd, "VirtualQuantity")?.map(|n| n.max(1))));
    }
    let mut xml = String::new();
    if class.contains("diskresource") || resource_type == Some(17) {
        let target = prop(rasd, "VirtualDevice").ok_or_else(|| bad("disk RASD has no VirtualDevice"))?;
        let device = match number(rasd, "EmulatedType")? {
            Some(1) => "cdrom",
            Some(2) => "floppy",
            _ => "disk",
        };
        xml.push_str(&format!("<disk type='file' device='{device}'>"));
        if let Some(source) = prop(rasd, "Address") {
            xml.push_str(&format!("<source file='{}'/>", escape(source)));
        }
        let bus = prop(rasd, "BusType").unwrap_or(if target.starts_with("vd") { "virtio" } else { "ide" });
        xml.push_str(&format!(
            "<target dev='{}' bus='{}'/></disk>",
            escape(target),
            escape(bus)
        ));
    } else if class.contains("netresource") || resource_type == Some(10) {
        let kind = prop(rasd, "NetworkType").unwrap_or("network");
        let network = prop(rasd, "PoolID")
            .and_then(|p| p.strip_prefix("NetworkPool/"))
            .or_else(|| prop(rasd, "NetworkName"));
        xml.push_str(&format!("<interface type='{}'>", escape(kind)));
        if let Some(mac) = prop(rasd, "Address") {
            xml.push_str(&format!("<mac address='{}'/>", escape(mac)));
        }
        match (kind, network) {
            ("network", Some(net)) => xml.push_str(&format!("<source network='{}'/>", escape(net))),
            ("bridge", Some(br)) => xml.push_str(&format!("<source bridge='{}'/>", escape(br))),
            ("network", None) => xml.push_str("<source network='default'/>"),
            _ => {}
        }
        xml.push_str("</interface>");
    } else if class.contains("graphicsresource") || resource_type == Some(24) {
        let kind = prop(rasd, "ResourceSubType").unwrap_or("vnc");
        xml.push_str(&format!("<graphics type='{}' autoport='yes'/>", escape(kind)));
    } else if class.contains("inputresource") || resource_type == Some(13) {
        let kind = prop(rasd, "ResourceSubType").unwrap_or("mouse");
        let bus = prop(rasd, "BusType").unwrap_or("ps2");
        xml.push_str(&format!("<input type='{}' bus='{}'/>", escape(kind), escape(bus)));
    } else {
        return Ok(Resource::Other);
    }
    Ok(Resource::Device(xml))
}

/// libvirt domain XML for DefineSystem.
pub fn domain_xml(domain_type: &str, vssd: &Instance, rasds: &[Instance]) -> Result<String, CimError> {
    let name = prop(vssd, "VirtualSystemIdentifier")
        .or_else(|| prop(vssd, "ElementName"))
        .ok_or_else(|| bad("SystemSettings has no VirtualSystemIdentifier"))?;
    let mut memory = 131_072u64;
    let mut vcpus = 1u64;
    let mut devices = String::new();
    for rasd in rasds {
        match resource(rasd)? {
            Resource::Memory(Some(kib)) => memory = kib,
            Resource::Processors(Some(n)) => vcpus = n,
            Resource::Device(xml) => devices.push_str(&xml),
            Resource::Memory(None) | Resource::Processors(None) | Resource::Other => {}
        }
    }
    let mut xml = format!("<domain type='{}'><name>{}</name>", escape(domain_type), escape(name));
    if let Some(uuid) = prop(vssd, "UUID") {
        xml.push_str(&format!("<uuid>{}</uuid>", escape(uuid)));
    }
    xml.push_str(&format!(
        "<memory unit='KiB'>{memory}</memory><currentMemory unit='KiB'>{memory}</currentMemory><vcpu>{vcpus}</vcpu><os><type>hvm</type>"
    ));
    if let Some(Value::Array(boot)) = vssd.get("BootDevices") {
        for dev in boot {
            xml.push_str(&format!("<boot dev='{}'/>", escape(dev)));
        }
    }
    xml.push_str(&format!("</os><devices>{devices}</devices></domain>"));
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mof_and_xml_instances() {
        let mof = r#"instance of KVM_VirtualSystemSettingData {
            VirtualSystemIdentifier = "guest \"one\"";
            BootDevices = {"hd", "cdrom"};
            AutoStart = 0;
        };"#;
        let inst = parse(mof).unwrap();
        assert_eq!(inst.class, "KVM_VirtualSystemSettingData");
        assert_eq!(inst.get_str("VirtualSystemIdentifier"), Some("guest \"one\""));
        assert_eq!(
            inst.get("BootDevices"),
            Some(&Value::Array(vec!["hd".into(), "cdrom".into()]))
        );
        let xml = r#"<INSTANCE CLASSNAME="KVM_MemResourceAllocationSettingData"><PROPERTY NAME="VirtualQuantity" TYPE="uint64"><VALUE>256</VALUE></PROPERTY></INSTANCE>"#;
        let mem = parse(xml).unwrap();
        assert_eq!(memory_kib(&mem).unwrap(), Some(262_144));
        assert!(parse("instance of X { A = ").is_err());
        assert!(parse("garbage").is_err());
    }

    #[test]
    fn domain_xml_from_settings() {
        let vssd = parse(r#"instance of KVM_VirtualSystemSettingData { VirtualSystemIdentifier = "g1"; };"#).unwrap();
        let proc = parse(r#"instance of KVM_ProcResourceAllocationSettingData { VirtualQuantity = 2; };"#).unwrap();
        let xml = domain_xml("test", &vssd, &[proc]).unwrap();
        let def = virtbus_schemas::DomainDef::from_xml(&xml).unwrap();
        assert_eq!(def.name, "g1");
        assert_eq!(def.vcpu.current, 2);
        let nameless = parse("instance of KVM_VirtualSystemSettingData { };").unwrap();
        assert_eq!(
            domain_xml("test", &nameless, &[]).unwrap_err().status,
            CimStatus::InvalidParameter
        );
    }
}
