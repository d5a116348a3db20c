//! virtbus-drivers: the layer that touches hypervisors, storage and networks.
//!
//! Modelled on libvirt's driver tables: one trait per kind of object
//! ([`HypervisorDriver`], [`StorageDriver`], [`NetworkDriver`], [`NodeDriver`]),
//! bundled in a [`Connection`] chosen by URI ([`open`]).
//!
//! - [`model`]: the records drivers hand back (definitions plus runtime state)
//!   and [`model::Outcome`], an operation's result with the lifecycle events it
//!   caused, in libvirt's order.
//! - [`traits`]: the driver traits. Calls are synchronous and may block; the
//!   actor layer decides where to run them ([`Connection::blocking`]).
//! - `libvirt` (feature `libvirt`): the `libvirt+URI` proxy to an existing
//!   libvirt, with libvirt's own events (`LibvirtDriver`).
//! - [`link`]: whether a proxying driver is connected to the service it
//!   fronts ([`LinkState`]), so readers can be told the snapshot is stale.
//! - [`qemu`]: the native `qemu:///system` / `qemu:///session` driver (qemu
//!   command line, QMP, reattach, `dir` storage through `qemu-img`).
//! - [`test`]: the `test:///` driver, an in-memory host compatible with
//!   libvirt's test driver (`test:///default` and `test:///PATH.xml` node files).
//!
//! Drivers know nothing of actors, the bus or protocols: they are the truth the
//! actors restart from.

#[cfg(feature = "libvirt")]
pub mod libvirt;
pub mod link;
pub mod model;
mod pool_obj;
pub mod qemu;
pub mod test;
pub mod traits;
mod uri;

pub use link::{LinkDown, LinkState, LinkStatus};
pub use model::{DomainRecord, DomainStats, DriverNotice, NetworkRecord, Outcome, PoolRecord, VolumeRecord};
pub use traits::{HypervisorDriver, NetworkDriver, NodeDriver, StorageDriver};
pub use uri::{open, open_with, Connection, OpenOptions};
