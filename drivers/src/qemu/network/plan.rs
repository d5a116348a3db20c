//! What a network definition asks of the host, checked before anything is
//! touched: the forward mode, the bridge, the IPv4 subnet and DHCP ranges
//! ([`Plan`]); and the text we hand to the tools for it (dnsmasq's
//! configuration, our nftables table). Pure functions, unit-tested here.
//!
//! The rules follow what libvirt's network driver sets up for the same
//! modes (its iptables/nftables backends): guests on an isolated network
//! reach only each other and the host; on a NAT network they also reach the
//! outside, masqueraded, and only replies come back in.

use super::tools::{valid_ifname, Tool};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use virtbus_schemas::{ErrorCode, NetworkDef, VirtError, VirtResult};

/// How the network reaches the outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No `<forward>` (or mode `none`): a bridge of our own, no routing out.
    Isolated,
    /// `<forward mode='nat'>`: a bridge of our own, masqueraded.
    Nat,
    /// `<forward mode='bridge'>`: an existing host bridge; nothing created.
    Bridge,
}

impl Mode {
    /// Whether the driver creates (and later removes) the bridge.
    pub(crate) fn managed(self) -> bool {
        !matches!(self, Mode::Bridge)
    }
}

/// An IPv4 address with its prefix length (`<ip address= prefix=|netmask=>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ipv4Net {
    pub address: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub(crate) fn mask(self) -> u32 {
        mask_of(self.prefix)
    }

    pub(crate) fn network(self) -> u32 {
        u32::from(self.address) & self.mask()
    }

    pub(crate) fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.network()
    }

    /// Whether this subnet and `net/mask` share any address.
    pub(crate) fn overlaps(self, net: u32, mask: u32) -> bool {
        let common = self.mask() & mask;
        self.network() & common == net & common
    }

    /// `192.168.122.0/24`.
    pub(crate) fn cidr(self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.network()), self.prefix)
    }

    pub(crate) fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }
}

fn mask_of(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// The host side of one network definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub mode: Mode,
    /// `None` until the driver picks a name (`virbrN`).
    pub bridge: Option<String>,
    pub ip: Option<Ipv4Net>,
    pub dhcp: Vec<(Ipv4Addr, Ipv4Addr)>,
}

impl Plan {
    /// Checks a definition as the qemu driver supports it.
    pub(crate) fn of(def: &NetworkDef) -> VirtResult<Plan> {
        let name = &def.name;
        let mode = match def.forward_mode.as_deref() {
            None | Some("none") => Mode::Isolated,
            Some("nat") => Mode::Nat,
            Some("bridge") => Mode::Bridge,
            Some(other) => {
                return Err(VirtError::no_support(format!(
                "forward mode '{other}' of network '{name}' is not supported by the qemu driver (none, nat or bridge)"
            )))
            }
        };
        let bridge = def.bridge.clone().filter(|b| !b.contains("%d"));
        if let Some(br) = &bridge {
            if !valid_ifname(br) {
                return Err(VirtError::xml(format!(
                    "bridge name '{br}' of network '{name}' is not a valid interface name (1 to 15 characters, no '/', ':', '\"' or spaces)"
                )));
            }
        }
        if mode == Mode::Bridge {
            if bridge.is_none() {
                return Err(VirtError::xml(format!(
                    "network '{name}' with forward mode 'bridge' needs <bridge name='...'/> naming an existing host bridge"
                )));
            }
            if !def.ips.is_empty() {
                return Err(VirtError::new(
                    ErrorCode::ConfigUnsupported,
                    format!("unsupported <ip> element in network '{name}' with forward mode 'bridge'"),
                ));
            }
        }
        let mut ip = None;
        let mut dhcp = Vec::new();
        for el in &def.ips {
            if el.family.as_deref().is_some_and(|f| f != "ipv4") {
                return Err(VirtError::no_support(format!(
                    "<ip family='{}'> of network '{name}' is not supported by the qemu driver (IPv4 only)",
                    el.family.as_deref().unwrap_or("")
                )));
            }
            if ip.is_some() {
                return Err(VirtError::no_support(format!(
                    "network '{name}' has more than one IPv4 <ip>; the qemu driver supports one"
                )));
            }
            let net = parse_ip(name, el)?;
            for (start, end) in &el.dhcp_ranges {
                let (s, e) = (parse_addr(name, start)?, parse_addr(name, end)?);
                if !net.contains(s) || !net.contains(e) || u32::from(s) > u32::from(e) {
                    return Err(VirtError::new(
                        ErrorCode::ConfigUnsupported,
                        format!(
                            "dhcp range '{start}' - '{end}' of network '{name}' is not an ascending range within {}",
                            net.cidr()
                        ),
                    ));
                }
                if (s..=e).contains(&net.address) {
                    return Err(VirtError::new(
                        ErrorCode::ConfigUnsupported,
                        format!(
                            "dhcp range '{start}' - '{end}' of network '{name}' includes the bridge's own address {}",
                            net.address
                        ),
                    ));
                }
                dhcp.push((s, e));
            }
            ip = Some(net);
        }
        Ok(Plan { mode, bridge, ip, dhcp })
    }

    /// The tools starting this network runs.
    pub(crate) fn tools(&self) -> Vec<Tool> {
        let mut tools = vec![Tool::Ip];
        if self.mode.managed() {
            tools.push(Tool::Nft);
            if self.ip.is_some() {
                tools.push(Tool::Dnsmasq);
            }
        }
        tools
    }

    /// Whether dnsmasq serves this network (DNS, and DHCP with ranges): as
    /// in libvirt, whenever a bridge of ours has an IPv4 address.
    pub(crate) fn runs_dnsmasq(&self) -> bool {
        self.mode.managed() && self.ip.is_some()
    }
}

fn parse_addr(network: &str, text: &str) -> VirtResult<Ipv4Addr> {
    text.parse()
        .map_err(|_| VirtError::xml(format!("'{text}' in network '{network}' is not an IPv4 address")))
}

fn parse_ip(network: &str, el: &virtbus_schemas::network::NetworkIp) -> VirtResult<Ipv4Net> {
    let address = el
        .address
        .as_deref()
        .ok_or_else(|| VirtError::xml(format!("<ip> of network '{network}' has no address")))?;
    let address = parse_addr(network, address)?;
    let prefix = match (&el.prefix, &el.netmask) {
        (Some(p), _) if *p <= 32 => *p as u8,
        (Some(p), _) => {
            return Err(VirtError::xml(format!(
                "prefix {p} of network '{network}' is larger than 32"
            )))
        }
        (None, Some(mask)) => {
            let m = u32::from(parse_addr(network, mask)?);
            if m.leading_ones() + m.trailing_zeros() != 32 {
                return Err(VirtError::xml(format!(
                    "netmask '{mask}' of network '{network}' is not contiguous"
                )));
            }
            m.leading_ones() as u8
        }
        (None, None) => {
            return Err(VirtError::xml(format!(
                "<ip address='{address}'> of network '{network}' needs a prefix or a netmask"
            )))
        }
    };
    if !(8..=30).contains(&prefix) {
        return Err(VirtError::new(
            ErrorCode::ConfigUnsupported,
            format!("prefix /{prefix} of network '{network}' is not supported (8 to 30)"),
        ));
    }
    let net = Ipv4Net { address, prefix };
    let host = u32::from(address) & !net.mask();
    if host == 0 || host == !net.mask() {
        return Err(VirtError::xml(format!(
            "address {address} of network '{network}' is its subnet's network or broadcast address"
        )));
    }
    Ok(net)
}

/// The nftables table of a network: `virtbus-NAME`, with characters nft
/// does not take in a name replaced, and then the UUID's first block added
/// so that two names never share a table.
pub(crate) fn nft_table_name(def: &NetworkDef) -> String {
    let clean = def
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if clean {
        format!("virtbus-{}", def.name)
    } else {
        let name: String = def
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let uuid = def.uuid.simple().to_string();
        format!("virtbus-{name}-{}", &uuid[..8])
    }
}

/// Our table for a network with a bridge of its own (`nft -f -` input).
pub(crate) fn nft_ruleset(table: &str, plan: &Plan, bridge: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "table ip {table} {{");
    let _ = writeln!(s, "  chain forward {{");
    let _ = writeln!(s, "    type filter hook forward priority filter; policy accept;");
    // Guests on the same bridge always reach each other.
    let _ = writeln!(s, "    iifname \"{bridge}\" oifname \"{bridge}\" accept");
    if plan.mode == Mode::Nat {
        match plan.ip {
            Some(ip) => {
                let cidr = ip.cidr();
                let _ = writeln!(
                    s,
                    "    oifname \"{bridge}\" ip daddr {cidr} ct state related,established accept"
                );
                let _ = writeln!(s, "    iifname \"{bridge}\" ip saddr {cidr} accept");
            }
            None => {
                let _ = writeln!(s, "    oifname \"{bridge}\" ct state related,established accept");
                let _ = writeln!(s, "    iifname \"{bridge}\" accept");
            }
        }
    }
    let _ = writeln!(s, "    oifname \"{bridge}\" reject");
    let _ = writeln!(s, "    iifname \"{bridge}\" reject");
    let _ = writeln!(s, "  }}");
    if let (Mode::Nat, Some(ip)) = (plan.mode, plan.ip) {
        let cidr = ip.cidr();
        let _ = writeln!(s, "  chain postrouting {{");
        let _ = writeln!(s, "    type nat hook postrouting priority srcnat; policy accept;");
        // Multicast and broadcast stay on the link, unchanged.
        let _ = writeln!(s, "    ip saddr {cidr} ip daddr 224.0.0.0/24 return");
        let _ = writeln!(s, "    ip saddr {cidr} ip daddr 255.255.255.255 return");
        let _ = writeln!(
            s,
            "    ip saddr {cidr} ip daddr != {cidr} meta l4proto {{ tcp, udp }} masquerade to :1024-65535"
        );
        let _ = writeln!(s, "    ip saddr {cidr} ip daddr != {cidr} masquerade");
        let _ = writeln!(s, "  }}");
    }
    let _ = writeln!(s, "}}");
    s
}

/// The files dnsmasq uses for one network.
pub(crate) struct DnsmasqFiles<'a> {
    pub pid: &'a std::path::Path,
    pub leases: &'a std::path::Path,
}

/// dnsmasq's configuration for a network: DNS on the bridge only, and DHCP
/// for the ranges (libvirt's choices: strict order, no override of the
/// boot server fields, authoritative, a lease limit of the range size).
pub(crate) fn dnsmasq_conf(plan: &Plan, bridge: &str, files: &DnsmasqFiles<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "strict-order");
    let _ = writeln!(s, "pid-file={}", files.pid.display());
    let _ = writeln!(s, "except-interface=lo");
    let _ = writeln!(s, "bind-dynamic");
    let _ = writeln!(s, "interface={bridge}");
    if let Some(ip) = plan.ip {
        if !plan.dhcp.is_empty() {
            let mut leases: u64 = 0;
            for (start, end) in &plan.dhcp {
                let _ = writeln!(s, "dhcp-range={start},{end},{}", ip.netmask());
                leases += u64::from(u32::from(*end) - u32::from(*start)) + 1;
            }
            let _ = writeln!(s, "dhcp-no-override");
            let _ = writeln!(s, "dhcp-authoritative");
            let _ = writeln!(s, "dhcp-lease-max={leases}");
            let _ = writeln!(s, "dhcp-leasefile={}", files.leases.display());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(xml: &str) -> NetworkDef {
        NetworkDef::from_xml(xml).expect("valid network XML")
    }

    #[test]
    fn nat_plan_and_rules() {
        let d = def("<network><name>vb-nat</name><forward mode='nat'/><bridge name='vbbr0'/>\
             <ip address='192.168.77.1' netmask='255.255.255.0'><dhcp><range start='192.168.77.10' end='192.168.77.20'/></dhcp></ip></network>");
        let plan = Plan::of(&d).expect("supported");
        assert_eq!(plan.mode, Mode::Nat);
        assert_eq!(plan.bridge.as_deref(), Some("vbbr0"));
        let ip = plan.ip.expect("ip");
        assert_eq!(ip.cidr(), "192.168.77.0/24");
        assert_eq!(plan.tools(), vec![Tool::Ip, Tool::Nft, Tool::Dnsmasq]);
        let rules = nft_ruleset(&nft_table_name(&d), &plan, "vbbr0");
        assert!(rules.starts_with("table ip virtbus-vb-nat {"), "{rules}");
        assert!(
            rules.contains("ip saddr 192.168.77.0/24 ip daddr != 192.168.77.0/24 masquerade\n"),
            "{rules}"
        );
        let conf = dnsmasq_conf(
            &plan,
            "vbbr0",
            &DnsmasqFiles {
                pid: std::path::Path::new("/run/x.pid"),
                leases: std::path::Path::new("/run/x.leases"),
            },
        );
        assert!(
            conf.contains("dhcp-range=192.168.77.10,192.168.77.20,255.255.255.0\n"),
            "{conf}"
        );
        assert!(conf.contains("dhcp-lease-max=11\n"), "{conf}");
        assert!(conf.contains("interface=vbbr0\n"), "{conf}");
    }

    #[test]
    fn isolated_rules_have_no_nat() {
        let d = def("<network><name>iso</name><ip address='10.9.0.1' prefix='16'/></network>");
        let plan = Plan::of(&d).expect("supported");
        assert_eq!(plan.mode, Mode::Isolated);
        assert_eq!(plan.bridge, None, "picked at define");
        let rules = nft_ruleset("virtbus-iso", &plan, "virbr3");
        assert!(!rules.contains("masquerade"), "{rules}");
        assert!(rules.contains("iifname \"virbr3\" reject"), "{rules}");
    }

    #[test]
    fn overlap() {
        let a = Ipv4Net {
            address: "192.168.77.1".parse().unwrap(),
            prefix: 24,
        };
        let b = Ipv4Net {
            address: "192.168.0.1".parse().unwrap(),
            prefix: 16,
        };
        assert!(a.overlaps(b.network(), b.mask()));
        assert!(b.overlaps(a.network(), a.mask()));
        let c = Ipv4Net {
            address: "192.168.78.1".parse().unwrap(),
            prefix: 24,
        };
        assert!(!a.overlaps(c.network(), c.mask()));
    }

    #[test]
    fn table_names_are_nft_identifiers() {
        let d = def("<network><name>my net</name><uuid>12345678-1234-1234-1234-123456789abc</uuid></network>");
        assert_eq!(nft_table_name(&d), "virtbus-my_net-12345678");
    }

    #[test]
    fn refused() {
        for (xml, code) in [
            ("<network><name>r</name><forward mode='route'/></network>", ErrorCode::NoSupport),
            ("<network><name>b</name><forward mode='bridge'/></network>", ErrorCode::XmlError),
            (
                "<network><name>b</name><forward mode='bridge'/><bridge name='br0'/><ip address='10.0.0.1' prefix='24'/></network>",
                ErrorCode::ConfigUnsupported,
            ),
            ("<network><name>v6</name><ip family='ipv6' address='fd00::1' prefix='64'/></network>", ErrorCode::NoSupport),
            ("<network><name>m</name><ip address='10.0.0.1'/></network>", ErrorCode::XmlError),
            ("<network><name>n</name><ip address='10.0.0.0' prefix='24'/></network>", ErrorCode::XmlError),
            (
                "<network><name>d</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip></network>",
                ErrorCode::ConfigUnsupported,
            ),
            ("<network><name>l</name><bridge name='a-very-long-bridge-name'/></network>", ErrorCode::XmlError),
        ] {
            let err = Plan::of(&def(xml)).expect_err(xml);
            assert_eq!(err.code, code, "{xml}: {err}");
        }
    }
}
