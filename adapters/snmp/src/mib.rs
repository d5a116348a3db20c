//! [`Mib`]: everything the adapter serves from the core, as one tree for
//! the AgentX subagent: LIBVIRT-MIB ([`GuestTable`]) and VIRTBUS-MIB
//! ([`ExtMib`]), in OID order. The native agent registers the two handlers
//! separately (async-snmp walks across handlers itself); both front ends
//! run the same `get_value`/`next_value` underneath.

use crate::ext::ExtMib;
use crate::guest_table::GuestTable;
use crate::oids::{LIBVIRT_MIB, VIRTBUS_MIB};
use async_snmp::handler::{GetNextResult, GetResult, HandlerResult};
use async_snmp::Oid;
use std::sync::Arc;

/// The subtrees a master is asked to route to us (AgentX Register).
pub const SUBTREES: &[&[u32]] = &[VIRTBUS_MIB, LIBVIRT_MIB];

/// LIBVIRT-MIB and VIRTBUS-MIB behind one GET/GETNEXT.
pub struct Mib {
    pub guests: Arc<GuestTable>,
    pub ext: Arc<ExtMib>,
}

impl Mib {
    /// GET of any OID; `noSuchObject` outside our subtrees.
    pub async fn get_value(&self, oid: &Oid) -> HandlerResult<GetResult> {
        let arcs = oid.arcs();
        if arcs.starts_with(LIBVIRT_MIB) {
            self.guests.get_value(oid).await
        } else if arcs.starts_with(VIRTBUS_MIB) {
            self.ext.get_value(oid).await
        } else {
            Ok(GetResult::NoSuchObject)
        }
    }

    /// GETNEXT across both subtrees in OID order (virtbusMIB,
    /// enterprises.32473, sorts before libvirtMIB, enterprises.36957).
    pub async fn next_value(&self, oid: &Oid) -> HandlerResult<GetNextResult> {
        let arcs = oid.arcs();
        if arcs < VIRTBUS_MIB || arcs.starts_with(VIRTBUS_MIB) {
            if let GetNextResult::Value(vb) = self.ext.next_value(oid).await? {
                return Ok(GetNextResult::Value(vb));
            }
        }
        // Anything before libvirtMIB (virtbusMIB included) starts the guest
        // table from its first row.
        if arcs < LIBVIRT_MIB || arcs.starts_with(LIBVIRT_MIB) {
            return self.guests.next_value(oid).await;
        }
        Ok(GetNextResult::EndOfMibView)
    }
}
