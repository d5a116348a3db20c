//! The actix system the actors live in, on threads of its own.
//!
//! The agent's adapters run on a multi-threaded tokio runtime; actors run on
//! actix arbiters (one per core), started here on a dedicated thread so the
//! two never share an executor. Shutting down stops the system and joins it.

use actix::{Arbiter, ArbiterHandle, System};
use std::thread::JoinHandle;
use virtbus_schemas::{VirtError, VirtResult};

pub struct ActorSystem {
    system: System,
    pub arbiters: Vec<ArbiterHandle>,
    thread: Option<JoinHandle<()>>,
}

impl ActorSystem {
    /// Starts the system with `workers` arbiters (at least one).
    pub fn start(workers: usize) -> VirtResult<ActorSystem> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("virtbus-actors".into())
            .spawn(move || {
                let system = actix::System::new();
                let arbiters: Vec<Arbiter> = (0..workers.max(1)).map(|_| Arbiter::new()).collect();
                let handles: Vec<ArbiterHandle> = arbiters.iter().map(|a| a.handle()).collect();
                let _ = tx.send((System::current(), handles));
                if let Err(err) = system.run() {
                    tracing::error!(error = %err, "actor system stopped with an error");
                }
                for arbiter in arbiters {
                    arbiter.stop();
                    let _ = arbiter.join();
                }
            })
            .map_err(|e| VirtError::internal(format!("cannot start the actor thread: {e}")))?;
        let (system, arbiters) = rx
            .recv()
            .map_err(|_| VirtError::internal("the actor system failed to start"))?;
        Ok(ActorSystem {
            system,
            arbiters,
            thread: Some(thread),
        })
    }

    /// Stops every actor and waits for the threads.
    pub fn stop(&mut self) {
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ActorSystem {
    fn drop(&mut self) {
        self.stop();
    }
}
