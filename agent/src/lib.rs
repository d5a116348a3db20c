//! The `virtbus` binary's library: everything `main.rs` wires together.
//!
//! - [`adapters`]: each protocol adapter's flags, settings and start-up.
//! - [`cli`]: flags and subcommands (clap).
//! - [`config`]: the TOML file and the effective [`config::Settings`].
//! - [`serve`]: `virtbus serve` — core, control socket, signals.
//! - [`ctl`]: the control socket protocol, its server and the `virtbus ctl`
//!   client with virsh-compatible output.
//! - [`console`]: `virtbus console` — a QMF console over the AMQP broker.
//! - [`logging`]: tracing setup (`RUST_LOG`, `--log-format`).

pub mod adapters;
pub mod cli;
pub mod config;
pub mod console;
pub mod ctl;
pub mod logging;
pub mod serve;
