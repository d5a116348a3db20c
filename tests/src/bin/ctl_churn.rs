//! `ctl_churn`: drives lifecycle changes through a running agent's control
//! socket as fast as it takes them, for the AMQP event-rate benchmark
//! (`scripts/bench-amqp`).
//!
//! `ctl_churn --socket STATE_DIR/virtbus.sock --domains a,b,c --changes N`
//! opens one connection per domain and sends suspend/resume alternately
//! (the domains must be running), `--pipeline` requests in flight per
//! connection, until N changes were made in all. Every reply must be `ok`.
//! Prints one JSON line: `{"changes":N,"seconds":S,"per_second":R}`.

use clap::Parser;
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(
    name = "ctl_churn",
    about = "suspend/resume domains through the control socket, pipelined"
)]
struct Cli {
    /// The agent's control socket.
    #[arg(long)]
    socket: PathBuf,
    /// Running domains to change, comma-separated (one connection each).
    #[arg(long, value_delimiter = ',', required = true)]
    domains: Vec<String>,
    /// Lifecycle changes in all (each is one event).
    #[arg(long, default_value_t = 10_000)]
    changes: usize,
    /// Requests written before their replies are read, per connection.
    #[arg(long, default_value_t = 64)]
    pipeline: usize,
}

fn churn(socket: &PathBuf, domain: &str, changes: usize, pipeline: usize) -> Result<(), String> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let lines = [
        format!("{}\n", json!({"cmd": "suspend", "domain": domain})),
        format!("{}\n", json!({"cmd": "resume", "domain": domain})),
    ];
    let mut sent = 0;
    let mut line = String::new();
    while sent < changes {
        let n = pipeline.max(1).min(changes - sent);
        let batch: String = (sent..sent + n).map(|i| lines[i % 2].as_str()).collect();
        writer.write_all(batch.as_bytes()).map_err(|e| e.to_string())?;
        for _ in 0..n {
            line.clear();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            if !line.starts_with("{\"ok\"") {
                return Err(format!("{domain}: {}", line.trim()));
            }
        }
        sent += n;
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let n = cli.domains.len();
    let started = Instant::now();
    let threads: Vec<_> = cli
        .domains
        .iter()
        .enumerate()
        .map(|(i, domain)| {
            // Even pairs per domain, so every domain ends as it started.
            let share = (cli.changes / n + usize::from(i < cli.changes % n)) & !1;
            let (socket, domain, pipeline) = (cli.socket.clone(), domain.clone(), cli.pipeline);
            std::thread::spawn(move || churn(&socket, &domain, share, pipeline).map(|()| share))
        })
        .collect();
    let mut total = 0;
    for t in threads {
        match t.join() {
            Ok(Ok(done)) => total += done,
            Ok(Err(err)) => {
                eprintln!("error: {err}");
                std::process::exit(1);
            }
            Err(_) => {
                eprintln!("error: a churn thread panicked");
                std::process::exit(1);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"changes": total, "seconds": seconds, "per_second": (total as f64 / seconds).round()})
    );
}
