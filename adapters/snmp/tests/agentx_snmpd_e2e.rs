//! The AgentX subagent behind a real net-snmp `snmpd` (Debian's), started by
//! the test as master on a private unix socket (or a loopback TCP port) and a
//! loopback UDP port chosen at run time, with a config the test writes (`-C`
//! ignores the system one).
//! net-snmp's tools read, write and walk the libvirt table through snmpd
//! (v2c and v3 with snmpd's own user), traps arrive at snmptrapd through
//! snmpd, and a restarted snmpd gets the subagent back.

mod common;
use common::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ENTRY: &str = ".1.3.6.1.4.1.36957.1.1.1";

/// Where the master listens for subagents.
enum Master {
    Unix(PathBuf),
    /// `tcp:127.0.0.1:PORT` (net-snmp's `agentXSocket` syntax).
    Tcp(u16),
}

impl Master {
    /// The address in net-snmp's (and `--snmp-agentx`'s) syntax.
    fn addr(&self) -> String {
        match self {
            Master::Unix(path) => format!("unix:{}", path.display()),
            Master::Tcp(port) => format!("tcp:127.0.0.1:{port}"),
        }
    }

    fn ready(&self) -> bool {
        match self {
            Master::Unix(path) => path.exists(),
            Master::Tcp(port) => std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok(),
        }
    }
}

/// A private snmpd acting as AgentX master.
struct Snmpd {
    child: Option<Child>,
    config: PathBuf,
    master: Master,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Snmpd {
    /// snmpd with its AgentX socket on a private unix socket.
    fn start(trap_port: Option<u16>) -> Snmpd {
        let dir = tempfile::tempdir().unwrap();
        let master = Master::Unix(dir.path().join("agentx.sock"));
        Snmpd::start_at(dir, master, trap_port)
    }

    /// snmpd with its AgentX socket on a loopback TCP port free right now.
    fn start_tcp() -> Snmpd {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        Snmpd::start_at(tempfile::tempdir().unwrap(), Master::Tcp(port), None)
    }

    fn start_at(dir: tempfile::TempDir, master: Master, trap_port: Option<u16>) -> Snmpd {
        let port = free_udp_port();
        let mut text = format!(
            "master agentx\nagentXSocket {}\nagentXTimeout 5\nrocommunity public 127.0.0.1\n\
             rwcommunity private 127.0.0.1\nagentaddress udp:127.0.0.1:{port}\npersistentDir {}\n\
             createUser alice SHA-256 \"alice-auth-pass\" AES \"alice-priv-pass\"\nrwuser alice priv\n",
            master.addr(),
            dir.path().join("persist").display()
        );
        if let Some(trap_port) = trap_port {
            text.push_str(&format!("trap2sink 127.0.0.1:{trap_port} public\n"));
        }
        let config = dir.path().join("snmpd.conf");
        std::fs::write(&config, text).unwrap();
        let mut snmpd = Snmpd {
            child: None,
            config,
            master,
            port,
            _dir: dir,
        };
        snmpd.spawn();
        snmpd
    }

    fn spawn(&mut self) {
        let child = Command::new(sbin("VIRTBUS_TEST_SNMPD", "snmpd"))
            .args(["-f", "-Lo", "-C", "-c"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("snmpd starts");
        self.child = Some(child);
        let started = Instant::now();
        while !self.master.ready() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "snmpd opened no agentx socket at {}",
                self.master.addr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Master::Unix(path) = &self.master {
            let _ = std::fs::remove_file(path);
        }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A net-snmp tool through snmpd: (success, stdout+stderr).
    fn tool(&self, tool: &str, opts: &[&str], rest: &[&str]) -> (bool, String) {
        let out = Command::new(tool)
            .args([
                "-M",
                &mib_dirs(),
                "-m",
                "LIBVIRT-MIB:VIRTBUS-MIB",
                "-t",
                "3",
                "-r",
                "1",
                "-OnUe",
                "-Ir",
            ])
            .args(opts)
            .arg(self.target())
            .args(rest)
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs (run scripts/test to install net-snmp): {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success() && !text.contains("Error in packet"), text)
    }

    fn v2c(&self, tool: &str, community: &str, rest: &[&str]) -> String {
        let (ok, text) = self.tool(tool, &["-v2c", "-c", community], rest);
        assert!(ok, "{tool} {rest:?}: {text}");
        text
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// virtbus with only the subagent (no native UDP agent).
fn subagent(snmpd: &Snmpd) -> Agent {
    let master = snmpd.master.addr();
    let mut agent = Agent::start_with(&[], &["--snmp-listen", "off", "--snmp-agentx", &master], None);
    wait_registered(&mut agent, 1);
    agent
}

fn wait_registered(agent: &mut Agent, times: usize) {
    let started = Instant::now();
    loop {
        let n = agent
            .drain()
            .iter()
            .filter(|l| l.contains("agentx registered LIBVIRT-MIB"))
            .count();
        if n >= times {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "subagent did not register ({times}):\n{}",
            agent.log_lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn state_oid(uuid: &str) -> String {
    format!("{ENTRY}.3.{}", index(uuid))
}

fn table_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(ENTRY))
        .map(str::to_string)
        .collect()
}

#[test]
fn walk_get_and_bulkwalk_through_snmpd() {
    let snmpd = Snmpd::start(None);
    let agent = subagent(&snmpd);
    let walk = table_lines(&snmpd.v2c("snmpwalk", "public", &[".1.3.6.1.4.1.36957"]));
    // 3 guests × 7 readable columns, in OID order (gamma 0a.., alpha 11.., beta 22..).
    assert_eq!(walk.len(), 21, "{walk:#?}");
    assert!(
        walk[0].ends_with(&format!("2.{} = STRING: \"gamma\"", index(GAMMA))),
        "{}",
        walk[0]
    );
    assert!(
        walk[1].contains("\"alpha\"") && walk[2].contains("\"beta\""),
        "{walk:#?}"
    );
    assert_eq!(value_of(&walk[3]), "INTEGER: 5");
    assert_eq!(value_of(&walk[4]), "INTEGER: 1");
    assert_eq!(value_of(&walk[5]), "INTEGER: 3");
    assert_eq!(value_of(&walk[10]), "Gauge32: 512", "alpha MemoryCurrent in MiB");
    let bulk = table_lines(&snmpd.v2c("snmpbulkwalk", "public", &["-Cr50", ".1.3.6.1.4.1.36957"]));
    // CpuTime of a running guest moves between walks; compare all but column 7.
    let stable = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| !l.starts_with(&format!("{ENTRY}.7.")))
            .cloned()
            .collect()
    };
    assert_eq!(stable(&bulk), stable(&walk));
    let names = agent.ctl(&["list", "--all"]);
    for name in ["alpha", "beta", "gamma"] {
        assert!(names.contains(name));
    }
    let get = snmpd.v2c(
        "snmpget",
        "public",
        &[
            &format!("{ENTRY}.2.{}", index(BETA)),
            &format!("{ENTRY}.1.{}", index(BETA)),
        ],
    );
    assert!(get.contains("STRING: \"beta\""), "{get}");
    assert!(get.contains("No Such Object"), "column 1 is not readable: {get}");
    let missing = snmpd.v2c(
        "snmpget",
        "public",
        &[&format!("{ENTRY}.2.{}", index("99999999-0000-0000-0000-000000000000"))],
    );
    assert!(missing.contains("No Such Instance"), "{missing}");
}

/// Waits until one trap mentions every needle.
fn wait_for(traps: &TrapReceiver, needles: &[&str]) -> String {
    traps.wait(
        Duration::from_secs(20),
        &format!("trap with {needles:?} not received"),
        |text| needles.iter().all(|n| text.contains(n)).then(|| text.to_string()),
    )
}

#[test]
fn sets_through_snmpd_change_guests_and_traps_arrive() {
    let traps = TrapReceiver::start();
    let snmpd = Snmpd::start(Some(traps.port));
    let agent = subagent(&snmpd);
    let alpha = state_oid(ALPHA);

    // Read-only community: snmpd refuses, nothing changes.
    let (ok, text) = snmpd.tool("snmpset", &["-v2c", "-c", "public"], &[&alpha, "i", "3"]);
    assert!(!ok, "{text}");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "running");

    // running → paused through the write community; visible to the next GET.
    snmpd.v2c("snmpset", "private", &[&alpha, "i", "3"]);
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "paused");
    assert_eq!(value_of(snmpd.v2c("snmpget", "public", &[&alpha]).trim()), "INTEGER: 3");
    // libvirtGuestNotif with alpha's name, relayed by snmpd.
    wait_for(&traps, &[".1.3.6.1.4.1.36957.0.1", "\"alpha\""]);

    // Refusals keep the protocol's own status, and change nothing.
    let (ok, text) = snmpd.tool("snmpset", &["-v2c", "-c", "private"], &[&alpha, "i", "4"]);
    assert!(!ok && text.contains("inconsistentValue"), "{text}");
    let (ok, text) = snmpd.tool("snmpset", &["-v2c", "-c", "private"], &[&alpha, "s", "x"]);
    assert!(!ok && text.contains("wrongType"), "{text}");
    let (ok, text) = snmpd.tool(
        "snmpset",
        &["-v2c", "-c", "private"],
        &[&format!("{ENTRY}.2.{}", index(ALPHA)), "s", "x"],
    );
    assert!(!ok && text.contains("notWritable"), "{text}");
    // All or nothing: alpha resume is fine, gamma (shut off) cannot pause.
    let (ok, text) = snmpd.tool(
        "snmpset",
        &["-v2c", "-c", "private"],
        &[&alpha, "i", "1", &state_oid(GAMMA), "i", "3"],
    );
    assert!(!ok && text.contains("inconsistentValue"), "{text}");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "paused");
    assert_eq!(agent.ctl(&["domstate", "gamma"]).trim(), "shut off");

    // v3 through snmpd's own user: paused → running.
    let v3 = [
        "-v3",
        "-l",
        "authPriv",
        "-u",
        "alice",
        "-a",
        "SHA-256",
        "-A",
        "alice-auth-pass",
        "-x",
        "AES",
        "-X",
        "alice-priv-pass",
    ];
    let (ok, text) = snmpd.tool("snmpset", &v3, &[&alpha, "i", "1"]);
    assert!(ok, "{text}");
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "running");
    let (ok, text) = snmpd.tool("snmpget", &v3, &[&format!("{ENTRY}.2.{}", index(ALPHA))]);
    assert!(ok && text.contains("\"alpha\""), "{text}");

    // RowStatus destroy and createAndGo.
    let row = format!("{ENTRY}.9.{}", index(BETA));
    snmpd.v2c("snmpset", "private", &[&row, "i", "6"]);
    assert_eq!(agent.ctl(&["domstate", "beta"]).trim(), "shut off");
    snmpd.v2c("snmpset", "private", &[&row, "i", "4"]);
    assert_eq!(agent.ctl(&["domstate", "beta"]).trim(), "running");
    wait_for(&traps, &["\"beta\""]);
}

#[test]
fn subagent_reregisters_after_snmpd_restart() {
    let mut snmpd = Snmpd::start(None);
    let mut agent = subagent(&snmpd);
    let names = |snmpd: &Snmpd| table_lines(&snmpd.v2c("snmpwalk", "public", &[&format!("{ENTRY}.2")]));
    let before = names(&snmpd);
    assert_eq!(before.len(), 3, "{before:#?}");
    snmpd.stop();
    // While the master is away the subagent keeps trying; the core still works.
    std::thread::sleep(Duration::from_millis(500));
    assert!(agent.ctl(&["list", "--all"]).contains("alpha"));
    snmpd.spawn();
    wait_registered(&mut agent, 2);
    assert_eq!(names(&snmpd), before);
    // And a SET after the restart still reaches the core.
    snmpd.v2c("snmpset", "private", &[&state_oid(ALPHA), "i", "3"]);
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "paused");
}

#[test]
fn subagent_over_tcp_master_walks_and_sets() {
    let mut snmpd = Snmpd::start_tcp();
    let mut agent = subagent(&snmpd);
    assert!(
        agent.log_lines.iter().any(|l| l.contains("master at tcp:127.0.0.1:")),
        "{:#?}",
        agent.log_lines
    );
    // The same table as through the unix socket: 3 guests × 7 columns.
    let walk = table_lines(&snmpd.v2c("snmpwalk", "public", &[".1.3.6.1.4.1.36957"]));
    assert_eq!(walk.len(), 21, "{walk:#?}");
    assert!(walk[1].contains("\"alpha\""), "{walk:#?}");
    let bulk = table_lines(&snmpd.v2c("snmpbulkwalk", "public", &["-Cr10", &format!("{ENTRY}.2")]));
    assert_eq!(bulk, walk[..3].to_vec());
    snmpd.v2c("snmpset", "private", &[&state_oid(ALPHA), "i", "3"]);
    assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "paused");
    // A TCP master that restarts gets the subagent back too.
    snmpd.stop();
    snmpd.spawn();
    wait_registered(&mut agent, 2);
    assert_eq!(
        value_of(snmpd.v2c("snmpget", "public", &[&state_oid(ALPHA)]).trim()),
        "INTEGER: 3"
    );
}

/// `OID = value` lines of the VIRTBUS-MIB subtree, counters left out (they
/// move between walks).
fn ext_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(".1.3.6.1.4.1.32473."))
        .filter(|l| !l.starts_with(".1.3.6.1.4.1.32473.1.5.1.") || l.starts_with(".1.3.6.1.4.1.32473.1.5.1.2."))
        .filter(|l| !l.starts_with(".1.3.6.1.4.1.32473.1.6.1.") || l.starts_with(".1.3.6.1.4.1.32473.1.6.1.2."))
        .map(str::to_string)
        .collect()
}

#[test]
fn extension_mib_through_snmpd_matches_the_native_agent() {
    for tcp in [false, true] {
        let snmpd = if tcp { Snmpd::start_tcp() } else { Snmpd::start(None) };
        // Both front ends in one agent: the native walk is the reference.
        let mut agent = Agent::start_on(
            EXT_NODE_XML,
            &["--snmp-listen", "udp:127.0.0.1:0"],
            &["--snmp-agentx", &snmpd.master.addr()],
            None,
        );
        wait_registered(&mut agent, 1);
        let native = ext_lines(&agent.v2c("snmpwalk", "public", &["-OnUe"], &[".1.3.6.1.4.1.32473"]));
        // Host (12) + pool (10) + volumes (2 × 8) + networks (2 × 7) +
        // block and interface names (2 + 1).
        assert_eq!(native.len(), 12 + 10 + 16 + 14 + 3, "{native:#?}");
        let through = ext_lines(&snmpd.v2c("snmpwalk", "public", &[".1.3.6.1.4.1.32473"]));
        assert_eq!(through, native, "tcp: {tcp}");
        let bulk = ext_lines(&snmpd.v2c("snmpbulkwalk", "public", &["-Cr50", ".1.3.6.1.4.1.32473"]));
        assert_eq!(bulk, native, "tcp: {tcp}");
        // The guest table is still there beside it.
        assert_eq!(
            table_lines(&snmpd.v2c("snmpwalk", "public", &[&format!("{ENTRY}.2")])).len(),
            2
        );
    }
}
