//! The UDP front door (`virtbus_snmp::front`) answers table walks itself and
//! relays everything else to async-snmp's agent. Its answers must be the
//! full agent's: every request here goes both to the front door and,
//! straight, to the agent behind it, and the two responses must agree;
//! and the requests a walk is made of must really be answered by the front
//! door (`Front::answer` gives a response), the others relayed.

mod common;
use async_snmp::message::CommunityMessage;
use async_snmp::pdu::{GetBulkPdu, RequestPdu};
use async_snmp::{DecodeConfig, Oid, Pdu, Value, VarBind, Version};
use bytes::Bytes;
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;
use virtbus_actors::{Core, CoreConfig};
use virtbus_snmp::front::Front;
use virtbus_snmp::guest_table::GuestTable;
use virtbus_snmp::system_group::SystemGroup;
use virtbus_snmp::{SnmpConfig, SnmpServer};

const TABLE: &[u32] = &[1, 3, 6, 1, 4, 1, 36957, 1, 1];
const ENTRY: &[u32] = &[1, 3, 6, 1, 4, 1, 36957, 1, 1, 1];

fn oid(arcs: &[u32]) -> Oid {
    Oid::from_slice(arcs)
}

fn column(col: u32) -> Oid {
    let mut arcs = ENTRY.to_vec();
    arcs.push(col);
    oid(&arcs)
}

fn instance(col: u32, uuid: &str) -> Oid {
    let mut arcs = ENTRY.to_vec();
    arcs.push(col);
    arcs.extend(
        uuid::Uuid::parse_str(uuid)
            .unwrap()
            .as_bytes()
            .iter()
            .map(|b| u32::from(*b)),
    );
    oid(&arcs)
}

fn encode(version: Version, community: &[u8], pdu: Pdu) -> Bytes {
    let message = match version {
        Version::V1 => CommunityMessage::v1(community.to_vec(), pdu),
        _ => CommunityMessage::v2c(community.to_vec(), pdu),
    };
    message.unwrap().encode().unwrap()
}

fn get(version: Version, community: &[u8], oids: &[Oid]) -> Bytes {
    encode(
        version,
        community,
        RequestPdu::get(version, 7, oids).unwrap().into_raw(),
    )
}

fn next(version: Version, community: &[u8], oids: &[Oid]) -> Bytes {
    encode(
        version,
        community,
        RequestPdu::get_next(version, 8, oids).unwrap().into_raw(),
    )
}

fn bulk(community: &[u8], non_repeaters: u32, max_repetitions: u32, oids: &[Oid]) -> Bytes {
    let varbinds = oids.iter().map(|o| VarBind::new(o.clone(), Value::Null)).collect();
    let pdu = GetBulkPdu::new(Version::V2c, 9, non_repeaters, max_repetitions, varbinds).unwrap();
    encode(Version::V2c, community, pdu.into_raw())
}

/// The response to `request` from `target`, decoded (`None`: no answer in 2 s).
fn ask(target: SocketAddr, request: &[u8]) -> Option<Pdu> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    socket.send_to(request, target).unwrap();
    let mut buf = vec![0u8; 65_536];
    let len = socket.recv(&mut buf).ok()?;
    let decoded = CommunityMessage::decode(Bytes::copy_from_slice(&buf[..len]), DecodeConfig::default()).unwrap();
    decoded.value.into_pdu()
}

/// Varbinds with CPU times reduced to their type: a running guest's may
/// be sampled anew between two requests (samples live 1 s).
fn comparable(varbinds: &[VarBind]) -> Vec<VarBind> {
    varbinds
        .iter()
        .map(|vb| match vb.value {
            Value::Counter64(_) => VarBind::new(vb.oid.clone(), Value::Counter64(0)),
            _ => vb.clone(),
        })
        .collect()
}

struct Fixture {
    core: Core,
    server: SnmpServer,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node.xml");
    std::fs::write(&node, NODE_XML).unwrap();
    let core = Core::start(CoreConfig {
        uri: format!("test://{}", node.display()),
        workers: 1,
        ..CoreConfig::default()
    })
    .expect("core starts");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = SnmpConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        rw_community: Some("private".into()),
        ..SnmpConfig::default()
    };
    let server = runtime.block_on(SnmpServer::start(&core, config)).expect("snmp starts");
    Fixture {
        core,
        server,
        runtime,
        _dir: dir,
    }
}

#[test]
fn front_door_answers_walks_exactly_as_the_agent_behind_it() {
    let fx = fixture();
    let public = fx.server.local_addrs()[0];
    let behind = fx.server.agent_addrs()[0];
    assert_ne!(public, behind, "a specific address gets a front door");
    let front = Front {
        guests: Arc::new(GuestTable::new(fx.core.clone())),
        system: Arc::new(SystemGroup::new(
            "virtbus".into(),
            String::new(),
            "host".into(),
            String::new(),
        )),
        communities: vec![b"public".to_vec(), b"private".to_vec()],
        max_message_size: 65_507,
    };
    // The last row of the last column: a GETNEXT from it leaves the table.
    let last_row = {
        let rows = [ALPHA, BETA, GAMMA];
        let mut sorted: Vec<_> = rows.iter().map(|u| uuid::Uuid::parse_str(u).unwrap()).collect();
        sorted.sort();
        sorted.last().unwrap().to_string()
    };
    // (what, request, answered by the front door itself?)
    let cases: Vec<(&str, Bytes, bool)> = vec![
        (
            "getnext from the table",
            next(Version::V2c, b"public", &[oid(TABLE)]),
            true,
        ),
        (
            "getnext from the entry",
            next(Version::V2c, b"public", &[oid(ENTRY)]),
            true,
        ),
        (
            "getnext of several columns",
            next(Version::V2c, b"public", &[column(2), column(3), column(5), column(9)]),
            true,
        ),
        (
            "getnext from a row",
            next(Version::V2c, b"public", &[instance(3, BETA)]),
            true,
        ),
        (
            "getnext with the rw community",
            next(Version::V2c, b"private", &[column(4)]),
            true,
        ),
        ("bulk -Cr10", bulk(b"public", 0, 10, &[oid(TABLE)]), true),
        ("bulk of one column", bulk(b"public", 0, 2, &[column(6)]), true),
        (
            "bulk with non-repeaters",
            bulk(b"public", 1, 2, &[column(2), column(3)]),
            true,
        ),
        (
            "bulk, non-repeaters beyond the list",
            bulk(b"public", 5, 3, &[column(2)]),
            true,
        ),
        ("bulk, no repetitions", bulk(b"public", 0, 0, &[column(2)]), true),
        (
            "get of readable instances",
            get(
                Version::V2c,
                b"public",
                &[instance(2, ALPHA), instance(5, GAMMA), instance(9, BETA)],
            ),
            true,
        ),
        (
            "get of a stopped guest's cpu time",
            get(Version::V2c, b"public", &[instance(7, GAMMA)]),
            true,
        ),
        (
            "get of sysObjectID",
            get(Version::V2c, b"public", &[oid(&[1, 3, 6, 1, 2, 1, 1, 2, 0])]),
            true,
        ),
        (
            "get of a guest and sysServices",
            get(
                Version::V2c,
                b"public",
                &[instance(2, ALPHA), oid(&[1, 3, 6, 1, 2, 1, 1, 7, 0])],
            ),
            true,
        ),
        // Relayed: the full agent decides.
        (
            "bulk past the table's end",
            bulk(b"public", 0, 1000, &[oid(TABLE)]),
            false,
        ),
        (
            "getnext from the last row",
            next(Version::V2c, b"public", &[instance(9, &last_row)]),
            false,
        ),
        (
            "getnext before the table",
            next(Version::V2c, b"public", &[oid(&[1, 3, 6, 1, 4, 1, 36957])]),
            false,
        ),
        (
            "get of a missing row",
            get(
                Version::V2c,
                b"public",
                &[instance(2, "99999999-9999-9999-9999-999999999999")],
            ),
            false,
        ),
        ("get of a non-column", get(Version::V2c, b"public", &[column(8)]), false),
        (
            "get of a system column, not its instance",
            get(Version::V2c, b"public", &[oid(&[1, 3, 6, 1, 2, 1, 1, 1])]),
            false,
        ),
        (
            "get of a snmp-group counter",
            get(Version::V2c, b"public", &[oid(&[1, 3, 6, 1, 2, 1, 11, 4, 0])]),
            false,
        ),
        (
            "get of a guest and an object elsewhere",
            get(
                Version::V2c,
                b"public",
                &[instance(2, ALPHA), oid(&[1, 3, 6, 1, 2, 1, 11, 4, 0])],
            ),
            false,
        ),
        ("v1 getnext", next(Version::V1, b"public", &[oid(TABLE)]), false),
        (
            "v1 get of a Counter64",
            get(Version::V1, b"public", &[instance(7, GAMMA)]),
            false,
        ),
    ];
    for (what, request, answered_here) in &cases {
        assert_eq!(
            futures::executor::block_on(front.answer(request)).is_some(),
            *answered_here,
            "{what}: answered by the front door itself"
        );
        let via_front = ask(public, request).unwrap_or_else(|| panic!("{what}: no answer through the front door"));
        let direct = ask(behind, request).unwrap_or_else(|| panic!("{what}: no answer from the agent"));
        assert_eq!(via_front.error_status(), direct.error_status(), "{what}: error-status");
        assert_eq!(via_front.error_index(), direct.error_index(), "{what}: error-index");
        assert_eq!(
            comparable(via_front.varbinds()),
            comparable(direct.varbinds()),
            "{what}: varbinds"
        );
        assert_eq!(via_front.request_id(), direct.request_id(), "{what}: request-id");
        if *answered_here {
            assert!(
                !via_front.varbinds().is_empty() || what.contains("no repetitions"),
                "{what}"
            );
            assert!(
                via_front.varbinds().iter().all(|vb| (vb.oid.arcs().starts_with(TABLE)
                    || vb.oid.arcs().starts_with(&[1, 3, 6, 1, 2, 1, 1]))
                    && !matches!(
                        vb.value,
                        Value::EndOfMibView | Value::NoSuchInstance | Value::NoSuchObject
                    )),
                "{what}: {:?}",
                via_front.varbinds()
            );
        }
    }
    // A wrong community is never answered, through the front door or not.
    let wrong = next(Version::V2c, b"wrong", &[oid(TABLE)]);
    assert!(futures::executor::block_on(front.answer(&wrong)).is_none());
    assert!(ask(public, &wrong).is_none(), "a wrong community gets no answer");
    // And the agent still serves afterwards.
    assert!(ask(public, &next(Version::V2c, b"public", &[oid(TABLE)])).is_some());
    fx.server.cancellation_token().cancel();
    drop(fx.runtime);
}

#[test]
fn many_managers_get_their_own_relayed_answers() {
    let fx = fixture();
    let public = fx.server.local_addrs()[0];
    // snmpInBadCommunityNames.0 is relayed; each manager sends from its own socket with its
    // own request-id, all before reading, and must get its own answer back.
    let sockets: Vec<UdpSocket> = (0..24)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            s
        })
        .collect();
    for (i, socket) in sockets.iter().enumerate() {
        let pdu = RequestPdu::get(Version::V2c, 1000 + i as i32, &[oid(&[1, 3, 6, 1, 2, 1, 11, 4, 0])]).unwrap();
        socket
            .send_to(&encode(Version::V2c, b"public", pdu.into_raw()), public)
            .unwrap();
    }
    for (i, socket) in sockets.iter().enumerate() {
        let mut buf = vec![0u8; 65_536];
        let len = socket.recv(&mut buf).unwrap_or_else(|e| panic!("manager {i}: {e}"));
        let pdu = CommunityMessage::decode(Bytes::copy_from_slice(&buf[..len]), DecodeConfig::default())
            .unwrap()
            .value
            .into_pdu()
            .unwrap();
        assert_eq!(pdu.request_id(), 1000 + i as i32, "manager {i} got another's answer");
        assert_eq!(pdu.error_status(), 0);
    }
    fx.server.cancellation_token().cancel();
    drop(fx.runtime);
}

#[test]
fn net_snmp_walks_agree_through_the_front_door_and_behind_it() {
    let mut agent = Agent::start(&[]);
    let behind = agent
        .drain()
        .iter()
        .find_map(|l| l.split("full agent on udp:").nth(1))
        .and_then(|rest| rest.split(')').next())
        .map(str::to_string)
        .expect("the log names the agent behind the front door");
    for cr in ["-Cr1", "-Cr3", "-Cr10"] {
        let front = agent.v2c("snmpbulkwalk", "public", &["-On", cr], &[".1.3.6.1.4.1.36957.1.1"]);
        let out = std::process::Command::new("snmpbulkwalk")
            .args(["-M", &mib_dirs(), "-m", "LIBVIRT-MIB:VIRTBUS-MIB", "-t", "2", "-r", "1"])
            .args([
                "-v2c",
                "-c",
                "public",
                "-On",
                cr,
                behind.as_str(),
                ".1.3.6.1.4.1.36957.1.1",
            ])
            .output()
            .expect("snmpbulkwalk runs");
        let direct = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(front.lines().count(), 3 * 7, "{front}");
        // CPU times of running guests may be sampled anew between the two
        // walks; everything else must be the same, line for line.
        let comparable = |text: &str| -> Vec<String> {
            text.lines()
                .map(|l| match l.split_once(" = Counter64: ") {
                    Some((oid, _)) => format!("{oid} = Counter64"),
                    None => l.to_string(),
                })
                .collect()
        };
        assert_eq!(comparable(&front), comparable(&direct), "{cr}");
    }
}

#[test]
fn a_refused_configuration_leaves_nothing_listening() {
    let core = Core::start(CoreConfig {
        workers: 1,
        ..CoreConfig::default()
    })
    .expect("core starts");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let port = free_udp_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // An IPv6 sink with only an IPv4 listen address: refused.
    let config = SnmpConfig {
        listen: vec![addr],
        trap_sinks: vec!["[::1]:1162".parse().unwrap()],
        ..SnmpConfig::default()
    };
    let err = match runtime.block_on(SnmpServer::start(&core, config)) {
        Ok(_) => panic!("a sink without a listen address of its family is refused"),
        Err(err) => err,
    };
    assert!(err.to_string().contains("same family"), "{err}");
    // Nothing kept the port: it binds again at once.
    std::thread::sleep(Duration::from_millis(200));
    UdpSocket::bind(addr).expect("the refused agent's port is free");
    drop(runtime);
    core.shutdown();
}
