//! Invalid input: every rejection is `XML_ERROR` and its message names the
//! element (or value) and the line, so a user can find the problem.

use virtbus_schemas::{DomainDef, ErrorCode, VirtError};

fn domain_err(xml: &str) -> VirtError {
    match DomainDef::from_xml(xml) {
        Ok(def) => panic!("accepted invalid domain XML:\n{xml}\nas {def:?}"),
        Err(err) => err,
    }
}

/// Asserts code, and that each needle appears in the message.
fn assert_xml_error(err: &VirtError, needles: &[&str]) {
    assert_eq!(err.code, ErrorCode::XmlError, "{}", err.message);
    for needle in needles {
        assert!(
            err.message.contains(needle),
            "message {:?} lacks {needle:?}",
            err.message
        );
    }
    assert_eq!(err.message, err.message.trim_end_matches('.'), "no trailing period");
}

#[test]
fn malformed_and_truncated_xml() {
    assert_xml_error(
        &domain_err("<domain type='kvm'>\n  <name>a</name>\n  <memory>1</memory>\n</domian>\n"),
        &["malformed XML", "line 4"],
    );
    assert_xml_error(
        &domain_err("<domain type='kvm'>\n  <name>a</name>\n  <memory>1"),
        &["malformed XML", "<memory>", "line 3"],
    );
    assert_xml_error(
        &domain_err("<domain type='kvm'>\n<name>a<"),
        &["malformed XML", "line 2"],
    );
    assert_xml_error(&domain_err(""), &["malformed XML", "line 1"]);
    assert_xml_error(&domain_err("<domain type='kvm' a='1' a='2'/>"), &["line 1", "<domain>"]);
}

#[test]
fn wrong_root() {
    assert_xml_error(&domain_err("\n<pool type='dir'/>"), &["<pool>", "line 2", "<domain>"]);
}

#[test]
fn missing_or_bad_name() {
    assert_xml_error(
        &domain_err("<domain type='kvm'>\n  <memory>1024</memory>\n</domain>"),
        &["<name>", "<domain>", "line 1"],
    );
    assert_xml_error(
        &domain_err("<domain type='kvm'>\n  <name> </name><memory>1</memory></domain>"),
        &["<name>", "line 2"],
    );
    assert_xml_error(
        &domain_err("<domain type='kvm'>\n\n  <name>a/b</name><memory>1</memory></domain>"),
        &["<name>", "'a/b'", "line 3"],
    );
}

#[test]
fn bad_type() {
    assert_xml_error(
        &domain_err("<domain><name>a</name><memory>1</memory></domain>"),
        &["'type'", "<domain>", "line 1"],
    );
    assert_xml_error(
        &domain_err("<domain type='warp'><name>a</name><memory>1</memory></domain>"),
        &["'warp'", "<domain>", "line 1"],
    );
}

#[test]
fn bad_uuid() {
    assert_xml_error(
        &domain_err(
            "<domain type='kvm'>\n  <name>a</name>\n  <uuid>not-a-uuid</uuid>\n  <memory>1</memory>\n</domain>",
        ),
        &["<uuid>", "'not-a-uuid'", "line 3"],
    );
}

#[test]
fn bad_memory() {
    let with_memory = |mem: &str| format!("<domain type='kvm'>\n  <name>a</name>\n  {mem}\n</domain>");
    assert_xml_error(
        &domain_err("<domain type='kvm'>\n  <name>a</name>\n</domain>"),
        &["<memory>", "line 1"],
    );
    assert_xml_error(
        &domain_err(&with_memory("<memory>-1</memory>")),
        &["<memory>", "'-1'", "line 3"],
    );
    assert_xml_error(
        &domain_err(&with_memory("<memory>lots</memory>")),
        &["<memory>", "'lots'", "line 3"],
    );
    assert_xml_error(
        &domain_err(&with_memory("<memory>0</memory>")),
        &["<memory>", "'0'", "line 3"],
    );
    assert_xml_error(
        &domain_err(&with_memory("<memory>99999999999999999999999</memory>")),
        &["<memory>", "99999999999999999999999", "line 3"],
    );
    // Fits in 64 bits as KiB, but not as bytes.
    assert_xml_error(
        &domain_err(&with_memory("<memory>18014398509481984</memory>")),
        &["<memory>", "18014398509481984", "line 3"],
    );
    // 2^63 bytes: libvirt's limit (LLONG_MAX) is just below.
    assert_xml_error(
        &domain_err(&with_memory("<memory unit='EiB'>8</memory>")),
        &["<memory>", "'8'", "line 3"],
    );
    assert!(DomainDef::from_xml(&with_memory("<memory unit='PiB'>8191</memory>")).is_ok());
    assert_xml_error(
        &domain_err(&with_memory("<memory unit='furlongs'>8</memory>")),
        &["<memory>", "furlongs", "line 3"],
    );
    assert_xml_error(
        &domain_err(&with_memory(
            "<memory>1024</memory>\n  <currentMemory>-5</currentMemory>",
        )),
        &["<currentMemory>", "'-5'", "line 4"],
    );
    assert_xml_error(
        &domain_err(&with_memory(
            "<memory>1024</memory>\n  <maxMemory slots='x'>4096</maxMemory>",
        )),
        &["<maxMemory>", "'x'", "line 4"],
    );
}

#[test]
fn bad_vcpus() {
    let with_vcpu =
        |v: &str| format!("<domain type='kvm'>\n  <name>a</name>\n  <memory>1024</memory>\n  {v}\n</domain>");
    assert_xml_error(&domain_err(&with_vcpu("<vcpu>0</vcpu>")), &["<vcpu>", "'0'", "line 4"]);
    assert_xml_error(
        &domain_err(&with_vcpu("<vcpu>two</vcpu>")),
        &["<vcpu>", "'two'", "line 4"],
    );
    assert_xml_error(
        &domain_err(&with_vcpu("<vcpu>-1</vcpu>")),
        &["<vcpu>", "'-1'", "line 4"],
    );
    assert_xml_error(
        &domain_err(&with_vcpu("<vcpu current='4'>2</vcpu>")),
        &["<vcpu>", "'4'", "line 4"],
    );
    assert_xml_error(
        &domain_err(&with_vcpu("<vcpu current='0'>2</vcpu>")),
        &["<vcpu>", "'0'", "line 4"],
    );
    assert_xml_error(
        &domain_err(&with_vcpu("<vcpu current='x'>2</vcpu>")),
        &["<vcpu>", "'x'", "line 4"],
    );
}

#[test]
fn bad_lifecycle_action() {
    assert_xml_error(
        &domain_err("<domain type='kvm'><name>a</name><memory>1</memory>\n<on_reboot>explode</on_reboot></domain>"),
        &["<on_reboot>", "'explode'", "line 2"],
    );
    assert_xml_error(
        &domain_err(
            "<domain type='kvm'><name>a</name><memory>1</memory>\n<on_reboot>coredump-destroy</on_reboot></domain>",
        ),
        &["<on_reboot>", "line 2"],
    );
}

#[test]
fn doctype_and_entities_are_refused() {
    let billion_laughs = "<?xml version='1.0'?>\n<!DOCTYPE domain [\n <!ENTITY lol 'lol'>\n <!ENTITY lol2 '&lol;&lol;&lol;'>\n]>\n<domain type='kvm'><name>&lol2;</name><memory>1</memory></domain>";
    assert_xml_error(&domain_err(billion_laughs), &["DOCTYPE", "line 2"]);
    let external =
        "<!DOCTYPE domain SYSTEM 'file:///etc/passwd'>\n<domain type='kvm'><name>a</name><memory>1</memory></domain>";
    assert_xml_error(&domain_err(external), &["DOCTYPE", "line 1"]);
    assert_xml_error(
        &domain_err("<domain type='kvm'>\n<name>&xxe;</name><memory>1</memory></domain>"),
        &["xxe", "line 2"],
    );
}

#[test]
fn too_deep_and_too_large() {
    let deep = format!(
        "<domain type='kvm'><name>a</name><memory>1</memory>\n{}{}</domain>",
        "<x>".repeat(400),
        "</x>".repeat(400)
    );
    assert_xml_error(&domain_err(&deep), &["deeper than 256", "line 2"]);
    let big = format!(
        "<domain type='kvm'><name>a</name><memory>1</memory><description>{}</description></domain>",
        "x".repeat(11 * 1024 * 1024)
    );
    assert_xml_error(&domain_err(&big), &["exceeds", "line 1"]);
}
