//! The native agent's UDP front door: one socket per listen address that
//! answers the requests of a table walk itself and hands every other
//! datagram to the async-snmp agent behind it.
//!
//! Why: a walk of `libvirtGuestTable` is thousands of GETBULKs in a row,
//! one in flight, and async-snmp spends most of each one on machinery a
//! table read does not need (a task, timers and a cancellation tree per
//! request, a boxed future per varbind per repetition). Measured with
//! `scripts/bench-snmp` (docs/benchmarks.md): about 67 µs of agent CPU per
//! 10-varbind GETBULK through async-snmp, most of a walk's time. The
//! crate has no lower-level entry point (one datagram in, one response
//! out), so the few requests that make up walks are answered here with the
//! crate's own message codec and the guest table's non-waiting reads
//! ([`GuestTable::get_now`], [`GuestTable::next_now`]), and everything else
//! goes to the full agent unchanged.
//!
//! Answered here, and only when every varbind has a value at hand: SNMPv2c
//! GET, GETNEXT and GETBULK, with the read-only or the read-write community
//! (both read every object, see [`crate::server`]), naming objects of
//! `libvirtGuestTable` whose answers stay inside the table and fit the
//! message size (CPU times that need a sample are sampled first, a batch of
//! rows at a time, while the front door waits), and GETs of the SNMPv2-MIB system scalars (`sysDescr.0`
//! …, what a manager polls to see that the agent is up). That is exactly the case where the full agent's answer is
//! the table handler's values in order. Everything else — SNMPv1 and v3,
//! SETs, other subtrees, the table's end, a wrong community, a malformed or non-canonical packet, a response too
//! large — is relayed, byte for byte, to the async-snmp agent, which listens
//! on a second socket of the same address (port chosen by the system) and
//! answers through the relay. A relay socket per manager address keeps the
//! answers apart; idle relays are closed after [`RELAY_IDLE`], and at most
//! [`MAX_RELAYS`] are open at once.

use crate::guest_table::GuestTable;
use crate::oids::GUEST_TABLE;
use crate::system_group::SystemGroup;
use async_snmp::message::CommunityMessage;
use async_snmp::pdu::{PduType, ResponsePdu};
use async_snmp::{DecodeConfig, Oid, VarBind, Version};
use bytes::Bytes;
use std::collections::hash_map::{Entry, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A relay with no traffic for this long is closed.
pub const RELAY_IDLE: Duration = Duration::from_secs(60);
/// Relays open at once; the least recently used one is closed beyond this.
pub const MAX_RELAYS: usize = 1024;
/// What the full agent leaves for the message wrapper (version, community
/// and PDU header) when it budgets a response; kept the same here.
const RESPONSE_OVERHEAD: usize = 100;

/// What the front door needs to answer by itself.
pub struct Front {
    pub guests: Arc<GuestTable>,
    pub system: Arc<SystemGroup>,
    /// Communities that may read (read-only and read-write).
    pub communities: Vec<Vec<u8>>,
    /// The largest response, as the full agent is configured.
    pub max_message_size: usize,
}

/// One manager's relay to the full agent.
struct Relay {
    socket: Arc<UdpSocket>,
    task: JoinHandle<()>,
    last_used: Instant,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `public` until `cancel`: answers what [`Front::answer`] can and
/// relays the rest to the full agent at `agent`.
pub async fn run(front: Front, public: UdpSocket, agent: SocketAddr, cancel: CancellationToken) {
    let public = Arc::new(public);
    let mut buf = vec![0u8; 65_536];
    let mut relays: HashMap<SocketAddr, Relay> = HashMap::new();
    let mut sweep = tokio::time::interval(RELAY_IDLE);
    let mut failures = 0u32;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = sweep.tick() => relays.retain(|_, relay| relay.last_used.elapsed() < RELAY_IDLE),
            received = public.recv_from(&mut buf) => {
                let (len, peer) = match received {
                    Ok(received) => received,
                    Err(err) => {
                        // ICMP errors from earlier sends and the like; log
                        // the first and every hundredth, keep serving.
                        if failures.is_multiple_of(100) {
                            tracing::debug!(adapter = "snmp", error = %err, "snmp: receive failed");
                        }
                        failures = failures.wrapping_add(1);
                        tokio::task::yield_now().await;
                        continue;
                    }
                };
                let data = &buf[..len];
                if let Some(response) = front.answer(data).await {
                    if let Err(err) = public.send_to(&response, peer).await {
                        tracing::debug!(adapter = "snmp", %peer, error = %err, "snmp: cannot send a response");
                    }
                    continue;
                }
                if let Err(err) = relay(&mut relays, &public, agent, peer, data).await {
                    tracing::warn!(adapter = "snmp", %peer, error = %err, "snmp: cannot pass a request to the agent");
                }
            }
        }
    }
}

/// Sends `data` from `peer`'s relay (opened when missing) to the agent.
async fn relay(
    relays: &mut HashMap<SocketAddr, Relay>,
    public: &Arc<UdpSocket>,
    agent: SocketAddr,
    peer: SocketAddr,
    data: &[u8],
) -> std::io::Result<()> {
    if !relays.contains_key(&peer) && relays.len() >= MAX_RELAYS {
        if let Some(oldest) = relays.iter().min_by_key(|(_, r)| r.last_used).map(|(a, _)| *a) {
            relays.remove(&oldest);
        }
    }
    let relay = match relays.entry(peer) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => entry.insert(open_relay(public.clone(), agent, peer).await?),
    };
    relay.last_used = Instant::now();
    relay.socket.send(data).await.map(|_| ())
}

/// A socket on the loopback address connected to the agent, and the task
/// that sends the agent's answers on to `peer` from the public socket.
async fn open_relay(public: Arc<UdpSocket>, agent: SocketAddr, peer: SocketAddr) -> std::io::Result<Relay> {
    let local = match agent.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    let target = if agent.ip().is_unspecified() { local } else { agent.ip() };
    let socket = UdpSocket::bind(SocketAddr::new(local, 0)).await?;
    socket.connect(SocketAddr::new(target, agent.port())).await?;
    let socket = Arc::new(socket);
    let answers = socket.clone();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            match answers.recv(&mut buf).await {
                Ok(len) => {
                    if let Err(err) = public.send_to(&buf[..len], peer).await {
                        tracing::debug!(adapter = "snmp", %peer, error = %err, "snmp: cannot send a response");
                    }
                }
                // Connection-refused and the like while the agent restarts
                // its socket; pause briefly instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    });
    Ok(Relay {
        socket,
        task,
        last_used: Instant::now(),
    })
}

impl Front {
    /// The encoded response to `data` when this request is one the front
    /// door answers (see the module documentation), else `None`.
    pub async fn answer(&self, data: &[u8]) -> Option<Bytes> {
        // Only a cleanly decoded SNMPv2c message whose community reads.
        let decoded = CommunityMessage::decode(Bytes::copy_from_slice(data), DecodeConfig::default()).ok()?;
        if !decoded.anomalies.is_empty() {
            return None;
        }
        let message = decoded.value;
        if message.version() != Version::V2c {
            return None;
        }
        let community = message.community().as_bytes();
        if !self.communities.iter().any(|c| same_secret(c, community)) {
            return None;
        }
        let pdu = message.pdu().standard()?;
        let budget = self.max_message_size.checked_sub(RESPONSE_OVERHEAD + community.len())?;
        let requested = pdu.varbinds();
        let varbinds = match pdu.pdu_type() {
            PduType::GetRequest => requested
                .iter()
                .map(|vb| {
                    let value = if in_table(&vb.oid) {
                        self.guests.get_now(&vb.oid)?
                    } else {
                        self.system.get_now(&vb.oid)?
                    };
                    Some(VarBind::new(vb.oid.clone(), value))
                })
                .collect::<Option<Vec<_>>>()?,
            PduType::GetNextRequest => {
                let mut out = Vec::with_capacity(requested.len());
                for vb in requested {
                    out.push(self.next_in_table(&vb.oid).await?);
                }
                out
            }
            PduType::GetBulkRequest => {
                let (non_repeaters, max_repetitions) = pdu.get_bulk_fields()?;
                self.bulk(requested, non_repeaters, max_repetitions, budget).await?
            }
            _ => return None,
        };
        let size: usize = varbinds.iter().map(VarBind::encoded_size).sum();
        if size > budget {
            return None;
        }
        let response = ResponsePdu::success(Version::V2c, pdu.request_id(), varbinds).ok()?;
        let encoded = CommunityMessage::v2c(message.community().clone(), response)
            .ok()?
            .encode()
            .ok()?;
        (encoded.len() <= self.max_message_size).then_some(encoded)
    }

    /// GETNEXT that stays inside the table.
    async fn next_in_table(&self, oid: &Oid) -> Option<VarBind> {
        if !in_table(oid) {
            return None;
        }
        self.guests.next_sampled(oid).await
    }

    /// GETBULK (RFC 3416 §4.2.3): one GETNEXT for each of the first
    /// `non_repeaters` varbinds, then up to `max_repetitions` rounds over the
    /// rest. `None` (the full agent answers) as soon as a step leaves the
    /// table or the response would pass `budget` octets.
    async fn bulk(
        &self,
        requested: &[VarBind],
        non_repeaters: u32,
        max_repetitions: u32,
        budget: usize,
    ) -> Option<Vec<VarBind>> {
        let non_repeaters = usize::try_from(non_repeaters)
            .unwrap_or(usize::MAX)
            .min(requested.len());
        let mut out = Vec::new();
        let mut size = 0usize;
        let mut push = |vb: VarBind, out: &mut Vec<VarBind>| {
            size += vb.encoded_size();
            out.push(vb);
            size <= budget
        };
        for vb in &requested[..non_repeaters] {
            let next = self.next_in_table(&vb.oid).await?;
            if !push(next, &mut out) {
                return None;
            }
        }
        let mut cursors: Vec<Oid> = requested[non_repeaters..].iter().map(|vb| vb.oid.clone()).collect();
        if cursors.is_empty() {
            return Some(out);
        }
        for _ in 0..max_repetitions {
            for cursor in cursors.iter_mut() {
                let next = self.next_in_table(cursor).await?;
                *cursor = next.oid.clone();
                if !push(next, &mut out) {
                    return None;
                }
            }
        }
        Some(out)
    }
}

/// Whether `oid` lies in `libvirtGuestTable`, so that the table handler
/// alone answers it (and a GETNEXT from it, until the table's end).
fn in_table(oid: &Oid) -> bool {
    oid.arcs().starts_with(GUEST_TABLE)
}

/// Compares a configured community with a received one in time that does
/// not depend on where they differ (as the full agent does).
fn same_secret(expected: &[u8], given: &[u8]) -> bool {
    if expected.len() != given.len() {
        return false;
    }
    expected.iter().zip(given).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"public", b"public"));
        assert!(!same_secret(b"public", b"publiC"));
        assert!(!same_secret(b"public", b"publi"));
        assert!(!same_secret(b"", b"x"));
    }

    #[test]
    fn only_the_guest_table_is_answered_here() {
        assert!(in_table(&Oid::from_slice(GUEST_TABLE)));
        let mut entry = GUEST_TABLE.to_vec();
        entry.extend([1, 2, 5]);
        assert!(in_table(&Oid::from_slice(&entry)));
        assert!(!in_table(&Oid::from_slice(&[1, 3, 6, 1, 4, 1, 36957])));
        assert!(!in_table(&Oid::from_slice(&[1, 3, 6, 1, 2, 1, 1, 1, 0])));
    }
}
