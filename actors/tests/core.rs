//! The core end to end in-process: test driver → actors → snapshot/bus/store.

use std::time::Duration;
use virtbus_actors::{Core, CoreConfig, DomainOp, EventBody, Received, Subscription};
use virtbus_schemas::lifecycle::{DomainEventType, DomainState};
use virtbus_schemas::ErrorCode;

fn core_with(state_dir: Option<&std::path::Path>, test_hooks: bool) -> Core {
    Core::start(CoreConfig {
        state_dir: state_dir.map(|p| p.to_path_buf()),
        workers: 2,
        test_hooks,
        ..CoreConfig::default()
    })
    .expect("core starts on test:///default")
}

async fn next_domain_event(sub: &mut Subscription) -> (u64, DomainEventType, &'static str) {
    let received = tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("an event within 5 s");
    match received {
        Received::Event(e) => match e.body {
            EventBody::Domain { event, detail, .. } => (e.seq, event, detail),
            other => panic!("expected a domain event, got {other:?}"),
        },
        other => panic!("expected an event, got {other:?}"),
    }
}

const NEW_DOMAIN: &str = "<domain type='test'><name>fresh</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_host_lifecycle_emits_libvirt_events() {
    let core = core_with(None, false);
    let snap = core.snapshot();
    assert_eq!(snap.domains.len(), 1);
    let test = core.lookup_domain("test").unwrap();
    assert_eq!(test.state.state, DomainState::Running);
    assert_eq!(test.id, Some(1));
    assert_eq!(core.lookup_domain("1").unwrap().def.name, "test");
    assert!(core.lookup_pool("default-pool").is_ok());
    assert!(core.lookup_network("default").is_ok());

    let mut sub = core.subscribe();
    let uuid = test.uuid();
    core.domain_record(uuid, DomainOp::Suspend).await.unwrap();
    assert_eq!(
        core.lookup_domain("test").unwrap().state.state,
        DomainState::Paused,
        "visible at once"
    );
    core.domain_record(uuid, DomainOp::Resume).await.unwrap();
    core.domain_record(uuid, DomainOp::Destroy).await.unwrap();
    core.domain_record(uuid, DomainOp::Start).await.unwrap();
    let expected = [
        (DomainEventType::Suspended, "PAUSED"),
        (DomainEventType::Resumed, "UNPAUSED"),
        (DomainEventType::Stopped, "DESTROYED"),
        (DomainEventType::Started, "BOOTED"),
    ];
    let mut last_seq = 0;
    for (event, detail) in expected {
        let (seq, got, got_detail) = next_domain_event(&mut sub).await;
        assert_eq!((got, got_detail), (event, detail));
        assert!(seq > last_seq);
        last_seq = seq;
    }
    assert_eq!(
        core.lookup_domain("test").unwrap().id,
        Some(2),
        "a restart gets a new id"
    );

    // Invalid in the current state: libvirt's test driver codes.
    let err = core.domain_record(uuid, DomainOp::Start).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
    assert!(err.message.contains("already running"), "{}", err.message);
    let err = core.domain_record(uuid, DomainOp::Resume).await.unwrap_err();
    assert!(err.message.contains("not paused"), "{}", err.message);

    // define → start → shutdown → undefine of a new domain.
    let rec = core.define_domain(NEW_DOMAIN).await.unwrap();
    assert_eq!(rec.state.state, DomainState::Shutoff);
    assert_eq!(next_domain_event(&mut sub).await.1, DomainEventType::Defined);
    core.domain_record(rec.uuid(), DomainOp::Start).await.unwrap();
    core.domain_record(rec.uuid(), DomainOp::Shutdown).await.unwrap();
    core.domain_record(rec.uuid(), DomainOp::Undefine).await.unwrap();
    assert_eq!(next_domain_event(&mut sub).await.1, DomainEventType::Started);
    assert_eq!(next_domain_event(&mut sub).await.2, "SHUTDOWN");
    assert_eq!(next_domain_event(&mut sub).await.1, DomainEventType::Undefined);
    assert!(core.lookup_domain("fresh").is_err());
    let err = core.domain_record(rec.uuid(), DomainOp::Start).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoDomain);
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_actor_is_restarted_and_others_keep_working() {
    let core = core_with(None, true);
    let a = core.define_domain(NEW_DOMAIN).await.unwrap();
    let test = core.lookup_domain("test").unwrap();
    let err = core.domain(a.uuid(), DomainOp::Panic).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
    assert!(err.message.contains("restarted"), "{}", err.message);
    // The same actor answers again, from driver truth.
    let rec = core.domain_record(a.uuid(), DomainOp::Start).await.unwrap().unwrap();
    assert_eq!(rec.state.state, DomainState::Running);
    // Another object was never affected.
    core.domain_record(test.uuid(), DomainOp::Suspend).await.unwrap();
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_hook_is_refused_without_test_hooks() {
    let core = core_with(None, false);
    let test = core.lookup_domain("test").unwrap();
    let err = core.domain(test.uuid(), DomainOp::Panic).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::OperationDenied);
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_to_one_domain_are_serialised() {
    let core = core_with(None, false);
    let uuid = core.lookup_domain("test").unwrap().uuid();
    let mut sub = core.subscribe();
    // 50 suspend/resume pairs from 100 tasks: each command sees the state the
    // previous one left, so exactly the successful ones emit events.
    let mut tasks = Vec::new();
    for i in 0..100 {
        let core = core.clone();
        tasks.push(tokio::spawn(async move {
            let op = if i % 2 == 0 {
                DomainOp::Suspend
            } else {
                DomainOp::Resume
            };
            core.domain_record(uuid, op).await.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() {
            ok += 1;
        }
    }
    let mut events = 0;
    while let Some(Received::Event(_)) = sub.try_recv() {
        events += 1;
    }
    assert_eq!(events, ok, "one event per successful command");
    assert!(ok >= 1);
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_survive_a_restart_with_the_same_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    {
        let core = core_with(Some(dir.path()), false);
        core.define_domain(NEW_DOMAIN).await.unwrap();
        let pool = core.lookup_pool("default-pool").unwrap();
        let net = core.lookup_network("default").unwrap();
        core.network(net.def.uuid, virtbus_actors::NetworkOp::Destroy)
            .await
            .unwrap();
        core.network(net.def.uuid, virtbus_actors::NetworkOp::Undefine)
            .await
            .unwrap();
        core.pool_record(pool.def.uuid, virtbus_actors::PoolOp::Destroy)
            .await
            .unwrap();
        core.shutdown();
    }
    let core = core_with(Some(dir.path()), false);
    assert_eq!(core.lookup_domain("fresh").unwrap().def.memory_kib, 64 * 1024);
    assert!(core.lookup_network("default").is_err(), "undefine persisted");
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_are_cached_within_the_freshness_bound() {
    let core = core_with(None, false);
    let uuid = core.lookup_domain("test").unwrap().uuid();
    let a = core.stats(uuid, Duration::from_secs(60)).await.unwrap();
    let b = core.stats(uuid, Duration::from_secs(60)).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&a, &b),
        "second read within the bound is the cached sample"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let c = core.stats(uuid, Duration::from_millis(1)).await.unwrap();
    assert!(c.cpu_time_ns > a.cpu_time_ns, "cpu time grows while running");
    // A state change invalidates the sample.
    core.domain_record(uuid, DomainOp::Suspend).await.unwrap();
    let d = core.stats(uuid, Duration::from_secs(60)).await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&c, &d));
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_samples_many_domains_in_one_driver_call() {
    let core = core_with(None, false);
    let mut uuids = vec![core.lookup_domain("test").unwrap().uuid()];
    for i in 0..20 {
        let xml = NEW_DOMAIN.replace("fresh", &format!("many-{i}"));
        let record = core.create_domain(&xml).await.unwrap();
        uuids.push(record.uuid());
    }
    let fresh = Duration::from_secs(60);
    assert!(uuids.iter().all(|u| core.cached_stats(*u, fresh).is_none()));
    core.prefetch_stats(&uuids, fresh).await;
    let first: Vec<_> = uuids
        .iter()
        .map(|u| core.cached_stats(*u, fresh).expect("sampled"))
        .collect();
    // Fresh samples are not taken again.
    core.prefetch_stats(&uuids, fresh).await;
    for (uuid, before) in uuids.iter().zip(&first) {
        assert!(std::sync::Arc::ptr_eq(
            before,
            &core.cached_stats(*uuid, fresh).unwrap()
        ));
    }
    // The in-memory test driver samples without waiting, too.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(core.prefetch_stats_now(&uuids, Duration::from_millis(1)));
    let again = core.cached_stats(uuids[0], fresh).unwrap();
    assert!(
        again.cpu_time_ns > first[0].cpu_time_ns,
        "a new sample of a running guest"
    );
    // A state change drops the batch's sample like any other.
    core.domain_record(uuids[1], DomainOp::Suspend).await.unwrap();
    assert!(core.cached_stats(uuids[1], fresh).is_none());
    core.shutdown();
}

/// Each domain event carries the record as of that event and the one before
/// it, so a subscriber that reads the bus only after a burst of changes still
/// sees every intermediate state, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_events_carry_the_record_as_of_the_event_and_before_it() {
    let core = core_with(None, false);
    let uuid = core.lookup_domain("test").unwrap().uuid();
    let mut sub = core.subscribe();
    let ops = [
        DomainOp::Suspend,
        DomainOp::Resume,
        DomainOp::Suspend,
        DomainOp::Destroy,
        DomainOp::Start,
        DomainOp::Destroy,
        DomainOp::Undefine,
    ];
    for op in ops {
        core.domain_record(uuid, op).await.unwrap();
    }
    let state = |r: &Option<std::sync::Arc<virtbus_drivers::DomainRecord>>| r.as_ref().map(|r| r.state.state);
    let mut got = Vec::new();
    while let Some(Received::Event(e)) = sub.try_recv() {
        if let EventBody::Domain {
            event,
            record,
            previous,
            ..
        } = e.body
        {
            got.push((event, state(&previous), state(&record)));
        }
    }
    use DomainState::{Paused, Running, Shutoff};
    assert_eq!(
        got,
        vec![
            (DomainEventType::Suspended, Some(Running), Some(Paused)),
            (DomainEventType::Resumed, Some(Paused), Some(Running)),
            (DomainEventType::Suspended, Some(Running), Some(Paused)),
            (DomainEventType::Stopped, Some(Paused), Some(Shutoff)),
            (DomainEventType::Started, Some(Shutoff), Some(Running)),
            (DomainEventType::Stopped, Some(Running), Some(Shutoff)),
            (DomainEventType::Undefined, Some(Shutoff), None),
        ]
    );
}
