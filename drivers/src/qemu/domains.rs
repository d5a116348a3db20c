//! Domains of the qemu driver: [`HypervisorDriver`] for [`QemuDriver`].
//!
//! Definitions and states follow libvirt's qemu driver (`qemuDomainDefineXML`,
//! `qemuDomainCreateXML`, `qemuDomainDestroyFlags`, ...): the same checks,
//! error codes and lifecycle events in the same order.

use super::lifecycle::Running;
use super::{Inner, QemuDriver};
use crate::model::{BlockStats, DomainRecord, DomainStats, DriverEvent, Outcome};
use crate::traits::HypervisorDriver;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;
use virtbus_schemas::lifecycle::{
    DefinedDetail, DomainLifecycle, DomainState, PausedReason, ResumedDetail, RunningReason, ShutoffReason,
    StateWithReason, StoppedDetail, SuspendedDetail, UndefinedDetail,
};
use virtbus_schemas::{DomainDef, ErrorCode, VirtError, VirtResult};

/// One domain (`virDomainObj`).
pub(crate) struct DomObj {
    /// The live definition while active, else the only one.
    pub def: Arc<DomainDef>,
    /// The persistent definition to restore at shutdown, while active.
    pub new_def: Option<Arc<DomainDef>>,
    pub id: Option<u32>,
    pub state: StateWithReason,
    pub persistent: bool,
    pub autostart: bool,
    pub run: Option<Running>,
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
            has_managed_save: false,
        }
    }

    fn is_active(&self) -> bool {
        self.state.state.is_active()
    }

    fn check_active(&self) -> VirtResult<&Running> {
        match &self.run {
            Some(run) if self.is_active() => Ok(run),
            _ => Err(VirtError::operation_invalid("domain is not running")),
        }
    }
}

fn no_domain(uuid: Uuid) -> VirtError {
    VirtError::new(ErrorCode::NoDomain, format!("no domain with matching uuid '{uuid}'"))
}

fn one(e: DomainLifecycle) -> Vec<DriverEvent> {
    vec![DriverEvent::Domain(e)]
}

fn qmp_failed(name: &str, err: super::qmp::QmpError) -> VirtError {
    VirtError::operation_failed(format!("qemu monitor of domain '{name}': {err}"))
}

impl Inner {
    fn cell(&self, uuid: Uuid) -> VirtResult<Arc<Mutex<DomObj>>> {
        self.domains.read().get(&uuid).cloned().ok_or_else(|| no_domain(uuid))
    }

    /// Runs `op` under the domain's lock; a transient domain that is no
    /// longer active afterwards leaves the tables and the record is `None`.
    fn with_domain(
        &self,
        uuid: Uuid,
        op: impl FnOnce(&mut DomObj) -> VirtResult<Vec<DriverEvent>>,
    ) -> VirtResult<Outcome<DomainRecord>> {
        let cell = self.cell(uuid)?;
        let mut obj = cell.lock();
        let events = op(&mut obj)?;
        if self.forget_if_gone(&obj) {
            return Ok(Outcome::new(None, events));
        }
        Ok(Outcome::new(Some(obj.record()), events))
    }

    /// The checks `virDomainObjListAdd` makes on name and UUID.
    fn existing(&self, def: &DomainDef) -> VirtResult<Option<Arc<Mutex<DomObj>>>> {
        if def.name.contains('\n') || def.name.contains('/') {
            return Err(VirtError::xml(format!(
                "domain name '{}' contains an illegal character ('/' or newline)",
                def.name.escape_debug()
            )));
        }
        let by_name = self.names.lock().get(&def.name).copied();
        if let Some(other) = by_name {
            if other != def.uuid {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    format!("domain '{}' already exists with uuid {other}", def.name),
                ));
            }
        }
        let cell = self.domains.read().get(&def.uuid).cloned();
        if let Some(cell) = &cell {
            let name = cell.lock().def.name.clone();
            if name != def.name {
                return Err(VirtError::new(
                    ErrorCode::OperationFailed,
                    format!("domain '{name}' is already defined with uuid {}", def.uuid),
                ));
            }
        }
        Ok(cell)
    }

    fn insert_new(&self, obj: DomObj) -> Arc<Mutex<DomObj>> {
        let uuid = obj.def.uuid;
        let name = obj.def.name.clone();
        let cell = Arc::new(Mutex::new(obj));
        self.names.lock().insert(name, uuid);
        self.domains.write().insert(uuid, cell.clone());
        cell
    }
}

impl HypervisorDriver for QemuDriver {
    fn list_domains(&self) -> VirtResult<Vec<DomainRecord>> {
        let cells: Vec<_> = self.inner.domains.read().values().cloned().collect();
        Ok(cells.iter().map(|c| c.lock().record()).collect())
    }

    fn get_domain(&self, uuid: Uuid) -> VirtResult<DomainRecord> {
        let cell = self.inner.cell(uuid)?;
        let record = cell.lock().record();
        Ok(record)
    }

    /// `qemuDomainDefineXMLFlags`.
    fn define_domain(&self, def: DomainDef) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        // libvirt resolves the emulator's capabilities at define time.
        super::argv::Accel::for_domain(&def.domain_type, true)?;
        inner.check_emulator(&def)?;
        let def = Arc::new(def);
        match inner.existing(&def)? {
            Some(cell) => {
                let mut obj = cell.lock();
                let had_config = obj.persistent;
                if obj.is_active() {
                    obj.new_def = Some(def);
                    obj.persistent = true;
                    let _ = inner.save_runtime(&obj);
                } else {
                    obj.def = def;
                }
                obj.persistent = true;
                let detail = if had_config {
                    DefinedDetail::Updated
                } else {
                    DefinedDetail::Added
                };
                Ok(Outcome::new(Some(obj.record()), one(DomainLifecycle::defined(detail))))
            }
            None => {
                let obj = DomObj {
                    def,
                    new_def: None,
                    id: None,
                    state: StateWithReason::shutoff(ShutoffReason::Unknown),
                    persistent: true,
                    autostart: false,
                    run: None,
                };
                let cell = inner.insert_new(obj);
                let record = cell.lock().record();
                Ok(Outcome::new(
                    Some(record),
                    one(DomainLifecycle::defined(DefinedDetail::Added)),
                ))
            }
        }
    }

    /// `qemuDomainCreateXML`: a transient domain, or a start of the inactive
    /// persistent one with this definition for this run.
    fn create_domain(&self, def: DomainDef) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.check_emulator(&def)?;
        let def = Arc::new(def);
        if let Some(cell) = inner.existing(&def)? {
            let mut obj = cell.lock();
            if obj.is_active() {
                return Err(VirtError::operation_invalid(format!(
                    "domain '{}' is already active",
                    obj.def.name
                )));
            }
            let config = std::mem::replace(&mut obj.def, def);
            obj.new_def = Some(config);
            let events = match inner.launch(&mut obj) {
                Ok(events) => events,
                Err(err) => {
                    if let Some(config) = obj.new_def.take() {
                        obj.def = config;
                    }
                    return Err(err);
                }
            };
            return Ok(Outcome::new(Some(obj.record()), events));
        }
        let uuid = def.uuid;
        let cell = inner.insert_new(DomObj {
            def,
            new_def: None,
            id: None,
            state: StateWithReason::shutoff(ShutoffReason::Unknown),
            persistent: false,
            autostart: false,
            run: None,
        });
        let mut obj = cell.lock();
        match inner.launch(&mut obj) {
            Ok(events) => Ok(Outcome::new(Some(obj.record()), events)),
            Err(err) => {
                inner.domains.write().remove(&uuid);
                inner.names.lock().remove(&obj.def.name);
                Err(err)
            }
        }
    }

    /// `qemuDomainUndefineFlags`: a running domain becomes transient.
    fn undefine_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.with_domain(uuid, |obj| {
            if !obj.persistent {
                return Err(VirtError::operation_invalid("cannot undefine transient domain"));
            }
            obj.persistent = false;
            obj.autostart = false;
            if obj.is_active() {
                obj.new_def = None;
                let _ = inner.save_runtime(obj);
            }
            Ok(one(DomainLifecycle::undefined(UndefinedDetail::Removed)))
        })
    }

    /// `qemuDomainCreateWithFlags`.
    fn start_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        let inner = self.inner.clone();
        inner.clone().with_domain(uuid, |obj| {
            if obj.is_active() {
                return Err(VirtError::operation_invalid("domain is already running"));
            }
            inner.launch(obj)
        })
    }

    /// `qemuDomainShutdownFlags`: asks the guest (ACPI power button); the
    /// stop arrives later as a notice, when the guest has powered off.
    fn shutdown_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        let inner = self.inner.clone();
        inner.clone().with_domain(uuid, |obj| {
            let run = obj.check_active()?;
            run.qmp
                .execute("system_powerdown", None, inner.config.qmp_timeout)
                .map_err(|e| qmp_failed(&obj.def.name, e))?;
            if let Some(after) = inner.config.shutdown_fallback {
                inner.shutdown_fallback(uuid, run.generation, after);
            }
            Ok(Vec::new())
        })
    }

    /// `qemuDomainDestroyFlags`.
    fn destroy_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.with_domain(uuid, |obj| {
            obj.check_active()?;
            inner.kill(obj, ShutoffReason::Destroyed);
            Ok(one(DomainLifecycle::stopped(StoppedDetail::Destroyed)))
        })
    }

    /// `qemuDomainSuspend`: a paused guest stays paused without an event.
    fn suspend_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.with_domain(uuid, |obj| {
            let run = obj.check_active()?;
            if obj.state.state == DomainState::Paused {
                return Ok(Vec::new());
            }
            run.qmp
                .execute("stop", None, inner.config.qmp_timeout)
                .map_err(|e| qmp_failed(&obj.def.name, e))?;
            let seen = run.qmp.events_seen();
            if let Some(run) = obj.run.as_mut() {
                run.barrier = seen;
            }
            obj.state = StateWithReason::paused(PausedReason::User);
            let _ = inner.save_runtime(obj);
            Ok(one(DomainLifecycle::suspended(SuspendedDetail::Paused)))
        })
    }

    /// `qemuDomainResume`: a running guest stays running without an event.
    fn resume_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.with_domain(uuid, |obj| {
            let run = obj.check_active()?;
            if obj.state.state == DomainState::Running {
                return Ok(Vec::new());
            }
            if obj.state.state != DomainState::Paused {
                return Err(VirtError::operation_invalid(format!(
                    "domain '{}' is not paused",
                    obj.def.name
                )));
            }
            run.qmp
                .execute("cont", None, inner.config.qmp_timeout)
                .map_err(|e| qmp_failed(&obj.def.name, e))?;
            let seen = run.qmp.events_seen();
            if let Some(run) = obj.run.as_mut() {
                run.barrier = seen;
            }
            obj.state = StateWithReason::running(RunningReason::Unpaused);
            let _ = inner.save_runtime(obj);
            Ok(one(DomainLifecycle::resumed(ResumedDetail::Unpaused)))
        })
    }

    /// `qemuDomainReboot` with the reset method: no lifecycle event (libvirt
    /// reports reboots through its separate reboot event).
    fn reboot_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.with_domain(uuid, |obj| {
            let run = obj.check_active()?;
            run.qmp
                .execute("system_reset", None, inner.config.qmp_timeout)
                .map_err(|e| qmp_failed(&obj.def.name, e))?;
            Ok(Vec::new())
        })
    }

    /// `qemuDomainReset`: `system_reset`, which is also how this driver
    /// reboots.
    fn reset_domain(&self, uuid: Uuid) -> VirtResult<Outcome<DomainRecord>> {
        self.reboot_domain(uuid)
    }

    /// `qemuDomainSetMemoryFlags`: the balloon while running, the config
    /// otherwise.
    fn set_memory(&self, uuid: Uuid, kib: u64) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.with_domain(uuid, |obj| {
            if kib > obj.def.memory_kib {
                return Err(VirtError::invalid_arg("cannot set memory higher than max memory"));
            }
            if kib == 0 {
                return Err(VirtError::invalid_arg("memory size must be greater than 0"));
            }
            if let Some(run) = obj.run.as_ref().filter(|_| obj.is_active()) {
                if obj.def.devices.memballoon.as_ref().is_some_and(|b| b.model == "none") {
                    return Err(VirtError::operation_invalid(format!(
                        "domain '{}' has no memory balloon",
                        obj.def.name
                    )));
                }
                run.qmp
                    .execute("balloon", Some(json!({"value": kib * 1024})), inner.config.qmp_timeout)
                    .map_err(|e| qmp_failed(&obj.def.name, e))?;
                let mut live = (*obj.def).clone();
                live.current_memory_kib = kib;
                live.sync();
                obj.def = Arc::new(live);
                let _ = inner.save_runtime(obj);
            } else {
                let mut def = (*obj.def).clone();
                def.current_memory_kib = kib;
                def.sync();
                obj.def = Arc::new(def);
            }
            Ok(Vec::new())
        })
    }

    /// `qemuDomainSetMaxMemory`: only while inactive.
    fn set_max_memory(&self, uuid: Uuid, kib: u64) -> VirtResult<Outcome<DomainRecord>> {
        self.inner.with_domain(uuid, |obj| {
            if obj.is_active() {
                return Err(VirtError::operation_invalid(
                    "cannot resize the maximum memory on an active domain",
                ));
            }
            if kib == 0 {
                return Err(VirtError::invalid_arg("memory size must be greater than 0"));
            }
            let mut def = (*obj.def).clone();
            def.memory_kib = kib;
            def.current_memory_kib = def.current_memory_kib.min(kib);
            def.sync();
            obj.def = Arc::new(def);
            Ok(Vec::new())
        })
    }

    /// `qemuDomainSetVcpusFlags`: the config while inactive; while running,
    /// vcpu hotplug within the guest's maximum (`super::hotplug`), changing
    /// the live definition only, as `virsh setvcpus` without `--config`.
    fn set_vcpus(&self, uuid: Uuid, count: u32) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.with_domain(uuid, |obj| {
            if count == 0 || count > obj.def.vcpu.max {
                return Err(VirtError::invalid_arg(format!(
                    "requested vcpus {count} is outside 1..={} (the maximum of domain '{}')",
                    obj.def.vcpu.max, obj.def.name
                )));
            }
            if let Some(run) = obj.run.as_ref().filter(|_| obj.is_active()) {
                super::hotplug::set_live_vcpus(&run.qmp, &obj.def.name, count, inner.config.qmp_timeout)?;
                let mut live = (*obj.def).clone();
                live.vcpu.current = count;
                live.sync();
                obj.def = Arc::new(live);
                let _ = inner.save_runtime(obj);
                return Ok(Vec::new());
            }
            let mut def = (*obj.def).clone();
            def.vcpu.current = count;
            def.sync();
            obj.def = Arc::new(def);
            Ok(Vec::new())
        })
    }

    /// `qemuDomainSetAutostart`: persistent domains only.
    fn set_domain_autostart(&self, uuid: Uuid, autostart: bool) -> VirtResult<Outcome<DomainRecord>> {
        let inner = &self.inner;
        inner.with_domain(uuid, |obj| {
            if !obj.persistent {
                return Err(VirtError::operation_invalid(format!(
                    "cannot set autostart for transient domain '{}'",
                    obj.def.name
                )));
            }
            obj.autostart = autostart;
            let _ = inner.save_runtime(obj);
            Ok(Vec::new())
        })
    }

    /// `virDomainGetInfo` plus block and interface counters, from `/proc`,
    /// QMP and the host side of tap devices.
    fn domain_stats(&self, uuid: Uuid) -> VirtResult<DomainStats> {
        let inner = &self.inner;
        let cell = inner.cell(uuid)?;
        let obj = cell.lock();
        let mut stats = DomainStats {
            cpu_time_ns: 0,
            vcpus: obj.def.vcpu.current,
            memory_max_kib: obj.def.memory_kib,
            memory_current_kib: obj.def.current_memory_kib,
            block: Vec::new(),
            net: Vec::new(),
        };
        let Some(run) = obj.run.as_ref().filter(|_| obj.is_active()) else {
            return Ok(stats);
        };
        let timeout = inner.config.qmp_timeout;
        let name = &obj.def.name;
        stats.cpu_time_ns = super::process::cpu_time_ns(run.pid).unwrap_or(0);
        let cpus = run
            .qmp
            .execute("query-cpus-fast", None, timeout)
            .map_err(|e| qmp_failed(name, e))?;
        if let Some(list) = cpus.as_array() {
            stats.vcpus = list.len() as u32;
        }
        if let Ok(balloon) = run.qmp.execute("query-balloon", None, timeout) {
            if let Some(actual) = balloon.get("actual").and_then(Value::as_u64) {
                stats.memory_current_kib = actual / 1024;
            }
        }
        let blocks = run
            .qmp
            .execute("query-blockstats", None, timeout)
            .map_err(|e| qmp_failed(name, e))?;
        stats.block = block_stats(&obj.def, &blocks);
        stats.net = super::netstats::net_stats(&obj.def, &run.qmp, timeout);
        Ok(stats)
    }
}

/// Maps `query-blockstats` entries to disk targets through the format
/// node names the command line gave (`libvirt-N-format`, N counting down
/// from the number of disks).
fn block_stats(def: &DomainDef, reply: &Value) -> Vec<BlockStats> {
    let sourced: Vec<&str> = def
        .devices
        .disks
        .iter()
        .map(|d| d.target_dev.as_deref().unwrap_or(""))
        .collect();
    let count = sourced.len();
    let mut out = Vec::new();
    for entry in reply.as_array().into_iter().flatten() {
        let node = entry.get("node-name").and_then(Value::as_str).unwrap_or("");
        let Some(n) = node
            .strip_prefix("libvirt-")
            .and_then(|r| r.strip_suffix("-format"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if n == 0 || n > count {
            continue;
        }
        let s = entry.get("stats").cloned().unwrap_or(Value::Null);
        let num = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        out.push(BlockStats {
            name: sourced[count - n].to_string(),
            rd_reqs: num("rd_operations"),
            rd_bytes: num("rd_bytes"),
            wr_reqs: num("wr_operations"),
            wr_bytes: num("wr_bytes"),
            errors: num("failed_rd_operations") + num("failed_wr_operations"),
        });
    }
    out
}
