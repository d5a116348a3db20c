//! SNMPv2-MIB `snmp` group (RFC 3418 §2): `snmpInBadCommunityNames`, the
//! count of v1/v2c messages whose community no one is configured with.
//!
//! async-snmp 0.18.1 drops such messages without counting them, and offers
//! no hook into its receive path. It does emit one DEBUG event for each
//! (target `async_snmp::agent`, in its `agent/request.rs`, message "invalid
//! community string"). [`bad_community_layer`] is a `tracing` layer that
//! counts exactly those events; the binary installs it beside its log
//! output. Its per-layer filter enables only that one call site, so the
//! other DEBUG events of the crate stay disabled (no cost per request), and
//! it decides per call site once, not per event. Without the layer (a
//! library user that does not install it) the counter stays 0.
//!
//! The counter is one per process, like the SNMP entity it describes: every
//! listen socket's agent adds to it.

use crate::oids::oid_with;
use async_snmp::handler::{BoxFuture, GetNextResult, GetResult, HandlerResult, MibHandler, RequestContext};
use async_snmp::{Oid, Value, VarBind};
use std::sync::atomic::{AtomicU32, Ordering};
use tracing::field::{Field, Visit};
use tracing::metadata::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter, Layer};

/// SNMPv2-MIB `snmp` (`mib-2.11`).
pub const SNMP_GROUP: &[u32] = &[1, 3, 6, 1, 2, 1, 11];
/// `snmpInBadCommunityNames` (`snmp.4`), a Counter32 scalar.
const IN_BAD_COMMUNITY_NAMES: u32 = 4;

static BAD_COMMUNITY_NAMES: AtomicU32 = AtomicU32::new(0);

/// snmpInBadCommunityNames so far (wraps like a Counter32).
pub fn bad_community_names() -> u32 {
    BAD_COMMUNITY_NAMES.load(Ordering::Relaxed)
}

/// The text of async-snmp's event for a message with an unknown community.
const INVALID_COMMUNITY: &str = "invalid community string";

/// Whether `meta` is async-snmp's "invalid community string" call site.
fn is_bad_community_site(meta: &Metadata<'_>) -> bool {
    meta.is_event()
        && *meta.level() == Level::DEBUG
        && meta.target() == "async_snmp::agent"
        && meta.file().is_some_and(|f| f.ends_with("agent/request.rs"))
}

/// Enables the counting layer for that one call site only.
struct BadCommunitySite;

impl<S> Filter<S> for BadCommunitySite {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        is_bad_community_site(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_bad_community_site(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }
}

/// Counts the events whose message is [`INVALID_COMMUNITY`] (the call site
/// has other events only if async-snmp adds some there; they are ignored).
struct BadCommunityCounter;

struct MessageIs(bool);

impl Visit for MessageIs {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value == INVALID_COMMUNITY;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}") == INVALID_COMMUNITY;
        }
    }
}

impl<S: Subscriber> Layer<S> for BadCommunityCounter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut visitor = MessageIs(false);
        event.record(&mut visitor);
        if visitor.0 {
            BAD_COMMUNITY_NAMES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The layer that feeds snmpInBadCommunityNames; add it to the process's
/// `tracing` subscriber (it prints nothing).
pub fn bad_community_layer<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    BadCommunityCounter.with_filter(BadCommunitySite)
}

/// The MIB handler registered at `snmp` (`1.3.6.1.2.1.11`); serves
/// snmpInBadCommunityNames.0 only (the other counters of the group are not
/// kept).
pub struct SnmpGroup;

impl MibHandler for SnmpGroup {
    fn get<'a>(&'a self, _ctx: &'a RequestContext, oid: &'a Oid) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(async move {
            Ok(match oid.arcs().strip_prefix(SNMP_GROUP) {
                Some([IN_BAD_COMMUNITY_NAMES, 0]) => GetResult::Value(Value::Counter32(bad_community_names())),
                Some([IN_BAD_COMMUNITY_NAMES, ..]) => GetResult::NoSuchInstance,
                _ => GetResult::NoSuchObject,
            })
        })
    }

    fn get_next<'a>(&'a self, _ctx: &'a RequestContext, oid: &'a Oid) -> BoxFuture<'a, HandlerResult<GetNextResult>> {
        Box::pin(async move {
            let instance = oid_with(SNMP_GROUP, &[IN_BAD_COMMUNITY_NAMES, 0]);
            Ok(if oid < &instance {
                GetNextResult::Value(VarBind::new(instance, Value::Counter32(bad_community_names())))
            } else {
                GetNextResult::EndOfMibView
            })
        })
    }
}
