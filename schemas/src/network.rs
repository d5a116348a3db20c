//! libvirt virtual network XML (`formatnetwork`): a typed view over the tree.
//!
//! [`NetworkDef`] keeps the whole document and writes back name, uuid and the
//! bridge name (drivers fill in a bridge such as `virbr1` when they start a
//! network). Validation follows `virNetworkDefParseXML`: a name without '/', a
//! valid uuid, a known forward mode.

use crate::error::{VirtError, VirtResult};
use crate::fields::{
    attr, attr_u32, check_name, child_attr, ensure_child, expect_root, invalid, set_child_text, uuid_child,
};
use crate::xml::{self, Element};
use uuid::Uuid;

/// libvirt's order of `<network>`'s children (`virNetworkDefFormatBuf`).
const NETWORK_ORDER: &[&str] = &[
    "name",
    "uuid",
    "title",
    "description",
    "metadata",
    "forward",
    "bridge",
    "mtu",
    "mac",
    "domain",
    "dns",
    "vlan",
    "bandwidth",
    "portOptions",
    "ip",
    "route",
    "virtualport",
    "portgroup",
];

/// `virNetworkForwardType` names.
const FORWARD_MODES: &[&str] = &[
    "none",
    "nat",
    "route",
    "open",
    "bridge",
    "private",
    "vepa",
    "passthrough",
    "hostdev",
];

/// One `<ip>` of a network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkIp {
    /// `family`: ipv4 (the default, `None`) or ipv6.
    pub family: Option<String>,
    pub address: Option<String>,
    pub netmask: Option<String>,
    pub prefix: Option<u32>,
    /// `<dhcp><range start= end=>` pairs.
    pub dhcp_ranges: Vec<(String, String)>,
}

/// A libvirt virtual network definition.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkDef {
    pub name: String,
    /// Generated (v4) if the XML has none.
    pub uuid: Uuid,
    /// `<bridge name=>`.
    pub bridge: Option<String>,
    /// `<forward mode=>`; a bare `<forward/>` means `nat`, as in libvirt.
    pub forward_mode: Option<String>,
    /// `<mac address=>` of the bridge, lowercase as libvirt formats it.
    pub mac: Option<String>,
    pub ips: Vec<NetworkIp>,
    tree: Element,
}

impl NetworkDef {
    /// Parses and validates a network document.
    pub fn from_xml(xml: &str) -> VirtResult<NetworkDef> {
        Self::from_element(xml::parse(xml)?)
    }

    /// Reads and validates a `<network>` element; the stored tree is synced at once.
    pub fn from_element(el: Element) -> VirtResult<NetworkDef> {
        expect_root(&el, "network")?;
        let name = check_name(&el, "network")?;
        let uuid = uuid_child(&el)?;
        let forward_mode = match el.child("forward") {
            None => None,
            Some(fwd) => match fwd.attr("mode") {
                None => Some("nat".to_string()),
                Some(mode) if FORWARD_MODES.contains(&mode) => Some(mode.to_string()),
                Some(mode) => return Err(invalid(fwd, "forward mode", mode, "unknown forwarding type")),
            },
        };
        let mut ips = Vec::new();
        for ip in el.children_named("ip") {
            ips.push(NetworkIp {
                family: attr(ip, "family"),
                address: attr(ip, "address"),
                netmask: attr(ip, "netmask"),
                prefix: attr_u32(ip, "prefix")?,
                dhcp_ranges: ip
                    .child("dhcp")
                    .map(|dhcp| {
                        dhcp.children_named("range")
                            .filter_map(|r| Some((attr(r, "start")?, attr(r, "end")?)))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        if let Some(ip) = ips
            .iter()
            .zip(el.children_named("ip"))
            .find(|(ip, _)| ip.netmask.is_some() && ip.prefix.is_some())
        {
            return Err(VirtError::xml(format!(
                "network '{name}' <ip> at line {} has both netmask and prefix",
                ip.1.line
            )));
        }
        let mac = match el.child("mac") {
            None => None,
            Some(mac_el) => {
                let value = mac_el.attr("address").unwrap_or("");
                if !is_mac(value) {
                    return Err(invalid(
                        mac_el,
                        "bridge mac address",
                        value,
                        "expected six hex pairs separated by ':'",
                    ));
                }
                Some(value.to_ascii_lowercase())
            }
        };
        let mut def = NetworkDef {
            bridge: child_attr(&el, "bridge", "name"),
            mac,
            forward_mode,
            ips,
            name,
            uuid,
            tree: el,
        };
        def.sync();
        Ok(def)
    }

    /// The stored tree with the owned fields written back.
    pub fn to_element(&self) -> Element {
        let mut tree = self.tree.clone();
        self.write_back(&mut tree);
        tree
    }

    /// The definition as libvirt-style XML.
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }

    /// The stored tree as parsed or last synced.
    pub fn element(&self) -> &Element {
        &self.tree
    }

    /// Writes the owned fields into the stored tree.
    pub fn sync(&mut self) {
        let mut tree = std::mem::take(&mut self.tree);
        self.write_back(&mut tree);
        self.tree = tree;
    }

    /// Edits the document through its tree, then re-reads the model; on error
    /// the definition is left unchanged.
    pub fn update_tree(&mut self, edit: impl FnOnce(&mut Element)) -> VirtResult<()> {
        let mut tree = self.to_element();
        edit(&mut tree);
        *self = NetworkDef::from_element(tree)?;
        Ok(())
    }

    fn write_back(&self, tree: &mut Element) {
        set_child_text(tree, "name", Some(&self.name), NETWORK_ORDER);
        set_child_text(tree, "uuid", Some(&self.uuid.to_string()), NETWORK_ORDER);
        match &self.bridge {
            Some(bridge) => {
                let el = ensure_child(tree, "bridge", NETWORK_ORDER);
                if el.attr("name") != Some(bridge.as_str()) {
                    el.set_attr("name", bridge.as_str());
                }
            }
            None => {
                if let Some(el) = tree.child_mut("bridge") {
                    el.remove_attr("name");
                }
            }
        }
    }
}

/// A MAC address as libvirt's `virMacAddrParse` accepts it: six hex numbers of
/// one or two digits separated by ':'.
fn is_mac(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn default_network() {
        let def = NetworkDef::from_xml(
            "<network><name>default</name><bridge name='virbr0'/><forward/>\
             <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>\
             <range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>",
        )
        .unwrap();
        assert_eq!(def.forward_mode.as_deref(), Some("nat"));
        assert_eq!(def.bridge.as_deref(), Some("virbr0"));
        assert_eq!(
            def.ips[0].dhcp_ranges,
            vec![("192.168.122.2".into(), "192.168.122.254".into())]
        );
        assert_eq!(NetworkDef::from_xml(&def.to_xml()).unwrap(), def);
    }

    #[test]
    fn rejects_bad_networks() {
        for (xml, needle) in [
            ("<network><name>a/b</name></network>", "a/b"),
            ("<network><uuid>x</uuid><name>n</name></network>", "'x'"),
            ("<network><name>n</name><forward mode='warp'/></network>", "warp"),
            ("<network/>", "<name>"),
        ] {
            let err = NetworkDef::from_xml(xml).unwrap_err();
            assert_eq!(err.code, ErrorCode::XmlError);
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
    }
}
