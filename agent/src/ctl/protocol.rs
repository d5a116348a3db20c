//! The control socket's wire format: one JSON object per line each way.
//!
//! Request: `{"cmd":"dominfo","domain":"test"}`. Reply: `{"ok":{...}}` or
//! `{"error":{"code":"NO_DOMAIN","number":42,"message":"..."}}`. The `events`
//! command answers `{"ok":{"streaming":true}}` and then one event per line
//! until the client hangs up. Field names are documented in `docs/ctl.md`.

use serde::{Deserialize, Serialize};
use virtbus_schemas::VirtError;

/// Longest request line accepted (a define of a large domain XML fits; virsh
/// reads at most 10 MiB of XML from a file).
pub const MAX_REQUEST_BYTES: usize = 12 * 1024 * 1024;

/// Every command the control socket understands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    List {
        #[serde(default)]
        all: bool,
    },
    Dominfo {
        domain: String,
    },
    Domstate {
        domain: String,
    },
    Dumpxml {
        domain: String,
        #[serde(default)]
        inactive: bool,
    },
    Define {
        xml: String,
    },
    Create {
        xml: String,
    },
    Undefine {
        domain: String,
    },
    Start {
        domain: String,
    },
    Shutdown {
        domain: String,
    },
    Destroy {
        domain: String,
    },
    Suspend {
        domain: String,
    },
    Resume {
        domain: String,
    },
    Reboot {
        domain: String,
    },
    Reset {
        domain: String,
    },
    Setmem {
        domain: String,
        kib: u64,
    },
    Setmaxmem {
        domain: String,
        kib: u64,
    },
    Setvcpus {
        domain: String,
        count: u32,
    },
    /// Mark (or with `disable`, unmark) a domain to start with the agent.
    Autostart {
        domain: String,
        #[serde(default)]
        disable: bool,
    },
    Domstats {
        #[serde(default)]
        domains: Vec<String>,
    },
    PoolList {
        #[serde(default)]
        all: bool,
    },
    PoolInfo {
        pool: String,
    },
    PoolDefine {
        xml: String,
    },
    PoolCreate {
        xml: String,
    },
    PoolDumpxml {
        pool: String,
    },
    PoolStart {
        pool: String,
    },
    PoolBuild {
        pool: String,
    },
    PoolDestroy {
        pool: String,
    },
    PoolDelete {
        pool: String,
    },
    PoolRefresh {
        pool: String,
    },
    PoolAutostart {
        pool: String,
        #[serde(default)]
        disable: bool,
    },
    PoolUndefine {
        pool: String,
    },
    VolList {
        pool: String,
    },
    VolCreateAs {
        pool: String,
        name: String,
        capacity_bytes: u64,
        #[serde(default)]
        allocation_bytes: Option<u64>,
        #[serde(default)]
        format: Option<String>,
    },
    /// `pool` absent: `vol` is looked up as a path or key in every pool.
    VolDumpxml {
        #[serde(default)]
        pool: Option<String>,
        vol: String,
    },
    VolDelete {
        #[serde(default)]
        pool: Option<String>,
        vol: String,
    },
    VolResize {
        #[serde(default)]
        pool: Option<String>,
        vol: String,
        capacity_bytes: u64,
    },
    NetList {
        #[serde(default)]
        all: bool,
    },
    NetInfo {
        network: String,
    },
    NetDefine {
        xml: String,
    },
    NetCreate {
        xml: String,
    },
    NetDumpxml {
        network: String,
    },
    NetStart {
        network: String,
    },
    NetDestroy {
        network: String,
    },
    NetAutostart {
        network: String,
        #[serde(default)]
        disable: bool,
    },
    NetUndefine {
        network: String,
    },
    Nodeinfo,
    Status,
    Events,
    /// Test hook: makes the domain's actor panic (refused unless the agent
    /// runs with `VIRTBUS_TEST_HOOKS=1`).
    DebugPanic {
        domain: String,
    },
}

/// The error half of a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireError {
    /// libvirt's code name (`NO_DOMAIN`).
    pub code: String,
    /// libvirt's code number.
    pub number: i32,
    pub message: String,
}

impl From<&VirtError> for WireError {
    fn from(err: &VirtError) -> Self {
        WireError {
            code: err.code.name().to_string(),
            number: err.code.number(),
            message: err.libvirt_message(),
        }
    }
}

/// A reply: exactly one of `ok` and `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Ok(serde_json::Value),
    Error(WireError),
}
