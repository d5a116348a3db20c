//! The decode path every datagram to the native agent takes (async-snmp's
//! `Message::decode`, pinned =0.18.1), under mutation: any bytes either
//! decode or give an error, never a panic, and a v1/v2c message that
//! decodes encodes again and decodes to the same version, community and
//! PDU. `fuzz/fuzz_targets/snmp_message.rs` is the same property for
//! cargo-fuzz; this test runs it on mutated real requests under plain
//! `cargo test`. (The end-to-end side, that the agent answers or drops such
//! datagrams and keeps serving, is `snmp_bad_input_e2e.rs`.)

use async_snmp::message::Message;
use async_snmp::DecodeConfig;
use bytes::Bytes;
use rand::{Rng, SeedableRng};

/// A BER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn int(v: u8) -> Vec<u8> {
    tlv(0x02, &[v])
}

/// libvirtGuestState.<alpha's UUID> (BER OID contents).
fn guest_state_oid() -> Vec<u8> {
    let mut oid = vec![0x2b, 6, 1, 4, 1, 0x82, 0xa0, 0x5d, 1, 1, 1, 3];
    oid.extend([
        0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
    ]);
    oid
}

fn message(version: u8, community: &[u8], pdu_tag: u8, fields: [u8; 2], varbinds: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let list: Vec<u8> = varbinds
        .iter()
        .flat_map(|(oid, value)| tlv(0x30, &[tlv(0x06, oid), value.clone()].concat()))
        .collect();
    let pdu = tlv(
        pdu_tag,
        &[int(42), int(fields[0]), int(fields[1]), tlv(0x30, &list)].concat(),
    );
    tlv(0x30, &[int(version), tlv(0x04, community), pdu].concat())
}

/// Requests as managers send them: v1 GET, v2c GETNEXT and GETBULK, SETs
/// with every value type.
fn seeds() -> Vec<Vec<u8>> {
    let state = guest_state_oid();
    let sys_descr = vec![0x2b, 6, 1, 2, 1, 1, 1, 0];
    let null = vec![0x05, 0x00];
    vec![
        message(0, b"public", 0xa0, [0, 0], &[(sys_descr.clone(), null.clone())]),
        message(1, b"public", 0xa1, [0, 0], &[(state.clone(), null.clone())]),
        message(
            1,
            b"public",
            0xa5,
            [1, 50],
            &[(sys_descr.clone(), null.clone()), (state.clone(), null)],
        ),
        message(
            1,
            b"private",
            0xa3,
            [0, 0],
            &[
                (state.clone(), int(3)),
                (sys_descr.clone(), tlv(0x04, b"text")),
                (sys_descr.clone(), tlv(0x06, &[0x2b, 6, 1])),
                (sys_descr.clone(), tlv(0x40, &[127, 0, 0, 1])),
                (sys_descr.clone(), tlv(0x41, &[1, 0])),
                (sys_descr.clone(), tlv(0x42, &[0x7f])),
                (sys_descr.clone(), tlv(0x43, &[0x01, 0x00])),
                (sys_descr, tlv(0x46, &[0x00, 0x80, 0, 0, 0, 0, 0, 0, 0])),
            ],
        ),
    ]
}

/// Decodes `bytes`; checks the round trip of what decodes. True if it
/// decoded.
fn check(bytes: &[u8]) -> bool {
    let Ok(decoded) = Message::decode(Bytes::copy_from_slice(bytes), DecodeConfig::default()) else {
        return false;
    };
    if let Message::Community(msg) = decoded.value {
        if let Ok(encoded) = msg.encode() {
            let again = Message::decode(encoded, DecodeConfig::default()).expect("re-encoded message decodes");
            let Message::Community(again) = again.value else {
                panic!("a community message came back as v3");
            };
            assert_eq!(again.version(), msg.version());
            assert_eq!(again.community().as_bytes(), msg.community().as_bytes());
            assert_eq!(again.pdu(), msg.pdu());
        }
    }
    true
}

#[test]
fn seeds_decode() {
    for seed in seeds() {
        assert!(check(&seed), "seed does not decode: {seed:02x?}");
    }
}

#[test]
fn mutated_requests_decode_or_fail_cleanly() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_f00d);
    let seeds = seeds();
    let mut decoded = 0;
    for round in 0..40_000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bytes.len());
            match rng.random_range(0..5) {
                0 => bytes[at] = rng.random(),
                1 => bytes[at] ^= 1 << rng.random_range(0..8),
                2 => bytes.truncate(at.max(1)),
                3 => bytes.insert(at, rng.random()),
                _ => {
                    bytes.remove(at);
                    if bytes.is_empty() {
                        bytes.push(0x30);
                    }
                }
            }
        }
        if check(&bytes) {
            decoded += 1;
        }
    }
    // Some mutations (a changed value octet) still decode: the round trip
    // was exercised, not only the error path.
    assert!(decoded > 1000, "only {decoded} mutated messages decoded");
}

/// The same mutated requests, plus table walks, through the front door
/// (`virtbus_snmp::front`), which answers some datagrams without the agent:
/// it never panics, and whatever it answers is a well-formed SNMPv2c
/// Response carrying the request's request-id and no error.
#[test]
fn mutated_requests_through_the_front_door_get_sound_answers_or_none() {
    use async_snmp::message::CommunityMessage;
    use std::sync::Arc;
    use virtbus_snmp::front::Front;
    use virtbus_snmp::guest_table::GuestTable;
    use virtbus_snmp::system_group::SystemGroup;

    let core = virtbus_actors::Core::start(virtbus_actors::CoreConfig {
        workers: 1,
        ..virtbus_actors::CoreConfig::default()
    })
    .expect("core starts on test:///default");
    let front = Front {
        guests: Arc::new(GuestTable::new(core.clone())),
        system: Arc::new(SystemGroup::new("d".into(), "c".into(), "n".into(), "l".into())),
        communities: vec![b"public".to_vec(), b"private".to_vec()],
        max_message_size: 65_507,
    };
    // libvirtGuestTable, and one instance of libvirt's default "test" domain.
    let table = vec![0x2b, 6, 1, 4, 1, 0x82, 0xa0, 0x5d, 1, 1];
    let mut test_name = vec![0x2b, 6, 1, 4, 1, 0x82, 0xa0, 0x5d, 1, 1, 1, 2];
    for byte in uuid::Uuid::parse_str("6695eb01-f6a4-8304-79aa-97f2502e193f")
        .unwrap()
        .as_bytes()
    {
        // BER: arcs above 127 take two octets.
        if *byte > 127 {
            test_name.extend([0x81, byte & 0x7f]);
        } else {
            test_name.push(*byte);
        }
    }
    let null = vec![0x05, 0x00];
    let mut seeds = seeds();
    seeds.extend([
        message(1, b"public", 0xa1, [0, 0], &[(table.clone(), null.clone())]),
        message(1, b"public", 0xa5, [0, 10], &[(table.clone(), null.clone())]),
        message(
            1,
            b"private",
            0xa5,
            [1, 3],
            &[(test_name.clone(), null.clone()), (table, null.clone())],
        ),
        message(1, b"public", 0xa0, [0, 0], &[(test_name, null)]),
    ]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xf00d_d00e);
    let mut answered = 0;
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        // A quarter of the rounds send the seed unchanged.
        for _ in 0..rng.random_range(0..4) {
            let at = rng.random_range(0..bytes.len());
            match rng.random_range(0..4) {
                0 => bytes[at] = rng.random(),
                1 => bytes[at] ^= 1 << rng.random_range(0..8),
                2 => bytes.truncate(at.max(1)),
                _ => bytes.insert(at, rng.random()),
            }
        }
        let Some(response) = futures::executor::block_on(front.answer(&bytes)) else {
            continue;
        };
        answered += 1;
        let request = CommunityMessage::decode(Bytes::copy_from_slice(&bytes), DecodeConfig::default())
            .expect("an answered request decodes")
            .value;
        let response = CommunityMessage::decode(response, DecodeConfig::default())
            .expect("the answer decodes")
            .value;
        assert_eq!(response.version(), async_snmp::Version::V2c);
        assert_eq!(response.community().as_bytes(), request.community().as_bytes());
        let (req, resp) = (request.pdu().standard().unwrap(), response.pdu().standard().unwrap());
        assert_eq!(resp.pdu_type(), async_snmp::pdu::PduType::Response);
        assert_eq!(resp.request_id(), req.request_id());
        assert_eq!(resp.error_status(), 0);
    }
    assert!(answered > 1000, "only {answered} requests answered by the front door");
    core.shutdown();
}
