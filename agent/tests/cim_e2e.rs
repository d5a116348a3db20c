//! The CIM adapter through the real `virtbus serve` binary, driven by the
//! real clients (pywbem, pywbemcli, sblim wbemcli): the substance of
//! libvirt-cim's cimtest groups, and a change through CIM visible to
//! `virtbus ctl` and back.

mod common;

use common::Agent;
use std::path::PathBuf;
use std::process::Command;

/// Starts an agent with CIM on a loopback port chosen by the kernel and
/// returns it with the CIM address from its log line.
fn start_agent(dir: &std::path::Path) -> (Agent, String) {
    let mut agent = Agent::start(dir, &["--snmp-listen", "off", "--cim-listen", "127.0.0.1:0"], &[]);
    let addr = wait_for_log(&mut agent, "cim: listening on http://");
    (agent, addr)
}

/// The address in the agent's "cim: listening on SCHEME://ADDR/cimom" line,
/// waiting for it: the ctl socket may be ready before the adapters log.
fn wait_for_log(agent: &mut Agent, prefix: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let found = agent.drain_logs().iter().find_map(|line| {
            let rest = line.split(prefix).nth(1)?;
            Some(rest.split("/cimom").next()?.to_string())
        });
        if let Some(addr) = found {
            return addr;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no '{prefix}' line in {:?}",
            agent.log_lines
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn python() -> String {
    match std::env::var("VIRTBUS_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!("VIRTBUS_TEST_PYTHON is not set: run scripts/test (it installs pywbem in a venv and exports it)"),
    }
}

/// A client tool: from the pywbem venv when it is there, else from PATH.
fn tool(name: &str) -> String {
    if let Ok(py) = std::env::var("VIRTBUS_TEST_PYTHON") {
        let candidate = PathBuf::from(py).with_file_name(name);
        if candidate.exists() {
            return candidate.display().to_string();
        }
    }
    name.to_string()
}

fn run(cmd: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} runs (run scripts/test to install the CIM clients): {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Guest names from `virtbus ctl list --all` (the table's second column).
fn listed_names(agent: &Agent) -> Vec<String> {
    agent
        .ok(&["-q", "list", "--all"])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

#[test]
fn cimtest_groups_through_pywbem() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, addr) = start_agent(dir.path());
    // A second, shut-off guest so the enumeration has more than the default one.
    let xml = dir.path().join("off.xml");
    std::fs::write(
        &xml,
        "<domain type='test'><name>off</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    )
    .unwrap();
    agent.ok(&["define", xml.to_str().unwrap()]);
    let names = listed_names(&agent);
    assert_eq!(names.len(), 2, "{names:?}");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../adapters/cim/tests/py/cimtest_groups.py");
    let out = Command::new(python())
        .arg(script)
        .args([format!("http://{addr}"), "cimguest".into(), names.join(",")])
        .output()
        .expect("python runs");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "cimtest_groups.py failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // DestroySystem went through the core: ctl no longer knows the guest.
    assert_eq!(listed_names(&agent), names);
    assert!(agent.fails(&["dominfo", "cimguest"]).contains("cimguest"));
}

#[test]
fn changes_through_cim_and_ctl_are_seen_by_both() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, addr) = start_agent(dir.path());
    let wbemcli = tool("wbemcli");
    let cs =
        format!("http://{addr}/root/virt:KVM_ComputerSystem.CreationClassName=\"KVM_ComputerSystem\",Name=\"test\"");

    // wbemcli: pause through CIM, ctl sees it.
    let (ok, stdout, stderr) = run(&wbemcli, &["cm", &cs, "RequestStateChange.RequestedState=9"]);
    assert!(ok, "wbemcli cm failed: {stdout} {stderr}");
    assert_eq!(agent.ok(&["domstate", "test"]), "paused\n\n");

    // ctl resumes, CIM sees it (EnabledState 2, RequestedState still 9).
    agent.ok(&["resume", "test"]);
    let (ok, stdout, stderr) = run(&wbemcli, &["gi", &cs]);
    assert!(ok, "wbemcli gi failed: {stderr}");
    assert!(
        stdout.contains("EnabledState=2") && stdout.contains("RequestedState=9"),
        "{stdout}"
    );

    // pywbemcli: reset (11) of the running guest, then destroy (3).
    let cli = tool("pywbemcli");
    let url = format!("http://{addr}");
    let path = "KVM_ComputerSystem.CreationClassName=\"KVM_ComputerSystem\",Name=\"test\"";
    for (value, state) in [("11", "running\n\n"), ("3", "shut off\n\n")] {
        let arg = format!("RequestedState={value}");
        let (ok, stdout, stderr) = run(
            &cli,
            &[
                "-s",
                &url,
                "-d",
                "root/virt",
                "instance",
                "invokemethod",
                path,
                "RequestStateChange",
                "-p",
                &arg,
            ],
        );
        assert!(ok, "pywbemcli RequestStateChange({value}) failed: {stdout} {stderr}");
        assert!(stdout.contains("ReturnValue=0"), "{stdout}");
        assert_eq!(agent.ok(&["domstate", "test"]), state);
    }
    // A destroyed guest cannot be reset: CIM_ERR_FAILED, as libvirt-cim says.
    let (ok, _, stderr) = run(
        &cli,
        &[
            "-s",
            &url,
            "-d",
            "root/virt",
            "instance",
            "invokemethod",
            path,
            "RequestStateChange",
            "-p",
            "RequestedState=11",
        ],
    );
    assert!(
        !ok && stderr.contains("CIM_ERR_FAILED") && stderr.contains("not running"),
        "{stderr}"
    );

    // wbemcli ein lists what ctl lists.
    let (ok, stdout, stderr) = run(
        &wbemcli,
        &["ein", &format!("http://{addr}/root/virt:KVM_ComputerSystem")],
    );
    assert!(ok, "wbemcli ein failed: {stderr}");
    let mut cim_names: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.split(",Name=\"").nth(1).map(|r| r.trim_end_matches('"').to_string()))
        .collect();
    cim_names.sort();
    assert_eq!(cim_names, listed_names(&agent));

    let status = agent.terminate();
    assert!(status.success(), "agent exit status {status}");
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A test CA (`<prefix>ca.pem`) and a server certificate for 127.0.0.1 it
/// signed (`<prefix>server.pem`, `<prefix>server.key`), made by openssl as
/// docs/cim.md shows.
fn test_pki(pki: &std::path::Path, prefix: &str) {
    let file = |name: &str| format!("{prefix}{name}");
    let (ca_key, ca, key, csr, cert) = (
        file("ca.key"),
        file("ca.pem"),
        file("server.key"),
        file("server.csr"),
        file("server.pem"),
    );
    let subject = format!("/CN=virtbus test CA {prefix}");
    openssl(
        pki,
        &[
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            &subject,
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        pki,
        &[
            "req",
            "-new",
            "-subj",
            "/CN=127.0.0.1",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    std::fs::write(
        pki.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n",
    )
    .unwrap();
    openssl(
        pki,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            &cert,
        ],
    );
}

#[test]
fn https_listener_and_users_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path();
    // A test CA and a server certificate for 127.0.0.1, as docs/cim.md shows.
    test_pki(pki, "");
    let hash = openssl(pki, &["passwd", "-6", "e2e-secret"]);
    let config = pki.join("virtbus.toml");
    std::fs::write(
        &config,
        format!(
            "[snmp]\nlisten = \"off\"\n[cim]\nlisten = \"off\"\nhttps_listen = \"127.0.0.1:0\"\n\
             tls_cert = \"{}\"\ntls_key = \"{}\"\n[[cim.users]]\nname = \"ops\"\npassword_hash = \"{hash}\"\n",
            pki.join("server.pem").display(),
            pki.join("server.key").display()
        ),
    )
    .unwrap();
    let state = pki.join("state");
    let mut agent = Agent::start(&state, &["--config", config.to_str().unwrap()], &[]);
    // The ctl socket may answer before the adapters log their listeners.
    let addr = wait_for_log(&mut agent, "cim: listening on https://");
    assert!(
        !agent.log_lines.iter().any(|l| l.contains("listening on http://")),
        "http is off"
    );

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../adapters/cim/tests/py/pywbem_tls.py");
    let out = Command::new(python())
        .arg(script)
        .args([
            format!("https://{addr}"),
            pki.join("ca.pem").display().to_string(),
            "ops".into(),
            "e2e-secret".into(),
        ])
        // requests would let these override pywbem's ca_certs (the test CA).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "pywbem_tls.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    agent.terminate();

    // An HTTPS listener without its files is refused at start, saying what to set.
    std::fs::write(&config, "[cim]\nlisten = \"off\"\nhttps_listen = \"127.0.0.1:0\"\n").unwrap();
    let out = Command::new(common::BIN)
        .args(["serve", "--snmp-listen", "off", "--state-dir"])
        .arg(&state)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("needs tls_cert and tls_key"),
        "{err}"
    );

    // So is a listener CA file without a certificate in it, named in the error.
    let bogus = pki.join("not-a-ca.pem");
    std::fs::write(&bogus, "not PEM at all\n").unwrap();
    std::fs::write(
        &config,
        format!(
            "[cim]\nlisten = \"127.0.0.1:0\"\nlistener_ca_file = \"{}\"\n",
            bogus.display()
        ),
    )
    .unwrap();
    let out = Command::new(common::BIN)
        .args(["serve", "--snmp-listen", "off", "--state-dir"])
        .arg(&state)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("listener CA certificates") && err.contains("not-a-ca.pem"),
        "{err}"
    );
}

#[test]
fn indication_subscriptions_outlive_an_agent_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../adapters/cim/tests/py/pywbem_persist.py");
    let py = |args: &[&str]| {
        let out = Command::new(python())
            .arg(&script)
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "pywbem_persist.py {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (agent, addr) = start_agent(dir.path());
    py(&["subscribe", &format!("http://{addr}"), &port]);
    assert!(agent.terminate().success());
    assert!(dir.path().join("cim/subscriptions.xml").exists());

    let (agent, addr) = start_agent(dir.path());
    py(&["receive", &format!("http://{addr}"), &port, "afterrestart"]);
    assert!(agent.ok(&["list", "--all"]).contains("afterrestart"));
}

/// Runs one of the CIM adapter's pywbem scripts (adapters/cim/tests/py).
fn run_cim_py(script: &str, args: &[&str]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../adapters/cim/tests/py")
        .join(script);
    let out = Command::new(python())
        .arg(path)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{script} {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn storage_volumes_through_create_and_delete_resource_in_pool() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, addr) = start_agent(dir.path());
    let url = format!("http://{addr}");
    let before = agent.ok(&["-q", "vol-list", "default-pool"]);
    assert!(!before.contains("cimvol.img"), "{before}");

    run_cim_py("pywbem_volumes.py", &[&url, "default-pool", "cimvol.img", "create"]);
    // ctl sees the volume CIM created, where CIM said it is; the refused
    // calls created nothing.
    let listed = agent.ok(&["-q", "vol-list", "default-pool"]);
    assert!(
        listed.contains("cimvol.img") && listed.contains("/default-pool/cimvol.img"),
        "{listed}"
    );
    assert!(!listed.contains("x.img"), "{listed}");
    let info = agent.ok(&["vol-dumpxml", "--pool", "default-pool", "cimvol.img"]);
    assert!(info.contains(">1073741824</capacity>"), "{info}");

    // pywbemcli lists the volume's RASD by the path CreateResourceInPool returned.
    let (ok, stdout, stderr) = run(
        &tool("pywbemcli"),
        &[
            "-s",
            &url,
            "-d",
            "root/virt",
            "instance",
            "enumerate",
            "KVM_StorageVolumeResourceAllocationSettingData",
            "--no",
        ],
    );
    assert!(ok && stdout.contains("/default-pool/cimvol.img"), "{stdout} {stderr}");

    // pywbemcli invokemethod (the one-liners of docs/cim.md): MOF text for
    // the embedded instance, the pool as a reference.
    let rpcs_call = |method: &str, settings: &str| {
        run(
            &tool("pywbemcli"),
            &[
                "-s",
                &url,
                "-d",
                "root/virt",
                "instance",
                "invokemethod",
                "KVM_ResourcePoolConfigurationService.?",
                method,
                "-p",
                settings,
                "-p",
                "Pool=KVM_DiskPool.InstanceID=\"DiskPool/default-pool\"",
            ],
        )
    };
    let (ok, stdout, stderr) = rpcs_call(
        "CreateResourceInPool",
        "Settings=instance of KVM_StorageVolumeResourceAllocationSettingData { VolumeName = \"cli.img\"; Capacity = 8; AllocationUnits = \"M\"; FormatType = 2; };",
    );
    assert!(ok && stdout.contains("ReturnValue=0"), "{stdout} {stderr}");
    assert!(stdout.contains("/default-pool/cli.img"), "{stdout}");
    let info = agent.ok(&["vol-dumpxml", "--pool", "default-pool", "cli.img"]);
    assert!(info.contains(">8388608</capacity>") && info.contains("qcow2"), "{info}");
    let (ok, stdout, stderr) = rpcs_call(
        "DeleteResourceInPool",
        "Resource=instance of KVM_StorageVolumeResourceAllocationSettingData { Path = \"/default-pool/cli.img\"; };",
    );
    assert!(ok && stdout.contains("ReturnValue=0"), "{stdout} {stderr}");
    // Deleting it again: pywbemcli reports the server's CIM_ERR_NOT_FOUND.
    let (ok, _, stderr) = rpcs_call(
        "DeleteResourceInPool",
        "Resource=instance of KVM_StorageVolumeResourceAllocationSettingData { Path = \"/default-pool/cli.img\"; };",
    );
    assert!(!ok && stderr.contains("CIM_ERR_NOT_FOUND"), "{stderr}");

    run_cim_py("pywbem_volumes.py", &[&url, "default-pool", "cimvol.img", "delete"]);
    let listed = agent.ok(&["-q", "vol-list", "default-pool"]);
    assert!(!listed.contains("cimvol.img"), "{listed}");
    assert_eq!(listed, before);
    let status = agent.terminate();
    assert!(status.success(), "agent exit status {status}");
}

#[test]
fn network_pools_through_create_child_and_delete_resource_pool() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, addr) = start_agent(dir.path());
    let url = format!("http://{addr}");
    run_cim_py("pywbem_netpools.py", &[&url, "cimnet", "create"]);
    // ctl sees the network CIM defined and started, with the settings given.
    let listed = agent.ok(&["-q", "net-list", "--all"]);
    let line = listed
        .lines()
        .find(|l| l.contains("cimnet"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("active"), "{line}");
    let xml = agent.ok(&["net-dumpxml", "cimnet"]);
    for want in [
        "<forward mode='route'",
        "address='10.77.0.1'",
        "netmask='255.255.255.0'",
        "start='10.77.0.10'",
        "end='10.77.0.20'",
    ] {
        assert!(xml.contains(want), "{want} not in {xml}");
    }
    run_cim_py("pywbem_netpools.py", &[&url, "cimnet", "delete"]);
    let listed = agent.ok(&["-q", "net-list", "--all"]);
    assert!(!listed.contains("cimnet"), "{listed}");
    let status = agent.terminate();
    assert!(status.success(), "agent exit status {status}");
}

#[test]
fn indications_to_https_listeners_verify_their_certificates() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path();
    // The CA the agent trusts for listeners, and another one it does not.
    test_pki(pki, "");
    test_pki(pki, "rogue-");
    let config = pki.join("virtbus.toml");
    std::fs::write(
        &config,
        format!(
            "[snmp]\nlisten = \"off\"\n[cim]\nlisten = \"127.0.0.1:0\"\nlistener_ca_file = \"{}\"\n",
            pki.join("ca.pem").display()
        ),
    )
    .unwrap();
    let mut agent = Agent::start(&pki.join("state"), &["--config", config.to_str().unwrap()], &[]);
    let addr = wait_for_log(&mut agent, "cim: listening on http://");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../adapters/cim/tests/py/pywbem_https_listener.py");
    let mut child = Command::new(python())
        .arg(script)
        .args([format!("http://{addr}"), pki.display().to_string(), "tlsguest".into()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let (rogue_port, trusted_port) = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some((rogue, trusted)) = line.strip_prefix("delivered ").and_then(|p| p.split_once(' ')) {
                    break (rogue.to_string(), trusted.trim().to_string());
                }
                seen.push(line);
            }
            _ => {
                let status = child.wait().unwrap();
                panic!("pywbem_https_listener.py ended ({status}) before delivery: {seen:?}");
            }
        }
    };
    // The agent refuses the other CA's certificate, and the trusted one
    // under a name it does not carry, on every attempt; then it gives up on
    // that indication and says why.
    let rogue = format!("127.0.0.1:{rogue_port}");
    let by_name = format!("localhost:{trusted_port}");
    for refused in [&rogue, &by_name] {
        let started = std::time::Instant::now();
        let refusal = loop {
            agent.drain_logs();
            let found = agent
                .log_lines
                .iter()
                .find(|l| l.contains("indication not delivered") && l.contains(refused.as_str()))
                .cloned();
            if let Some(line) = found {
                break line;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "no delivery failure for {refused} in {:?}",
                agent.log_lines
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        assert!(refusal.contains("certificate"), "{refusal}");
    }
    child.stdin.take().unwrap().write_all(b"done\n").unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(
        status.success() && rest.iter().any(|l| l == "ok"),
        "pywbem_https_listener.py: {status} {rest:?}"
    );
    // The trusted listener's delivery by address went over TLS with the
    // listener CA: no failure was logged for it.
    agent.drain_logs();
    let trusted = format!("127.0.0.1:{trusted_port}");
    assert!(
        !agent
            .log_lines
            .iter()
            .any(|l| l.contains("indication not delivered") && l.contains(&trusted)),
        "{:?}",
        agent.log_lines
    );
    let status = agent.terminate();
    assert!(status.success(), "agent exit status {status}");
}
