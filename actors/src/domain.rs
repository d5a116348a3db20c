//! Domains: the commands a domain actor understands and how each one maps to
//! the driver, the store and the bus.

use crate::event::EventBody;
use crate::object::{self, Applied, ObjectKind};
use crate::shared::Shared;
use crate::store::Kind;
use std::sync::Arc;
use uuid::Uuid;
use virtbus_drivers::model::DriverEvent;
use virtbus_drivers::{DomainRecord, DomainStats, Outcome};
use virtbus_schemas::{DomainDef, ErrorCode, VirtError, VirtResult};

/// A command for one domain.
#[derive(Debug)]
pub enum DomainOp {
    Start,
    Shutdown,
    Destroy,
    Suspend,
    Resume,
    Reboot,
    /// Hard reset (`virDomainReset`).
    Reset,
    Undefine,
    /// Current (balloon) memory, KiB.
    SetMemory(u64),
    /// Maximum memory, KiB.
    SetMaxMemory(u64),
    SetVcpus(u32),
    /// Start with the agent (`virDomainSetAutostart`).
    SetAutostart(bool),
    /// `define` of XML naming this domain.
    Redefine(Box<DomainDef>),
    /// `create` of XML naming this (inactive, persistent) domain.
    CreateFrom(Box<DomainDef>),
    Stats,
    /// Test hook: panics inside the handler (only with test hooks enabled).
    Panic,
}

/// What a domain command returns.
#[derive(Debug)]
pub enum DomainReply {
    /// The domain afterwards; `None` once it no longer exists.
    Record(Option<Arc<DomainRecord>>),
    Stats(DomainStats),
}

pub struct DomainKind;

impl ObjectKind for DomainKind {
    type Record = DomainRecord;
    type Op = DomainOp;
    type Reply = DomainReply;
    const NAME: &'static str = "domain";

    fn execute(shared: &Shared, uuid: Uuid, op: DomainOp) -> VirtResult<Applied<Self>> {
        let hv = &shared.conn.hypervisor;
        // The name for events, should the domain vanish with this command.
        let persist = matches!(op, DomainOp::Redefine(_) | DomainOp::SetMaxMemory(_));
        let undefine = matches!(op, DomainOp::Undefine);
        let autostart = match op {
            DomainOp::SetAutostart(on) => Some(on),
            _ => None,
        };
        let outcome = match op {
            DomainOp::Start => hv.start_domain(uuid)?,
            DomainOp::Shutdown => hv.shutdown_domain(uuid)?,
            DomainOp::Destroy => hv.destroy_domain(uuid)?,
            DomainOp::Suspend => hv.suspend_domain(uuid)?,
            DomainOp::Resume => hv.resume_domain(uuid)?,
            DomainOp::Reboot => hv.reboot_domain(uuid)?,
            DomainOp::Reset => hv.reset_domain(uuid)?,
            DomainOp::Undefine => hv.undefine_domain(uuid)?,
            DomainOp::SetMemory(kib) => hv.set_memory(uuid, kib)?,
            DomainOp::SetMaxMemory(kib) => hv.set_max_memory(uuid, kib)?,
            DomainOp::SetVcpus(n) => hv.set_vcpus(uuid, n)?,
            DomainOp::SetAutostart(on) => hv.set_domain_autostart(uuid, on)?,
            DomainOp::Redefine(def) => hv.define_domain(*def)?,
            DomainOp::CreateFrom(def) => hv.create_domain(*def)?,
            DomainOp::Stats => {
                let stats = hv.domain_stats(uuid)?;
                shared.stats.put(uuid, stats.clone());
                // A pure read (`changed: false`): the record only tells the
                // actor its object still exists, so the snapshot's copy does.
                // Asking the driver again cost the libvirt proxy a
                // virDomainGetXMLDesc and an XML parse per sample, most of an
                // SNMP walk of libvirtGuestCpuTime (scripts/bench-libvirt).
                let record = match shared.snapshot.load().domains.get(&uuid) {
                    Some(record) => DomainRecord::clone(record),
                    None => hv.get_domain(uuid)?,
                };
                return Ok(Applied {
                    record: Some(record),
                    changed: false,
                    events: Vec::new(),
                    reply: DomainReply::Stats(stats),
                });
            }
            DomainOp::Panic => {
                if !shared.test_hooks {
                    return Err(VirtError::new(
                        ErrorCode::OperationDenied,
                        "the panic test hook is disabled (start the agent with VIRTBUS_TEST_HOOKS=1)",
                    ));
                }
                panic!("test hook: deliberate panic in the actor of domain {uuid}");
            }
        };
        // Counters sampled before a state change no longer describe the domain.
        shared.stats.forget(uuid);
        if let Some(store) = &shared.store {
            match &outcome.record {
                Some(rec) if persist && rec.persistent => {
                    store.save(Kind::Domain, uuid, &rec.persistent_def().to_xml())?
                }
                _ if undefine => store.remove(Kind::Domain, uuid)?,
                _ => {}
            }
            if let Some(on) = autostart {
                store.set_autostart(Kind::Domain, uuid, on)?;
            }
        }
        Ok(applied(outcome, uuid, || Self::snapshot_name(shared, uuid)))
    }

    fn fetch(shared: &Shared, uuid: Uuid) -> VirtResult<Option<DomainRecord>> {
        match shared.conn.hypervisor.get_domain(uuid) {
            Ok(rec) => Ok(Some(rec)),
            Err(err) if err.code == ErrorCode::NoDomain => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn put_snapshot(shared: &Shared, uuid: Uuid, record: Option<DomainRecord>) {
        Self::put_snapshot_for(shared, uuid, record, &mut []);
    }

    fn put_snapshot_for(shared: &Shared, uuid: Uuid, record: Option<DomainRecord>, events: &mut [EventBody]) {
        let (before, after) = match record {
            Some(rec) => {
                let (before, after) = shared.snapshot.put_domain(rec);
                (before, Some(after))
            }
            None => (shared.snapshot.remove_domain(uuid), None),
        };
        for body in events {
            if let EventBody::Domain { record, previous, .. } = body {
                *record = after.clone();
                *previous = before.clone();
            }
        }
    }

    fn registry(shared: &Shared) -> &crate::object::Registered<Self> {
        &shared.registry.domains
    }

    type Def = DomainDef;

    fn def_uuid(def: &DomainDef) -> Uuid {
        def.uuid
    }

    fn redefine(def: DomainDef, live: bool) -> DomainOp {
        if live {
            DomainOp::CreateFrom(Box::new(def))
        } else {
            DomainOp::Redefine(Box::new(def))
        }
    }

    fn create(shared: &Shared, def: DomainDef, live: bool) -> VirtResult<Outcome<DomainRecord>> {
        if live {
            shared.conn.hypervisor.create_domain(def)
        } else {
            shared.conn.hypervisor.define_domain(def)
        }
    }

    fn persistent_xml(record: &DomainRecord) -> Option<String> {
        record.persistent.then(|| record.persistent_def().to_xml())
    }

    const STORE_KIND: Kind = Kind::Domain;

    fn spawn(shared: &Arc<Shared>, uuid: Uuid) {
        shared.spawn_domain(uuid);
    }

    fn reply_record(reply: Self::Reply) -> Option<Arc<DomainRecord>> {
        match reply {
            DomainReply::Record(rec) => rec,
            DomainReply::Stats(_) => None,
        }
    }

    fn name_ref(record: &DomainRecord) -> &str {
        &record.def.name
    }

    fn snapshot_name(shared: &Shared, uuid: Uuid) -> Option<String> {
        shared
            .snapshot
            .read(|s| s.domains.get(&uuid).map(|r| r.def.name.clone()))
    }

    fn event_body(uuid: Uuid, name: &str, event: &DriverEvent) -> Option<EventBody> {
        match event {
            DriverEvent::Domain(lc) => Some(EventBody::Domain {
                uuid,
                name: name.to_string(),
                event: lc.event,
                detail: lc.detail_name(),
                detail_code: lc.detail,
                record: None,
                previous: None,
            }),
            _ => None,
        }
    }
}

pub(crate) fn applied(
    outcome: virtbus_drivers::Outcome<DomainRecord>,
    uuid: Uuid,
    name_before: impl FnOnce() -> Option<String>,
) -> Applied<DomainKind> {
    object::applied::<DomainKind>(outcome, uuid, name_before, |r| {
        DomainReply::Record(r.cloned().map(Arc::new))
    })
}
