//! The host as the qemu driver reports it ([`NodeDriver`]).

use super::QemuDriver;
use crate::traits::NodeDriver;
use virtbus_schemas::{NodeInfo, VirtError, VirtResult};

/// `virNodeGetInfo` from `/proc/cpuinfo` and `/proc/meminfo`.
fn read_node_info() -> NodeInfo {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpus = cpuinfo.lines().filter(|l| l.starts_with("processor")).count().max(1) as u32;
    let mhz = cpuinfo
        .lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u32;
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    NodeInfo {
        model: std::env::consts::ARCH.to_string(),
        memory_kib,
        cpus,
        mhz,
        nodes: 1,
        sockets: 1,
        cores: cpus,
        threads: 1,
    }
}

impl NodeDriver for QemuDriver {
    fn node_info(&self) -> VirtResult<NodeInfo> {
        Ok(read_node_info())
    }

    fn hostname(&self) -> VirtResult<String> {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .map_err(|e| VirtError::internal(format!("cannot read the hostname: {e}")))
    }

    fn hypervisor_type(&self) -> &'static str {
        "QEMU"
    }

    /// The default emulator's version (`qemu-system-x86_64 --version`).
    fn hypervisor_version(&self) -> VirtResult<u64> {
        let emulator = &self.config().default_emulator;
        let out = std::process::Command::new(emulator)
            .arg("--version")
            .output()
            .map_err(|e| VirtError::operation_failed(format!("cannot run emulator '{}': {e}", emulator.display())))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .split_whitespace()
            .skip_while(|w| *w != "version")
            .nth(1)
            .ok_or_else(|| {
                VirtError::operation_failed(format!("no version in the output of '{}'", emulator.display()))
            })?;
        let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
        let (a, b, c) = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        Ok(a * 1_000_000 + b * 1_000 + c)
    }
}
