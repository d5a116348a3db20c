//! libvirt's lifecycle vocabulary as plain enums with libvirt's numbers:
//! domain states and their reasons, domain lifecycle events and their details,
//! storage pool and network lifecycle events, storage pool states
//! (`include/libvirt/libvirt-domain.h`, `libvirt-storage.h`, `libvirt-network.h`,
//! libvirt 9.0.0).

use serde::{Deserialize, Serialize};

/// Defines a C-like enum with libvirt's numbers, a machine name
/// (`RUNNING`) and virsh's human string (`running`).
macro_rules! libvirt_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $num:expr, $cname:literal, $human:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name {
            $($variant = $num,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// libvirt's number.
            pub fn number(self) -> i32 {
                self as i32
            }

            pub fn from_number(n: i32) -> Option<$name> {
                match n {
                    $($num => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The C enum's suffix, as used in JSON and docs (`BOOTED`).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $cname,)*
                }
            }

            pub fn from_name(s: &str) -> Option<$name> {
                match s {
                    $($cname => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The string virsh prints for it.
            pub fn human(self) -> &'static str {
                match self {
                    $($name::$variant => $human,)*
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::from_name(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unknown ", stringify!($name), " {}"), text))
                })
            }
        }
    };
}

libvirt_enum! {
    /// `virDomainState`.
    DomainState {
        NoState = 0, "NOSTATE", "no state";
        Running = 1, "RUNNING", "running";
        Blocked = 2, "BLOCKED", "idle";
        Paused = 3, "PAUSED", "paused";
        Shutdown = 4, "SHUTDOWN", "in shutdown";
        Shutoff = 5, "SHUTOFF", "shut off";
        Crashed = 6, "CRASHED", "crashed";
        PmSuspended = 7, "PMSUSPENDED", "pmsuspended";
    }
}

impl DomainState {
    /// libvirt's notion of "active": anything but shut off (and no state).
    pub fn is_active(self) -> bool {
        !matches!(self, DomainState::Shutoff | DomainState::NoState)
    }
}

libvirt_enum! {
    /// `virDomainNostateReason`.
    NoStateReason { Unknown = 0, "UNKNOWN", "unknown"; }
}

libvirt_enum! {
    /// `virDomainRunningReason`.
    RunningReason {
        Unknown = 0, "UNKNOWN", "unknown";
        Booted = 1, "BOOTED", "booted";
        Migrated = 2, "MIGRATED", "migrated";
        Restored = 3, "RESTORED", "restored";
        FromSnapshot = 4, "FROM_SNAPSHOT", "from snapshot";
        Unpaused = 5, "UNPAUSED", "unpaused";
        MigrationCanceled = 6, "MIGRATION_CANCELED", "migration canceled";
        SaveCanceled = 7, "SAVE_CANCELED", "save canceled";
        Wakeup = 8, "WAKEUP", "event wakeup";
        Crashed = 9, "CRASHED", "crashed";
        Postcopy = 10, "POSTCOPY", "post-copy";
        PostcopyFailed = 11, "POSTCOPY_FAILED", "post-copy failed";
    }
}

libvirt_enum! {
    /// `virDomainBlockedReason`.
    BlockedReason { Unknown = 0, "UNKNOWN", "unknown"; }
}

libvirt_enum! {
    /// `virDomainPausedReason`.
    PausedReason {
        Unknown = 0, "UNKNOWN", "unknown";
        User = 1, "USER", "user";
        Migration = 2, "MIGRATION", "migrating";
        Save = 3, "SAVE", "saving";
        Dump = 4, "DUMP", "dumping";
        IoError = 5, "IOERROR", "I/O error";
        Watchdog = 6, "WATCHDOG", "watchdog";
        FromSnapshot = 7, "FROM_SNAPSHOT", "from snapshot";
        ShuttingDown = 8, "SHUTTING_DOWN", "shutting down";
        Snapshot = 9, "SNAPSHOT", "creating snapshot";
        Crashed = 10, "CRASHED", "crashed";
        StartingUp = 11, "STARTING_UP", "starting up";
        Postcopy = 12, "POSTCOPY", "post-copy";
        PostcopyFailed = 13, "POSTCOPY_FAILED", "post-copy failed";
        ApiError = 14, "API_ERROR", "api error";
    }
}

libvirt_enum! {
    /// `virDomainShutdownReason`.
    ShutdownReason {
        Unknown = 0, "UNKNOWN", "unknown";
        User = 1, "USER", "user";
    }
}

libvirt_enum! {
    /// `virDomainShutoffReason`.
    ShutoffReason {
        Unknown = 0, "UNKNOWN", "unknown";
        Shutdown = 1, "SHUTDOWN", "shutdown";
        Destroyed = 2, "DESTROYED", "destroyed";
        Crashed = 3, "CRASHED", "crashed";
        Migrated = 4, "MIGRATED", "migrated";
        Saved = 5, "SAVED", "saved";
        Failed = 6, "FAILED", "failed";
        FromSnapshot = 7, "FROM_SNAPSHOT", "from snapshot";
        Daemon = 8, "DAEMON", "daemon";
    }
}

libvirt_enum! {
    /// `virDomainCrashedReason`.
    CrashedReason {
        Unknown = 0, "UNKNOWN", "unknown";
        Panicked = 1, "PANICKED", "panicked";
    }
}

libvirt_enum! {
    /// `virDomainPMSuspendedReason`.
    PmSuspendedReason { Unknown = 0, "UNKNOWN", "unknown"; }
}

/// A domain's state with its reason, as `virDomainGetState` returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateWithReason {
    pub state: DomainState,
    /// The reason number; its meaning depends on `state`.
    pub reason: i32,
}

impl StateWithReason {
    pub fn new(state: DomainState, reason: i32) -> Self {
        StateWithReason { state, reason }
    }

    pub fn running(reason: RunningReason) -> Self {
        Self::new(DomainState::Running, reason.number())
    }

    pub fn paused(reason: PausedReason) -> Self {
        Self::new(DomainState::Paused, reason.number())
    }

    pub fn shutoff(reason: ShutoffReason) -> Self {
        Self::new(DomainState::Shutoff, reason.number())
    }

    /// The reason's machine name for this state (`BOOTED`), `UNKNOWN` when out of range.
    pub fn reason_name(&self) -> &'static str {
        self.reason_lookup().0
    }

    /// The reason as virsh's `domstate --reason` prints it (`booted`).
    pub fn reason_human(&self) -> &'static str {
        self.reason_lookup().1
    }

    fn reason_lookup(&self) -> (&'static str, &'static str) {
        fn pair<T: Copy>(
            v: Option<T>,
            n: fn(T) -> &'static str,
            h: fn(T) -> &'static str,
        ) -> (&'static str, &'static str) {
            v.map(|v| (n(v), h(v))).unwrap_or(("UNKNOWN", "unknown"))
        }
        let r = self.reason;
        match self.state {
            DomainState::NoState => pair(NoStateReason::from_number(r), NoStateReason::name, NoStateReason::human),
            DomainState::Running => pair(RunningReason::from_number(r), RunningReason::name, RunningReason::human),
            DomainState::Blocked => pair(BlockedReason::from_number(r), BlockedReason::name, BlockedReason::human),
            DomainState::Paused => pair(PausedReason::from_number(r), PausedReason::name, PausedReason::human),
            DomainState::Shutdown => pair(
                ShutdownReason::from_number(r),
                ShutdownReason::name,
                ShutdownReason::human,
            ),
            DomainState::Shutoff => pair(ShutoffReason::from_number(r), ShutoffReason::name, ShutoffReason::human),
            DomainState::Crashed => pair(CrashedReason::from_number(r), CrashedReason::name, CrashedReason::human),
            DomainState::PmSuspended => pair(
                PmSuspendedReason::from_number(r),
                PmSuspendedReason::name,
                PmSuspendedReason::human,
            ),
        }
    }
}

libvirt_enum! {
    /// `virDomainEventType`.
    DomainEventType {
        Defined = 0, "DEFINED", "Defined";
        Undefined = 1, "UNDEFINED", "Undefined";
        Started = 2, "STARTED", "Started";
        Suspended = 3, "SUSPENDED", "Suspended";
        Resumed = 4, "RESUMED", "Resumed";
        Stopped = 5, "STOPPED", "Stopped";
        Shutdown = 6, "SHUTDOWN", "Shutdown";
        PmSuspended = 7, "PMSUSPENDED", "PMSuspended";
        Crashed = 8, "CRASHED", "Crashed";
    }
}

libvirt_enum! {
    /// `virDomainEventDefinedDetailType`.
    DefinedDetail {
        Added = 0, "ADDED", "Added";
        Updated = 1, "UPDATED", "Updated";
        Renamed = 2, "RENAMED", "Renamed";
        FromSnapshot = 3, "FROM_SNAPSHOT", "Snapshot";
    }
}

libvirt_enum! {
    /// `virDomainEventUndefinedDetailType`.
    UndefinedDetail {
        Removed = 0, "REMOVED", "Removed";
        Renamed = 1, "RENAMED", "Renamed";
    }
}

libvirt_enum! {
    /// `virDomainEventStartedDetailType`.
    StartedDetail {
        Booted = 0, "BOOTED", "Booted";
        Migrated = 1, "MIGRATED", "Migrated";
        Restored = 2, "RESTORED", "Restored";
        FromSnapshot = 3, "FROM_SNAPSHOT", "Snapshot";
        Wakeup = 4, "WAKEUP", "Event wakeup";
    }
}

libvirt_enum! {
    /// `virDomainEventSuspendedDetailType`.
    SuspendedDetail {
        Paused = 0, "PAUSED", "Paused";
        Migrated = 1, "MIGRATED", "Migrated";
        IoError = 2, "IOERROR", "I/O Error";
        Watchdog = 3, "WATCHDOG", "Watchdog";
        Restored = 4, "RESTORED", "Restored";
        FromSnapshot = 5, "FROM_SNAPSHOT", "Snapshot";
        ApiError = 6, "API_ERROR", "API error";
        Postcopy = 7, "POSTCOPY", "Post-copy";
        PostcopyFailed = 8, "POSTCOPY_FAILED", "Post-copy Error";
    }
}

libvirt_enum! {
    /// `virDomainEventResumedDetailType`.
    ResumedDetail {
        Unpaused = 0, "UNPAUSED", "Unpaused";
        Migrated = 1, "MIGRATED", "Migrated";
        FromSnapshot = 2, "FROM_SNAPSHOT", "Snapshot";
        Postcopy = 3, "POSTCOPY", "Post-copy";
        PostcopyFailed = 4, "POSTCOPY_FAILED", "Post-copy Error";
    }
}

libvirt_enum! {
    /// `virDomainEventStoppedDetailType`.
    StoppedDetail {
        Shutdown = 0, "SHUTDOWN", "Shutdown";
        Destroyed = 1, "DESTROYED", "Destroyed";
        Crashed = 2, "CRASHED", "Crashed";
        Migrated = 3, "MIGRATED", "Migrated";
        Saved = 4, "SAVED", "Saved";
        Failed = 5, "FAILED", "Failed";
        FromSnapshot = 6, "FROM_SNAPSHOT", "Snapshot";
    }
}

libvirt_enum! {
    /// `virDomainEventShutdownDetailType`.
    ShutdownDetail {
        Finished = 0, "FINISHED", "Finished";
        Guest = 1, "GUEST", "Finished after guest request";
        Host = 2, "HOST", "Finished after host request";
    }
}

libvirt_enum! {
    /// `virDomainEventPMSuspendedDetailType`.
    PmSuspendedDetail {
        Memory = 0, "MEMORY", "Memory";
        Disk = 1, "DISK", "Disk";
    }
}

libvirt_enum! {
    /// `virDomainEventCrashedDetailType`.
    CrashedDetail {
        Panicked = 0, "PANICKED", "Panicked";
        Crashloaded = 1, "CRASHLOADED", "Crashloaded";
    }
}

/// A domain lifecycle event as libvirt reports it: type and detail number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DomainLifecycle {
    pub event: DomainEventType,
    pub detail: i32,
}

impl DomainLifecycle {
    pub fn defined(d: DefinedDetail) -> Self {
        Self {
            event: DomainEventType::Defined,
            detail: d.number(),
        }
    }
    pub fn undefined(d: UndefinedDetail) -> Self {
        Self {
            event: DomainEventType::Undefined,
            detail: d.number(),
        }
    }
    pub fn started(d: StartedDetail) -> Self {
        Self {
            event: DomainEventType::Started,
            detail: d.number(),
        }
    }
    pub fn suspended(d: SuspendedDetail) -> Self {
        Self {
            event: DomainEventType::Suspended,
            detail: d.number(),
        }
    }
    pub fn resumed(d: ResumedDetail) -> Self {
        Self {
            event: DomainEventType::Resumed,
            detail: d.number(),
        }
    }
    pub fn stopped(d: StoppedDetail) -> Self {
        Self {
            event: DomainEventType::Stopped,
            detail: d.number(),
        }
    }
    pub fn shutdown(d: ShutdownDetail) -> Self {
        Self {
            event: DomainEventType::Shutdown,
            detail: d.number(),
        }
    }
    pub fn crashed(d: CrashedDetail) -> Self {
        Self {
            event: DomainEventType::Crashed,
            detail: d.number(),
        }
    }

    /// The detail's machine name for this event type (`BOOTED`).
    pub fn detail_name(&self) -> &'static str {
        let d = self.detail;
        let name = match self.event {
            DomainEventType::Defined => DefinedDetail::from_number(d).map(DefinedDetail::name),
            DomainEventType::Undefined => UndefinedDetail::from_number(d).map(UndefinedDetail::name),
            DomainEventType::Started => StartedDetail::from_number(d).map(StartedDetail::name),
            DomainEventType::Suspended => SuspendedDetail::from_number(d).map(SuspendedDetail::name),
            DomainEventType::Resumed => ResumedDetail::from_number(d).map(ResumedDetail::name),
            DomainEventType::Stopped => StoppedDetail::from_number(d).map(StoppedDetail::name),
            DomainEventType::Shutdown => ShutdownDetail::from_number(d).map(ShutdownDetail::name),
            DomainEventType::PmSuspended => PmSuspendedDetail::from_number(d).map(PmSuspendedDetail::name),
            DomainEventType::Crashed => CrashedDetail::from_number(d).map(CrashedDetail::name),
        };
        name.unwrap_or("UNKNOWN")
    }
}

libvirt_enum! {
    /// `virStoragePoolEventLifecycleType`.
    PoolEventType {
        Defined = 0, "DEFINED", "Defined";
        Undefined = 1, "UNDEFINED", "Undefined";
        Started = 2, "STARTED", "Started";
        Stopped = 3, "STOPPED", "Stopped";
        Created = 4, "CREATED", "Created";
        Deleted = 5, "DELETED", "Deleted";
    }
}

libvirt_enum! {
    /// `virNetworkEventLifecycleType`.
    NetworkEventType {
        Defined = 0, "DEFINED", "Defined";
        Undefined = 1, "UNDEFINED", "Undefined";
        Started = 2, "STARTED", "Started";
        Stopped = 3, "STOPPED", "Stopped";
    }
}

libvirt_enum! {
    /// `virStoragePoolState`.
    PoolState {
        Inactive = 0, "INACTIVE", "inactive";
        Building = 1, "BUILDING", "building";
        Running = 2, "RUNNING", "running";
        Degraded = 3, "DEGRADED", "degraded";
        Inaccessible = 4, "INACCESSIBLE", "inaccessible";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirt_numbers() {
        assert_eq!(DomainState::Shutoff.number(), 5);
        assert_eq!(DomainState::PmSuspended.number(), 7);
        assert_eq!(ShutoffReason::Destroyed.number(), 2);
        assert_eq!(PausedReason::User.number(), 1);
        assert_eq!(StoppedDetail::Failed.number(), 5);
        assert_eq!(ResumedDetail::Unpaused.number(), 0);
        assert_eq!(DomainEventType::Crashed.number(), 8);
        assert_eq!(PoolEventType::Deleted.number(), 5);
        assert_eq!(NetworkEventType::Stopped.number(), 3);
    }

    #[test]
    fn every_enum_is_dense_and_round_trips() {
        for (i, s) in DomainState::ALL.iter().enumerate() {
            assert_eq!(s.number(), i as i32);
            assert_eq!(DomainState::from_name(s.name()), Some(*s));
        }
        for (i, r) in PausedReason::ALL.iter().enumerate() {
            assert_eq!(r.number(), i as i32);
        }
        for (i, d) in SuspendedDetail::ALL.iter().enumerate() {
            assert_eq!(d.number(), i as i32);
        }
    }

    #[test]
    fn reasons_and_details_by_state() {
        let s = StateWithReason::shutoff(ShutoffReason::Destroyed);
        assert_eq!(s.reason_human(), "destroyed");
        assert_eq!(StateWithReason::new(DomainState::Running, 99).reason_name(), "UNKNOWN");
        let e = DomainLifecycle::stopped(StoppedDetail::Failed);
        assert_eq!(e.detail_name(), "FAILED");
        assert!(DomainState::Paused.is_active());
        assert!(!DomainState::Shutoff.is_active());
    }

    #[test]
    fn json_uses_names() {
        let s = StateWithReason::running(RunningReason::Booted);
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"state":"RUNNING","reason":1}"#);
    }
}
