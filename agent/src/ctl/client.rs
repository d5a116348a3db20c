//! `virtbus ctl`: turns a command line into a control request, sends it and
//! prints the reply the way virsh prints the same command's result.

use super::format;
use super::protocol::{Reply, Request, WireError};
use crate::cli::CtlCommand;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use virtbus_schemas::units::parse_scaled;

/// How a ctl command ended, for the exit status.
pub enum Outcome {
    Success,
    Failure,
}

/// A failure before or after talking to the agent, printed as `error: ...`.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error(
        "cannot connect to the agent at {path}: {source} (is `virtbus serve` running with the same state directory?)"
    )]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("lost the connection to the agent: {0}")]
    Io(#[from] std::io::Error),
    #[error("the agent sent a reply that is not valid JSON: {0}")]
    BadReply(#[from] serde_json::Error),
    #[error("cannot read {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("invalid size '{value}': {reason}")]
    Size { value: String, reason: String },
}

/// Runs one ctl command against the socket at `socket`.
pub fn run(socket: &Path, command: CtlCommand, quiet: bool) -> Result<Outcome, CtlError> {
    let request = to_request(&command)?;
    let stream = UnixStream::connect(socket).map_err(|source| CtlError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = serde_json::to_string(&request)?;
    line.push('\n');
    writer.write_all(line.as_bytes())?;
    let mut reply = String::new();
    reader.read_line(&mut reply)?;
    if reply.is_empty() {
        return Err(CtlError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the agent closed the connection without replying",
        )));
    }
    let reply: Reply = serde_json::from_str(&reply)?;
    match reply {
        Reply::Ok(data) => {
            if matches!(command, CtlCommand::Events) {
                // The agent subscribed before answering, so nothing from now
                // on is missed; say so on stderr, keeping stdout pure JSON.
                eprintln!(
                    "streaming events as JSON lines (epoch {}); interrupt to stop",
                    format::text(&data["epoch"])
                );
                return stream_events(reader);
            }
            if let Some(stale) = data.get("stale") {
                eprintln!(
                    "warning: the agent lost its connection to {} at {} ({}); showing the last known state while it reconnects",
                    format::text(&stale["uri"]),
                    format::text(&stale["since"]),
                    format::text(&stale["reason"])
                );
            }
            print!("{}", render(&command, &data, quiet));
            if !quiet {
                println!();
            }
            Ok(Outcome::Success)
        }
        Reply::Error(err) => {
            for line in failure(&command, &err) {
                eprintln!("error: {line}");
            }
            if !quiet {
                println!();
            }
            Ok(Outcome::Failure)
        }
    }
}

fn stream_events(mut reader: BufReader<UnixStream>) -> Result<Outcome, CtlError> {
    let stdout = std::io::stdout();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(Outcome::Success);
        }
        let mut out = stdout.lock();
        // A closed stdout (e.g. `| head`) ends the stream quietly.
        if out.write_all(line.as_bytes()).and_then(|_| out.flush()).is_err() {
            return Ok(Outcome::Success);
        }
    }
}

fn read_file(path: &Path) -> Result<String, CtlError> {
    std::fs::read_to_string(path).map_err(|source| CtlError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses virsh's scaled integers (`512M`, `10G`, `1024`), in bytes.
pub fn parse_size(value: &str, default_unit: &str) -> Result<u64, CtlError> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let unit = if unit.is_empty() { None } else { Some(unit) };
    parse_scaled(number, unit, default_unit).map_err(|err| CtlError::Size {
        value: value.to_string(),
        reason: err.message,
    })
}

fn to_request(command: &CtlCommand) -> Result<Request, CtlError> {
    use CtlCommand as C;
    Ok(match command.clone() {
        C::List { all } => Request::List { all },
        C::Dominfo { domain } => Request::Dominfo { domain },
        C::Domstate { domain, .. } => Request::Domstate { domain },
        C::Dumpxml { domain, inactive } => Request::Dumpxml { domain, inactive },
        C::Define { file } => Request::Define { xml: read_file(&file)? },
        C::Undefine { domain } => Request::Undefine { domain },
        C::Start { domain } => Request::Start { domain },
        C::Create { file } => Request::Create { xml: read_file(&file)? },
        C::Shutdown { domain } => Request::Shutdown { domain },
        C::Destroy { domain } => Request::Destroy { domain },
        C::Suspend { domain } => Request::Suspend { domain },
        C::Resume { domain } => Request::Resume { domain },
        C::Reboot { domain } => Request::Reboot { domain },
        C::Reset { domain } => Request::Reset { domain },
        C::Setmem { domain, size } => Request::Setmem {
            domain,
            kib: parse_size(&size, "KiB")?.div_ceil(1024),
        },
        C::Setmaxmem { domain, size } => Request::Setmaxmem {
            domain,
            kib: parse_size(&size, "KiB")?.div_ceil(1024),
        },
        C::Setvcpus { domain, count } => Request::Setvcpus { domain, count },
        C::Autostart { domain, disable } => Request::Autostart { domain, disable },
        C::Domstats { domains } => Request::Domstats { domains },
        C::PoolList { all } => Request::PoolList { all },
        C::PoolInfo { pool } => Request::PoolInfo { pool },
        C::PoolDefine { file } => Request::PoolDefine { xml: read_file(&file)? },
        C::PoolCreate { file } => Request::PoolCreate { xml: read_file(&file)? },
        C::PoolDumpxml { pool } => Request::PoolDumpxml { pool },
        C::PoolStart { pool } => Request::PoolStart { pool },
        C::PoolBuild { pool } => Request::PoolBuild { pool },
        C::PoolDestroy { pool } => Request::PoolDestroy { pool },
        C::PoolDelete { pool } => Request::PoolDelete { pool },
        C::PoolRefresh { pool } => Request::PoolRefresh { pool },
        C::PoolAutostart { pool, disable } => Request::PoolAutostart { pool, disable },
        C::PoolUndefine { pool } => Request::PoolUndefine { pool },
        C::VolList { pool } => Request::VolList { pool },
        C::VolCreateAs {
            pool,
            name,
            capacity,
            allocation,
            format,
        } => Request::VolCreateAs {
            pool,
            name,
            capacity_bytes: parse_size(&capacity, "bytes")?,
            allocation_bytes: allocation.map(|a| parse_size(&a, "bytes")).transpose()?,
            format,
        },
        C::VolDumpxml { vol, pool } => Request::VolDumpxml { pool, vol },
        C::VolDelete { vol, pool } => Request::VolDelete { pool, vol },
        C::VolResize { vol, capacity, pool } => Request::VolResize {
            pool,
            vol,
            capacity_bytes: parse_size(&capacity, "bytes")?,
        },
        C::NetList { all } => Request::NetList { all },
        C::NetInfo { network } => Request::NetInfo { network },
        C::NetDefine { file } => Request::NetDefine { xml: read_file(&file)? },
        C::NetCreate { file } => Request::NetCreate { xml: read_file(&file)? },
        C::NetDumpxml { network } => Request::NetDumpxml { network },
        C::NetStart { network } => Request::NetStart { network },
        C::NetDestroy { network } => Request::NetDestroy { network },
        C::NetAutostart { network, disable } => Request::NetAutostart { network, disable },
        C::NetUndefine { network } => Request::NetUndefine { network },
        C::Nodeinfo => Request::Nodeinfo,
        C::Status => Request::Status,
        C::Events => Request::Events,
        C::DebugPanic { domain } => Request::DebugPanic { domain },
    })
}

fn name(data: &Value) -> String {
    format::text(&data["name"])
}

/// The stdout text of a successful command, as virsh prints it.
fn render(command: &CtlCommand, data: &Value, quiet: bool) -> String {
    use CtlCommand as C;
    let message = |text: String| if quiet { String::new() } else { format!("{text}\n") };
    match command {
        C::List { .. } => format::list(data, quiet),
        C::Dominfo { .. } => format::dominfo(data),
        C::Domstate { reason, .. } => format::domstate(data, *reason),
        C::Dumpxml { .. } | C::PoolDumpxml { .. } | C::VolDumpxml { .. } | C::NetDumpxml { .. } => {
            format::text(&data["xml"])
        }
        C::Define { file } => message(format!("Domain '{}' defined from {}", name(data), file.display())),
        C::Create { file } => message(format!("Domain '{}' created from {}", name(data), file.display())),
        C::Undefine { domain } => message(format!("Domain '{domain}' has been undefined")),
        C::Start { .. } => message(format!("Domain '{}' started", name(data))),
        C::Shutdown { domain } => message(format!("Domain '{domain}' is being shutdown")),
        C::Destroy { domain } => message(format!("Domain '{domain}' destroyed")),
        C::Suspend { domain } => message(format!("Domain '{domain}' suspended")),
        C::Resume { domain } => message(format!("Domain '{domain}' resumed")),
        C::Reboot { domain } => message(format!("Domain '{domain}' is being rebooted")),
        C::Reset { domain } => message(format!("Domain '{domain}' was reset")),
        C::Setmem { .. } | C::Setmaxmem { .. } | C::Setvcpus { .. } | C::DebugPanic { .. } | C::Events => String::new(),
        C::Domstats { .. } => format::domstats(data),
        C::PoolList { .. } => format::pool_list(data, quiet),
        C::PoolInfo { .. } => format::pool_info(data),
        C::PoolDefine { file } => message(format!("Pool {} defined from {}", name(data), file.display())),
        C::PoolCreate { file } => message(format!("Pool {} created from {}", name(data), file.display())),
        C::PoolStart { pool } => message(format!("Pool {pool} started")),
        C::PoolBuild { pool } => message(format!("Pool {pool} built")),
        C::PoolDestroy { pool } => message(format!("Pool {pool} destroyed")),
        C::PoolDelete { pool } => message(format!("Pool {pool} deleted")),
        C::PoolRefresh { pool } => message(format!("Pool {pool} refreshed")),
        C::Autostart { domain, disable } => message(format!(
            "Domain '{domain}' {} as autostarted",
            if *disable { "unmarked" } else { "marked" }
        )),
        C::PoolAutostart { pool, disable } => message(format!(
            "Pool {pool} {} as autostarted",
            if *disable { "unmarked" } else { "marked" }
        )),
        C::PoolUndefine { pool } => message(format!("Pool {pool} has been undefined")),
        C::VolList { .. } => format::vol_list(data, quiet),
        C::VolCreateAs { name: vol, .. } => message(format!("Vol {vol} created")),
        C::VolDelete { vol, .. } => message(format!("Vol {vol} deleted")),
        C::VolResize { vol, capacity, .. } => {
            message(format!("Size of volume '{vol}' successfully changed to {capacity}"))
        }
        C::NetList { .. } => format::net_list(data, quiet),
        C::NetInfo { .. } => format::net_info(data),
        C::NetDefine { file } => message(format!("Network {} defined from {}", name(data), file.display())),
        C::NetCreate { file } => message(format!("Network {} created from {}", name(data), file.display())),
        C::NetStart { network } => message(format!("Network {network} started")),
        C::NetDestroy { network } => message(format!("Network {network} destroyed")),
        C::NetAutostart { network, disable } => message(format!(
            "Network {network} {} as autostarted",
            if *disable { "unmarked" } else { "marked" }
        )),
        C::NetUndefine { network } => message(format!("Network {network} has been undefined")),
        C::Nodeinfo => format::nodeinfo(data),
        C::Status => format::status(data),
    }
}

/// The stderr lines of a failed command, as virsh prints them: what failed,
/// then libvirt's message; a failed lookup is one line.
fn failure(command: &CtlCommand, err: &WireError) -> Vec<String> {
    use CtlCommand as C;
    let lookup = match (command, err.code.as_str()) {
        (
            C::Dominfo { domain }
            | C::Domstate { domain, .. }
            | C::Dumpxml { domain, .. }
            | C::Undefine { domain }
            | C::Start { domain }
            | C::Shutdown { domain }
            | C::Destroy { domain }
            | C::Suspend { domain }
            | C::Resume { domain }
            | C::Reboot { domain }
            | C::Reset { domain }
            | C::Setmem { domain, .. }
            | C::Setmaxmem { domain, .. }
            | C::Setvcpus { domain, .. }
            | C::Autostart { domain, .. },
            "NO_DOMAIN",
        ) => return vec![format!("failed to get domain '{domain}'")],
        (
            C::PoolInfo { pool } | C::PoolStart { pool } | C::PoolDestroy { pool } | C::VolList { pool },
            "NO_STORAGE_POOL",
        ) => Some(format!("failed to get pool '{pool}'")),
        (C::NetInfo { network } | C::NetStart { network } | C::NetDestroy { network }, "NO_NETWORK") => {
            Some(format!("failed to get network '{network}'"))
        }
        _ => None,
    };
    let headline = lookup.or_else(|| match command {
        C::Define { file } => Some(format!("Failed to define domain from {}", file.display())),
        C::Create { file } => Some(format!("Failed to create domain from {}", file.display())),
        C::Undefine { domain } => Some(format!("Failed to undefine domain '{domain}'")),
        C::Start { domain } => Some(format!("Failed to start domain '{domain}'")),
        C::Shutdown { domain } => Some(format!("Failed to shutdown domain '{domain}'")),
        C::Destroy { domain } => Some(format!("Failed to destroy domain '{domain}'")),
        C::Suspend { domain } => Some(format!("Failed to suspend domain '{domain}'")),
        C::Resume { domain } => Some(format!("Failed to resume domain '{domain}'")),
        C::Reboot { domain } => Some(format!("Failed to reboot domain '{domain}'")),
        C::Reset { domain } => Some(format!("Failed to reset domain '{domain}'")),
        C::Setmaxmem { .. } => Some("Unable to change MaxMemorySize".to_string()),
        C::PoolDefine { file } => Some(format!("Failed to define pool from {}", file.display())),
        C::PoolCreate { file } => Some(format!("Failed to create pool from {}", file.display())),
        C::PoolStart { pool } => Some(format!("Failed to start pool {pool}")),
        C::PoolBuild { pool } => Some(format!("Failed to build pool {pool}")),
        C::PoolDestroy { pool } => Some(format!("Failed to destroy pool {pool}")),
        C::PoolDelete { pool } => Some(format!("Failed to delete pool {pool}")),
        C::PoolRefresh { pool } => Some(format!("Failed to refresh pool {pool}")),
        C::Autostart { domain, disable } => Some(format!(
            "Failed to {} domain '{domain}' as autostarted",
            if *disable { "unmark" } else { "mark" }
        )),
        C::PoolAutostart { pool, disable } => Some(format!(
            "failed to {} pool {pool} as autostarted",
            if *disable { "unmark" } else { "mark" }
        )),
        C::PoolUndefine { pool } => Some(format!("Failed to undefine pool {pool}")),
        C::VolCreateAs { name, .. } => Some(format!("Failed to create vol {name}")),
        C::VolDelete { vol, .. } => Some(format!("Failed to delete vol {vol}")),
        C::VolResize { vol, capacity, .. } => Some(format!("Failed to change size of volume '{vol}' to {capacity}")),
        C::NetDefine { file } => Some(format!("Failed to define network from {}", file.display())),
        C::NetCreate { file } => Some(format!("Failed to create network from {}", file.display())),
        C::NetStart { network } => Some(format!("Failed to start network {network}")),
        C::NetDestroy { network } => Some(format!("Failed to destroy network {network}")),
        C::NetAutostart { network, disable } => Some(format!(
            "failed to {} network {network} as autostarted",
            if *disable { "unmark" } else { "mark" }
        )),
        C::NetUndefine { network } => Some(format!("Failed to undefine network {network}")),
        _ => None,
    });
    headline
        .into_iter()
        .chain(std::iter::once(err.message.clone()))
        .collect()
}
