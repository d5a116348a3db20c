//! The host tools a virtual network is made with: `ip` (bridges, addresses,
//! tap devices), `nft` (our own table per network) and `dnsmasq` (DHCP and
//! DNS on the bridge). Each call runs one command and turns its failure
//! into an error naming the device and the tool's own message.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;
use virtbus_schemas::{ErrorCode, VirtError, VirtResult};

/// A host tool and the Debian package that ships it (for the hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    Ip,
    Nft,
    Dnsmasq,
}

impl Tool {
    fn binary(self) -> &'static str {
        match self {
            Tool::Ip => "ip",
            Tool::Nft => "nft",
            Tool::Dnsmasq => "dnsmasq",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Tool::Ip => "iproute2",
            Tool::Nft => "nftables",
            Tool::Dnsmasq => "dnsmasq-base",
        }
    }

    /// The tool's path: `PATH` first, then the sbin directories an
    /// unprivileged `PATH` often lacks.
    pub(crate) fn find(self) -> Option<PathBuf> {
        let name = self.binary();
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().map(PathBuf::from))
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
    }

    /// The tool's path, or `NO_SUPPORT` saying what to install.
    pub(crate) fn require(self, network: &str) -> VirtResult<PathBuf> {
        self.find().ok_or_else(|| {
            VirtError::no_support(format!(
                "network '{network}' needs '{}', which is not installed (Debian package {})",
                self.binary(),
                self.package()
            ))
        })
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs `tool args...`; a non-zero exit is an error carrying its stderr.
pub(crate) fn run(tool: Tool, args: &[&str], stdin: Option<&str>) -> VirtResult<String> {
    use std::io::Write;
    let path = tool.find().ok_or_else(|| {
        VirtError::no_support(format!(
            "'{}' is not installed (Debian package {})",
            tool.binary(),
            tool.package()
        ))
    })?;
    let mut child = Command::new(&path)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| VirtError::operation_failed(format!("cannot run '{}': {e}", path.display())))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| VirtError::operation_failed(format!("cannot wait for '{}': {e}", path.display())))?;
    if !out.status.success() {
        return Err(VirtError::new(
            ErrorCode::SystemError,
            format!(
                "'{} {}' failed: {}",
                tool.binary(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether a network device of that name exists on the host.
pub(crate) fn link_exists(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && Path::new("/sys/class/net").join(name).exists()
}

/// Whether `name` is a bridge device.
pub(crate) fn is_bridge(name: &str) -> bool {
    link_exists(name) && Path::new("/sys/class/net").join(name).join("bridge").is_dir()
}

/// `ip link del NAME`; a device already gone is fine.
pub(crate) fn delete_link(name: &str) {
    if link_exists(name) {
        if let Err(err) = run(Tool::Ip, &["link", "del", "dev", name], None) {
            tracing::warn!(device = name, error = %err, "cannot remove network device");
        }
    }
}

/// A Linux interface name: 1–15 bytes, no '/', ':', whitespace (nor '"',
/// which our nftables rules quote it with).
pub(crate) fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '"' || c.is_whitespace() || c.is_control())
}

/// A persistent tap device attached to `bridge`, up, whose own MAC is the
/// guest's with the first byte 0xfe (as libvirt does, so the bridge never
/// takes the guest's address as its own).
pub(crate) fn create_tap(name: &str, bridge: &str, guest_mac: Option<&str>) -> VirtResult<()> {
    run(Tool::Ip, &["tuntap", "add", "dev", name, "mode", "tap"], None)?;
    let setup = || -> VirtResult<()> {
        if let Some(mac) = guest_mac
            .and_then(|m| m.split_once(':'))
            .map(|(_, rest)| format!("fe:{rest}"))
        {
            run(Tool::Ip, &["link", "set", "dev", name, "address", &mac], None)?;
        }
        run(Tool::Ip, &["link", "set", "dev", name, "master", bridge], None)?;
        run(Tool::Ip, &["link", "set", "dev", name, "up"], None)?;
        Ok(())
    };
    setup().inspect_err(|_| delete_link(name))
}

/// The IPv4 routes of the host (`/proc/net/route`): (interface, destination, mask).
pub(crate) fn ipv4_routes() -> Vec<(String, u32, u32)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let iface = f.first()?.to_string();
            // The kernel prints the address's bytes (network order) read as
            // a native integer, in hex.
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            Some((
                iface,
                u32::from_be_bytes(dest.to_ne_bytes()),
                u32::from_be_bytes(mask.to_ne_bytes()),
            ))
        })
        .collect()
}

/// Starts dnsmasq with `conf` (it daemonizes and writes `pid_file`) and
/// returns the daemon's pid.
pub(crate) fn start_dnsmasq(conf: &Path, pid_file: &Path) -> VirtResult<i32> {
    let _ = std::fs::remove_file(pid_file);
    let arg = format!("--conf-file={}", conf.display());
    run(Tool::Dnsmasq, &[&arg], None)?;
    // The parent exits once the daemon is set up; the pid file follows.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(pid) = crate::qemu::process::read_pidfile(pid_file) {
            return Ok(pid);
        }
        if Instant::now() >= deadline {
            return Err(VirtError::operation_failed(format!(
                "dnsmasq did not write its pid file '{}'",
                pid_file.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Stops a dnsmasq of the network `uuid` (SIGTERM, SIGKILL after 5 s).
pub(crate) fn stop_dnsmasq(pid: i32, uuid: Uuid) {
    use crate::qemu::process;
    use nix::sys::signal::Signal;
    if !process::is_alive(pid, uuid) {
        return;
    }
    process::signal(pid, Signal::SIGTERM);
    if !process::wait_gone(pid, uuid, Duration::from_secs(5)) {
        process::signal(pid, Signal::SIGKILL);
        process::wait_gone(pid, uuid, Duration::from_secs(5));
    }
}

/// Whether our nftables table exists.
pub(crate) fn nft_table_exists(table: &str) -> bool {
    run(Tool::Nft, &["list", "table", "ip", table], None).is_ok()
}

/// `nft delete table ip TABLE`; a table already gone is fine.
pub(crate) fn nft_delete_table(table: &str) {
    if nft_table_exists(table) {
        if let Err(err) = run(Tool::Nft, &["delete", "table", "ip", table], None) {
            tracing::warn!(table, error = %err, "cannot remove nftables table");
        }
    }
}
