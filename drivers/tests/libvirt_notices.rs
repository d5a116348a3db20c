//! Changes made behind the proxy's back arrive as notices, with the events
//! libvirt emitted, exactly once.
//!
//! All `test:///default` connections of one process share one host in
//! libvirt's test driver, so a second proxy on that URI plays "someone else"
//! (virsh, another tool): its changes reach the first proxy only through
//! libvirt's callbacks. This file holds a single test because of that shared
//! state.
#![cfg(feature = "libvirt")]

use std::time::{Duration, Instant};
use uuid::Uuid;
use virtbus_drivers::libvirt::LibvirtDriver;
use virtbus_drivers::model::{DriverEvent, DriverNotice};
use virtbus_drivers::{HypervisorDriver, NetworkDriver, StorageDriver};
use virtbus_schemas::lifecycle::{DomainLifecycle, DomainState, NetworkEventType, PoolEventType};
use virtbus_schemas::{DomainDef, NetworkDef};

/// Collects notices until `n` arrived or 5 s passed, then makes sure no
/// more follow for a while.
fn take(rx: &crossbeam_channel::Receiver<DriverNotice>, n: usize) -> Vec<DriverNotice> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(notice) => out.push(notice),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    out.extend(rx.try_iter());
    out
}

/// Whatever arrives within 300 ms.
fn quiet(rx: &crossbeam_channel::Receiver<DriverNotice>) -> Vec<DriverNotice> {
    std::thread::sleep(Duration::from_millis(300));
    rx.try_iter().collect()
}

fn domain_notices(events: &[DriverEvent], uuid: Uuid) -> Vec<DriverNotice> {
    events
        .iter()
        .map(|e| match e {
            DriverEvent::Domain(lc) => DriverNotice::Domain { uuid, event: Some(*lc) },
            other => panic!("not a domain event: {other:?}"),
        })
        .collect()
}

#[test]
fn changes_by_another_client_arrive_as_notices_exactly_once() {
    let (proxy, notices) = LibvirtDriver::open("test:///default").unwrap();
    let (other, other_notices) = LibvirtDriver::open("test:///default").unwrap();
    let test = proxy
        .list_domains()
        .unwrap()
        .into_iter()
        .find(|d| d.name() == "test")
        .unwrap()
        .uuid();

    // Someone else suspends and resumes: the proxy hears libvirt's events,
    // the same ones libvirt returned to the one who made the change.
    let suspended = other.suspend_domain(test).unwrap();
    let resumed = other.resume_domain(test).unwrap();
    let mut expected = domain_notices(&suspended.events, test);
    expected.extend(domain_notices(&resumed.events, test));
    assert_eq!(
        expected,
        [
            DriverNotice::Domain {
                uuid: test,
                event: Some(DomainLifecycle {
                    event: virtbus_schemas::lifecycle::DomainEventType::Suspended,
                    detail: 0
                })
            },
            DriverNotice::Domain {
                uuid: test,
                event: Some(DomainLifecycle {
                    event: virtbus_schemas::lifecycle::DomainEventType::Resumed,
                    detail: 0
                })
            },
        ]
    );
    assert_eq!(take(&notices, 2), expected);

    // A domain defined elsewhere is announced and readable (the core adopts
    // it from such a notice).
    let def = DomainDef::from_xml(
        "<domain type='test'><name>elsewhere</name><uuid>88888888-0000-0000-0000-000000000001</uuid>\
         <memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    )
    .unwrap();
    let uuid = def.uuid;
    let defined = other.define_domain(def).unwrap();
    let started = other.start_domain(uuid).unwrap();
    let mut expected = domain_notices(&defined.events, uuid);
    expected.extend(domain_notices(&started.events, uuid));
    assert_eq!(take(&notices, 2), expected);
    assert_eq!(proxy.get_domain(uuid).unwrap().state.state, DomainState::Running);

    // The proxy's own change comes back in its outcome only; the other
    // client gets it as a notice.
    let destroyed = proxy.destroy_domain(uuid).unwrap();
    assert_eq!(destroyed.events.len(), 1);
    assert!(quiet(&notices).is_empty(), "own change reported twice");
    let seen_by_other: Vec<_> = take(&other_notices, 1);
    assert_eq!(seen_by_other, domain_notices(&destroyed.events, uuid));
    let undefined = proxy.undefine_domain(uuid).unwrap();
    assert!(undefined.record.is_none());
    assert_eq!(take(&other_notices, 1), domain_notices(&undefined.events, uuid));

    // Pools and networks too.
    let pool = other.list_pools().unwrap()[0].def.uuid;
    other.destroy_pool(pool).unwrap();
    other.start_pool(pool).unwrap();
    assert_eq!(
        take(&notices, 2),
        [
            DriverNotice::Pool {
                uuid: pool,
                event: Some(PoolEventType::Stopped)
            },
            DriverNotice::Pool {
                uuid: pool,
                event: Some(PoolEventType::Started)
            },
        ]
    );
    let net = NetworkDef::from_xml(
        "<network><name>side</name><uuid>99999999-0000-0000-0000-000000000001</uuid><bridge name='vbside'/></network>",
    )
    .unwrap();
    let net_uuid = net.uuid;
    other.create_network(net).unwrap();
    other.destroy_network(net_uuid).unwrap();
    assert_eq!(
        take(&notices, 2),
        [
            DriverNotice::Network {
                uuid: net_uuid,
                event: Some(NetworkEventType::Started)
            },
            DriverNotice::Network {
                uuid: net_uuid,
                event: Some(NetworkEventType::Stopped)
            },
        ]
    );
    assert!(proxy.get_network(net_uuid).is_err());
    // Nothing else was pending for the other client either.
    assert!(quiet(&other_notices).is_empty());
}
