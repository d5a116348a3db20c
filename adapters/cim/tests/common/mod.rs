//! Test harness: an in-process core (test driver) with the CIM server on a
//! loopback port chosen at run time, and helpers to run the real clients
//! (pywbem scripts, pywbemcli, wbemcli) and raw HTTP.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;
use virtbus_actors::{Core, CoreConfig};
use virtbus_cim::{Engine, ServerConfig, User};

pub struct Server {
    pub core: Core,
    pub addr: SocketAddr,
    pub runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Vec::new(), |_| {})
    }

    pub fn start_with(users: Vec<User>, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
        Server::start_full(CoreConfig::default().uri, users, tweak)
    }

    /// A server on a core with driver `uri` (test:///default otherwise).
    pub fn start_on(uri: &str) -> Server {
        Server::start_full(uri.to_string(), Vec::new(), |_| {})
    }

    fn start_full(uri: String, users: Vec<User>, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
        let core = Core::start(CoreConfig {
            uri: uri.clone(),
            workers: 2,
            ..CoreConfig::default()
        })
        .unwrap_or_else(|e| panic!("core starts on {uri}: {e}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("addr"));
        config.users = users;
        tweak(&mut config);
        let engine = Engine::new(core.clone());
        let server = runtime
            .block_on(virtbus_cim::start(engine, config))
            .expect("cim server starts");
        Server {
            core,
            addr: server.local_addr,
            runtime,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.core.shutdown();
    }
}

/// The Python interpreter with pywbem (scripts/setup/10-python.sh).
pub fn python() -> String {
    match std::env::var("VIRTBUS_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!("VIRTBUS_TEST_PYTHON is not set: run scripts/test (it installs pywbem in a venv and exports it)"),
    }
}

pub fn tool(name: &str) -> String {
    // pywbemcli lives next to the venv's python.
    if let Ok(py) = std::env::var("VIRTBUS_TEST_PYTHON") {
        let candidate = PathBuf::from(py).with_file_name(name);
        if candidate.exists() {
            return candidate.display().to_string();
        }
    }
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match found {
        Some(path) if !path.is_empty() => path,
        _ => panic!("{name} is not installed: run scripts/test (its setup fragments install it)"),
    }
}

/// Runs a pywbem script from tests/py with the server URL as argument.
pub fn run_py(script: &str, args: &[&str]) -> Output {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(script);
    // requests lets these variables override the CA file pywbem passes
    // (ca_certs), which would hide the test CA of the HTTPS tests.
    let out = Command::new(python())
        .arg(path)
        .args(args)
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn run(cmd: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cmd).args(args).output().expect("command runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One raw HTTP exchange; returns (status line + headers, body).
pub fn raw_http(addr: SocketAddr, request: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let _ = stream.write_all(request);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) => (head.to_string(), body.to_string()),
        None => (text, String::new()),
    }
}

/// A POST to /cimom with the usual CIM headers.
pub fn cim_post(addr: SocketAddr, method: &str, object: &str, body: &str) -> (String, String) {
    let req = format!(
        "POST /cimom HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/xml; charset=\"utf-8\"\r\n\
         CIMOperation: MethodCall\r\nCIMMethod: {method}\r\nCIMObject: {object}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_http(addr, req.as_bytes())
}

/// An intrinsic call document.
pub fn imethod(name: &str, ns: &str, params: &str) -> String {
    let nss: String = ns.split('/').map(|p| format!("<NAMESPACE NAME=\"{p}\"/>")).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><CIM CIMVERSION=\"2.0\" DTDVERSION=\"2.0\">\
         <MESSAGE ID=\"7\" PROTOCOLVERSION=\"1.0\"><SIMPLEREQ><IMETHODCALL NAME=\"{name}\">\
         <LOCALNAMESPACEPATH>{nss}</LOCALNAMESPACEPATH>{params}</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"
    )
}
