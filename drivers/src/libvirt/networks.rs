//! Virtual networks through libvirt: [`NetworkDriver`] for [`LibvirtDriver`]
//! (`virNetwork*`), with lifecycle events from libvirt's callbacks.

use super::conn::{c_text, Session};
use super::events::{Expect, Key};
use super::reconnect::Link;
use super::{lv, LibvirtDriver};
use crate::model::{NetworkRecord, Outcome};
use crate::traits::NetworkDriver;
use uuid::Uuid;
use virt::network::Network;
use virtbus_schemas::{ErrorCode, NetworkDef, VirtResult};

/// Every network, active and inactive (`virConnectListAllNetworks`).
pub(crate) fn list(link: &Link) -> VirtResult<Vec<NetworkRecord>> {
    let session = link.session()?;
    let nets = match session.conn().list_all_networks(0) {
        Ok(nets) => nets,
        // A URI without a network driver has no networks.
        Err(err) if err.code().to_raw() as i32 == ErrorCode::NoSupport.number() => return Ok(Vec::new()),
        Err(err) => return lv(link, Err(err)),
    };
    let mut out = Vec::with_capacity(nets.len());
    for net in &nets {
        match record(link, net) {
            Ok(rec) => out.push(rec),
            Err(err) if err.code == ErrorCode::NoNetwork => {}
            Err(err) => {
                let name = net.get_name().unwrap_or_default();
                tracing::warn!(network = %name, error = %err, "libvirt network left out: cannot read it");
            }
        }
    }
    Ok(out)
}

fn record(link: &Link, net: &Network) -> VirtResult<NetworkRecord> {
    let rec = NetworkRecord {
        def: NetworkDef::from_xml(&lv(link, net.get_xml_desc(0))?)?,
        active: lv(link, net.is_active())?,
        persistent: lv(link, net.is_persistent())?,
        autostart: net.get_autostart().unwrap_or(false),
    };
    link.seen_network(&rec);
    Ok(rec)
}

fn lookup(link: &Link, session: &Session, uuid: Uuid) -> VirtResult<Network> {
    lv(link, Network::lookup_by_uuid(session.conn(), uuid))
}

fn fetch(link: &Link, session: &Session, uuid: Uuid) -> VirtResult<Option<NetworkRecord>> {
    match lookup(link, session, uuid).and_then(|n| record(link, &n)) {
        Ok(rec) => Ok(Some(rec)),
        Err(err) if err.code == ErrorCode::NoNetwork => Ok(None),
        Err(err) => Err(err),
    }
}

impl LibvirtDriver {
    fn network_call(
        &self,
        uuid: Uuid,
        call: impl FnOnce(&Network) -> Result<(), virt::error::Error>,
    ) -> VirtResult<Outcome<NetworkRecord>> {
        let link = &*self.link;
        // Every network operation here emits exactly one lifecycle event.
        self.mutate(
            Key::Network(uuid),
            Expect::One,
            |s| {
                let net = lookup(link, s, uuid)?;
                lv(link, call(&net))
            },
            |s| fetch(link, s, uuid),
        )
    }

    fn add_network(&self, def: NetworkDef, live: bool) -> VirtResult<Outcome<NetworkRecord>> {
        let xml = def.to_xml();
        c_text("network XML", &xml)?;
        let link = &*self.link;
        let created = std::cell::Cell::new(def.uuid);
        self.mutate(
            Key::Network(def.uuid),
            Expect::One,
            |s| {
                let net = if live {
                    lv(link, Network::create_xml(s.conn(), &xml))?
                } else {
                    lv(link, Network::define_xml(s.conn(), &xml))?
                };
                if let Ok(uuid) = net.get_uuid() {
                    created.set(uuid);
                }
                Ok(())
            },
            |s| fetch(link, s, created.get()),
        )
    }
}

impl NetworkDriver for LibvirtDriver {
    fn list_networks(&self) -> VirtResult<Vec<NetworkRecord>> {
        list(&self.link)
    }

    fn get_network(&self, uuid: Uuid) -> VirtResult<NetworkRecord> {
        let session = self.session()?;
        record(&self.link, &lookup(&self.link, &session, uuid)?)
    }

    /// `virNetworkDefineXML`: DEFINED.
    fn define_network(&self, def: NetworkDef) -> VirtResult<Outcome<NetworkRecord>> {
        self.add_network(def, false)
    }

    /// `virNetworkCreateXML`: STARTED.
    fn create_network(&self, def: NetworkDef) -> VirtResult<Outcome<NetworkRecord>> {
        self.add_network(def, true)
    }

    /// `virNetworkCreate`: STARTED.
    fn start_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.network_call(uuid, |n| n.create().map(|_| ()))
    }

    /// `virNetworkDestroy`: STOPPED.
    fn destroy_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.network_call(uuid, |n| n.destroy())
    }

    /// `virNetworkUndefine`: UNDEFINED.
    fn undefine_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.network_call(uuid, |n| n.undefine())
    }
}
