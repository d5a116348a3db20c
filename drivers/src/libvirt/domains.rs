//! Domains through libvirt: [`HypervisorDriver`] for [`LibvirtDriver`].
//!
//! Each operation is the libvirt API call named in its comment; records are
//! read back from libvirt (`virDomainGetXMLDesc`, `virDomainGetState`, ...)
//! so they always show libvirt's truth. The events an operation emits come
//! from libvirt's callbacks (see `events.rs`); the [`Expect`] below is the
//! event the call always ends with in libvirt, so the call waits for it.

use super::conn::{c_text, Session};
use super::events::{Expect, Key};
use super::reconnect::Link;
use super::{lv, LibvirtDriver};
use crate::model::{DomainRecord, DomainStats, Outcome};
use crate::traits::HypervisorDriver;
use std::sync::Arc;
use uuid::Uuid;
use virt::domain::Domain;
use virt::sys;
use virtbus_schemas::lifecycle::{DomainEventType, DomainState, StateWithReason};
use virtbus_schemas::{DomainDef, ErrorCode, VirtError, VirtResult};

/// Every domain, active and inactive (`virConnectListAllDomains`). A domain
/// whose XML virtbus cannot parse is logged and left out rather than hiding
/// the whole host.
pub(crate) fn list(link: &Link) -> VirtResult<Vec<DomainRecord>> {
    let session = link.session()?;
    let doms = lv(link, session.conn().list_all_domains(0))?;
    let mut out = Vec::with_capacity(doms.len());
    for dom in &doms {
        match record(link, dom) {
            Ok(rec) => out.push(rec),
            Err(err) if err.code == ErrorCode::NoDomain => {}
            Err(err) => {
                let name = dom.get_name().unwrap_or_default();
                tracing::warn!(domain = %name, error = %err, "libvirt domain left out: cannot read it");
            }
        }
    }
    Ok(out)
}

/// The domain's record as libvirt has it now.
fn record(link: &Link, dom: &Domain) -> VirtResult<DomainRecord> {
    let xml = lv(link, dom.get_xml_desc(0))?;
    let def = DomainDef::from_xml(&xml)?;
    let (state, reason) = lv(link, dom.get_state())?;
    let state = StateWithReason::new(
        DomainState::from_number(state as i32).unwrap_or(DomainState::NoState),
        reason,
    );
    let persistent = lv(link, dom.is_persistent())?;
    let inactive_def = if persistent && state.state.is_active() {
        let inactive = lv(link, dom.get_xml_desc(sys::VIR_DOMAIN_XML_INACTIVE))?;
        if inactive == xml {
            None
        } else {
            Some(Arc::new(DomainDef::from_xml(&inactive)?))
        }
    } else {
        None
    };
    let rec = DomainRecord {
        def: Arc::new(def),
        inactive_def,
        id: dom.get_id(),
        state,
        persistent,
        autostart: dom.get_autostart().unwrap_or(false),
        has_managed_save: !state.state.is_active() && dom.has_managed_save(0).unwrap_or(false),
    };
    link.seen_domain(&rec);
    Ok(rec)
}

fn lookup(link: &Link, session: &Session, uuid: Uuid) -> VirtResult<Domain> {
    lv(link, Domain::lookup_by_uuid(session.conn(), uuid))
}

/// The record, or `None` when libvirt no longer has the domain.
fn fetch(link: &Link, session: &Session, uuid: Uuid) -> VirtResult<Option<DomainRecord>> {
    match lookup(link, session, uuid) {
        Ok(dom) => match record(link, &dom) {
            Ok(rec) => Ok(Some(rec)),
            Err(err) if err.code == ErrorCode::NoDomain => Ok(None),
            Err(err) => Err(err),
        },
        Err(err) if err.code == ErrorCode::NoDomain => Ok(None),
        Err(err) => Err(err),
    }
}

impl LibvirtDriver {
    /// A call on an existing domain.
    fn domain_call(
        &self,
        uuid: Uuid,
        expect: Expect,
        call: impl FnOnce(&Domain) -> Result<(), virt::error::Error>,
    ) -> VirtResult<Outcome<DomainRecord>> {
        let link = &*self.link;
        self.mutate(
            Key::Domain(uuid),
            expect,
            |s| {
                let dom = lookup(link, s, uuid)?;
                lv(link, call(&dom))
            },
            |s| fetch(link, s, uuid),
        )
    }

    /// `virDomainDefineXML` (`live == false`) or `virDomainCreateXML`.
    fn add_domain(&self, def: DomainDef, live: bool) -> VirtResult<Outcome<DomainRecord>> {
        let xml = def.to_xml();
        c_text("domain XML", &xml)?;
        let link = &*self.link;
        let created = std::cell::Cell::new(def.uuid);
        let expect = Expect::Domain(if live {
            DomainEventType::Started
        } else {
            DomainEventType::Defined
        });
        self.mutate(
            Key::Domain(def.uuid),
            expect,
            |s| {
                let dom = if live {
                    lv(link, Domain::create_xml(s.conn(), &xml, 0))?
                } else {
                    lv(link, Domain::define_xml(s.conn(), &xml))?
                };
                if let Ok(uuid) = dom.get_uuid() {
                    created.set(uuid);
                }
                Ok(())
            },
            |s| fetch(link, s, created.get()),
        )
    }
}

impl HypervisorDriver for LibvirtDriver {
    fn list_domains(&self) -> VirtResult<Vec<DomainRecord>> {
        list(&self.link)
    }

    fn get_domain(&self, uuid: Uuid) -> VirtResult<DomainRecord> {
        let session = self.session()?;
        let dom = lookup(&self.link, &session, uuid)?;
        record(&self.link, &dom)
    }

    /// `virDomainDefineXML`: DEFINED (ADDED or UPDATED).
    fn define_domain(&self, def: DomainDef) -> VirtResult<Outcome<DomainRecord>> {
        self.add_domain(def, false)
    }

    /// `virDomainCreateXML`: STARTED (qemu emits RESUMED first).
    fn create_domain(&self, def: DomainDef) -> VirtResult<Outcome<DomainRecord>> {
        self.add_domain(def, true)
    }

    /// `virDomainUndefine`: UNDEFINED.
    fn undefine_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Domain(DomainEventType::Undefined), |d| d.undefine())
    }

    /// `virDomainCreate`: STARTED.
    fn start_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Domain(DomainEventType::Started), |d| {
            d.create().map(|_| ())
        })
    }

    /// `virDomainShutdown`: a request to the guest; libvirt's test driver
    /// stops at once, qemu guests later (the event then comes as a notice).
    fn shutdown_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Nothing, |d| d.shutdown().map(|_| ()))
    }

    /// `virDomainDestroy`: STOPPED/DESTROYED.
    fn destroy_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Domain(DomainEventType::Stopped), |d| d.destroy())
    }

    /// `virDomainSuspend`: SUSPENDED/PAUSED.
    fn suspend_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Domain(DomainEventType::Suspended), |d| {
            d.suspend().map(|_| ())
        })
    }

    /// `virDomainResume`: RESUMED/UNPAUSED.
    fn resume_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Domain(DomainEventType::Resumed), |d| {
            d.resume().map(|_| ())
        })
    }

    /// `virDomainReboot`: no lifecycle event of its own in libvirt.
    fn reboot_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Nothing, |d| d.reboot(0))
    }

    /// `virDomainReset`.
    fn reset_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Nothing, |d| d.reset().map(|_| ()))
    }

    /// `virDomainSetMemory`.
    fn set_memory(&self, uuid: Uuid, kib: u64) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Nothing, |d| d.set_memory(kib).map(|_| ()))
    }

    /// `virDomainSetMaxMemory`.
    fn set_max_memory(&self, uuid: Uuid, kib: u64) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Nothing, |d| d.set_max_memory(kib).map(|_| ()))
    }

    /// `virDomainSetVcpus`.
    fn set_vcpus(&self, uuid: Uuid, count: u32) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Nothing, |d| d.set_vcpus(count).map(|_| ()))
    }

    /// `virDomainSetAutostart`: no lifecycle event.
    fn set_domain_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<DomainRecord>> {
        self.domain_call(uuid, Expect::Nothing, |d| d.set_autostart(autostart).map(|_| ()))
    }

    /// `virConnectGetAllDomainStats` (sampled for all domains at once), or
    /// `virDomainListGetStats` for a domain newer than the sample.
    /// libvirt's connection is thread-safe, and the first lookup takes one
    /// bulk sample (`virConnectGetAllDomainStats`) that answers the rest.
    fn domain_stats_many(&self, uuids: &[Uuid]) -> Option<Vec<VirtResult<DomainStats>>> {
        Some(uuids.iter().map(|uuid| self.domain_stats(*uuid)).collect())
    }

    fn domain_stats(&self, uuid: Uuid) -> VirtResult<DomainStats> {
        let session = self.session()?;
        let link = &*self.link;
        let found = lv(
            link,
            self.stats
                .get(session.conn(), uuid, || Domain::lookup_by_uuid(session.conn(), uuid)),
        )?;
        found.ok_or_else(|| VirtError::new(ErrorCode::NoDomain, format!("no domain with matching uuid '{uuid}'")))
    }
}
