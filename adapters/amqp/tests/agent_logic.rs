//! The QMF logic in-process, without a broker: a real core on
//! `test:///default` and [`Agent::process`] fed raw request bodies, as the
//! AMQP session feeds them. Complements the pika end-to-end tests.

use serde_json::{json, Value};
use virtbus_actors::{Core, CoreConfig};
use virtbus_amqp::qmf::{wire, Agent, OutMessage};

fn agent(writers: &[&str]) -> Agent {
    let core = Core::start(CoreConfig::default()).expect("core starts");
    Agent::new(core, "unit".into(), writers.iter().map(|w| w.to_string()).collect(), 5)
}

fn body(msg: &OutMessage) -> Value {
    serde_json::from_slice(&msg.body).expect("reply body is JSON")
}

async fn method(a: &Agent, object: &str, name: &str, args: Value, user: Option<&str>) -> OutMessage {
    let req = json!({"_object_id": {"_object_name": object}, "_method_name": name, "_arguments": args});
    let mut out = a
        .process(Some(wire::OP_METHOD_REQUEST), None, req.to_string().as_bytes(), user)
        .await;
    assert_eq!(out.len(), 1);
    out.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_replies_are_batched_with_partial() {
    let a = agent(&["admin"]);
    for i in 0..150 {
        let xml = format!(
            "<domain type='test'><name>batch-{i}</name><memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
        );
        let reply = method(&a, "node", "domainDefineXML", json!({"xmlDesc": xml}), Some("admin")).await;
        assert_eq!(reply.opcode, wire::OP_METHOD_RESPONSE, "{:?}", body(&reply));
    }
    let req = json!({"_what": "OBJECT", "_schema_id": {"_class_name": "domain"}});
    let out = a
        .process(
            Some(wire::OP_QUERY_REQUEST),
            Some(wire::CONTENT_TYPE),
            req.to_string().as_bytes(),
            None,
        )
        .await;
    assert_eq!(out.len(), 2, "151 domains in batches of 100");
    assert!(out[0].partial && !out[1].partial);
    assert!(out
        .iter()
        .all(|m| m.opcode == wire::OP_QUERY_RESPONSE && m.content == Some("_data")));
    let n: usize = out.iter().map(|m| body(m).as_array().map_or(0, |l| l.len())).sum();
    assert_eq!(n, 151);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_methods_need_a_listed_writer() {
    let a = agent(&["admin"]);
    let dom = a.core.lookup_domain("test").expect("test domain").uuid();
    let object = format!("domain/{dom}");
    for user in [None, Some("guest")] {
        let reply = method(&a, &object, "suspend", json!({}), user).await;
        assert_eq!(reply.opcode, wire::OP_EXCEPTION);
        assert_eq!(body(&reply)["_values"]["error_code"], json!(0x10000 + 29));
    }
    // Reads are open to everyone.
    let reply = method(&a, &object, "getXMLDesc", json!({}), None).await;
    assert_eq!(reply.opcode, wire::OP_METHOD_RESPONSE);
    // Nothing ran: still running. A writer may.
    assert!(a.core.lookup_domain("test").expect("test").is_active());
    let reply = method(&a, &object, "suspend", json!({}), Some("admin")).await;
    assert_eq!(reply.opcode, wire::OP_METHOD_RESPONSE, "{:?}", body(&reply));
    let state = a.core.lookup_domain("test").expect("test").state.state;
    assert_eq!(state.name(), "PAUSED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locate_answers_only_matching_predicates_and_methods_for_other_agents_are_ignored() {
    let a = agent(&[]);
    let out = a
        .process(
            Some(wire::OP_LOCATE_REQUEST),
            None,
            br#"["eq", "_instance", "unit"]"#,
            None,
        )
        .await;
    assert_eq!(out.len(), 1);
    assert_eq!(body(&out[0])["_values"]["_name"], json!("virtbus:agent:unit"));
    let out = a
        .process(
            Some(wire::OP_LOCATE_REQUEST),
            None,
            br#"{"_where": ["eq", "_instance", "x"]}"#,
            None,
        )
        .await;
    assert!(out.is_empty());
    let req = json!({"_object_id": {"_agent_name": "virtbus:agent:other", "_object_name": "node"}, "_method_name": "getVersion"});
    let out = a
        .process(Some(wire::OP_METHOD_REQUEST), None, req.to_string().as_bytes(), None)
        .await;
    assert!(out.is_empty(), "another agent's method request is not ours to answer");
}
