//! virtbus-cim: a CIM-XML/WBEM server (DSP0200/DSP0201) serving
//! libvirt-cim's KVM_* model from the core, so CIM clients (pywbem,
//! pywbemcli, sblim wbemcli) manage guests without a separate CIMOM.
//!
//! Layout: [`server`] (HTTP, headers, auth, limits) → [`xml`] (bounded
//! parsing, request decoding, response writing) → [`ops`] (the operations,
//! one file per family) → [`model`] (instances from the core snapshot) and
//! [`schema`] (class definitions). [`error`] holds the CIM status codes and
//! the libvirt → CIM mapping table; [`embedded`] the embedded instances of
//! method parameters; [`indication`] the subscriptions clients create and
//! the delivery of indications from bus events to their listeners.
//!
//! Invariants: reads come from one `Snapshot` per request; commands go
//! through `Core`; no request can make the server allocate beyond the body
//! limit and element count, and bad input never stops the listener.

pub mod auth;
pub mod embedded;
pub mod error;
pub mod indication;
pub mod model;
pub mod ops;
pub mod schema;
pub mod server;
pub mod value;
pub mod xml;

pub use auth::User;
pub use indication::export::ListenerTls;
pub use ops::Engine;
pub use server::{start, tls_acceptor, CimServer, ServerConfig, StartError, TlsFiles};
