//! Fuzz target: the AMQP adapter's QMF request decoder
//! (`virtbus_amqp::qmf::wire::decode_request`) and predicate evaluation on
//! arbitrary bytes and opcodes must never panic.
//!
//! Run from the repository root with a nightly toolchain:
//! `cargo +nightly fuzz run amqp_request`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtbus_amqp::qmf::wire::{self, decode_request, Request};

const OPCODES: [Option<&str>; 5] = [
    Some(wire::OP_LOCATE_REQUEST),
    Some(wire::OP_QUERY_REQUEST),
    Some(wire::OP_METHOD_REQUEST),
    Some("_unknown"),
    None,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let opcode = OPCODES[usize::from(selector) % OPCODES.len()];
    let content_type = if selector & 0x80 == 0 {
        Some(wire::CONTENT_TYPE)
    } else {
        None
    };
    if let Ok(request) = decode_request(opcode, content_type, body) {
        let sample = serde_json::json!({"name": "test", "id": 1, "_vendor": "virtbus", "cpuTime": u64::MAX});
        let values = sample.as_object().cloned().unwrap_or_default();
        match request {
            Request::Locate(Some(p)) => {
                p.matches(&values);
            }
            Request::Query(q) => {
                if let Some(p) = q.predicate {
                    p.matches(&values);
                }
            }
            _ => {}
        }
    }
});
