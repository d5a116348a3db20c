//! VIRTBUS-MIB through net-snmp's tools against a real `virtbus serve` on a
//! node file with pools, volumes, networks and guests with disks and
//! interfaces: the shipped MIB loads, walks resolve every object by name,
//! and each value matches what `virtbus ctl` reports (pool-list,
//! pool-info, pool-dumpxml, vol-list, net-list, net-info, domstats,
//! nodeinfo); changes through ctl show in the next read.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;

const ROOT: &str = ".1.3.6.1.4.1.32473";
const IMAGES: &str = "35bb2ad9-388a-cdfe-461a-b8907f6e53fe";
const DEFAULT_NET: &str = "dd8fe884-6c02-601e-7551-cca97df1c5df";
const ISOLATED_NET: &str = "a1111111-1111-2222-3333-444444444444";

fn start() -> Agent {
    Agent::start_on(
        EXT_NODE_XML,
        &["--snmp-listen", "udp:127.0.0.1:0"],
        &["--snmp-rw-community", "private"],
        None,
    )
}

/// `name.index` → value, from a walk printed as `name.N.N.N = value`
/// (`-Os -Ob -OQ -OU -Oe`: names from the MIB, numeric indexes, bare
/// values).
fn walk(agent: &Agent, tool: &str, extra: &[&str]) -> BTreeMap<String, String> {
    let mut opts = vec!["-OsbQUe"];
    opts.extend_from_slice(extra);
    let out = agent.v2c(tool, "public", &opts, &["VIRTBUS-MIB::virtbusMIB"]);
    out.lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// The text of a string index: its length, then its octets.
fn name_index(name: &str) -> String {
    let mut parts = vec![name.len().to_string()];
    parts.extend(name.bytes().map(|b| b.to_string()));
    parts.join(".")
}

/// `Label: value` from virsh-style `ctl` output.
fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("{label} not in\n{text}"))
}

/// The `<tag unit='bytes'>N</tag>` value of a pool's XML.
fn xml_bytes(xml: &str, tag: &str) -> String {
    let start = xml
        .find(&format!("<{tag}"))
        .unwrap_or_else(|| panic!("<{tag}> in {xml}"));
    let rest = &xml[start..];
    let open_end = rest.find('>').unwrap() + 1;
    let close = rest.find(&format!("</{tag}>")).unwrap();
    rest[open_end..close].trim().to_string()
}

/// `key=value` pairs of one domain's `ctl domstats` block.
fn domstats(agent: &Agent, name: &str) -> BTreeMap<String, String> {
    agent
        .ctl(&["domstats", name])
        .lines()
        .filter_map(|l| l.trim().split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn mib_loads_and_names_resolve() {
    let out = Command::new("snmptranslate")
        .args(["-M", &mib_dirs(), "-m", "VIRTBUS-MIB", "-Tp"])
        .output()
        .expect("snmptranslate runs (apt-get install snmp)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "MIB parse complaints: {stderr}");
    for (name, oid) in [
        ("VIRTBUS-MIB::virtbusMIB", ROOT),
        ("VIRTBUS-MIB::virtbusHostMemory.0", ".1.3.6.1.4.1.32473.1.1.12.0"),
        ("VIRTBUS-MIB::virtbusPoolAvailable", ".1.3.6.1.4.1.32473.1.2.1.7"),
        ("VIRTBUS-MIB::virtbusVolumePath", ".1.3.6.1.4.1.32473.1.3.1.5"),
        ("VIRTBUS-MIB::virtbusNetworkBridge", ".1.3.6.1.4.1.32473.1.4.1.5"),
        ("VIRTBUS-MIB::virtbusBlockReadBytes", ".1.3.6.1.4.1.32473.1.5.1.4"),
        ("VIRTBUS-MIB::virtbusInterfaceTxDrops", ".1.3.6.1.4.1.32473.1.6.1.10"),
    ] {
        let out = Command::new("snmptranslate")
            .args(["-M", &mib_dirs(), "-m", "VIRTBUS-MIB", "-On", name])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), oid, "{name}");
    }
}

#[test]
fn walk_matches_ctl() {
    let agent = start();
    let before = domstats(&agent, "alpha");
    let w = walk(&agent, "snmpwalk", &[]);
    let after = domstats(&agent, "alpha");
    let get = |key: &str| {
        w.get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} not in walk:\n{w:#?}"))
    };

    // Host scalars = ctl nodeinfo.
    let node = agent.ctl(&["nodeinfo"]);
    assert_eq!(get("virtbusHostCpuModel.0"), field(&node, "CPU model:"));
    assert_eq!(get("virtbusHostCpus.0"), field(&node, "CPU(s):"));
    assert_eq!(
        format!("{} MHz", get("virtbusHostCpuMhz.0")),
        field(&node, "CPU frequency:")
    );
    assert_eq!(get("virtbusHostSockets.0"), field(&node, "CPU socket(s):"));
    assert_eq!(get("virtbusHostCores.0"), field(&node, "Core(s) per socket:"));
    assert_eq!(get("virtbusHostThreads.0"), field(&node, "Thread(s) per core:"));
    assert_eq!(get("virtbusHostNumaNodes.0"), field(&node, "NUMA cell(s):"));
    assert_eq!(
        format!("{} KiB", get("virtbusHostMemory.0")),
        field(&node, "Memory size:")
    );
    assert_eq!(get("virtbusHostHypervisor.0"), "TEST");
    assert!(get("virtbusHostUri.0").starts_with("test:///"), "{w:#?}");

    // Pools = pool-list / pool-info / pool-dumpxml.
    let pool_list = agent.ctl(&["pool-list", "--all"]);
    let pool_rows: Vec<&str> = pool_list.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        w.keys().filter(|k| k.starts_with("virtbusPoolName.")).count(),
        pool_rows.len()
    );
    let pool = format!(".{}", index(IMAGES));
    let info = agent.ctl(&["pool-info", "images"]);
    let xml = agent.ctl(&["pool-dumpxml", "images"]);
    assert_eq!(get(&format!("virtbusPoolName{pool}")), "images");
    assert_eq!(get(&format!("virtbusPoolUUID{pool}")), field(&info, "UUID:"));
    assert_eq!(field(&info, "State:"), "running");
    assert_eq!(get(&format!("virtbusPoolState{pool}")), "2");
    for (col, tag) in [
        ("Capacity", "capacity"),
        ("Allocation", "allocation"),
        ("Available", "available"),
    ] {
        assert_eq!(get(&format!("virtbusPool{col}{pool}")), xml_bytes(&xml, tag), "{col}");
    }
    assert_eq!(get(&format!("virtbusPoolType{pool}")), "dir");
    let truth = |yes_no: &str| if yes_no == "yes" { "1" } else { "2" };
    assert_eq!(
        get(&format!("virtbusPoolAutostart{pool}")),
        truth(&field(&info, "Autostart:"))
    );
    assert_eq!(
        get(&format!("virtbusPoolPersistent{pool}")),
        truth(&field(&info, "Persistent:"))
    );

    // Volumes = vol-list, in index order (name length first).
    let vols = agent.ctl(&["vol-list", "images"]);
    let vol_rows: Vec<(String, String)> = vols
        .lines()
        .skip(2)
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect();
    assert_eq!(vol_rows.len(), 2, "{vols}");
    assert_eq!(get(&format!("virtbusPoolVolumes{pool}")), "2");
    let walked: Vec<&String> = w
        .iter()
        .filter(|(k, _)| k.starts_with("virtbusVolumeName."))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(walked.len(), 2);
    for (name, path) in &vol_rows {
        let vol = format!("{pool}.{}", name_index(name));
        assert_eq!(&get(&format!("virtbusVolumeName{vol}")), name);
        assert_eq!(&get(&format!("virtbusVolumePath{vol}")), path);
        assert_eq!(get(&format!("virtbusVolumePoolName{vol}")), "images");
    }
    let b = format!("{pool}.{}", name_index("disk-b.qcow2"));
    assert_eq!(get(&format!("virtbusVolumeFormat{b}")), "qcow2");
    assert_eq!(get(&format!("virtbusVolumeCapacity{b}")), "10737418240");
    assert_eq!(get(&format!("virtbusVolumeAllocation{b}")), "1073741824");

    // Networks = net-list / net-info.
    let nets = agent.ctl(&["net-list", "--all"]);
    for (uuid, name) in [(DEFAULT_NET, "default"), (ISOLATED_NET, "isolated")] {
        let net = format!(".{}", index(uuid));
        let info = agent.ctl(&["net-info", name]);
        assert_eq!(get(&format!("virtbusNetworkName{net}")), name);
        assert_eq!(get(&format!("virtbusNetworkUUID{net}")), field(&info, "UUID:"));
        assert_eq!(
            get(&format!("virtbusNetworkActive{net}")),
            truth(&field(&info, "Active:"))
        );
        assert_eq!(
            get(&format!("virtbusNetworkAutostart{net}")),
            truth(&field(&info, "Autostart:"))
        );
        assert_eq!(
            get(&format!("virtbusNetworkPersistent{net}")),
            truth(&field(&info, "Persistent:"))
        );
        let bridge = info
            .lines()
            .find_map(|l| l.strip_prefix("Bridge:"))
            .map(|b| b.trim().to_string())
            .unwrap_or_default();
        assert_eq!(get(&format!("virtbusNetworkBridge{net}")), bridge);
        assert!(nets.contains(name), "{nets}");
    }
    assert_eq!(get(&format!("virtbusNetworkForwardMode.{}", index(DEFAULT_NET))), "nat");

    // Block and interface counters = domstats, sampled between the two ctl
    // readings (the test driver's counters only grow while a guest runs).
    let alpha = format!(".{}", index(ALPHA));
    let within = |key: &str, snmp: &str| {
        let (lo, hi): (u64, u64) = (before[key].parse().unwrap(), after[key].parse().unwrap());
        let v: u64 = snmp.parse().unwrap();
        assert!(lo <= v && v <= hi, "{key}: {lo} <= {v} <= {hi}");
    };
    assert_eq!(before["block.count"], "2");
    for i in 0..2 {
        let name = &before[&format!("block.{i}.name")];
        let row = format!("{alpha}.{}", name_index(name));
        assert_eq!(&get(&format!("virtbusBlockName{row}")), name);
        for (col, key) in [
            ("ReadRequests", "rd.reqs"),
            ("ReadBytes", "rd.bytes"),
            ("WriteRequests", "wr.reqs"),
            ("WriteBytes", "wr.bytes"),
            ("Errors", "errors"),
        ] {
            within(&format!("block.{i}.{key}"), &get(&format!("virtbusBlock{col}{row}")));
        }
    }
    assert_eq!(before["net.count"], "1");
    let row = format!("{alpha}.{}", name_index(&before["net.0.name"]));
    assert_eq!(get(&format!("virtbusInterfaceName{row}")), "vnet0");
    for (col, key) in [
        ("RxBytes", "rx.bytes"),
        ("RxPackets", "rx.pkts"),
        ("RxErrors", "rx.errs"),
        ("RxDrops", "rx.drop"),
        ("TxBytes", "tx.bytes"),
        ("TxPackets", "tx.pkts"),
        ("TxErrors", "tx.errs"),
        ("TxDrops", "tx.drop"),
    ] {
        within(&format!("net.0.{key}"), &get(&format!("virtbusInterface{col}{row}")));
    }
    // gamma is shut off: it has a disk but no counters, so no rows.
    assert!(
        !w.keys().any(|k| k.contains(&index(GAMMA))),
        "rows for a shut-off guest: {w:#?}"
    );
}

#[test]
fn bulkwalks_match_walk_and_v1_skips_counter64() {
    let agent = start();
    // Counters move with time; everything else must be identical.
    let stable = |w: BTreeMap<String, String>| -> BTreeMap<String, String> {
        w.into_iter()
            .filter(|(k, _)| {
                !(k.starts_with("virtbusBlock") || k.starts_with("virtbusInterface")) || k.contains("Name.")
            })
            .collect()
    };
    let walked = stable(walk(&agent, "snmpwalk", &[]));
    assert!(walked.len() > 40, "{walked:#?}");
    for reps in ["-Cr10", "-Cr50", "-Cr1"] {
        assert_eq!(stable(walk(&agent, "snmpbulkwalk", &[reps])), walked, "{reps}");
    }
    // SNMPv1 has no Counter64: capacities and counters are skipped, the
    // rest is there.
    let out = agent.snmp(
        "snmpwalk",
        &["-v1", "-c", "public", "-OsbQUe"],
        &["VIRTBUS-MIB::virtbusMIB"],
    );
    let v1 = String::from_utf8_lossy(&out.stdout);
    assert!(v1.contains("virtbusPoolName."), "{v1}");
    assert!(v1.contains("virtbusBlockName."), "{v1}");
    for counter64 in ["virtbusHostMemory", "virtbusPoolCapacity", "virtbusBlockReadBytes"] {
        assert!(!v1.contains(counter64), "{counter64} in a v1 walk: {v1}");
    }
}

#[test]
fn exceptions_sets_and_changes() {
    let agent = start();
    let pool_state = format!("VIRTBUS-MIB::virtbusPoolState.{}", index(IMAGES));
    let get = |oid: &str| -> String { value_of(agent.v2c("snmpget", "public", &["-OnUe"], &[oid]).trim()).to_string() };
    assert_eq!(get(&pool_state), "INTEGER: 2");
    // The index column is not readable; unknown rows and bad indexes are
    // noSuchInstance; objects we do not have are noSuchObject.
    let pool_index = format!("{ROOT}.1.2.1.1.{}", index(IMAGES));
    assert_eq!(get(&pool_index), "No Such Object available on this agent at this OID");
    assert_eq!(
        get(&format!(
            "{ROOT}.1.2.1.2.{}",
            index("99999999-0000-0000-0000-000000000000")
        )),
        "No Such Instance currently exists at this OID"
    );
    assert_eq!(
        get(&format!("{ROOT}.1.3.1.2.{}.3.1.2", index(IMAGES))),
        "No Such Instance currently exists at this OID"
    );
    assert_eq!(
        get(&format!("{ROOT}.1.1.6.1")),
        "No Such Instance currently exists at this OID"
    );
    assert_eq!(
        get(&format!("{ROOT}.1.9.1")),
        "No Such Object available on this agent at this OID"
    );

    // Nothing here is writable, even with the write community.
    let out = agent.snmp("snmpset", &["-v2c", "-c", "private", "-OnUe"], &[&pool_state, "i", "0"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("notWritable"), "{text}");
    assert_eq!(get(&pool_state), "INTEGER: 2");

    // Changes through ctl show in the very next read.
    agent.ctl(&["pool-destroy", "images"]);
    assert_eq!(get(&pool_state), "INTEGER: 0");
    agent.ctl(&["net-destroy", "default"]);
    assert_eq!(
        get(&format!("VIRTBUS-MIB::virtbusNetworkActive.{}", index(DEFAULT_NET))),
        "INTEGER: 2"
    );
    let vda = format!("VIRTBUS-MIB::virtbusBlockName.{}.{}", index(ALPHA), name_index("vda"));
    assert_eq!(get(&vda), "STRING: vda");
    agent.ctl(&["destroy", "alpha"]);
    assert_eq!(get(&vda), "No Such Instance currently exists at this OID");
    let blocks = agent.v2c("snmpwalk", "public", &["-OsbQUe"], &["VIRTBUS-MIB::virtbusBlockTable"]);
    // (An empty walk makes snmpwalk GET the table's own OID.)
    assert!(!blocks.contains("virtbusBlockName."), "{blocks}");
    assert!(blocks.contains("No Such Object"), "{blocks}");
}

#[test]
fn getnext_from_partial_and_odd_indexes() {
    let agent = start();
    let next = |oid: &str| -> String {
        let out = agent.v2c("snmpgetnext", "public", &["-OnUe", "-Ir"], &[oid]);
        out.lines().next().unwrap_or_default().to_string()
    };
    let images = index(IMAGES);
    let pool_name = format!("{ROOT}.1.2.1.2.{images} = STRING: images");
    // A partial index sorts before every row that starts with it.
    assert_eq!(next(&format!("{ROOT}.1.2.1.2.53")), pool_name);
    assert_eq!(next(&format!("{ROOT}.1.2.1.2")), pool_name);
    assert_eq!(next(&format!("{ROOT}.1.2")), pool_name);
    // An arc above 255 inside a UUID index: past every UUID starting with
    // 53, so the next column's first row.
    assert!(
        next(&format!("{ROOT}.1.2.1.2.53.999")).starts_with(&format!("{ROOT}.1.2.1.3.{images} = ")),
        "{}",
        next(&format!("{ROOT}.1.2.1.2.53.999"))
    );
    // Volumes: index = pool UUID, name length, name octets; shorter names
    // first, and a bare length sorts before the names of that length.
    let a = format!("{images}.{}", "5.97.46.105.109.103");
    assert_eq!(
        next(&format!("{ROOT}.1.3.1.2.{images}.5")),
        format!("{ROOT}.1.3.1.2.{a} = STRING: a.img")
    );
    assert!(
        next(&format!("{ROOT}.1.3.1.2.{a}")).contains("STRING: disk-b.qcow2"),
        "{}",
        next(&format!("{ROOT}.1.3.1.2.{a}"))
    );
    // From the last host scalar into the pool table.
    assert_eq!(next(&format!("{ROOT}.1.1.12.0")), pool_name);
    // Past the last interface counter: out of VIRTBUS-MIB into LIBVIRT-MIB
    // (the first guest name: gamma, lowest UUID).
    let last = format!("{ROOT}.1.6.1.10.{}.5.118.110.101.116.48", index(ALPHA));
    assert_eq!(
        next(&last),
        format!(".1.3.6.1.4.1.36957.1.1.1.2.{} = STRING: \"gamma\"", index(GAMMA))
    );
}
