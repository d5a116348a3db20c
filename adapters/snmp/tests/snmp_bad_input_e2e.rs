//! Bad input: garbage and truncated BER, wrong versions, unknown
//! communities, oversize datagrams and absurd GETBULK sizes get no answer or
//! the protocol's own answer, and the agent keeps serving.

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::Duration;

/// Sends `bytes`; returns the reply if one comes within 500 ms.
fn probe(agent: &Agent, bytes: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    socket.send_to(bytes, agent.target()).unwrap();
    let mut buf = vec![0u8; 65535];
    socket.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

/// A v2c GET of sysDescr.0 with `community`, hand-encoded.
fn get_sysdescr(version: u8, community: &[u8]) -> Vec<u8> {
    let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00];
    let mut varbind = vec![0x30, (oid.len() + 2) as u8];
    varbind.extend_from_slice(&oid);
    varbind.extend_from_slice(&[0x05, 0x00]);
    let mut list = vec![0x30, varbind.len() as u8];
    list.extend_from_slice(&varbind);
    let mut pdu_body = vec![0x02, 0x01, 0x2a, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
    pdu_body.extend_from_slice(&list);
    let mut pdu = vec![0xa0, pdu_body.len() as u8];
    pdu.extend_from_slice(&pdu_body);
    let mut msg_body = vec![0x02, 0x01, version, 0x04, community.len() as u8];
    msg_body.extend_from_slice(community);
    msg_body.extend_from_slice(&pdu);
    let mut msg = vec![0x30, msg_body.len() as u8];
    msg.extend_from_slice(&msg_body);
    msg
}

fn still_serves(agent: &Agent) {
    let out = agent.v2c("snmpget", "public", &["-OnUe"], &[".1.3.6.1.2.1.1.5.0"]);
    assert!(out.contains("STRING"), "{out}");
}

#[test]
fn hand_encoded_request_is_answered() {
    let agent = Agent::start(&[]);
    let reply = probe(&agent, &get_sysdescr(1, b"public")).expect("a response");
    assert_eq!(reply[0], 0x30);
    assert!(reply.windows(7).any(|w| w == b"virtbus"), "{reply:?}");
}

#[test]
fn garbage_truncated_and_wrong_community_get_no_answer() {
    let agent = Agent::start(&[]);
    let good = get_sysdescr(1, b"public");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"\xde\xad\xbe\xef not ber at all".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("length past end", {
            let mut m = good.clone();
            m[1] = 0x7f;
            m
        }),
        ("indefinite length", {
            let mut m = good.clone();
            m[1] = 0x80;
            m
        }),
        (
            "huge length",
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01],
        ),
        ("version 7", get_sysdescr(7, b"public")),
        ("wrong community", get_sysdescr(1, b"nope")),
        ("empty community", get_sysdescr(1, b"")),
        ("oversize datagram", {
            let mut m = vec![0x30, 0x83, 0x00, 0xff, 0xf0];
            m.resize(65_000, 0);
            m
        }),
    ];
    for (name, bytes) in cases {
        assert_eq!(probe(&agent, &bytes), None, "{name} got an answer");
        still_serves(&agent);
    }
}

#[test]
fn absurd_getbulk_is_truncated_to_fit() {
    let agent = Agent::start(&[]);
    let out = agent.v2c("snmpbulkget", "public", &["-On", "-Cn0", "-Cr65535"], &[".1.3.6.1"]);
    let lines = out.lines().count();
    assert!(lines >= 5, "some varbinds come back, not tooBig with nothing: {out}");
    assert!(!out.contains("tooBig"), "{out}");
    still_serves(&agent);
}

/// snmpInBadCommunityNames.0 as snmpget reads it by name, through the
/// shipped MIB files.
fn bad_community_names(agent: &Agent) -> String {
    let out = agent.v2c(
        "snmpget",
        "public",
        &["-m", "SNMPv2-MIB", "-OUe"],
        &["SNMPv2-MIB::snmpInBadCommunityNames.0"],
    );
    out.trim().to_string()
}

#[test]
fn wrong_communities_are_counted_in_snmp_in_bad_community_names() {
    let agent = Agent::start(&["--snmp-rw-community", "private"]);
    assert_eq!(
        bad_community_names(&agent),
        "SNMPv2-MIB::snmpInBadCommunityNames.0 = Counter32: 0"
    );
    // v2c, v1 and the empty community: no answer, each counted.
    for (version, community) in [(1u8, &b"nope"[..]), (0, b"nope"), (1, b"")] {
        assert_eq!(probe(&agent, &get_sysdescr(version, community)), None);
    }
    // Known communities (read-only and read-write) and v3 are not counted.
    assert!(probe(&agent, &get_sysdescr(1, b"private")).is_some());
    still_serves(&agent);
    assert_eq!(
        bad_community_names(&agent),
        "SNMPv2-MIB::snmpInBadCommunityNames.0 = Counter32: 3"
    );
    // A walk of the snmp group finds it too (GETNEXT from the group).
    let walk = agent.v2c(
        "snmpwalk",
        "public",
        &["-m", "SNMPv2-MIB", "-OUe"],
        &["SNMPv2-MIB::snmp"],
    );
    assert_eq!(walk.trim(), "SNMPv2-MIB::snmpInBadCommunityNames.0 = Counter32: 3");
}
