//! QMP events → libvirt lifecycle events, as libvirt's qemu driver maps them
//! (`qemuProcessHandleStop`, `...Resume`, `...Shutdown`, `...GuestPanic`,
//! `...IOError`, `processMonitorEOFEvent` in libvirt 9.0).
//!
//! [`react`] is pure: given the guest's state and what qemu said, it returns
//! the new state, the event to publish and whether qemu must now be stopped
//! (libvirt kills a guest that powered off, since qemu runs with
//! `-no-shutdown`). The caller applies it under the domain's lock.

use serde_json::Value;
use virtbus_schemas::lifecycle::{
    CrashedDetail, CrashedReason, DomainLifecycle, DomainState, PausedReason, ResumedDetail, RunningReason,
    ShutdownDetail, ShutdownReason, ShutoffReason, StateWithReason, StoppedDetail, SuspendedDetail,
};

/// What to do about one monitor message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaction {
    pub state: Option<StateWithReason>,
    pub event: Option<DomainLifecycle>,
    /// qemu should be terminated (guest powered off or panicked).
    pub terminate: bool,
}

const NOTHING: Reaction = Reaction {
    state: None,
    event: None,
    terminate: false,
};

/// The reaction to QMP event `name` with `data` while the guest is in `state`.
pub fn react(state: StateWithReason, name: &str, data: &Value) -> Reaction {
    match name {
        // A pause nobody asked for through this driver (a suspend through
        // the driver already set PAUSED, and then this changes nothing).
        "STOP" if state.state == DomainState::Running => Reaction {
            state: Some(StateWithReason::paused(PausedReason::Unknown)),
            event: Some(DomainLifecycle::suspended(SuspendedDetail::Paused)),
            terminate: false,
        },
        "RESUME" if state.state == DomainState::Paused => Reaction {
            state: Some(StateWithReason::running(RunningReason::Unpaused)),
            event: Some(DomainLifecycle::resumed(ResumedDetail::Unpaused)),
            terminate: false,
        },
        "SHUTDOWN" if state.state.is_active() && state.state != DomainState::Shutdown => {
            let detail = match data.get("guest").and_then(Value::as_bool) {
                Some(true) => ShutdownDetail::Guest,
                Some(false) => ShutdownDetail::Host,
                None => ShutdownDetail::Finished,
            };
            Reaction {
                state: Some(StateWithReason::new(
                    DomainState::Shutdown,
                    ShutdownReason::Unknown.number(),
                )),
                event: Some(DomainLifecycle::shutdown(detail)),
                terminate: true,
            }
        }
        "GUEST_PANICKED" if state.state.is_active() && state.state != DomainState::Crashed => Reaction {
            state: Some(StateWithReason::new(
                DomainState::Crashed,
                CrashedReason::Panicked.number(),
            )),
            event: Some(DomainLifecycle::crashed(CrashedDetail::Panicked)),
            terminate: true,
        },
        // qemu pauses the guest after this error when the disk's error
        // policy says so; the STOP that follows then changes nothing.
        "BLOCK_IO_ERROR"
            if state.state == DomainState::Running && data.get("action").and_then(Value::as_str) == Some("stop") =>
        {
            Reaction {
                state: Some(StateWithReason::paused(PausedReason::IoError)),
                event: Some(DomainLifecycle::suspended(SuspendedDetail::IoError)),
                terminate: false,
            }
        }
        // RESET (reboot), POWERDOWN (ACPI request) and the rest are not
        // lifecycle events in libvirt.
        _ => NOTHING,
    }
}

/// The state and event when the monitor closes without this driver
/// stopping qemu: after a guest shutdown it is a normal stop, after a panic
/// a crash, otherwise qemu died (`STOPPED/FAILED`, state `SHUTOFF/CRASHED`).
pub fn on_monitor_closed(state: StateWithReason) -> (StateWithReason, DomainLifecycle) {
    match state.state {
        DomainState::Shutdown => (
            StateWithReason::shutoff(ShutoffReason::Shutdown),
            DomainLifecycle::stopped(StoppedDetail::Shutdown),
        ),
        DomainState::Crashed => (
            StateWithReason::shutoff(ShutoffReason::Crashed),
            DomainLifecycle::stopped(StoppedDetail::Crashed),
        ),
        _ => (
            StateWithReason::shutoff(ShutoffReason::Crashed),
            DomainLifecycle::stopped(StoppedDetail::Failed),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use virtbus_schemas::lifecycle::DomainEventType;

    fn running() -> StateWithReason {
        StateWithReason::running(RunningReason::Booted)
    }

    #[test]
    fn stop_while_running_is_a_suspend_and_repeated_stop_is_nothing() {
        let r = react(running(), "STOP", &json!({}));
        assert_eq!(r.event.map(|e| e.event), Some(DomainEventType::Suspended));
        let paused = r.state.unwrap_or(running());
        assert_eq!(react(paused, "STOP", &json!({})), NOTHING);
        let back = react(paused, "RESUME", &json!({}));
        assert_eq!(back.event, Some(DomainLifecycle::resumed(ResumedDetail::Unpaused)));
    }

    #[test]
    fn guest_shutdown_terminates_with_guest_detail_then_stops_as_shutdown() {
        let r = react(
            running(),
            "SHUTDOWN",
            &json!({"guest": true, "reason": "guest-shutdown"}),
        );
        assert!(r.terminate);
        assert_eq!(r.event, Some(DomainLifecycle::shutdown(ShutdownDetail::Guest)));
        let (state, event) = on_monitor_closed(r.state.unwrap_or(running()));
        assert_eq!(state, StateWithReason::shutoff(ShutoffReason::Shutdown));
        assert_eq!(event, DomainLifecycle::stopped(StoppedDetail::Shutdown));
    }

    #[test]
    fn monitor_closed_while_running_is_a_failure() {
        let (state, event) = on_monitor_closed(running());
        assert_eq!(state, StateWithReason::shutoff(ShutoffReason::Crashed));
        assert_eq!(event, DomainLifecycle::stopped(StoppedDetail::Failed));
    }

    #[test]
    fn io_error_with_stop_policy_pauses_with_ioerror() {
        let r = react(running(), "BLOCK_IO_ERROR", &json!({"action": "stop", "device": ""}));
        assert_eq!(r.state, Some(StateWithReason::paused(PausedReason::IoError)));
        assert_eq!(r.event, Some(DomainLifecycle::suspended(SuspendedDetail::IoError)));
        assert_eq!(
            react(running(), "BLOCK_IO_ERROR", &json!({"action": "report"})),
            NOTHING
        );
    }

    #[test]
    fn panic_is_a_crash() {
        let r = react(running(), "GUEST_PANICKED", &json!({"action": "pause"}));
        assert_eq!(r.event, Some(DomainLifecycle::crashed(CrashedDetail::Panicked)));
        let (state, event) = on_monitor_closed(r.state.unwrap_or(running()));
        assert_eq!(state, StateWithReason::shutoff(ShutoffReason::Crashed));
        assert_eq!(event, DomainLifecycle::stopped(StoppedDetail::Crashed));
    }
}
