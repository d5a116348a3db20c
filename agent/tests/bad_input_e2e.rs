//! Bad input gets a clear error, loses nothing, and the agent keeps serving.

mod common;

use common::Agent;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

fn define_fails(agent: &Agent, dir: &std::path::Path, xml: &str) -> String {
    let path = dir.join("bad.xml");
    std::fs::write(&path, xml).unwrap();
    agent.fails(&["define", path.to_str().unwrap()])
}

#[test]
fn bad_xml_and_invalid_operations_are_answered_with_libvirt_errors() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(dir.path(), &[], &[]);
    let f = files.path();

    let err = define_fails(&agent, f, "<domain type='test'><name>x</name><memory>1024");
    assert!(
        err.contains("Failed to define domain from") && err.contains("XML error"),
        "{err}"
    );
    let err = define_fails(
        &agent,
        f,
        "<domain type='test'><name>x</name><memory>1024</memory></dom>",
    );
    assert!(err.contains("XML error"), "{err}");
    let err = define_fails(&agent, f, "<network><name>x</name></network>");
    assert!(err.contains("XML error") && err.contains("domain"), "wrong root: {err}");
    let err = define_fails(
        &agent,
        f,
        "<domain type='test'><name>x</name><memory>-5</memory></domain>",
    );
    assert!(
        err.contains("XML error") && err.contains("memory"),
        "negative memory: {err}"
    );
    let err = define_fails(
        &agent,
        f,
        "<domain type='test'><name>x</name><memory unit='EiB'>99999999999</memory></domain>",
    );
    assert!(
        err.contains("XML error") && err.contains("memory"),
        "overflowing memory: {err}"
    );
    let err = define_fails(
        &agent,
        f,
        "<domain type='test'><name>x</name><memory>1024</memory><vcpu>zero</vcpu></domain>",
    );
    assert!(err.contains("XML error") && err.contains("vcpu"), "bad vcpu: {err}");
    let err = define_fails(
        &agent,
        f,
        "<domain type='test'><name>x</name><memory unit='furlongs'>1</memory></domain>",
    );
    assert!(
        err.contains("XML error") && err.contains("furlongs"),
        "unknown unit: {err}"
    );
    // Strict places: libvirt's closed value sets.
    let err = define_fails(
        &agent,
        f,
        "<domain type='bogus'><name>x</name><memory>1024</memory></domain>",
    );
    assert!(
        err.contains("XML error") && err.contains("bogus"),
        "unknown domain type: {err}"
    );
    let err = define_fails(
        &agent,
        f,
        "<domain type='test'><name>x</name><memory>1024</memory><on_reboot>explode</on_reboot></domain>",
    );
    assert!(
        err.contains("XML error") && err.contains("explode"),
        "unknown lifecycle action: {err}"
    );
    let err = define_fails(
        &agent,
        f,
        "<domain type='test'><name>x</name><uuid>not-a-uuid</uuid><memory>1024</memory></domain>",
    );
    assert!(err.contains("XML error") && err.contains("uuid"), "bad uuid: {err}");
    let err = define_fails(
        &agent,
        f,
        "<domain type='test'><name>test</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory></domain>",
    );
    assert!(
        err.contains("operation failed: domain 'test' already exists with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f"),
        "duplicate name, other uuid: {err}"
    );

    assert_eq!(
        agent.fails(&["start", "nosuch"]),
        "error: failed to get domain 'nosuch'\n"
    );
    let err = agent.fails(&["start", "test"]);
    assert!(
        err.contains("Failed to start domain 'test'") && err.contains("already running"),
        "{err}"
    );
    let err = agent.fails(&["resume", "test"]);
    assert_eq!(
        err,
        "error: Failed to resume domain 'test'\nerror: internal error: domain 'test' not paused\n"
    );
    let err = agent.fails(&["setvcpus", "test", "3"]);
    assert!(
        err.contains("invalid argument: requested cpu amount exceeds maximum (3 > 2)"),
        "{err}"
    );
    let err = agent.fails(&["setmaxmem", "test", "1G"]);
    assert!(err.contains("Unable to change MaxMemorySize"), "{err}");
    let err = agent.fails(&["vol-create-as", "default-pool", "../escape", "1M"]);
    assert!(err.contains("XML error"), "volume names with '/' are refused: {err}");
    let err = agent.fails(&["vol-create-as", "default-pool", "big", "200G"]);
    assert!(err.contains("not enough free space"), "{err}");
    let err = agent.fails(&["net-undefine", "default"]);
    assert!(err.contains("still running"), "{err}");

    // Nothing was lost and the agent still serves.
    assert!(agent.is_running());
    assert_eq!(
        agent.ok(&["list", "--all"]),
        " Id   Name   State\n----------------------\n 1    test   running\n\n"
    );
}

#[test]
fn malformed_and_oversized_control_requests_keep_the_agent_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(dir.path(), &[], &[]);
    let stream = UnixStream::connect(agent.socket()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut ask = |line: &str| -> serde_json::Value {
        writer.write_all(line.as_bytes()).unwrap();
        writer.write_all(b"\n").unwrap();
        let mut reply = String::new();
        reader.read_line(&mut reply).unwrap();
        serde_json::from_str(&reply).unwrap()
    };
    let r = ask("{not json");
    assert_eq!(r["error"]["code"], "INVALID_ARG");
    let r = ask(r#"{"cmd":"no-such-command"}"#);
    assert_eq!(r["error"]["code"], "INVALID_ARG");
    let r = ask(r#"{"cmd":"start","domain":42}"#);
    assert_eq!(r["error"]["code"], "INVALID_ARG", "wrong type");
    let r = ask(r#"{"cmd":"start"}"#);
    assert_eq!(r["error"]["code"], "INVALID_ARG", "missing argument");
    let r = ask(r#"{"cmd":"dominfo","domain":"nosuch"}"#);
    assert_eq!(r["error"]["code"], "NO_DOMAIN");
    assert_eq!(r["error"]["number"], 42);
    // The same connection still works after all that.
    let r = ask(r#"{"cmd":"domstate","domain":"test"}"#);
    assert_eq!(r["ok"]["state"], "RUNNING");

    // An oversized request is refused and the connection closed.
    let stream = UnixStream::connect(agent.socket()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let big = vec![b'x'; 13 * 1024 * 1024];
    // The agent may close before we finish writing; that is fine.
    let _ = writer.write_all(&big);
    let _ = writer.write_all(b"\n");
    let mut reply = String::new();
    reader.read_line(&mut reply).unwrap();
    let r: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(r["error"]["code"], "INVALID_ARG");
    assert!(r["error"]["message"].as_str().unwrap().contains("longer than"));

    assert!(agent.is_running());
    assert!(agent.ok(&["list"]).contains("test"));
}
