//! VIRTBUS-MIB (`schemas/mibs/VIRTBUS-MIB.txt`, root [`VIRTBUS_MIB`]): the
//! host scalars and the pool, volume, network, block-counter and
//! interface-counter tables, read from the core's snapshot (and, for the
//! counters, its sampled statistics) like the guest table.
//!
//! [`ExtMib::get_value`] and [`ExtMib::next_value`] need no request
//! context, so the native agent (through the [`MibHandler`] impl) and the
//! AgentX subagent (through [`crate::mib::Mib`]) share them.
//!
//! Layout: [`host`] (scalars), [`index`] (the table walk: index order and
//! GETNEXT over rows grouped by UUID), [`rows`] (which rows each table has
//! and what its columns read).

pub mod host;
pub mod index;
pub mod rows;

use crate::oids::VIRTBUS_MIB;
use async_snmp::handler::{BoxFuture, GetNextResult, GetResult, HandlerResult, MibHandler, RequestContext};
use async_snmp::Oid;
use host::Host;
use rows::Table;
use virtbus_actors::Core;

/// `virtbusObjects` (`virtbusMIB.1`): the host group and the tables hang
/// below it.
const OBJECTS: u32 = 1;

/// The parts of `virtbusObjects`, in OID order.
#[derive(Debug, Clone, Copy)]
enum Part {
    Host,
    Table(Table),
}

const PARTS: &[Part] = &[
    Part::Host,
    Part::Table(Table::Pools),
    Part::Table(Table::Volumes),
    Part::Table(Table::Networks),
    Part::Table(Table::Blocks),
    Part::Table(Table::Interfaces),
];

impl Part {
    /// The part's arc under `virtbusObjects`.
    fn arc(self) -> u32 {
        match self {
            Part::Host => host::ARC,
            Part::Table(table) => table.arc(),
        }
    }
}

/// The MIB handler registered at `virtbusMIB`.
pub struct ExtMib {
    core: Core,
    host: Host,
}

impl ExtMib {
    pub fn new(core: Core) -> ExtMib {
        ExtMib {
            host: Host::new(&core),
            core,
        }
    }

    /// GET of one instance under `virtbusMIB`.
    pub async fn get_value(&self, oid: &Oid) -> HandlerResult<GetResult> {
        let Some([OBJECTS, part, rest @ ..]) = oid.arcs().strip_prefix(VIRTBUS_MIB) else {
            return Ok(GetResult::NoSuchObject);
        };
        match PARTS.iter().find(|p| p.arc() == *part) {
            Some(Part::Host) => Ok(self.host.get(&self.core, rest)),
            Some(Part::Table(table)) => index::get(&self.core, *table, rest).await,
            None => Ok(GetResult::NoSuchObject),
        }
    }

    /// GETNEXT: the first instance after `oid` in `virtbusMIB`.
    pub async fn next_value(&self, oid: &Oid) -> HandlerResult<GetNextResult> {
        let arcs = oid.arcs();
        for part in PARTS {
            let prefix: Vec<u32> = VIRTBUS_MIB.iter().copied().chain([OBJECTS, part.arc()]).collect();
            // Within the part: after what it names; before it: from its
            // start; past it: on to the next part.
            let after = match arcs.strip_prefix(prefix.as_slice()) {
                Some(rest) => Some(rest),
                None if arcs < prefix.as_slice() => None,
                None => continue,
            };
            let found = match part {
                Part::Host => self.host.next(&self.core, after),
                Part::Table(table) => index::next(&self.core, *table, after).await?,
            };
            if let Some(vb) = found {
                return Ok(GetNextResult::Value(vb));
            }
        }
        Ok(GetNextResult::EndOfMibView)
    }
}

impl MibHandler for ExtMib {
    fn get<'a>(&'a self, _ctx: &'a RequestContext, oid: &'a Oid) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(self.get_value(oid))
    }

    fn get_next<'a>(&'a self, _ctx: &'a RequestContext, oid: &'a Oid) -> BoxFuture<'a, HandlerResult<GetNextResult>> {
        Box::pin(self.next_value(oid))
    }
}
