//! The state of a driver's link to the service it fronts (libvirtd, for the
//! libvirt proxy), so the core can tell its readers when what it serves may
//! be out of date. Drivers that own their objects (test, qemu) have no link.

use std::time::SystemTime;

/// Whether the driver currently follows the service it fronts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Connected: the core's snapshot follows the service.
    Up,
    /// Lost: calls fail, the core keeps serving its last snapshot, and the
    /// driver is reconnecting.
    Down(LinkDown),
}

/// Facts about an outage, for logs, `virtbus ctl status` and stale markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkDown {
    /// When the loss was noticed.
    pub since: SystemTime,
    /// Why the link was dropped (libvirt's close reason, or the error that
    /// revealed the loss).
    pub reason: String,
    /// Reconnect attempts made since.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// Implemented by drivers with a link; `Connection::link` holds it.
pub trait LinkStatus: Send + Sync {
    fn link_state(&self) -> LinkState;
}
