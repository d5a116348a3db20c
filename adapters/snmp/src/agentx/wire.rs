//! AgentX wire primitives (RFC 2741 §5): integers in the byte order the
//! header's NETWORK_BYTE_ORDER flag selects, object identifiers with the
//! `internet` prefix compression (§5.1), octet strings padded to four octets
//! (§5.3) and variable bindings (§5.4). Values are async-snmp's [`Value`], so
//! what the MIB logic returns goes on the wire without a second model.

use async_snmp::{Oid, Value, VarBind};

/// Why an AgentX PDU could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("agentx pdu truncated in {what}")]
    Truncated { what: &'static str },
    #[error("agentx pdu version {0} unknown (only 1)")]
    Version(u8),
    #[error("agentx pdu type {0} unknown")]
    UnknownType(u8),
    #[error("agentx pdu payload length {0} is not a multiple of 4")]
    Unaligned(u32),
    #[error("agentx pdu payload of {len} octets exceeds the limit of {max}")]
    TooLong { len: u32, max: u32 },
    #[error("agentx varbind type {0} unknown")]
    VarBindType(u16),
    #[error("agentx pdu has {0} octets after its last field")]
    Trailing(usize),
    #[error("agentx object identifier with {0} sub-identifiers cannot be encoded (at most 255)")]
    OidTooLong(usize),
    #[error("agentx {what} value {value} is invalid")]
    Invalid { what: &'static str, value: u32 },
    #[error("agentx varbind value of kind {0} cannot be encoded")]
    Unencodable(&'static str),
}

/// Varbind type tags (RFC 2741 §5.4).
pub mod tag {
    pub const INTEGER: u16 = 2;
    pub const OCTET_STRING: u16 = 4;
    pub const NULL: u16 = 5;
    pub const OBJECT_IDENTIFIER: u16 = 6;
    pub const IP_ADDRESS: u16 = 64;
    pub const COUNTER32: u16 = 65;
    pub const GAUGE32: u16 = 66;
    pub const TIME_TICKS: u16 = 67;
    pub const OPAQUE: u16 = 68;
    pub const COUNTER64: u16 = 70;
    pub const NO_SUCH_OBJECT: u16 = 128;
    pub const NO_SUCH_INSTANCE: u16 = 129;
    pub const END_OF_MIB_VIEW: u16 = 130;
}

/// `internet` (1.3.6.1): the prefix an OID's `prefix` field stands for.
const INTERNET: [u32; 4] = [1, 3, 6, 1];

/// A search range (RFC 2741 §5.2): from `start` (inclusive when `include`)
/// up to `end` exclusive; an empty `end` means no upper bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRange {
    pub start: Oid,
    pub include: bool,
    pub end: Oid,
}

/// Reads fields from a payload in one byte order.
pub struct Reader<'a> {
    buf: &'a [u8],
    big_endian: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], big_endian: bool) -> Reader<'a> {
        Reader { buf, big_endian }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PduError> {
        if self.buf.len() < n {
            return Err(PduError::Truncated { what });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], PduError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, PduError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, PduError> {
        let b = self.array(what)?;
        Ok(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, PduError> {
        let b = self.array(what)?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, PduError> {
        let b = self.array(what)?;
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), PduError> {
        self.take(n, what).map(|_| ())
    }

    /// An object identifier (§5.1) and its `include` field.
    pub fn oid(&mut self, what: &'static str) -> Result<(Oid, bool), PduError> {
        let n_subid = usize::from(self.u8(what)?);
        let prefix = self.u8(what)?;
        let include = self.u8(what)?;
        self.skip(1, what)?;
        if include > 1 {
            return Err(PduError::Invalid {
                what: "include field",
                value: u32::from(include),
            });
        }
        let mut arcs = Vec::with_capacity(n_subid + 5);
        if prefix != 0 {
            arcs.extend_from_slice(&INTERNET);
            arcs.push(u32::from(prefix));
        }
        for _ in 0..n_subid {
            arcs.push(self.u32(what)?);
        }
        Ok((Oid::from_slice(&arcs), include == 1))
    }

    /// An octet string (§5.3): length, octets, padding to a multiple of 4.
    pub fn octets(&mut self, what: &'static str) -> Result<Vec<u8>, PduError> {
        let len = self.u32(what)? as usize;
        let data = self.take(len, what)?.to_vec();
        self.skip(padding(len), what)?;
        Ok(data)
    }

    pub fn search_range(&mut self) -> Result<SearchRange, PduError> {
        let (start, include) = self.oid("search range start")?;
        let (end, _) = self.oid("search range end")?;
        Ok(SearchRange { start, include, end })
    }

    /// Search ranges until the payload ends (§5.2).
    pub fn search_ranges(&mut self) -> Result<Vec<SearchRange>, PduError> {
        let mut ranges = Vec::new();
        while !self.is_empty() {
            ranges.push(self.search_range()?);
        }
        Ok(ranges)
    }

    pub fn varbind(&mut self) -> Result<VarBind, PduError> {
        let ty = self.u16("varbind type")?;
        self.skip(2, "varbind reserved")?;
        let (name, _) = self.oid("varbind name")?;
        let value = match ty {
            tag::INTEGER => Value::Integer(self.u32("integer")? as i32),
            tag::OCTET_STRING => Value::OctetString(self.octets("octet string")?.into()),
            tag::NULL => Value::Null,
            tag::OBJECT_IDENTIFIER => Value::ObjectIdentifier(self.oid("oid value")?.0),
            tag::IP_ADDRESS => {
                let octets = self.octets("ip address")?;
                let addr: [u8; 4] = octets.as_slice().try_into().map_err(|_| PduError::Invalid {
                    what: "ip address length",
                    value: u32::try_from(octets.len()).unwrap_or(u32::MAX),
                })?;
                Value::IpAddress(addr)
            }
            tag::COUNTER32 => Value::Counter32(self.u32("counter32")?),
            tag::GAUGE32 => Value::Gauge32(self.u32("gauge32")?),
            tag::TIME_TICKS => Value::TimeTicks(self.u32("timeticks")?),
            tag::OPAQUE => Value::Opaque(self.octets("opaque")?.into()),
            tag::COUNTER64 => Value::Counter64(self.u64("counter64")?),
            tag::NO_SUCH_OBJECT => Value::NoSuchObject,
            tag::NO_SUCH_INSTANCE => Value::NoSuchInstance,
            tag::END_OF_MIB_VIEW => Value::EndOfMibView,
            other => return Err(PduError::VarBindType(other)),
        };
        Ok(VarBind::new(name, value))
    }

    /// Variable bindings until the payload ends (§5.4).
    pub fn varbinds(&mut self) -> Result<Vec<VarBind>, PduError> {
        let mut list = Vec::new();
        while !self.is_empty() {
            list.push(self.varbind()?);
        }
        Ok(list)
    }
}

/// Octets of padding after `len` octets of string data.
pub fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Writes fields in one byte order.
pub struct Writer {
    pub buf: Vec<u8>,
    big_endian: bool,
}

impl Writer {
    pub fn new(big_endian: bool) -> Writer {
        Writer {
            buf: Vec::with_capacity(64),
            big_endian,
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }

    pub fn u32(&mut self, v: u32) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }

    pub fn u64(&mut self, v: u64) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }

    /// An object identifier, compressed to `prefix` form when it starts with
    /// 1.3.6.1.N (N in 1..=255), as §5.1 suggests.
    pub fn oid(&mut self, oid: &Oid, include: bool) -> Result<(), PduError> {
        let arcs = oid.arcs();
        let (prefix, rest) = match arcs {
            [1, 3, 6, 1, p @ 1..=255, rest @ ..] => (*p as u8, rest),
            _ => (0, arcs),
        };
        let n_subid = u8::try_from(rest.len()).map_err(|_| PduError::OidTooLong(arcs.len()))?;
        self.u8(n_subid);
        self.u8(prefix);
        self.u8(u8::from(include));
        self.u8(0);
        for arc in rest {
            self.u32(*arc);
        }
        Ok(())
    }

    pub fn octets(&mut self, data: &[u8]) -> Result<(), PduError> {
        let len = u32::try_from(data.len()).map_err(|_| PduError::Invalid {
            what: "octet string length",
            value: u32::MAX,
        })?;
        self.u32(len);
        self.buf.extend_from_slice(data);
        self.buf.extend(std::iter::repeat_n(0, padding(data.len())));
        Ok(())
    }

    pub fn search_range(&mut self, range: &SearchRange) -> Result<(), PduError> {
        self.oid(&range.start, range.include)?;
        self.oid(&range.end, false)
    }

    pub fn varbind(&mut self, vb: &VarBind) -> Result<(), PduError> {
        let ty = match &vb.value {
            Value::Integer(_) => tag::INTEGER,
            Value::OctetString(_) | Value::Nsap(_) => tag::OCTET_STRING,
            Value::Null => tag::NULL,
            Value::ObjectIdentifier(_) => tag::OBJECT_IDENTIFIER,
            Value::IpAddress(_) => tag::IP_ADDRESS,
            Value::Counter32(_) => tag::COUNTER32,
            Value::Gauge32(_) | Value::UInteger32(_) => tag::GAUGE32,
            Value::TimeTicks(_) => tag::TIME_TICKS,
            Value::Opaque(_) => tag::OPAQUE,
            Value::Counter64(_) => tag::COUNTER64,
            Value::NoSuchObject => tag::NO_SUCH_OBJECT,
            Value::NoSuchInstance => tag::NO_SUCH_INSTANCE,
            Value::EndOfMibView => tag::END_OF_MIB_VIEW,
            other => return Err(PduError::Unencodable(other.kind().as_str())),
        };
        self.u16(ty);
        self.u16(0);
        self.oid(&vb.oid, false)?;
        match &vb.value {
            Value::Integer(v) => self.u32(*v as u32),
            Value::OctetString(b) | Value::Nsap(b) | Value::Opaque(b) => self.octets(b)?,
            Value::ObjectIdentifier(oid) => self.oid(oid, false)?,
            Value::IpAddress(a) => self.octets(a)?,
            Value::Counter32(v) | Value::Gauge32(v) | Value::UInteger32(v) | Value::TimeTicks(v) => self.u32(*v),
            Value::Counter64(v) => self.u64(*v),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_varbind(vb: &VarBind, big: bool) -> VarBind {
        let mut w = Writer::new(big);
        w.varbind(vb).unwrap();
        assert_eq!(w.buf.len() % 4, 0, "varbinds stay 4-aligned");
        let mut r = Reader::new(&w.buf, big);
        let back = r.varbind().unwrap();
        assert!(r.is_empty());
        back
    }

    #[test]
    fn oid_uses_internet_prefix() {
        let mut w = Writer::new(true);
        w.oid(&Oid::from_slice(&[1, 3, 6, 1, 4, 1, 36957]), true).unwrap();
        assert_eq!(w.buf, [2, 4, 1, 0, 0, 0, 0, 1, 0, 0, 0x90, 0x5d]);
        let (oid, include) = Reader::new(&w.buf, true).oid("t").unwrap();
        assert_eq!(oid.arcs(), &[1, 3, 6, 1, 4, 1, 36957]);
        assert!(include);
        // 1.3.6.1.0 and short OIDs are sent uncompressed.
        let mut w = Writer::new(false);
        w.oid(&Oid::from_slice(&[1, 3, 6, 1, 0]), false).unwrap();
        assert_eq!(&w.buf[..4], &[5, 0, 0, 0]);
        let mut w = Writer::new(false);
        w.oid(&Oid::empty(), false).unwrap();
        assert_eq!(w.buf, [0, 0, 0, 0]);
    }

    #[test]
    fn longest_prefixed_oid_round_trips() {
        // A peer may send 255 sub-identifiers after a prefix: 260 arcs, which
        // must encode again (compressed) rather than fail or panic.
        let mut w = Writer::new(true);
        w.u8(255);
        w.u8(4);
        w.u8(0);
        w.u8(0);
        for i in 0..255 {
            w.u32(i);
        }
        let (oid, _) = Reader::new(&w.buf, true).oid("t").unwrap();
        assert_eq!(oid.len(), 260);
        let mut again = Writer::new(true);
        again.oid(&oid, false).unwrap();
        assert_eq!(again.buf, w.buf);
        let long = Oid::new(0..300);
        assert_eq!(Writer::new(true).oid(&long, false), Err(PduError::OidTooLong(300)));
    }

    #[test]
    fn every_value_type_round_trips_in_both_orders() {
        let name = Oid::from_slice(&[1, 3, 6, 1, 4, 1, 36957, 1, 1, 1, 2, 7]);
        let values = [
            Value::Integer(-5),
            Value::OctetString(b"abcde".to_vec().into()),
            Value::Null,
            Value::ObjectIdentifier(Oid::from_slice(&[1, 3, 6, 1, 2, 1])),
            Value::IpAddress([127, 0, 0, 1]),
            Value::Counter32(7),
            Value::Gauge32(u32::MAX),
            Value::TimeTicks(12345),
            Value::Opaque(vec![1, 2, 3].into()),
            Value::Counter64(u64::MAX - 1),
            Value::NoSuchObject,
            Value::NoSuchInstance,
            Value::EndOfMibView,
        ];
        for big in [false, true] {
            for value in &values {
                let vb = VarBind::new(name.clone(), value.clone());
                assert_eq!(round_trip_varbind(&vb, big), vb, "{value:?} big={big}");
            }
        }
    }

    #[test]
    fn octet_string_padding() {
        let mut w = Writer::new(true);
        w.octets(b"abcde").unwrap();
        assert_eq!(w.buf, [0, 0, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]);
        let mut r = Reader::new(&w.buf[..9], true);
        assert_eq!(r.octets("s"), Err(PduError::Truncated { what: "s" }));
    }

    #[test]
    fn bad_fields_are_errors() {
        let mut w = Writer::new(true);
        w.u16(99);
        w.u16(0);
        w.oid(&Oid::from_slice(&[1, 2]), false).unwrap();
        assert_eq!(Reader::new(&w.buf, true).varbind(), Err(PduError::VarBindType(99)));
        // include must be 0 or 1
        assert!(matches!(
            Reader::new(&[0, 0, 2, 0], true).oid("t"),
            Err(PduError::Invalid { .. })
        ));
        // ip address of 3 octets
        let mut w = Writer::new(false);
        w.u16(tag::IP_ADDRESS);
        w.u16(0);
        w.oid(&Oid::from_slice(&[1]), false).unwrap();
        w.octets(&[1, 2, 3]).unwrap();
        assert!(matches!(
            Reader::new(&w.buf, false).varbind(),
            Err(PduError::Invalid { .. })
        ));
    }
}
