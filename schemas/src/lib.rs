//! virtbus-schemas: the vocabulary every other crate speaks.
//!
//! - [`error`]: [`VirtError`], the one core error, carrying libvirt's error code.
//! - [`lifecycle`]: libvirt's domain states and reasons, lifecycle events and
//!   details, pool and network events, as enums with libvirt's numbers.
//! - [`xml`]: a small XML element tree (on quick-xml) that keeps every element,
//!   attribute, comment and line number, so unknown XML survives a round trip.
//! - [`units`]: libvirt's scaled integers (`unit='GiB'`, `unit='KB'`, ...).
//! - [`domain`], [`pool`], [`volume`], [`network`]: typed models of libvirt's
//!   domain, storage pool, storage volume and network XML.
//! - [`node`]: the libvirt test driver's `<node>` file.
//!
//! This crate does no I/O except reading node-file includes, and knows nothing
//! of drivers, actors or protocols.

pub mod domain;
pub mod error;
mod fields;
pub mod lifecycle;
pub mod network;
pub mod node;
pub mod pool;
pub mod units;
pub mod volume;
pub mod xml;

pub use domain::DomainDef;
pub use error::{ErrorCode, VirtError, VirtResult};
pub use network::NetworkDef;
pub use node::{NodeFile, NodeInfo, TestDomain, TestPool};
pub use pool::PoolDef;
pub use volume::VolumeDef;
