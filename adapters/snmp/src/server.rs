//! [`SnmpServer`]: builds one async-snmp agent per listen address (they share
//! handlers, engine and access rules), the notification task, and stops them.
//!
//! Access (VACM, RFC 3415): the read-only community reads everything; the
//! read-write community, when configured, may also write; each v3 user reads
//! (and with `write`, writes) its view, at authNoPriv or better. Without a
//! write community or write user no SET can pass the access check.

use crate::config::{SnmpConfig, TrapVersion, UsmUserConfig};
use crate::engine_state::{load_engine, EngineStateError};
use crate::ext::ExtMib;
use crate::front::Front;
use crate::guest_table::GuestTable;
use crate::mib::Mib;
use crate::oids::{LIBVIRT_MIB, SYSTEM, VIRTBUS_MIB};
use crate::snmp_group::{SnmpGroup, SNMP_GROUP};
use crate::system_group::SystemGroup;
use async_snmp::agent::{Agent, SecurityModel, VacmBuilder, VacmSecurityModel};
use async_snmp::{Auth, AuthProtocol, NotificationSinkId, Oid, PrivProtocol, Retry, SecurityLevel};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use virtbus_actors::Core;

/// Why the SNMP adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum SnmpError {
    #[error("snmp: no listen address and no agentx master")]
    NoListen,
    #[error("snmp: the read-write community must differ from the read-only one")]
    SameCommunity,
    #[error("snmp: cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
    #[error("snmp: trap sink {sink}: {message}")]
    Sink { sink: SocketAddr, message: String },
    #[error("snmp: informs need SNMPv2c notifications (SNMPv1 has no inform); set trap_version = \"v2c\" or informs = false")]
    InformsNeedV2c,
    #[error("snmp: inform retries: {0}")]
    InformRetries(String),
    #[error("snmp: v3 user '{user}': {message}")]
    User { user: String, message: String },
    #[error("snmp: cannot start the agent thread: {0}")]
    Runtime(String),
    #[error(transparent)]
    Engine(#[from] EngineStateError),
}

/// The largest response we send: the UDP maximum over IPv4, as net-snmp's
/// agent (and so libvirt-snmp) allows. async-snmp's default, 1472 octets,
/// avoids IP fragmentation but cut a GETBULK of the guest table to 28 rows
/// where libvirt-snmp returns the 50 asked for, so a `-Cr50` walk took 1.8
/// times the round trips (`scripts/bench-snmp`). v3 managers still limit it
/// with their `msgMaxSize`.
const MAX_MESSAGE_SIZE: usize = 65_507;

/// The running adapter.
pub struct SnmpServer {
    agents: Vec<Arc<Agent>>,
    /// Where managers reach us (the front doors' sockets, see [`crate::front`]).
    addrs: Vec<SocketAddr>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

fn auth_protocol(name: &str) -> Option<AuthProtocol> {
    Some(match name.to_ascii_uppercase().as_str() {
        "SHA" | "SHA1" | "SHA-1" => AuthProtocol::Sha1,
        "SHA-224" | "SHA224" => AuthProtocol::Sha224,
        "SHA-256" | "SHA256" => AuthProtocol::Sha256,
        "SHA-384" | "SHA384" => AuthProtocol::Sha384,
        "SHA-512" | "SHA512" => AuthProtocol::Sha512,
        _ => return None,
    })
}

fn priv_protocol(name: &str) -> Option<PrivProtocol> {
    Some(match name.to_ascii_uppercase().as_str() {
        "AES" | "AES128" | "AES-128" => PrivProtocol::Aes128,
        "AES192" | "AES-192" => PrivProtocol::Aes192Blumenthal,
        "AES256" | "AES-256" => PrivProtocol::Aes256Blumenthal,
        _ => return None,
    })
}

fn user_view(user: &UsmUserConfig) -> Result<Oid, SnmpError> {
    match &user.view {
        None => Ok(Oid::from_slice(&[1, 3, 6, 1])),
        Some(text) => Oid::parse(text.trim_start_matches('.')).map_err(|e| SnmpError::User {
            user: user.name.clone(),
            message: format!("view '{text}': {e}"),
        }),
    }
}

fn access_rules(config: &SnmpConfig, views: &[(String, Oid)]) -> impl FnOnce(VacmBuilder) -> VacmBuilder {
    let ro = config.community.clone();
    let rw = config.rw_community.clone();
    let trap = config.trap_community.clone();
    let users: Vec<(String, bool)> = config.users.iter().map(|u| (u.name.clone(), u.write)).collect();
    let views = views.to_vec();
    move |mut v: VacmBuilder| {
        let all = Oid::from_slice(&[1, 3, 6, 1]);
        v = v.view("all", |view| view.include(all));
        // An existing but empty view: a SET through it is notInView, which
        // the manager sees as noAccess (RFC 3415 §3.2, RFC 3416 §4.2.5).
        v = v.view("none", |view| view);
        let notify_only = trap != ro && Some(&trap) != rw.as_ref();
        for model in [SecurityModel::V1, SecurityModel::V2c] {
            v = v.group(ro.clone(), model, "ro");
            if let Some(rw) = &rw {
                v = v.group(rw.clone(), model, "rw");
            }
            if notify_only {
                v = v.group(trap.clone(), model, "notify");
            }
        }
        v = v.access("ro", VacmSecurityModel::Any, SecurityLevel::NoAuthNoPriv, |a| {
            a.read_view("all").write_view("none").notify_view("all")
        });
        if rw.is_some() {
            v = v.access("rw", VacmSecurityModel::Any, SecurityLevel::NoAuthNoPriv, |a| {
                a.read_view("all").write_view("all").notify_view("all")
            });
        }
        if notify_only {
            v = v.access("notify", VacmSecurityModel::Any, SecurityLevel::NoAuthNoPriv, |a| {
                a.notify_view("all")
            });
        }
        for ((name, write), (view_name, subtree)) in users.into_iter().zip(views) {
            let group = format!("user-{name}");
            v = v.view(view_name.clone(), |view| view.include(subtree));
            v = v.group(name, SecurityModel::Usm, group.clone());
            v = v.access(group, SecurityModel::Usm, SecurityLevel::AuthNoPriv, |a| {
                let a = a.read_view(view_name.clone());
                if write {
                    a.write_view(view_name)
                } else {
                    a.write_view("none")
                }
            });
        }
        v
    }
}

impl SnmpServer {
    /// Binds every listen address and starts serving and notifying.
    pub async fn start(core: &Core, config: SnmpConfig) -> Result<SnmpServer, SnmpError> {
        if config.listen.is_empty() && config.agentx.is_none() {
            return Err(SnmpError::NoListen);
        }
        if config.rw_community.as_deref() == Some(config.community.as_str()) {
            return Err(SnmpError::SameCommunity);
        }
        if config.informs && config.trap_version == TrapVersion::V1 {
            return Err(SnmpError::InformsNeedV2c);
        }
        // Retransmit as soon as the acknowledgement is late, as net-snmp does.
        let inform_retry = Retry::fixed(config.inform_retries, std::time::Duration::ZERO)
            .map_err(|e| SnmpError::InformRetries(e.to_string()))?;
        // Checked before anything is bound: once the agents run, an error
        // return would leave them serving.
        for sink in &config.trap_sinks {
            if !config.listen.iter().any(|l| l.is_ipv4() == sink.is_ipv4()) {
                return Err(SnmpError::Sink {
                    sink: *sink,
                    message: "no listen address of the same family to send from".into(),
                });
            }
        }
        let engine = load_engine(config.state_dir.as_deref())?;
        let host = core.hostname().unwrap_or_default();
        let system = Arc::new(SystemGroup::new(
            format!(
                "virtbus {} (LIBVIRT-MIB agent) on {}",
                env!("CARGO_PKG_VERSION"),
                core.uri()
            ),
            config.sys_contact.clone(),
            if config.sys_name.is_empty() {
                host
            } else {
                config.sys_name.clone()
            },
            config.sys_location.clone(),
        ));
        let guests = Arc::new(GuestTable::new(core.clone()));
        let ext = Arc::new(ExtMib::new(core.clone()));
        let views: Vec<(String, Oid)> = config
            .users
            .iter()
            .map(|u| Ok((format!("view-{}", u.name), user_view(u)?)))
            .collect::<Result<_, SnmpError>>()?;
        let cancel = CancellationToken::new();
        let handlers = Handlers {
            guests: guests.clone(),
            ext: ext.clone(),
            system: system.clone(),
        };
        let agentx = config.agentx.clone().map(|master| {
            let mib = Arc::new(Mib {
                guests: guests.clone(),
                ext: ext.clone(),
            });
            (core.clone(), mib, master)
        });
        let ((agents, notifying, addrs), serving) = serve_thread(
            config.clone(),
            engine,
            views,
            handlers,
            inform_retry,
            agentx,
            cancel.clone(),
        )
        .await?;
        let mut tasks = vec![serving];
        if !notifying.is_empty() {
            let (core, system, cancel) = (core.clone(), system.clone(), cancel.clone());
            let informs = config.informs;
            tasks.push(tokio::spawn(async move {
                tokio::select! {
                    _ = crate::notify::run(core, notifying, system, informs) => {}
                    _ = cancel.cancelled() => {}
                }
            }));
        }
        Ok(SnmpServer {
            agents,
            addrs,
            cancel,
            tasks,
        })
    }

    /// The bound addresses (port 0 resolved), in listen order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// The full (async-snmp) agents' own sockets, in listen order: behind
    /// the front door (a port the system chose, same address) or, for a
    /// wildcard listen address, the listen socket itself.
    pub fn agent_addrs(&self) -> Vec<SocketAddr> {
        self.agents.iter().map(|a| a.local_addr()).collect()
    }

    /// The SNMPv3 engine ID.
    pub fn engine_id(&self) -> Vec<u8> {
        self.agents.first().map(|a| a.engine_id().to_vec()).unwrap_or_default()
    }

    /// A token that stops the server when cancelled.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs until stopped.
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The handlers every UDP agent serves (shared with the AgentX subagent).
struct Handlers {
    guests: Arc<GuestTable>,
    ext: Arc<ExtMib>,
    system: Arc<SystemGroup>,
}

/// All agents, the ones with trap sinks, and the addresses managers use.
type Agents = (Vec<Arc<Agent>>, Vec<Arc<Agent>>, Vec<SocketAddr>);

/// Builds the UDP agents and runs them, and the AgentX subagent when
/// configured, on a thread of their own ("snmp", a current-thread tokio
/// runtime), like net-snmp's single-threaded snmpd:
/// a request is received, answered and sent by one thread that then sleeps
/// in `epoll_wait`, so the scheduler can keep it on the manager's CPU. On
/// the adapters' shared runtime each request woke a worker on the other CPU
/// (measured: 14k GET/s with one request in flight vs 96k when both
/// processes were pinned to one CPU; docs/benchmarks.md). The sockets are
/// bound inside that runtime so its own I/O driver polls them.
///
/// Returns (all agents, agents with trap sinks, the addresses managers use)
/// and a task that ends when the thread does.
async fn serve_thread(
    config: SnmpConfig,
    engine: async_snmp::v3::AuthoritativeEngine,
    views: Vec<(String, Oid)>,
    handlers: Handlers,
    inform_retry: Retry,
    agentx: Option<(Core, Arc<Mib>, crate::agentx::AgentxAddr)>,
    cancel: CancellationToken,
) -> Result<(Agents, JoinHandle<()>), SnmpError> {
    let (built_tx, built_rx) = tokio::sync::oneshot::channel::<Result<Agents, SnmpError>>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("snmp".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(err) => {
                let _ = built_tx.send(Err(SnmpError::Runtime(err.to_string())));
                return;
            }
        };
        runtime.block_on(async move {
            let built = async {
                let mut agents = Vec::new();
                let mut notifying = Vec::new();
                let mut fronts = Vec::new();
                let mut public_addrs = Vec::new();
                for (i, addr) in config.listen.iter().enumerate() {
                    // A wildcard address stays async-snmp's own socket: it
                    // answers from the address each request came to
                    // (IP_PKTINFO), which a plain socket would not.
                    let public = if addr.ip().is_unspecified() {
                        None
                    } else {
                        let socket = tokio::net::UdpSocket::bind(addr).await.map_err(|e| SnmpError::Bind {
                            addr: *addr,
                            message: e.to_string(),
                        })?;
                        Some(socket)
                    };
                    let agent_addr = match &public {
                        Some(_) => SocketAddr::new(addr.ip(), 0),
                        None => *addr,
                    };
                    let mut builder = Agent::builder()
                        .bind(agent_addr.to_string())
                        .max_message_size(MAX_MESSAGE_SIZE)
                        .authoritative_engine(engine.clone())
                        .community(config.community.as_bytes().to_vec())
                        .handler(Oid::from_slice(LIBVIRT_MIB), handlers.guests.clone())
                        .handler(Oid::from_slice(VIRTBUS_MIB), handlers.ext.clone())
                        .handler(Oid::from_slice(SYSTEM), handlers.system.clone())
                        .handler(Oid::from_slice(SNMP_GROUP), Arc::new(SnmpGroup))
                        .cancellation_token(cancel.child_token())
                        .inform_timeout(config.inform_timeout)
                        .inform_retry(inform_retry.clone())
                        .vacm(access_rules(&config, &views));
                    if let Some(rw) = &config.rw_community {
                        builder = builder.community(rw.as_bytes().to_vec());
                    }
                    for user in &config.users {
                        builder = add_user(builder, user)?;
                    }
                    // Each sink goes to the first socket of its address family.
                    let mut has_sinks = false;
                    for (n, sink) in config.trap_sinks.iter().enumerate() {
                        let first_of_family = config.listen.iter().position(|l| l.is_ipv4() == sink.is_ipv4());
                        if first_of_family != Some(i) {
                            continue;
                        }
                        let id = NotificationSinkId::new(format!("sink{n}")).map_err(|e| SnmpError::Sink {
                            sink: *sink,
                            message: e.to_string(),
                        })?;
                        let community = config.trap_community.as_bytes().to_vec();
                        let auth = match config.trap_version {
                            TrapVersion::V1 => Auth::v1(community),
                            TrapVersion::V2c => Auth::v2c(community),
                        };
                        builder = builder.trap_sink(id, sink.to_string(), auth);
                        has_sinks = true;
                    }
                    let agent = builder.build().await.map_err(|e| SnmpError::Bind {
                        addr: *addr,
                        message: e.to_string(),
                    })?;
                    let agent = Arc::new(agent);
                    if has_sinks {
                        notifying.push(agent.clone());
                    }
                    match public {
                        Some(socket) => {
                            public_addrs.push(socket.local_addr().map_err(|e| SnmpError::Bind {
                                addr: *addr,
                                message: e.to_string(),
                            })?);
                            fronts.push((socket, agent.local_addr()));
                        }
                        None => public_addrs.push(agent.local_addr()),
                    }
                    agents.push(agent);
                }
                Ok::<_, SnmpError>((agents, notifying, public_addrs, fronts))
            }
            .await;
            let (agents, fronts) = match built {
                Ok((agents, notifying, public_addrs, fronts)) => {
                    let _ = built_tx.send(Ok((agents.clone(), notifying, public_addrs)));
                    (agents, fronts)
                }
                Err(err) => {
                    let _ = built_tx.send(Err(err));
                    return;
                }
            };
            let mut communities = vec![config.community.as_bytes().to_vec()];
            communities.extend(config.rw_community.iter().map(|c| c.as_bytes().to_vec()));
            let fronts = fronts.into_iter().map(|(socket, agent_addr)| {
                let front = Front {
                    guests: handlers.guests.clone(),
                    system: handlers.system.clone(),
                    communities: communities.clone(),
                    max_message_size: MAX_MESSAGE_SIZE,
                };
                crate::front::run(front, socket, agent_addr, cancel.child_token())
            });
            let agents = agents.iter().map(|agent| async move {
                if let Err(err) = agent.run().await {
                    tracing::error!(adapter = "snmp", addr = %agent.local_addr(), error = %err, "snmp agent stopped");
                }
            });
            // The AgentX subagent, when configured, shares the thread: one
            // request at a time from the master, answered where it arrives.
            let subagent =
                agentx.map(|(core, mib, master)| crate::agentx::spawn(core, mib, master, cancel.child_token()));
            futures::future::join(futures::future::join_all(fronts), futures::future::join_all(agents)).await;
            if let Some(subagent) = subagent {
                let _ = subagent.await;
            }
        });
        let _ = done_tx.send(());
    });
    if let Err(err) = thread {
        return Err(SnmpError::Runtime(err.to_string()));
    }
    let agents = built_rx
        .await
        .map_err(|_| SnmpError::Runtime("the snmp thread ended while starting".into()))??;
    let done = tokio::spawn(async move {
        let _ = done_rx.await;
    });
    Ok((agents, done))
}

fn add_user(
    builder: async_snmp::agent::AgentBuilder,
    user: &UsmUserConfig,
) -> Result<async_snmp::agent::AgentBuilder, SnmpError> {
    let fail = |message: String| SnmpError::User {
        user: user.name.clone(),
        message,
    };
    let auth = auth_protocol(&user.auth_protocol)
        .ok_or_else(|| fail(format!("unknown auth protocol '{}'", user.auth_protocol)))?;
    let auth_password = user.auth_password.clone();
    let privacy = match (&user.priv_protocol, &user.priv_password) {
        (Some(p), Some(pass)) => Some((
            priv_protocol(p).ok_or_else(|| fail(format!("unknown privacy protocol '{p}'")))?,
            pass.clone(),
        )),
        (None, None) => None,
        _ => return Err(fail("privacy needs both a protocol and a password".into())),
    };
    builder
        .usm_user(user.name.clone().into_bytes(), move |u| match privacy {
            Some((p, pass)) => u.auth_priv(auth, auth_password.as_bytes(), p, pass.as_bytes()),
            None => u.auth(auth, auth_password.as_bytes()),
        })
        .map_err(|e| fail(e.to_string()))
}
