//! A QMF console for virtbus agents in Rust, on lapin (docs/amqp.md).
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
//! Replies come back through RabbitMQ's direct reply-to; requests carry the
//! URL's user as `user_id`.

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const DIRECT: &str = "qmf.default.direct";
const TOPIC: &str = "qmf.default.topic";
const REPLY_TO: &str = "amq.rabbitmq.reply-to";

type Error = Box<dyn std::error::Error>;

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
    let result = match args[1].as_str() {
        "locate" => locate(&args[0]).await,
        "list" if args.len() == 3 => list(&args[0], &args[2]).await,
        "call" if (5..=6).contains(&args.len()) => {
            call(&args[0], &args[2], &args[3], &args[4], args.get(5).map(String::as_str)).await
        }
        "tail" if args.len() <= 4 => tail(&args[0], args.get(2).map(String::as_str), args.get(3)).await,
        _ => usage(),
    };
    if let Err(err) = result {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

/// A connection with a channel consuming direct reply-to.
struct Console {
    _conn: Connection,
    channel: Channel,
    replies: Consumer,
    /// The URL's user, sent as `user_id` (RabbitMQ checks it), so mutating
    /// methods work for users in the agent's `[amqp] writers`.
    user: String,
}

impl Console {
    async fn connect(url: &str) -> Result<Console, Error> {
        let user = url
            .parse::<AMQPUri>()
            .map_err(|e| format!("bad AMQP URL: {e}"))?
            .authority
            .userinfo
            .username;
        let conn = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        let replies = channel
            .basic_consume(
                REPLY_TO.into(),
                "qmf-console".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(Console {
            _conn: conn,
            channel,
            replies,
            user,
        })
    }

    async fn send(&self, exchange: &str, key: &str, opcode: &str, body: &Value, id: &str) -> Result<(), Error> {
        let mut headers = FieldTable::default();
        headers.insert("qmf.opcode".into(), AMQPValue::LongString(LongString::from(opcode)));
        headers.insert("method".into(), AMQPValue::LongString(LongString::from("request")));
        let props = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_app_id(ShortString::from("qmf2"))
            .with_reply_to(ShortString::from(REPLY_TO))
            .with_correlation_id(ShortString::from(id))
            .with_user_id(ShortString::from(self.user.as_str()))
            .with_headers(headers);
        self.channel
            .basic_publish(
                exchange.into(),
                key.into(),
                BasicPublishOptions::default(),
                body.to_string().as_bytes(),
                props,
            )
            .await?
            .await?;
        Ok(())
    }

    /// The next reply within `limit`: (opcode, partial, body).
    async fn next(&mut self, limit: Duration) -> Result<Option<(String, bool, Value)>, Error> {
        let Ok(delivery) = tokio::time::timeout(limit, self.replies.next()).await else {
            return Ok(None);
        };
        let delivery = delivery.ok_or("reply consumer ended")??;
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        let opcode = match headers.inner().get("qmf.opcode") {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            Some(AMQPValue::ShortString(s)) => s.as_str().to_string(),
            _ => String::new(),
        };
        let partial = headers.inner().contains_key("partial");
        Ok(Some((opcode, partial, serde_json::from_slice(&delivery.data)?)))
    }

    /// Sends a request and gathers its reply messages (until one without
    /// `partial`); an `_exception` becomes an error.
    async fn request(&mut self, agent: &str, opcode: &str, body: &Value) -> Result<Vec<Value>, Error> {
        self.send(DIRECT, agent, opcode, body, &format!("{opcode}-{}", std::process::id()))
            .await?;
        let mut out = Vec::new();
        loop {
            let (op, partial, body) = self
                .next(Duration::from_secs(30))
                .await?
                .ok_or_else(|| format!("no reply from {agent} within 30 s"))?;
            if op == "_exception" {
                return Err(format!("_exception {}", body["_values"]).into());
            }
            out.push(body);
            if !partial {
                return Ok(out);
            }
        }
    }
}

async fn locate(url: &str) -> Result<(), Error> {
    let mut console = Console::connect(url).await?;
    console
        .send(
            TOPIC,
            "console.request.agent_locate",
            "_agent_locate_request",
            &json!({}),
            "locate",
        )
        .await?;
    // Every agent answers once; collect for two seconds.
    while let Some((_, _, body)) = console.next(Duration::from_secs(2)).await? {
        let v = &body["_values"];
        println!(
            "{}\t{}\tepoch {}",
            v["_name"].as_str().unwrap_or("?"),
            v["uri"].as_str().unwrap_or(""),
            v["_epoch"]
        );
    }
    Ok(())
}

async fn list(url: &str, agent: &str) -> Result<(), Error> {
    let mut console = Console::connect(url).await?;
    let query = json!({"_what": "OBJECT", "_schema_id": {"_package_name": "org.libvirt", "_class_name": "domain"}});
    let batches = console.request(agent, "_query_request", &query).await?;
    println!("{:<24} {:<12} OBJECT", "NAME", "STATE");
    for object in batches.iter().filter_map(Value::as_array).flatten() {
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
    let mut console = Console::connect(url).await?;
    let arguments: Value = match args {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("arguments are not JSON: {e}"))?,
        None => json!({}),
    };
    let body = json!({
        "_object_id": {"_agent_name": agent, "_object_name": object},
        "_method_name": method,
        "_arguments": arguments,
    });
    let reply = console.request(agent, "_method_request", &body).await?;
    let out = reply.first().map(|r| r["_arguments"].clone()).unwrap_or(Value::Null);
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn tail(url: &str, pattern: Option<&str>, count: Option<&String>) -> Result<(), Error> {
    let count: Option<u64> = match count {
        Some(n) => Some(n.parse().map_err(|_| format!("COUNT '{n}' is not a number"))?),
        None => None,
    };
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.name().clone(),
            TOPIC.into(),
            pattern.unwrap_or("agent.ind.event.#").into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut events = channel
        .basic_consume(
            queue.name().clone(),
            "qmf-console-tail".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    eprintln!("tailing {}", pattern.unwrap_or("agent.ind.event.#"));
    let mut seen = 0u64;
    let mut first: Option<Instant> = None;
    while let Some(delivery) = events.next().await {
        let delivery = delivery?;
        first.get_or_insert_with(Instant::now);
        seen += 1;
        let body: Value = serde_json::from_slice(&delivery.data)?;
        for event in body.as_array().into_iter().flatten() {
            println!("{}", event["_values"]);
        }
        if count.is_some_and(|n| seen >= n) {
            let seconds = first.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
            let rate = if seconds > 0.0 { seen as f64 / seconds } else { 0.0 };
            eprintln!(
                "{}",
                json!({"events": seen, "seconds": seconds, "per_second": rate.round()})
            );
            break;
        }
    }
    Ok(())
}
