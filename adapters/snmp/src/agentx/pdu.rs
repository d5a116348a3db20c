//! AgentX PDUs (RFC 2741 §6): the 20-octet header and the bodies a subagent
//! sends or receives — Open, Close, Register, Unregister, Get, GetNext,
//! GetBulk, TestSet, CommitSet, UndoSet, CleanupSet, Notify, Ping and
//! Response. The agent-capabilities and index-allocation PDUs are never sent
//! by a master to a subagent and decode as [`PduError::UnknownType`].

use super::wire::{PduError, Reader, SearchRange, Writer};
use async_snmp::{Oid, VarBind};

/// Header length (§6.1).
pub const HEADER_LEN: usize = 20;
/// The largest payload we accept. net-snmp's master sends far smaller PDUs;
/// a larger length is a broken or hostile peer.
pub const MAX_PAYLOAD: u32 = 256 * 1024;

/// Header flags (§6.1).
pub mod flag {
    pub const INSTANCE_REGISTRATION: u8 = 0x01;
    pub const NEW_INDEX: u8 = 0x02;
    pub const ANY_INDEX: u8 = 0x04;
    pub const NON_DEFAULT_CONTEXT: u8 = 0x08;
    pub const NETWORK_BYTE_ORDER: u8 = 0x10;
}

/// PDU types (§6.1).
pub mod kind {
    pub const OPEN: u8 = 1;
    pub const CLOSE: u8 = 2;
    pub const REGISTER: u8 = 3;
    pub const UNREGISTER: u8 = 4;
    pub const GET: u8 = 5;
    pub const GET_NEXT: u8 = 6;
    pub const GET_BULK: u8 = 7;
    pub const TEST_SET: u8 = 8;
    pub const COMMIT_SET: u8 = 9;
    pub const UNDO_SET: u8 = 10;
    pub const CLEANUP_SET: u8 = 11;
    pub const NOTIFY: u8 = 12;
    pub const PING: u8 = 13;
    pub const RESPONSE: u8 = 18;
}

/// `res.error` values of a Response (§6.2.16): the SNMP error-status numbers
/// (RFC 3416) plus these AgentX ones.
pub mod res_error {
    pub const NO_ERROR: u16 = 0;
    pub const OPEN_FAILED: u16 = 256;
    pub const NOT_OPEN: u16 = 257;
    pub const UNSUPPORTED_CONTEXT: u16 = 262;
    pub const DUPLICATE_REGISTRATION: u16 = 263;
    pub const PARSE_ERROR: u16 = 266;
    pub const REQUEST_DENIED: u16 = 267;
    pub const PROCESSING_ERROR: u16 = 268;
}

/// Close reasons (§6.2.2).
pub mod close_reason {
    pub const OTHER: u8 = 1;
    pub const PARSE_ERROR: u8 = 2;
    pub const PROTOCOL_ERROR: u8 = 3;
    pub const TIMEOUTS: u8 = 4;
    pub const SHUTDOWN: u8 = 5;
    pub const BY_MANAGER: u8 = 6;
}

/// The fixed header (§6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub pdu_type: u8,
    pub flags: u8,
    pub session_id: u32,
    pub transaction_id: u32,
    pub packet_id: u32,
    pub payload_length: u32,
}

impl Header {
    /// Reads a header; checks only what framing needs (the payload length),
    /// so a PDU with a bad version or type can still be answered.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, PduError> {
        let big_endian = bytes[2] & flag::NETWORK_BYTE_ORDER != 0;
        let mut r = Reader::new(&bytes[4..], big_endian);
        let header = Header {
            version: bytes[0],
            pdu_type: bytes[1],
            flags: bytes[2],
            session_id: r.u32("header")?,
            transaction_id: r.u32("header")?,
            packet_id: r.u32("header")?,
            payload_length: r.u32("header")?,
        };
        if header.payload_length > MAX_PAYLOAD {
            return Err(PduError::TooLong {
                len: header.payload_length,
                max: MAX_PAYLOAD,
            });
        }
        Ok(header)
    }

    pub fn big_endian(&self) -> bool {
        self.flags & flag::NETWORK_BYTE_ORDER != 0
    }
}

/// A PDU body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Open {
        timeout: u8,
        id: Oid,
        descr: Vec<u8>,
    },
    Close {
        reason: u8,
    },
    Register {
        timeout: u8,
        priority: u8,
        range_subid: u8,
        subtree: Oid,
        upper_bound: Option<u32>,
    },
    Unregister {
        priority: u8,
        range_subid: u8,
        subtree: Oid,
        upper_bound: Option<u32>,
    },
    Get(Vec<SearchRange>),
    GetNext(Vec<SearchRange>),
    GetBulk {
        non_repeaters: u16,
        max_repetitions: u16,
        ranges: Vec<SearchRange>,
    },
    TestSet(Vec<VarBind>),
    CommitSet,
    UndoSet,
    CleanupSet,
    Notify(Vec<VarBind>),
    Ping,
    Response {
        sys_up_time: u32,
        error: u16,
        index: u16,
        varbinds: Vec<VarBind>,
    },
}

impl Body {
    pub fn pdu_type(&self) -> u8 {
        match self {
            Body::Open { .. } => kind::OPEN,
            Body::Close { .. } => kind::CLOSE,
            Body::Register { .. } => kind::REGISTER,
            Body::Unregister { .. } => kind::UNREGISTER,
            Body::Get(_) => kind::GET,
            Body::GetNext(_) => kind::GET_NEXT,
            Body::GetBulk { .. } => kind::GET_BULK,
            Body::TestSet(_) => kind::TEST_SET,
            Body::CommitSet => kind::COMMIT_SET,
            Body::UndoSet => kind::UNDO_SET,
            Body::CleanupSet => kind::CLEANUP_SET,
            Body::Notify(_) => kind::NOTIFY,
            Body::Ping => kind::PING,
            Body::Response { .. } => kind::RESPONSE,
        }
    }

    /// PDUs that may carry a context (§6.1, NON_DEFAULT_CONTEXT).
    fn takes_context(pdu_type: u8) -> bool {
        matches!(
            pdu_type,
            kind::REGISTER
                | kind::UNREGISTER
                | kind::GET
                | kind::GET_NEXT
                | kind::GET_BULK
                | kind::TEST_SET
                | kind::NOTIFY
                | kind::PING
        )
    }
}

/// One AgentX PDU: header fields (the length is computed) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// Flags other than NON_DEFAULT_CONTEXT, which follows `context`.
    pub flags: u8,
    pub session_id: u32,
    pub transaction_id: u32,
    pub packet_id: u32,
    /// A non-default context (§6.1.1).
    pub context: Option<Vec<u8>>,
    pub body: Body,
}

impl Pdu {
    /// A PDU in network byte order in the default context.
    pub fn new(session_id: u32, transaction_id: u32, packet_id: u32, body: Body) -> Pdu {
        Pdu {
            flags: flag::NETWORK_BYTE_ORDER,
            session_id,
            transaction_id,
            packet_id,
            context: None,
            body,
        }
    }

    /// The Response to the request with `header` (same ids and byte order).
    pub fn response_to(header: &Header, error: u16, index: u16, varbinds: Vec<VarBind>) -> Pdu {
        Pdu {
            flags: header.flags & flag::NETWORK_BYTE_ORDER,
            session_id: header.session_id,
            transaction_id: header.transaction_id,
            packet_id: header.packet_id,
            context: None,
            body: Body::Response {
                sys_up_time: 0,
                error,
                index,
                varbinds,
            },
        }
    }

    /// Decodes one whole PDU (header and exactly its payload).
    pub fn decode(frame: &[u8]) -> Result<Pdu, PduError> {
        let head: &[u8; HEADER_LEN] = frame
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(PduError::Truncated { what: "header" })?;
        let header = Header::decode(head)?;
        Pdu::decode_payload(&header, &frame[HEADER_LEN..])
    }

    /// Decodes the payload that followed `header`.
    pub fn decode_payload(header: &Header, payload: &[u8]) -> Result<Pdu, PduError> {
        if header.version != 1 {
            return Err(PduError::Version(header.version));
        }
        if !header.payload_length.is_multiple_of(4) {
            return Err(PduError::Unaligned(header.payload_length));
        }
        let expected = header.payload_length as usize;
        if payload.len() < expected {
            return Err(PduError::Truncated { what: "payload" });
        }
        if payload.len() > expected {
            return Err(PduError::Trailing(payload.len() - expected));
        }
        let mut r = Reader::new(payload, header.big_endian());
        let context = if header.flags & flag::NON_DEFAULT_CONTEXT != 0 && Body::takes_context(header.pdu_type) {
            Some(r.octets("context")?)
        } else {
            None
        };
        let body = match header.pdu_type {
            kind::OPEN => {
                let timeout = r.u8("open")?;
                r.skip(3, "open")?;
                let (id, _) = r.oid("open id")?;
                let descr = r.octets("open descr")?;
                Body::Open { timeout, id, descr }
            }
            kind::CLOSE => {
                let reason = r.u8("close")?;
                r.skip(3, "close")?;
                Body::Close { reason }
            }
            kind::REGISTER | kind::UNREGISTER => {
                let timeout = r.u8("register")?;
                let priority = r.u8("register")?;
                let range_subid = r.u8("register")?;
                r.skip(1, "register")?;
                let (subtree, _) = r.oid("register subtree")?;
                let upper_bound = if range_subid != 0 {
                    Some(r.u32("register upper bound")?)
                } else {
                    None
                };
                if header.pdu_type == kind::REGISTER {
                    Body::Register {
                        timeout,
                        priority,
                        range_subid,
                        subtree,
                        upper_bound,
                    }
                } else {
                    Body::Unregister {
                        priority,
                        range_subid,
                        subtree,
                        upper_bound,
                    }
                }
            }
            kind::GET => Body::Get(r.search_ranges()?),
            kind::GET_NEXT => Body::GetNext(r.search_ranges()?),
            kind::GET_BULK => {
                let non_repeaters = r.u16("getbulk")?;
                let max_repetitions = r.u16("getbulk")?;
                Body::GetBulk {
                    non_repeaters,
                    max_repetitions,
                    ranges: r.search_ranges()?,
                }
            }
            kind::TEST_SET => Body::TestSet(r.varbinds()?),
            kind::COMMIT_SET => Body::CommitSet,
            kind::UNDO_SET => Body::UndoSet,
            kind::CLEANUP_SET => Body::CleanupSet,
            kind::NOTIFY => Body::Notify(r.varbinds()?),
            kind::PING => Body::Ping,
            kind::RESPONSE => {
                let sys_up_time = r.u32("response")?;
                let error = r.u16("response")?;
                let index = r.u16("response")?;
                Body::Response {
                    sys_up_time,
                    error,
                    index,
                    varbinds: r.varbinds()?,
                }
            }
            other => return Err(PduError::UnknownType(other)),
        };
        if !r.is_empty() {
            return Err(PduError::Trailing(r.remaining()));
        }
        Ok(Pdu {
            flags: header.flags & !flag::NON_DEFAULT_CONTEXT,
            session_id: header.session_id,
            transaction_id: header.transaction_id,
            packet_id: header.packet_id,
            context,
            body,
        })
    }

    /// Encodes header and payload.
    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        let big_endian = self.flags & flag::NETWORK_BYTE_ORDER != 0;
        let pdu_type = self.body.pdu_type();
        let mut w = Writer::new(big_endian);
        let mut flags = self.flags & !flag::NON_DEFAULT_CONTEXT;
        if let Some(context) = &self.context {
            if Body::takes_context(pdu_type) {
                flags |= flag::NON_DEFAULT_CONTEXT;
                w.octets(context)?;
            }
        }
        match &self.body {
            Body::Open { timeout, id, descr } => {
                w.u8(*timeout);
                w.buf.extend_from_slice(&[0, 0, 0]);
                w.oid(id, false)?;
                w.octets(descr)?;
            }
            Body::Close { reason } => {
                w.u8(*reason);
                w.buf.extend_from_slice(&[0, 0, 0]);
            }
            Body::Register {
                timeout,
                priority,
                range_subid,
                subtree,
                upper_bound,
            } => {
                w.u8(*timeout);
                w.u8(*priority);
                w.u8(*range_subid);
                w.u8(0);
                w.oid(subtree, false)?;
                if let (1.., Some(bound)) = (*range_subid, upper_bound) {
                    w.u32(*bound);
                }
            }
            Body::Unregister {
                priority,
                range_subid,
                subtree,
                upper_bound,
            } => {
                w.u8(0);
                w.u8(*priority);
                w.u8(*range_subid);
                w.u8(0);
                w.oid(subtree, false)?;
                if let (1.., Some(bound)) = (*range_subid, upper_bound) {
                    w.u32(*bound);
                }
            }
            Body::Get(ranges) | Body::GetNext(ranges) => {
                for range in ranges {
                    w.search_range(range)?;
                }
            }
            Body::GetBulk {
                non_repeaters,
                max_repetitions,
                ranges,
            } => {
                w.u16(*non_repeaters);
                w.u16(*max_repetitions);
                for range in ranges {
                    w.search_range(range)?;
                }
            }
            Body::TestSet(varbinds) | Body::Notify(varbinds) => {
                for vb in varbinds {
                    w.varbind(vb)?;
                }
            }
            Body::CommitSet | Body::UndoSet | Body::CleanupSet | Body::Ping => {}
            Body::Response {
                sys_up_time,
                error,
                index,
                varbinds,
            } => {
                w.u32(*sys_up_time);
                w.u16(*error);
                w.u16(*index);
                for vb in varbinds {
                    w.varbind(vb)?;
                }
            }
        }
        let payload = w.buf;
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_PAYLOAD)
            .ok_or(PduError::TooLong {
                len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
                max: MAX_PAYLOAD,
            })?;
        let mut head = Writer::new(big_endian);
        head.u8(1);
        head.u8(pdu_type);
        head.u8(flags);
        head.u8(0);
        head.u32(self.session_id);
        head.u32(self.transaction_id);
        head.u32(self.packet_id);
        head.u32(len);
        let mut out = head.buf;
        out.extend_from_slice(&payload);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_snmp::Value;

    fn oid(arcs: &[u32]) -> Oid {
        Oid::from_slice(arcs)
    }

    fn samples() -> Vec<Body> {
        let range = SearchRange {
            start: oid(&[1, 3, 6, 1, 4, 1, 36957]),
            include: true,
            end: oid(&[1, 3, 6, 1, 4, 1, 36958]),
        };
        let open_range = SearchRange {
            start: oid(&[1, 3, 6, 1, 4, 1, 36957, 1]),
            include: false,
            end: Oid::empty(),
        };
        let vbs = vec![
            VarBind::new(
                oid(&[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0]),
                Value::ObjectIdentifier(oid(&[1, 2])),
            ),
            VarBind::new(
                oid(&[1, 3, 6, 1, 4, 1, 36957, 1, 1, 1, 2, 0]),
                Value::OctetString(b"x".to_vec().into()),
            ),
        ];
        vec![
            Body::Open {
                timeout: 5,
                id: oid(&[1, 3, 6, 1, 4, 1, 36957]),
                descr: b"virtbus".to_vec(),
            },
            Body::Close {
                reason: close_reason::SHUTDOWN,
            },
            Body::Register {
                timeout: 0,
                priority: 127,
                range_subid: 0,
                subtree: oid(&[1, 3, 6, 1, 4, 1, 36957]),
                upper_bound: None,
            },
            Body::Register {
                timeout: 0,
                priority: 127,
                range_subid: 11,
                subtree: oid(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 7]),
                upper_bound: Some(9),
            },
            Body::Unregister {
                priority: 127,
                range_subid: 0,
                subtree: oid(&[1, 3, 6, 1, 4, 1, 36957]),
                upper_bound: None,
            },
            Body::Get(vec![range.clone()]),
            Body::GetNext(vec![range.clone(), open_range.clone()]),
            Body::GetBulk {
                non_repeaters: 1,
                max_repetitions: 10,
                ranges: vec![range, open_range],
            },
            Body::TestSet(vbs.clone()),
            Body::CommitSet,
            Body::UndoSet,
            Body::CleanupSet,
            Body::Notify(vbs.clone()),
            Body::Ping,
            Body::Response {
                sys_up_time: 42,
                error: res_error::PARSE_ERROR,
                index: 1,
                varbinds: vbs,
            },
        ]
    }

    #[test]
    fn every_pdu_round_trips_in_both_byte_orders() {
        for body in samples() {
            for flags in [0, flag::NETWORK_BYTE_ORDER] {
                let pdu = Pdu {
                    flags,
                    session_id: 7,
                    transaction_id: 8,
                    packet_id: 9,
                    context: None,
                    body: body.clone(),
                };
                let bytes = pdu.encode().unwrap();
                assert_eq!((bytes.len() - HEADER_LEN) % 4, 0);
                assert_eq!(Pdu::decode(&bytes).unwrap(), pdu, "{body:?} flags={flags}");
            }
        }
    }

    #[test]
    fn context_rides_only_on_pdus_that_take_it() {
        let mut pdu = Pdu::new(1, 2, 3, Body::GetNext(Vec::new()));
        pdu.context = Some(b"ctx".to_vec());
        let bytes = pdu.encode().unwrap();
        assert_ne!(bytes[2] & flag::NON_DEFAULT_CONTEXT, 0);
        assert_eq!(Pdu::decode(&bytes).unwrap(), pdu);
        let mut close = Pdu::new(1, 2, 3, Body::Close { reason: 1 });
        close.context = Some(b"ctx".to_vec());
        assert_eq!(close.encode().unwrap()[2] & flag::NON_DEFAULT_CONTEXT, 0);
    }

    #[test]
    fn header_layout_is_rfc_2741() {
        let bytes = Pdu::new(0x01020304, 5, 6, Body::Ping).encode().unwrap();
        assert_eq!(bytes, [1, 13, 0x10, 0, 1, 2, 3, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 0]);
        let mut little = Pdu::new(0x01020304, 5, 6, Body::Ping);
        little.flags = 0;
        assert_eq!(&little.encode().unwrap()[4..8], &[4, 3, 2, 1]);
    }

    #[test]
    fn malformed_frames_are_errors() {
        let good = Pdu::new(1, 2, 3, Body::GetNext(samples_range())).encode().unwrap();
        // Every truncation fails cleanly.
        for cut in 0..good.len() {
            assert!(Pdu::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_version = good.clone();
        bad_version[0] = 2;
        assert_eq!(Pdu::decode(&bad_version), Err(PduError::Version(2)));
        let mut bad_type = good.clone();
        bad_type[1] = 99;
        assert_eq!(Pdu::decode(&bad_type), Err(PduError::UnknownType(99)));
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0; 4]);
        assert_eq!(Pdu::decode(&trailing), Err(PduError::Trailing(4)));
        let mut huge = good.clone();
        huge[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(Pdu::decode(&huge), Err(PduError::TooLong { .. })));
        let mut unaligned = good;
        unaligned[19] = unaligned[19].wrapping_add(1);
        assert!(matches!(Pdu::decode(&unaligned), Err(PduError::Unaligned(_))));
    }

    /// The fuzz target's property on mutated samples, so plain `cargo test`
    /// checks it too: any bytes decode or fail cleanly, and what decodes
    /// re-encodes to a PDU that decodes the same.
    #[test]
    fn mutated_pdus_decode_or_fail_and_round_trip() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let frames: Vec<Vec<u8>> = samples()
            .into_iter()
            .map(|body| Pdu::new(3, 4, 5, body).encode().unwrap())
            .collect();
        let mut decoded = 0;
        for i in 0..20_000u64 {
            let mut frame = frames[(i as usize) % frames.len()].clone();
            for _ in 0..=(next() % 3) {
                let at = (next() as usize) % frame.len();
                frame[at] = next() as u8;
            }
            if let Ok(pdu) = Pdu::decode(&frame) {
                decoded += 1;
                let again = pdu.encode().unwrap();
                assert_eq!(Pdu::decode(&again), Ok(pdu));
            }
        }
        assert!(decoded > 1000, "mutations should often leave a valid pdu ({decoded})");
    }

    fn samples_range() -> Vec<SearchRange> {
        vec![SearchRange {
            start: oid(&[1, 3, 6, 1, 4, 1, 36957]),
            include: false,
            end: Oid::empty(),
        }]
    }
}
