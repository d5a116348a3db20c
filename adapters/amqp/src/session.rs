//! The AMQP side: one broker connection at a time. [`run`] connects,
//! declares the QMF exchanges and the agent's queue, then serves requests,
//! publishes heartbeats and drains the event outbox with publisher
//! confirms. Any failure ends the session; `run` reconnects with backoff
//! and the outbox replays what was not confirmed.

use crate::outbox::{Outbox, Queued};
use crate::qmf::{wire, Agent, OutMessage};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind, PublisherConfirm};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::mpsc;

/// Events published as one window; the outbox releases a window at once.
const CONFIRM_WINDOW: usize = 1024;
/// Windows published and not yet confirmed, at most.
const WINDOWS_IN_FLIGHT: usize = 8;
/// Unacked requests the broker may hand the agent at once.
const PREFETCH: u16 = 64;
/// Replies kept for redelivered requests.
const REPLY_CACHE: usize = 1024;
/// Idle time after which the broker deletes the agent's request queue.
const QUEUE_EXPIRES_MS: i32 = 600_000;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("amqp: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("broker refused event {seq} (nack)")]
    Nacked { seq: u64 },
    #[error("request consumer was cancelled")]
    ConsumerEnded,
}

/// State that outlives one connection.
pub struct Shared {
    pub agent: Agent,
    pub url: String,
    /// PEM certificates trusted for `amqps://` besides the system roots.
    pub tls_ca: Option<String>,
    pub outbox: Arc<Outbox>,
    replies: Mutex<ReplyCache>,
}

impl Shared {
    pub fn new(agent: Agent, url: String, tls_ca: Option<String>, outbox: Arc<Outbox>) -> Shared {
        Shared {
            agent,
            url,
            tls_ca,
            outbox,
            replies: Mutex::new(ReplyCache::default()),
        }
    }
}

/// Connects and serves until the task is aborted.
pub async fn run(shared: Arc<Shared>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let mut connected = false;
        match session(&shared, &mut connected).await {
            Ok(()) => return,
            Err(err) => {
                if connected {
                    backoff = BACKOFF_MIN;
                }
                tracing::warn!(
                    adapter = "amqp",
                    error = %err,
                    unconfirmed_events = shared.outbox.len(),
                    retry_in_ms = backoff.as_millis() as u64,
                    "amqp: broker connection lost or refused; reconnecting"
                );
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn session(shared: &Arc<Shared>, connected: &mut bool) -> Result<(), SessionError> {
    // amqps:// verifies the broker's certificate and host name against the
    // system roots, plus the configured CA file if any.
    let conn = match &shared.tls_ca {
        Some(pem) => {
            let tls = OwnedTLSConfig {
                identity: None,
                cert_chain: Some(pem.clone()),
            };
            let runtime = lapin::runtime::default_runtime()?;
            Connection::connect_with_config(&shared.url, ConnectionProperties::default(), tls, runtime).await?
        }
        None => Connection::connect(&shared.url, ConnectionProperties::default()).await?,
    };
    let result = serve(shared, &conn, connected).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.close(200, "reconnecting".into())).await;
    result
}

async fn serve(shared: &Arc<Shared>, conn: &Connection, connected: &mut bool) -> Result<(), SessionError> {
    let agent = &shared.agent;
    let requests = conn.create_channel().await?;
    let events = conn.create_channel().await?;
    events.confirm_select(ConfirmSelectOptions::default()).await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    requests
        .exchange_declare(
            wire::DIRECT_EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    requests
        .exchange_declare(
            wire::TOPIC_EXCHANGE.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    let queue = format!("qmf.agent.{}", agent.name());
    // Not auto-delete: the queue (and requests not yet acked) must outlive a
    // dropped connection so the broker redelivers them after the reconnect;
    // it expires when no agent used it for QUEUE_EXPIRES_MS.
    let mut queue_args = FieldTable::default();
    queue_args.insert("x-expires".into(), AMQPValue::LongInt(QUEUE_EXPIRES_MS));
    requests
        .queue_declare(queue.as_str().into(), QueueDeclareOptions::default(), queue_args)
        .await?;
    for (exchange, key) in [
        (wire::DIRECT_EXCHANGE, agent.name()),
        (wire::TOPIC_EXCHANGE, "console.#"),
    ] {
        requests
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    requests.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
    let consumer = requests
        .basic_consume(
            queue.as_str().into(),
            "virtbus-agent".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    *connected = true;
    tracing::info!(
        adapter = "amqp",
        agent = agent.name(),
        queue = %queue,
        unconfirmed_events = shared.outbox.len(),
        "amqp: connected to the broker"
    );

    let serve_requests = async {
        let mut consumer = consumer;
        while let Some(delivery) = consumer.next().await {
            let delivery = delivery?;
            let shared = shared.clone();
            let channel = requests.clone();
            tokio::spawn(async move { handle(shared, channel, delivery).await });
        }
        Err::<(), SessionError>(SessionError::ConsumerEnded)
    };
    tokio::select! {
        r = serve_requests => r,
        r = publish_events(&shared.outbox, &events) => r,
        r = heartbeats(agent, &requests) => r,
    }
}

/// Drains the outbox: windows of events published back to back, their
/// confirms awaited in order by a second loop, up to `WINDOWS_IN_FLIGHT`
/// windows ahead; an event leaves the outbox when its window was confirmed.
async fn publish_events(outbox: &Outbox, channel: &Channel) -> Result<(), SessionError> {
    let (windows, mut confirmed) = mpsc::channel::<(u64, Vec<(u64, PublisherConfirm)>)>(WINDOWS_IN_FLIGHT);
    let publisher = async move {
        // Highest outbox id published on this connection; a new connection
        // starts again from the oldest unconfirmed event.
        let mut published = 0;
        loop {
            let window = outbox.peek_after(published, CONFIRM_WINDOW);
            let Some(last) = window.last() else {
                outbox.changed().await;
                continue;
            };
            let last_id = last.id;
            let confirms = publish_window(channel, &window).await?;
            published = last_id;
            if windows.send((last_id, confirms)).await.is_err() {
                return Ok::<(), SessionError>(());
            }
        }
    };
    let confirmer = async {
        while let Some((last_id, confirms)) = confirmed.recv().await {
            for (seq, confirm) in confirms {
                if confirm.await?.is_nack() {
                    return Err(SessionError::Nacked { seq });
                }
            }
            outbox.confirm(last_id);
        }
        Ok(())
    };
    tokio::try_join!(publisher, confirmer).map(|_| ())
}

/// Publishes one window of events in outbox order and returns their
/// confirms. lapin queues a message's frames (and takes its confirm's
/// delivery tag) when its publish future is first polled, then waits until
/// the frames were written; so each future is polled once, in order, before
/// any is awaited: the order on the wire is the outbox order, and the window
/// costs one trip through lapin's I/O loop instead of one per event.
async fn publish_window(channel: &Channel, window: &[Queued]) -> Result<Vec<(u64, PublisherConfirm)>, SessionError> {
    type Publish<'a> = Pin<Box<dyn Future<Output = lapin::Result<PublisherConfirm>> + Send + 'a>>;
    let mut publishes: Vec<(u64, Publish<'_>)> = window
        .iter()
        .map(|queued| {
            let ind = &queued.indication;
            let props = properties(wire::OP_DATA_INDICATION, "indication", Some("_event"), false, None)
                .with_delivery_mode(2)
                .with_message_id(ind.message_id.as_str().into());
            let publish: Publish<'_> = Box::pin(channel.basic_publish(
                wire::TOPIC_EXCHANGE.into(),
                ind.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &ind.body,
                props,
            ));
            (ind.seq, publish)
        })
        .collect();
    let mut first_results: Vec<Option<lapin::Result<PublisherConfirm>>> = Vec::with_capacity(publishes.len());
    std::future::poll_fn(|cx| {
        for (_, publish) in publishes.iter_mut() {
            first_results.push(match publish.as_mut().poll(cx) {
                Poll::Ready(result) => Some(result),
                Poll::Pending => None,
            });
        }
        Poll::Ready(())
    })
    .await;
    let mut confirms = Vec::with_capacity(publishes.len());
    for ((seq, publish), first) in publishes.into_iter().zip(first_results) {
        let confirm = match first {
            Some(result) => result?,
            None => publish.await?,
        };
        confirms.push((seq, confirm));
    }
    Ok(confirms)
}

async fn heartbeats(agent: &Agent, channel: &Channel) -> Result<(), SessionError> {
    let mut tick = tokio::time::interval(Duration::from_secs(agent.heartbeat_interval_s.max(1)));
    let key = agent.heartbeat_key();
    loop {
        tick.tick().await;
        let msg = agent.heartbeat();
        let props = properties(msg.opcode, msg.method, None, false, Some(agent.name()));
        channel
            .basic_publish(
                wire::TOPIC_EXCHANGE.into(),
                key.as_str().into(),
                BasicPublishOptions::default(),
                &msg.body,
                props,
            )
            .await?;
    }
}

/// Answers one request and acks it after the reply went out.
async fn handle(shared: Arc<Shared>, channel: Channel, delivery: Delivery) {
    let props = &delivery.properties;
    let opcode = header_str(props.headers().as_ref(), wire::HEADER_OPCODE);
    let content_type = props.content_type().as_ref().map(|s| s.as_str());
    let user_id = props.user_id().as_ref().map(|s| s.as_str());
    let correlation_id = props.correlation_id().as_ref().map(|s| s.as_str().to_string());
    let reply_to = props.reply_to().as_ref().map(|s| s.as_str().to_string());

    let cached = match (&correlation_id, delivery.redelivered) {
        (Some(id), true) => shared.replies.lock().get(id),
        _ => None,
    };
    let replies = match cached {
        Some(replies) => {
            tracing::info!(adapter = "amqp", correlation_id = ?correlation_id, "amqp: redelivered request answered from the reply cache");
            replies
        }
        None => {
            let replies = shared
                .agent
                .process(opcode.as_deref(), content_type, &delivery.data, user_id)
                .await;
            if let Some(id) = &correlation_id {
                shared.replies.lock().put(id.clone(), replies.clone());
            }
            replies
        }
    };
    match reply_to {
        Some(reply_to) => {
            for msg in &replies {
                let mut props = properties(
                    msg.opcode,
                    msg.method,
                    msg.content,
                    msg.partial,
                    Some(shared.agent.name()),
                );
                if let Some(id) = &correlation_id {
                    props = props.with_correlation_id(id.as_str().into());
                }
                let published = channel
                    .basic_publish(
                        "".into(),
                        reply_to.as_str().into(),
                        BasicPublishOptions::default(),
                        &msg.body,
                        props,
                    )
                    .await;
                if let Err(err) = published {
                    tracing::warn!(adapter = "amqp", error = %err, "amqp: reply could not be published");
                    return;
                }
            }
        }
        None if !replies.is_empty() => {
            tracing::warn!(
                adapter = "amqp",
                opcode = opcode.as_deref().unwrap_or("-"),
                "amqp: request without reply_to; reply dropped"
            );
        }
        None => {}
    }
    if let Err(err) = delivery.ack(BasicAckOptions::default()).await {
        tracing::warn!(adapter = "amqp", error = %err, "amqp: request could not be acked");
    }
}

/// The AMQP properties of a QMF message.
fn properties(
    opcode: &str,
    method: &str,
    content: Option<&str>,
    partial: bool,
    agent: Option<&str>,
) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        wire::HEADER_OPCODE.into(),
        AMQPValue::LongString(LongString::from(opcode)),
    );
    headers.insert(
        wire::HEADER_METHOD.into(),
        AMQPValue::LongString(LongString::from(method)),
    );
    if let Some(agent) = agent {
        headers.insert(
            wire::HEADER_AGENT.into(),
            AMQPValue::LongString(LongString::from(agent)),
        );
    }
    if let Some(content) = content {
        headers.insert(
            wire::HEADER_CONTENT.into(),
            AMQPValue::LongString(LongString::from(content)),
        );
    }
    if partial {
        headers.insert(wire::HEADER_PARTIAL.into(), AMQPValue::Boolean(true));
    }
    BasicProperties::default()
        .with_content_type(ShortString::from(wire::CONTENT_TYPE))
        .with_app_id(ShortString::from(wire::APP_ID))
        .with_headers(headers)
}

/// A string header (pika sends long strings; short strings are accepted too).
fn header_str(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    let value = headers?.inner().get(name)?;
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        AMQPValue::ByteArray(b) => Some(String::from_utf8_lossy(b.as_slice()).into_owned()),
        _ => None,
    }
}

/// Replies by correlation id, oldest evicted first.
#[derive(Default)]
struct ReplyCache {
    map: HashMap<String, Vec<OutMessage>>,
    order: VecDeque<String>,
}

impl ReplyCache {
    fn get(&self, id: &str) -> Option<Vec<OutMessage>> {
        self.map.get(id).cloned()
    }

    fn put(&mut self, id: String, replies: Vec<OutMessage>) {
        if self.map.insert(id.clone(), replies).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > REPLY_CACHE {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}
