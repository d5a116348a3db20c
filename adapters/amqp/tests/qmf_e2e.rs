//! End-to-end QMF over RabbitMQ: the real agent binary, the private broker
//! node and pika consoles (tests/py).

mod common;

use common::{assert_py_ok, run_py, Agent};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

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

/// The shipped consoles (examples/qmf-console.py with pika, the Rust
/// example adapters/amqp/examples/qmf_console.rs on lapin, and `virtbus
/// console`) against a live agent: locate, list domains, call a read and two mutating methods, tail
/// the events those caused.
#[test]
fn example_consoles_locate_list_call_and_tail() {
    let agent = Agent::start("e2e-examples", &["guest"], "");
    let url = common::amqp_url();
    for console in [Console::Python, Console::Rust, Console::Virtbus] {
        let located = console.run(&[&url, "locate"]);
        assert!(located.contains(&agent.name), "{console:?} locate: {located}");

        let listed = console.run(&[&url, "list", &agent.name]);
        let line = listed
            .lines()
            .find(|l| l.starts_with("test "))
            .unwrap_or_else(|| panic!("{console:?} list has no 'test': {listed}"));
        assert!(line.contains("running"), "{line}");
        let object = line.split_whitespace().last().unwrap_or_default().to_string();
        assert!(object.starts_with("domain/"), "{line}");

        let xml = console.run(&[&url, "call", &agent.name, &object, "getXMLDesc"]);
        assert!(xml.contains("<name>test</name>"), "{console:?} getXMLDesc: {xml}");

        let pattern = "agent.ind.event.org_libvirt.domain.*.*.virtbus.agent.e2e-examples";
        let mut tail = console.spawn(&[&url, "tail", pattern, "2"]);
        let mut stderr = BufReader::new(tail.stderr.take().expect("stderr piped"));
        let mut ready = String::new();
        stderr.read_line(&mut ready).expect("tail starts");
        assert!(ready.contains("tailing"), "{console:?} tail: {ready}");
        console.run(&[&url, "call", &agent.name, &object, "suspend"]);
        console.run(&[&url, "call", &agent.name, &object, "resume"]);
        let out = tail.wait_with_output().expect("tail ends");
        assert!(out.status.success(), "{console:?} tail failed");
        let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("event line is JSON"))
            .collect();
        let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
        assert_eq!(names, ["SUSPENDED", "RESUMED"], "{console:?}");
        assert!(events.iter().all(|e| e["name"] == "test" && e["seq"].is_u64()));

        // A failing method: the console reports the _exception, exit 1
        // (libvirt's test driver answers INTERNAL_ERROR to resuming a
        // running domain, 0x10000 + 1).
        let failed = console.output(&[&url, "call", &agent.name, &object, "resume"]);
        assert_eq!(failed.status.code(), Some(1), "{console:?}");
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(
            stderr.contains("65537") && stderr.contains("not paused"),
            "{console:?}: {stderr}"
        );
    }
    assert!(agent.ctl(&["domstate", "test"]).contains("running"));
}

#[derive(Debug, Clone, Copy)]
enum Console {
    Python,
    Rust,
    Virtbus,
}

impl Console {
    fn command(self) -> Command {
        match self {
            Console::Python => {
                let mut cmd = Command::new(common::python());
                cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/qmf-console.py"));
                cmd
            }
            Console::Rust => Command::new(common::example_bin("qmf_console")),
            Console::Virtbus => {
                let mut cmd = Command::new(common::virtbus_bin());
                cmd.arg("console");
                cmd
            }
        }
    }

    /// The examples take `URL COMMAND ...` and `tail PATTERN COUNT`;
    /// `virtbus console` takes `--amqp-url URL COMMAND ...` and `--count`.
    fn args(self, args: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if let Console::Virtbus = self {
            out.insert(0, "--amqp-url".into());
            if out.get(2).is_some_and(|c| c == "tail") && out.len() == 5 {
                out.insert(4, "--count".into());
            }
        }
        out
    }

    fn output(self, args: &[&str]) -> Output {
        self.command().args(self.args(args)).output().expect("console runs")
    }

    fn run(self, args: &[&str]) -> String {
        let out = self.output(args);
        assert_py_ok(&out, &format!("{self:?} console {args:?}"))
    }

    fn spawn(self, args: &[&str]) -> Child {
        self.command()
            .args(self.args(args))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("console starts")
    }
}

/// `[amqp] writers` against real broker users: a second user `reader` on
/// the private node may read but not change; it cannot forge the writer's
/// `user_id` (RabbitMQ refuses); the listed `guest` may change.
#[test]
fn mutating_methods_only_for_listed_broker_users() {
    let bin = common::env("VIRTBUS_TEST_RABBITMQ_BIN");
    let node = common::env("VIRTBUS_TEST_RABBITMQ_NODE");
    let rabbitmqctl = |args: &[&str]| {
        let out = Command::new(format!("{bin}/rabbitmqctl"))
            .args(["-q", "-n", &node])
            .args(args)
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            out.status.success(),
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let _ = Command::new(format!("{bin}/rabbitmqctl"))
        .args(["-q", "-n", &node, "delete_user", "reader"])
        .output();
    rabbitmqctl(&["add_user", "reader", "reader-pw"]);
    rabbitmqctl(&["set_permissions", "-p", "/", "reader", ".*", ".*", ".*"]);
    let agent = Agent::start("e2e-writers", &["guest"], "");
    let writer_url = common::amqp_url();
    let reader_url = writer_url.replacen("guest:guest@", "reader:reader-pw@", 1);
    assert_ne!(reader_url, writer_url);
    let out = run_py("writers.py", &[&reader_url, &writer_url, &agent.name]);
    let stdout = assert_py_ok(&out, "writers.py");
    assert!(stdout.contains("writers ok"), "{stdout}");
    assert!(agent.ctl(&["domstate", "test"]).contains("running"));
    rabbitmqctl(&["delete_user", "reader"]);
}
