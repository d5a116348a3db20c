//! The libvirt proxy driver: `libvirt+URI` (e.g. `libvirt+qemu:///system`,
//! `libvirt+test:///default`) puts virtbus in front of a host libvirt already
//! runs. Every driver call is a libvirt call through the `virt` crate; every
//! lifecycle event comes from libvirt's own callbacks.
//!
//! Layout:
//! - `conn.rs`: one open connection ([`conn::Session`]) and libvirt errors
//!   mapped to ours, code by number.
//! - `ffi.rs`: the only unsafe code (event loop, callbacks, bulk stats).
//! - `events.rs`: each libvirt event goes either into the `Outcome` of the
//!   call that caused it or out as a `DriverNotice`, never both.
//! - `reconnect.rs`: the link to libvirt (keepalive, loss detection,
//!   reconnect with backoff, resynchronisation that emits missed events).
//! - `domains.rs`, `storage.rs`, `networks.rs`, `node.rs`: one driver trait
//!   each; `stats.rs`: `virConnectGetAllDomainStats` records to `DomainStats`.
//!
//! See docs/libvirt.md for the event design and what is left.

mod conn;
mod domains;
mod events;
mod ffi;
mod networks;
mod node;
mod reconnect;
mod stats;
mod storage;

use crate::model::DriverNotice;
use events::EventHub;
use reconnect::Link;
use std::sync::Arc;
use virtbus_schemas::VirtResult;

/// A driver proxying to one libvirt connection URI.
pub struct LibvirtDriver {
    link: Arc<Link>,
    hub: Arc<EventHub>,
    stats: stats::StatsCache,
    /// `virConnectGetType` at open (`QEMU`, `TEST`), kept for the process's
    /// life because the trait hands out `&'static str`.
    hv_type: &'static str,
}

impl LibvirtDriver {
    /// Opens `uri` (without the `libvirt+` prefix). The first connection must
    /// succeed; later losses are handled by reconnecting.
    pub fn open(uri: &str) -> VirtResult<(LibvirtDriver, crossbeam_channel::Receiver<DriverNotice>)> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let in_process = uri.starts_with("test:");
        let hub = EventHub::new(tx, in_process);
        let link = Link::open(uri, hub.clone())?;
        let session = link.session()?;
        let hv_type = session.conn().get_type().map_err(conn::virt_error)?;
        let hv_type: &'static str = match hv_type.as_str() {
            "TEST" => "TEST",
            "QEMU" => "QEMU",
            other => Box::leak(other.to_string().into_boxed_str()),
        };
        Ok((
            LibvirtDriver {
                link,
                hub,
                stats: stats::StatsCache::default(),
                hv_type,
            },
            rx,
        ))
    }

    /// The URI libvirt was opened with (without `libvirt+`).
    pub fn uri(&self) -> &str {
        self.link.uri()
    }

    /// Whether the connection to libvirt is up right now.
    pub fn is_connected(&self) -> bool {
        self.link.session().is_ok()
    }
}

impl crate::link::LinkStatus for LibvirtDriver {
    fn link_state(&self) -> crate::link::LinkState {
        self.link.state()
    }
}

use crate::model::Outcome;
use conn::{virt_error, Session};
use events::{Expect, Key};

impl LibvirtDriver {
    /// The live session, or NO_CONNECT while libvirt is away.
    fn session(&self) -> VirtResult<Arc<Session>> {
        self.link.session()
    }

    /// Runs a mutating call on one object: `act` is the libvirt call, `fetch`
    /// reloads the object (`None`: it is gone). The events libvirt emits for
    /// the call are collected into the outcome ([`events`]), up to the one
    /// `expect` names (what the operation always ends with), and at least one
    /// when the object vanished, since nothing else could report its end.
    fn mutate<R>(
        &self,
        key: Key,
        expect: Expect,
        act: impl FnOnce(&Session) -> VirtResult<()>,
        fetch: impl FnOnce(&Session) -> VirtResult<Option<R>>,
    ) -> VirtResult<Outcome<R>> {
        let session = self.session()?;
        let capture = self.hub.capture(key);
        if let Err(err) = act(&session) {
            self.link.suspect(&err);
            return Err(err);
        }
        let record = fetch(&session)?;
        let expect = if record.is_none() { expect.or_one() } else { expect };
        let events = capture.finish(expect);
        if record.is_none() {
            self.link.forget(key);
        }
        Ok(Outcome::new(record, events))
    }
}

/// A libvirt call's error as ours, telling the link when it looks like the
/// connection died.
fn lv<T>(link: &Link, result: Result<T, virt::error::Error>) -> VirtResult<T> {
    result.map_err(|e| {
        let err = virt_error(e);
        link.suspect(&err);
        err
    })
}
