//! Virtual networks of the test driver: [`NetworkDriver`] for [`TestDriver`],
//! after libvirt 9.0.0's `testNetwork*` functions.

use super::table::{Managed, Slot};
use super::{no_network, TestDriver};
use crate::model::{DriverEvent, NetworkRecord, Outcome};
use crate::traits::NetworkDriver;
use uuid::Uuid;
use virtbus_schemas::lifecycle::NetworkEventType;
use virtbus_schemas::{NetworkDef, VirtError, VirtResult};

/// One network of the test driver (`virNetworkObj`).
pub(crate) struct NetObj {
    def: NetworkDef,
    active: bool,
    persistent: bool,
    autostart: bool,
}

impl NetObj {
    fn record(&self) -> NetworkRecord {
        NetworkRecord {
            def: self.def.clone(),
            active: self.active,
            persistent: self.persistent,
            autostart: self.autostart,
        }
    }
}

fn net_event(e: NetworkEventType) -> Vec<DriverEvent> {
    vec![DriverEvent::Network(e)]
}

impl Managed for NetObj {
    type Record = NetworkRecord;

    fn record(&self) -> NetworkRecord {
        NetObj::record(self)
    }

    fn is_gone(&self) -> bool {
        !self.persistent && !self.active
    }
}

impl TestDriver {
    /// `testParseNetworks`: networks of a node file are active.
    pub(crate) fn load_network(&self, def: NetworkDef) -> VirtResult<()> {
        let (uuid, name) = (def.uuid, def.name.clone());
        let obj = NetObj {
            def,
            active: true,
            persistent: true,
            autostart: false,
        };
        self.networks.insert(uuid, &name, obj)?;
        Ok(())
    }

    fn with_network(
        &self,
        uuid: Uuid,
        op: impl FnOnce(&mut NetObj) -> VirtResult<Vec<DriverEvent>>,
    ) -> VirtResult<Outcome<NetworkRecord>> {
        self.networks.apply(uuid, no_network, op)
    }

    /// `virNetworkObjAssignDef` via define (`live == false`) or create.
    fn add_network(&self, def: NetworkDef, live: bool) -> VirtResult<Outcome<NetworkRecord>> {
        let uuid = def.uuid;
        match self
            .networks
            .slot_for(uuid, &def.name, |o: &NetObj| o.def.name.clone())?
        {
            Slot::Existing(cell) => {
                let mut obj = cell.lock();
                if live {
                    if obj.active {
                        return Err(VirtError::operation_invalid(format!(
                            "network is already active as '{}'",
                            obj.def.name
                        )));
                    }
                    obj.def = def;
                    obj.active = true;
                    return Ok(Outcome::new(Some(obj.record()), net_event(NetworkEventType::Started)));
                }
                obj.def = def;
                obj.persistent = true;
                Ok(Outcome::new(Some(obj.record()), net_event(NetworkEventType::Defined)))
            }
            Slot::Vacant => {
                let name = def.name.clone();
                let obj = NetObj {
                    def,
                    active: live,
                    persistent: !live,
                    autostart: false,
                };
                let record = obj.record();
                self.networks.insert(uuid, &name, obj)?;
                let ev = if live {
                    NetworkEventType::Started
                } else {
                    NetworkEventType::Defined
                };
                Ok(Outcome::new(Some(record), net_event(ev)))
            }
        }
    }
}

impl NetworkDriver for TestDriver {
    fn list_networks(&self) -> VirtResult<Vec<NetworkRecord>> {
        Ok(self.networks.all().iter().map(|c| c.lock().record()).collect())
    }

    fn get_network(&self, uuid: Uuid) -> VirtResult<NetworkRecord> {
        let cell = self.networks.get(uuid).ok_or_else(|| no_network(uuid))?;
        let record = cell.lock().record();
        Ok(record)
    }

    /// `testNetworkDefineXML`.
    fn define_network(&self, def: NetworkDef) -> VirtResult<Outcome<NetworkRecord>> {
        self.add_network(def, false)
    }

    /// `testNetworkCreateXML`.
    fn create_network(&self, def: NetworkDef) -> VirtResult<Outcome<NetworkRecord>> {
        self.add_network(def, true)
    }

    /// `testNetworkCreate`.
    fn start_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.with_network(uuid, |obj| {
            if obj.active {
                return Err(VirtError::operation_invalid(format!(
                    "network '{}' is already running",
                    obj.def.name
                )));
            }
            obj.active = true;
            Ok(net_event(NetworkEventType::Started))
        })
    }

    /// `testNetworkDestroy`: like libvirt's test driver, an inactive network
    /// is accepted and STOPPED is emitted again.
    fn destroy_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.with_network(uuid, |obj| {
            obj.active = false;
            Ok(net_event(NetworkEventType::Stopped))
        })
    }

    /// `testNetworkSetAutostart`: persistent networks only.
    fn set_network_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<NetworkRecord>> {
        self.with_network(uuid, |obj| {
            if !obj.persistent {
                return Err(VirtError::operation_invalid(format!(
                    "cannot set autostart for transient network '{}'",
                    obj.def.name
                )));
            }
            obj.autostart = autostart;
            Ok(Vec::new())
        })
    }

    /// `testNetworkUndefine`.
    fn undefine_network(&self, uuid: Uuid) -> VirtResult<Outcome<NetworkRecord>> {
        self.with_network(uuid, |obj| {
            if obj.active {
                return Err(VirtError::operation_invalid(format!(
                    "network '{}' is still running",
                    obj.def.name
                )));
            }
            obj.persistent = false;
            obj.autostart = false;
            Ok(net_event(NetworkEventType::Undefined))
        })
    }
}
