//! Command-line interface: `virtbus serve` and `virtbus ctl`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "virtbus",
    version,
    about = "Management agent for virtualization hosts: libvirt-compatible drivers behind SNMP, AMQP (QMF) and CIM",
    long_about = "virtbus runs one agent per host (`virtbus serve`) and controls it from the shell (`virtbus ctl`).\n\
                  Without options, `virtbus serve` uses the built-in test driver (test:///default) and keeps its\n\
                  state in $VIRTBUS_STATE_DIR, /var/lib/virtbus (root) or $XDG_STATE_HOME/virtbus."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Control a running agent over its unix socket (virsh-like commands).
    Ctl(CtlArgs),
    /// A QMF console over the AMQP broker: locate agents, list domains, call
    /// methods, tail events (docs/amqp.md).
    Console(ConsoleArgs),
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// AMQP broker URL (amqp://user:pass@host:port/vhost or amqps://...).
    #[arg(
        long = "amqp-url",
        value_name = "URL",
        env = "VIRTBUS_AMQP_URL",
        hide_env_values = true
    )]
    pub url: String,
    /// PEM file of CA certificates trusted for amqps:// besides the system roots.
    #[arg(long, value_name = "FILE")]
    pub tls_ca_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ConsoleCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ConsoleCommand {
    /// Agents that answer an agent-locate within two seconds.
    Locate,
    /// An agent's domains: name, state, QMF object name.
    List {
        /// Agent name (virtbus:agent:INSTANCE, as `locate` prints it).
        agent: String,
    },
    /// Call a QMF method and print its out arguments as JSON.
    Call {
        /// Agent name.
        agent: String,
        /// Object name: node, domain/UUID, pool/UUID, volume/POOL-UUID/NAME, network/UUID.
        object: String,
        /// Method name, e.g. getXMLDesc, suspend, domainDefineXML.
        method: String,
        /// In arguments as a JSON object, e.g. '{"xmlDesc":"<domain ...>"}'.
        arguments: Option<String>,
    },
    /// Print events as JSON lines until interrupted (or COUNT events).
    Tail {
        /// Topic pattern [default: every virtbus event].
        #[arg(default_value = "agent.ind.event.#")]
        pattern: String,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML configuration file; flags override its keys (see examples/virtbus.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Driver URI: test:///default or test:///ABSOLUTE/PATH.xml [default: test:///default].
    #[arg(long, value_name = "URI")]
    pub connect: Option<String>,
    /// State directory: persistent definitions, the control socket, runtime files.
    #[arg(long, value_name = "DIR", env = "VIRTBUS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log format on stderr; the level comes from RUST_LOG [default: text].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Actor threads; the protocol adapters get the other cores [default: half the cores, at least 1].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub snmp: crate::adapters::snmp::Flags,
    #[command(flatten)]
    pub cim: crate::adapters::cim::Flags,
    #[command(flatten)]
    pub amqp: crate::adapters::amqp::Flags,
}

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// State directory of the agent to talk to (its socket is DIR/virtbus.sock).
    #[arg(long, value_name = "DIR", env = "VIRTBUS_STATE_DIR", conflicts_with = "socket")]
    pub state_dir: Option<PathBuf>,
    /// Control socket path, instead of --state-dir.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Quiet: no success messages and no trailing blank line (like virsh -q).
    #[arg(short, long)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// virsh's command names and arguments.
#[derive(Debug, Clone, Subcommand)]
pub enum CtlCommand {
    /// List domains (active ones; --all for every domain).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Domain information.
    Dominfo { domain: String },
    /// Domain state.
    Domstate {
        domain: String,
        /// Also print the reason.
        #[arg(long)]
        reason: bool,
    },
    /// Domain XML.
    Dumpxml {
        domain: String,
        /// The persistent definition rather than the running one.
        #[arg(long)]
        inactive: bool,
    },
    /// Define (without starting) a domain from an XML file.
    Define { file: PathBuf },
    /// Undefine a domain (a running one becomes transient).
    Undefine { domain: String },
    /// Start a defined, inactive domain.
    Start { domain: String },
    /// Create (define and start) a transient domain from an XML file.
    Create { file: PathBuf },
    /// Gracefully shut a domain down.
    Shutdown { domain: String },
    /// Stop a domain at once.
    Destroy { domain: String },
    /// Pause a domain.
    Suspend { domain: String },
    /// Resume a paused domain.
    Resume { domain: String },
    /// Reboot a domain.
    Reboot { domain: String },
    /// Reset a domain at once, like a reset button.
    Reset { domain: String },
    /// Change the current memory of a running domain (default unit KiB; e.g. 512M).
    Setmem { domain: String, size: String },
    /// Change the maximum memory of an inactive domain (default unit KiB).
    Setmaxmem { domain: String, size: String },
    /// Change the number of active vcpus of a running domain.
    Setvcpus { domain: String, count: u32 },
    /// Start a domain whenever the agent starts (--disable to stop doing so).
    Autostart {
        domain: String,
        #[arg(long)]
        disable: bool,
    },
    /// Domain statistics (all domains when none is named).
    Domstats { domains: Vec<String> },
    /// List storage pools (active ones; --all for every pool).
    PoolList {
        #[arg(long)]
        all: bool,
    },
    /// Storage pool information.
    PoolInfo { pool: String },
    /// Define a storage pool from an XML file.
    PoolDefine { file: PathBuf },
    /// Create and start a transient storage pool from an XML file.
    PoolCreate { file: PathBuf },
    /// Storage pool XML.
    PoolDumpxml { pool: String },
    /// Start an inactive storage pool.
    PoolStart { pool: String },
    /// Build an inactive storage pool.
    PoolBuild { pool: String },
    /// Stop a storage pool.
    PoolDestroy { pool: String },
    /// Delete an inactive storage pool's resources.
    PoolDelete { pool: String },
    /// Refresh a storage pool's volumes.
    PoolRefresh { pool: String },
    /// Start a pool whenever the agent starts (--disable to stop doing so).
    PoolAutostart {
        pool: String,
        #[arg(long)]
        disable: bool,
    },
    /// Undefine an inactive storage pool.
    PoolUndefine { pool: String },
    /// List a pool's volumes.
    VolList { pool: String },
    /// Create a volume from a name and a size (default unit bytes; e.g. 10G).
    VolCreateAs {
        pool: String,
        name: String,
        capacity: String,
        /// Initial allocation (default unit bytes).
        #[arg(long)]
        allocation: Option<String>,
        /// Volume format (raw, qcow2, ...).
        #[arg(long)]
        format: Option<String>,
    },
    /// Volume XML (by name with --pool, else by path or key).
    VolDumpxml {
        vol: String,
        #[arg(long)]
        pool: Option<String>,
    },
    /// Delete a volume (by name with --pool, else by path or key).
    VolDelete {
        vol: String,
        #[arg(long)]
        pool: Option<String>,
    },
    /// Grow a volume to a new capacity (default unit bytes; e.g. 2G); by name
    /// with --pool, else by path or key. Shrinking is refused.
    VolResize {
        vol: String,
        capacity: String,
        #[arg(long)]
        pool: Option<String>,
    },
    /// List networks (active ones; --all for every network).
    NetList {
        #[arg(long)]
        all: bool,
    },
    /// Network information.
    NetInfo { network: String },
    /// Define a network from an XML file.
    NetDefine { file: PathBuf },
    /// Create and start a transient network from an XML file.
    NetCreate { file: PathBuf },
    /// Network XML.
    NetDumpxml { network: String },
    /// Start an inactive network.
    NetStart { network: String },
    /// Stop a network.
    NetDestroy { network: String },
    /// Start a network whenever the agent starts (--disable to stop doing so).
    NetAutostart {
        network: String,
        #[arg(long)]
        disable: bool,
    },
    /// Undefine an inactive network.
    NetUndefine { network: String },
    /// Host information.
    Nodeinfo,
    /// The agent's driver connection: URI and, for `libvirt+` URIs, whether
    /// libvirtd is reachable (if not: since when, why, reconnect attempts).
    Status,
    /// Stream every event as a JSON line until interrupted.
    Events,
    /// Test hook: make a domain's actor panic (needs VIRTBUS_TEST_HOOKS=1 on the agent).
    #[command(hide = true)]
    DebugPanic { domain: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_reach_their_adapter() {
        let cli = Cli::try_parse_from(["virtbus", "serve", "--snmp-listen", "off", "--cim-listen", "off"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!(args.snmp.listen.as_deref(), Some("off"));
        assert_eq!(args.cim.listen.as_deref(), Some("off"));
    }
}
