//! Virtual networks of the qemu driver ([`NetworkDriver`] for
//! [`QemuDriver`]), after libvirt's network driver: under `qemu:///system`
//! as root, a network with no `<forward>` (isolated) or `<forward
//! mode='nat'>` gets a bridge of its own with the `<ip>` address, dnsmasq
//! for DNS and the `<dhcp>` ranges, and an nftables table of its own
//! (forwarding rules, masquerade for NAT); `<forward mode='bridge'>` names an
//! existing host bridge and creates nothing. Guests' `<interface
//! type='network'>` get a tap device on the bridge (`taps.rs`).
//!
//! Layout: `plan.rs` checks a definition and writes the tools' input,
//! `tools.rs` runs `ip`, `nft` and `dnsmasq`, `host.rs` brings a network's
//! host side up and down and keeps it in `STATE_DIR/run/network/` so a
//! restarted agent finds active networks again (or cleans up stale ones).
//! Definitions persist through the core's store, like pools.
//!
//! Locking: a network's mutex is held for a whole operation on it; checks
//! across networks read the other networks' cells only from define (no
//! network lock held) or the `active` summary (its own short lock), so no
//! two network locks are ever held together. Guests starting take a
//! network's lock briefly, after their own; networks never take a guest's.

pub(crate) mod host;
mod plan;
pub(crate) mod tools;

use super::{Inner, QemuDriver};
use crate::model::{DriverEvent, NetworkRecord, Outcome};
use crate::traits::NetworkDriver;
use host::Active;
use parking_lot::Mutex;
use plan::Plan;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_schemas::lifecycle::NetworkEventType;
use virtbus_schemas::{ErrorCode, NetworkDef, VirtError, VirtResult};

pub(crate) use host::reattach_all;

/// One network (`virNetworkObj`).
pub(crate) struct NetObj {
    /// The persistent definition, or the transient network's.
    def: NetworkDef,
    /// Set while the network is active.
    live: Option<Active>,
    persistent: bool,
    autostart: bool,
}

impl NetObj {
    fn record(&self) -> NetworkRecord {
        NetworkRecord {
            def: self.live.as_ref().map_or(&self.def, |a| &a.def).clone(),
            active: self.live.is_some(),
            persistent: self.persistent,
            autostart: self.autostart,
        }
    }

    fn name(&self) -> &str {
        &self.def.name
    }
}

fn net_event(e: NetworkEventType) -> Vec<DriverEvent> {
    vec![DriverEvent::Network(e)]
}

pub(crate) fn no_network(uuid: Uuid) -> VirtError {
    VirtError::new(ErrorCode::NoNetwork, format!("no network with matching uuid '{uuid}'"))
}

/// The hint every refused network operation of an unprivileged driver gives.
fn needs_root() -> VirtError {
    VirtError::no_support(
        "virtual networks need the qemu driver running as root (qemu:///system); give guests <interface type='user'> instead",
    )
}

impl Inner {
    fn require_network_privileges(&self) -> VirtResult<()> {
        if self.config.privileged {
            Ok(())
        } else {
            Err(needs_root())
        }
    }

    fn net_cell(&self, uuid: Uuid) -> VirtResult<Arc<Mutex<NetObj>>> {
        self.networks.read().get(&uuid).cloned().ok_or_else(|| no_network(uuid))
    }

    fn with_network(
        &self,
        uuid: Uuid,
        op: impl FnOnce(&Inner, &mut NetObj) -> VirtResult<Vec<DriverEvent>>,
    ) -> VirtResult<Outcome<NetworkRecord>> {
        let cell = self.net_cell(uuid)?;
        let mut obj = cell.lock();
        let events = op(self, &mut obj)?;
        if !obj.persistent && obj.live.is_none() {
            self.networks.write().remove(&uuid);
            return Ok(Outcome::new(None, events));
        }
        if let Some(active) = &obj.live {
            if let Err(err) = active.save(&self.config, obj.persistent, obj.autostart) {
                tracing::warn!(network = %obj.name(), error = %err, "network runtime state not saved");
            }
        }
        Ok(Outcome::new(Some(obj.record()), events))
    }

    /// The bridge of the active network `name`, for a guest's interface.
    pub(crate) fn network_bridge(&self, name: &str) -> VirtResult<String> {
        let cells: Vec<_> = self.networks.read().values().cloned().collect();
        for cell in cells {
            let obj = cell.lock();
            if obj.name() != name {
                continue;
            }
            return match &obj.live {
                Some(active) => Ok(active.host.bridge.clone()),
                None => Err(VirtError::operation_invalid(format!("network '{name}' is not active"))),
            };
        }
        Err(VirtError::new(
            ErrorCode::NoNetwork,
            format!("no network with matching name '{name}'"),
        ))
    }

    /// `networkValidate` + `networkBridgeNameValidate`: a supported plan,
    /// the tools it needs, a bridge name no other network uses (picking
    /// `virbrN` when there is none), unique name and uuid.
    fn check_new_network(&self, def: &mut NetworkDef) -> VirtResult<()> {
        self.require_network_privileges()?;
        let plan = Plan::of(def)?;
        for tool in plan.tools() {
            tool.require(&def.name)?;
        }
        let cells: Vec<_> = self.networks.read().values().cloned().collect();
        let mut bridges = Vec::new();
        for cell in &cells {
            let other = cell.lock();
            if other.def.name == def.name && other.def.uuid != def.uuid {
                return Err(VirtError::operation_failed(format!(
                    "network '{}' already exists with uuid {}",
                    def.name, other.def.uuid
                )));
            }
            if other.def.uuid == def.uuid && other.def.name != def.name {
                return Err(VirtError::operation_failed(format!(
                    "network '{}' is already defined with uuid {}",
                    other.def.name, def.uuid
                )));
            }
            if other.def.uuid != def.uuid {
                bridges.extend(other.def.bridge.clone());
                bridges.extend(other.live.as_ref().map(|a| a.host.bridge.clone()));
            }
        }
        match &plan.bridge {
            Some(br) if bridges.contains(br) => Err(VirtError::internal(format!("bridge name '{br}' already in use."))),
            Some(_) => Ok(()),
            None => {
                let name = (0..256)
                    .map(|n| format!("virbr{n}"))
                    .find(|n| !bridges.contains(n) && !tools::link_exists(n))
                    .ok_or_else(|| VirtError::internal("no free bridge name virbr0..virbr255 left"))?;
                def.bridge = Some(name);
                def.sync();
                Ok(())
            }
        }
    }

    fn add_network(&self, mut def: NetworkDef, live: bool) -> VirtResult<Outcome<NetworkRecord>> {
        self.check_new_network(&mut def)?;
        let uuid = def.uuid;
        let existing = self.networks.read().get(&uuid).cloned();
        if let Some(cell) = existing {
            let mut obj = cell.lock();
            if live {
                if obj.live.is_some() {
                    return Err(VirtError::operation_invalid(format!(
                        "network is already active as '{}'",
                        obj.name()
                    )));
                }
                let active = host::bring_up(self, &def)?;
                obj.live = Some(active);
                drop(obj);
                return self.with_network(uuid, |_, _| Ok(net_event(NetworkEventType::Started)));
            }
            obj.def = def;
            obj.persistent = true;
            drop(obj);
            return self.with_network(uuid, |_, _| Ok(net_event(NetworkEventType::Defined)));
        }
        let active = if live { Some(host::bring_up(self, &def)?) } else { None };
        let obj = NetObj {
            def,
            live: active,
            persistent: !live,
            autostart: false,
        };
        self.networks.write().insert(uuid, Arc::new(Mutex::new(obj)));
        let ev = if live {
            NetworkEventType::Started
        } else {
            NetworkEventType::Defined
        };
        self.with_network(uuid, |_, _| Ok(net_event(ev)))
    }
}

impl NetworkDriver for QemuDriver {
    fn list_networks(&self) -> VirtResult<Vec<NetworkRecord>> {
        let cells: Vec<_> = self.inner.networks.read().values().cloned().collect();
        Ok(cells.iter().map(|c| c.lock().record()).collect())
    }

    fn get_network(&self, uuid: Uuid) -> VirtResult<NetworkRecord> {
        let cell = self.inner.net_cell(uuid)?;
        let record = cell.lock().record();
        Ok(record)
    }

    fn define_network(&self, def: NetworkDef) -> VirtResult<Outcome<NetworkRecord>> {
        self.inner.add_network(def, false)
    }

    fn create_network(&self, def: NetworkDef) -> VirtResult<Outcome<NetworkRecord>> {
        self.inner.add_network(def, true)
    }

    /// `networkStart`: the bridge, its address, the firewall table and
    /// dnsmasq, in that order; on any failure what was made is removed.
    fn start_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.inner.with_network(uuid, |inner, obj| {
            if obj.live.is_some() {
                return Err(VirtError::operation_invalid(format!(
                    "network '{}' is already active",
                    obj.name()
                )));
            }
            inner.require_network_privileges()?;
            obj.live = Some(host::bring_up(inner, &obj.def)?);
            Ok(net_event(NetworkEventType::Started))
        })
    }

    /// `networkDestroy`: dnsmasq stopped, the table and the bridge removed.
    /// Guests' taps stay (detached) until their guests stop, as in libvirt.
    fn destroy_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.inner.with_network(uuid, |inner, obj| {
            let Some(active) = obj.live.take() else {
                return Err(VirtError::operation_invalid(format!(
                    "network '{}' is not active",
                    obj.name()
                )));
            };
            host::tear_down(inner, uuid, &active.host);
            Ok(net_event(NetworkEventType::Stopped))
        })
    }

    /// `networkUndefine`: an active network keeps running, transient.
    fn undefine_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.inner.with_network(uuid, |_, obj| {
            if !obj.persistent {
                return Err(VirtError::operation_invalid(format!(
                    "cannot undefine transient network '{}'",
                    obj.name()
                )));
            }
            obj.persistent = false;
            obj.autostart = false;
            if let Some(active) = &obj.live {
                obj.def = active.def.clone();
            }
            Ok(net_event(NetworkEventType::Undefined))
        })
    }

    /// `networkSetAutostart`: persistent networks only.
    fn set_network_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<NetworkRecord>> {
        self.inner.with_network(uuid, |_, obj| {
            if !obj.persistent {
                return Err(VirtError::operation_invalid(format!(
                    "cannot set autostart for transient network '{}'",
                    obj.name()
                )));
            }
            obj.autostart = autostart;
            Ok(Vec::new())
        })
    }
}
