//! A network's host side: bringing it up (bridge, address, nftables table,
//! dnsmasq), tearing it down, and its runtime state in
//! `STATE_DIR/run/network/UUID.{json,conf,pid,leases}` ([`NetRunState`]:
//! live XML, persistence, what was created), from which a restarted agent
//! takes an intact network back and removes the remains of a broken one.

use super::plan::{dnsmasq_conf, nft_ruleset, nft_table_name, DnsmasqFiles, Ipv4Net, Mode, Plan};
use super::tools::{self, Tool};
use super::NetObj;
use crate::qemu::process;
use crate::qemu::{Inner, QemuConfig};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;
use virtbus_schemas::{ErrorCode, NetworkDef, VirtError, VirtResult};

/// What an active network made on the host, so that exactly that is undone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct HostState {
    pub bridge: String,
    /// Whether the bridge is ours (isolated/NAT) rather than the host's.
    pub created_bridge: bool,
    pub dnsmasq_pid: Option<i32>,
    /// Our nftables table (family `ip`).
    pub nft_table: Option<String>,
}

/// An active network: its live definition and host side.
pub(crate) struct Active {
    pub def: NetworkDef,
    pub host: HostState,
}

/// What a restarted agent needs to find an active network again.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NetRunState {
    uuid: Uuid,
    live_xml: String,
    persistent: bool,
    autostart: bool,
    host: HostState,
}

/// The files of one network under `run/network/`.
pub(crate) struct NetFiles {
    pub state: PathBuf,
    pub conf: PathBuf,
    pub pid: PathBuf,
    pub leases: PathBuf,
}

impl NetFiles {
    pub(crate) fn new(config: &QemuConfig, uuid: Uuid) -> NetFiles {
        let dir = config.network_run_dir();
        NetFiles {
            state: dir.join(format!("{uuid}.json")),
            conf: dir.join(format!("{uuid}.conf")),
            pid: dir.join(format!("{uuid}.pid")),
            leases: dir.join(format!("{uuid}.leases")),
        }
    }

    fn remove_all(&self) {
        for path in [&self.state, &self.conf, &self.pid, &self.leases] {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Active {
    /// Writes the runtime state atomically (temp file, fsync, rename).
    pub(crate) fn save(&self, config: &QemuConfig, persistent: bool, autostart: bool) -> VirtResult<()> {
        let files = NetFiles::new(config, self.def.uuid);
        let state = NetRunState {
            uuid: self.def.uuid,
            live_xml: self.def.to_xml(),
            persistent,
            autostart,
            host: self.host.clone(),
        };
        let text = serde_json::to_vec_pretty(&state)
            .map_err(|e| VirtError::internal(format!("cannot encode runtime state of network {}: {e}", state.uuid)))?;
        write_atomic(&files.state, &text)
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> VirtResult<()> {
    process::write_atomic(path, data).map_err(|e| {
        VirtError::new(
            ErrorCode::WriteFailed,
            format!("cannot write '{}': {e}", path.display()),
        )
    })
}

/// `networkCheckRouteCollision`, widened to any overlap: the subnet must
/// not overlap a host route (which covers every active network's bridge)
/// nor another active network of ours.
fn check_collisions(inner: &Inner, uuid: Uuid, name: &str, ip: Ipv4Net) -> VirtResult<()> {
    let in_use = |iface: &str, what: String| {
        VirtError::internal(format!(
            "network is already in use by interface {iface}: subnet {} of network '{name}' overlaps {what}",
            ip.cidr()
        ))
    };
    for (other, summary) in inner.active_networks.lock().iter() {
        if *other == uuid {
            continue;
        }
        if let Some(net) = summary.ip {
            if ip.overlaps(net.network(), net.mask()) {
                return Err(in_use(
                    &summary.bridge,
                    format!("{} of active network '{}'", net.cidr(), summary.name),
                ));
            }
        }
    }
    for (iface, dest, mask) in tools::ipv4_routes() {
        if mask != 0 && ip.overlaps(dest, mask) {
            return Err(in_use(
                &iface,
                format!(
                    "the host route to {}/{}",
                    std::net::Ipv4Addr::from(dest),
                    mask.leading_ones()
                ),
            ));
        }
    }
    Ok(())
}

/// What the collision check knows of an active network.
pub(crate) struct ActiveSummary {
    name: String,
    bridge: String,
    ip: Option<Ipv4Net>,
}

fn summary(def: &NetworkDef, host: &HostState) -> ActiveSummary {
    ActiveSummary {
        name: def.name.clone(),
        bridge: host.bridge.clone(),
        ip: Plan::of(def).ok().and_then(|p| p.ip),
    }
}

/// Brings the network's host side up; on failure removes whatever it made.
pub(crate) fn bring_up(inner: &Inner, def: &NetworkDef) -> VirtResult<Active> {
    let plan = Plan::of(def)?;
    for tool in plan.tools() {
        tool.require(&def.name)?;
    }
    let bridge = plan
        .bridge
        .clone()
        .ok_or_else(|| VirtError::internal(format!("network '{}' has no bridge name", def.name)))?;
    // One start at a time, so two overlapping networks never both pass the
    // collision check.
    let _starting = inner.network_start.lock();
    let mut host = HostState {
        bridge: bridge.clone(),
        created_bridge: false,
        dnsmasq_pid: None,
        nft_table: None,
    };
    if plan.mode == Mode::Bridge {
        if !tools::is_bridge(&bridge) {
            return Err(VirtError::operation_failed(format!(
                "bridge '{bridge}' of network '{}' does not exist on the host (forward mode 'bridge' uses an existing bridge)",
                def.name
            )));
        }
    } else {
        if tools::link_exists(&bridge) {
            return Err(VirtError::new(
                ErrorCode::SystemError,
                format!(
                    "unable to create bridge {bridge} of network '{}': a network device of that name already exists",
                    def.name
                ),
            ));
        }
        if let Some(ip) = plan.ip {
            check_collisions(inner, def.uuid, &def.name, ip)?;
        }
        let table = nft_table_name(def);
        if tools::nft_table_exists(&table) {
            return Err(VirtError::operation_failed(format!(
                "nftables table 'ip {table}' of network '{}' already exists; remove it ('nft delete table ip {table}') if nothing uses it",
                def.name
            )));
        }
        if let Err(err) = make_managed(inner, def, &plan, &mut host, table) {
            tear_down(inner, def.uuid, &host);
            return Err(err);
        }
    }
    let mut live = def.clone();
    live.bridge = Some(bridge);
    live.sync();
    inner.active_networks.lock().insert(def.uuid, summary(&live, &host));
    Ok(Active { def: live, host })
}

/// The steps for a bridge of our own, recording each in `host` as it is
/// made so a failure can undo exactly those.
fn make_managed(inner: &Inner, def: &NetworkDef, plan: &Plan, host: &mut HostState, table: String) -> VirtResult<()> {
    let bridge = host.bridge.clone();
    let mut add = vec!["link", "add", "name", bridge.as_str()];
    if let Some(mac) = &def.mac {
        add.extend(["address", mac.as_str()]);
    }
    add.extend(["type", "bridge"]);
    tools::run(Tool::Ip, &add, None)?;
    host.created_bridge = true;
    if let Some(ip) = plan.ip {
        let addr = format!("{}/{}", ip.address, ip.prefix);
        tools::run(Tool::Ip, &["address", "add", &addr, "dev", &bridge], None)?;
    }
    tools::run(Tool::Ip, &["link", "set", "dev", &bridge, "up"], None)?;
    tools::run(Tool::Nft, &["-f", "-"], Some(&nft_ruleset(&table, plan, &bridge)))?;
    host.nft_table = Some(table);
    if plan.mode == Mode::Nat {
        // As libvirt does for NAT: the host must route the guests' packets.
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1\n").map_err(|e| {
            VirtError::new(
                ErrorCode::SystemError,
                format!("cannot enable IPv4 forwarding for network '{}': {e}", def.name),
            )
        })?;
    }
    if plan.runs_dnsmasq() {
        let files = NetFiles::new(&inner.config, def.uuid);
        let conf = dnsmasq_conf(
            plan,
            &bridge,
            &DnsmasqFiles {
                pid: &files.pid,
                leases: &files.leases,
            },
        );
        write_atomic(&files.conf, conf.as_bytes())?;
        host.dnsmasq_pid = Some(tools::start_dnsmasq(&files.conf, &files.pid)?);
    }
    Ok(())
}

/// Undoes what `host` records and removes the runtime files.
pub(crate) fn tear_down(inner: &Inner, uuid: Uuid, host: &HostState) {
    if let Some(pid) = host.dnsmasq_pid {
        tools::stop_dnsmasq(pid, uuid);
    }
    if let Some(table) = &host.nft_table {
        tools::nft_delete_table(table);
    }
    if host.created_bridge {
        tools::delete_link(&host.bridge);
    }
    NetFiles::new(&inner.config, uuid).remove_all();
    inner.active_networks.lock().remove(&uuid);
}

/// Whether everything `host` records is still in place.
fn intact(uuid: Uuid, host: &HostState) -> Result<(), String> {
    if !tools::link_exists(&host.bridge) {
        return Err(format!("bridge {} is gone", host.bridge));
    }
    if let Some(pid) = host.dnsmasq_pid {
        if !process::is_alive(pid, uuid) {
            return Err(format!("dnsmasq (pid {pid}) is gone"));
        }
    }
    if let Some(table) = &host.nft_table {
        if !tools::nft_table_exists(table) {
            return Err(format!("nftables table {table} is gone"));
        }
    }
    Ok(())
}

/// Finds the networks a previous run left active: an intact one is taken
/// back as it is; a broken one (bridge, dnsmasq or table gone) has its
/// remains removed and is not active (its definition, if persistent, comes
/// back from the core's store).
pub(crate) fn reattach_all(inner: &Arc<Inner>) {
    let dir = inner.config.network_run_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let state: NetRunState = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_slice(&t).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(err) => {
                tracing::error!(file = %path.display(), error = %err, "unreadable network runtime state set aside");
                let _ = std::fs::rename(&path, path.with_extension("json.bad"));
                continue;
            }
        };
        let def = match NetworkDef::from_xml(&state.live_xml) {
            Ok(d) => d,
            Err(err) => {
                tracing::error!(file = %path.display(), error = %err, "network runtime state with bad XML; cleaning up");
                tear_down(inner, state.uuid, &state.host);
                continue;
            }
        };
        if let Err(why) = intact(state.uuid, &state.host) {
            tracing::warn!(network = %def.name, reason = %why, "stale network cleaned up");
            tear_down(inner, state.uuid, &state.host);
            continue;
        }
        tracing::info!(network = %def.name, bridge = %state.host.bridge, "active network found again");
        inner
            .active_networks
            .lock()
            .insert(state.uuid, summary(&def, &state.host));
        let obj = NetObj {
            def: def.clone(),
            live: Some(Active { def, host: state.host }),
            persistent: state.persistent,
            autostart: state.autostart,
        };
        inner.networks.write().insert(state.uuid, Arc::new(Mutex::new(obj)));
    }
}
