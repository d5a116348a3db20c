//! Reads through the real net-snmp tools against a real `virtbus serve`:
//! walks (GETNEXT and GETBULK, v1 and v2c) of libvirtGuestTable match what
//! `virtbus ctl` reports, exceptions are the right ones, the system and
//! snmpEngine groups answer, and the shipped MIB loads in net-snmp.

mod common;
use common::*;
use std::process::Command;

const TABLE: &str = ".1.3.6.1.4.1.36957.1.1";

/// (column, uuid index, value) triples of a numeric walk.
fn parse_rows(walk: &str) -> Vec<(u32, String, String)> {
    walk.lines()
        .filter_map(|line| {
            let (oid, value) = line.split_once(" = ")?;
            let rest = oid.strip_prefix(".1.3.6.1.4.1.36957.1.1.1.")?;
            let (col, idx) = rest.split_once('.')?;
            Some((col.parse().ok()?, idx.to_string(), value.to_string()))
        })
        .collect()
}

#[test]
fn mib_loads_in_net_snmp() {
    let out = Command::new("snmptranslate")
        .args(["-M", &mib_dirs(), "-m", "LIBVIRT-MIB", "-Tp"])
        .output()
        .expect("snmptranslate runs (apt-get install snmp)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "MIB parse complaints: {stderr}");
    let tree = String::from_utf8_lossy(&out.stdout);
    for name in [
        "libvirtGuestTable",
        "libvirtGuestCpuTime",
        "libvirtGuestRowStatus",
        "libvirtGuestNotif",
    ] {
        assert!(tree.contains(name), "{name} missing from\n{tree}");
    }
    // The OIDs are libvirt-snmp's.
    for (name, oid) in [
        ("LIBVIRT-MIB::libvirtGuestName", ".1.3.6.1.4.1.36957.1.1.1.2"),
        ("LIBVIRT-MIB::libvirtGuestRowStatus", ".1.3.6.1.4.1.36957.1.1.1.9"),
        ("LIBVIRT-MIB::libvirtGuestNotif", ".1.3.6.1.4.1.36957.0.1"),
    ] {
        let out = Command::new("snmptranslate")
            .args(["-M", &mib_dirs(), "-m", "LIBVIRT-MIB", "-On", name])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), oid);
    }
    // The "+LIBVIRT-MIB" form of the docs also resolves (other modules may be
    // missing on a bare net-snmp; that noise is not ours).
    let out = Command::new("snmptranslate")
        .args([
            "-M",
            &mib_dirs(),
            "-m",
            "+LIBVIRT-MIB",
            "-On",
            "LIBVIRT-MIB::libvirtGuestState",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        ".1.3.6.1.4.1.36957.1.1.1.3"
    );
}

#[test]
fn walk_matches_ctl_and_bulkwalk_matches_walk() {
    let agent = Agent::start(&[]);
    let walk = agent.v2c("snmpwalk", "public", &["-OnUe"], &[TABLE]);
    let rows = parse_rows(&walk);
    // 3 guests x 7 readable columns, column by column, rows in UUID order.
    assert_eq!(rows.len(), 21, "{walk}");
    let cols: Vec<u32> = rows.iter().map(|r| r.0).collect();
    assert_eq!(cols, [2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 9, 9, 9]);
    let order: Vec<&str> = rows.iter().take(3).map(|r| r.1.as_str()).collect();
    assert_eq!(order, [index(GAMMA), index(ALPHA), index(BETA)]);
    let names: Vec<&str> = rows.iter().take(3).map(|r| r.2.as_str()).collect();
    assert_eq!(names, ["STRING: \"gamma\"", "STRING: \"alpha\"", "STRING: \"beta\""]);

    // Each value matches the CLI.
    for (uuid, name) in [(GAMMA, "gamma"), (ALPHA, "alpha"), (BETA, "beta")] {
        let info = agent.ctl(&["dominfo", name]);
        let field = |label: &str| {
            info.lines()
                .find(|l| l.starts_with(label))
                .map(|l| l[label.len()..].trim().to_string())
                .unwrap_or_default()
        };
        let get = |col: u32| {
            rows.iter()
                .find(|r| r.0 == col && r.1 == index(uuid))
                .map(|r| r.2.clone())
                .unwrap_or_default()
        };
        let state = match agent.ctl(&["domstate", name]).trim() {
            "running" => 1,
            "paused" => 3,
            "shut off" => 5,
            other => panic!("state {other}"),
        };
        assert_eq!(get(3), format!("INTEGER: {state}"), "{name}");
        assert_eq!(
            get(4),
            format!("Gauge32: {}", field("CPU(s):")).replace("Gauge32", "Gauge32"),
            "{name} cpus"
        );
        let kib = |label: &str| field(label).trim_end_matches(" KiB").parse::<u64>().unwrap();
        assert_eq!(get(5), format!("Gauge32: {}", kib("Used memory:") / 1024), "{name}");
        assert_eq!(get(6), format!("Gauge32: {}", kib("Max memory:") / 1024), "{name}");
        assert!(get(7).starts_with("Counter64: "), "{name}: {}", get(7));
        assert_eq!(get(9), "INTEGER: 1", "{name}");
    }

    // GETBULK (-Cr10 and -Cr50) sees the same table.
    for reps in ["-Cr10", "-Cr50"] {
        let bulk = agent.v2c("snmpbulkwalk", "public", &["-OnUe", reps], &[TABLE]);
        let strip = |t: &str| parse_rows(t).into_iter().filter(|r| r.0 != 7).collect::<Vec<_>>();
        assert_eq!(strip(&bulk), strip(&walk), "{reps}");
    }

    // Names resolve through the shipped MIB, enums included.
    let named = agent.v2c("snmpwalk", "public", &[], &["LIBVIRT-MIB::libvirtGuestState"]);
    assert!(named.contains("LIBVIRT-MIB::libvirtGuestState"), "{named}");
    assert!(
        named.contains("paused(3)") && named.contains("running(1)") && named.contains("shutoff(5)"),
        "{named}"
    );
}

#[test]
fn unsigned32_columns_have_unsigned_types() {
    let agent = Agent::start(&[]);
    let out = agent.v2c(
        "snmpget",
        "public",
        &["-OnUe"],
        &[
            &format!("{TABLE}.1.4.{}", index(ALPHA)),
            &format!("{TABLE}.1.6.{}", index(ALPHA)),
        ],
    );
    // net-snmp shows Unsigned32 as Gauge32 (same tag); the values are alpha's.
    let values: Vec<&str> = out.lines().map(value_of).collect();
    assert_eq!(values, ["Gauge32: 2", "Gauge32: 1024"], "{out}");
}

#[test]
fn v1_walk_skips_counter64_and_maps_errors() {
    let agent = Agent::start(&[]);
    let out = agent.snmp("snmpwalk", &["-v1", "-c", "public", "-OnUe"], &[TABLE]);
    let walk = String::from_utf8_lossy(&out.stdout);
    let rows = parse_rows(&walk);
    // SNMPv1 has no Counter64: CpuTime is skipped (RFC 2576 §4.1.2.1).
    assert_eq!(rows.len(), 18, "{walk}");
    assert!(rows.iter().all(|r| r.0 != 7));
    // A missing instance is noSuchName in v1.
    let out = agent.snmp("snmpget", &["-v1", "-c", "public"], &[&format!("{TABLE}.1.2.1.2.3")]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("noSuchName"), "{text}");
}

#[test]
fn exceptions_are_the_v2_ones() {
    let agent = Agent::start(&[]);
    let missing = "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16";
    let out = agent.v2c(
        "snmpget",
        "public",
        &["-OnUe"],
        &[
            &format!("{TABLE}.1.2.{missing}"),
            &format!("{TABLE}.1.2.{}", index(ALPHA)),
            &format!("{TABLE}.1.8.{}", index(ALPHA)),
            &format!("{TABLE}.1.1.{}", index(ALPHA)),
            &format!("{TABLE}.1.2.1.2"),
        ],
    );
    let values: Vec<&str> = out.lines().map(value_of).collect();
    assert_eq!(
        values,
        [
            "No Such Instance currently exists at this OID",
            "STRING: \"alpha\"",
            "No Such Object available on this agent at this OID",
            "No Such Object available on this agent at this OID",
            "No Such Instance currently exists at this OID",
        ],
        "{out}"
    );
    // GETNEXT past the last row of the last column leaves the table.
    let out = agent.v2c(
        "snmpgetnext",
        "public",
        &["-OnUe"],
        &[&format!("{TABLE}.1.9.{}", index(BETA))],
    );
    assert!(!out.contains(".1.3.6.1.4.1.36957.1.1.1."), "{out}");
    // An index arc beyond 255 moves on to the next possible UUID.
    let out = agent.v2c(
        "snmpgetnext",
        "public",
        &["-OnUe", "-Ir"],
        &[&format!("{TABLE}.1.2.10.256")],
    );
    assert!(out.contains(&index(ALPHA)), "{out}");
}

#[test]
fn system_and_engine_groups_answer() {
    let agent = Agent::start(&[]);
    let out = agent.v2c(
        "snmpget",
        "public",
        &["-OnUe"],
        &[
            ".1.3.6.1.2.1.1.1.0",
            ".1.3.6.1.2.1.1.2.0",
            ".1.3.6.1.2.1.1.3.0",
            ".1.3.6.1.6.3.10.2.1.2.0",
            ".1.3.6.1.6.3.10.2.1.1.0",
        ],
    );
    let values: Vec<&str> = out.lines().map(value_of).collect();
    assert!(values[0].starts_with("STRING: \"virtbus "), "{out}");
    assert_eq!(values[1], "OID: .1.3.6.1.4.1.36957");
    assert!(values[2].starts_with("Timeticks: "), "{out}");
    assert_eq!(values[3], "INTEGER: 1", "{out}");
    assert!(values[4].starts_with("Hex-STRING: 80 00 90 5D 05"), "{out}");
    let walk = agent.v2c("snmpwalk", "public", &["-OnUe"], &[".1.3.6.1.2.1.1"]);
    assert_eq!(walk.lines().count(), 7, "{walk}");
}

#[test]
fn serves_ipv6_and_ipv4_together() {
    let agent = Agent::start_with(&["--snmp-listen", "udp:127.0.0.1:0,udp6:[::1]:0"], &[], None);
    assert_eq!(agent.ports.len(), 2, "{:?}", agent.ports);
    let v6 = agent
        .ports
        .iter()
        .find(|p| p.starts_with('['))
        .expect("an IPv6 socket")
        .clone();
    let out = Command::new("snmpget")
        .args([
            "-M",
            &mib_dirs(),
            "-m",
            "LIBVIRT-MIB",
            "-v2c",
            "-c",
            "public",
            "-OnUe",
            "-t",
            "2",
        ])
        .arg(format!("udp6:{v6}"))
        .arg(format!("{TABLE}.1.2.{}", index(ALPHA)))
        .output()
        .unwrap();
    assert_eq!(
        value_of(String::from_utf8_lossy(&out.stdout).trim()),
        "STRING: \"alpha\"",
        "{out:?}"
    );
}

#[test]
fn walks_stay_ordered_and_complete_while_domains_come_and_go() {
    let agent = Agent::start(&[]);
    let state_dir = agent.dir.path().join("state");
    let xml_dir = tempfile::tempdir().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Another client defines and undefines guests as fast as it can (a
    // bounded number of rounds) while the walks run.
    let churn = {
        let stop = stop.clone();
        let done = done.clone();
        let dir = xml_dir.path().to_path_buf();
        std::thread::spawn(move || {
            let ctl = |args: &[&str]| {
                Command::new(bin())
                    .arg("ctl")
                    .arg("--state-dir")
                    .arg(&state_dir)
                    .args(args)
                    .output()
                    .unwrap()
            };
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && rounds < 2000 {
                let name = format!("churn{}", rounds % 8);
                // UUIDs spread over the index space: before, between and
                // after the three fixed guests.
                let uuid = format!("{:02x}000000-0000-0000-0000-{:012x}", (rounds * 37) % 256, rounds);
                let path = dir.join(format!("{name}.xml"));
                std::fs::write(
                    &path,
                    format!(
                        "<domain type='test'><name>{name}</name><uuid>{uuid}</uuid>\
                         <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
                    ),
                )
                .unwrap();
                assert!(ctl(&["define", path.to_str().unwrap()]).status.success());
                assert!(ctl(&["undefine", &name]).status.success());
                rounds += 1;
                done.store(rounds, std::sync::atomic::Ordering::Relaxed);
            }
            rounds
        })
    };
    let rounds_now = || done.load(std::sync::atomic::Ordering::Relaxed);
    while rounds_now() < 3 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Walk until the churn has gone on for several rounds during the walks
    // (at least 6 walks, at most 200).
    let first = rounds_now();
    let mut round = 0;
    while round < 6 || (rounds_now() < first + 10 && round < 200) {
        round += 1;
        let (tool, extra) = if round % 2 == 0 {
            ("snmpbulkwalk", vec!["-OnUe", "-Cr3"])
        } else {
            ("snmpwalk", vec!["-OnUe"])
        };
        // net-snmp's walkers fail on an OID that does not increase, so
        // success already means the order held across snapshots.
        let walk = agent.v2c(tool, "public", &extra, &[TABLE]);
        let rows = parse_rows(&walk);
        for col in column_order() {
            let in_col: Vec<&(u32, String, String)> = rows.iter().filter(|r| r.0 == col).collect();
            // The guests that exist throughout appear once each, in order.
            let fixed: Vec<&str> = in_col
                .iter()
                .map(|r| r.1.as_str())
                .filter(|i| [index(GAMMA), index(ALPHA), index(BETA)].iter().any(|f| f == i))
                .collect();
            assert_eq!(
                fixed,
                [index(GAMMA), index(ALPHA), index(BETA)],
                "{tool} col {col}:\n{walk}"
            );
            let mut sorted: Vec<Vec<u32>> = in_col
                .iter()
                .map(|r| r.1.split('.').map(|a| a.parse().unwrap()).collect())
                .collect();
            let walked = sorted.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(walked, sorted, "{tool} col {col}: order or duplicates");
        }
    }
    assert!(rounds_now() >= first + 10, "the guests did not change during the walks");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = churn.join().unwrap();
    assert!(rounds > 0);
    // The churn left nothing behind, and the table is the three guests.
    let names = agent.v2c("snmpwalk", "public", &["-OnUe"], &[&format!("{TABLE}.1.2")]);
    assert_eq!(parse_rows(&names).len(), 3, "{names}");
}

fn column_order() -> [u32; 7] {
    [2, 3, 4, 5, 6, 7, 9]
}
