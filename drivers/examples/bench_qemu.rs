//! Benchmark of the qemu driver, run by `scripts/bench-qemu`:
//!
//! 1. start + destroy of a minimal TCG guest through the driver, versus raw
//!    `qemu-system-x86_64` spawned with the same argv, QMP handshake,
//!    `query-status`, `quit` (the same work without virtbus);
//! 2. collecting stats of N running guests.
//!
//! Usage: `bench_qemu [ROUNDS] [GUESTS]` (defaults 20 and 50). Prints one
//! line per measurement; times are medians over the rounds.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};
use virtbus_drivers::qemu::argv::{self, Accel, ArgvContext};
use virtbus_drivers::qemu::{QemuConfig, QemuDriver};
use virtbus_drivers::HypervisorDriver;
use virtbus_schemas::DomainDef;

fn guest(name: &str, qemu: &str) -> DomainDef {
    let xml = format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>{qemu}</emulator><memballoon model='none'/></devices></domain>"
    );
    DomainDef::from_xml(&xml).expect("bench guest xml")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Raw qemu: spawn, wait for the socket, greeting, capabilities,
/// `query-status`, `quit`, wait for the exit.
fn raw_round(qemu: &str, args: &[String], sock: &Path) -> Duration {
    let started = Instant::now();
    let mut child = std::process::Command::new(qemu)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn qemu");
    let stream = loop {
        if let Ok(s) = UnixStream::connect(sock) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).expect("greeting");
    for cmd in ["qmp_capabilities", "cont", "query-status", "quit"] {
        writeln!(writer, "{{\"execute\":\"{cmd}\"}}").expect("write");
        loop {
            line.clear();
            if reader.read_line(&mut line).expect("read") == 0 || line.contains("\"return\"") {
                break;
            }
        }
    }
    child.wait().expect("wait");
    started.elapsed()
}

fn main() {
    let mut a = std::env::args().skip(1);
    let rounds: usize = a.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let guests: usize = a.next().and_then(|s| s.parse().ok()).unwrap_or(50);
    let qemu = std::env::var("VIRTBUS_TEST_QEMU").unwrap_or_else(|_| "/usr/bin/qemu-system-x86_64".into());
    let state = std::env::temp_dir().join(format!("virtbus-bench-qemu-{}", std::process::id()));
    let mut config = QemuConfig::from_uri(&format!("qemu:///session?statedir={}", state.display())).expect("qemu URI");
    config.emulators = vec![qemu.clone().into()];
    config.default_emulator = qemu.clone().into();
    let (driver, _notices) = QemuDriver::open(config).expect("open driver");

    // 1. virtbus: define once, then start + destroy per round.
    let def = guest("bench", &qemu);
    let uuid = def.uuid;
    let sock = state.join("raw.qmp");
    let args = argv::build(
        &def,
        &ArgvContext {
            accel: Accel::Tcg,
            qmp_socket: &sock,
            privileged: false,
        },
    )
    .expect("argv");
    driver.define_domain(def).expect("define");
    let (mut ours, mut raw, mut start_only) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        driver.start_domain(uuid).expect("start");
        start_only.push(t.elapsed());
        driver.destroy_domain(uuid).expect("destroy");
        ours.push(t.elapsed());
        raw.push(raw_round(&qemu, &args, &sock));
    }
    let (o, r) = (median(ours), median(raw));
    println!("rounds: {rounds}");
    println!(
        "raw qemu  spawn+QMP handshake+cont+query-status+quit: {:.4} s",
        r.as_secs_f64()
    );
    println!(
        "virtbus   start+destroy (SIGTERM):                    {:.4} s",
        o.as_secs_f64()
    );
    println!(
        "virtbus   start only:                                 {:.4} s",
        median(start_only).as_secs_f64()
    );
    println!("ratio virtbus/raw: {:.2}x", o.as_secs_f64() / r.as_secs_f64());

    // 2. stats of many running guests.
    let mut uuids = Vec::new();
    for i in 0..guests {
        let def = guest(&format!("bench-{i}"), &qemu);
        uuids.push(def.uuid);
        driver.create_domain(def).expect("create");
    }
    let mut sweeps = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for u in &uuids {
            driver.domain_stats(*u).expect("stats");
        }
        sweeps.push(t.elapsed());
    }
    println!(
        "stats of {guests} running guests (one sweep, sequential): {:.4} s",
        median(sweeps).as_secs_f64()
    );
    for u in &uuids {
        let _ = driver.destroy_domain(*u);
    }
    let _ = driver.undefine_domain(uuid);
    let _ = std::fs::remove_dir_all(&state);
}
