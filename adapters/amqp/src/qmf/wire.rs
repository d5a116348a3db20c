//! The wire codec: QMF opcodes, header names and request decoding
//! (docs/amqp.md §2). Kept apart from the logic that decides the answers;
//! the fuzz target `amqp_request` drives [`decode_request`].

use super::predicate::{Predicate, PredicateError};
use serde_json::{Map, Value};

pub const DIRECT_EXCHANGE: &str = "qmf.default.direct";
pub const TOPIC_EXCHANGE: &str = "qmf.default.topic";
pub const APP_ID: &str = "qmf2";
pub const CONTENT_TYPE: &str = "application/json";
pub const PACKAGE: &str = "org.libvirt";

pub const HEADER_OPCODE: &str = "qmf.opcode";
pub const HEADER_METHOD: &str = "method";
pub const HEADER_AGENT: &str = "qmf.agent";
pub const HEADER_CONTENT: &str = "qmf.content";
pub const HEADER_PARTIAL: &str = "partial";

pub const OP_LOCATE_REQUEST: &str = "_agent_locate_request";
pub const OP_LOCATE_RESPONSE: &str = "_agent_locate_response";
pub const OP_HEARTBEAT: &str = "_agent_heartbeat_indication";
pub const OP_QUERY_REQUEST: &str = "_query_request";
pub const OP_QUERY_RESPONSE: &str = "_query_response";
pub const OP_METHOD_REQUEST: &str = "_method_request";
pub const OP_METHOD_RESPONSE: &str = "_method_response";
pub const OP_EXCEPTION: &str = "_exception";
pub const OP_DATA_INDICATION: &str = "_data_indication";

/// Request bodies above this are refused unparsed.
pub const MAX_BODY: usize = 16 << 20;

/// A decoded console request.
#[derive(Debug, Clone)]
pub enum Request {
    Locate(Option<Predicate>),
    Query(QueryRequest),
    Method(MethodRequest),
}

/// What a `_query_request` asks for (`_what`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Object,
    ObjectId,
    SchemaId,
    Schema,
}

#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub target: Target,
    /// `_schema_id._package_name`, when given.
    pub package: Option<String>,
    /// `_schema_id._class_name`, when given.
    pub class: Option<String>,
    /// `_object_id._object_name`, when given.
    pub object_name: Option<String>,
    /// `_object_id._agent_name`, when given.
    pub agent_name: Option<String>,
    pub predicate: Option<Predicate>,
}

#[derive(Debug, Clone)]
pub struct MethodRequest {
    pub object_name: String,
    pub agent_name: Option<String>,
    pub method: String,
    pub arguments: Map<String, Value>,
}

/// Why a request could not be decoded; answered with `_exception` code 3.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("request has no qmf.opcode header")]
    NoOpcode,
    #[error("unknown qmf.opcode '{0}'")]
    UnknownOpcode(String),
    #[error("content_type must be application/json, got '{0}'")]
    ContentType(String),
    #[error("request body of {0} bytes exceeds the limit of {MAX_BODY}")]
    TooLarge(usize),
    #[error("request body is not valid JSON: {0}")]
    Json(String),
    #[error("{opcode} body must be a JSON object")]
    NotAnObject { opcode: &'static str },
    #[error("field '{field}' must be {expected}")]
    Field {
        field: &'static str,
        expected: &'static str,
    },
    #[error("unknown _what '{0}' (expected OBJECT, OBJECT_ID, SCHEMA_ID or SCHEMA)")]
    UnknownTarget(String),
    #[error("invalid _where: {0}")]
    Predicate(#[from] PredicateError),
}

/// Decodes a request from its `qmf.opcode` header, `content_type` and body.
/// A missing content type is accepted (some clients leave it out).
pub fn decode_request(opcode: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Result<Request, DecodeError> {
    if body.len() > MAX_BODY {
        return Err(DecodeError::TooLarge(body.len()));
    }
    if let Some(ct) = content_type {
        if !ct.eq_ignore_ascii_case(CONTENT_TYPE) && !ct.to_ascii_lowercase().starts_with("application/json;") {
            return Err(DecodeError::ContentType(ct.chars().take(64).collect()));
        }
    }
    let opcode = opcode.ok_or(DecodeError::NoOpcode)?;
    let parse = || -> Result<Value, DecodeError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Map::new()));
        }
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))
    };
    match opcode {
        OP_LOCATE_REQUEST => {
            let value = parse()?;
            let predicate = match &value {
                Value::Array(list) if list.is_empty() => None,
                Value::Array(_) => Some(Predicate::parse(&value)?),
                Value::Object(map) => match map.get("_where") {
                    Some(w) => Some(Predicate::parse(w)?),
                    None => None,
                },
                Value::Null => None,
                _ => {
                    return Err(DecodeError::NotAnObject {
                        opcode: OP_LOCATE_REQUEST,
                    })
                }
            };
            Ok(Request::Locate(predicate))
        }
        OP_QUERY_REQUEST => {
            let value = parse()?;
            let map = value.as_object().ok_or(DecodeError::NotAnObject {
                opcode: OP_QUERY_REQUEST,
            })?;
            decode_query(map).map(Request::Query)
        }
        OP_METHOD_REQUEST => {
            let value = parse()?;
            let map = value.as_object().ok_or(DecodeError::NotAnObject {
                opcode: OP_METHOD_REQUEST,
            })?;
            decode_method(map).map(Request::Method)
        }
        other => Err(DecodeError::UnknownOpcode(other.chars().take(64).collect())),
    }
}

fn decode_query(map: &Map<String, Value>) -> Result<QueryRequest, DecodeError> {
    let what = opt_str(map, "_what")?.unwrap_or("OBJECT");
    let target = match what {
        "OBJECT" => Target::Object,
        "OBJECT_ID" => Target::ObjectId,
        "SCHEMA_ID" => Target::SchemaId,
        "SCHEMA" => Target::Schema,
        other => return Err(DecodeError::UnknownTarget(other.chars().take(64).collect())),
    };
    let schema_id = opt_map(map, "_schema_id")?;
    let object_id = opt_map(map, "_object_id")?;
    let predicate = match map.get("_where") {
        Some(w) => Some(Predicate::parse(w)?),
        None => None,
    };
    Ok(QueryRequest {
        target,
        package: schema_id
            .map(|s| opt_str(s, "_package_name"))
            .transpose()?
            .flatten()
            .map(String::from),
        class: schema_id
            .map(|s| opt_str(s, "_class_name"))
            .transpose()?
            .flatten()
            .map(String::from),
        object_name: object_id
            .map(|o| opt_str(o, "_object_name"))
            .transpose()?
            .flatten()
            .map(String::from),
        agent_name: object_id
            .map(|o| opt_str(o, "_agent_name"))
            .transpose()?
            .flatten()
            .map(String::from),
        predicate,
    })
}

fn decode_method(map: &Map<String, Value>) -> Result<MethodRequest, DecodeError> {
    let object_id = opt_map(map, "_object_id")?.ok_or(DecodeError::Field {
        field: "_object_id",
        expected: "an object with _object_name",
    })?;
    let object_name = opt_str(object_id, "_object_name")?.ok_or(DecodeError::Field {
        field: "_object_id._object_name",
        expected: "a string",
    })?;
    let method = opt_str(map, "_method_name")?.ok_or(DecodeError::Field {
        field: "_method_name",
        expected: "a string",
    })?;
    let arguments = opt_map(map, "_arguments")?.cloned().unwrap_or_default();
    Ok(MethodRequest {
        object_name: object_name.to_string(),
        agent_name: opt_str(object_id, "_agent_name")?.map(String::from),
        method: method.to_string(),
        arguments,
    })
}

fn opt_str<'a>(map: &'a Map<String, Value>, field: &'static str) -> Result<Option<&'a str>, DecodeError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DecodeError::Field {
            field,
            expected: "a string",
        }),
    }
}

fn opt_map<'a>(
    map: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a Map<String, Value>>, DecodeError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(DecodeError::Field {
            field,
            expected: "an object",
        }),
    }
}

/// Makes a vendor/product/instance safe as one routing-key word.
pub fn key_word(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, '.' | '*' | '#') { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_requests() {
        let r = decode_request(Some(OP_LOCATE_REQUEST), Some(CONTENT_TYPE), b"").map_err(|e| e.to_string());
        assert!(matches!(r, Ok(Request::Locate(None))));
        let r = decode_request(
            Some(OP_QUERY_REQUEST),
            None,
            br#"{"_what":"OBJECT","_schema_id":{"_class_name":"domain"},"_where":["eq","name","test"]}"#,
        );
        match r {
            Ok(Request::Query(q)) => {
                assert_eq!(q.target, Target::Object);
                assert_eq!(q.class.as_deref(), Some("domain"));
                assert!(q.predicate.is_some());
            }
            other => panic!("{other:?}"),
        }
        let r = decode_request(
            Some(OP_METHOD_REQUEST),
            Some(CONTENT_TYPE),
            br#"{"_object_id":{"_object_name":"node"},"_method_name":"getVersion"}"#,
        );
        assert!(matches!(r, Ok(Request::Method(m)) if m.method == "getVersion" && m.object_name == "node"));
    }

    #[test]
    fn refuses_bad_input() {
        let cases: Vec<(Option<&str>, Option<&str>, &[u8])> = vec![
            (None, None, b"{}"),
            (Some("_bogus"), None, b"{}"),
            (Some(OP_QUERY_REQUEST), Some("text/plain"), b"{}"),
            (Some(OP_QUERY_REQUEST), None, b"{\"_what\":"),
            (Some(OP_QUERY_REQUEST), None, b"\xff\xfe"),
            (Some(OP_QUERY_REQUEST), None, b"[1,2]"),
            (Some(OP_QUERY_REQUEST), None, br#"{"_what":"EVERYTHING"}"#),
            (Some(OP_QUERY_REQUEST), None, br#"{"_what":5}"#),
            (Some(OP_QUERY_REQUEST), None, br#"{"_where":["xor"]}"#),
            (Some(OP_METHOD_REQUEST), None, br#"{"_method_name":"create"}"#),
            (
                Some(OP_METHOD_REQUEST),
                None,
                br#"{"_object_id":{"_object_name":7},"_method_name":"x"}"#,
            ),
        ];
        for (op, ct, body) in cases {
            assert!(
                decode_request(op, ct, body).is_err(),
                "{op:?} {ct:?} {:?}",
                String::from_utf8_lossy(body)
            );
        }
        let big = vec![b' '; MAX_BODY + 1];
        assert_eq!(
            decode_request(Some(OP_QUERY_REQUEST), None, &big).err(),
            Some(DecodeError::TooLarge(MAX_BODY + 1))
        );
    }

    #[test]
    fn routing_words() {
        assert_eq!(key_word("host.example.com"), "host_example_com");
        assert_eq!(key_word("a*b#c"), "a_b_c");
    }
}
