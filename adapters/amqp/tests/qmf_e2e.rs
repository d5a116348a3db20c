//! End-to-end QMF over RabbitMQ: the real agent binary, the private broker
//! node and pika consoles (tests/py).

mod common;

use common::{assert_py_ok, run_py, Agent};

#[test]
fn console_locates_queries_and_calls_every_method() {
    let mut agent = Agent::start("e2e-console", &["guest"], "");
    let out = run_py("console.py", &[&common::amqp_url(), &agent.name]);
    let stdout = assert_py_ok(&out, "console.py");
    assert!(stdout.contains("console e2e ok"), "{stdout}");
    assert!(agent.is_running());
}

#[test]
fn bad_input_gets_exceptions_and_the_agent_keeps_serving() {
    let mut agent = Agent::start("e2e-bad", &["guest"], "");
    let out = run_py("bad_input.py", &[&common::amqp_url(), &agent.name]);
    let stdout = assert_py_ok(&out, "bad_input.py");
    assert!(stdout.contains("bad input ok"), "{stdout}");
    // The request without reply_to was dropped with a logged reason.
    agent.wait_log("request without reply_to", std::time::Duration::from_secs(10));
    assert!(agent.is_running());
    // ctl still answers, and nothing changed the running domain.
    assert!(agent.ctl(&["domstate", "test"]).contains("running"));
}

#[test]
fn two_agents_each_answer_for_their_own_objects() {
    let a = Agent::start("e2e-two-a", &["guest"], "");
    let b = Agent::start("e2e-two-b", &["guest"], "");
    let out = run_py("two_agents.py", &[&common::amqp_url(), &a.name, &b.name]);
    let stdout = assert_py_ok(&out, "two_agents.py");
    assert!(stdout.contains("two agents ok"), "{stdout}");
}

#[test]
fn subscribers_get_exactly_the_events_they_bound_for() {
    let agent = Agent::start("e2e-events", &["guest"], "");
    let state = agent.state_dir.path().to_string_lossy().into_owned();
    let bin = common::virtbus_bin().to_string_lossy().into_owned();
    let out = run_py("events.py", &[&common::amqp_url(), "e2e-events", &state, &bin]);
    let stdout = assert_py_ok(&out, "events.py");
    assert!(stdout.contains("events ok"), "{stdout}");
}
