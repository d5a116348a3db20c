//! The libvirt proxy (`libvirt+URI`) against libvirt's own test driver, in
//! process (libvirt.so hosts `test:///` without a daemon).
//!
//! Most tests are differential: the same operations go to libvirt through the
//! proxy and to virtbus's own test driver, and the objects, events (in order)
//! and errors must agree — libvirt is the reference, and the proxy must
//! neither lose, duplicate nor invent events. Each test uses its own node
//! file, because libvirt's node-file connections are private while all
//! `test:///default` connections of a process share one host (that sharing
//! is what `libvirt_notices.rs` uses).
#![cfg(feature = "libvirt")]

use std::path::Path;
use std::time::Duration;
use uuid::Uuid;
use virtbus_drivers::libvirt::LibvirtDriver;
use virtbus_drivers::model::{DriverEvent, DriverNotice, Outcome};
use virtbus_drivers::test::TestDriver;
use virtbus_drivers::{HypervisorDriver, NetworkDriver, NodeDriver, StorageDriver};
use virtbus_schemas::lifecycle::DomainState;
use virtbus_schemas::{DomainDef, ErrorCode, NetworkDef, PoolDef, VirtResult, VolumeDef};

const NODE: &str = "<node>\
  <cpu><mhz>2000</mhz><model>x86_64</model><active>4</active><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>2</threads></cpu>\
  <memory>4194304</memory>\
  <domain type='test'><name>web</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1048576</memory><currentMemory>1048576</currentMemory><vcpu>2</vcpu>\
    <os><type>hvm</type></os>\
    <devices><disk type='file' device='disk'><source file='/guest.img'/><target dev='vda' bus='virtio'/></disk>\
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='net0'/></interface></devices></domain>\
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>idle</name><uuid>11111111-2222-3333-4444-666666666666</uuid><memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os><test:runstate>5</test:runstate></domain>\
  <network><name>net0</name><uuid>22222222-2222-3333-4444-555555555555</uuid><bridge name='virbr9'/><ip address='192.168.199.1' netmask='255.255.255.0'/></network>\
  <pool type='dir'><name>store</name><uuid>33333333-2222-3333-4444-555555555555</uuid><target><path>/store</path></target>\
    <volume><name>a.img</name><capacity>1000000</capacity></volume></pool>\
</node>";

const WEB: &str = "11111111-2222-3333-4444-555555555555";
const IDLE: &str = "11111111-2222-3333-4444-666666666666";
const NET0: &str = "22222222-2222-3333-4444-555555555555";
const STORE: &str = "33333333-2222-3333-4444-555555555555";

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

/// Both drivers on the same node file.
struct Pair {
    _dir: tempfile::TempDir,
    proxy: LibvirtDriver,
    notices: crossbeam_channel::Receiver<DriverNotice>,
    ours: TestDriver,
}

fn pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node.xml");
    std::fs::write(&node, NODE).unwrap();
    let (proxy, notices) = LibvirtDriver::open(&format!("test://{}", node.display())).unwrap();
    let ours = TestDriver::open(node.to_str().unwrap()).unwrap();
    Pair {
        _dir: dir,
        proxy,
        notices,
        ours,
    }
}

/// Named operations run against both drivers in turn.
type Script<D> = Vec<(&'static str, Box<dyn Fn(&D) -> Step>)>;

/// What a step did, in a form both drivers can be compared on.
#[derive(Debug, PartialEq)]
enum Step {
    Ok {
        events: Vec<DriverEvent>,
        state: Option<String>,
    },
    Err {
        code: ErrorCode,
    },
}

fn step<R>(result: VirtResult<Outcome<R>>, state: impl Fn(&R) -> String) -> Step {
    match result {
        Ok(out) => Step::Ok {
            events: out.events,
            state: out.record.as_ref().map(state),
        },
        Err(err) => Step::Err { code: err.code },
    }
}

fn dom_state(r: &virtbus_drivers::DomainRecord) -> String {
    format!(
        "{} {} persistent={} mem={} vcpus={}",
        r.name(),
        r.state.state.name(),
        r.persistent,
        r.def.current_memory_kib,
        r.def.vcpu.current
    )
}

fn dom_autostart(r: &virtbus_drivers::DomainRecord) -> String {
    format!("{} autostart={}", r.name(), r.autostart)
}

fn domain(name: &str, uuid: &str) -> DomainDef {
    DomainDef::from_xml(&format!(
        "<domain type='test'><name>{name}</name><uuid>{uuid}</uuid><memory>262144</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    ))
    .unwrap()
}

/// Nothing left over: every event of the calls above went into their
/// outcomes, none also came as a notice.
fn assert_no_notices(notices: &crossbeam_channel::Receiver<DriverNotice>) {
    std::thread::sleep(Duration::from_millis(200));
    let extra: Vec<_> = notices.try_iter().collect();
    assert!(extra.is_empty(), "events reported twice: {extra:?}");
}

#[test]
fn same_objects_and_node_as_libvirt() {
    let p = pair();
    let names = |recs: Vec<virtbus_drivers::DomainRecord>| {
        let mut v: Vec<_> = recs
            .iter()
            .map(|r| (r.name().to_string(), r.state.state, r.persistent))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let proxied = names(p.proxy.list_domains().unwrap());
    assert_eq!(proxied, names(p.ours.list_domains().unwrap()));
    assert_eq!(
        proxied,
        [
            ("idle".to_string(), DomainState::Shutoff, true),
            ("web".to_string(), DomainState::Running, true)
        ]
    );
    let web = p.proxy.get_domain(uuid(WEB)).unwrap();
    assert_eq!(web.def.devices.disks.len(), 1);
    assert_eq!(web.def.devices.interfaces.len(), 1);
    assert!(web.id.is_some());
    let pools = p.proxy.list_pools().unwrap();
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].def.name, "store");
    assert_eq!(pools[0].volumes.len(), 1);
    assert_eq!(pools[0].volumes[0].def.name, "a.img");
    let nets = p.proxy.list_networks().unwrap();
    assert_eq!((nets[0].def.name.as_str(), nets[0].active), ("net0", true));
    assert_eq!(p.proxy.node_info().unwrap(), p.ours.node_info().unwrap());
    assert_eq!(p.proxy.hypervisor_type(), "TEST");
    assert_eq!(p.proxy.hypervisor_version().unwrap(), 2);
    assert!(!p.proxy.hostname().unwrap().is_empty());
}

#[test]
fn domain_operations_events_and_errors_match_libvirt() {
    let p = pair();
    let (web, idle) = (uuid(WEB), uuid(IDLE));
    let ops: Script<dyn HypervisorDriver> = vec![
        ("suspend", Box::new(move |d| step(d.suspend_domain(web), dom_state))),
        (
            "suspend again",
            Box::new(move |d| step(d.suspend_domain(web), dom_state)),
        ),
        ("resume", Box::new(move |d| step(d.resume_domain(web), dom_state))),
        ("resume again", Box::new(move |d| step(d.resume_domain(web), dom_state))),
        (
            "set memory",
            Box::new(move |d| step(d.set_memory(web, 524288), dom_state)),
        ),
        (
            "set memory over max",
            Box::new(move |d| step(d.set_memory(web, 99_999_999), dom_state)),
        ),
        ("set vcpus", Box::new(move |d| step(d.set_vcpus(web, 1), dom_state))),
        (
            "set max memory while running",
            Box::new(move |d| step(d.set_max_memory(web, 2048), dom_state)),
        ),
        (
            "autostart on",
            Box::new(move |d| step(d.set_domain_autostart(web, true), dom_autostart)),
        ),
        (
            "autostart off",
            Box::new(move |d| step(d.set_domain_autostart(web, false), dom_autostart)),
        ),
        ("destroy", Box::new(move |d| step(d.destroy_domain(web), dom_state))),
        (
            "destroy again",
            Box::new(move |d| step(d.destroy_domain(web), dom_state)),
        ),
        ("start", Box::new(move |d| step(d.start_domain(web), dom_state))),
        ("start again", Box::new(move |d| step(d.start_domain(web), dom_state))),
        ("shutdown", Box::new(move |d| step(d.shutdown_domain(web), dom_state))),
        (
            "shutdown again",
            Box::new(move |d| step(d.shutdown_domain(web), dom_state)),
        ),
        ("start idle", Box::new(move |d| step(d.start_domain(idle), dom_state))),
        ("reboot idle", Box::new(move |d| step(d.reboot_domain(idle), dom_state))),
        (
            "undefine running idle",
            Box::new(move |d| step(d.undefine_domain(idle), dom_state)),
        ),
        (
            "autostart transient idle",
            Box::new(move |d| step(d.set_domain_autostart(idle, true), dom_autostart)),
        ),
        (
            "destroy transient idle",
            Box::new(move |d| step(d.destroy_domain(idle), dom_state)),
        ),
        (
            "define new",
            Box::new(|d| {
                step(
                    d.define_domain(domain("fresh", "44444444-0000-0000-0000-000000000001")),
                    dom_state,
                )
            }),
        ),
        (
            "define again (update)",
            Box::new(|d| {
                step(
                    d.define_domain(domain("fresh", "44444444-0000-0000-0000-000000000001")),
                    dom_state,
                )
            }),
        ),
        (
            "define taken name",
            Box::new(|d| {
                step(
                    d.define_domain(domain("fresh", "44444444-0000-0000-0000-000000000099")),
                    dom_state,
                )
            }),
        ),
        (
            "undefine new",
            Box::new(|d| {
                step(
                    d.undefine_domain(uuid("44444444-0000-0000-0000-000000000001")),
                    dom_state,
                )
            }),
        ),
        (
            "create transient",
            Box::new(|d| {
                step(
                    d.create_domain(domain("tmp", "44444444-0000-0000-0000-000000000002")),
                    dom_state,
                )
            }),
        ),
        (
            "suspend transient",
            Box::new(|d| {
                step(
                    d.suspend_domain(uuid("44444444-0000-0000-0000-000000000002")),
                    dom_state,
                )
            }),
        ),
        (
            "destroy transient",
            Box::new(|d| {
                step(
                    d.destroy_domain(uuid("44444444-0000-0000-0000-000000000002")),
                    dom_state,
                )
            }),
        ),
        (
            "no such domain",
            Box::new(|d| step(d.start_domain(Uuid::from_u128(7)), dom_state)),
        ),
    ];
    for (name, op) in &ops {
        let from_libvirt = op(&p.proxy);
        let from_ours = op(&p.ours);
        assert_eq!(from_libvirt, from_ours, "step '{name}'");
    }
    // A few facts pinned outright, so the comparison cannot pass vacuously.
    let web_now = p.proxy.get_domain(web).unwrap();
    assert_eq!(web_now.state.state, DomainState::Shutoff);
    assert!(p.proxy.get_domain(idle).is_err());
    assert_no_notices(&p.notices);
}

#[test]
fn proxied_errors_keep_libvirts_code_and_message() {
    let p = pair();
    let web = uuid(WEB);
    p.proxy.suspend_domain(web).unwrap();
    let err = p.proxy.suspend_domain(web).unwrap_err();
    // libvirt 9.0.0's testDomainSuspend: VIR_ERR_INTERNAL_ERROR, as virsh
    // prints it: "error: internal error: domain 'web' not running".
    assert_eq!(err.code, ErrorCode::InternalError);
    assert_eq!(err.libvirt_message(), "internal error: domain 'web' not running");
    let err = p.proxy.get_domain(Uuid::from_u128(5)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NoDomain);
    let err = p.proxy.get_pool(Uuid::from_u128(5)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NoStoragePool);
    let err = p.proxy.get_network(Uuid::from_u128(5)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NoNetwork);
    // Bad input is refused before it reaches the C API, and the driver
    // keeps serving.
    let err = p.proxy.delete_volume(uuid(STORE), "a\0b").unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(p.proxy.list_domains().is_ok());
}

fn pool_state(r: &virtbus_drivers::PoolRecord) -> String {
    // libvirt lists volumes of active pools only (virStoragePoolListAllVolumes
    // refuses an inactive pool); virtbus's test driver keeps them in the
    // record, which no libvirt API could show.
    let mut vols: Vec<_> = if r.is_active() {
        r.volumes.iter().map(|v| v.def.name.clone()).collect()
    } else {
        Vec::new()
    };
    vols.sort();
    format!(
        "{} {} persistent={} vols={vols:?}",
        r.def.name,
        r.state.name(),
        r.persistent
    )
}

fn pool(name: &str, uuid: &str) -> PoolDef {
    PoolDef::from_xml(&format!(
        "<pool type='dir'><name>{name}</name><uuid>{uuid}</uuid><target><path>/{name}</path></target></pool>"
    ))
    .unwrap()
}

#[test]
fn pool_and_volume_operations_match_libvirt() {
    let p = pair();
    let store = uuid(STORE);
    let fresh = "55555555-0000-0000-0000-000000000001";
    let vol = || VolumeDef::from_xml("<volume><name>b.img</name><capacity>4096</capacity></volume>").unwrap();
    let ops: Script<dyn StorageDriver> = vec![
        (
            "create volume",
            Box::new(move |d| step(d.create_volume(store, vol()).map(|(_, o)| o), pool_state)),
        ),
        (
            "create volume again",
            Box::new(move |d| step(d.create_volume(store, vol()).map(|(_, o)| o), pool_state)),
        ),
        (
            "delete volume",
            Box::new(move |d| step(d.delete_volume(store, "b.img"), pool_state)),
        ),
        (
            "delete missing volume",
            Box::new(move |d| step(d.delete_volume(store, "b.img"), pool_state)),
        ),
        ("refresh", Box::new(move |d| step(d.refresh_pool(store), pool_state))),
        (
            "autostart on",
            Box::new(move |d| {
                step(d.set_pool_autostart(store, true), |r| {
                    format!("{} autostart={}", r.def.name, r.autostart)
                })
            }),
        ),
        (
            "undefine active",
            Box::new(move |d| step(d.undefine_pool(store), pool_state)),
        ),
        ("destroy", Box::new(move |d| step(d.destroy_pool(store), pool_state))),
        (
            "destroy again",
            Box::new(move |d| step(d.destroy_pool(store), pool_state)),
        ),
        ("start", Box::new(move |d| step(d.start_pool(store), pool_state))),
        (
            "define new",
            Box::new(move |d| step(d.define_pool(pool("fresh", fresh)), pool_state)),
        ),
        (
            "build new",
            Box::new(move |d| step(d.build_pool(uuid(fresh)), pool_state)),
        ),
        (
            "start new",
            Box::new(move |d| step(d.start_pool(uuid(fresh)), pool_state)),
        ),
        (
            "destroy new",
            Box::new(move |d| step(d.destroy_pool(uuid(fresh)), pool_state)),
        ),
        (
            "delete new",
            Box::new(move |d| step(d.delete_pool(uuid(fresh)), pool_state)),
        ),
        (
            "undefine new",
            Box::new(move |d| step(d.undefine_pool(uuid(fresh)), pool_state)),
        ),
        (
            "create transient",
            Box::new(|d| {
                step(
                    d.create_pool(pool("tmp", "55555555-0000-0000-0000-000000000002")),
                    pool_state,
                )
            }),
        ),
        (
            "autostart transient",
            Box::new(|d| {
                step(
                    d.set_pool_autostart(uuid("55555555-0000-0000-0000-000000000002"), true),
                    pool_state,
                )
            }),
        ),
        (
            "destroy transient",
            Box::new(|d| step(d.destroy_pool(uuid("55555555-0000-0000-0000-000000000002")), pool_state)),
        ),
    ];
    for (name, op) in &ops {
        assert_eq!(op(&p.proxy), op(&p.ours), "step '{name}'");
    }
    assert_eq!(p.proxy.list_pools().unwrap().len(), 1);
    assert_no_notices(&p.notices);
}

fn net_state(r: &virtbus_drivers::NetworkRecord) -> String {
    format!("{} active={} persistent={}", r.def.name, r.active, r.persistent)
}

#[test]
fn network_operations_match_libvirt() {
    let p = pair();
    let net0 = uuid(NET0);
    let fresh = "66666666-0000-0000-0000-000000000001";
    let def = |name: &str, u: &str| {
        NetworkDef::from_xml(&format!(
            "<network><name>{name}</name><uuid>{u}</uuid><bridge name='vb{name}'/></network>"
        ))
        .unwrap()
    };
    let ops: Script<dyn NetworkDriver> = vec![
        (
            "undefine active",
            Box::new(move |d| step(d.undefine_network(net0), net_state)),
        ),
        ("destroy", Box::new(move |d| step(d.destroy_network(net0), net_state))),
        ("start", Box::new(move |d| step(d.start_network(net0), net_state))),
        ("start again", Box::new(move |d| step(d.start_network(net0), net_state))),
        (
            "define new",
            Box::new(move |d| step(d.define_network(def("fresh", fresh)), net_state)),
        ),
        (
            "start new",
            Box::new(move |d| step(d.start_network(uuid(fresh)), net_state)),
        ),
        (
            "destroy new",
            Box::new(move |d| step(d.destroy_network(uuid(fresh)), net_state)),
        ),
        (
            "undefine new",
            Box::new(move |d| step(d.undefine_network(uuid(fresh)), net_state)),
        ),
        (
            "create transient",
            Box::new(move |d| {
                step(
                    d.create_network(def("tmp", "66666666-0000-0000-0000-000000000002")),
                    net_state,
                )
            }),
        ),
        (
            "destroy transient",
            Box::new(|d| {
                step(
                    d.destroy_network(uuid("66666666-0000-0000-0000-000000000002")),
                    net_state,
                )
            }),
        ),
    ];
    for (name, op) in &ops {
        assert_eq!(op(&p.proxy), op(&p.ours), "step '{name}'");
    }
    assert_no_notices(&p.notices);
}

#[test]
fn stats_come_from_the_bulk_api() {
    let p = pair();
    let web = uuid(WEB);
    let stats = p.proxy.domain_stats(web).unwrap();
    // libvirt 9.0.0's test driver fills only the "state" group of the bulk
    // API; the rest comes from virDomainGetInfo (wall-clock cpu time there).
    assert_eq!(stats.vcpus, 2);
    assert_eq!(stats.memory_max_kib, 1_048_576);
    assert_eq!(stats.memory_current_kib, 1_048_576);
    assert!(stats.cpu_time_ns > 0);
    // A domain defined after the last sample is still found.
    let out = p
        .proxy
        .define_domain(domain("late", "77777777-0000-0000-0000-000000000001"))
        .unwrap();
    assert!(out.record.is_some());
    let late = p
        .proxy
        .domain_stats(uuid("77777777-0000-0000-0000-000000000001"))
        .unwrap();
    assert_eq!(late.memory_max_kib, 262_144);
    let err = p.proxy.domain_stats(Uuid::from_u128(3)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NoDomain);
}

#[test]
fn unreachable_uris_fail_with_libvirts_error() {
    let err = match LibvirtDriver::open("test:///no/such/node.xml") {
        Ok(_) => panic!("a missing node file must not open"),
        Err(err) => err,
    };
    // libvirt's own answer (virsh -c test:///no/such/node.xml says the same).
    assert!(!Path::new("/no/such/node.xml").exists());
    assert_eq!(err.code, ErrorCode::XmlError);
    assert_eq!(err.message, "failed to parse xml document '/no/such/node.xml'");
    let err = match virtbus_drivers::open("libvirt+nosuchscheme:///x") {
        Ok(_) => panic!("an unknown scheme must not open"),
        Err(err) => err,
    };
    // No driver claims the scheme, so libvirt tries a daemon; what fails
    // depends on the machine, but it is libvirt's error, not a panic.
    assert_ne!(err.code, ErrorCode::Ok);
    assert!(!err.message.is_empty());
}
