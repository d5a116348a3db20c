//! One guest's process lifecycle: launching qemu for a definition, watching
//! its monitor, stopping it, and reattaching to guests after a restart.
//!
//! Locking: a domain's mutex is held for the whole of an operation on it
//! (libvirt's domain job); the QMP reader thread never takes it, and the
//! watcher thread that does only touches the run it was started for
//! (`generation`), so a late event of a stopped qemu changes nothing.

use super::argv::{self, Accel, ArgvContext};
use super::domains::DomObj;
use super::events;
use super::hotplug;
use super::process::{self, RunFiles, RuntimeState};
use super::qmp::{MonitorEvent, Qmp};
use super::taps;
use super::Inner;
use crate::model::{DriverEvent, DriverNotice};
use parking_lot::Mutex;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;
use uuid::Uuid;
use virtbus_schemas::lifecycle::{
    DomainLifecycle, DomainState, PausedReason, ResumedDetail, RunningReason, ShutoffReason, StartedDetail,
    StateWithReason,
};
use virtbus_schemas::{DomainDef, ErrorCode, VirtError, VirtResult};

/// How long a reattach waits for an existing monitor.
const REATTACH_TIMEOUT: Duration = Duration::from_secs(5);

/// A running qemu of one domain.
pub(crate) struct Running {
    pub pid: i32,
    pub qmp: Arc<Qmp>,
    pub generation: u64,
    pub files: RunFiles,
    /// Set while this driver stops qemu: monitor events are then expected.
    pub stopping: bool,
    /// `STOP`/`RESUME` events numbered up to here were caused by this
    /// driver's own `stop`/`cont`, whose result the state already shows.
    pub barrier: u64,
    /// Disk paths claimed in `Inner::active_disks`.
    pub disks: Vec<String>,
    /// Tap devices made for `type='network'` interfaces, removed at exit.
    pub taps: Vec<String>,
}

impl Inner {
    /// The emulator a definition runs: its `<emulator>` (which must be on the
    /// allow-list and exist) or the default one.
    pub(crate) fn check_emulator(&self, def: &DomainDef) -> VirtResult<PathBuf> {
        let Some(named) = def.devices.emulator.as_deref() else {
            return Ok(self.config.default_emulator.clone());
        };
        let path = PathBuf::from(named);
        let canonical = std::fs::canonicalize(&path).ok();
        let allowed = self
            .config
            .emulators
            .iter()
            .any(|a| a == &path || (canonical.is_some() && std::fs::canonicalize(a).ok() == canonical));
        if !allowed {
            return Err(VirtError::new(
                ErrorCode::OperationDenied,
                format!(
                    "emulator '{named}' of domain '{}' is not on the allowed list ({}); set VIRTBUS_QEMU_EMULATORS to allow it",
                    def.name,
                    self.config.emulators.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if canonical.is_none() {
            return Err(VirtError::new(
                ErrorCode::NoSupport,
                format!("cannot find emulator '{named}' of domain '{}': no such file", def.name),
            ));
        }
        Ok(path)
    }

    /// Claims the disk paths of `def` for `uuid`: a path used by another
    /// running guest is refused unless both sides mark it `<shareable/>`.
    fn claim_disks(&self, uuid: Uuid, def: &DomainDef) -> VirtResult<Vec<String>> {
        let mut active = self.active_disks.lock();
        let mut claimed = Vec::new();
        for disk in &def.devices.disks {
            let Some(src) = &disk.source else { continue };
            if disk.device == "cdrom" || disk.readonly {
                continue;
            }
            if let Some((other, shareable)) = active.get(src) {
                if *other != uuid && !(*shareable && disk.shareable) {
                    return Err(VirtError::operation_invalid(format!(
                        "disk '{src}' of domain '{}' is in use by running domain {other}; mark it <shareable/> in both to share it",
                        def.name
                    )));
                }
            }
            claimed.push((src.clone(), disk.shareable));
        }
        for (src, shareable) in &claimed {
            active.insert(src.clone(), (uuid, *shareable));
        }
        Ok(claimed.into_iter().map(|(s, _)| s).collect())
    }

    fn release_disks(&self, uuid: Uuid, disks: &[String]) {
        let mut active = self.active_disks.lock();
        for d in disks {
            if active.get(d).is_some_and(|(owner, _)| *owner == uuid) {
                active.remove(d);
            }
        }
    }

    /// Starts qemu for `obj.def` paused, connects the monitor, resumes the
    /// vcpus; the events are libvirt's for a start.
    pub(crate) fn launch(self: &Arc<Self>, obj: &mut DomObj) -> VirtResult<Vec<DriverEvent>> {
        let def = obj.def.clone();
        let uuid = def.uuid;
        let emulator = self.check_emulator(&def)?;
        let accel = Accel::for_domain(&def.domain_type, self.kvm)?;
        for disk in &def.devices.disks {
            if let Some(src) = &disk.source {
                if !std::path::Path::new(src).exists() {
                    return Err(VirtError::operation_failed(format!(
                        "cannot access storage file '{src}' of domain '{}': no such file or directory",
                        def.name
                    )));
                }
            }
        }
        let files = RunFiles::new(&self.config.run_dir(), uuid);
        // The taps come first: the command line names them.
        let (tapped, taps) = self.attach_taps(&def)?;
        let prepared = argv::build(
            &tapped,
            &ArgvContext {
                accel,
                qmp_socket: &files.qmp,
                privileged: self.config.privileged,
            },
        )
        .and_then(|args| Ok((args, self.claim_disks(uuid, &def)?)));
        let (args, disks) = match prepared {
            Ok(ready) => ready,
            Err(err) => {
                taps::remove_taps(&taps);
                return Err(err);
            }
        };
        let pid = match process::spawn(&emulator, &args, &files) {
            Ok(pid) => pid,
            Err(err) => {
                self.release_disks(uuid, &disks);
                taps::remove_taps(&taps);
                // Name the domain and the machine: qemu's own message may not.
                let machine = def.os.machine.as_deref().unwrap_or("pc");
                return Err(VirtError::new(
                    err.code,
                    format!(
                        "cannot start domain '{}' (machine type '{machine}'): {}",
                        def.name, err.message
                    ),
                ));
            }
        };
        let abandon = |err: VirtError| {
            process::signal(pid, nix::sys::signal::Signal::SIGKILL);
            process::wait_gone(pid, uuid, Duration::from_secs(5));
            // qemu may have opened its monitor and then failed (a device
            // it refuses): its own message is the useful part.
            let said = std::fs::read_to_string(&files.log).unwrap_or_default();
            let err = match said.trim() {
                "" => err,
                said => VirtError::new(
                    err.code,
                    format!("cannot start domain '{}': {}; qemu: {said}", def.name, err.message),
                ),
            };
            files.remove_all();
            self.release_disks(uuid, &disks);
            taps::remove_taps(&taps);
            err
        };
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = crossbeam_channel::unbounded();
        let qmp = match Qmp::connect(&files.qmp, self.config.qmp_timeout, tx) {
            Ok(q) => Arc::new(q),
            Err(e) => return Err(abandon(VirtError::operation_failed(e.to_string()))),
        };
        spawn_watcher(Arc::downgrade(self), uuid, generation, rx);
        if let Err(e) = qmp.execute("cont", None, self.config.qmp_timeout) {
            qmp.close();
            return Err(abandon(VirtError::operation_failed(format!(
                "cannot resume the vcpus of domain '{}': {e}",
                def.name
            ))));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut live = tapped;
        live.id = Some(id as i32);
        if obj.persistent && obj.new_def.is_none() {
            obj.new_def = Some(def.clone());
        }
        obj.def = Arc::new(live);
        obj.id = Some(id);
        obj.state = StateWithReason::running(RunningReason::Booted);
        obj.run = Some(Running {
            pid,
            qmp,
            generation,
            files,
            stopping: false,
            barrier: 0,
            disks,
            taps,
        });
        if let Some(run) = obj.run.as_mut() {
            run.barrier = run.qmp.events_seen();
        }
        if let Err(err) = self.save_runtime(obj) {
            tracing::warn!(domain = %def.name, error = %err, "runtime state not saved; a restart will not reattach");
        }
        // libvirt's qemu driver: the RESUME of `cont`, then the start itself.
        Ok(vec![
            DriverEvent::Domain(DomainLifecycle::resumed(ResumedDetail::Unpaused)),
            DriverEvent::Domain(DomainLifecycle::started(StartedDetail::Booted)),
        ])
    }

    /// Stops qemu as `virDomainDestroy` does (SIGTERM, SIGKILL after the
    /// grace period) and leaves the domain shut off with `reason`.
    pub(crate) fn kill(&self, obj: &mut DomObj, reason: ShutoffReason) {
        let Some(run) = obj.run.as_mut() else { return };
        run.stopping = true;
        let (pid, uuid) = (run.pid, obj.def.uuid);
        process::signal(pid, nix::sys::signal::Signal::SIGTERM);
        if !process::wait_gone(pid, uuid, self.config.destroy_grace) {
            process::signal(pid, nix::sys::signal::Signal::SIGKILL);
            process::wait_gone(pid, uuid, Duration::from_secs(5));
        }
        self.after_exit(obj, StateWithReason::shutoff(reason));
    }

    /// Forgets the run: monitor, runtime files, disk claims, id; the
    /// persistent definition becomes the current one again.
    pub(crate) fn after_exit(&self, obj: &mut DomObj, state: StateWithReason) {
        if let Some(run) = obj.run.take() {
            run.qmp.close();
            run.files.remove_all();
            self.release_disks(obj.def.uuid, &run.disks);
            taps::remove_taps(&run.taps);
        }
        obj.id = None;
        if let Some(def) = obj.new_def.take() {
            obj.def = def;
        } else if obj.def.id.is_some() {
            let mut def = (*obj.def).clone();
            def.id = None;
            obj.def = Arc::new(def);
        }
        obj.state = state;
    }

    pub(crate) fn save_runtime(&self, obj: &DomObj) -> VirtResult<()> {
        let Some(run) = &obj.run else { return Ok(()) };
        RuntimeState {
            uuid: obj.def.uuid,
            pid: run.pid,
            id: obj.id.unwrap_or(0),
            qmp: run.files.qmp.clone(),
            live_xml: obj.def.to_xml(),
            inactive_xml: obj.new_def.as_ref().map(|d| d.to_xml()),
            persistent: obj.persistent,
            autostart: obj.autostart,
            state: obj.state.state.number(),
            reason: obj.state.reason,
        }
        .save(&run.files.state)
    }

    /// Drops a transient domain that no longer runs from the tables.
    pub(crate) fn forget_if_gone(&self, obj: &DomObj) -> bool {
        if obj.persistent || obj.state.state.is_active() {
            return false;
        }
        self.domains.write().remove(&obj.def.uuid);
        let mut names = self.names.lock();
        if names.get(&obj.def.name) == Some(&obj.def.uuid) {
            names.remove(&obj.def.name);
        }
        true
    }

    fn notify(&self, uuid: Uuid, event: Option<DomainLifecycle>) {
        let _ = self.notices.send(DriverNotice::Domain { uuid, event });
    }

    /// Applies one monitor message of run `generation` of domain `uuid`.
    fn on_monitor(self: &Arc<Self>, uuid: Uuid, generation: u64, msg: MonitorEvent) {
        let Some(cell) = self.domains.read().get(&uuid).cloned() else {
            return;
        };
        let mut obj = cell.lock();
        let barrier = match obj.run.as_ref() {
            Some(run) if run.generation == generation && !run.stopping => run.barrier,
            _ => return,
        };
        match msg {
            MonitorEvent::Closed => {
                let (state, event) = events::on_monitor_closed(obj.state);
                self.after_exit(&mut obj, state);
                self.forget_if_gone(&obj);
                drop(obj);
                self.notify(uuid, Some(event));
            }
            MonitorEvent::Event { name, data, seq } => {
                if seq <= barrier && matches!(name.as_str(), "STOP" | "RESUME") {
                    return;
                }
                if name == "DEVICE_DELETED" && hotplug::is_vcpu_removal(&data) {
                    if self.refresh_live_vcpus(&mut obj) {
                        drop(obj);
                        self.notify(uuid, None);
                    }
                    return;
                }
                let reaction = events::react(obj.state, &name, &data);
                if let Some(state) = reaction.state {
                    obj.state = state;
                    let _ = self.save_runtime(&obj);
                }
                if reaction.terminate {
                    // libvirt stops qemu once the guest has powered off (qemu
                    // runs with -no-shutdown); the monitor's end then reports
                    // the stop.
                    if let Some(run) = &obj.run {
                        process::signal(run.pid, nix::sys::signal::Signal::SIGTERM);
                    }
                }
                drop(obj);
                if reaction.event.is_some() {
                    self.notify(uuid, reaction.event);
                }
            }
        }
    }

    /// A vcpu left qemu (the guest ejected it, possibly after `setvcpus`
    /// gave up waiting): the live definition takes qemu's count. True if
    /// it changed.
    fn refresh_live_vcpus(&self, obj: &mut DomObj) -> bool {
        let Some(run) = &obj.run else { return false };
        let Ok(online) = hotplug::online_vcpus(&run.qmp, &obj.def.name, self.config.qmp_timeout) else {
            return false;
        };
        let online = online as u32;
        if online == 0 || online == obj.def.vcpu.current {
            return false;
        }
        let mut live = (*obj.def).clone();
        live.vcpu.current = online;
        live.sync();
        obj.def = Arc::new(live);
        let _ = self.save_runtime(obj);
        true
    }

    /// After a shutdown request: destroys the guest if it is still running
    /// the same qemu once `after` has passed.
    pub(crate) fn shutdown_fallback(self: &Arc<Self>, uuid: Uuid, generation: u64, after: Duration) {
        let weak = Arc::downgrade(self);
        let _ = std::thread::Builder::new()
            .name("virtbus-shutdown-timer".into())
            .spawn(move || {
                std::thread::sleep(after);
                let Some(inner) = weak.upgrade() else { return };
                let Some(cell) = inner.domains.read().get(&uuid).cloned() else {
                    return;
                };
                let mut obj = cell.lock();
                if obj.run.as_ref().map(|r| r.generation) != Some(generation) {
                    return;
                }
                tracing::info!(domain = %obj.def.name, "guest did not shut down in time; destroying it");
                inner.kill(&mut obj, ShutoffReason::Destroyed);
                inner.forget_if_gone(&obj);
                drop(obj);
                inner.notify(
                    uuid,
                    Some(DomainLifecycle::stopped(
                        virtbus_schemas::lifecycle::StoppedDetail::Destroyed,
                    )),
                );
            });
    }
}

fn spawn_watcher(inner: Weak<Inner>, uuid: Uuid, generation: u64, rx: crossbeam_channel::Receiver<MonitorEvent>) {
    let _ = std::thread::Builder::new()
        .name("virtbus-qemu-watch".into())
        .spawn(move || {
            for msg in rx.iter() {
                let closed = msg == MonitorEvent::Closed;
                let Some(inner) = inner.upgrade() else { return };
                inner.on_monitor(uuid, generation, msg);
                if closed {
                    return;
                }
            }
        });
}

/// Finds the guests a previous run of the driver left running (their
/// runtime state under `run/`), reconnects to their monitors, and puts
/// them in the tables. A guest whose qemu is gone is reported shut off
/// (`SHUTOFF/CRASHED`, as libvirt's reconnect does) if persistent, and
/// forgotten if transient.
pub(crate) fn reattach_all(inner: &Arc<Inner>) {
    let run_dir = inner.config.run_dir();
    let Ok(entries) = std::fs::read_dir(&run_dir) else {
        return;
    };
    let mut max_id = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let state = match RuntimeState::load(&path) {
            Ok(s) => s,
            Err(err) => {
                tracing::error!(file = %path.display(), error = %err, "unreadable qemu runtime state set aside");
                let _ = std::fs::rename(&path, path.with_extension("json.bad"));
                continue;
            }
        };
        match reattach_one(inner, state) {
            Ok(id) => max_id = max_id.max(id),
            Err(err) => tracing::error!(file = %path.display(), error = %err, "cannot reattach to a qemu guest"),
        }
    }
    inner.next_id.fetch_max(max_id + 1, Ordering::Relaxed);
}

fn reattach_one(inner: &Arc<Inner>, saved: RuntimeState) -> VirtResult<u32> {
    let uuid = saved.uuid;
    let live = DomainDef::from_xml(&saved.live_xml)?;
    let inactive = match &saved.inactive_xml {
        Some(xml) => Some(Arc::new(DomainDef::from_xml(xml)?)),
        None => None,
    };
    let files = RunFiles::new(&inner.config.run_dir(), uuid);
    let mut obj = DomObj {
        def: Arc::new(live),
        new_def: inactive,
        id: Some(saved.id),
        state: StateWithReason::new(
            DomainState::from_number(saved.state).unwrap_or(DomainState::Running),
            saved.reason,
        ),
        persistent: saved.persistent,
        autostart: saved.autostart,
        run: None,
    };
    let generation = inner.next_generation.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = crossbeam_channel::unbounded();
    let connected = if process::is_alive(saved.pid, uuid) {
        match Qmp::connect(&saved.qmp, REATTACH_TIMEOUT, tx) {
            Ok(qmp) => Some(qmp),
            Err(err) => {
                // Like libvirt: a guest we cannot manage must not run on.
                tracing::error!(domain = %obj.def.name, error = %err, "monitor unreachable; killing the guest");
                process::signal(saved.pid, nix::sys::signal::Signal::SIGKILL);
                None
            }
        }
    } else {
        None
    };
    let Some(qmp) = connected else {
        files.remove_all();
        taps::remove_taps(&taps::network_taps(&obj.def));
        let _ = std::fs::remove_file(&saved.qmp);
        if !obj.persistent {
            return Ok(0);
        }
        obj.id = None;
        if let Some(def) = obj.new_def.take() {
            obj.def = def;
        }
        obj.state = StateWithReason::shutoff(ShutoffReason::Crashed);
        insert(inner, obj);
        return Ok(0);
    };
    let qmp = Arc::new(qmp);
    spawn_watcher(Arc::downgrade(inner), uuid, generation, rx);
    let status = qmp
        .execute("query-status", None, REATTACH_TIMEOUT)
        .map_err(|e| VirtError::operation_failed(e.to_string()))?;
    match status.get("status").and_then(Value::as_str) {
        Some("running") if obj.state.state != DomainState::Running => {
            obj.state = StateWithReason::running(RunningReason::Unpaused)
        }
        Some("paused") | Some("prelaunch") if obj.state.state == DomainState::Running => {
            obj.state = StateWithReason::paused(PausedReason::Unknown)
        }
        _ => {}
    }
    let disks = inner.claim_disks(uuid, &obj.def).unwrap_or_default();
    obj.run = Some(Running {
        pid: saved.pid,
        qmp,
        generation,
        files,
        stopping: false,
        barrier: 0,
        disks,
        taps: taps::network_taps(&obj.def),
    });
    let _ = inner.save_runtime(&obj);
    let id = saved.id;
    insert(inner, obj);
    Ok(id)
}

fn insert(inner: &Inner, obj: DomObj) {
    let uuid = obj.def.uuid;
    inner.names.lock().insert(obj.def.name.clone(), uuid);
    inner.domains.write().insert(uuid, Arc::new(Mutex::new(obj)));
}
