//! A QMP client (QEMU Machine Protocol, `docs/interop/qmp-spec.rst`):
//! JSON objects, one per line, over the monitor's unix socket.
//!
//! [`Qmp::connect`] reads the greeting and enters command mode
//! (`qmp_capabilities`). A reader thread then owns the read half: replies go
//! to the caller waiting on their `id`, asynchronous events (and the end of
//! the connection) go to the channel given at connect time, so a caller
//! blocked on a reply never stops events from being read.

use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Errors of one QMP connection or command.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("cannot connect to the qemu monitor at '{path}': {source}")]
    Connect { path: String, source: std::io::Error },
    #[error("qemu monitor at '{path}' sent no valid greeting: {detail}")]
    Greeting { path: String, detail: String },
    #[error("qemu monitor i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("qemu monitor connection closed")]
    Closed,
    #[error("qemu monitor did not answer '{command}' within {timeout:?}")]
    Timeout { command: String, timeout: Duration },
    #[error("qemu refused '{command}': {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
}

/// Something the monitor said on its own.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorEvent {
    /// A QMP event: its name (`STOP`, `SHUTDOWN`, ...), `data`, and its
    /// number on this connection (from 1), see [`Qmp::events_seen`].
    Event { name: String, data: Value, seq: u64 },
    /// The connection ended (qemu exited, or the socket broke).
    Closed,
}

type Pending = Arc<Mutex<HashMap<u64, crossbeam_channel::Sender<Result<Value, QmpError>>>>>;

/// One monitor connection.
pub struct Qmp {
    writer: Mutex<UnixStream>,
    pending: Pending,
    next_id: AtomicU64,
    /// Events read so far; a reply read after an event sees it counted.
    events_seen: Arc<AtomicU64>,
    /// qemu's version from the greeting: (major, minor, micro).
    pub version: (u64, u64, u64),
}

impl Qmp {
    /// Connects to `path` (retrying until `timeout` while the socket does not
    /// exist yet), reads the greeting and negotiates capabilities. Events
    /// and the end of the connection go to `events`.
    pub fn connect(
        path: &Path,
        timeout: Duration,
        events: crossbeam_channel::Sender<MonitorEvent>,
    ) -> Result<Qmp, QmpError> {
        let deadline = Instant::now() + timeout;
        let shown = path.display().to_string();
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(err) if Instant::now() < deadline && retryable(&err) => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(source) => return Err(QmpError::Connect { path: shown, source }),
            }
        };
        stream.set_read_timeout(Some(timeout))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let greeting: Value = serde_json::from_str(&line).map_err(|e| QmpError::Greeting {
            path: shown.clone(),
            detail: format!("{e} in {:?}", line.trim()),
        })?;
        let qemu = greeting
            .pointer("/QMP/version/qemu")
            .ok_or_else(|| QmpError::Greeting {
                path: shown.clone(),
                detail: format!("no QMP version in {:?}", line.trim()),
            })?;
        let num = |k: &str| qemu.get(k).and_then(Value::as_u64).unwrap_or(0);
        let version = (num("major"), num("minor"), num("micro"));
        stream.set_read_timeout(None)?;
        reader.get_ref().set_read_timeout(None)?;

        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let reader_pending = pending.clone();
        let events_seen = Arc::new(AtomicU64::new(0));
        let reader_seen = events_seen.clone();
        std::thread::Builder::new()
            .name("virtbus-qmp".into())
            .spawn(move || read_loop(reader, reader_pending, reader_seen, events))?;
        let qmp = Qmp {
            writer: Mutex::new(stream),
            pending,
            next_id: AtomicU64::new(1),
            events_seen,
            version,
        };
        qmp.execute("qmp_capabilities", None, timeout)?;
        Ok(qmp)
    }

    /// Runs one command and waits for its reply's `return` value.
    pub fn execute(&self, command: &str, arguments: Option<Value>, timeout: Duration) -> Result<Value, QmpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"execute": command, "id": id});
        if let Some(args) = arguments {
            msg["arguments"] = args;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.pending.lock().insert(id, tx);
        let mut line = msg.to_string();
        line.push('\n');
        let written = self.writer.lock().write_all(line.as_bytes());
        if let Err(err) = written {
            self.pending.lock().remove(&id);
            return Err(match err.kind() {
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => QmpError::Closed,
                _ => QmpError::Io(err),
            });
        }
        match rx.recv_timeout(timeout) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(QmpError::Command { class, desc, .. })) => Err(QmpError::Command {
                command: command.to_string(),
                class,
                desc,
            }),
            Ok(Err(err)) => Err(err),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                self.pending.lock().remove(&id);
                Err(QmpError::Timeout {
                    command: command.to_string(),
                    timeout,
                })
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(QmpError::Closed),
        }
    }

    /// How many events have been read: after a command returns, every event
    /// qemu sent before its reply is counted (qemu emits e.g. `STOP` before
    /// answering `stop`).
    pub fn events_seen(&self) -> u64 {
        self.events_seen.load(Ordering::SeqCst)
    }

    /// Ends the connection; the reader thread then reports `Closed`.
    pub fn close(&self) {
        let _ = self.writer.lock().shutdown(std::net::Shutdown::Both);
    }
}

impl Drop for Qmp {
    fn drop(&mut self) {
        self.close();
    }
}

fn retryable(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    )
}

/// Parses one line from the monitor into a reply or an event (numbered 0;
/// the reader numbers them).
pub fn parse_line(line: &str) -> Result<Parsed, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if let Some(name) = value.get("event").and_then(Value::as_str) {
        let data = value.get("data").cloned().unwrap_or(Value::Null);
        return Ok(Parsed::Event(MonitorEvent::Event {
            name: name.to_string(),
            data,
            seq: 0,
        }));
    }
    let id = value.get("id").and_then(Value::as_u64);
    if let Some(ret) = value.get("return") {
        return Ok(Parsed::Reply(id, Ok(ret.clone())));
    }
    if let Some(err) = value.get("error") {
        let class = err.get("class").and_then(Value::as_str).unwrap_or("GenericError");
        let desc = err.get("desc").and_then(Value::as_str).unwrap_or("");
        return Ok(Parsed::Reply(
            id,
            Err(QmpError::Command {
                command: String::new(),
                class: class.to_string(),
                desc: desc.to_string(),
            }),
        ));
    }
    Err(format!("unexpected monitor message {line:?}"))
}

/// One decoded monitor line.
#[derive(Debug)]
pub enum Parsed {
    Reply(Option<u64>, Result<Value, QmpError>),
    Event(MonitorEvent),
}

fn read_loop(
    mut reader: BufReader<UnixStream>,
    pending: Pending,
    seen: Arc<AtomicU64>,
    events: crossbeam_channel::Sender<MonitorEvent>,
) {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match parse_line(line.trim()) {
            Ok(Parsed::Event(MonitorEvent::Event { name, data, .. })) => {
                let seq = seen.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = events.send(MonitorEvent::Event { name, data, seq });
            }
            Ok(Parsed::Event(MonitorEvent::Closed)) => {}
            Ok(Parsed::Reply(Some(id), result)) => {
                if let Some(tx) = pending.lock().remove(&id) {
                    let _ = tx.send(result);
                }
            }
            Ok(Parsed::Reply(None, _)) => {}
            Err(detail) => tracing::warn!(%detail, "ignoring a malformed qemu monitor message"),
        }
    }
    // Waiters learn the connection is gone (their senders drop here).
    pending.lock().clear();
    let _ = events.send(MonitorEvent::Closed);
}
