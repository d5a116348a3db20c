//! `bench_snmp`: the GET-rate load generator of `scripts/bench-snmp`.
//!
//! `bench_snmp gets --target 127.0.0.1:PORT --in-flight N --seconds S` sends
//! SNMPv2c GET requests for one OID (default `sysDescr.0`) from one UDP
//! socket, keeping N requests outstanding: every response whose request-id
//! is outstanding, with error-status 0 and a value (not an exception),
//! counts and is replaced by a new request at once. It prints one JSON line
//! (`responses`, `seconds`, `per_second`, `lost`, `bad`).
//!
//! The same generator drives every agent in the comparison (virtbus and
//! net-snmp's `snmpd`), so its own cost weighs on both alike. It encodes and
//! decodes the few BER elements it needs itself: one request template, and
//! a response walker that reads only up to the first value's tag. The run is
//! bounded by `--seconds`; when no response arrives for `--timeout-ms`, the
//! outstanding requests count as lost and a fresh window is sent.

use clap::{Parser, Subcommand};
use serde_json::json;
use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "bench_snmp", about = "SNMP GET-rate load generator for scripts/bench-snmp")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// GET one OID as fast as the agent answers, N requests in flight.
    Gets {
        /// The agent, HOST:PORT (UDP).
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, default_value = "public")]
        community: String,
        /// Dotted OID to GET.
        #[arg(long, default_value = "1.3.6.1.2.1.1.1.0")]
        oid: String,
        /// Requests kept outstanding.
        #[arg(long, default_value_t = 1)]
        in_flight: usize,
        /// Length of the measured phase.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Unmeasured warm-up before it.
        #[arg(long, default_value_t = 0.5)]
        warmup: f64,
        /// Silence after which outstanding requests count as lost.
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gets {
            target,
            community,
            oid,
            in_flight,
            seconds,
            warmup,
            timeout_ms,
        } => gets(&GetsConfig {
            target,
            community,
            oid,
            in_flight: in_flight.max(1),
            seconds,
            warmup,
            timeout: Duration::from_millis(timeout_ms.max(1)),
        }),
    };
    if let Err(err) = result {
        eprintln!("bench_snmp: {err}");
        std::process::exit(1);
    }
}

struct GetsConfig {
    target: SocketAddr,
    community: String,
    oid: String,
    in_flight: usize,
    seconds: f64,
    warmup: f64,
    timeout: Duration,
}

#[derive(Default)]
struct Tally {
    responses: u64,
    lost: u64,
    bad: u64,
}

fn gets(cfg: &GetsConfig) -> Result<(), String> {
    let oid = parse_oid(&cfg.oid)?;
    let template = GetRequest::new(cfg.community.as_bytes(), &oid)?;
    let bind = if cfg.target.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("cannot bind {bind}: {e}"))?;
    socket
        .connect(cfg.target)
        .map_err(|e| format!("cannot connect to {}: {e}", cfg.target))?;
    socket
        .set_read_timeout(Some(cfg.timeout))
        .map_err(|e| format!("cannot set a read timeout: {e}"))?;

    let mut next_id: i32 = 1;
    let mut outstanding = HashSet::with_capacity(cfg.in_flight * 2);
    let mut packet = template.bytes.clone();
    let mut send = |outstanding: &mut HashSet<i32>, next_id: &mut i32| -> Result<(), String> {
        template.set_request_id(&mut packet, *next_id);
        socket
            .send(&packet)
            .map_err(|e| format!("send to {}: {e}", cfg.target))?;
        outstanding.insert(*next_id);
        // Request-ids stay positive and never repeat within a run.
        *next_id = next_id.checked_add(1).unwrap_or(1);
        Ok(())
    };

    let mut buf = vec![0u8; 65_536];
    let mut tally = Tally::default();
    let started = Instant::now();
    let warm_until = started + Duration::from_secs_f64(cfg.warmup.max(0.0));
    let end = warm_until + Duration::from_secs_f64(cfg.seconds.max(0.1));
    let mut measuring = false;
    let mut measured_from = warm_until;
    for _ in 0..cfg.in_flight {
        send(&mut outstanding, &mut next_id)?;
    }
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if !measuring && now >= warm_until {
            measuring = true;
            measured_from = now;
            tally = Tally::default();
        }
        match socket.recv(&mut buf) {
            Ok(len) => match response_request_id(&buf[..len]) {
                Some((id, true)) if outstanding.remove(&id) => {
                    tally.responses += 1;
                    send(&mut outstanding, &mut next_id)?;
                }
                Some((id, false)) if outstanding.remove(&id) => {
                    tally.bad += 1;
                    send(&mut outstanding, &mut next_id)?;
                }
                // A late answer to a request already counted as lost.
                Some(_) => {}
                None => tally.bad += 1,
            },
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                tally.lost += outstanding.len() as u64;
                outstanding.clear();
                for _ in 0..cfg.in_flight {
                    send(&mut outstanding, &mut next_id)?;
                }
            }
            // ICMP port unreachable surfaces here: the agent is gone.
            Err(e) => return Err(format!("receive from {}: {e}", cfg.target)),
        }
    }
    let seconds = measured_from.elapsed().as_secs_f64();
    let per_second = tally.responses as f64 / seconds;
    println!(
        "{}",
        json!({
            "target": cfg.target.to_string(),
            "oid": cfg.oid,
            "in_flight": cfg.in_flight,
            "seconds": seconds,
            "responses": tally.responses,
            "per_second": per_second,
            "lost": tally.lost,
            "bad": tally.bad,
        })
    );
    Ok(())
}

// ---- BER -------------------------------------------------------------------

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_GET_REQUEST: u8 = 0xA0;
const TAG_RESPONSE: u8 = 0xA2;
/// SNMPv2 exceptions (RFC 3416 §3): noSuchObject, noSuchInstance, endOfMibView.
const EXCEPTIONS: [u8; 3] = [0x80, 0x81, 0x82];

fn parse_oid(text: &str) -> Result<Vec<u32>, String> {
    let arcs: Vec<u32> = text
        .trim_start_matches('.')
        .split('.')
        .map(|a| a.parse::<u32>().map_err(|_| format!("bad OID '{text}'")))
        .collect::<Result<_, _>>()?;
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) {
        return Err(format!("bad OID '{text}'"));
    }
    Ok(arcs)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

fn encode_oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::new();
    let mut subids = vec![arcs[0] * 40 + arcs[1]];
    subids.extend_from_slice(&arcs[2..]);
    for sub in subids {
        let mut groups = Vec::new();
        let mut v = sub;
        loop {
            groups.push((v & 0x7f) as u8);
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().enumerate().rev() {
            content.push(if i == 0 { *g } else { g | 0x80 });
        }
    }
    tlv(TAG_OID, &content)
}

/// A v2c GET request whose request-id sits at a fixed offset as a 4-octet
/// INTEGER, so each new request is a copy with four octets changed.
struct GetRequest {
    bytes: Vec<u8>,
    id_offset: usize,
}

impl GetRequest {
    fn new(community: &[u8], oid: &[u32]) -> Result<GetRequest, String> {
        let varbind = tlv(TAG_SEQUENCE, &[encode_oid(oid), tlv(TAG_NULL, &[])].concat());
        let varbinds = tlv(TAG_SEQUENCE, &varbind);
        let zero = tlv(TAG_INTEGER, &[0]);
        let request_id = tlv(TAG_INTEGER, &[0x7f, 0, 0, 0]);
        let pdu = tlv(
            TAG_GET_REQUEST,
            &[request_id.clone(), zero.clone(), zero, varbinds].concat(),
        );
        let head = [tlv(TAG_INTEGER, &[1]), tlv(TAG_OCTET_STRING, community)].concat();
        let bytes = tlv(TAG_SEQUENCE, &[head.clone(), pdu.clone()].concat());
        // The request-id's 4 content octets follow the PDU's tag and length
        // and the INTEGER's own tag and length.
        let pdu_at = bytes.len() - pdu.len();
        let id_offset = pdu_at + header_len(&pdu)? + 2;
        if bytes.get(id_offset) != Some(&0x7f) {
            return Err("internal: request-id offset".into());
        }
        Ok(GetRequest { bytes, id_offset })
    }

    fn set_request_id(&self, packet: &mut [u8], id: i32) {
        // The top bit stays clear so the 4-octet INTEGER is positive.
        let id = (id & 0x7fff_ffff).to_be_bytes();
        packet[self.id_offset..self.id_offset + 4].copy_from_slice(&id);
    }
}

/// Length of a TLV's tag and length octets.
fn header_len(data: &[u8]) -> Result<usize, String> {
    read_tlv(data)
        .map(|(_, _, header, _)| header)
        .ok_or_else(|| "internal: bad TLV".to_string())
}

/// One TLV: (tag, content, header length, total length).
fn read_tlv(data: &[u8]) -> Option<(u8, &[u8], usize, usize)> {
    let tag = *data.first()?;
    let first = *data.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in data.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let content = data.get(header..header + len)?;
    Some((tag, content, header, header + len))
}

fn read_integer(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let mut v: i64 = if content[0] & 0x80 != 0 { -1 } else { 0 };
    for b in content {
        v = (v << 8) | i64::from(*b);
    }
    Some(v)
}

/// The request-id of a v2c Response, and whether it carries a value:
/// error-status 0 and a first varbind that is not an exception.
fn response_request_id(packet: &[u8]) -> Option<(i32, bool)> {
    let (tag, mut msg, _, _) = read_tlv(packet)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let mut next = |want: Option<u8>| -> Option<(u8, &[u8])> {
        let (tag, content, _, total) = read_tlv(msg)?;
        if want.is_some_and(|w| w != tag) {
            return None;
        }
        msg = &msg[total..];
        Some((tag, content))
    };
    next(Some(TAG_INTEGER))?;
    next(Some(TAG_OCTET_STRING))?;
    let (_, mut pdu) = next(Some(TAG_RESPONSE))?;
    let mut field = |want: u8| -> Option<&[u8]> {
        let (tag, content, _, total) = read_tlv(pdu)?;
        if tag != want {
            return None;
        }
        pdu = &pdu[total..];
        Some(content)
    };
    let id = i32::try_from(read_integer(field(TAG_INTEGER)?)?).ok()?;
    let status = read_integer(field(TAG_INTEGER)?)?;
    field(TAG_INTEGER)?;
    let varbinds = field(TAG_SEQUENCE)?;
    let (_, varbind, _, _) = read_tlv(varbinds)?;
    let (_, _, _, oid_total) = read_tlv(varbind)?;
    let value_tag = *varbind.get(oid_total)?;
    Some((id, status == 0 && !EXCEPTIONS.contains(&value_tag)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_matches_known_encoding() {
        let req = GetRequest::new(b"public", &parse_oid("1.3.6.1.2.1.1.1.0").unwrap()).unwrap();
        let mut packet = req.bytes.clone();
        req.set_request_id(&mut packet, 0x0102_0304);
        // snmpget -v2c -c public HOST sysDescr.0, request-id 0x01020304.
        let expected = [
            0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x1c, 0x02, 0x04, 0x01,
            0x02, 0x03, 0x04, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01,
            0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
        ];
        assert_eq!(packet, expected);
    }

    #[test]
    fn response_parse_reads_id_and_value() {
        let varbind = tlv(
            TAG_SEQUENCE,
            &[encode_oid(&[1, 3, 6, 1, 2, 1, 1, 1, 0]), tlv(TAG_OCTET_STRING, b"x")].concat(),
        );
        let make = |id: &[u8], status: u8, vb: &[u8]| {
            let pdu = tlv(
                TAG_RESPONSE,
                &[
                    tlv(TAG_INTEGER, id),
                    tlv(TAG_INTEGER, &[status]),
                    tlv(TAG_INTEGER, &[0]),
                    tlv(TAG_SEQUENCE, vb),
                ]
                .concat(),
            );
            tlv(
                TAG_SEQUENCE,
                &[tlv(TAG_INTEGER, &[1]), tlv(TAG_OCTET_STRING, b"public"), pdu].concat(),
            )
        };
        assert_eq!(response_request_id(&make(&[0x05], 0, &varbind)), Some((5, true)));
        assert_eq!(
            response_request_id(&make(&[0x01, 0x00], 2, &varbind)),
            Some((256, false))
        );
        let exception = tlv(
            TAG_SEQUENCE,
            &[encode_oid(&[1, 3, 6, 1, 2, 1, 1, 1, 0]), vec![0x81, 0x00]].concat(),
        );
        assert_eq!(response_request_id(&make(&[0x07], 0, &exception)), Some((7, false)));
        assert_eq!(response_request_id(&[0x30, 0x05, 0x02]), None);
    }

    #[test]
    fn oid_parse_refuses_garbage() {
        assert!(parse_oid("1.3.x").is_err());
        assert!(parse_oid("1").is_err());
        assert!(parse_oid("1.40").is_err());
        assert_eq!(parse_oid(".1.3.6").unwrap(), vec![1, 3, 6]);
    }
}
