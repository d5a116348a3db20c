//! SNMPv2-MIB `system` group (RFC 3418 §2): sysDescr, sysObjectID,
//! sysUpTime, sysContact, sysName, sysLocation, sysServices. Read-only here
//! (the writable ones are configured in the agent's settings instead).

use crate::oids::{oid_with, LIBVIRT_MIB, SYSTEM};
use async_snmp::handler::{BoxFuture, GetNextResult, GetResult, HandlerResult, MibHandler, RequestContext};
use async_snmp::{Oid, Value, VarBind};
use std::time::Instant;

/// The scalar values, fixed at start except sysUpTime.
pub struct SystemGroup {
    descr: String,
    contact: String,
    name: String,
    location: String,
    started: Instant,
}

/// sysServices: application (layer 7) plus end-to-end (layer 4), 2^6 + 2^3.
const SYS_SERVICES: i32 = 72;

impl SystemGroup {
    pub fn new(descr: String, contact: String, name: String, location: String) -> SystemGroup {
        SystemGroup {
            descr,
            contact,
            name,
            location,
            started: Instant::now(),
        }
    }

    /// sysUpTime in hundredths of a second (wraps like a TimeTicks).
    pub fn uptime(&self) -> u32 {
        let centis = self.started.elapsed().as_millis() / 10;
        (centis % (u128::from(u32::MAX) + 1)) as u32
    }

    fn value(&self, sub: u32) -> Option<Value> {
        Some(match sub {
            1 => Value::OctetString(self.descr.clone().into_bytes().into()),
            2 => Value::ObjectIdentifier(Oid::from_slice(LIBVIRT_MIB)),
            3 => Value::TimeTicks(self.uptime()),
            4 => Value::OctetString(self.contact.clone().into_bytes().into()),
            5 => Value::OctetString(self.name.clone().into_bytes().into()),
            6 => Value::OctetString(self.location.clone().into_bytes().into()),
            7 => Value::Integer(SYS_SERVICES),
            _ => return None,
        })
    }
}

const LAST: u32 = 7;

impl SystemGroup {
    /// GET of one scalar instance (`sysX.0`), answered without the agent's
    /// machinery (see [`crate::front`]); `None` for anything else.
    pub fn get_now(&self, oid: &Oid) -> Option<Value> {
        match oid.arcs().strip_prefix(SYSTEM) {
            Some([sub, 0]) => self.value(*sub),
            _ => None,
        }
    }
}

impl MibHandler for SystemGroup {
    fn get<'a>(&'a self, _ctx: &'a RequestContext, oid: &'a Oid) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(async move {
            Ok(match oid.arcs().strip_prefix(SYSTEM) {
                Some([sub, 0]) if self.value(*sub).is_some() => match self.value(*sub) {
                    Some(v) => GetResult::Value(v),
                    None => GetResult::NoSuchInstance,
                },
                Some([sub, ..]) if self.value(*sub).is_some() => GetResult::NoSuchInstance,
                _ => GetResult::NoSuchObject,
            })
        })
    }

    fn get_next<'a>(&'a self, _ctx: &'a RequestContext, oid: &'a Oid) -> BoxFuture<'a, HandlerResult<GetNextResult>> {
        Box::pin(async move {
            // The first scalar whose instance (sub.0) sorts after `oid`.
            let next = match oid.arcs().strip_prefix(SYSTEM) {
                Some([]) => Some(1),
                Some([sub]) => Some((*sub).max(1)),
                Some([sub, ..]) => sub.checked_add(1).map(|n| n.max(1)),
                None if oid < &Oid::from_slice(SYSTEM) => Some(1),
                None => None,
            };
            Ok(
                match next.filter(|n| *n <= LAST).and_then(|n| Some((n, self.value(n)?))) {
                    Some((n, value)) => GetNextResult::Value(VarBind::new(oid_with(SYSTEM, &[n, 0]), value)),
                    None => GetNextResult::EndOfMibView,
                },
            )
        })
    }
}
