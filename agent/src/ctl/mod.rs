//! The control socket: its wire [`protocol`], the agent-side [`server`], and
//! the `virtbus ctl` [`client`] with virsh-compatible [`format`]ting.

pub mod client;
pub mod format;
pub mod protocol;
pub mod server;
