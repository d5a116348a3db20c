//! Unit tests of the node-file reader.

use super::*;
use crate::error::ErrorCode;

#[test]
fn default_node_is_libvirts() {
    let node = NodeFile::default_node();
    assert_eq!(node.info, NodeInfo::default());
    assert_eq!(node.domains.len(), 1);
    let dom = &node.domains[0];
    assert_eq!(dom.def.name, "test");
    assert_eq!(dom.def.uuid.to_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
    assert_eq!(dom.def.memory_kib, 8_388_608);
    assert_eq!(dom.def.current_memory_kib, 2_097_152);
    assert_eq!(dom.def.vcpu.max, 2);
    assert_eq!(dom.effective_runstate(), 1);
    assert!(!dom.transient);
    assert_eq!(node.networks[0].name, "default");
    assert_eq!(node.networks[0].forward_mode.as_deref(), Some("nat"));
    let pool = &node.pools[0];
    assert_eq!(pool.def.name, "default-pool");
    assert_eq!(pool.def.capacity_bytes, 100 << 30);
    assert_eq!(pool.def.available_bytes, 100 << 30);
}

#[test]
fn test_namespace_and_node_info() {
    let xml = r#"<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <cpu><mhz>6000</mhz><model>i986</model><active>50</active><nodes>4</nodes><sockets>4</sockets><cores>4</cores><threads>2</threads></cpu>
  <memory>8192000</memory>
  <domain type='test'><name>a</name><memory>1024</memory><test:runstate>5</test:runstate><test:hasmanagedsave/></domain>
  <domain type='test' xmlns:t='http://libvirt.org/schemas/domain/test/1.0'><name>b</name><memory>1024</memory><t:transient/></domain>
  <pool type='dir'><name>p</name><target><path>/p</path></target>
    <volume><name>v1</name><capacity>1000</capacity></volume>
    <volume><name>v2</name><capacity>1000</capacity><allocation>10</allocation></volume>
  </pool>
</node>"#;
    let node = NodeFile::from_xml(xml, Path::new("/nonexistent")).unwrap();
    assert_eq!(node.info.mhz, 6000);
    assert_eq!(node.info.model, "i986");
    assert_eq!(node.info.cpus, 50);
    assert_eq!(node.info.memory_kib, 8_192_000);
    assert_eq!(node.domains[0].runstate, Some(5));
    assert!(node.domains[0].has_managed_save);
    assert!(node.domains[1].transient);
    assert!(!node.domains[0].def.to_xml().contains("test:"));
    let pool = &node.pools[0];
    assert_eq!(pool.volumes[0].target_path.as_deref(), Some("/p/v1"));
    assert_eq!(pool.volumes[0].key.as_deref(), Some("/p/v1"));
    assert_eq!(pool.def.allocation_bytes, 1010);
    assert_eq!(pool.def.available_bytes, (100 << 30) - 1010);
    assert!(!pool.def.to_xml().contains("<volume"));
}

#[test]
fn rejects_inconsistent_test_state() {
    let ns = "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'";
    for (body, needle) in [
        ("<test:runstate>9</test:runstate>", "out of range"),
        ("<test:runstate>x</test:runstate>", "'x'"),
        ("<test:transient/><test:runstate>5</test:runstate>", "shutoff"),
        ("<test:hasmanagedsave/>", "managedsave"),
    ] {
        let xml = format!("<node {ns}><domain type='test'><name>a</name><memory>1</memory>{body}</domain></node>");
        let err = NodeFile::from_xml(&xml, Path::new("/")).unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        assert!(err.message.contains(needle), "{needle}: {}", err.message);
    }
    let err = NodeFile::from_xml("<node><domain file='missing.xml'/></node>", Path::new("/nonexistent")).unwrap_err();
    assert!(err.message.contains("missing.xml"), "{}", err.message);
}
