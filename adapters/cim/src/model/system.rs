//! Guests (KVM_ComputerSystem), the host (KVM_HostSystem), guest settings
//! (KVM_VirtualSystemSettingData), the services and the capabilities.
//!
//! State mapping as libvirt-cim's ComputerSystem provider does it:
//! RUNNING/BLOCKED → 2 Enabled, PAUSED → 9 Paused, SHUTDOWN → 4 Shut Down,
//! SHUTOFF/CRASHED → 3 Disabled (6 Suspended when a managed save exists),
//! anything else → 0 Unknown.

use super::Ctx;
use crate::value::{CimType, Instance, Value};
use virtbus_drivers::DomainRecord;
use virtbus_schemas::lifecycle::DomainState;

pub const CS_CLASS: &str = "KVM_ComputerSystem";
pub const HOST_CLASS: &str = "KVM_HostSystem";
pub const VSMS_NAME: &str = "Management Service";
pub const RPCS_NAME: &str = "RPCS";

/// `EnabledState` of a guest.
pub fn enabled_state(state: DomainState, has_managed_save: bool) -> u16 {
    match state {
        DomainState::Running | DomainState::Blocked => 2,
        DomainState::Paused => 9,
        DomainState::Shutdown => 4,
        DomainState::Shutoff | DomainState::Crashed if has_managed_save => 6,
        DomainState::Shutoff | DomainState::Crashed => 3,
        _ => 0,
    }
}

/// `HealthState`: 5 OK while it runs, 20 major failure when crashed.
pub fn health_state(state: DomainState) -> u16 {
    match state {
        DomainState::Running | DomainState::Blocked | DomainState::Paused => 5,
        DomainState::Crashed => 20,
        _ => 0,
    }
}

/// `OperationalStatus[0]`: 2 OK, 6 Error (crashed), 15 Dormant (off).
pub fn operational_status(state: DomainState) -> u16 {
    match state {
        DomainState::Running | DomainState::Blocked | DomainState::Paused => 2,
        DomainState::Crashed => 6,
        DomainState::NoState | DomainState::Shutdown | DomainState::Shutoff => 15,
        _ => 0,
    }
}

/// `OperatingStatus`: 32768 Started, 7 Dormant, 5 Stopped, 6 Aborted.
pub fn operating_status(state: DomainState) -> u16 {
    match state {
        DomainState::Running => 32768,
        DomainState::Blocked | DomainState::Paused => 7,
        DomainState::Crashed => 6,
        DomainState::NoState | DomainState::Shutdown | DomainState::Shutoff => 5,
        _ => 0,
    }
}

pub fn computer_system(ctx: &Ctx<'_>, dom: &DomainRecord) -> Instance {
    let state = dom.state.state;
    let graphics = dom.def.devices.graphics.first();
    let caption = match graphics {
        Some(g) => format!(
            "Virtual System (Console on {}://{}:{})",
            g.graphics_type,
            ctx.host,
            g.port.map(|p| p.to_string()).unwrap_or_else(|| "-1".into())
        ),
        None => "Virtual System (No console)".to_string(),
    };
    let uuid = dom.uuid().to_string();
    Instance::new(CS_CLASS)
        .with("CreationClassName", CimType::String, Value::str(CS_CLASS))
        .with("Name", CimType::String, Value::str(dom.name()))
        .with("ElementName", CimType::String, Value::str(dom.name()))
        .with("UUID", CimType::String, Value::str(&uuid))
        .with("Caption", CimType::String, Value::str(caption))
        .with("Description", CimType::String, Value::str("Virtual System"))
        .with(
            "EnabledState",
            CimType::Uint16,
            Value::num(enabled_state(state, dom.has_managed_save)),
        )
        .with(
            "RequestedState",
            CimType::Uint16,
            Value::num(ctx.requested.get(&dom.uuid()).unwrap_or(0)),
        )
        .with("HealthState", CimType::Uint16, Value::num(health_state(state)))
        .with(
            "OperationalStatus",
            CimType::Uint16,
            Value::Array(vec![operational_status(state).to_string()]),
        )
        .with("OperatingStatus", CimType::Uint16, Value::num(operating_status(state)))
        .with(
            "OtherIdentifyingInfo",
            CimType::String,
            Value::Array(vec!["Virtual System".into(), "KVM Virtual System".into(), uuid]),
        )
        .with(
            "IdentifyingDescriptions",
            CimType::String,
            Value::Array(vec!["Type".into(), "Model".into(), "UUID".into()]),
        )
}

pub fn host_system(ctx: &Ctx<'_>) -> Instance {
    Instance::new(HOST_CLASS)
        .with("CreationClassName", CimType::String, Value::str(HOST_CLASS))
        .with("Name", CimType::String, Value::str(ctx.host))
        .with("ElementName", CimType::String, Value::str(ctx.host))
        .with("Description", CimType::String, Value::str("Virtual Machine Host"))
        .with("EnabledState", CimType::Uint16, Value::num(2))
        .with("HealthState", CimType::Uint16, Value::num(5))
        .with("OperationalStatus", CimType::Uint16, Value::Array(vec!["2".into()]))
}

/// libvirt-cim's VSSD action codes: 2 none (destroy), 3 restart, 123 preserve.
fn action_code(action: Option<&str>) -> u16 {
    match action {
        Some("restart") => 3,
        Some("preserve") => 123,
        _ => 2,
    }
}

pub fn vssd(dom: &DomainRecord) -> Instance {
    let def = &dom.def;
    Instance::new("KVM_VirtualSystemSettingData")
        .with("InstanceID", CimType::String, Value::str(format!("KVM:{}", def.name)))
        .with("ElementName", CimType::String, Value::str(&def.name))
        .with("VirtualSystemIdentifier", CimType::String, Value::str(&def.name))
        .with("VirtualSystemType", CimType::String, Value::str("KVM"))
        .with("UUID", CimType::String, Value::str(def.uuid.to_string()))
        .with("Caption", CimType::String, Value::str("Virtual System"))
        .with("Description", CimType::String, Value::str("Virtual System"))
        .with(
            "AutomaticShutdownAction",
            CimType::Uint16,
            Value::num(action_code(def.on_poweroff.as_deref())),
        )
        .with(
            "AutomaticRecoveryAction",
            CimType::Uint16,
            Value::num(action_code(def.on_crash.as_deref())),
        )
        .with("AutoStart", CimType::Uint16, Value::num(u16::from(dom.autostart)))
        .with(
            "ClockOffset",
            CimType::Uint16,
            match def.clock.as_ref().and_then(|c| c.offset.as_deref()) {
                Some("localtime") => Value::num(1),
                Some(_) => Value::num(0),
                None => Value::Null,
            },
        )
        .with("BootDevices", CimType::String, Value::Array(def.os.boot_devs.clone()))
        .with(
            "Emulator",
            CimType::String,
            Value::opt_str(def.devices.emulator.as_deref()),
        )
        .with("Arch", CimType::String, Value::opt_str(def.os.arch.as_deref()))
        .with("Machine", CimType::String, Value::opt_str(def.os.machine.as_deref()))
        .with("Kernel", CimType::String, Value::opt_str(def.os.kernel.as_deref()))
        .with("Ramdisk", CimType::String, Value::opt_str(def.os.initrd.as_deref()))
        .with(
            "CommandLine",
            CimType::String,
            Value::opt_str(def.os.cmdline.as_deref()),
        )
}

fn service(ctx: &Ctx<'_>, class: &str, name: &str, caption: &str) -> Instance {
    Instance::new(class)
        .with("SystemCreationClassName", CimType::String, Value::str(HOST_CLASS))
        .with("SystemName", CimType::String, Value::str(ctx.host))
        .with("CreationClassName", CimType::String, Value::str(class))
        .with("Name", CimType::String, Value::str(name))
        .with("ElementName", CimType::String, Value::str(caption))
        .with("Caption", CimType::String, Value::str(caption))
        .with("EnabledState", CimType::Uint16, Value::num(2))
        .with("Started", CimType::Boolean, Value::bool(true))
}

pub fn vsms(ctx: &Ctx<'_>) -> Instance {
    service(
        ctx,
        "KVM_VirtualSystemManagementService",
        VSMS_NAME,
        "Virtual System Management Service",
    )
    .with("Release", CimType::String, Value::str(env!("CARGO_PKG_VERSION")))
    .with("LibvirtVersion", CimType::String, Value::str("virtbus"))
}

pub fn rpcs(ctx: &Ctx<'_>) -> Instance {
    service(
        ctx,
        "KVM_ResourcePoolConfigurationService",
        RPCS_NAME,
        "Resource Pool Configuration Service",
    )
}

pub fn elec(dom: &DomainRecord) -> Instance {
    Instance::new("KVM_EnabledLogicalElementCapabilities")
        .with("InstanceID", CimType::String, Value::str(dom.name()))
        .with(
            "ElementName",
            CimType::String,
            Value::str(format!("Capabilities for {}", dom.name())),
        )
        .with(
            "RequestedStatesSupported",
            CimType::Uint16,
            Value::Array(["2", "3", "4", "9", "10", "11"].iter().map(|s| s.to_string()).collect()),
        )
}

pub fn vsmc() -> Instance {
    Instance::new("KVM_VirtualSystemManagementCapabilities")
        .with("InstanceID", CimType::String, Value::str("ManagementCapabilities"))
        .with("ElementName", CimType::String, Value::str("ManagementCapabilities"))
        .with(
            "VirtualSystemTypesSupported",
            CimType::String,
            Value::Array(vec!["KVM".into()]),
        )
        // DefineSystem (3) and DestroySystem (4) complete synchronously.
        .with(
            "SynchronousMethodsSupported",
            CimType::Uint16,
            Value::Array(vec!["3".into(), "4".into()]),
        )
}

pub fn instances(ctx: &Ctx<'_>, class: &str) -> Option<Vec<Instance>> {
    Some(match class {
        CS_CLASS => ctx.guests().iter().map(|d| computer_system(ctx, d)).collect(),
        HOST_CLASS => vec![host_system(ctx)],
        "KVM_VirtualSystemSettingData" => ctx.guests().iter().map(|d| vssd(d)).collect(),
        "KVM_VirtualSystemManagementService" => vec![vsms(ctx)],
        "KVM_ResourcePoolConfigurationService" => vec![rpcs(ctx)],
        "KVM_EnabledLogicalElementCapabilities" => ctx.guests().iter().map(|d| elec(d)).collect(),
        "KVM_VirtualSystemManagementCapabilities" => vec![vsmc()],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libvirt-cim's `state_lv_to_cim` (+ the managed-save adjustment).
    #[test]
    fn enabled_state_table() {
        assert_eq!(enabled_state(DomainState::NoState, false), 0);
        assert_eq!(enabled_state(DomainState::Running, false), 2);
        assert_eq!(enabled_state(DomainState::Blocked, false), 2);
        assert_eq!(enabled_state(DomainState::Paused, false), 9);
        assert_eq!(enabled_state(DomainState::Shutdown, false), 4);
        assert_eq!(enabled_state(DomainState::Shutoff, false), 3);
        assert_eq!(enabled_state(DomainState::Crashed, false), 3);
        assert_eq!(enabled_state(DomainState::Shutoff, true), 6);
        assert_eq!(enabled_state(DomainState::PmSuspended, false), 0);
        assert_eq!(health_state(DomainState::Crashed), 20);
        assert_eq!(operating_status(DomainState::Running), 32768);
    }
}
