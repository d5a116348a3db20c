//! Bus events as QMF data indications (docs/amqp.md §7): the routing key
//! subscribers bind to and the JSON body with `seq`/`epoch`.

use super::model;
use super::wire::key_word;
use super::{Agent, PRODUCT, VENDOR};
use serde_json::json;
use virtbus_actors::{Event, EventBody};

/// QMF severity numbers used for events.
const SEVERITY_ERROR: u8 = 3;
const SEVERITY_NOTICE: u8 = 5;

/// An event ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Indication {
    pub seq: u64,
    pub epoch: u64,
    pub routing_key: String,
    pub message_id: String,
    pub body: Vec<u8>,
}

impl Agent {
    pub fn indication(&self, event: &Event) -> Indication {
        let agent = self.facts.agent_name.as_str();
        let (class, uuid, name, event_name, event_code, detail) = match &event.body {
            EventBody::Domain {
                uuid,
                name,
                event,
                detail,
                detail_code,
                ..
            } => (
                "domain",
                *uuid,
                name,
                event.name(),
                event.number(),
                Some((*detail, *detail_code)),
            ),
            EventBody::Pool { uuid, name, event } => ("pool", *uuid, name, event.name(), event.number(), None),
            EventBody::Network { uuid, name, event } => ("network", *uuid, name, event.name(), event.number(), None),
        };
        let (severity, severity_word) = if event_name == "CRASHED" {
            (SEVERITY_ERROR, "error")
        } else {
            (SEVERITY_NOTICE, "notice")
        };
        let object_name = format!("{class}/{uuid}");
        let mut values = json!({
            "object_id": model::object_id(agent, &object_name),
            "class": class,
            "uuid": uuid.to_string(),
            "name": name,
            "event": event_name,
            "event_code": event_code,
            "seq": event.seq,
            "epoch": event.epoch,
            "timestamp": event.timestamp_ns,
            "time": event.time,
        });
        if let (Some((detail, code)), Some(map)) = (detail, values.as_object_mut()) {
            map.insert("detail".into(), json!(detail));
            map.insert("detail_code".into(), json!(code));
        }
        let body = json!([{
            "_schema_id": model::schema_id(&format!("{class}Event")),
            "_timestamp": event.timestamp_ns,
            "_severity": severity,
            "_values": values,
        }]);
        Indication {
            seq: event.seq,
            epoch: event.epoch,
            routing_key: format!(
                "agent.ind.event.org_libvirt.{class}.{}.{severity_word}.{}.{}.{}",
                event_name.to_ascii_lowercase(),
                key_word(VENDOR),
                key_word(PRODUCT),
                key_word(&self.instance)
            ),
            message_id: format!("{}-{}", event.epoch, event.seq),
            body: body.to_string().into_bytes(),
        }
    }
}
