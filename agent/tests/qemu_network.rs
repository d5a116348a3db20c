//! Virtual networks of the native qemu driver, end to end: the real
//! `virtbus serve --connect qemu:///system` runs inside a network namespace
//! this test creates (`ip netns add vbtest-<pid>-<test>`), so the bridges,
//! nftables tables, dnsmasq and taps it makes never touch the host's own
//! network; `ip netns exec NS ip -j …` and `nft list table …` check them.
//! A real TCG qemu guest (disk-less, idling in SeaBIOS) gets an interface
//! on a NAT network.
//!
//! Needs root (namespaces, bridges, taps); without it each test says why
//! and returns. The guard kills the qemu and dnsmasq processes this test's
//! agent started (by their pid files, checked against their command line)
//! and deletes the namespace, also when an assertion fails.

mod common;

use common::Agent;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Returns false (after saying why) when the test cannot run here.
fn can_run(test: &str) -> bool {
    if is_root() {
        return true;
    }
    eprintln!(
        "skipping {test}: it needs root to create a network namespace, bridges and tap devices \
         (virtual networks exist only under qemu:///system as root)"
    );
    false
}

fn qemu_binary() -> String {
    let path = std::env::var("VIRTBUS_TEST_QEMU").unwrap_or_else(|_| "/usr/bin/qemu-system-x86_64".into());
    assert!(
        Path::new(&path).exists(),
        "qemu-system-x86_64 not found at {path}: run scripts/test, which installs Debian's qemu-system-x86"
    );
    path
}

/// A network namespace of this test, with the state dir of the agent run
/// in it. Dropped: the agent's qemu and dnsmasq processes are killed and
/// the namespace deleted.
struct TestNet {
    name: String,
    state: PathBuf,
}

impl TestNet {
    fn new(tag: &str, state: &Path) -> TestNet {
        let name = format!("vbtest-{}-{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("ip runs");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let net = TestNet {
            name,
            state: state.to_path_buf(),
        };
        net.ok(&["ip", "link", "set", "lo", "up"]);
        net
    }

    /// Runs a command inside the namespace.
    fn run(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("ip netns exec runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ip -j -d link show` of one device, if it exists.
    fn link(&self, dev: &str) -> Option<Value> {
        let out = self.run(&["ip", "-j", "-d", "link", "show", "dev", dev]);
        if !out.status.success() {
            return None;
        }
        let list: Value = serde_json::from_slice(&out.stdout).expect("ip -j is JSON");
        list.get(0).cloned()
    }

    /// The IPv4 addresses (address/prefix) of a device.
    fn ipv4(&self, dev: &str) -> Vec<String> {
        let text = self.ok(&["ip", "-j", "addr", "show", "dev", dev]);
        let list: Value = serde_json::from_str(&text).expect("ip -j is JSON");
        list[0]["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["family"] == "inet")
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or(""), a["prefixlen"]))
            .collect()
    }

    fn nft_table(&self, table: &str) -> Option<String> {
        let out = self.run(&["nft", "list", "table", "ip", table]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn start_agent(&self) -> Agent {
        let qemu = qemu_binary();
        Agent::start_wrapped(
            &["ip", "netns", "exec", &self.name],
            &self.state,
            &[
                "--connect",
                "qemu:///system",
                "--snmp-listen",
                "off",
                "--cim-listen",
                "off",
            ],
            &[("VIRTBUS_QEMU_EMULATORS", &qemu)],
        )
    }

    /// (file stem, pid) of the pid files under `run/SUB`.
    fn pid_files(&self, sub: &str) -> Vec<(String, i32)> {
        let Ok(entries) = std::fs::read_dir(self.state.join("run").join(sub)) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".pid")?.to_string();
                let pid = std::fs::read_to_string(e.path()).ok()?.trim().parse().ok()?;
                Some((stem, pid))
            })
            .collect()
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for sub in ["qemu", "network"] {
            for (uuid, pid) in self.pid_files(sub) {
                if process_runs_for(pid, &uuid) {
                    let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Whether `pid` is a live (not zombie) process with `uuid` on its command line.
fn process_runs_for(pid: i32, uuid: &str) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    !zombie && String::from_utf8_lossy(&cmdline).contains(uuid)
}

fn write_xml(dir: &Path, name: &str, xml: &str) -> String {
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, xml).expect("xml written");
    path.to_string_lossy().into_owned()
}

fn nat_network(name: &str, uuid: &str, bridge: &str, third_octet: u8) -> String {
    format!(
        "<network><name>{name}</name><uuid>{uuid}</uuid><forward mode='nat'/><bridge name='{bridge}'/>\
         <ip address='192.168.{third_octet}.1' netmask='255.255.255.0'>\
         <dhcp><range start='192.168.{third_octet}.10' end='192.168.{third_octet}.20'/></dhcp></ip></network>"
    )
}

fn guest_on(name: &str, uuid: &str, network: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>\
         <devices><emulator>{}</emulator>\
         <interface type='network'><mac address='52:54:00:3a:00:01'/><source network='{network}'/><model type='e1000'/></interface>\
         <memballoon model='none'/></devices></domain>",
        qemu_binary()
    )
}

/// The `Active:` line of `net-info`.
fn is_active(agent: &Agent, network: &str) -> bool {
    let info = agent.ok(&["net-info", network]);
    let line = info
        .lines()
        .find(|l| l.starts_with("Active:"))
        .unwrap_or_else(|| panic!("no Active line: {info}"));
    line.trim_end().ends_with("yes")
}

fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    wait_for_long(what, Duration::from_secs(20), cond)
}

fn wait_for_long(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const NET_UUID: &str = "5a1e0000-0000-4000-8000-000000000001";

#[test]
fn a_nat_network_gets_a_bridge_dnsmasq_and_nft_table_and_a_guest_gets_a_tap() {
    if !can_run("a_nat_network_gets_a_bridge_dnsmasq_and_nft_table_and_a_guest_gets_a_tap") {
        return;
    }
    let state = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let ns = TestNet::new("nat", state.path());
    let agent = ns.start_agent();

    let xml = nat_network("vbnat", NET_UUID, "vbbr0", 150);
    agent.ok(&["net-define", &write_xml(files.path(), "net", &xml)]);
    assert!(ns.link("vbbr0").is_none(), "defining makes nothing on the host");
    assert!(agent.ok(&["net-list", "--all"]).contains("vbnat"));
    agent.ok(&["net-start", "vbnat"]);

    // The bridge, with the <ip> address.
    let link = ns.link("vbbr0").expect("bridge made");
    assert_eq!(link["linkinfo"]["info_kind"], "bridge", "{link}");
    assert!(
        link["flags"].as_array().is_some_and(|f| f.iter().any(|x| x == "UP")),
        "{link}"
    );
    assert_eq!(ns.ipv4("vbbr0"), vec!["192.168.150.1/24".to_string()]);
    // dnsmasq, with its own pid file under run/network/.
    let dnsmasq = ns.pid_files("network");
    assert_eq!(dnsmasq.len(), 1, "{dnsmasq:?}");
    let (stem, pid) = dnsmasq[0].clone();
    assert_eq!(stem, NET_UUID);
    assert!(process_runs_for(pid, NET_UUID), "dnsmasq {pid} runs");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    assert!(String::from_utf8_lossy(&cmdline).contains("dnsmasq"));
    let conf = std::fs::read_to_string(state.path().join(format!("run/network/{NET_UUID}.conf"))).expect("conf");
    assert!(
        conf.contains("dhcp-range=192.168.150.10,192.168.150.20,255.255.255.0"),
        "{conf}"
    );
    // Our own nftables table, named after the network, masquerading.
    let table = ns.nft_table("virtbus-vbnat").expect("nft table made");
    assert!(
        table.contains("masquerade") && table.contains("192.168.150.0/24"),
        "{table}"
    );
    assert_eq!(
        ns.ok(&["cat", "/proc/sys/net/ipv4/ip_forward"]).trim(),
        "1",
        "NAT turns forwarding on (in the namespace)"
    );
    assert!(is_active(&agent, "vbnat"));
    assert!(agent.ok(&["net-dumpxml", "vbnat"]).contains("name='vbbr0'"));

    // A guest on the network: a tap on the bridge, named in the live XML.
    let guest_uuid = "5a1e0000-0000-4000-8000-0000000000a1";
    agent.ok(&[
        "define",
        &write_xml(files.path(), "g", &guest_on("netguest", guest_uuid, "vbnat")),
    ]);
    agent.ok(&["start", "netguest"]);
    assert_eq!(agent.ok(&["domstate", "netguest"]).trim(), "running");
    let live = agent.ok(&["dumpxml", "netguest"]);
    assert!(live.contains("<target dev='vnet0'/>"), "{live}");
    assert!(live.contains("bridge='vbbr0'"), "{live}");
    let tap = ns.link("vnet0").expect("tap made");
    assert_eq!(tap["master"], "vbbr0", "the tap is enslaved to the bridge: {tap}");
    assert_eq!(tap["linkinfo"]["info_kind"], "tun", "{tap}");
    assert_eq!(
        tap["address"], "fe:54:00:3a:00:01",
        "the guest's MAC with 0xfe first: {tap}"
    );
    // qemu opened that tap.
    let qemu = ns.pid_files("qemu");
    assert_eq!(qemu.len(), 1);
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{}/cmdline", qemu[0].1)).expect("cmdline"))
        .replace('\0', " ");
    assert!(cmdline.contains("\"ifname\":\"vnet0\""), "{cmdline}");
    // The config keeps no tap: it is made at each start.
    assert!(!agent.ok(&["dumpxml", "netguest", "--inactive"]).contains("vnet0"));
    // The guest network-boots: its firmware (iPXE) asks for an address
    // through tap and bridge, and our dnsmasq leases one from the range.
    let leases = state.path().join(format!("run/network/{NET_UUID}.leases"));
    let mut lease = String::new();
    wait_for_long("the guest got a DHCP lease", Duration::from_secs(120), || {
        lease = std::fs::read_to_string(&leases).unwrap_or_default();
        lease.contains("52:54:00:3a:00:01")
    });
    let line = lease
        .lines()
        .find(|l| l.contains("52:54:00:3a:00:01"))
        .expect("lease line");
    let ip: std::net::Ipv4Addr = line.split_whitespace().nth(2).expect("address").parse().expect("IPv4");
    let last = ip.octets()[3];
    assert!(
        ip.octets()[..3] == [192, 168, 150] && (10..=20).contains(&last),
        "{line}"
    );
    // dnsmasq serves DNS on the bridge's address only.
    let sockets = ns.ok(&["ss", "-lun"]);
    assert!(sockets.contains("192.168.150.1:53"), "{sockets}");

    agent.ok(&["destroy", "netguest"]);
    assert!(ns.link("vnet0").is_none(), "the tap goes with the guest");
    assert!(ns.pid_files("qemu").is_empty());

    agent.ok(&["net-destroy", "vbnat"]);
    assert!(ns.link("vbbr0").is_none(), "bridge removed");
    assert!(ns.nft_table("virtbus-vbnat").is_none(), "nft table removed");
    wait_for("dnsmasq is gone", || !process_runs_for(pid, NET_UUID));
    assert!(ns.pid_files("network").is_empty(), "pid file removed");
    assert!(
        !state.path().join(format!("run/network/{NET_UUID}.json")).exists(),
        "runtime state removed"
    );
    assert!(!is_active(&agent, "vbnat"));
    agent.ok(&["undefine", "netguest"]);
    agent.ok(&["net-undefine", "vbnat"]);
    assert!(!agent.ok(&["net-list", "--all"]).contains("vbnat"));
}

#[test]
fn bad_network_input_is_refused_and_leaves_nothing_behind() {
    if !can_run("bad_network_input_is_refused_and_leaves_nothing_behind") {
        return;
    }
    let state = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let ns = TestNet::new("bad", state.path());
    let agent = ns.start_agent();

    agent.ok(&[
        "net-define",
        &write_xml(files.path(), "a", &nat_network("neta", NET_UUID, "vbbra", 160)),
    ]);
    agent.ok(&["net-start", "neta"]);

    // Another network naming the same bridge: libvirt's define-time error.
    let dup = nat_network("netb", "5a1e0000-0000-4000-8000-000000000002", "vbbra", 161);
    let err = agent.fails(&["net-define", &write_xml(files.path(), "b", &dup)]);
    assert!(err.contains("bridge name 'vbbra' already in use"), "{err}");
    assert!(!agent.ok(&["net-list", "--all"]).contains("netb"));

    // A subnet overlapping the active network's: defined, but not started.
    let overlap = "<network><name>netc</name><uuid>5a1e0000-0000-4000-8000-000000000003</uuid>\
         <forward mode='nat'/><bridge name='vbbrc'/><ip address='192.168.160.129' prefix='25'>\
         <dhcp><range start='192.168.160.130' end='192.168.160.140'/></dhcp></ip></network>";
    agent.ok(&["net-define", &write_xml(files.path(), "c", overlap)]);
    let err = agent.fails(&["net-start", "netc"]);
    assert!(err.contains("already in use by interface vbbra"), "{err}");
    assert!(ns.link("vbbrc").is_none(), "no bridge left");
    assert!(ns.nft_table("virtbus-netc").is_none(), "no table left");
    assert_eq!(ns.pid_files("network").len(), 1, "only neta's dnsmasq");

    // A bridge name a host device already has: refused at start, and the
    // host's device is left alone.
    ns.ok(&["ip", "tuntap", "add", "dev", "vbtaken", "mode", "tap"]);
    let taken = "<network><name>netd</name><uuid>5a1e0000-0000-4000-8000-000000000004</uuid>\
         <bridge name='vbtaken'/><ip address='10.231.0.1' prefix='24'/></network>";
    agent.ok(&["net-define", &write_xml(files.path(), "d", taken)]);
    let err = agent.fails(&["net-start", "netd"]);
    assert!(err.contains("vbtaken") && err.contains("already exists"), "{err}");
    assert_eq!(ns.link("vbtaken").expect("still there")["linkinfo"]["info_kind"], "tun");
    assert!(ns.nft_table("virtbus-netd").is_none());

    // Guests on an unknown or an inactive network: refused, no tap, no qemu.
    let g1 = "5a1e0000-0000-4000-8000-0000000000b1";
    agent.ok(&[
        "define",
        &write_xml(files.path(), "g1", &guest_on("lost", g1, "nosuch")),
    ]);
    let err = agent.fails(&["start", "lost"]);
    assert!(err.contains("no network with matching name 'nosuch'"), "{err}");
    let g2 = "5a1e0000-0000-4000-8000-0000000000b2";
    agent.ok(&["define", &write_xml(files.path(), "g2", &guest_on("idle", g2, "netc"))]);
    let err = agent.fails(&["start", "idle"]);
    assert!(err.contains("network 'netc' is not active"), "{err}");
    for guest in ["lost", "idle"] {
        assert_eq!(agent.ok(&["domstate", guest]).trim(), "shut off");
    }
    assert!(ns.link("vnet0").is_none(), "no tap left");
    assert!(ns.pid_files("qemu").is_empty(), "no qemu started");

    // Unsupported definitions: clear errors, nothing defined.
    for (file, xml, want) in [
        (
            "r",
            "<network><name>routed</name><forward mode='route'/></network>",
            "forward mode 'route'",
        ),
        (
            "v6",
            "<network><name>six</name><ip family='ipv6' address='fd00::1' prefix='64'/></network>",
            "IPv4 only",
        ),
    ] {
        let err = agent.fails(&["net-define", &write_xml(files.path(), file, xml)]);
        assert!(err.contains(want), "{err}");
    }
    // The agent keeps serving; the good network is untouched.
    assert!(ns.link("vbbra").is_some());
    agent.ok(&["net-destroy", "neta"]);
    assert!(ns.link("vbbra").is_none());
}

#[test]
fn an_active_network_survives_an_agent_restart_and_a_broken_one_is_cleaned() {
    if !can_run("an_active_network_survives_an_agent_restart_and_a_broken_one_is_cleaned") {
        return;
    }
    let state = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let ns = TestNet::new("restart", state.path());
    let agent = ns.start_agent();
    agent.ok(&[
        "net-define",
        &write_xml(files.path(), "n", &nat_network("keep", NET_UUID, "vbbrk", 170)),
    ]);
    agent.ok(&["net-autostart", "keep"]);
    agent.ok(&["net-start", "keep"]);
    let (_, pid) = ns.pid_files("network")[0].clone();
    let guest_uuid = "5a1e0000-0000-4000-8000-0000000000d1";
    agent.ok(&[
        "create",
        &write_xml(files.path(), "g", &guest_on("stays", guest_uuid, "keep")),
    ]);
    assert_eq!(ns.link("vnet0").expect("tap")["master"], "vbbrk");
    agent.kill9();

    // Restarted: the same dnsmasq, bridge and table, active.
    let agent = ns.start_agent();
    assert!(is_active(&agent, "keep"), "active after the restart");
    assert_eq!(ns.pid_files("network"), vec![(NET_UUID.to_string(), pid)]);
    assert!(process_runs_for(pid, NET_UUID), "the same dnsmasq runs on");
    assert!(ns.link("vbbrk").is_some() && ns.nft_table("virtbus-keep").is_some());
    // The guest was found again with its tap still on the bridge; its
    // destroy removes the tap it got before the restart.
    assert_eq!(agent.ok(&["domstate", "stays"]).trim(), "running");
    assert_eq!(ns.link("vnet0").expect("tap")["master"], "vbbrk");
    agent.ok(&["destroy", "stays"]);
    assert!(ns.link("vnet0").is_none(), "tap removed after the restart");
    // A guest whose qemu dies while the agent is down: the next agent
    // removes its tap.
    let doomed = "5a1e0000-0000-4000-8000-0000000000d2";
    agent.ok(&[
        "create",
        &write_xml(files.path(), "d", &guest_on("doomed", doomed, "keep")),
    ]);
    assert!(ns.link("vnet0").is_some());
    let (_, qemu_pid) = ns.pid_files("qemu")[0].clone();
    agent.kill9();
    let status = Command::new("kill")
        .arg("-KILL")
        .arg(qemu_pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    wait_for("the killed qemu is gone", || !process_runs_for(qemu_pid, doomed));

    // The bridge vanished while the agent was down: the next agent removes
    // the rest (dnsmasq, table), then starts the network again since it is
    // marked autostart: a fresh dnsmasq on a fresh bridge.
    ns.ok(&["ip", "link", "del", "vbbrk"]);
    let agent = ns.start_agent();
    assert!(ns.link("vnet0").is_none(), "the dead guest's tap is removed");
    wait_for("the old dnsmasq is gone", || !process_runs_for(pid, NET_UUID));
    assert!(is_active(&agent, "keep"), "autostarted");
    let (_, new_pid) = ns.pid_files("network")[0].clone();
    assert_ne!(new_pid, pid);
    assert_eq!(ns.ipv4("vbbrk"), vec!["192.168.170.1/24".to_string()]);

    // Without autostart, a broken network stays down after the cleanup.
    agent.ok(&["net-autostart", "keep", "--disable"]);
    agent.kill9();
    ns.ok(&["ip", "link", "del", "vbbrk"]);
    let agent = ns.start_agent();
    wait_for("the dnsmasq is gone", || !process_runs_for(new_pid, NET_UUID));
    assert!(!is_active(&agent, "keep"), "not restarted");
    assert!(ns.nft_table("virtbus-keep").is_none(), "stale table removed");
    assert!(ns.pid_files("network").is_empty());
    // Transient networks cannot be autostarted (libvirt's error).
    let transient = nat_network("brief", "5a1e0000-0000-4000-8000-000000000005", "vbbrt", 171);
    agent.ok(&["net-create", &write_xml(files.path(), "t", &transient)]);
    let err = agent.fails(&["net-autostart", "brief"]);
    assert!(err.contains("transient"), "{err}");
    agent.ok(&["net-destroy", "brief"]);
    assert!(ns.link("vbbrt").is_none());
}

#[test]
fn an_isolated_network_and_an_existing_host_bridge_carry_one_guest() {
    if !can_run("an_isolated_network_and_an_existing_host_bridge_carry_one_guest") {
        return;
    }
    let state = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    let ns = TestNet::new("modes", state.path());
    let agent = ns.start_agent();

    // Isolated, no bridge name: the driver names it (virbr0), as libvirt.
    let iso = "<network><name>iso</name><uuid>5a1e0000-0000-4000-8000-000000000011</uuid>\
         <ip address='10.77.1.1' prefix='24'/></network>";
    agent.ok(&["net-define", &write_xml(files.path(), "iso", iso)]);
    assert!(agent.ok(&["net-dumpxml", "iso"]).contains("<bridge name='virbr0'/>"));
    agent.ok(&["net-start", "iso"]);
    assert_eq!(ns.ipv4("virbr0"), vec!["10.77.1.1/24".to_string()]);
    let table = ns.nft_table("virtbus-iso").expect("table");
    assert!(!table.contains("masquerade"), "{table}");
    assert!(table.contains("iifname \"virbr0\" reject"), "{table}");
    assert_eq!(ns.pid_files("network").len(), 1, "dnsmasq for DNS on the bridge");

    // forward mode='bridge' on a bridge the host made: nothing created.
    let lan = "<network><name>lan</name><uuid>5a1e0000-0000-4000-8000-000000000012</uuid>\
         <forward mode='bridge'/><bridge name='hostbr'/></network>";
    agent.ok(&["net-define", &write_xml(files.path(), "lan", lan)]);
    let err = agent.fails(&["net-start", "lan"]);
    assert!(err.contains("bridge 'hostbr' of network 'lan' does not exist"), "{err}");
    ns.ok(&["ip", "link", "add", "hostbr", "type", "bridge"]);
    agent.ok(&["net-start", "lan"]);
    assert!(ns.nft_table("virtbus-lan").is_none(), "no table for a host bridge");
    assert_eq!(ns.pid_files("network").len(), 1, "no dnsmasq for a host bridge");

    let guest = format!(
        "<domain type='qemu'><name>twonics</name><uuid>5a1e0000-0000-4000-8000-0000000000c1</uuid>\
         <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>{}</emulator>\
         <interface type='network'><mac address='52:54:00:3a:00:11'/><source network='iso'/><model type='e1000'/></interface>\
         <interface type='network'><mac address='52:54:00:3a:00:12'/><source network='lan'/><model type='e1000'/></interface>\
         <memballoon model='none'/></devices></domain>",
        qemu_binary()
    );
    agent.ok(&["create", &write_xml(files.path(), "twonics", &guest)]);
    assert_eq!(ns.link("vnet0").expect("first tap")["master"], "virbr0");
    assert_eq!(ns.link("vnet1").expect("second tap")["master"], "hostbr");
    agent.ok(&["destroy", "twonics"]);
    assert!(ns.link("vnet0").is_none() && ns.link("vnet1").is_none(), "taps removed");

    agent.ok(&["net-destroy", "lan"]);
    assert!(ns.link("hostbr").is_some(), "the host's bridge stays");
    agent.ok(&["net-destroy", "iso"]);
    assert!(ns.link("virbr0").is_none(), "our bridge goes");
    assert!(ns.nft_table("virtbus-iso").is_none());
    assert!(ns.pid_files("network").is_empty());
}
