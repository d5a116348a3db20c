//! Tap devices for guests' `<interface type='network'>`: at start, each such
//! interface gets a tap on its network's bridge (`ip tuntap add … mode
//! tap`, named from `<target dev>` or the first free `vnetN`, as libvirt
//! names them), which qemu opens by name (`-netdev
//! tap,ifname=…,script=no,downscript=no`). The live definition records the
//! tap in `<target dev>` and the bridge in `<source bridge>`, as libvirt's
//! live XML does; the tap goes when the guest stops.

use super::network::tools;
use super::Inner;
use virtbus_schemas::{DomainDef, VirtError, VirtResult};

/// Whether an interface is one this module makes a tap for.
fn on_network(if_type: &str) -> bool {
    if_type == "network"
}

/// The taps of a running guest's network interfaces (from its live XML).
pub(crate) fn network_taps(live: &DomainDef) -> Vec<String> {
    live.devices
        .interfaces
        .iter()
        .filter(|i| on_network(&i.if_type))
        .filter_map(|i| i.target_dev.clone())
        .collect()
}

/// Removes taps made for a guest.
pub(crate) fn remove_taps(taps: &[String]) {
    for tap in taps {
        tools::delete_link(tap);
    }
}

impl Inner {
    /// Makes the taps of `def`'s network interfaces and returns the
    /// definition naming them, with the taps made; on error none is left.
    pub(crate) fn attach_taps(&self, def: &DomainDef) -> VirtResult<(DomainDef, Vec<String>)> {
        let wanted: Vec<_> = def
            .devices
            .interfaces
            .iter()
            .enumerate()
            .filter(|(_, i)| on_network(&i.if_type))
            .collect();
        if wanted.is_empty() {
            return Ok((def.clone(), Vec::new()));
        }
        if !self.config.privileged {
            return Err(VirtError::no_support(format!(
                "interface type 'network' of domain '{}' needs the qemu driver running as root (qemu:///system); use <interface type='user'>",
                def.name
            )));
        }
        let mut made: Vec<(usize, String, String)> = Vec::new();
        let result = (|| -> VirtResult<()> {
            for (idx, net) in &wanted {
                let network = net.source.as_deref().ok_or_else(|| {
                    VirtError::xml(format!(
                        "interface {idx} of domain '{}' has type 'network' but no <source network='...'/>",
                        def.name
                    ))
                })?;
                let bridge = self.network_bridge(network)?;
                let taken: Vec<&str> = made.iter().map(|(_, t, _)| t.as_str()).collect();
                let tap = self.make_tap(def, net.target_dev.as_deref(), &bridge, net.mac.as_deref(), &taken)?;
                made.push((*idx, tap, bridge));
            }
            Ok(())
        })();
        if let Err(err) = result {
            remove_taps(&made.iter().map(|(_, t, _)| t.clone()).collect::<Vec<_>>());
            return Err(err);
        }
        let mut live = def.clone();
        let edit = live.update_tree(|tree| {
            let Some(devices) = tree.child_mut("devices") else {
                return;
            };
            let ifaces = devices.elements_mut().filter(|e| e.name == "interface");
            for (idx, el) in ifaces.enumerate() {
                let Some((_, tap, bridge)) = made.iter().find(|(i, _, _)| *i == idx) else {
                    continue;
                };
                el.child_or_insert("target").set_attr("dev", tap.as_str());
                if let Some(src) = el.child_mut("source") {
                    src.set_attr("bridge", bridge.as_str());
                }
            }
        });
        let taps: Vec<String> = made.into_iter().map(|(_, t, _)| t).collect();
        if let Err(err) = edit {
            remove_taps(&taps);
            return Err(err);
        }
        Ok((live, taps))
    }

    /// One tap on `bridge`: the interface's own `<target dev>` unless it
    /// uses libvirt's reserved `vnet` prefix, else the first free `vnetN`.
    fn make_tap(
        &self,
        def: &DomainDef,
        requested: Option<&str>,
        bridge: &str,
        mac: Option<&str>,
        taken: &[&str],
    ) -> VirtResult<String> {
        if let Some(name) = requested.filter(|n| !n.starts_with("vnet")) {
            if !tools::valid_ifname(name) {
                return Err(VirtError::xml(format!(
                    "target dev '{name}' of domain '{}' is not a valid interface name",
                    def.name
                )));
            }
            if tools::link_exists(name) {
                return Err(VirtError::operation_failed(format!(
                    "cannot create tap '{name}' for domain '{}': a network device of that name already exists",
                    def.name
                )));
            }
            tools::create_tap(name, bridge, mac)?;
            return Ok(name.to_string());
        }
        let mut last_err = None;
        for n in 0..1024 {
            let name = format!("vnet{n}");
            if taken.contains(&name.as_str()) || tools::link_exists(&name) {
                continue;
            }
            // Another manager may take the same name at the same moment:
            // then the next one is tried.
            match tools::create_tap(&name, bridge, mac) {
                Ok(()) => return Ok(name),
                Err(err) if tools::link_exists(&name) => last_err = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last_err.unwrap_or_else(|| {
            VirtError::operation_failed(format!("no free tap name vnet0..vnet1023 for domain '{}'", def.name))
        }))
    }
}
