//! virtbus-snmp: the SNMP adapter. It serves LIBVIRT-MIB exactly as
//! libvirt-snmp does (same OIDs, types and index form), so managers written
//! for libvirt-snmp poll virtbus unchanged, plus the SNMPv2-MIB system group
//! and the snmpEngine group, plus our own VIRTBUS-MIB (pools, volumes,
//! networks, guest device counters, the host), and sends `libvirtGuestNotif` for every domain
//! life-cycle event.
//!
//! The protocol engine (BER, v1/v2c/v3 message processing, USM, VACM, GETBULK
//! sizing, SET test/commit/undo sequencing, trap and inform delivery) is the
//! `async-snmp` crate's agent; this crate only decides what to answer. See
//! `docs/snmp.md` for the wire contract and why.
//!
//! Layout:
//! - [`config`]: what the agent binary hands us ([`SnmpConfig`]).
//! - [`oids`]: the object identifiers we serve.
//! - [`guest_table`]: reads of `libvirtGuestTable` from the core's snapshot.
//! - [`guest_set`]: SETs on `libvirtGuestState` / `libvirtGuestRowStatus`.
//! - [`ext`]: VIRTBUS-MIB, our extension module (host, pools, volumes,
//!   networks, per-guest block and interface counters).
//! - [`mib`]: both modules as one tree, for the AgentX subagent.
//! - [`system_group`]: SNMPv2-MIB `system` scalars.
//! - [`snmp_group`]: SNMPv2-MIB `snmpInBadCommunityNames`, counted through a
//!   `tracing` layer the binary installs.
//! - [`notify`]: bus events → `libvirtGuestNotif` traps/informs.
//! - [`engine_state`]: the persisted SNMPv3 engine ID and boots counter.
//! - [`errors`]: the one table mapping core errors to SNMP error-status.
//! - [`server`]: builds and runs the agent(s) ([`SnmpServer`]) on a thread
//!   of their own.
//! - [`front`]: the UDP front door that answers table walks itself and
//!   relays everything else to async-snmp's agent.
//! - [`agentx`]: the AgentX subagent (RFC 2741) serving the same MIB logic
//!   through a master agent such as net-snmp's `snmpd`.

pub mod agentx;
pub mod config;
pub mod engine_state;
pub mod errors;
pub mod ext;
pub mod front;
pub mod guest_set;
pub mod guest_table;
pub mod mib;
pub mod notify;
pub mod oids;
pub mod server;
pub mod snmp_group;
pub mod system_group;

pub use agentx::AgentxAddr;
pub use config::{SnmpConfig, TrapVersion, UsmUserConfig};
pub use server::{SnmpError, SnmpServer};
pub use snmp_group::bad_community_layer;
