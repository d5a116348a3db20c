//! A QMF console over the broker (the other side of docs/amqp.md): locate
//! agents, query objects, call methods, tail events. Used by `virtbus
//! console` and the `qmf_console` example. Requests go out with the URL's
//! user as `user_id` (RabbitMQ checks it) and replies come back through
//! RabbitMQ's direct reply-to.

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const REPLY_TO: &str = "amq.rabbitmq.reply-to";
/// How long a request waits for its (last) reply.
const REPLY_WAIT: Duration = Duration::from_secs(30);

/// Why a console operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("bad AMQP URL: {0}")]
    BadUrl(String),
    #[error("amqp: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("reply is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no reply from {0} within 30 s (is the agent name right? `locate` lists them)")]
    NoReply(String),
    #[error("_exception {0}")]
    Exception(Value),
}

/// One connection with a channel consuming direct reply-to.
pub struct Console {
    _conn: Connection,
    channel: Channel,
    replies: Consumer,
    user: String,
}

async fn connect(url: &str, tls_ca: Option<&str>) -> Result<Connection, ConsoleError> {
    Ok(match tls_ca {
        Some(pem) => {
            let tls = OwnedTLSConfig {
                identity: None,
                cert_chain: Some(pem.to_string()),
            };
            let runtime = lapin::runtime::default_runtime()?;
            Connection::connect_with_config(url, ConnectionProperties::default(), tls, runtime).await?
        }
        None => Connection::connect(url, ConnectionProperties::default()).await?,
    })
}

impl Console {
    /// Connects; `tls_ca` is PEM trusted for amqps:// besides the system roots.
    pub async fn connect(url: &str, tls_ca: Option<&str>) -> Result<Console, ConsoleError> {
        let user = url
            .parse::<AMQPUri>()
            .map_err(ConsoleError::BadUrl)?
            .authority
            .userinfo
            .username;
        let conn = connect(url, tls_ca).await?;
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

    async fn send(&self, exchange: &str, key: &str, opcode: &str, body: &Value, id: &str) -> Result<(), ConsoleError> {
        let mut headers = FieldTable::default();
        headers.insert("qmf.opcode".into(), AMQPValue::LongString(LongString::from(opcode)));
        headers.insert("method".into(), AMQPValue::LongString(LongString::from("request")));
        let props = BasicProperties::default()
            .with_content_type(ShortString::from(crate::qmf::wire::CONTENT_TYPE))
            .with_app_id(ShortString::from(crate::qmf::wire::APP_ID))
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
    async fn next(&mut self, limit: Duration) -> Result<Option<(String, bool, Value)>, ConsoleError> {
        let Ok(Some(delivery)) = tokio::time::timeout(limit, self.replies.next()).await else {
            return Ok(None);
        };
        let delivery = delivery?;
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        let opcode = match headers.inner().get(crate::qmf::wire::HEADER_OPCODE) {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            Some(AMQPValue::ShortString(s)) => s.as_str().to_string(),
            _ => String::new(),
        };
        let partial = headers.inner().contains_key(crate::qmf::wire::HEADER_PARTIAL);
        Ok(Some((opcode, partial, serde_json::from_slice(&delivery.data)?)))
    }

    /// Sends a request to one agent and gathers its reply messages (until
    /// one without `partial`); an `_exception` becomes an error.
    async fn request(&mut self, agent: &str, opcode: &str, body: &Value) -> Result<Vec<Value>, ConsoleError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.send(crate::qmf::wire::DIRECT_EXCHANGE, agent, opcode, body, &id)
            .await?;
        let mut out = Vec::new();
        loop {
            let (op, partial, body) = self
                .next(REPLY_WAIT)
                .await?
                .ok_or_else(|| ConsoleError::NoReply(agent.to_string()))?;
            if op == crate::qmf::wire::OP_EXCEPTION {
                return Err(ConsoleError::Exception(body["_values"].clone()));
            }
            out.push(body);
            if !partial {
                return Ok(out);
            }
        }
    }

    /// The attributes (`_values`) of every agent that answers a locate
    /// within `wait`.
    pub async fn locate(&mut self, wait: Duration) -> Result<Vec<Value>, ConsoleError> {
        self.send(
            crate::qmf::wire::TOPIC_EXCHANGE,
            "console.request.agent_locate",
            crate::qmf::wire::OP_LOCATE_REQUEST,
            &json!({}),
            "locate",
        )
        .await?;
        let mut agents = Vec::new();
        let until = Instant::now() + wait;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.next(left).await? {
                Some((_, _, body)) => agents.push(body["_values"].clone()),
                None => break,
            }
        }
        Ok(agents)
    }

    /// Every object of `class` (data maps) the agent has.
    pub async fn objects(&mut self, agent: &str, class: &str) -> Result<Vec<Value>, ConsoleError> {
        let query = json!({"_what": "OBJECT", "_schema_id": {"_package_name": "org.libvirt", "_class_name": class}});
        let batches = self.request(agent, crate::qmf::wire::OP_QUERY_REQUEST, &query).await?;
        Ok(batches
            .into_iter()
            .filter_map(|b| match b {
                Value::Array(list) => Some(list),
                _ => None,
            })
            .flatten()
            .collect())
    }

    /// Calls `method` on `object` (an object name such as `domain/UUID`);
    /// returns the out arguments.
    pub async fn call(
        &mut self,
        agent: &str,
        object: &str,
        method: &str,
        arguments: Value,
    ) -> Result<Value, ConsoleError> {
        let body = json!({
            "_object_id": {"_agent_name": agent, "_object_name": object},
            "_method_name": method,
            "_arguments": arguments,
        });
        let reply = self.request(agent, crate::qmf::wire::OP_METHOD_REQUEST, &body).await?;
        Ok(reply.first().map(|r| r["_arguments"].clone()).unwrap_or(Value::Null))
    }
}

/// What [`tail`] saw.
#[derive(Debug, Clone, Copy)]
pub struct TailSummary {
    pub events: u64,
    /// From the first event to the last.
    pub seconds: f64,
}

/// Binds an exclusive queue to the topic exchange with `pattern`, calls
/// `ready` once it is bound, then `on_event` with each event's `_values`
/// until `count` events (forever when None).
pub async fn tail(
    url: &str,
    tls_ca: Option<&str>,
    pattern: &str,
    count: Option<u64>,
    ready: impl FnOnce(),
    mut on_event: impl FnMut(&Value),
) -> Result<TailSummary, ConsoleError> {
    let conn = connect(url, tls_ca).await?;
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
            crate::qmf::wire::TOPIC_EXCHANGE.into(),
            pattern.into(),
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
    ready();
    let mut seen = 0u64;
    let mut first: Option<Instant> = None;
    while count.is_none_or(|n| seen < n) {
        let Some(delivery) = events.next().await else {
            break;
        };
        let delivery = delivery?;
        first.get_or_insert_with(Instant::now);
        seen += 1;
        let body: Value = serde_json::from_slice(&delivery.data)?;
        for event in body.as_array().into_iter().flatten() {
            on_event(&event["_values"]);
        }
    }
    Ok(TailSummary {
        events: seen,
        seconds: first.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0),
    })
}
