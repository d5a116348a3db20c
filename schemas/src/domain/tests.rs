//! Unit tests of the domain model; conformance against libvirt's data lives in
//! `schemas/tests/`.

use super::*;
use crate::error::ErrorCode;

const MINIMAL: &str = "<domain type='kvm'>\n  <name>vm1</name>\n  <memory unit='MiB'>512</memory>\n</domain>\n";

#[test]
fn minimal_domain_gets_libvirt_defaults() {
    let def = DomainDef::from_xml(MINIMAL).unwrap();
    assert_eq!(def.memory_kib, 512 * 1024);
    assert_eq!(def.current_memory_kib, 512 * 1024);
    assert_eq!(def.vcpu, Vcpu::default());
    let out = def.to_xml();
    assert!(out.contains(&format!("<uuid>{}</uuid>", def.uuid)), "{out}");
    assert!(
        out.contains(
            "<memory unit='KiB'>524288</memory>\n  <currentMemory unit='KiB'>524288</currentMemory>\n  <vcpu>1</vcpu>"
        ),
        "{out}"
    );
    assert_eq!(DomainDef::from_xml(&out).unwrap(), def);
}

#[test]
fn scalar_edits_are_written_back() {
    let mut def = DomainDef::from_xml(MINIMAL).unwrap();
    def.name = "renamed".into();
    def.memory_kib = 1024 * 1024;
    def.current_memory_kib = 768 * 1024;
    def.vcpu.max = 4;
    def.vcpu.current = 2;
    def.on_crash = Some("restart".into());
    def.title = Some("a title".into());
    let back = DomainDef::from_xml(&def.to_xml()).unwrap();
    assert_eq!(back.name, "renamed");
    assert_eq!(back.memory_kib, 1024 * 1024);
    assert_eq!(back.current_memory_kib, 768 * 1024);
    assert_eq!((back.vcpu.max, back.vcpu.current), (4, 2));
    assert_eq!(back.on_crash.as_deref(), Some("restart"));
    assert_eq!(back.title.as_deref(), Some("a title"));
    assert!(def.to_xml().contains("<vcpu current='2'>4</vcpu>"));
    def.sync();
    assert_eq!(
        def.element().child("name").map(Element::text).as_deref(),
        Some("renamed")
    );
}

#[test]
fn current_memory_above_memory_is_clamped() {
    let def = DomainDef::from_xml(
        "<domain type='kvm'><name>a</name><memory>1024</memory><currentMemory>4096</currentMemory></domain>",
    )
    .unwrap();
    assert_eq!(def.current_memory_kib, 1024);
}

#[test]
fn update_tree_rereads_devices() {
    let mut def = DomainDef::from_xml(MINIMAL).unwrap();
    def.update_tree(|tree| {
        let mut devices = Element::new("devices");
        let mut disk = Element::new("disk").with_attr("type", "file");
        disk.push_child(Element::new("target").with_attr("dev", "vdb"));
        devices.push_child(disk);
        tree.push_child(devices);
    })
    .unwrap();
    assert_eq!(def.devices.disks[0].target_dev.as_deref(), Some("vdb"));
    let err = def.update_tree(|tree| tree.remove_children("memory")).unwrap_err();
    assert_eq!(err.code, ErrorCode::XmlError);
    assert_eq!(def.devices.disks.len(), 1, "a failed edit leaves the definition alone");
}

#[test]
fn unknown_elements_survive_in_order() {
    let xml = "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n  <name>a</name>\n  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n  <foo x='1'>bar</foo>\n  <memory unit='KiB'>1024</memory>\n  <currentMemory unit='KiB'>1024</currentMemory>\n  <vcpu>1</vcpu>\n  <!-- note -->\n  <qemu:commandline>\n    <qemu:arg value='-s'/>\n  </qemu:commandline>\n</domain>\n";
    let def = DomainDef::from_xml(xml).unwrap();
    assert_eq!(def.to_xml(), xml);
}

#[test]
fn mixed_content_round_trips_after_removing_an_empty_title() {
    // Found by the xml_domain fuzz target: removing the empty <title> left two
    // text nodes side by side, which a re-parse reads as one.
    let xml = "<domain type='kvm'>\n  <name>a</name>\n  <memory>1024</memory>\n  <title/>\nk <on_crash>restart</on_crash>\n</domain>";
    let def = DomainDef::from_xml(xml).unwrap();
    let again = DomainDef::from_xml(&def.to_xml()).unwrap();
    assert_eq!(again, def);
}
