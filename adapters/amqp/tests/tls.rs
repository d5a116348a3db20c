//! `amqps://` with certificate verification: a private RabbitMQ node with a
//! TLS listener only, its certificate issued by a CA made in the test
//! (openssl). An agent trusting that CA (`[amqp] tls_ca_file`) connects
//! over TLS; an agent trusting another CA refuses the broker and says why.

mod common;

use common::{env, Agent, AgentOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `NAME.pem`/`NAME.key` in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=virtbus test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `server.pem`/`server.key` for localhost and 127.0.0.1, issued by `ca`.
fn make_server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext file");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A private RabbitMQ node with a TLS listener; stopped (by name) on drop.
struct TlsBroker {
    node: String,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TlsBroker {
    fn start(certs: &Path) -> TlsBroker {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let node = format!("virtbus-tls-{}@localhost", std::process::id());
        let conf = dir.path().join("rabbitmq.conf");
        std::fs::write(
            &conf,
            format!(
                "listeners.tcp = none\nlisteners.ssl.1 = 127.0.0.1:{port}\n\
                 ssl_options.cacertfile = {c}/ca.pem\nssl_options.certfile = {c}/server.pem\n\
                 ssl_options.keyfile = {c}/server.key\nssl_options.verify = verify_none\n\
                 ssl_options.fail_if_no_peer_cert = false\nloopback_users.guest = true\n\
                 log.console = false\nlog.file.level = warning\n",
                c = certs.display()
            ),
        )
        .expect("config");
        std::fs::write(dir.path().join("enabled_plugins"), "[].").expect("plugins");
        let d = dir.path().display();
        let bin = env("VIRTBUS_TEST_RABBITMQ_BIN");
        let status = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "export RABBITMQ_NODENAME='{node}' RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
                 RABBITMQ_DIST_PORT={dist} RABBITMQ_MNESIA_BASE='{d}/mnesia' RABBITMQ_LOG_BASE='{d}/log' \
                 RABBITMQ_CONFIG_FILE='{d}/rabbitmq.conf' RABBITMQ_ENABLED_PLUGINS_FILE='{d}/enabled_plugins' \
                 RABBITMQ_PID_FILE='{d}/pid'; mkdir -p '{d}/log'; \
                 (setsid '{bin}/rabbitmq-server' >>'{d}/log/server.out' 2>&1 </dev/null &)",
                dist = free_port()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("bash runs");
        assert!(status.success());
        let broker = TlsBroker { node, port, _dir: dir };
        let started = Instant::now();
        loop {
            let out = broker.ctl(&["await_startup", "--timeout", "20"]);
            if out.status.success() {
                return broker;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "TLS broker did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn ctl(&self, args: &[&str]) -> std::process::Output {
        Command::new(format!("{}/rabbitmqctl", env("VIRTBUS_TEST_RABBITMQ_BIN")))
            .arg("-n")
            .arg(&self.node)
            .args(args)
            .output()
            .expect("rabbitmqctl runs")
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.ctl(&["-q", "stop"]);
    }
}

fn ca_config(path: &Path) -> String {
    format!("tls_ca_file = \"{}\"\n", path.display())
}

#[test]
fn amqps_verifies_the_broker_certificate() {
    let certs = tempfile::tempdir().expect("tempdir");
    make_ca(certs.path(), "ca");
    make_ca(certs.path(), "other-ca");
    make_server_cert(certs.path(), "ca");
    let broker = TlsBroker::start(certs.path());
    let url = format!("amqps://guest:guest@localhost:{}/%2f", broker.port);

    // Trusting the broker's CA: connected over TLS.
    let good_ca: PathBuf = certs.path().join("ca.pem");
    let good = Agent::start_with(AgentOptions {
        url: Some(url.clone()),
        extra_config: &ca_config(&good_ca),
        ..AgentOptions::new("e2e-tls", &["guest"])
    });
    let conns = broker.ctl(&["-q", "list_connections", "user", "ssl", "ssl_protocol"]);
    let listed = String::from_utf8_lossy(&conns.stdout);
    assert!(
        listed.lines().any(|l| l.starts_with("guest\ttrue")),
        "agent connection over TLS: {listed}"
    );
    good.ctl(&["suspend", "test"]);
    assert!(good.logs().iter().all(|l| !l.contains("reconnecting")));

    // Trusting another CA: the handshake fails on the certificate, the
    // agent keeps retrying (and serving ctl) and never connects.
    let bad = Agent::start_with(AgentOptions {
        url: Some(url),
        extra_config: &ca_config(&certs.path().join("other-ca.pem")),
        wait_connected: false,
        ..AgentOptions::new("e2e-tls-bad", &["guest"])
    });
    bad.wait_log_count("reconnecting", 2, Duration::from_secs(60));
    let logs = bad.logs().join("\n");
    assert!(logs.to_lowercase().contains("certificate"), "the log says why: {logs}");
    assert!(!logs.contains("connected to the broker"), "{logs}");
    assert!(bad.ctl(&["domstate", "test"]).contains("running"));
    drop(good);
    drop(bad);
    drop(broker);
}
