//! QMF agent logic, independent of the AMQP connection: decode a request
//! ([`wire`]), decide the answer (locate here, [`query`], [`method`]) and
//! encode the reply messages. [`event`] turns bus events into data
//! indications.

pub mod error;
pub mod event;
pub mod method;
pub mod model;
pub mod predicate;
pub mod query;
pub mod wire;

use error::QmfError;
use model::NodeFacts;
use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};
use virtbus_actors::Core;
use wire::Request;

pub const VENDOR: &str = "virtbus";
pub const PRODUCT: &str = "agent";

/// One message the agent sends in reply (or as an indication).
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    pub opcode: &'static str,
    pub method: &'static str,
    pub content: Option<&'static str>,
    /// Set on every message of a multi-message reply but the last.
    pub partial: bool,
    pub body: Vec<u8>,
}

impl OutMessage {
    fn response(opcode: &'static str, content: Option<&'static str>, body: &Value) -> OutMessage {
        OutMessage {
            opcode,
            method: "response",
            content,
            partial: false,
            body: body.to_string().into_bytes(),
        }
    }

    pub fn exception(err: &QmfError) -> OutMessage {
        OutMessage::response(wire::OP_EXCEPTION, None, &err.to_body())
    }
}

/// The agent: identity, the core, and who may change things.
#[derive(Clone)]
pub struct Agent {
    pub core: Core,
    pub facts: NodeFacts,
    /// Broker users allowed to call mutating methods.
    pub writers: Vec<String>,
    pub instance: String,
    pub heartbeat_interval_s: u64,
    /// Agent start time, ns: `_create_ts` of every object.
    pub start_ns: u64,
}

impl Agent {
    pub fn new(core: Core, instance: String, writers: Vec<String>, heartbeat_interval_s: u64) -> Agent {
        let hostname = core.hostname().unwrap_or_else(|_| "localhost".into());
        let node = &core.connection().node;
        let facts = NodeFacts {
            agent_name: format!("{VENDOR}:{PRODUCT}:{instance}"),
            hostname,
            uri: core.uri().to_string(),
            hypervisor_type: node.hypervisor_type().to_string(),
            hypervisor_version: node.hypervisor_version().map(model::version_string).unwrap_or_default(),
        };
        Agent {
            core,
            facts,
            writers,
            instance,
            heartbeat_interval_s,
            start_ns: now_ns(),
        }
    }

    pub fn name(&self) -> &str {
        &self.facts.agent_name
    }

    /// Attributes locate predicates see and heartbeats carry.
    pub fn attributes(&self) -> Map<String, Value> {
        let value = json!({
            "_vendor": VENDOR,
            "_product": PRODUCT,
            "_instance": self.instance,
            "_name": self.facts.agent_name,
            "_epoch": self.core.epoch(),
            "_heartbeat_interval": self.heartbeat_interval_s,
            "_schema_updated": 0,
            "uri": self.facts.uri,
            "version": env!("CARGO_PKG_VERSION"),
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// The heartbeat indication body.
    pub fn heartbeat(&self) -> OutMessage {
        let mut values = self.attributes();
        values.insert("_timestamp".into(), json!(now_ns()));
        OutMessage {
            opcode: wire::OP_HEARTBEAT,
            method: "indication",
            content: None,
            partial: false,
            body: json!({ "_values": values }).to_string().into_bytes(),
        }
    }

    /// `agent.ind.heartbeat.<vendor>.<product>`.
    pub fn heartbeat_key(&self) -> String {
        format!(
            "agent.ind.heartbeat.{}.{}",
            wire::key_word(VENDOR),
            wire::key_word(PRODUCT)
        )
    }

    /// Answers one request. An empty list means "stay silent" (a locate
    /// whose predicate does not match, or a method for another agent).
    pub async fn process(
        &self,
        opcode: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        user_id: Option<&str>,
    ) -> Vec<OutMessage> {
        let request = match wire::decode_request(opcode, content_type, body) {
            Ok(r) => r,
            Err(err) => return vec![OutMessage::exception(&QmfError::BadRequest(err.to_string()))],
        };
        match request {
            Request::Locate(predicate) => {
                let attrs = self.attributes();
                if predicate.is_some_and(|p| !p.matches(&attrs)) {
                    return Vec::new();
                }
                vec![OutMessage::response(
                    wire::OP_LOCATE_RESPONSE,
                    None,
                    &json!({ "_values": attrs }),
                )]
            }
            Request::Query(q) => {
                let answer = self.query(&q).await;
                let chunks: Vec<&[Value]> = if answer.entries.is_empty() {
                    vec![&[]]
                } else {
                    answer.entries.chunks(query::BATCH).collect()
                };
                let last = chunks.len() - 1;
                chunks
                    .into_iter()
                    .enumerate()
                    .map(|(i, chunk)| {
                        let mut msg =
                            OutMessage::response(wire::OP_QUERY_RESPONSE, Some(answer.content), &json!(chunk));
                        msg.partial = i != last;
                        msg
                    })
                    .collect()
            }
            Request::Method(m) => {
                if m.agent_name.as_deref().is_some_and(|a| a != self.name()) {
                    return Vec::new();
                }
                match self.call(&m, user_id).await {
                    Ok(out) => vec![OutMessage::response(
                        wire::OP_METHOD_RESPONSE,
                        None,
                        &json!({ "_arguments": out }),
                    )],
                    Err(err) => vec![OutMessage::exception(&err)],
                }
            }
        }
    }
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
