//! [`SnmpConfig`]: the adapter's settings as the agent binary resolved them
//! from flags and the `[snmp]` file section.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which SNMP version notifications go out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrapVersion {
    /// SNMPv1 Trap-PDUs, converted from the v2 notification as RFC 3584
    /// §3.2 says (docs/snmp.md gives the mapping).
    V1,
    /// SNMPv2c SNMPv2-Trap-PDUs (or InformRequests with `informs`).
    #[default]
    V2c,
}

/// Everything the SNMP adapter needs to start.
#[derive(Debug, Clone)]
pub struct SnmpConfig {
    /// UDP addresses to serve on (one agent socket each; IPv4 and IPv6).
    pub listen: Vec<SocketAddr>,
    /// Read-only community (v1/v2c).
    pub community: String,
    /// Read-write community; SET is refused (`noAccess`/`notWritable`) while unset.
    pub rw_community: Option<String>,
    /// Notification receivers.
    pub trap_sinks: Vec<SocketAddr>,
    /// Community the notifications carry.
    pub trap_community: String,
    /// Notification version for every sink.
    pub trap_version: TrapVersion,
    /// Send confirmed informs (with retries) instead of unconfirmed traps
    /// (SNMPv2c only: SNMPv1 has no inform).
    pub informs: bool,
    /// How long to wait for an inform's acknowledgement before sending it
    /// again.
    pub inform_timeout: Duration,
    /// Retransmissions of an unacknowledged inform (0: sent once).
    pub inform_retries: u32,
    /// Where the SNMPv3 engine ID and boots counter persist (`snmp-engine`);
    /// `None` makes up a fresh engine ID per run (tests).
    pub state_dir: Option<PathBuf>,
    /// SNMPv2-MIB sysContact.0.
    pub sys_contact: String,
    /// SNMPv2-MIB sysLocation.0.
    pub sys_location: String,
    /// SNMPv2-MIB sysName.0; the host name when empty.
    pub sys_name: String,
    /// SNMPv3 users.
    pub users: Vec<UsmUserConfig>,
    /// Also (or only, with no `listen`) serve as an AgentX subagent of this
    /// master.
    pub agentx: Option<crate::agentx::AgentxAddr>,
}

/// net-snmp's own defaults for informs (`snmpd`'s session timeout and
/// retries).
pub const DEFAULT_INFORM_TIMEOUT: Duration = Duration::from_secs(1);
pub const DEFAULT_INFORM_RETRIES: u32 = 5;

impl Default for SnmpConfig {
    fn default() -> Self {
        SnmpConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 1161))],
            community: "public".into(),
            rw_community: None,
            trap_sinks: Vec::new(),
            trap_community: "public".into(),
            trap_version: TrapVersion::V2c,
            informs: false,
            inform_timeout: DEFAULT_INFORM_TIMEOUT,
            inform_retries: DEFAULT_INFORM_RETRIES,
            state_dir: None,
            sys_contact: String::new(),
            sys_location: String::new(),
            sys_name: String::new(),
            users: Vec::new(),
            agentx: None,
        }
    }
}

/// One SNMPv3 (USM) user. Authentication is required; privacy is optional.
#[derive(Debug, Clone)]
pub struct UsmUserConfig {
    pub name: String,
    /// `SHA` (SHA-1), `SHA-224`, `SHA-256`, `SHA-384`, `SHA-512`.
    pub auth_protocol: String,
    pub auth_password: String,
    /// `AES` (AES-128), `AES-192`, `AES-256` (Blumenthal key extension, as
    /// net-snmp's `AES192`/`AES256`); `None` for authNoPriv.
    pub priv_protocol: Option<String>,
    pub priv_password: Option<String>,
    /// May SET.
    pub write: bool,
    /// Limits the user to this subtree (dotted OID); everything when `None`.
    pub view: Option<String>,
}
