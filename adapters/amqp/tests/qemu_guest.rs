//! A real qemu guest seen through AMQP: the agent on the native qemu driver
//! (`qemu:///session`, a disk-less TCG guest idling in SeaBIOS) with the
//! AMQP adapter on the private RabbitMQ node; a pika console
//! (tests/py/qemu_guest.py) sees the guest's start as lifecycle events,
//! queries it, and suspends it through QMF. That the real qemu is paused is
//! then read back from qemu itself: the agent is killed and restarted, and
//! a restarted qemu driver takes each guest's state from qemu's own
//! `query-status`.
//!
//! On a failure the guard kills the qemu processes of this test's agent
//! (their pid files in its run dir, checked against their command line).

mod common;

use common::{assert_py_ok, run_py, Agent, AgentOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The emulator on the driver's default allow-list.
const QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// Kills, when dropped, every qemu with a pid file under `run_dir` whose
/// command line names that pid file's guest.
struct QemuGuard {
    run_dir: PathBuf,
}

impl Drop for QemuGuard {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(&self.run_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(uuid) = name.strip_suffix(".pid") else {
                continue;
            };
            let Some(pid) = std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(uuid) {
                let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            }
        }
    }
}

#[test]
fn a_qemu_guest_is_queried_and_suspended_through_qmf() {
    assert!(
        Path::new(QEMU).exists(),
        "{QEMU} not found: run scripts/test, which installs Debian's qemu-system-x86"
    );
    let agent = Agent::start_with(AgentOptions {
        connect: Some("qemu:///session".into()),
        ..AgentOptions::new("e2e-qemu", &["guest"])
    });
    let _guard = QemuGuard {
        run_dir: agent.state_dir.path().join("run/qemu"),
    };
    let xml = agent.state_dir.path().join("amqpguest.xml");
    std::fs::write(
        &xml,
        format!(
            "<domain type='qemu'><name>amqpguest</name><uuid>a3b1e000-0000-4000-8000-000000000001</uuid>\
             <memory unit='KiB'>65536</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices><emulator>{QEMU}</emulator><memballoon model='none'/></devices></domain>"
        ),
    )
    .expect("xml written");
    agent.ctl(&["define", &xml.to_string_lossy()]);

    let state = agent.state_dir.path().to_string_lossy().into_owned();
    let bin = common::virtbus_bin().to_string_lossy().into_owned();
    let out = run_py(
        "qemu_guest.py",
        &[&common::amqp_url(), &agent.name, &state, &bin, "amqpguest"],
    );
    let stdout = assert_py_ok(&out, "qemu_guest.py");
    assert!(stdout.contains("qemu guest ok"), "{stdout}");
    let pid_file = agent
        .state_dir
        .path()
        .join("run/qemu/a3b1e000-0000-4000-8000-000000000001.pid");
    let pid = std::fs::read_to_string(&pid_file).expect("qemu pid file");

    // qemu's own word: a restarted driver asks qemu (query-status), and
    // would report the guest running again had the suspend not reached it.
    let state_dir = agent.kill();
    let agent = Agent::start_with(AgentOptions {
        connect: Some("qemu:///session".into()),
        state_dir: Some(state_dir),
        ..AgentOptions::new("e2e-qemu", &["guest"])
    });
    assert_eq!(agent.ctl(&["domstate", "amqpguest"]).trim(), "paused");
    assert_eq!(
        std::fs::read_to_string(&pid_file).expect("pid file"),
        pid,
        "the same qemu"
    );
    agent.ctl(&["resume", "amqpguest"]);
    agent.ctl(&["destroy", "amqpguest"]);
    assert!(!pid_file.exists(), "qemu stopped");
}
