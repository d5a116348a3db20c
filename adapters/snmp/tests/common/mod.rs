//! Shared helpers for the SNMP end-to-end tests: a real `virtbus serve` on
//! loopback ports chosen at run time, the real net-snmp tools, and a node
//! file with guests in several states.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const ALPHA: &str = "11111111-2222-3333-4444-555555555555";
pub const BETA: &str = "22222222-0000-0000-0000-00000000beef";
pub const GAMMA: &str = "0aaaaaaa-0000-0000-0000-000000000001";

/// Three guests: alpha running, beta paused, gamma shut off.
pub const NODE_XML: &str = r#"<node>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>alpha</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory>1048576</memory><currentMemory>524288</currentMemory><vcpu>2</vcpu>
  <os><type>hvm</type></os>
</domain>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>beta</name><uuid>22222222-0000-0000-0000-00000000beef</uuid>
  <memory>2097152</memory><currentMemory>2097152</currentMemory><vcpu>4</vcpu>
  <os><type>hvm</type></os>
  <test:runstate>3</test:runstate>
</domain>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>gamma</name><uuid>0aaaaaaa-0000-0000-0000-000000000001</uuid>
  <memory>524288</memory><currentMemory>262144</currentMemory><vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <test:runstate>5</test:runstate>
</domain>
</node>
"#;

/// A host with more than guests, for VIRTBUS-MIB: alpha running with two
/// disks and an interface, gamma shut off with a disk, two networks (one
/// NAT with a bridge, one isolated) and a dir pool with two volumes.
pub const EXT_NODE_XML: &str = r#"<node>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>alpha</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory>1048576</memory><currentMemory>524288</currentMemory><vcpu>2</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/guests/alpha.img'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><source file='/guests/alpha-data.img'/><target dev='vdb' bus='virtio'/></disk>
    <interface type='network'><source network='default'/><target dev='vnet0'/></interface>
  </devices>
</domain>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>gamma</name><uuid>0aaaaaaa-0000-0000-0000-000000000001</uuid>
  <memory>524288</memory><currentMemory>262144</currentMemory><vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices><disk type='file' device='disk'><source file='/guests/gamma.img'/><target dev='vda' bus='virtio'/></disk></devices>
  <test:runstate>5</test:runstate>
</domain>
<network>
  <name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/><bridge name='virbr0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'/>
</network>
<network>
  <name>isolated</name><uuid>a1111111-1111-2222-3333-444444444444</uuid>
</network>
<pool type='dir'>
  <name>images</name><uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
  <capacity unit='bytes'>107374182400</capacity>
  <allocation unit='bytes'>21474836480</allocation>
  <available unit='bytes'>85899345920</available>
  <target><path>/var/lib/images</path></target>
  <volume type='file'>
    <name>disk-b.qcow2</name><capacity unit='bytes'>10737418240</capacity><allocation unit='bytes'>1073741824</allocation>
    <target><format type='qcow2'/></target>
  </volume>
  <volume>
    <name>a.img</name><capacity unit='bytes'>5368709120</capacity>
  </volume>
</pool>
</node>
"#;

pub fn bin() -> PathBuf {
    if let Some(path) = std::env::var_os("VIRTBUS_BIN") {
        return path.into();
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("debug/virtbus");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/virtbus")
}

pub fn mib_dirs() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/mibs");
    format!("+{}:{}", root.display(), root.join("base").display())
}

/// A UDP port free right now on 127.0.0.1 (for snmptrapd, which cannot
/// report the port it bound).
pub fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// The 16 UUID bytes as dotted sub-identifiers.
pub fn index(uuid: &str) -> String {
    let u = uuid::Uuid::parse_str(uuid).unwrap();
    u.as_bytes().iter().map(|b| b.to_string()).collect::<Vec<_>>().join(".")
}

pub struct Agent {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub ports: Vec<String>,
    logs: mpsc::Receiver<String>,
    pub log_lines: Vec<String>,
}

impl Agent {
    /// `virtbus serve` on the test node file with SNMP on 127.0.0.1:0 plus
    /// `args`.
    pub fn start(args: &[&str]) -> Agent {
        Agent::start_with(&["--snmp-listen", "udp:127.0.0.1:0"], args, None)
    }

    pub fn start_with(listen: &[&str], args: &[&str], config: Option<&str>) -> Agent {
        Agent::start_on(NODE_XML, listen, args, config)
    }

    /// Like [`Agent::start_with`], on another node file.
    pub fn start_on(node_xml: &str, listen: &[&str], args: &[&str], config: Option<&str>) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("node.xml");
        std::fs::write(&node, node_xml).unwrap();
        let mut cmd = Command::new(bin());
        cmd.arg("serve")
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--connect")
            .arg(format!("test://{}", node.display()))
            .args(["--cim-listen", "off"])
            .args(listen)
            .args(args)
            .env_remove("VIRTBUS_AMQP_URL")
            .env_remove("VIRTBUS_STATE_DIR")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(text) = config {
            let path = dir.path().join("virtbus.toml");
            std::fs::write(&path, text).unwrap();
            cmd.arg("--config").arg(path);
        }
        let mut child = cmd
            .spawn()
            .expect("virtbus serve starts (build it with cargo build -p virtbus)");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut agent = Agent {
            child,
            dir,
            port: 0,
            ports: Vec::new(),
            logs: rx,
            log_lines: Vec::new(),
        };
        agent.wait_ready(listen.len() / 2);
        agent
    }

    fn wait_ready(&mut self, sockets: usize) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain();
                panic!("agent exited early with {status}:\n{}", self.log_lines.join("\n"));
            }
            self.drain();
            self.ports = self
                .log_lines
                .iter()
                .filter_map(|l| l.split("snmp: listening on udp:").nth(1))
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
                .collect();
            if self.log_lines.iter().any(|l| l.contains("ctl: listening")) && sockets == 0 {
                // No native agent (e.g. the AgentX subagent alone).
                return;
            }
            if self.log_lines.iter().any(|l| l.contains("ctl: listening")) && self.ports.len() >= sockets {
                let first = self.ports[0]
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .trim_end_matches(|c: char| !c.is_ascii_digit());
                self.port = first.parse().unwrap();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("agent not ready:\n{}", self.log_lines.join("\n"));
    }

    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.logs.try_recv() {
            self.log_lines.push(line);
        }
        &self.log_lines
    }

    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `virtbus ctl ARGS` → stdout (asserting success).
    pub fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new(bin())
            .arg("ctl")
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a net-snmp tool against the agent with our MIBs loaded.
    pub fn snmp(&self, tool: &str, opts: &[&str], rest: &[&str]) -> Output {
        Command::new(tool)
            .args(["-M", &mib_dirs(), "-m", "LIBVIRT-MIB:VIRTBUS-MIB", "-t", "2", "-r", "1"])
            .args(opts)
            .arg(self.target())
            .args(rest)
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs (apt-get install snmp): {e}"))
    }

    /// A v2c tool run with `community`, stdout as text (asserting success).
    pub fn v2c(&self, tool: &str, community: &str, extra: &[&str], rest: &[&str]) -> String {
        let mut opts = vec!["-v2c", "-c", community];
        opts.extend_from_slice(extra);
        let out = self.snmp(tool, &opts, rest);
        assert!(
            out.status.success(),
            "{tool} {rest:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value part of a `-On` output line (`OID = TYPE: value`).
pub fn value_of(line: &str) -> &str {
    line.split_once(" = ").map(|(_, v)| v).unwrap_or("")
}

/// A system tool from `/usr/sbin` (or the path in `env`), or a failure
/// telling how to get it.
pub fn sbin(env: &str, name: &str) -> PathBuf {
    let path = std::env::var(env)
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new("/usr/sbin").join(name));
    assert!(
        path.exists(),
        "{} not found: run scripts/test (scripts/setup/20-snmp.sh installs snmpd and snmptrapd)",
        path.display()
    );
    path
}

/// Debian's snmptrapd on a loopback port of its own, logging every
/// notification (numeric OIDs) to a file; stopped on drop.
pub struct TrapReceiver {
    child: Child,
    log: PathBuf,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl TrapReceiver {
    pub fn start() -> TrapReceiver {
        TrapReceiver::start_with("")
    }

    /// With `conf_extra` appended to its configuration (e.g. `format1`
    /// lines).
    pub fn start_with(conf_extra: &str) -> TrapReceiver {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("snmptrapd.conf");
        std::fs::write(
            &conf,
            format!("disableAuthorization yes\ndoNotLogTraps no\n{conf_extra}"),
        )
        .unwrap();
        let log = dir.path().join("traps.log");
        let port = free_udp_port();
        let child = Command::new(sbin("VIRTBUS_TEST_SNMPTRAPD", "snmptrapd"))
            .args(["-f", "-n", "-C", "-c"])
            .arg(&conf)
            .args(["-M", &mib_dirs(), "-m", "LIBVIRT-MIB", "-OnUe", "-Lf"])
            .arg(&log)
            .arg(format!("udp:127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("snmptrapd starts");
        // Wait until it has opened its log (it writes a start line).
        let receiver = TrapReceiver {
            child,
            log,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) && !receiver.text().contains("NET-SNMP version") {
            std::thread::sleep(Duration::from_millis(50));
        }
        receiver
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls the log until `found` answers, failing after `limit` with
    /// `what` and the log.
    pub fn wait<T>(&self, limit: Duration, what: &str, found: impl Fn(&str) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            let text = self.text();
            if let Some(result) = found(&text) {
                return result;
            }
            assert!(started.elapsed() < limit, "{what}:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TrapReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
