//! libvirt's scaled-integer units: every spelling `virScaleInteger` accepts, and
//! the errors for what it rejects.

use virtbus_schemas::units::{bytes_to_kib_ceil, parse_scaled, pretty_capacity};
use virtbus_schemas::ErrorCode;

const KI: u64 = 1024;

#[test]
fn every_spelling() {
    let cases: &[(&[&str], u64)] = &[
        (&["b", "B", "byte", "Byte", "bytes", "BYTES"], 1),
        (&["k", "K", "KiB", "kib", "KIB"], KI),
        (&["KB", "kb", "kB"], 1000),
        (&["m", "M", "MiB", "mib"], KI.pow(2)),
        (&["MB", "mb"], 1000u64.pow(2)),
        (&["g", "G", "GiB", "gib"], KI.pow(3)),
        (&["GB", "gb"], 1000u64.pow(3)),
        (&["t", "T", "TiB"], KI.pow(4)),
        (&["TB"], 1000u64.pow(4)),
        (&["p", "P", "PiB"], KI.pow(5)),
        (&["PB"], 1000u64.pow(5)),
        (&["e", "E", "EiB"], KI.pow(6)),
        (&["EB"], 1000u64.pow(6)),
    ];
    for (spellings, scale) in cases {
        for unit in *spellings {
            assert_eq!(
                parse_scaled("3", Some(unit), "bytes").unwrap(),
                3 * scale,
                "unit {unit}"
            );
        }
    }
}

#[test]
fn default_units() {
    assert_eq!(parse_scaled("3", None, "KiB").unwrap(), 3 * KI);
    assert_eq!(parse_scaled("3", None, "bytes").unwrap(), 3);
    assert_eq!(parse_scaled("0", Some("GiB"), "KiB").unwrap(), 0);
    assert_eq!(parse_scaled("18446744073709551615", None, "b").unwrap(), u64::MAX);
}

#[test]
fn rejects_bad_values() {
    for (value, unit) in [
        ("-1", None),
        ("+1", None),
        ("1.5", None),
        ("0x10", None),
        ("", None),
        ("  ", None),
        ("ten", None),
        ("1 GiB", None),
        ("18446744073709551616", None),
        ("16", Some("EiB")),
        ("18446744073709551615", Some("k")),
        ("1", Some("KiBB")),
        ("1", Some("x")),
        ("1", Some("iB")),
        ("1", Some("KIb2")),
    ] {
        let err = parse_scaled(value, unit, "bytes").unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        assert!(
            err.message.contains(&format!("'{value}'")) || unit.is_some_and(|u| err.message.contains(u)),
            "{value} {unit:?}: {}",
            err.message
        );
    }
}

#[test]
fn helpers() {
    assert_eq!(bytes_to_kib_ceil(1536), 2);
    assert_eq!(pretty_capacity(3 * 1024 * 1024), (3.0, "MiB"));
    assert_eq!(pretty_capacity(512), (512.0, "B"));
}
