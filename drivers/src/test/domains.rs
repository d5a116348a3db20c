//! Domains of the test driver: [`HypervisorDriver`] for [`TestDriver`].
//!
//! Each operation mirrors the libvirt 9.0.0 test driver function named in its
//! comment, including its error codes and messages and the events it queues.

use super::table::{Managed, Slot};
use super::{no_domain, TestDriver};
use crate::model::{BlockStats, DomainRecord, DomainStats, DriverEvent, NetStats, Outcome};
use crate::traits::HypervisorDriver;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;
use virtbus_schemas::lifecycle::PausedReason;
use virtbus_schemas::lifecycle::{
    DefinedDetail, DomainLifecycle, DomainState, ResumedDetail, RunningReason, ShutoffReason, StartedDetail,
    StateWithReason, StoppedDetail, SuspendedDetail, UndefinedDetail,
};
use virtbus_schemas::{DomainDef, TestDomain, VirtError, VirtResult};

/// `testConnectGetMaxVcpus` for the test driver.
const MAX_VCPUS: u32 = 32;

/// Share of each vcpu the simulated guests keep busy, so cpu time grows
/// plausibly while a domain runs (libvirt's test driver reports wall-clock
/// time instead, which never stops).
const BUSY_FRACTION_PERCENT: u64 = 25;

/// One domain of the test driver (`virDomainObj`).
pub(crate) struct DomObj {
    /// The live definition, or the only one while inactive.
    def: Arc<DomainDef>,
    /// The persistent definition to restore at shutdown, while active
    /// (`virDomainObj.newDef`).
    new_def: Option<Arc<DomainDef>>,
    id: Option<u32>,
    state: StateWithReason,
    persistent: bool,
    autostart: bool,
    has_managed_save: bool,
    /// Cpu time accumulated until `running_since`.
    cpu_ns: u64,
    /// Set while the state is RUNNING: cpu time accrues from here.
    running_since: Option<Instant>,
    /// Set while active: block and interface counters grow from here.
    active_since: Option<Instant>,
}

impl DomObj {
    fn record(&self) -> DomainRecord {
        DomainRecord {
            def: self.def.clone(),
            inactive_def: self.new_def.clone(),
            id: self.id,
            state: self.state,
            persistent: self.persistent,
            autostart: self.autostart,
            has_managed_save: self.has_managed_save,
        }
    }

    fn is_active(&self) -> bool {
        self.state.state.is_active()
    }

    /// `virDomainObjSetState`, keeping the cpu-time clock in step.
    fn set_state(&mut self, state: StateWithReason) {
        let now = Instant::now();
        if let Some(since) = self.running_since.take() {
            self.cpu_ns += cpu_ns_between(since, now, self.def.vcpu.current);
        }
        if state.state == DomainState::Running {
            self.running_since = Some(now);
        }
        if state.state.is_active() {
            self.active_since.get_or_insert(now);
        } else {
            self.active_since = None;
        }
        self.state = state;
    }

    /// `testDomainStartState`.
    fn start_state(&mut self, driver: &TestDriver, reason: RunningReason) {
        self.set_state(StateWithReason::running(reason));
        self.id = Some(driver.next_id.fetch_add(1, Ordering::Relaxed));
        // virDomainObjSetDefTransient: keep the persistent config aside.
        if self.persistent && self.new_def.is_none() {
            self.new_def = Some(self.def.clone());
        }
        self.has_managed_save = false;
    }

    /// `testDomainShutdownState`.
    fn shutdown_state(&mut self, reason: ShutoffReason) {
        // virDomainObjRemoveTransientDef: the persistent config comes back.
        if let Some(def) = self.new_def.take() {
            self.def = def;
        }
        self.set_state(StateWithReason::shutoff(reason));
        self.id = None;
    }

    fn cpu_time_ns(&self) -> u64 {
        let running = self
            .running_since
            .map(|since| cpu_ns_between(since, Instant::now(), self.def.vcpu.current))
            .unwrap_or(0);
        self.cpu_ns + running
    }
}

fn cpu_ns_between(from: Instant, to: Instant, vcpus: u32) -> u64 {
    let wall = to.saturating_duration_since(from).as_nanos() as u64;
    wall.saturating_mul(u64::from(vcpus.max(1))) / 100 * BUSY_FRACTION_PERCENT
}

fn event(e: DomainLifecycle) -> Vec<DriverEvent> {
    vec![DriverEvent::Domain(e)]
}

impl Managed for DomObj {
    type Record = DomainRecord;

    fn record(&self) -> DomainRecord {
        DomObj::record(self)
    }

    fn is_gone(&self) -> bool {
        !self.persistent && !self.is_active()
    }
}

impl TestDriver {
    /// `testParseDomains`: one domain of a node file.
    pub(crate) fn load_domain(&self, dom: TestDomain) -> VirtResult<()> {
        let runstate = match dom.runstate {
            None => DomainState::Running,
            Some(n) => DomainState::from_number(n)
                .ok_or_else(|| VirtError::xml(format!("runstate '{n}' out of range for domain '{}'", dom.def.name)))?,
        };
        if dom.transient && runstate == DomainState::Shutoff {
            return Err(VirtError::xml(format!(
                "transient domain '{}' cannot have runstate 'shutoff'",
                dom.def.name
            )));
        }
        if dom.has_managed_save && runstate != DomainState::Shutoff {
            return Err(VirtError::xml(format!(
                "domain '{}' with managedsave data can only have runstate 'shutoff'",
                dom.def.name
            )));
        }
        let uuid = dom.def.uuid;
        let name = dom.def.name.clone();
        let mut obj = DomObj {
            def: Arc::new(dom.def),
            new_def: None,
            id: None,
            state: StateWithReason::shutoff(ShutoffReason::Unknown),
            persistent: !dom.transient,
            autostart: false,
            has_managed_save: dom.has_managed_save,
            cpu_ns: 0,
            running_since: None,
            active_since: None,
        };
        if runstate != DomainState::Shutoff {
            obj.start_state(self, RunningReason::Booted);
        } else {
            obj.shutdown_state(ShutoffReason::Unknown);
        }
        // libvirt then forces the configured state with reason 0.
        obj.has_managed_save = dom.has_managed_save;
        obj.set_state(StateWithReason::new(runstate, 0));
        self.domains.insert(uuid, &name, obj)?;
        Ok(())
    }

    fn with_domain(
        &self,
        uuid: Uuid,
        op: impl FnOnce(&mut DomObj) -> VirtResult<Vec<DriverEvent>>,
    ) -> VirtResult<Outcome<DomainRecord>> {
        self.domains.apply(uuid, no_domain, op)
    }

    /// `virDomainObjListAdd` for define (`live == false`) and create (`live == true`).
    fn add_domain(&self, def: DomainDef, live: bool) -> VirtResult<Outcome<DomainRecord>> {
        if def.name.contains('\n') {
            return Err(VirtError::xml(format!(
                "name '{}' contains illegal character '\\n'",
                def.name
            )));
        }
        let uuid = def.uuid;
        match self
            .domains
            .slot_for(uuid, &def.name, |o: &DomObj| o.def.name.clone())?
        {
            Slot::Existing(cell) => {
                let mut obj = cell.lock();
                if live {
                    if obj.is_active() {
                        return Err(VirtError::operation_invalid(format!(
                            "domain '{}' is already active",
                            obj.def.name
                        )));
                    }
                    if !obj.persistent {
                        return Err(VirtError::operation_invalid(format!(
                            "domain '{}' is already being started",
                            obj.def.name
                        )));
                    }
                    // virDomainObjAssignDef(live): keep the config for shutdown.
                    let config = std::mem::replace(&mut obj.def, Arc::new(def));
                    obj.new_def = Some(config);
                    obj.start_state(self, RunningReason::Booted);
                    return Ok(Outcome::new(
                        Some(obj.record()),
                        event(DomainLifecycle::started(StartedDetail::Booted)),
                    ));
                }
                // Define over an existing domain: an update. While active the
                // new config waits in new_def; a transient domain that had none
                // is "added" as libvirt reports it.
                let had_config = if obj.is_active() {
                    obj.new_def.replace(Arc::new(def)).is_some()
                } else {
                    obj.def = Arc::new(def);
                    true
                };
                obj.persistent = true;
                let detail = if had_config {
                    DefinedDetail::Updated
                } else {
                    DefinedDetail::Added
                };
                Ok(Outcome::new(
                    Some(obj.record()),
                    event(DomainLifecycle::defined(detail)),
                ))
            }
            Slot::Vacant => {
                let name = def.name.clone();
                let mut obj = DomObj {
                    def: Arc::new(def),
                    new_def: None,
                    id: None,
                    state: StateWithReason::shutoff(ShutoffReason::Unknown),
                    persistent: !live,
                    autostart: false,
                    has_managed_save: false,
                    cpu_ns: 0,
                    running_since: None,
                    active_since: None,
                };
                let events = if live {
                    obj.start_state(self, RunningReason::Booted);
                    event(DomainLifecycle::started(StartedDetail::Booted))
                } else {
                    event(DomainLifecycle::defined(DefinedDetail::Added))
                };
                let record = obj.record();
                self.domains.insert(uuid, &name, obj)?;
                Ok(Outcome::new(Some(record), events))
            }
        }
    }
}

fn check_active(obj: &DomObj) -> VirtResult<()> {
    if obj.is_active() {
        Ok(())
    } else {
        // virDomainObjCheckActive
        Err(VirtError::operation_invalid("domain is not running"))
    }
}

impl HypervisorDriver for TestDriver {
    fn list_domains(&self) -> VirtResult<Vec<DomainRecord>> {
        Ok(self.domains.all().iter().map(|c| c.lock().record()).collect())
    }

    fn get_domain(&self, uuid: Uuid) -> VirtResult<DomainRecord> {
        let cell = self.domains.get(uuid).ok_or_else(|| no_domain(uuid))?;
        let record = cell.lock().record();
        Ok(record)
    }

    /// `testDomainDefineXMLFlags`.
    fn define_domain(&self, def: DomainDef) -> VirtResult<Outcome<DomainRecord>> {
        self.add_domain(def, false)
    }

    /// `testDomainCreateXML`.
    fn create_domain(&self, def: DomainDef) -> VirtResult<Outcome<DomainRecord>> {
        self.add_domain(def, true)
    }

    /// `testDomainUndefineFlags` (no flags).
    fn undefine_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            if obj.has_managed_save {
                return Err(VirtError::operation_invalid(
                    "refusing to undefine while domain managed save image exists",
                ));
            }
            obj.has_managed_save = false;
            obj.persistent = false;
            obj.autostart = false;
            obj.new_def = None;
            Ok(event(DomainLifecycle::undefined(UndefinedDetail::Removed)))
        })
    }

    /// `testDomainSetAutostart`: libvirt's test driver sets the flag on any
    /// domain, transient ones included.
    fn set_domain_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            obj.autostart = autostart;
            Ok(Vec::new())
        })
    }

    /// `testDomainCreateWithFlags`.
    fn start_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            if obj.state.state != DomainState::Shutoff {
                return Err(VirtError::internal(format!(
                    "domain '{}' is already running",
                    obj.def.name
                )));
            }
            obj.start_state(self, RunningReason::Booted);
            Ok(event(DomainLifecycle::started(StartedDetail::Booted)))
        })
    }

    /// `testDomainShutdownFlags`: the on_poweroff action decides what follows.
    fn shutdown_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            if obj.state.state == DomainState::Shutoff {
                return Err(VirtError::internal(format!("domain '{}' not running", obj.def.name)));
            }
            // libvirt's parser defaults on_poweroff to destroy.
            let action = obj.def.on_poweroff.clone().unwrap_or_else(|| "destroy".into());
            Ok(apply_lifecycle_action(obj, &action))
        })
    }

    /// `testDomainDestroyFlags`.
    fn destroy_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            check_active(obj)?;
            obj.shutdown_state(ShutoffReason::Destroyed);
            Ok(event(DomainLifecycle::stopped(StoppedDetail::Destroyed)))
        })
    }

    /// `testDomainSuspend`.
    fn suspend_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            if matches!(obj.state.state, DomainState::Shutoff | DomainState::Paused) {
                return Err(VirtError::internal(format!("domain '{}' not running", obj.def.name)));
            }
            obj.set_state(StateWithReason::paused(PausedReason::User));
            Ok(event(DomainLifecycle::suspended(SuspendedDetail::Paused)))
        })
    }

    /// `testDomainResume`.
    fn resume_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            if obj.state.state != DomainState::Paused {
                return Err(VirtError::internal(format!("domain '{}' not paused", obj.def.name)));
            }
            obj.set_state(StateWithReason::running(RunningReason::Unpaused));
            Ok(event(DomainLifecycle::resumed(ResumedDetail::Unpaused)))
        })
    }

    /// `testDomainReboot`: the on_reboot action decides what follows.
    fn reboot_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            check_active(obj)?;
            // libvirt's parser defaults on_reboot to restart.
            let action = obj.def.on_reboot.clone().unwrap_or_else(|| "restart".into());
            Ok(apply_lifecycle_action(obj, &action))
        })
    }

    /// `testDomainReset`: the domain must be running; nothing else changes.
    fn reset_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            check_active(obj)?;
            Ok(Vec::new())
        })
    }

    /// `testDomainSetMemoryFlags` with `VIR_DOMAIN_AFFECT_LIVE`, as
    /// `virDomainSetMemory` calls it: the domain must be running.
    fn set_memory(&self, uuid: Uuid, kib: u64) -> VirtResult<Outcome<DomainRecord>> {
        if kib == 0 {
            return Err(VirtError::invalid_arg("memory in virDomainSetMemory must not be zero"));
        }
        self.with_domain(uuid, |obj| {
            check_active(obj)?;
            if kib > obj.def.memory_kib {
                return Err(VirtError::invalid_arg(format!(
                    "cannot set memory of domain '{}' to {kib} KiB, higher than max memory {} KiB",
                    obj.def.name, obj.def.memory_kib
                )));
            }
            Arc::make_mut(&mut obj.def).current_memory_kib = kib;
            Ok(Vec::new())
        })
    }

    /// `testDomainSetMemoryFlags` with `VIR_DOMAIN_MEM_MAXIMUM`.
    fn set_max_memory(&self, uuid: Uuid, kib: u64) -> VirtResult<Outcome<DomainRecord>> {
        self.with_domain(uuid, |obj| {
            if obj.is_active() {
                return Err(VirtError::operation_invalid(format!(
                    "cannot resize the maximum memory of active domain '{}'",
                    obj.def.name
                )));
            }
            if kib == 0 {
                return Err(VirtError::invalid_arg(format!(
                    "memory of domain '{}' must not be zero",
                    obj.def.name
                )));
            }
            if let Some(max) = &obj.def.max_memory {
                if max.kib < kib {
                    return Err(VirtError::operation_invalid(format!(
                        "cannot set initial memory size of domain '{}' greater than the maximum memory size",
                        obj.def.name
                    )));
                }
            }
            let def = Arc::make_mut(&mut obj.def);
            def.memory_kib = kib;
            def.current_memory_kib = def.current_memory_kib.min(kib);
            Ok(Vec::new())
        })
    }

    /// `testDomainSetVcpusFlags` with `VIR_DOMAIN_AFFECT_LIVE`, as
    /// `virDomainSetVcpus` calls it: only the running definition changes.
    fn set_vcpus(&self, uuid: Uuid, count: u32) -> VirtResult<Outcome<DomainRecord>> {
        if count == 0 {
            return Err(VirtError::invalid_arg("nvcpus in virDomainSetVcpus must not be zero"));
        }
        if count > MAX_VCPUS {
            return Err(VirtError::invalid_arg(format!(
                "requested cpu amount exceeds maximum supported amount ({count} > {MAX_VCPUS})"
            )));
        }
        self.with_domain(uuid, |obj| {
            check_active(obj)?;
            if obj.def.vcpu.max < count {
                return Err(VirtError::invalid_arg(format!(
                    "requested cpu amount exceeds maximum ({count} > {})",
                    obj.def.vcpu.max
                )));
            }
            // Keep the cpu-time clock right across the change of vcpus.
            let state = obj.state;
            obj.set_state(state);
            Arc::make_mut(&mut obj.def).vcpu.current = count;
            Ok(Vec::new())
        })
    }

    /// In memory, locked per domain: any domain, any thread.
    fn domain_stats_many(&self, uuids: &[Uuid]) -> Option<Vec<VirtResult<DomainStats>>> {
        Some(uuids.iter().map(|uuid| self.domain_stats(*uuid)).collect())
    }

    fn domain_stats(&self, uuid: Uuid) -> VirtResult<DomainStats> {
        let cell = self.domains.get(uuid).ok_or_else(|| no_domain(uuid))?;
        let obj = cell.lock();
        let active_ms = obj.active_since.map(|t| t.elapsed().as_millis() as u64).unwrap_or(0);
        let block = obj
            .def
            .devices
            .disks
            .iter()
            .filter_map(|d| d.target_dev.clone())
            .map(|name| BlockStats {
                name,
                rd_reqs: active_ms / 10,
                rd_bytes: active_ms / 10 * 4096,
                wr_reqs: active_ms / 20,
                wr_bytes: active_ms / 20 * 4096,
                errors: 0,
            })
            .collect();
        let net = obj
            .def
            .devices
            .interfaces
            .iter()
            .enumerate()
            .map(|(idx, iface)| NetStats {
                name: iface.target_dev.clone().unwrap_or_else(|| format!("testnet{idx}")),
                rx_bytes: active_ms * 150,
                rx_packets: active_ms / 10,
                tx_bytes: active_ms * 90,
                tx_packets: active_ms / 12,
                ..NetStats::default()
            })
            .collect();
        Ok(DomainStats {
            cpu_time_ns: obj.cpu_time_ns(),
            vcpus: obj.def.vcpu.current,
            memory_max_kib: obj.def.memory_kib,
            memory_current_kib: obj.def.current_memory_kib,
            block,
            net,
        })
    }
}

/// `testDomainActionSetState` followed by the shutdown bookkeeping of
/// `testDomainShutdownFlags` / `testDomainReboot`: restart actions leave the
/// domain running (booted) with no lifecycle event, the others shut it off
/// with STOPPED/SHUTDOWN.
fn apply_lifecycle_action(obj: &mut DomObj, action: &str) -> Vec<DriverEvent> {
    match action {
        "restart" | "rename-restart" => {
            obj.set_state(StateWithReason::running(RunningReason::Booted));
            Vec::new()
        }
        _ => {
            obj.shutdown_state(ShutoffReason::Shutdown);
            event(DomainLifecycle::stopped(StoppedDetail::Shutdown))
        }
    }
}
