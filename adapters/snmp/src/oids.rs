//! The object identifiers the adapter serves, as arc slices.
//!
//! LIBVIRT-MIB values are libvirt-snmp's (`schemas/mibs/LIBVIRT-MIB.txt`
//! documents them); SNMPv2-MIB values are RFC 3418's.

/// `libvirtMIB`: enterprises.36957 (the libvirt project's enterprise number).
pub const LIBVIRT_MIB: &[u32] = &[1, 3, 6, 1, 4, 1, 36957];
/// `libvirtGuestTable` (`libvirtObjects.1`).
pub const GUEST_TABLE: &[u32] = &[1, 3, 6, 1, 4, 1, 36957, 1, 1];
/// `libvirtGuestEntry` (`libvirtObjects.1.1`); columns and the index follow.
pub const GUEST_ENTRY: &[u32] = &[1, 3, 6, 1, 4, 1, 36957, 1, 1, 1];
/// `libvirtGuestNotif` (`libvirtNotifications.1`).
pub const GUEST_NOTIF: &[u32] = &[1, 3, 6, 1, 4, 1, 36957, 0, 1];

/// `virtbusMIB`: our extension module (`schemas/mibs/VIRTBUS-MIB.txt`),
/// enterprises.32473 until virtbus has a Private Enterprise Number of its
/// own (docs/snmp.md says why this number).
pub const VIRTBUS_MIB: &[u32] = &[1, 3, 6, 1, 4, 1, 32473];

/// Columns of `libvirtGuestEntry`.
pub mod column {
    /// accessible-for-notify: never read, only sent in notifications.
    pub const UUID: u32 = 1;
    pub const NAME: u32 = 2;
    pub const STATE: u32 = 3;
    pub const CPU_COUNT: u32 = 4;
    pub const MEMORY_CURRENT: u32 = 5;
    pub const MEMORY_LIMIT: u32 = 6;
    pub const CPU_TIME: u32 = 7;
    pub const ROW_STATUS: u32 = 9;
    /// The readable columns, in OID order (what a walk visits).
    pub const READABLE: &[u32] = &[
        NAME,
        STATE,
        CPU_COUNT,
        MEMORY_CURRENT,
        MEMORY_LIMIT,
        CPU_TIME,
        ROW_STATUS,
    ];
}

/// SNMPv2-MIB `system` group (RFC 3418).
pub const SYSTEM: &[u32] = &[1, 3, 6, 1, 2, 1, 1];

/// RowStatus values (SNMPv2-TC, RFC 2579).
pub mod row_status {
    pub const ACTIVE: i32 = 1;
    pub const NOT_IN_SERVICE: i32 = 2;
    pub const NOT_READY: i32 = 3;
    pub const CREATE_AND_GO: i32 = 4;
    pub const CREATE_AND_WAIT: i32 = 5;
    pub const DESTROY: i32 = 6;
}

/// Builds an OID from a prefix and more arcs.
pub fn oid_with(prefix: &[u32], rest: &[u32]) -> async_snmp::Oid {
    let mut arcs = Vec::with_capacity(prefix.len() + rest.len());
    arcs.extend_from_slice(prefix);
    arcs.extend_from_slice(rest);
    async_snmp::Oid::from_slice(&arcs)
}

/// The instance OID of `column` for the guest with `uuid`: the entry, the
/// column, then the 16 UUID octets as sub-identifiers (a fixed-size index,
/// so no length prefix).
pub fn guest_instance(column: u32, uuid: &uuid::Uuid) -> async_snmp::Oid {
    let mut arcs = Vec::with_capacity(GUEST_ENTRY.len() + 17);
    arcs.extend_from_slice(GUEST_ENTRY);
    arcs.push(column);
    arcs.extend(uuid.as_bytes().iter().map(|b| u32::from(*b)));
    async_snmp::Oid::from_slice(&arcs)
}
