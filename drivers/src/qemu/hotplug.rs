//! vcpu hotplug of a running guest, as libvirt's qemu driver does it for
//! `virDomainSetVcpus` on a live domain (`qemuDomainSetVcpusLive`): the
//! guest starts with `-smp CURRENT,maxcpus=MAX,...`, qemu lists the empty
//! slots in `query-hotpluggable-cpus`, and a vcpu is added with `device_add`
//! of the slot's cpu type and topology ids (`id=vcpuN`). Removal is
//! `device_del`, which only finishes once the guest OS ejects the cpu
//! (ACPI); libvirt waits 5 s for that and then reports a timeout. qemu
//! refuses the request outright while the guest has not switched on ACPI's
//! cpu hotplug interface (a guest in its firmware). A vcpu the guest ejects
//! after that wait shows up as `DEVICE_DELETED`, on which the live
//! definition takes qemu's count (`lifecycle.rs`).

use super::qmp::Qmp;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};
use virtbus_schemas::{VirtError, VirtResult};

/// How long an unplug may take before it is reported as timed out
/// (libvirt's `qemuDomainWaitForDeviceRemoval`: 5 s).
const UNPLUG_WAIT: Duration = Duration::from_secs(5);

/// One entry of `query-hotpluggable-cpus`.
struct Slot {
    cpu_type: String,
    props: Map<String, Value>,
    /// Where the plugged cpu lives in qemu's object tree; `None` when empty.
    qom_path: Option<String>,
}

impl Slot {
    /// Topology order: socket, die, core, thread.
    fn key(&self) -> [i64; 4] {
        ["socket-id", "die-id", "core-id", "thread-id"].map(|k| self.props.get(k).and_then(Value::as_i64).unwrap_or(0))
    }

    /// The `id` a cpu hotplugged by us carries (`/machine/peripheral/vcpuN`).
    fn device_id(&self) -> Option<&str> {
        self.qom_path.as_deref()?.strip_prefix("/machine/peripheral/")
    }
}

fn slots(qmp: &Qmp, name: &str, timeout: Duration) -> VirtResult<Vec<Slot>> {
    let reply = qmp
        .execute("query-hotpluggable-cpus", None, timeout)
        .map_err(|e| VirtError::operation_failed(format!("qemu monitor of domain '{name}': {e}")))?;
    let mut out: Vec<Slot> = reply
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(Slot {
                cpu_type: e.get("type")?.as_str()?.to_string(),
                props: e.get("props")?.as_object()?.clone(),
                qom_path: e.get("qom-path").and_then(Value::as_str).map(str::to_string),
            })
        })
        .collect();
    out.sort_by_key(Slot::key);
    Ok(out)
}

/// Whether a `DEVICE_DELETED` event is about a vcpu we hotplugged (qemu
/// 7.2 reports the cpu's `lapic` child, `/machine/peripheral/vcpuN/lapic`,
/// and not always the cpu itself).
pub(crate) fn is_vcpu_removal(data: &Value) -> bool {
    let device = data.get("device").and_then(Value::as_str).unwrap_or("");
    let path = data.get("path").and_then(Value::as_str).unwrap_or("");
    device.starts_with("vcpu") || path.starts_with("/machine/peripheral/vcpu")
}

/// The number of vcpus qemu runs (`query-cpus-fast`).
pub(crate) fn online_vcpus(qmp: &Qmp, name: &str, timeout: Duration) -> VirtResult<usize> {
    qmp.execute("query-cpus-fast", None, timeout)
        .map(|v| v.as_array().map_or(0, Vec::len))
        .map_err(|e| VirtError::operation_failed(format!("qemu monitor of domain '{name}': {e}")))
}

/// Brings the running guest `name` to `target` online vcpus (within its
/// maximum, checked by the caller). Adds vcpus into the lowest free slots;
/// removes only vcpus that were hotplugged (highest first): the ones the
/// guest booted with are not hot-unpluggable here.
pub(crate) fn set_live_vcpus(qmp: &Qmp, name: &str, target: u32, timeout: Duration) -> VirtResult<()> {
    let slots = slots(qmp, name, timeout)?;
    let plugged = slots.iter().filter(|s| s.qom_path.is_some()).count();
    let target = target as usize;
    if target > plugged {
        let used: Vec<String> = slots.iter().filter_map(|s| s.device_id().map(str::to_string)).collect();
        let mut next_index = plugged;
        for slot in slots.iter().filter(|s| s.qom_path.is_none()).take(target - plugged) {
            // vcpu ids follow libvirt's `vcpuN`, N the vcpu's index.
            let mut id = format!("vcpu{next_index}");
            while used.contains(&id) {
                next_index += 1;
                id = format!("vcpu{next_index}");
            }
            next_index += 1;
            let mut args = slot.props.clone();
            args.insert("driver".into(), json!(slot.cpu_type));
            args.insert("id".into(), json!(id));
            qmp.execute("device_add", Some(Value::Object(args)), timeout)
                .map_err(|e| {
                    VirtError::operation_failed(format!("cannot hotplug vcpu '{id}' into domain '{name}': {e}"))
                })?;
        }
        return Ok(());
    }
    if target < plugged {
        let removable: Vec<&Slot> = slots.iter().rev().filter(|s| s.device_id().is_some()).collect();
        let needed = plugged - target;
        if removable.len() < needed {
            return Err(VirtError::operation_invalid(format!(
                "domain '{name}' booted with {} vcpus; only hotplugged vcpus can be unplugged (asked for {target})",
                plugged - removable.len()
            )));
        }
        for slot in removable.iter().take(needed) {
            let id = slot.device_id().unwrap_or_default();
            qmp.execute("device_del", Some(json!({ "id": id })), timeout)
                .map_err(|e| {
                    VirtError::operation_failed(format!("cannot unplug vcpu '{id}' of domain '{name}': {e}"))
                })?;
        }
        let started = Instant::now();
        while online_vcpus(qmp, name, timeout)? > target {
            if started.elapsed() >= UNPLUG_WAIT {
                // libvirt's wording: the guest may still eject the cpu later.
                return Err(VirtError::operation_failed(format!(
                    "vcpu unplug request timed out for domain '{name}': the guest did not release the vcpu; unplug result must be manually inspected in the domain"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}
