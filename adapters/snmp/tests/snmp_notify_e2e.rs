//! Notification modes against Debian's `snmptrapd`: SNMPv1 traps (RFC 3584
//! §3.2 mapping of libvirtGuestNotif) and SNMPv2c informs that snmptrapd
//! acknowledges, retransmitted when an acknowledgement does not come.

mod common;
use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// snmptrapd printing one line per notification in a format the test
/// parses: version, community, enterprise, generic and specific trap, agent
/// address, then the varbinds.
fn start_receiver() -> TrapReceiver {
    TrapReceiver::start_with(
        "format1 V1TRAP version=%s community=%P enterprise=%N generic=%w specific=%q agent=%a varbinds=%v\\n\n\
         format2 V2NOTIF version=%s community=%P varbinds=%v\\n\n",
    )
}

/// The notification lines starting with `kind` that mention `needle`, once
/// there are `count` of them.
fn wait_for(traps: &TrapReceiver, kind: &str, needle: &str, count: usize) -> Vec<String> {
    traps.wait(
        Duration::from_secs(20),
        &format!("waited for {count} {kind} with {needle}"),
        |text| {
            let lines: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with(kind) && l.contains(needle))
                .map(str::to_string)
                .collect();
            (lines.len() >= count).then_some(lines)
        },
    )
}

#[test]
fn v1_traps_map_enterprise_and_specific_trap() {
    let traps = start_receiver();
    let config = format!(
        "[snmp]\ntrap_version = \"v1\"\ntrap_community = \"traps\"\ntrap_sinks = [\"udp:127.0.0.1:{}\"]\n",
        traps.port
    );
    let agent = Agent::start_with(&["--snmp-listen", "udp:127.0.0.1:0"], &[], Some(&config));
    agent.ctl(&["suspend", "alpha"]);
    let lines = wait_for(&traps, "V1TRAP", "\"alpha\"", 1);
    let line = &lines[0];
    // RFC 3584 §3.2: snmpTrapOID libvirtGuestNotif = libvirtMIB.0.1, so the
    // enterprise is libvirtMIB, generic-trap enterpriseSpecific(6) and
    // specific-trap 1; agent-addr is the sending agent's address.
    for part in [
        "version=0 ",
        "community traps ",
        "enterprise=.1.3.6.1.4.1.36957 ",
        "generic=6 ",
        "agent=127.0.0.1 ",
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
    // snmptrapd prints the specific-trap number as ".N".
    let specific = line.split("specific=").nth(1).and_then(|r| r.split(' ').next());
    assert_eq!(specific.map(|s| s.trim_start_matches('.')), Some("1"), "{line}");
    // The varbinds are libvirtGuestNotif's objects (no sysUpTime or
    // snmpTrapOID, which v1 carries in the header): alpha, now paused(3),
    // row active(1).
    // (The MIB's UUID display hint prints the 16 octets in text form.)
    let uuid = format!(".1.3.6.1.4.1.36957.1.1.1.1.0 = STRING: {ALPHA}");
    for part in [
        ".1.3.6.1.4.1.36957.1.1.1.2.0 = STRING: \"alpha\"",
        ".1.3.6.1.4.1.36957.1.1.1.3.0 = INTEGER: 3",
        ".1.3.6.1.4.1.36957.1.1.1.9.0 = INTEGER: 1",
        uuid.as_str(),
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
    assert!(
        !line.contains(".1.3.6.1.6.3.1.1.4.1.0"),
        "snmpTrapOID in a v1 trap: {line}"
    );
}

#[test]
fn informs_and_v1_together_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("virtbus.toml");
    std::fs::write(
        &config,
        "[snmp]\ntrap_version = \"v1\"\ninforms = true\ntrap_sinks = [\"udp:127.0.0.1:9\"]\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--snmp-listen", "udp:127.0.0.1:0", "--cim-listen", "off"])
        .env_remove("VIRTBUS_AMQP_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SNMPv1 has no inform"), "{stderr}");
}

/// Where a UDP datagram sits in an SNMPv1/v2c message: the PDU's tag
/// (`SEQUENCE { version, community, PDU }`), or 0 when it does not parse.
fn pdu_tag(datagram: &[u8]) -> u8 {
    fn header(data: &[u8], at: usize) -> Option<(usize, usize)> {
        // (offset of the contents, their length)
        let first = *data.get(at + 1)?;
        if first < 0x80 {
            return Some((at + 2, usize::from(first)));
        }
        let n = usize::from(first & 0x7f);
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*data.get(at + 2 + i)?);
        }
        Some((at + 2 + n, len))
    }
    let parse = || -> Option<u8> {
        let (body, _) = header(datagram, 0)?;
        let (ver, ver_len) = header(datagram, body)?;
        let community_at = ver + ver_len;
        let (community, community_len) = header(datagram, community_at)?;
        datagram.get(community + community_len).copied()
    };
    parse().unwrap_or(0)
}

const INFORM_REQUEST: u8 = 0xa6;
const RESPONSE: u8 = 0xa2;

/// A UDP relay between virtbus and a sink that drops the first `drop_first`
/// datagrams (as a lossy network would) and forwards the rest, relaying the
/// sink's answers back. It records every datagram's PDU tag each way.
struct LossyRelay {
    port: u16,
    seen: Arc<Mutex<Vec<u8>>>,
    answers: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LossyRelay {
    fn start(drop_first: usize, sink: Option<SocketAddr>) -> LossyRelay {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        front.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        back.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let port = front.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, answers2, stop2) = (seen.clone(), answers.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65535];
            // Bounded: the test stops it, and it ends by itself after 60 s.
            let started = Instant::now();
            while !stop2.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                let Ok((n, from)) = front.recv_from(&mut buf) else {
                    continue;
                };
                let count = {
                    let mut seen = seen2.lock().unwrap();
                    seen.push(pdu_tag(&buf[..n]));
                    seen.len()
                };
                let Some(sink) = sink.filter(|_| count > drop_first) else {
                    continue;
                };
                back.send_to(&buf[..n], sink).unwrap();
                if let Ok((m, _)) = back.recv_from(&mut buf) {
                    answers2.lock().unwrap().push(pdu_tag(&buf[..m]));
                    front.send_to(&buf[..m], from).unwrap();
                }
            }
        });
        LossyRelay {
            port,
            seen,
            answers,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn informs_are_retransmitted_until_snmptrapd_acknowledges() {
    let traps = start_receiver();
    let trapd: SocketAddr = format!("127.0.0.1:{}", traps.port).parse().unwrap();
    // One sink loses the first inform, the other loses everything.
    let lossy = LossyRelay::start(1, Some(trapd));
    let dead = LossyRelay::start(usize::MAX, None);
    let retries = 2;
    // Long enough that snmptrapd's acknowledgement of the retransmission
    // arrives before a third send even on a loaded machine (300 ms was not:
    // one loaded full run saw a third inform).
    let config = format!(
        "[snmp]\ninforms = true\ninform_timeout_ms = 1500\ninform_retries = {retries}\n\
         trap_sinks = [\"udp:127.0.0.1:{}\", \"udp:127.0.0.1:{}\"]\n",
        lossy.port, dead.port
    );
    let mut agent = Agent::start_with(&["--snmp-listen", "udp:127.0.0.1:0"], &[], Some(&config));
    agent.ctl(&["suspend", "alpha"]);

    // The retransmission got through and snmptrapd acknowledged it.
    let lines = wait_for(&traps, "V2NOTIF", "\"alpha\"", 1);
    assert!(lines[0].contains("version=1 "), "{}", lines[0]);
    assert!(lines[0].contains(".1.3.6.1.4.1.36957.0.1"), "{}", lines[0]);
    let started = Instant::now();
    while lossy.answers.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no acknowledgement relayed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(*lossy.answers.lock().unwrap(), [RESPONSE]);
    assert_eq!(lossy.seen(), [INFORM_REQUEST, INFORM_REQUEST]);

    // The sink that never answers gets the inform 1 + retries times, then
    // virtbus logs that it gave up on it (and only on it).
    let started = Instant::now();
    loop {
        let warned: Vec<String> = agent
            .drain()
            .iter()
            .filter(|l| l.contains("snmp inform not acknowledged"))
            .cloned()
            .collect();
        if !warned.is_empty() {
            assert_eq!(warned.len(), 1, "{warned:#?}");
            assert!(warned[0].contains(&format!("127.0.0.1:{}", dead.port)), "{}", warned[0]);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no warning for the dead sink:\n{}",
            agent.log_lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(dead.seen(), vec![INFORM_REQUEST; 1 + retries]);
    // Exactly one notification reached snmptrapd: the retransmission was
    // acknowledged, so nothing more was sent to it.
    assert_eq!(lossy.seen().len(), 2);
    assert_eq!(wait_for(&traps, "V2NOTIF", "\"alpha\"", 1).len(), 1);
}
