//! Fuzzes the CIM-XML request parser: the bounded XML reader and the
//! request decoding must return an error (never panic, never hang) on any
//! input, and decode what they accept consistently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use virtbus_cim::xml::{dom, request};

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = dom::parse(data, dom::Limits::default()) {
        if let Ok(req) = request::decode(&root) {
            // A decoded request always names a call and a namespace.
            assert!(!req.namespace.is_empty());
            let _ = req.call.name();
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = virtbus_cim::embedded::parse(text);
    }
});
