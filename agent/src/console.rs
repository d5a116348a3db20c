//! `virtbus console`: a QMF console over the broker, the AMQP counterpart of
//! `virtbus ctl` (docs/amqp.md §10). The protocol side is
//! [`virtbus_amqp::console`].

use crate::cli::{ConsoleArgs, ConsoleCommand};
use serde_json::{json, Value};
use std::time::Duration;
use virtbus_amqp::console::{self, Console, ConsoleError};

/// Why `virtbus console` failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleRunError {
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error("cannot read --tls-ca-file {path}: {source}")]
    TlsCa {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("arguments must be a JSON object: {0}")]
    Arguments(String),
}

pub async fn run(args: ConsoleArgs) -> Result<(), ConsoleRunError> {
    let tls_ca = match &args.tls_ca_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|source| ConsoleRunError::TlsCa {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let tls_ca = tls_ca.as_deref();
    match args.command {
        ConsoleCommand::Locate => {
            let agents = Console::connect(&args.url, tls_ca)
                .await?
                .locate(Duration::from_secs(2))
                .await?;
            for a in agents {
                println!(
                    "{}\t{}\tepoch {}",
                    a["_name"].as_str().unwrap_or("?"),
                    a["uri"].as_str().unwrap_or(""),
                    a["_epoch"]
                );
            }
        }
        ConsoleCommand::List { agent } => {
            let objects = Console::connect(&args.url, tls_ca)
                .await?
                .objects(&agent, "domain")
                .await?;
            println!("{:<24} {:<12} OBJECT", "NAME", "STATE");
            for o in objects {
                println!(
                    "{:<24} {:<12} {}",
                    o["_values"]["name"].as_str().unwrap_or("?"),
                    o["_values"]["state"].as_str().unwrap_or("?"),
                    o["_object_id"]["_object_name"].as_str().unwrap_or("?")
                );
            }
        }
        ConsoleCommand::Call {
            agent,
            object,
            method,
            arguments,
        } => {
            let arguments: Value = match arguments {
                Some(text) => match serde_json::from_str(&text) {
                    Ok(v @ Value::Object(_)) => v,
                    Ok(_) => return Err(ConsoleRunError::Arguments(text)),
                    Err(err) => return Err(ConsoleRunError::Arguments(err.to_string())),
                },
                None => json!({}),
            };
            let out = Console::connect(&args.url, tls_ca)
                .await?
                .call(&agent, &object, &method, arguments)
                .await?;
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        ConsoleCommand::Tail { pattern, count } => {
            console::tail(
                &args.url,
                tls_ca,
                &pattern,
                count,
                || eprintln!("tailing {pattern}"),
                |event| println!("{event}"),
            )
            .await?;
        }
    }
    Ok(())
}
