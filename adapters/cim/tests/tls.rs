//! HTTPS (rustls) and HTTP Basic auth against real clients: a test CA and a
//! server certificate made here with the openssl CLI; pywbem verifies the
//! server against that CA and is refused without good credentials; sblim
//! wbemcli does the same over HTTPS; a plain-HTTP request to the HTTPS port
//! does not stop the listener.

mod common;

use common::{run, run_py, tool, Server};
use std::path::Path;
use std::process::Command;
use virtbus_cim::{ServerConfig, TlsFiles, User};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it; returns the
/// server's files.
fn make_pki(dir: &Path) -> TlsFiles {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=virtbus test CA"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-new", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// A SHA-512 crypt hash as `openssl passwd -6` prints it (the documented way).
fn password_hash(password: &str) -> String {
    let out = Command::new("openssl")
        .args(["passwd", "-6", password])
        .output()
        .expect("openssl passwd runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn tls_server(dir: &Path) -> Server {
    let files = make_pki(dir);
    let users = vec![User {
        name: "ops".into(),
        password_hash: password_hash("s3cret-pass"),
    }];
    Server::start_with(users, |config: &mut ServerConfig| config.tls = Some(files))
}

#[test]
fn pywbem_verifies_the_test_ca_and_needs_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let ca = dir.path().join("ca.pem");
    let out = run_py("pywbem_tls.py", &[&url, ca.to_str().unwrap(), "ops", "s3cret-pass"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn wbemcli_over_https_and_plain_http_to_the_tls_port() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let ca = dir.path().join("ca.pem");
    let cli = tool("wbemcli");
    let port = server.addr.port();
    let good = format!("https://ops:s3cret-pass@127.0.0.1:{port}/root/virt:KVM_ComputerSystem");
    let (ok, stdout, stderr) = run(&cli, &["-cacert", ca.to_str().unwrap(), "ein", &good]);
    assert!(ok, "wbemcli ein over https failed: {stdout} {stderr}");
    assert!(stdout.contains("Name=\"test\""), "{stdout}");
    let bad = format!("https://ops:nope@127.0.0.1:{port}/root/virt:KVM_ComputerSystem");
    let (ok, stdout, stderr) = run(&cli, &["-cacert", ca.to_str().unwrap(), "ein", &bad]);
    assert!(
        !ok && !stdout.contains("Name=\"test\""),
        "bad password accepted: {stdout} {stderr}"
    );

    // Plain HTTP to the HTTPS port gets no CIM answer; the listener lives on.
    let (head, _) = common::cim_post(server.addr, "EnumerateInstanceNames", "root/virt", "<CIM/>");
    assert!(!head.contains("200 OK"), "{head}");
    let (ok, stdout, _) = run(&cli, &["-cacert", ca.to_str().unwrap(), "ein", &good]);
    assert!(ok && stdout.contains("Name=\"test\""), "{stdout}");
}

#[test]
fn unusable_tls_files_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let core = virtbus_actors::Core::start(virtbus_actors::CoreConfig::default()).unwrap();
    std::fs::write(dir.path().join("empty.pem"), "").unwrap();
    for (cert, key, want) in [
        ("missing.pem", "missing.key", "cannot read certificates"),
        ("empty.pem", "empty.pem", "no CERTIFICATE block"),
    ] {
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
        config.tls = Some(TlsFiles {
            cert: dir.path().join(cert),
            key: dir.path().join(key),
        });
        let engine = virtbus_cim::Engine::new(core.clone());
        let err = match runtime.block_on(virtbus_cim::start(engine, config)) {
            Ok(_) => panic!("server started with {cert}"),
            Err(err) => err.to_string(),
        };
        assert!(err.contains(want) && err.contains(cert), "{err}");
    }
    // A key that does not match the certificate.
    let files = make_pki(dir.path());
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
            "other.key",
        ],
    );
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    config.tls = Some(TlsFiles {
        cert: files.cert,
        key: dir.path().join("other.key"),
    });
    let result = runtime.block_on(virtbus_cim::start(virtbus_cim::Engine::new(core.clone()), config));
    assert!(result.is_err(), "mismatched key accepted");
    core.shutdown();
}
