//! libvirt's scaled integers: `<memory unit='GiB'>4</memory>`,
//! `<capacity unit='KB'>`, and virsh's human-readable sizes.
//!
//! The suffix rules are libvirt's `virScaleInteger` (`src/util/virutil.c`):
//! suffixes are case-insensitive; `b`, `byte`, `bytes` mean bytes; a bare letter
//! (`k`, `M`) or the letter with `iB` (`KiB`, `mib`) is a power of 1024; the letter
//! with `B` (`KB`, `mb`) is a power of 1000. Letters are k, m, g, t, p, e.

use crate::error::{VirtError, VirtResult};

/// Multiplier for a unit suffix, or `None` if libvirt does not know it.
pub fn unit_scale(unit: &str) -> Option<u64> {
    let lower = unit.to_ascii_lowercase();
    if matches!(lower.as_str(), "b" | "byte" | "bytes") {
        return Some(1);
    }
    let mut chars = lower.chars();
    let letter = chars.next()?;
    let rest = chars.as_str();
    let base: u64 = match rest {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    let power = match letter {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    // 1024^6 and 1000^6 both fit in u64.
    Some(base.pow(power))
}

/// Parses a libvirt scaled value and returns it in bytes.
///
/// `value` is the decimal text of the element or attribute, `unit` its `unit`
/// attribute, and `default_unit` the unit libvirt assumes when there is none
/// (`"KiB"` for domain memory, `"bytes"` for storage sizes). Negative numbers,
/// junk, unknown units and values that overflow 64 bits are `XML_ERROR`s that
/// name the value.
pub fn parse_scaled(value: &str, unit: Option<&str>, default_unit: &str) -> VirtResult<u64> {
    let trimmed = value.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VirtError::xml(format!(
            "invalid value '{value}': expected a non-negative integer"
        )));
    }
    let number: u64 = trimmed
        .parse()
        .map_err(|_| VirtError::xml(format!("invalid value '{value}': too large")))?;
    let unit_name = match unit {
        Some(u) if !u.trim().is_empty() => u.trim(),
        _ => default_unit,
    };
    let scale = unit_scale(unit_name)
        .ok_or_else(|| VirtError::xml(format!("unknown unit '{unit_name}' for value '{value}'")))?;
    number.checked_mul(scale).ok_or_else(|| {
        VirtError::xml(format!(
            "value too large: '{value}' {unit_name} does not fit in 64 bits"
        ))
    })
}

/// Bytes to KiB, rounding up as libvirt's `VIR_DIV_UP(bytes, 1024)`.
pub fn bytes_to_kib_ceil(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

/// KiB to bytes, saturating (never overflows for values parsed by this crate).
pub fn kib_to_bytes(kib: u64) -> u64 {
    kib.saturating_mul(1024)
}

/// A size scaled for humans, as virsh's `vshPrettyCapacity`: the value divided by
/// the largest power of 1024 not above it, and its unit (`B`, `KiB` ... `EiB`).
pub fn pretty_capacity(bytes: u64) -> (f64, &'static str) {
    // virsh compares against a double limit multiplied by 1024 each step.
    let value = bytes as f64;
    let mut limit = 1024f64;
    for unit in ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] {
        if value < limit {
            return (value / (limit / 1024.0), unit);
        }
        limit *= 1024.0;
    }
    (value / (limit / 1024.0), "EiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn pretty_capacity_matches_virsh() {
        assert_eq!(pretty_capacity(0), (0.0, "B"));
        assert_eq!(pretty_capacity(1023), (1023.0, "B"));
        assert_eq!(pretty_capacity(1024), (1.0, "KiB"));
        assert_eq!(pretty_capacity(1536 * 1024), (1.5, "MiB"));
        assert_eq!(pretty_capacity(107_374_182_400), (100.0, "GiB"));
        assert_eq!(pretty_capacity(1 << 40), (1.0, "TiB"));
        assert_eq!(pretty_capacity(1 << 50), (1.0, "PiB"));
        assert_eq!(pretty_capacity(1 << 60), (1.0, "EiB"));
        assert_eq!(pretty_capacity(u64::MAX).1, "EiB");
    }

    #[test]
    fn kib_helpers() {
        assert_eq!(bytes_to_kib_ceil(0), 0);
        assert_eq!(bytes_to_kib_ceil(1), 1);
        assert_eq!(bytes_to_kib_ceil(1024), 1);
        assert_eq!(bytes_to_kib_ceil(1025), 2);
        assert_eq!(kib_to_bytes(u64::MAX), u64::MAX);
    }

    #[test]
    fn default_unit_applies_only_without_unit() {
        assert_eq!(parse_scaled("4", None, "KiB").unwrap(), 4096);
        assert_eq!(parse_scaled("4", Some(""), "KiB").unwrap(), 4096);
        assert_eq!(parse_scaled("4", Some("bytes"), "KiB").unwrap(), 4);
        assert_eq!(parse_scaled(" 7 ", None, "bytes").unwrap(), 7);
        let err = parse_scaled("4", Some("furlong"), "KiB").unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        assert!(err.message.contains("furlong"));
    }
}
