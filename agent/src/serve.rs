//! `virtbus serve`: start the core, open the control socket, run until
//! SIGINT/SIGTERM, then shut down cleanly (socket removed, actors stopped;
//! definitions are already on disk).

use crate::adapters::{self, AdapterError, AdapterHandle};
use crate::config::Settings;
use crate::ctl::server;
use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};
use virtbus_actors::{Core, CoreConfig};

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create state directory {path}: {source}")]
    StateDir { path: PathBuf, source: std::io::Error },
    #[error(
        "another virtbus agent already uses state directory {0} (its lock is held); stop it or use another --state-dir"
    )]
    AlreadyRunning(PathBuf),
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("cannot open control socket {path}: {source}")]
    Socket { path: PathBuf, source: std::io::Error },
    #[error("cannot start the core on {uri}: {source}")]
    Core {
        uri: String,
        source: virtbus_schemas::VirtError,
    },
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// The control socket's path in a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("virtbus.sock")
}

pub async fn run(settings: Settings) -> Result<(), ServeError> {
    let state_dir = settings.state_dir.clone();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&state_dir)
        .map_err(|source| ServeError::StateDir {
            path: state_dir.clone(),
            source,
        })?;
    // The lock is held for the life of the process; the kernel releases it
    // even after kill -9, so a stale socket never blocks a restart.
    let _lock = take_lock(&state_dir)?;

    let test_hooks = std::env::var("VIRTBUS_TEST_HOOKS").is_ok_and(|v| v == "1");
    let mut config = CoreConfig {
        uri: settings.connect.clone(),
        state_dir: Some(state_dir.clone()),
        test_hooks,
        ..CoreConfig::default()
    };
    if let Some(workers) = settings.workers {
        config.workers = workers.max(1);
    }
    let core = tokio::task::spawn_blocking(move || Core::start(config))
        .await
        .map_err(|e| ServeError::Core {
            uri: settings.connect.clone(),
            source: virtbus_schemas::VirtError::internal(e.to_string()),
        })?
        .map_err(|source| ServeError::Core {
            uri: settings.connect.clone(),
            source,
        })?;
    let report = core.report().clone();
    for (was, now, why) in &report.set_aside {
        tracing::error!(file = %was.display(), moved_to = %now.display(), reason = %why, "corrupt definition set aside; the rest was loaded");
    }
    tracing::info!(
        uri = core.uri(),
        domains = report.domains,
        pools = report.pools,
        networks = report.networks,
        load_ms = report.load_time.as_millis() as u64,
        state_dir = %state_dir.display(),
        "core started"
    );
    if test_hooks {
        tracing::warn!("test hooks are enabled (VIRTBUS_TEST_HOOKS=1); do not use this in production");
    }

    // Autostart before the control socket opens: a client that can connect
    // sees the autostarted objects running (or their failures logged).
    let failed = core.autostart().await;
    if !failed.is_empty() {
        tracing::warn!(
            failed = failed.len(),
            "some autostart objects did not start; see the errors above"
        );
    }

    let socket = socket_path(&state_dir);
    let listener = bind_socket(&socket)?;
    tracing::info!(socket = %socket.display(), "ctl: listening on unix:{}", socket.display());
    let server = tokio::spawn(server::serve(listener, core.clone()));
    let adapters = match start_adapters(&core, &settings).await {
        Ok(adapters) => adapters,
        Err(err) => {
            server.abort();
            let _ = std::fs::remove_file(&socket);
            tokio::task::spawn_blocking(move || core.shutdown()).await.ok();
            return Err(err);
        }
    };

    let mut sigterm = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
    let which = tokio::select! {
        _ = sigterm.recv() => "SIGTERM",
        _ = sigint.recv() => "SIGINT",
    };
    tracing::info!(signal = which, "shutting down");
    for adapter in adapters {
        if let Some(stop) = adapter.stop {
            stop();
        }
        adapter.task.abort();
        tracing::info!(adapter = adapter.name, "adapter stopped");
    }
    server.abort();
    let _ = std::fs::remove_file(&socket);
    tokio::task::spawn_blocking(move || core.shutdown()).await.ok();
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Starts every configured adapter; each logs where it listens (or that it
/// is off).
async fn start_adapters(core: &Core, settings: &Settings) -> Result<Vec<AdapterHandle>, ServeError> {
    let mut running = Vec::new();
    let started = [
        adapters::snmp::start(core, &settings.snmp).await,
        adapters::cim::start(core, &settings.cim, &settings.state_dir).await,
        adapters::amqp::start(core, &settings.amqp).await,
    ];
    for result in started {
        match result {
            Ok(Some(handle)) => running.push(handle),
            Ok(None) => {}
            Err(err) => {
                for handle in running {
                    handle.task.abort();
                }
                return Err(ServeError::Adapter(err));
            }
        }
    }
    Ok(running)
}

fn take_lock(state_dir: &Path) -> Result<File, ServeError> {
    let path = state_dir.join("virtbus.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| ServeError::Lock {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServeError::AlreadyRunning(state_dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(source)) => Err(ServeError::Lock { path, source }),
    }
}

/// Binds the socket owner-only. A leftover socket file is stale (we hold the
/// state directory's lock), so it is replaced.
fn bind_socket(path: &Path) -> Result<UnixListener, ServeError> {
    let err = |source| ServeError::Socket {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(socket = %path.display(), "removed a stale control socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}
