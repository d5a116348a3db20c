//! A QMF console for virtbus agents in Rust (docs/amqp.md §10), on
//! [`virtbus_amqp::console`] (lapin).
//!
//! ```text
//! cargo run -p virtbus-amqp --example qmf_console -- URL locate
//! cargo run -p virtbus-amqp --example qmf_console -- URL list AGENT
//! cargo run -p virtbus-amqp --example qmf_console -- URL call AGENT OBJECT METHOD [JSON-ARGUMENTS]
//! cargo run -p virtbus-amqp --example qmf_console -- URL tail [PATTERN] [COUNT]
//! ```
//!
//! `locate` prints the agents that answer an agent-locate within two
//! seconds; `list` the agent's domains (name, state, object name); `call`
//! runs a method (e.g. `domain/UUID getXMLDesc`) and prints its out
//! arguments, or the `_exception` on stderr with exit status 1; `tail`
//! prints events as JSON lines (`PATTERN` defaults to every virtbus event,
//! `agent.ind.event.#`); with `COUNT` it stops after that many and prints
//! `{"events":N,"seconds":S,"per_second":R}` (first to last event) on stderr.
//! Requests carry the URL's user as `user_id`, so mutating methods work for
//! users in the agent's `[amqp] writers`.

use serde_json::{json, Value};
use std::time::Duration;
use virtbus_amqp::console::{self, Console, ConsoleError};

fn usage() -> ! {
    eprintln!(
        "usage: qmf_console URL locate\n       qmf_console URL list AGENT\n       \
         qmf_console URL call AGENT OBJECT METHOD [JSON-ARGUMENTS]\n       qmf_console URL tail [PATTERN] [COUNT]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        usage();
    }
    let url = args[0].as_str();
    let result = match args[1].as_str() {
        "locate" => locate(url).await,
        "list" if args.len() == 3 => list(url, &args[2]).await,
        "call" if (5..=6).contains(&args.len()) => {
            call(url, &args[2], &args[3], &args[4], args.get(5).map(String::as_str)).await
        }
        "tail" if args.len() <= 4 => tail(url, args.get(2).map(String::as_str), args.get(3)).await,
        _ => usage(),
    };
    if let Err(err) = result {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

type Error = Box<dyn std::error::Error>;

async fn locate(url: &str) -> Result<(), Error> {
    for a in Console::connect(url, None)
        .await?
        .locate(Duration::from_secs(2))
        .await?
    {
        println!(
            "{}\t{}\tepoch {}",
            a["_name"].as_str().unwrap_or("?"),
            a["uri"].as_str().unwrap_or(""),
            a["_epoch"]
        );
    }
    Ok(())
}

async fn list(url: &str, agent: &str) -> Result<(), Error> {
    let objects = Console::connect(url, None).await?.objects(agent, "domain").await?;
    println!("{:<24} {:<12} OBJECT", "NAME", "STATE");
    for object in objects {
        println!(
            "{:<24} {:<12} {}",
            object["_values"]["name"].as_str().unwrap_or("?"),
            object["_values"]["state"].as_str().unwrap_or("?"),
            object["_object_id"]["_object_name"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

async fn call(url: &str, agent: &str, object: &str, method: &str, args: Option<&str>) -> Result<(), Error> {
    let arguments: Value = match args {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("arguments are not JSON: {e}"))?,
        None => json!({}),
    };
    let out = Console::connect(url, None)
        .await?
        .call(agent, object, method, arguments)
        .await?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn tail(url: &str, pattern: Option<&str>, count: Option<&String>) -> Result<(), Error> {
    let count: Option<u64> = match count {
        Some(n) => Some(n.parse().map_err(|_| format!("COUNT '{n}' is not a number"))?),
        None => None,
    };
    let pattern = pattern.unwrap_or("agent.ind.event.#");
    let summary = console::tail(
        url,
        None,
        pattern,
        count,
        || eprintln!("tailing {pattern}"),
        |event| println!("{event}"),
    )
    .await
    .map_err(|e: ConsoleError| e.to_string())?;
    if count.is_some() {
        let rate = if summary.seconds > 0.0 {
            summary.events as f64 / summary.seconds
        } else {
            0.0
        };
        eprintln!(
            "{}",
            json!({"events": summary.events, "seconds": summary.seconds, "per_second": rate.round()})
        );
    }
    Ok(())
}
