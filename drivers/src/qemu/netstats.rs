//! Interface counters of a running guest, as libvirt's qemu driver reports
//! them (`qemuDomainGetStatsInterface`, `virNetDevTapInterfaceStats`): read
//! from the host side of the guest's tap device in
//! `/sys/class/net/IFNAME/statistics/`, with receive and transmit swapped
//! (what the host sends into the tap, the guest receives).
//!
//! qemu has no counters of its own for a netdev: `user` (SLIRP) interfaces
//! have no host device, so, as in libvirt, they get no entry. The tap's
//! name is the interface's `<target dev>`, else the one qemu chose, read
//! from the monitor's `info network` (qemu names taps of `type='bridge'`
//! interfaces itself).

use super::qmp::Qmp;
use crate::model::NetStats;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use virtbus_schemas::DomainDef;

/// `hostnetN` → the tap's `ifname` from HMP `info network` output.
pub(crate) fn tap_names(info_network: &str) -> HashMap<usize, String> {
    let mut out = HashMap::new();
    for line in info_network.lines() {
        let line = line.trim_start().trim_start_matches('\\').trim();
        let Some((id, rest)) = line.split_once(": ") else {
            continue;
        };
        let Some(n) = id.strip_prefix("hostnet").and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(ifname) = rest.split(',').find_map(|kv| kv.trim().strip_prefix("ifname=")) {
            out.insert(n, ifname.to_string());
        }
    }
    out
}

/// Counters of the host device `ifname`, swapped to the guest's view;
/// `None` when the device does not exist.
pub(crate) fn tap_counters(sys_class_net: &Path, ifname: &str) -> Option<NetStats> {
    if ifname.is_empty() || ifname.contains('/') || ifname == "." || ifname == ".." {
        return None;
    }
    let dir = sys_class_net.join(ifname).join("statistics");
    if !dir.is_dir() {
        return None;
    }
    let read = |name: &str| -> u64 {
        std::fs::read_to_string(dir.join(name))
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    Some(NetStats {
        name: ifname.to_string(),
        rx_bytes: read("tx_bytes"),
        rx_packets: read("tx_packets"),
        rx_errs: read("tx_errors"),
        rx_drop: read("tx_dropped"),
        tx_bytes: read("rx_bytes"),
        tx_packets: read("rx_packets"),
        tx_errs: read("rx_errors"),
        tx_drop: read("rx_dropped"),
    })
}

/// One entry per interface with a host tap device, in definition order.
pub(crate) fn net_stats(def: &DomainDef, qmp: &Qmp, timeout: Duration) -> Vec<NetStats> {
    let interfaces = &def.devices.interfaces;
    if interfaces.iter().all(|i| i.if_type == "user") {
        return Vec::new();
    }
    let needs_lookup = interfaces.iter().any(|i| i.if_type != "user" && i.target_dev.is_none());
    let chosen = if needs_lookup {
        qmp.execute(
            "human-monitor-command",
            Some(json!({"command-line": "info network"})),
            timeout,
        )
        .ok()
        .and_then(|v| v.as_str().map(tap_names))
        .unwrap_or_default()
    } else {
        HashMap::new()
    };
    let sys = Path::new("/sys/class/net");
    interfaces
        .iter()
        .enumerate()
        .filter(|(_, iface)| iface.if_type != "user")
        .filter_map(|(i, iface)| {
            let ifname = iface.target_dev.clone().or_else(|| chosen.get(&i).cloned())?;
            tap_counters(sys, &ifname)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_names_from_info_network() {
        let text = "e1000.0: index=0,type=nic,model=e1000,macaddr=52:54:00:12:34:56\r\n \\ hostnet0: index=0,type=tap,ifname=tap0,script=no,downscript=no\r\ne1000.1: index=0,type=nic,model=e1000,macaddr=52:54:00:12:34:57\r\n \\ hostnet1: index=0,type=user,net=10.0.2.0,restrict=off\r\n";
        let names = tap_names(text);
        assert_eq!(names.get(&0).map(String::as_str), Some("tap0"));
        assert_eq!(names.get(&1), None, "user networking has no host device");
    }

    #[test]
    fn counters_are_swapped_to_the_guest_view() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = dir.path().join("vnet7/statistics");
        std::fs::create_dir_all(&stats).expect("mkdir");
        for (name, v) in [
            ("rx_bytes", 1),
            ("rx_packets", 2),
            ("rx_errors", 3),
            ("rx_dropped", 4),
            ("tx_bytes", 5),
            ("tx_packets", 6),
            ("tx_errors", 7),
            ("tx_dropped", 8),
        ] {
            std::fs::write(stats.join(name), format!("{v}\n")).expect("write");
        }
        let s = tap_counters(dir.path(), "vnet7").expect("counters");
        assert_eq!(
            (s.rx_bytes, s.rx_packets, s.rx_errs, s.rx_drop),
            (5, 6, 7, 8),
            "the guest receives what the host transmits"
        );
        assert_eq!((s.tx_bytes, s.tx_packets, s.tx_errs, s.tx_drop), (1, 2, 3, 4));
        assert!(tap_counters(dir.path(), "missing").is_none());
        assert!(tap_counters(dir.path(), "../vnet7").is_none());
    }
}
