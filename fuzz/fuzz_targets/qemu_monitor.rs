//! Fuzz target: the qemu driver's decoders of untrusted text. A QMP monitor
//! line (`qmp::parse_line`) must never panic, and the command-line builder
//! must never panic on any domain definition the XML model accepts (it
//! answers unsupported input with an error).
//!
//! Run from the repository root with a nightly toolchain:
//! `cargo +nightly fuzz run qemu_monitor`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use virtbus_drivers::qemu::argv::{self, Accel, ArgvContext};
use virtbus_drivers::qemu::qmp;
use virtbus_schemas::DomainDef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = qmp::parse_line(text);
    if let Ok(def) = DomainDef::from_xml(text) {
        let ctx = ArgvContext {
            accel: Accel::Tcg,
            qmp_socket: Path::new("/run/fuzz.qmp"),
            privileged: true,
        };
        let _ = argv::build(&def, &ctx);
    }
});
