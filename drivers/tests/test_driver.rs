//! The test driver against libvirt 9.0.0's test driver: events, states and
//! error codes as observed with `virsh -c test:///default` and libvirt's event
//! API (see the sequences in the module comments of `drivers/src/test`).

use uuid::Uuid;
use virtbus_drivers::model::DriverEvent;
use virtbus_drivers::test::TestDriver;
use virtbus_drivers::{HypervisorDriver, NetworkDriver, NodeDriver, StorageDriver};
use virtbus_schemas::lifecycle::{DomainState, NetworkEventType, PoolEventType, PoolState};
use virtbus_schemas::{DomainDef, ErrorCode, NetworkDef, PoolDef, VolumeDef};

const TEST_UUID: &str = "6695eb01-f6a4-8304-79aa-97f2502e193f";

fn driver() -> TestDriver {
    TestDriver::open("/default").unwrap()
}

fn test_uuid() -> Uuid {
    Uuid::parse_str(TEST_UUID).unwrap()
}

/// (event name, detail name) pairs of an outcome's domain events.
fn dom_events(events: &[DriverEvent]) -> Vec<(&'static str, &'static str)> {
    events
        .iter()
        .map(|e| match e {
            DriverEvent::Domain(lc) => (lc.event.name(), lc.detail_name()),
            other => panic!("not a domain event: {other:?}"),
        })
        .collect()
}

fn domain(name: &str, extra: &str) -> DomainDef {
    DomainDef::from_xml(&format!(
        "<domain type='test'><name>{name}</name><memory>1048576</memory><vcpu>2</vcpu>{extra}</domain>"
    ))
    .unwrap()
}

#[test]
fn default_node_matches_libvirt() {
    let d = driver();
    let info = d.node_info().unwrap();
    assert_eq!(
        (info.model.as_str(), info.memory_kib, info.cpus, info.mhz),
        ("i686", 3_145_728, 16, 1400)
    );
    assert_eq!((info.nodes, info.sockets, info.cores, info.threads), (2, 2, 2, 2));
    let doms = d.list_domains().unwrap();
    assert_eq!(doms.len(), 1);
    let test = &doms[0];
    assert_eq!((test.name(), test.id), ("test", Some(1)));
    // Node-file domains get their runstate with reason 0.
    assert_eq!((test.state.state, test.state.reason), (DomainState::Running, 0));
    assert_eq!(d.list_pools().unwrap()[0].def.capacity_bytes, 100 * 1024 * 1024 * 1024);
    assert!(d.list_networks().unwrap()[0].active);
    assert_eq!(d.hypervisor_type(), "TEST");
}

#[test]
fn domain_sequence_of_the_default_test_domain() {
    let d = driver();
    let u = test_uuid();
    assert_eq!(
        dom_events(&d.suspend_domain(u).unwrap().events),
        [("SUSPENDED", "PAUSED")]
    );
    assert_eq!(
        dom_events(&d.resume_domain(u).unwrap().events),
        [("RESUMED", "UNPAUSED")]
    );
    let reboot = d.reboot_domain(u).unwrap();
    assert!(reboot.events.is_empty(), "reboot with on_reboot=restart emits no event");
    assert_eq!(reboot.record.unwrap().state.reason_name(), "BOOTED");
    let off = d.shutdown_domain(u).unwrap();
    assert_eq!(dom_events(&off.events), [("STOPPED", "SHUTDOWN")]);
    let off = off.record.unwrap();
    assert_eq!((off.state.state, off.id), (DomainState::Shutoff, None));
    let on = d.start_domain(u).unwrap();
    assert_eq!(dom_events(&on.events), [("STARTED", "BOOTED")]);
    assert_eq!(on.record.unwrap().id, Some(2), "ids are never reused");
    assert_eq!(
        dom_events(&d.destroy_domain(u).unwrap().events),
        [("STOPPED", "DESTROYED")]
    );
    let gone = d.undefine_domain(u).unwrap();
    assert_eq!(dom_events(&gone.events), [("UNDEFINED", "REMOVED")]);
    assert!(gone.record.is_none(), "an inactive undefined domain is gone");
    assert_eq!(d.get_domain(u).unwrap_err().code, ErrorCode::NoDomain);
}

#[test]
fn transient_domains_follow_libvirt() {
    let d = driver();
    let def = domain("new", "");
    let u = def.uuid;
    let created = d.create_domain(def.clone()).unwrap();
    assert_eq!(dom_events(&created.events), [("STARTED", "BOOTED")]);
    assert!(!created.record.unwrap().persistent);
    // create again while active
    let err = d.create_domain(def.clone()).unwrap_err();
    assert_eq!(err.code, ErrorCode::OperationInvalid);
    assert_eq!(err.message, "domain 'new' is already active");
    // define over a running transient domain: "added", then "updated"
    assert_eq!(
        dom_events(&d.define_domain(def.clone()).unwrap().events),
        [("DEFINED", "ADDED")]
    );
    assert_eq!(
        dom_events(&d.define_domain(def.clone()).unwrap().events),
        [("DEFINED", "UPDATED")]
    );
    // undefine while running: still there, transient; again: no transient check
    let still = d.undefine_domain(u).unwrap();
    assert!(!still.record.unwrap().persistent);
    assert_eq!(
        dom_events(&d.undefine_domain(u).unwrap().events),
        [("UNDEFINED", "REMOVED")]
    );
    // shutdown removes a transient domain
    let gone = d.shutdown_domain(u).unwrap();
    assert_eq!(dom_events(&gone.events), [("STOPPED", "SHUTDOWN")]);
    assert!(gone.record.is_none());
}

#[test]
fn lifecycle_actions_decide_shutdown_and_reboot() {
    let d = driver();
    let def = domain(
        "acts",
        "<on_poweroff>restart</on_poweroff><on_reboot>destroy</on_reboot>",
    );
    let u = def.uuid;
    d.define_domain(def).unwrap();
    d.start_domain(u).unwrap();
    let shut = d.shutdown_domain(u).unwrap();
    assert!(shut.events.is_empty(), "on_poweroff=restart keeps it running");
    assert_eq!(shut.record.unwrap().state.state, DomainState::Running);
    let reboot = d.reboot_domain(u).unwrap();
    assert_eq!(dom_events(&reboot.events), [("STOPPED", "SHUTDOWN")]);
    assert_eq!(reboot.record.unwrap().state.state, DomainState::Shutoff);
}

#[test]
fn errors_match_libvirts_test_driver() {
    let d = driver();
    let u = test_uuid();
    let e = d.start_domain(u).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::InternalError, "domain 'test' is already running")
    );
    let e = d.resume_domain(u).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::InternalError, "domain 'test' not paused")
    );
    d.suspend_domain(u).unwrap();
    let e = d.suspend_domain(u).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::InternalError, "domain 'test' not running")
    );
    let e = d.set_vcpus(u, 3).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::InvalidArg, "requested cpu amount exceeds maximum (3 > 2)")
    );
    let e = d.set_vcpus(u, 40).unwrap_err();
    assert!(e.message.contains("(40 > 32)"));
    let e = d.set_memory(u, 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    let e = d.set_max_memory(u, 1024).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid, "max memory of an active domain");
    d.destroy_domain(u).unwrap();
    for e in [d.destroy_domain(u), d.reboot_domain(u), d.set_memory(u, 1024)] {
        let e = e.unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::OperationInvalid, "domain is not running")
        );
    }
    let e = d.shutdown_domain(u).unwrap_err();
    assert_eq!(e.code, ErrorCode::InternalError);
    let e = d.reset_domain(u).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationInvalid, "reset needs a running domain");
    // Duplicate rules of virDomainObjListAdd.
    let clash = DomainDef::from_xml(
        "<domain type='test'><name>test</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory></domain>",
    )
    .unwrap();
    let e = d.define_domain(clash).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert_eq!(e.message, format!("domain 'test' already exists with uuid {TEST_UUID}"));
    let renamed = DomainDef::from_xml(&format!(
        "<domain type='test'><name>other</name><uuid>{TEST_UUID}</uuid><memory>1024</memory></domain>"
    ))
    .unwrap();
    let e = d.define_domain(renamed).unwrap_err();
    assert_eq!(
        e.message,
        format!("domain 'test' is already defined with uuid {TEST_UUID}")
    );
    let e = d.get_domain(Uuid::nil()).unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomain);
}

#[test]
fn memory_vcpus_and_cpu_time() {
    let d = driver();
    let u = test_uuid();
    let rec = d.set_memory(u, 1024 * 1024).unwrap().record.unwrap();
    assert_eq!(rec.def.current_memory_kib, 1024 * 1024);
    let rec = d.set_vcpus(u, 1).unwrap().record.unwrap();
    assert_eq!(rec.def.vcpu.current, 1);
    let a = d.domain_stats(u).unwrap().cpu_time_ns;
    std::thread::sleep(std::time::Duration::from_millis(20));
    let b = d.domain_stats(u).unwrap().cpu_time_ns;
    assert!(b > a, "cpu time grows while running");
    d.suspend_domain(u).unwrap();
    let c = d.domain_stats(u).unwrap().cpu_time_ns;
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(d.domain_stats(u).unwrap().cpu_time_ns, c, "frozen while paused");
    d.destroy_domain(u).unwrap();
    let rec = d.set_max_memory(u, 512 * 1024).unwrap().record.unwrap();
    assert_eq!(
        (rec.def.memory_kib, rec.def.current_memory_kib),
        (512 * 1024, 512 * 1024)
    );
}

fn pool_events(events: &[DriverEvent]) -> Vec<PoolEventType> {
    events
        .iter()
        .map(|e| match e {
            DriverEvent::Pool(p) => *p,
            other => panic!("not a pool event: {other:?}"),
        })
        .collect()
}

#[test]
fn pools_and_volumes() {
    let d = driver();
    let def = PoolDef::from_xml("<pool type='dir'><name>p2</name><target><path>/p2</path></target></pool>").unwrap();
    let u = def.uuid;
    assert_eq!(
        pool_events(&d.define_pool(def).unwrap().events),
        [PoolEventType::Defined]
    );
    assert_eq!(pool_events(&d.build_pool(u).unwrap().events), [PoolEventType::Created]);
    assert_eq!(pool_events(&d.start_pool(u).unwrap().events), [PoolEventType::Started]);
    let e = d.start_pool(u).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::OperationInvalid, "storage pool 'p2' is active")
    );
    assert!(pool_events(&d.refresh_pool(u).unwrap().events).is_empty());

    let vol = VolumeDef::from_xml(
        "<volume><name>v.img</name><capacity unit='G'>10</capacity><allocation unit='M'>512</allocation></volume>",
    )
    .unwrap();
    let (created, after) = d.create_volume(u, vol.clone()).unwrap();
    assert_eq!(created.def.target_path.as_deref(), Some("/p2/v.img"));
    assert_eq!(created.def.key.as_deref(), Some("/p2/v.img"));
    assert_eq!(after.record.unwrap().def.allocation_bytes, 512 * 1024 * 1024);
    let e = d.create_volume(u, vol).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationFailed);
    let big = VolumeDef::from_xml("<volume><name>big</name><capacity unit='T'>1</capacity></volume>").unwrap();
    assert_eq!(d.create_volume(u, big).unwrap_err().code, ErrorCode::InternalError);
    let after = d.delete_volume(u, "v.img").unwrap().record.unwrap();
    assert_eq!(after.def.allocation_bytes, 0);
    assert_eq!(d.delete_volume(u, "v.img").unwrap_err().code, ErrorCode::NoStorageVol);

    assert_eq!(
        pool_events(&d.destroy_pool(u).unwrap().events),
        [PoolEventType::Stopped]
    );
    let e = d.destroy_pool(u).unwrap_err();
    assert_eq!(e.message, "storage pool 'p2' is not active");
    let e = d.create_volume(
        u,
        VolumeDef::from_xml("<volume><name>x</name><capacity>1</capacity></volume>").unwrap(),
    );
    assert_eq!(e.unwrap_err().code, ErrorCode::OperationInvalid);
    assert_eq!(pool_events(&d.delete_pool(u).unwrap().events), [PoolEventType::Deleted]);
    let gone = d.undefine_pool(u).unwrap();
    assert_eq!(pool_events(&gone.events), [PoolEventType::Undefined]);
    assert!(gone.record.is_none());

    // A transient pool disappears when destroyed.
    let t = PoolDef::from_xml("<pool type='dir'><name>t</name><target><path>/t</path></target></pool>").unwrap();
    let tu = t.uuid;
    let made = d.create_pool(t).unwrap();
    assert_eq!(made.record.unwrap().state, PoolState::Running);
    assert!(d.destroy_pool(tu).unwrap().record.is_none());
}

#[test]
fn networks() {
    let d = driver();
    let def = NetworkDef::from_xml("<network><name>n2</name><bridge name='br2'/></network>").unwrap();
    let u = def.uuid;
    let ev = |o: &virtbus_drivers::Outcome<_>| -> Vec<NetworkEventType> {
        o.events
            .iter()
            .map(|e| match e {
                DriverEvent::Network(n) => *n,
                other => panic!("not a network event: {other:?}"),
            })
            .collect()
    };
    assert_eq!(ev(&d.define_network(def).unwrap()), [NetworkEventType::Defined]);
    assert_eq!(ev(&d.start_network(u).unwrap()), [NetworkEventType::Started]);
    let e = d.start_network(u).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::OperationInvalid, "network 'n2' is already running")
    );
    let e = d.undefine_network(u).unwrap_err();
    assert_eq!(e.message, "network 'n2' is still running");
    assert_eq!(ev(&d.destroy_network(u).unwrap()), [NetworkEventType::Stopped]);
    assert_eq!(
        ev(&d.destroy_network(u).unwrap()),
        [NetworkEventType::Stopped],
        "again, no error"
    );
    let gone = d.undefine_network(u).unwrap();
    assert_eq!(ev(&gone), [NetworkEventType::Undefined]);
    assert!(gone.record.is_none());
}

#[test]
fn node_files_with_runstates_pools_and_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node.xml");
    std::fs::write(
        dir.path().join("inc.xml"),
        "<domain type='test'><name>included</name><memory>1024</memory></domain>",
    )
    .unwrap();
    std::fs::write(
        &node,
        "<node><cpu><mhz>3000</mhz><model>x86_64</model><active>8</active><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>2</threads></cpu><memory>8192</memory>\
         <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>paused</name><memory>1024</memory><test:runstate>3</test:runstate></domain>\
         <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>off</name><memory>1024</memory><test:runstate>5</test:runstate></domain>\
         <domain file='inc.xml'/>\
         <pool type='dir'><name>p</name><target><path>/p</path></target><volume><name>a</name><capacity>1000</capacity></volume></pool>\
         </node>",
    )
    .unwrap();
    let d = TestDriver::open(node.to_str().unwrap()).unwrap();
    let info = d.node_info().unwrap();
    assert_eq!((info.mhz, info.cores, info.memory_kib), (3000, 4, 8192));
    let states: Vec<(String, DomainState, Option<u32>)> = d
        .list_domains()
        .unwrap()
        .into_iter()
        .map(|r| (r.def.name.clone(), r.state.state, r.id))
        .collect();
    assert_eq!(
        states,
        [
            ("paused".to_string(), DomainState::Paused, Some(1)),
            ("off".to_string(), DomainState::Shutoff, None),
            ("included".to_string(), DomainState::Running, Some(2)),
        ]
    );
    let pool = &d.list_pools().unwrap()[0];
    assert_eq!(pool.volumes[0].def.target_path.as_deref(), Some("/p/a"));
    assert_eq!(pool.def.allocation_bytes, 1000);
    assert!(TestDriver::open("relative.xml").is_err());
    match TestDriver::open("/no/such/node.xml") {
        Err(e) => assert_eq!(e.code, ErrorCode::OpenFailed),
        Ok(_) => panic!("a missing node file must not open"),
    }
}
