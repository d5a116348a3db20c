//! Fuzz target: `DomainDef::from_xml` on arbitrary UTF-8 must never panic, and
//! whatever it accepts must survive `to_xml` → parse unchanged (the round-trip
//! contract of `schemas`).
//!
//! Run from the repository root with a nightly toolchain:
//! `cargo +nightly fuzz run xml_domain` (install once with `cargo install cargo-fuzz`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use virtbus_schemas::DomainDef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(def) = DomainDef::from_xml(text) {
        let out = def.to_xml();
        match DomainDef::from_xml(&out) {
            Ok(again) => assert_eq!(again, def, "round trip changed the definition:\n{out}"),
            Err(err) => panic!("our own output does not parse: {}\n{out}", err.message),
        }
    }
});
