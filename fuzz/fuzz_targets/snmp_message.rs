//! Fuzzes the decode path of the SNMP adapter's native agent: every
//! datagram goes through async-snmp's `Message::decode` (pinned =0.18.1)
//! before our MIB handlers see it. Any bytes either decode or give an
//! error, never a panic, and a v1/v2c message that decodes encodes again
//! and decodes to the same version, community and PDU.
//! `adapters/snmp/tests/snmp_decode_property.rs` runs the same property on
//! mutated requests under plain `cargo test`.
#![no_main]

use async_snmp::message::Message;
use async_snmp::DecodeConfig;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = Message::decode(Bytes::copy_from_slice(data), DecodeConfig::default()) else {
        return;
    };
    if let Message::Community(msg) = decoded.value {
        if let Ok(encoded) = msg.encode() {
            let again = Message::decode(encoded, DecodeConfig::default()).expect("a re-encoded message decodes");
            let Message::Community(again) = again.value else {
                panic!("a community message came back as v3");
            };
            assert_eq!(again.version(), msg.version());
            assert_eq!(again.community().as_bytes(), msg.community().as_bytes());
            assert_eq!(again.pdu(), msg.pdu());
        }
    }
});
