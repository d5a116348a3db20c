//! The proxy's only direct calls into libvirt's C API (`virt::sys`), for what
//! the `virt` crate has no sound safe wrapper for: libvirt's default event
//! loop and its thread, lifecycle callbacks for domains, pools and networks,
//! the connection close callback, one-shot timers on the event loop (the flush
//! marker of `events.rs`), and the bulk stats records of
//! `virConnectGetAllDomainStats`, which the crate hands out without freeing.
//!
//! Everything here turns C data into owned Rust values at once (UUID bytes,
//! typed parameters, event numbers); nothing borrowed from libvirt escapes a
//! function. Callbacks get their Rust closure through libvirt's `opaque`
//! pointer: a `Box<Arc<..>>` turned into a raw pointer at registration, and
//! dropped by libvirt's `freecb` once libvirt no longer calls the callback.

// The workspace denies unsafe code; this module is the one place the libvirt
// proxy needs it (FFI), and every block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::raw::{c_int, c_void};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

/// A lifecycle event as libvirt delivered it: the object's UUID and libvirt's
/// event and detail numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawEvent {
    Domain { uuid: Uuid, event: i32, detail: i32 },
    Pool { uuid: Uuid, event: i32 },
    Network { uuid: Uuid, event: i32 },
}

/// Where callbacks deliver events; runs on the event loop thread.
pub(crate) type EventSink = dyn Fn(RawEvent) + Send + Sync;
/// Told the reason (`virConnectCloseReason`) when libvirt closes a connection.
pub(crate) type CloseSink = dyn Fn(i32) + Send + Sync;

/// A callback registration, to be undone before the connection closes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CallbackId {
    Domain(c_int),
    Pool(c_int),
    Network(c_int),
}

static EVENT_LOOP: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers libvirt's default event loop implementation and runs it on its
/// own thread, once per process. libvirt requires the registration before the
/// first connection is opened, so every open goes through here first.
pub(crate) fn ensure_event_loop() -> Result<(), String> {
    EVENT_LOOP
        .get_or_init(|| {
            // libvirt prints every error to stderr unless a handler is set;
            // errors reach our callers as values instead.
            virt::error::clear_error_callback();
            virt::event::event_register_default_impl()
                .map_err(|e| format!("cannot register libvirt's event loop: {}", e.message()))?;
            std::thread::Builder::new()
                .name("virtbus-libvirt-events".into())
                .spawn(|| loop {
                    if let Err(err) = virt::event::event_run_default_impl() {
                        tracing::error!(error = %err.message(), "libvirt event loop iteration failed");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                })
                .map(|_| ())
                .map_err(|e| format!("cannot start the libvirt event thread: {e}"))
        })
        .clone()
}

fn uuid_of(bytes: &[u8; 16]) -> Uuid {
    Uuid::from_bytes(*bytes)
}

unsafe extern "C" fn domain_lifecycle(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    event: c_int,
    detail: c_int,
    opaque: *mut c_void,
) {
    let mut bytes = [0u8; 16];
    // SAFETY: libvirt passes a valid domain for the duration of the callback
    // and virDomainGetUUID writes exactly VIR_UUID_BUFLEN (16) bytes.
    if unsafe { sys::virDomainGetUUID(dom, bytes.as_mut_ptr()) } < 0 {
        return;
    }
    // SAFETY: `opaque` is the `Box<Arc<EventSink>>` made in `register_lifecycle`;
    // libvirt frees it (through `free_sink`) only after the last callback.
    let sink = unsafe { &*(opaque as *const Arc<EventSink>) };
    sink(RawEvent::Domain {
        uuid: uuid_of(&bytes),
        event,
        detail,
    });
}

unsafe extern "C" fn pool_lifecycle(
    _conn: sys::virConnectPtr,
    pool: sys::virStoragePoolPtr,
    event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) {
    let mut bytes = [0u8; 16];
    // SAFETY: as in `domain_lifecycle`, for a storage pool.
    if unsafe { sys::virStoragePoolGetUUID(pool, bytes.as_mut_ptr()) } < 0 {
        return;
    }
    // SAFETY: as in `domain_lifecycle`.
    let sink = unsafe { &*(opaque as *const Arc<EventSink>) };
    sink(RawEvent::Pool {
        uuid: uuid_of(&bytes),
        event,
    });
}

unsafe extern "C" fn network_lifecycle(
    _conn: sys::virConnectPtr,
    net: sys::virNetworkPtr,
    event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) {
    let mut bytes = [0u8; 16];
    // SAFETY: as in `domain_lifecycle`, for a network.
    if unsafe { sys::virNetworkGetUUID(net, bytes.as_mut_ptr()) } < 0 {
        return;
    }
    // SAFETY: as in `domain_lifecycle`.
    let sink = unsafe { &*(opaque as *const Arc<EventSink>) };
    sink(RawEvent::Network {
        uuid: uuid_of(&bytes),
        event,
    });
}

unsafe extern "C" fn free_sink(opaque: *mut c_void) {
    // SAFETY: `opaque` came from `Box::into_raw` in `register_lifecycle`, and
    // libvirt calls the free callback exactly once.
    drop(unsafe { Box::from_raw(opaque as *mut Arc<EventSink>) });
}

fn sink_ptr(sink: &Arc<EventSink>) -> *mut c_void {
    Box::into_raw(Box::new(sink.clone())) as *mut c_void
}

type DomainLifecycleFn = unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, c_int, c_int, *mut c_void);
type PoolLifecycleFn = unsafe extern "C" fn(sys::virConnectPtr, sys::virStoragePoolPtr, c_int, c_int, *mut c_void);
type NetworkLifecycleFn = unsafe extern "C" fn(sys::virConnectPtr, sys::virNetworkPtr, c_int, c_int, *mut c_void);

/// Subscribes `sink` to every domain, pool and network lifecycle event of
/// `conn`. Pools and networks are optional (a hypervisor-only URI has no
/// storage or network driver): their registration failures are logged and
/// skipped; the domain registration must succeed.
pub(crate) fn register_lifecycle(conn: &Connect, sink: &Arc<EventSink>) -> Result<Vec<CallbackId>, virt::error::Error> {
    let mut ids = Vec::new();
    let opaque = sink_ptr(sink);
    // SAFETY: libvirt's generic callback type stands for the event-specific
    // signature chosen by the event id (VIR_DOMAIN_EVENT_CALLBACK in C); for
    // VIR_DOMAIN_EVENT_ID_LIFECYCLE that is `DomainLifecycleFn`, so libvirt
    // calls it with the right arguments. `conn` is open; `opaque` stays valid
    // until libvirt calls `free_sink`.
    let id = unsafe {
        let cb = std::mem::transmute::<
            DomainLifecycleFn,
            unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void),
        >(domain_lifecycle);
        sys::virConnectDomainEventRegisterAny(
            conn.as_ptr(),
            std::ptr::null_mut(),
            sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
            Some(cb),
            opaque,
            Some(free_sink),
        )
    };
    if id < 0 {
        // SAFETY: libvirt did not take ownership of `opaque` on failure.
        unsafe { free_sink(opaque) };
        return Err(virt::error::Error::last_error());
    }
    ids.push(CallbackId::Domain(id));

    let opaque = sink_ptr(sink);
    // SAFETY: as above, with the storage pool lifecycle signature.
    let id = unsafe {
        let cb = std::mem::transmute::<
            PoolLifecycleFn,
            unsafe extern "C" fn(sys::virConnectPtr, sys::virStoragePoolPtr, *mut c_void),
        >(pool_lifecycle);
        sys::virConnectStoragePoolEventRegisterAny(
            conn.as_ptr(),
            std::ptr::null_mut(),
            sys::VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE as c_int,
            Some(cb),
            opaque,
            Some(free_sink),
        )
    };
    if id < 0 {
        // SAFETY: libvirt did not take ownership of `opaque` on failure.
        unsafe { free_sink(opaque) };
        let err = virt::error::Error::last_error();
        tracing::warn!(error = %err.message(), "no storage pool events from this libvirt connection");
    } else {
        ids.push(CallbackId::Pool(id));
    }

    let opaque = sink_ptr(sink);
    // SAFETY: as above, with the network lifecycle signature.
    let id = unsafe {
        let cb = std::mem::transmute::<
            NetworkLifecycleFn,
            unsafe extern "C" fn(sys::virConnectPtr, sys::virNetworkPtr, *mut c_void),
        >(network_lifecycle);
        sys::virConnectNetworkEventRegisterAny(
            conn.as_ptr(),
            std::ptr::null_mut(),
            sys::VIR_NETWORK_EVENT_ID_LIFECYCLE as c_int,
            Some(cb),
            opaque,
            Some(free_sink),
        )
    };
    if id < 0 {
        // SAFETY: libvirt did not take ownership of `opaque` on failure.
        unsafe { free_sink(opaque) };
        let err = virt::error::Error::last_error();
        tracing::warn!(error = %err.message(), "no network events from this libvirt connection");
    } else {
        ids.push(CallbackId::Network(id));
    }
    Ok(ids)
}

/// Undoes [`register_lifecycle`]; errors (a connection already dead) are
/// ignored, libvirt drops the callbacks with the connection anyway.
pub(crate) fn deregister_lifecycle(conn: &Connect, ids: &[CallbackId]) {
    for id in ids {
        // SAFETY: `conn` is open and each id came from the matching register
        // call on this connection.
        unsafe {
            match *id {
                CallbackId::Domain(id) => sys::virConnectDomainEventDeregisterAny(conn.as_ptr(), id),
                CallbackId::Pool(id) => sys::virConnectStoragePoolEventDeregisterAny(conn.as_ptr(), id),
                CallbackId::Network(id) => sys::virConnectNetworkEventDeregisterAny(conn.as_ptr(), id),
            };
        }
    }
}

unsafe extern "C" fn connection_closed(_conn: sys::virConnectPtr, reason: c_int, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `Box<Arc<CloseSink>>` of `register_close`,
    // alive until libvirt calls `free_close_sink`.
    let sink = unsafe { &*(opaque as *const Arc<CloseSink>) };
    sink(reason);
}

unsafe extern "C" fn free_close_sink(opaque: *mut c_void) {
    // SAFETY: `opaque` came from `Box::into_raw` in `register_close`; libvirt
    // calls the free callback exactly once.
    drop(unsafe { Box::from_raw(opaque as *mut Arc<CloseSink>) });
}

/// Calls `sink` when libvirt closes `conn` by itself (EOF, keepalive timeout,
/// error): the reconnect logic's fastest signal of a lost libvirtd.
pub(crate) fn register_close(conn: &Connect, sink: Arc<CloseSink>) -> Result<(), virt::error::Error> {
    let opaque = Box::into_raw(Box::new(sink)) as *mut c_void;
    // SAFETY: `conn` is open; `opaque` stays valid until `free_close_sink`.
    let rc = unsafe {
        sys::virConnectRegisterCloseCallback(conn.as_ptr(), Some(connection_closed), opaque, Some(free_close_sink))
    };
    if rc < 0 {
        // SAFETY: libvirt did not take ownership of `opaque` on failure.
        unsafe { free_close_sink(opaque) };
        return Err(virt::error::Error::last_error());
    }
    Ok(())
}

/// Undoes [`register_close`] before a deliberate close.
pub(crate) fn unregister_close(conn: &Connect) {
    // SAFETY: `conn` is open and the callback pointer is the one registered.
    unsafe {
        sys::virConnectUnregisterCloseCallback(conn.as_ptr(), Some(connection_closed));
    }
}

type Marker = Option<Box<dyn FnOnce() + Send>>;

unsafe extern "C" fn marker_fired(timer: c_int, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `Box<Marker>` of `add_marker`, alive until
    // `free_marker`, and only the event loop thread touches it.
    let marker = unsafe { &mut *(opaque as *mut Marker) };
    if let Some(f) = marker.take() {
        f();
    }
    // SAFETY: `timer` is this timer's id; removing it from inside its own
    // callback is allowed (libvirt frees it after the dispatch).
    unsafe { sys::virEventRemoveTimeout(timer) };
}

unsafe extern "C" fn free_marker(opaque: *mut c_void) {
    // SAFETY: `opaque` came from `Box::into_raw` in `add_marker`; libvirt
    // calls the free callback once.
    drop(unsafe { Box::from_raw(opaque as *mut Marker) });
}

/// Runs `f` once on the event loop thread, from a timer that expires at once.
/// libvirt's default loop dispatches expired timers in the order they were
/// added, so `f` runs after every event queued before this call.
pub(crate) fn add_marker(f: Box<dyn FnOnce() + Send>) -> bool {
    let opaque = Box::into_raw(Box::new(Some(f) as Marker)) as *mut c_void;
    // SAFETY: the default event loop is registered (ensure_event_loop runs
    // before any connection exists); `opaque` lives until `free_marker`.
    let id = unsafe { sys::virEventAddTimeout(0, Some(marker_fired), opaque, Some(free_marker)) };
    if id < 0 {
        // SAFETY: libvirt did not take ownership of `opaque` on failure.
        unsafe { free_marker(opaque) };
        return false;
    }
    true
}

/// One typed parameter of a stats record, owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    UInt(u64),
    Double(f64),
    Bool(bool),
    Str(String),
}

/// One domain's record from the bulk stats API.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatsRecord {
    pub uuid: Uuid,
    pub params: Vec<(String, Param)>,
}

/// `virConnectGetAllDomainStats(conn, stats, .., flags)`: every domain's
/// typed parameters in one call, copied out, then freed with
/// `virDomainStatsRecordListFree`.
pub(crate) fn all_domain_stats(conn: &Connect, stats: u32, flags: u32) -> Result<Vec<StatsRecord>, virt::error::Error> {
    let mut list: *mut sys::virDomainStatsRecordPtr = std::ptr::null_mut();
    // SAFETY: `conn` is open and `list` receives a NULL-terminated array
    // libvirt allocates.
    let n = unsafe { sys::virConnectGetAllDomainStats(conn.as_ptr(), stats, &mut list, flags) };
    if n < 0 {
        return Err(virt::error::Error::last_error());
    }
    // SAFETY: on success `list` holds `n` valid records followed by NULL.
    let records = unsafe { copy_records(list, n) };
    // SAFETY: `list` came from libvirt's stats API and is freed once.
    unsafe { sys::virDomainStatsRecordListFree(list) };
    Ok(records)
}

/// `virDomainListGetStats` for one domain: the same bulk path and fields as
/// [`all_domain_stats`], for when one domain is asked for.
pub(crate) fn domain_stats(dom: &Domain, stats: u32) -> Result<Option<StatsRecord>, virt::error::Error> {
    let mut doms = [dom.as_ptr(), std::ptr::null_mut()];
    let mut list: *mut sys::virDomainStatsRecordPtr = std::ptr::null_mut();
    // SAFETY: `doms` is a NULL-terminated array of one valid domain; libvirt
    // only reads it. `list` receives an array libvirt allocates.
    let n = unsafe { sys::virDomainListGetStats(doms.as_mut_ptr(), stats, &mut list, 0) };
    if n < 0 {
        return Err(virt::error::Error::last_error());
    }
    // SAFETY: on success `list` holds `n` valid records followed by NULL.
    let mut records = unsafe { copy_records(list, n) };
    // SAFETY: `list` came from libvirt's stats API and is freed once.
    unsafe { sys::virDomainStatsRecordListFree(list) };
    Ok(records.pop())
}

/// Copies `n` records out of a libvirt stats list.
///
/// # Safety
/// `list` must point to at least `n` valid `virDomainStatsRecordPtr`s.
unsafe fn copy_records(list: *mut sys::virDomainStatsRecordPtr, n: c_int) -> Vec<StatsRecord> {
    let mut out = Vec::with_capacity(n.max(0) as usize);
    for i in 0..n.max(0) as usize {
        // SAFETY: i < n, per the caller's contract.
        let rec = unsafe { *list.add(i) };
        if rec.is_null() {
            break;
        }
        let mut bytes = [0u8; 16];
        // SAFETY: `rec` is a valid record whose `dom` libvirt keeps alive
        // until the list is freed; the UUID buffer holds 16 bytes.
        if unsafe { sys::virDomainGetUUID((*rec).dom, bytes.as_mut_ptr()) } < 0 {
            continue;
        }
        // SAFETY: `params` holds `nparams` typed parameters.
        let params = unsafe { copy_params((*rec).params, (*rec).nparams) };
        out.push(StatsRecord {
            uuid: uuid_of(&bytes),
            params,
        });
    }
    out
}

/// # Safety
/// `params` must point to `n` valid typed parameters (or be NULL with n = 0).
unsafe fn copy_params(params: sys::virTypedParameterPtr, n: c_int) -> Vec<(String, Param)> {
    let mut out = Vec::with_capacity(n.max(0) as usize);
    if params.is_null() {
        return out;
    }
    for i in 0..n.max(0) as usize {
        // SAFETY: i < n, per the caller's contract.
        let p = unsafe { &*params.add(i) };
        // SAFETY: libvirt NUL-terminates `field` within its 80 bytes.
        let name = unsafe { CStr::from_ptr(p.field.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: `type_` says which union member is set.
        let value = unsafe {
            match p.type_ as u32 {
                sys::VIR_TYPED_PARAM_INT => Param::Int(i64::from(p.value.i)),
                sys::VIR_TYPED_PARAM_UINT => Param::UInt(u64::from(p.value.ui)),
                sys::VIR_TYPED_PARAM_LLONG => Param::Int(p.value.l),
                sys::VIR_TYPED_PARAM_ULLONG => Param::UInt(p.value.ul),
                sys::VIR_TYPED_PARAM_DOUBLE => Param::Double(p.value.d),
                sys::VIR_TYPED_PARAM_BOOLEAN => Param::Bool(p.value.b != 0),
                sys::VIR_TYPED_PARAM_STRING if !p.value.s.is_null() => {
                    Param::Str(CStr::from_ptr(p.value.s).to_string_lossy().into_owned())
                }
                _ => continue,
            }
        };
        out.push((name, value));
    }
    out
}

/// The connection close reasons, for logs.
pub(crate) fn close_reason(reason: i32) -> &'static str {
    match reason as u32 {
        sys::VIR_CONNECT_CLOSE_REASON_ERROR => "error",
        sys::VIR_CONNECT_CLOSE_REASON_EOF => "end of file",
        sys::VIR_CONNECT_CLOSE_REASON_KEEPALIVE => "keepalive timeout",
        sys::VIR_CONNECT_CLOSE_REASON_CLIENT => "closed by client",
        _ => "unknown",
    }
}
