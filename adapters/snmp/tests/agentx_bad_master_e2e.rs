//! A fake AgentX master (a unix socket the test owns) sends the subagent of a
//! real `virtbus serve` malformed PDUs, an unknown PDU type, a request for an
//! unknown session, a bad SET and an oversized header. Each is logged and
//! answered (parseError, notOpen, wrongType) or, for the oversized header,
//! the session is closed and re-opened; the subagent keeps serving.

mod common;
use common::*;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};
use virtbus_snmp::agentx::pdu::{close_reason, kind, res_error, Body, Header, Pdu, HEADER_LEN};
use virtbus_snmp::agentx::wire::SearchRange;

const SESSION: u32 = 42;

fn accept(listener: &UnixListener) -> UnixStream {
    listener.set_nonblocking(true).unwrap();
    let started = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                return stream;
            }
            Err(_) if started.elapsed() < Duration::from_secs(30) => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => panic!("subagent did not connect: {err}"),
        }
    }
}

fn read_pdu(stream: &mut UnixStream) -> Pdu {
    let mut head = [0u8; HEADER_LEN];
    stream.read_exact(&mut head).expect("a pdu from the subagent");
    let header = Header::decode(&head).unwrap();
    let mut payload = vec![0u8; header.payload_length as usize];
    stream.read_exact(&mut payload).unwrap();
    Pdu::decode_payload(&header, &payload).unwrap()
}

fn respond(stream: &mut UnixStream, to: &Pdu, session: u32) {
    let header = Header {
        version: 1,
        pdu_type: to.body.pdu_type(),
        flags: to.flags,
        session_id: session,
        transaction_id: to.transaction_id,
        packet_id: to.packet_id,
        payload_length: 0,
    };
    let reply = Pdu::response_to(&header, res_error::NO_ERROR, 0, Vec::new());
    stream.write_all(&reply.encode().unwrap()).unwrap();
}

/// Accepts the subagent and completes Open and the Registers of
/// virtbusMIB and libvirtMIB.
fn handshake(listener: &UnixListener) -> UnixStream {
    let mut stream = accept(listener);
    let open = read_pdu(&mut stream);
    assert!(matches!(open.body, Body::Open { .. }), "{open:?}");
    respond(&mut stream, &open, SESSION);
    for expected in [&[1u32, 3, 6, 1, 4, 1, 32473][..], &[1, 3, 6, 1, 4, 1, 36957]] {
        let register = read_pdu(&mut stream);
        match &register.body {
            Body::Register { subtree, .. } => assert_eq!(subtree.arcs(), expected),
            other => panic!("expected Register, got {other:?}"),
        }
        assert_eq!(register.session_id, SESSION);
        respond(&mut stream, &register, SESSION);
    }
    stream
}

fn response(stream: &mut UnixStream, packet_id: u32) -> (u16, u16, Vec<async_snmp::VarBind>) {
    loop {
        let pdu = read_pdu(stream);
        if let Body::Response {
            error, index, varbinds, ..
        } = pdu.body
        {
            if pdu.packet_id == packet_id {
                return (error, index, varbinds);
            }
        }
    }
}

fn get_next_first_name(stream: &mut UnixStream, packet_id: u32) -> (u16, u16, Vec<async_snmp::VarBind>) {
    let range = SearchRange {
        start: async_snmp::Oid::from_slice(&[1, 3, 6, 1, 4, 1, 36957, 1, 1, 1, 2]),
        include: false,
        end: async_snmp::Oid::from_slice(&[1, 3, 6, 1, 4, 1, 36957, 1, 1, 1, 3]),
    };
    let pdu = Pdu::new(SESSION, 1, packet_id, Body::GetNext(vec![range]));
    stream.write_all(&pdu.encode().unwrap()).unwrap();
    response(stream, packet_id)
}

fn raw_header(pdu_type: u8, session: u32, packet_id: u32, payload_length: u32) -> Vec<u8> {
    let mut out = vec![1, pdu_type, 0x10, 0];
    for v in [session, 7, packet_id, payload_length] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

#[test]
fn malformed_pdus_from_the_master_are_refused_and_serving_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let master = format!("unix:{}", path.display());
    let mut agent = Agent::start_with(&[], &["--snmp-listen", "off", "--snmp-agentx", &master], None);
    let mut stream = handshake(&listener);

    // A sane request first: the first name in the table is gamma's.
    let (error, _, varbinds) = get_next_first_name(&mut stream, 100);
    assert_eq!(error, res_error::NO_ERROR);
    assert_eq!(
        varbinds[0].value,
        async_snmp::Value::OctetString(b"gamma".to_vec().into())
    );

    // A GetNext whose search range claims 200 sub-identifiers in 8 octets.
    let mut bad = raw_header(kind::GET_NEXT, SESSION, 101, 8);
    bad.extend_from_slice(&[200, 0, 0, 0, 0, 0, 0, 1]);
    stream.write_all(&bad).unwrap();
    assert_eq!(response(&mut stream, 101).0, res_error::PARSE_ERROR);

    // An unknown PDU type with an empty payload.
    stream.write_all(&raw_header(99, SESSION, 102, 0)).unwrap();
    assert_eq!(response(&mut stream, 102).0, res_error::PARSE_ERROR);

    // A payload length that is not a multiple of 4.
    let mut odd = raw_header(kind::GET, SESSION, 103, 3);
    odd.extend_from_slice(&[0, 0, 0]);
    stream.write_all(&odd).unwrap();
    assert_eq!(response(&mut stream, 103).0, res_error::PARSE_ERROR);

    // A request for a session that is not ours.
    let mut foreign = Pdu::new(SESSION + 1, 1, 104, Body::GetNext(Vec::new()));
    foreign.session_id = SESSION + 1;
    stream.write_all(&foreign.encode().unwrap()).unwrap();
    assert_eq!(response(&mut stream, 104).0, res_error::NOT_OPEN);

    // A TestSet of a string into libvirtGuestState: wrongType (7) at varbind 1;
    // then CleanupSet, which has no response.
    let state = async_snmp::Oid::parse(&format!("1.3.6.1.4.1.36957.1.1.1.3.{}", index(ALPHA))).unwrap();
    let set = Pdu::new(
        SESSION,
        9,
        105,
        Body::TestSet(vec![async_snmp::VarBind::new(
            state,
            async_snmp::Value::OctetString(b"paused".to_vec().into()),
        )]),
    );
    stream.write_all(&set.encode().unwrap()).unwrap();
    assert_eq!(response(&mut stream, 105), (7, 1, Vec::new()));
    stream
        .write_all(&Pdu::new(SESSION, 9, 106, Body::CleanupSet).encode().unwrap())
        .unwrap();
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "running");

    // Still serving on the same session.
    let (error, _, varbinds) = get_next_first_name(&mut stream, 107);
    assert_eq!(error, res_error::NO_ERROR);
    assert_eq!(varbinds.len(), 1);

    // An oversized header cannot be skipped: the subagent closes (reason
    // parseError) and opens a new session, which serves again.
    stream
        .write_all(&raw_header(kind::GET, SESSION, 108, 0x7fff_fff0))
        .unwrap();
    let close = read_pdu(&mut stream);
    assert_eq!(
        close.body,
        Body::Close {
            reason: close_reason::PARSE_ERROR
        }
    );
    drop(stream);
    let mut stream = handshake(&listener);
    let (error, _, varbinds) = get_next_first_name(&mut stream, 200);
    assert_eq!(error, res_error::NO_ERROR);
    assert_eq!(
        varbinds[0].value,
        async_snmp::Value::OctetString(b"gamma".to_vec().into())
    );

    let logs = agent.drain().join("\n");
    assert!(logs.contains("agentx pdu from the master refused"), "{logs}");
    assert!(logs.contains("unknown session refused"), "{logs}");
    assert!(logs.contains("exceeds the limit"), "{logs}");
    // The agent process is still alive.
    assert!(agent.child.try_wait().unwrap().is_none());
}
