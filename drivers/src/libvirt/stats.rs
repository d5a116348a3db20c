//! Domain statistics through libvirt's bulk API: one
//! `virConnectGetAllDomainStats` call samples every domain, and the answers
//! for single domains come from that sample while it is fresh
//! ([`SAMPLE_TTL`]), so a walk over thousands of domains costs one call.

use super::ffi::{self, Param, StatsRecord};
use crate::model::{BlockStats, DomainStats, NetStats};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

/// How long one bulk sample answers single-domain questions. Short, because
/// the core adds its own freshness bound on top.
const SAMPLE_TTL: Duration = Duration::from_millis(250);

/// The groups virtbus reports: state, cpu, balloon, vcpu, interface, block.
const GROUPS: u32 = sys::VIR_DOMAIN_STATS_STATE
    | sys::VIR_DOMAIN_STATS_CPU_TOTAL
    | sys::VIR_DOMAIN_STATS_BALLOON
    | sys::VIR_DOMAIN_STATS_VCPU
    | sys::VIR_DOMAIN_STATS_INTERFACE
    | sys::VIR_DOMAIN_STATS_BLOCK;

#[derive(Default)]
pub(crate) struct StatsCache {
    sample: Mutex<Option<(Instant, HashMap<Uuid, Sampled>)>>,
}

/// One domain's sample, and whether the bulk API filled the basics (cpu,
/// balloon, vcpu groups); libvirt 9.0.0's test driver fills only "state".
#[derive(Clone)]
struct Sampled {
    stats: DomainStats,
    complete: bool,
}

impl StatsCache {
    /// Stats of `uuid`: from a fresh bulk sample, else a new bulk sample,
    /// else (a domain newer than the sample) the single-domain bulk call.
    ///
    /// Where the driver leaves the basic groups empty, `virDomainGetInfo`
    /// supplies cpu time, memory and vcpus.
    pub(crate) fn get(
        &self,
        conn: &Connect,
        uuid: Uuid,
        dom: impl Fn() -> Result<Domain, virt::error::Error>,
    ) -> Result<Option<DomainStats>, virt::error::Error> {
        let sampled = self.sampled(conn, uuid, &dom)?;
        let Some(Sampled { mut stats, complete }) = sampled else {
            return Ok(None);
        };
        if !complete {
            let info = dom()?.get_info()?;
            stats.cpu_time_ns = info.cpu_time;
            stats.memory_max_kib = info.max_mem;
            stats.memory_current_kib = info.memory;
            stats.vcpus = info.nr_virt_cpu;
        }
        Ok(Some(stats))
    }

    fn sampled(
        &self,
        conn: &Connect,
        uuid: Uuid,
        dom: &impl Fn() -> Result<Domain, virt::error::Error>,
    ) -> Result<Option<Sampled>, virt::error::Error> {
        let mut sample = self.sample.lock();
        if let Some((at, map)) = sample.as_ref() {
            if at.elapsed() < SAMPLE_TTL {
                if let Some(s) = map.get(&uuid) {
                    return Ok(Some(s.clone()));
                }
            }
        }
        let records = ffi::all_domain_stats(conn, GROUPS, 0)?;
        let map: HashMap<Uuid, Sampled> = records.iter().map(|r| (r.uuid, sampled(r))).collect();
        let found = map.get(&uuid).cloned();
        *sample = Some((Instant::now(), map));
        drop(sample);
        if found.is_some() {
            return Ok(found);
        }
        match ffi::domain_stats(&dom()?, GROUPS)? {
            Some(rec) => Ok(Some(sampled(&rec))),
            // libvirt knows the domain but returned no record for it.
            None => Ok(Some(Sampled {
                stats: DomainStats::default(),
                complete: false,
            })),
        }
    }
}

fn sampled(rec: &StatsRecord) -> Sampled {
    let complete = rec
        .params
        .iter()
        .any(|(name, _)| name == "cpu.time" || name == "balloon.maximum" || name == "vcpu.current");
    Sampled {
        stats: convert(rec),
        complete,
    }
}

fn uint(p: &Param) -> u64 {
    match p {
        Param::UInt(v) => *v,
        Param::Int(v) => (*v).max(0) as u64,
        Param::Double(v) => v.max(0.0) as u64,
        Param::Bool(b) => u64::from(*b),
        Param::Str(s) => s.parse().unwrap_or(0),
    }
}

/// A record's typed parameters (`cpu.time`, `block.0.rd.bytes`, ...) as
/// [`DomainStats`].
pub(crate) fn convert(rec: &StatsRecord) -> DomainStats {
    let mut stats = DomainStats::default();
    let mut blocks: HashMap<usize, BlockStats> = HashMap::new();
    let mut nets: HashMap<usize, NetStats> = HashMap::new();
    for (name, value) in &rec.params {
        match name.as_str() {
            "cpu.time" => stats.cpu_time_ns = uint(value),
            "vcpu.current" => stats.vcpus = uint(value) as u32,
            "balloon.maximum" => stats.memory_max_kib = uint(value),
            "balloon.current" => stats.memory_current_kib = uint(value),
            _ => {
                if let Some(rest) = name.strip_prefix("block.") {
                    if let Some((idx, field)) = indexed(rest) {
                        let b = blocks.entry(idx).or_default();
                        match (field, value) {
                            ("name", Param::Str(s)) => b.name = s.clone(),
                            ("rd.reqs", v) => b.rd_reqs = uint(v),
                            ("rd.bytes", v) => b.rd_bytes = uint(v),
                            ("wr.reqs", v) => b.wr_reqs = uint(v),
                            ("wr.bytes", v) => b.wr_bytes = uint(v),
                            ("errors", v) => b.errors = uint(v),
                            _ => {}
                        }
                    }
                } else if let Some(rest) = name.strip_prefix("net.") {
                    if let Some((idx, field)) = indexed(rest) {
                        let n = nets.entry(idx).or_default();
                        match (field, value) {
                            ("name", Param::Str(s)) => n.name = s.clone(),
                            ("rx.bytes", v) => n.rx_bytes = uint(v),
                            ("rx.pkts", v) => n.rx_packets = uint(v),
                            ("rx.errs", v) => n.rx_errs = uint(v),
                            ("rx.drop", v) => n.rx_drop = uint(v),
                            ("tx.bytes", v) => n.tx_bytes = uint(v),
                            ("tx.pkts", v) => n.tx_packets = uint(v),
                            ("tx.errs", v) => n.tx_errs = uint(v),
                            ("tx.drop", v) => n.tx_drop = uint(v),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    let mut blocks: Vec<_> = blocks.into_iter().collect();
    blocks.sort_by_key(|(i, _)| *i);
    stats.block = blocks.into_iter().map(|(_, b)| b).collect();
    let mut nets: Vec<_> = nets.into_iter().collect();
    nets.sort_by_key(|(i, _)| *i);
    stats.net = nets.into_iter().map(|(_, n)| n).collect();
    stats
}

/// `0.rd.bytes` → (0, "rd.bytes").
fn indexed(rest: &str) -> Option<(usize, &str)> {
    let (idx, field) = rest.split_once('.')?;
    Some((idx.parse().ok()?, field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_parameters_become_stats() {
        let rec = StatsRecord {
            uuid: Uuid::nil(),
            params: vec![
                ("cpu.time".into(), Param::UInt(42)),
                ("vcpu.current".into(), Param::UInt(2)),
                ("balloon.current".into(), Param::UInt(1024)),
                ("block.count".into(), Param::UInt(2)),
                ("block.1.name".into(), Param::Str("vdb".into())),
                ("block.0.name".into(), Param::Str("vda".into())),
                ("block.0.rd.bytes".into(), Param::UInt(7)),
                ("net.0.name".into(), Param::Str("vnet0".into())),
                ("net.0.tx.pkts".into(), Param::UInt(3)),
            ],
        };
        let s = convert(&rec);
        assert_eq!((s.cpu_time_ns, s.vcpus, s.memory_current_kib), (42, 2, 1024));
        assert_eq!(
            s.block.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["vda", "vdb"]
        );
        assert_eq!(s.block[0].rd_bytes, 7);
        assert_eq!((s.net[0].name.as_str(), s.net[0].tx_packets), ("vnet0", 3));
    }
}
