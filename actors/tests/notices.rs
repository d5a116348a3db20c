//! Changes a driver reports by itself (a guest that died, an object made
//! behind the agent's back) reach the snapshot and the bus.

use std::sync::Arc;
use std::time::Duration;
use virtbus_actors::{Core, CoreConfig, EventBody, Received};
use virtbus_drivers::test::TestDriver;
use virtbus_drivers::{Connection, DriverNotice};
use virtbus_schemas::lifecycle::{DomainLifecycle, DomainState, StoppedDetail};
use virtbus_schemas::{DomainDef, NodeFile};

fn connection_with_notices() -> (Connection, Arc<TestDriver>, crossbeam_channel::Sender<DriverNotice>) {
    connection(false)
}

/// The test driver behind a connection; `blocking` makes the core run its
/// calls on the blocking pool as it does for qemu and libvirt.
fn connection(blocking: bool) -> (Connection, Arc<TestDriver>, crossbeam_channel::Sender<DriverNotice>) {
    let driver = Arc::new(TestDriver::from_node(NodeFile::default_node()).unwrap());
    let (tx, rx) = crossbeam_channel::unbounded();
    let conn = Connection {
        uri: "test:///default".into(),
        hypervisor: driver.clone(),
        storage: driver.clone(),
        network: driver.clone(),
        node: driver.clone(),
        blocking,
        notices: Some(rx),
        keeps_definitions: false,
        link: None,
    };
    (conn, driver, tx)
}

async fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = probe() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_that_stops_by_itself_is_reported() {
    use virtbus_drivers::HypervisorDriver;
    let (conn, driver, tx) = connection_with_notices();
    let core = Core::start_with(CoreConfig::default(), conn).unwrap();
    let mut sub = core.subscribe();
    let uuid = core.lookup_domain("test").unwrap().uuid();
    // Behind the core's back, as a qemu exit would.
    driver.destroy_domain(uuid).unwrap();
    assert_eq!(
        core.lookup_domain("test").unwrap().state.state,
        DomainState::Running,
        "not yet seen"
    );
    tx.send(DriverNotice::Domain {
        uuid,
        event: Some(DomainLifecycle::stopped(StoppedDetail::Failed)),
    })
    .unwrap();
    wait_for(|| (core.lookup_domain("test").unwrap().state.state == DomainState::Shutoff).then_some(())).await;
    match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await.unwrap() {
        Received::Event(e) => match e.body {
            EventBody::Domain { name, detail, .. } => assert_eq!((name.as_str(), detail), ("test", "FAILED")),
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("unexpected {other:?}"),
    }
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_made_behind_the_agents_back_is_adopted() {
    use virtbus_drivers::HypervisorDriver;
    let (conn, driver, tx) = connection_with_notices();
    let core = Core::start_with(CoreConfig::default(), conn).unwrap();
    let def = DomainDef::from_xml("<domain type='test'><name>outsider</name><memory>1024</memory></domain>").unwrap();
    let uuid = def.uuid;
    driver.define_domain(def).unwrap();
    tx.send(DriverNotice::Domain { uuid, event: None }).unwrap();
    let rec = wait_for(|| core.lookup_domain("outsider").ok()).await;
    assert_eq!(rec.uuid(), uuid);
    // It is managed like any other domain from now on.
    let rec = core
        .domain_record(uuid, virtbus_actors::DomainOp::Start)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.state.state, DomainState::Running);
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_driver_answers_even_when_the_command_ends_the_object() {
    let (conn, _driver, _tx) = connection(true);
    let core = Core::start_with(CoreConfig::default(), conn).unwrap();
    let rec = core
        .define_domain("<domain type='test'><name>brief</name><memory>1024</memory></domain>")
        .await
        .unwrap();
    let rec = core
        .domain_record(rec.uuid(), virtbus_actors::DomainOp::Start)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.state.state, DomainState::Running);
    core.domain_record(rec.uuid(), virtbus_actors::DomainOp::Destroy)
        .await
        .unwrap();
    // The undefine ends the object and its actor; the caller still gets the
    // real answer, not "no such domain".
    let gone = core
        .domain_record(rec.uuid(), virtbus_actors::DomainOp::Undefine)
        .await
        .unwrap();
    assert!(gone.is_none());
    assert!(core.lookup_domain("brief").is_err());
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_removed_behind_the_agents_back_right_after_creation_keep_their_name() {
    use virtbus_drivers::{HypervisorDriver, NetworkDriver};
    let (conn, driver, tx) = connection_with_notices();
    let core = Core::start_with(CoreConfig::default(), conn).unwrap();
    let mut sub = core.subscribe();
    // Made through the core, then gone behind its back at once (virsh
    // undefine right after virtbus ctl define): the removal event must name
    // the object, although its actor may have started before the object
    // reached the snapshot.
    for round in 0..20 {
        let name = format!("quick{round}");
        let net = core
            .define_network(&format!(
                "<network><name>{name}</name><bridge name='vq{round}'/></network>"
            ))
            .await
            .unwrap();
        let dom = core
            .define_domain(&format!(
                "<domain type='test'><name>{name}</name><memory>1024</memory></domain>"
            ))
            .await
            .unwrap();
        driver.undefine_network(net.def.uuid).unwrap();
        driver.undefine_domain(dom.uuid()).unwrap();
        tx.send(DriverNotice::Network {
            uuid: net.def.uuid,
            event: Some(virtbus_schemas::lifecycle::NetworkEventType::Undefined),
        })
        .unwrap();
        tx.send(DriverNotice::Domain {
            uuid: dom.uuid(),
            event: Some(DomainLifecycle::undefined(
                virtbus_schemas::lifecycle::UndefinedDetail::Removed,
            )),
        })
        .unwrap();
        let mut names = Vec::new();
        while names.len() < 4 {
            match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await.unwrap() {
                Received::Event(e) => names.push(match e.body {
                    EventBody::Domain { name, .. } | EventBody::Network { name, .. } | EventBody::Pool { name, .. } => {
                        name
                    }
                }),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(names.iter().all(|n| *n == name), "round {round}: {names:?}");
    }
    core.shutdown();
}
