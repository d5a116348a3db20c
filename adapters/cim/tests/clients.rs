//! The CIM server against the real clients: pywbem scripts (tests/py),
//! pywbemcli and sblim wbemcli, on an in-process core with the test driver.

mod common;

use common::{run, run_py, tool, Server};

#[test]
fn pywbem_discovery_enumeration_associations_and_pull() {
    let server = Server::start();
    let out = run_py("pywbem_basic.py", &[&server.url()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn pywbem_define_state_changes_destroy() {
    let server = Server::start();
    run_py("pywbem_methods.py", &[&server.url(), "cimguest"]);
    // The guest is gone from the core too, not only from CIM's view.
    assert!(server.core.snapshot().domain_by_name("cimguest").is_none());
}

#[test]
fn pywbemcli_enumerate_get_associators_invoke() {
    let server = Server::start();
    let cli = tool("pywbemcli");
    let url = server.url();
    // Global -n is a connection name in pywbemcli; -d sets the default namespace.
    let base = ["-s", url.as_str(), "-d", "root/virt", "-o", "simple"];
    let with = |rest: &[&str]| -> Vec<String> { base.iter().chain(rest).map(|s| s.to_string()).collect() };
    let args = with(&[
        "instance",
        "enumerate",
        "KVM_ComputerSystem",
        "--pl",
        "Name,EnabledState",
    ]);
    let (ok, stdout, stderr) = run(&cli, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "pywbemcli enumerate failed: {stderr}");
    assert!(stdout.contains("test") && stdout.contains('2'), "{stdout}");

    let path = "KVM_ComputerSystem.CreationClassName=\"KVM_ComputerSystem\",Name=\"test\"";
    let args = with(&["instance", "get", path]);
    let (ok, stdout, stderr) = run(&cli, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "pywbemcli get failed: {stderr}");
    assert!(stdout.contains("UUID"), "{stdout}");

    let args = with(&["instance", "associators", path, "--ac", "KVM_SystemDevice", "--no"]);
    let (ok, stdout, stderr) = run(&cli, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "pywbemcli associators failed: {stderr}");
    assert!(stdout.contains("KVM_Memory") && stdout.contains("test/mem"), "{stdout}");

    let args = with(&[
        "instance",
        "invokemethod",
        path,
        "RequestStateChange",
        "-p",
        "RequestedState=9",
    ]);
    let (ok, stdout, stderr) = run(&cli, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "pywbemcli invokemethod failed: {stdout} {stderr}");
    let snap = server.core.snapshot();
    let test = snap.domain_by_name("test").expect("test guest");
    assert_eq!(test.state.state, virtbus_schemas::lifecycle::DomainState::Paused);

    let args = with(&[
        "instance",
        "get",
        "KVM_ComputerSystem.CreationClassName=\"KVM_ComputerSystem\",Name=\"nope\"",
    ]);
    let (ok, _, stderr) = run(&cli, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ok && stderr.contains("CIM_ERR_NOT_FOUND"), "{stderr}");
}

#[test]
fn wbemcli_ei_ein_gi_cm() {
    let server = Server::start();
    let cli = tool("wbemcli");
    let base = format!("http://{}/root/virt", server.addr);

    let (ok, stdout, stderr) = run(&cli, &["ein", &format!("{base}:KVM_ComputerSystem")]);
    assert!(ok, "wbemcli ein failed: {stderr}");
    assert!(
        stdout.contains("KVM_ComputerSystem.CreationClassName=\"KVM_ComputerSystem\",Name=\"test\""),
        "{stdout}"
    );

    let (ok, stdout, stderr) = run(&cli, &["ei", &format!("{base}:KVM_VirtualSystemSettingData")]);
    assert!(ok, "wbemcli ei failed: {stderr}");
    assert!(stdout.contains("InstanceID=\"KVM:test\""), "{stdout}");

    let cs = format!("{base}:KVM_ComputerSystem.CreationClassName=\"KVM_ComputerSystem\",Name=\"test\"");
    let (ok, stdout, stderr) = run(&cli, &["gi", &cs]);
    assert!(ok, "wbemcli gi failed: {stderr}");
    assert!(stdout.contains("EnabledState=2"), "{stdout}");

    let (ok, stdout, stderr) = run(&cli, &["cm", &cs, "RequestStateChange.RequestedState=9"]);
    assert!(ok, "wbemcli cm failed: {stdout} {stderr}");
    let (ok, stdout, _) = run(&cli, &["gi", &cs]);
    assert!(ok && stdout.contains("EnabledState=9"), "{stdout}");

    let (ok, _, stderr) = run(
        &cli,
        &[
            "gi",
            &format!("{base}:KVM_ComputerSystem.CreationClassName=\"KVM_ComputerSystem\",Name=\"nope\""),
        ],
    );
    assert!(!ok && stderr.contains("CIM_ERR_NOT_FOUND"), "{stderr}");
}

#[test]
fn pywbem_subscription_manager_and_listener_receive_indications() {
    let server = Server::start();
    run_py("pywbem_indications.py", &[&server.url(), "indguest"]);
}

#[test]
fn pywbem_add_modify_remove_resource_settings() {
    let server = Server::start();
    run_py("pywbem_settings.py", &[&server.url(), "setguest"]);
    // The core holds the edited definition, not only CIM's view of it.
    let snap = server.core.snapshot();
    let dom = snap.domain_by_name("setguest").expect("guest defined");
    assert_eq!(dom.def.memory_kib, 393_216);
    assert_eq!(dom.def.vcpu.current, 3);
    assert_eq!(dom.def.os.boot_devs, ["cdrom", "hd"]);
    // ModifySystemSettings' other settings, in the core's definition.
    assert_eq!(dom.def.on_poweroff.as_deref(), Some("restart"));
    assert_eq!(dom.def.on_crash.as_deref(), Some("preserve"));
    assert_eq!(
        dom.def.clock.as_ref().and_then(|c| c.offset.as_deref()),
        Some("localtime")
    );
    assert_eq!(dom.def.os.kernel, None);
    assert_eq!(dom.def.os.initrd.as_deref(), Some("/var/lib/virtbus-test/initrd.img"));
    assert_eq!(dom.def.os.cmdline.as_deref(), Some("console=ttyS0 root=/dev/vda"));
    assert_eq!(dom.def.devices.emulator.as_deref(), Some("/usr/bin/qemu-system-x86_64"));
    assert!(dom.autostart, "AutoStart=1 marked the guest autostart");
    let disks: Vec<_> = dom.def.devices.disks.iter().map(|d| d.source.clone()).collect();
    assert_eq!(disks, [Some("/var/lib/virtbus-test/other.img".to_string())]);
    assert!(dom.def.devices.interfaces.is_empty());
    assert!(
        snap.pool_by_name("cimpool").is_none(),
        "the pool CIM deleted is gone from the core"
    );
}

#[test]
fn network_pools_on_unprivileged_qemu_are_not_supported() {
    // The unprivileged qemu driver (qemu:///session) answers NO_SUPPORT for
    // virtual networks; CIM passes that on as CIM_ERR_NOT_SUPPORTED with the
    // driver's message.
    let state = tempfile::tempdir().expect("tempdir");
    let server = Server::start_on(&format!("qemu:///session?statedir={}", state.path().display()));
    run_py("pywbem_netpools.py", &[&server.url(), "cimnet", "unsupported"]);
    assert!(server.core.snapshot().networks.is_empty());
}

/// Defines `count` shut-off guests `<prefix>0..` in the server's core.
fn define_guests(server: &Server, prefix: &str, count: usize) {
    for i in 0..count {
        let xml = format!(
            "<domain type='test'><name>{prefix}{i}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
        );
        server
            .runtime
            .block_on(server.core.define_domain(&xml))
            .expect("guest defined");
    }
}

#[test]
fn pywbem_open_query_instances_and_pull_instances() {
    let server = Server::start();
    define_guests(&server, "q", 3);
    run_py("pywbem_query_pull.py", &[&server.url(), "q", "3"]);
}

/// The text of the `<PARAMVALUE NAME="name"><VALUE>` in a response body.
fn out_param(body: &str, name: &str) -> String {
    let start = body
        .find(&format!("<PARAMVALUE NAME=\"{name}\"><VALUE>"))
        .unwrap_or_else(|| panic!("no {name} in {body}"));
    let rest = &body[start..];
    let from = rest.find("<VALUE>").unwrap() + "<VALUE>".len();
    rest[from..from + rest[from..].find("</VALUE>").unwrap()].to_string()
}

#[test]
fn enumeration_count_of_open_contexts() {
    let server = Server::start();
    define_guests(&server, "c", 4);
    let count = |ctx: &str| -> String {
        let body = common::imethod(
            "EnumerationCount",
            "root/virt",
            &format!("<IPARAMVALUE NAME=\"EnumerationContext\"><VALUE>{ctx}</VALUE></IPARAMVALUE>"),
        );
        let (head, body) = common::cim_post(server.addr, "EnumerationCount", "root/virt", &body);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        body
    };
    let open = |op: &str, params: &str| -> String {
        let body = common::imethod(op, "root/virt", params);
        let (_, body) = common::cim_post(server.addr, op, "root/virt", &body);
        out_param(&body, "EnumerationContext")
    };
    // Five guests (test + c0..c3), none taken yet: 5; after a pull of 2: 3.
    let ctx = open(
        "OpenEnumerateInstances",
        "<IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"KVM_ComputerSystem\"/></IPARAMVALUE>\
         <IPARAMVALUE NAME=\"MaxObjectCount\"><VALUE>0</VALUE></IPARAMVALUE>",
    );
    let got = count(&ctx);
    assert!(got.contains("<IRETURNVALUE><VALUE>5</VALUE></IRETURNVALUE>"), "{got}");
    let pull = common::imethod(
        "PullInstancesWithPath",
        "root/virt",
        &format!(
            "<IPARAMVALUE NAME=\"EnumerationContext\"><VALUE>{ctx}</VALUE></IPARAMVALUE>\
             <IPARAMVALUE NAME=\"MaxObjectCount\"><VALUE>2</VALUE></IPARAMVALUE>"
        ),
    );
    let (_, body) = common::cim_post(server.addr, "PullInstancesWithPath", "root/virt", &pull);
    assert_eq!(body.matches("<VALUE.INSTANCEWITHPATH>").count(), 2, "{body}");
    let got = count(&ctx);
    assert!(got.contains("<IRETURNVALUE><VALUE>3</VALUE></IRETURNVALUE>"), "{got}");
    // A query's count is not known without running it: NULL.
    let ctx = open(
        "OpenQueryInstances",
        "<IPARAMVALUE NAME=\"FilterQueryLanguage\"><VALUE>WQL</VALUE></IPARAMVALUE>\
         <IPARAMVALUE NAME=\"FilterQuery\"><VALUE>SELECT * FROM KVM_ComputerSystem WHERE EnabledState = 3</VALUE></IPARAMVALUE>\
         <IPARAMVALUE NAME=\"MaxObjectCount\"><VALUE>0</VALUE></IPARAMVALUE>",
    );
    let got = count(&ctx);
    assert!(
        got.contains("<IRETURNVALUE></IRETURNVALUE>") && !got.contains("<ERROR"),
        "{got}"
    );
    // An unknown or closed context is CIM_ERR_INVALID_ENUMERATION_CONTEXT (21).
    let got = count("no-such-context");
    assert!(got.contains("CODE=\"21\""), "{got}");
    let close = common::imethod(
        "CloseEnumeration",
        "root/virt",
        &format!("<IPARAMVALUE NAME=\"EnumerationContext\"><VALUE>{ctx}</VALUE></IPARAMVALUE>"),
    );
    common::cim_post(server.addr, "CloseEnumeration", "root/virt", &close);
    let got = count(&ctx);
    assert!(got.contains("CODE=\"21\""), "{got}");
}

#[test]
fn disk_pools_and_volumes_on_qemu_are_real_directories_and_files() {
    // qemu:///session keeps pools as directories and volumes as files made
    // by qemu-img (scripts/setup/20-qemu.sh installs it).
    let state = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(data.path().join("pool")).expect("pool directory");
    let server = Server::start_on(&format!("qemu:///session?statedir={}", state.path().display()));
    run_py(
        "pywbem_qemu_storage.py",
        &[&server.url(), &data.path().display().to_string()],
    );
    let snap = server.core.snapshot();
    assert!(snap.pool_by_name("cimmissing").is_none());
    let pool = snap.pool_by_name("cimdir").expect("the pool CIM created");
    assert!(pool.is_active() && pool.persistent && pool.autostart, "{pool:?}");
    assert!(pool.volumes.is_empty(), "{:?}", pool.volumes);
}

/// A burst of suspend/resume made faster than indications are delivered
/// (in-process, straight into the core, to a listener that takes 50 ms per
/// indication): every Modified indication shows the guest as of its own
/// event (SourceInstance) and as of before it (PreviousInstance), in event
/// order, not the state the guest reached by the time it was sent.
#[test]
fn modified_indications_of_a_burst_show_each_events_own_states() {
    use std::io::{BufRead, BufReader};
    use virtbus_actors::DomainOp;
    const PAIRS: usize = 15;
    let server = Server::start();
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/pywbem_burst_indications.py");
    let mut child = std::process::Command::new(common::python())
        .arg(script)
        .args([&server.url(), "test", &(2 * PAIRS).to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = || lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(next(), "ready", "the script subscribes first");
    let uuid = server.core.lookup_domain("test").expect("the test guest").uuid();
    server.runtime.block_on(async {
        for _ in 0..PAIRS {
            for op in [DomainOp::Suspend, DomainOp::Resume] {
                server.core.domain_record(uuid, op).await.expect("suspend/resume");
            }
        }
    });
    let mut got = Vec::new();
    loop {
        let line = next();
        if line.is_empty() || line == "ok" || line.starts_with("FAIL") {
            assert!(line == "ok", "script ended with '{line}' after {got:?}");
            break;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 4, "{line}");
        got.push((fields[1].to_string(), fields[2].to_string(), fields[3].to_string()));
    }
    assert!(child.wait().expect("python exits").success());
    // Running (2) → Paused (9), Paused → Running, PAIRS times.
    let states: Vec<(&str, &str)> = got.iter().map(|(_, p, s)| (p.as_str(), s.as_str())).collect();
    let expected: Vec<(&str, &str)> = (0..PAIRS).flat_map(|_| [("2", "9"), ("9", "2")]).collect();
    assert_eq!(
        states, expected,
        "(PreviousInstance, SourceInstance) EnabledState per indication"
    );
    // In bus order: IndicationIdentifier is epoch:seq.
    let seqs: Vec<u64> = got
        .iter()
        .map(|(id, _, _)| id.rsplit(':').next().and_then(|s| s.parse().ok()).expect("epoch:seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "identifiers in event order: {seqs:?}"
    );
}

/// A guest with one device of each kind, as `pywbem_model.py` expects it.
const FULL_GUEST: &str = "<domain type='test'><name>full</name><memory unit='MiB'>512</memory>\
    <vcpu>2</vcpu><os><type>hvm</type></os><devices>\
    <disk type='volume' device='disk'><source pool='default-pool' volume='full.img'/><target dev='vda' bus='virtio'/></disk>\
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>\
    <graphics type='vnc' port='5901'/><input type='tablet' bus='usb'/>\
    <console type='pty'><target type='serial' port='0'/></console>\
    <controller type='usb' index='0'/></devices></domain>";

#[test]
fn pywbem_every_class_and_association_of_the_model() {
    let server = Server::start();
    server
        .runtime
        .block_on(server.core.define_domain(FULL_GUEST))
        .expect("the full guest is defined");
    server
        .runtime
        .block_on(
            server.core.define_pool(
                "<pool type='dir'><name>second-pool</name><target><path>/second-pool</path></target></pool>",
            ),
        )
        .expect("the second pool is defined");
    let host = server.core.hostname().expect("host name");
    run_py("pywbem_model.py", &[&server.url(), &host]);
}

#[test]
fn pywbem_handlers_made_by_create_instance_and_delivery_retries() {
    let server = Server::start();
    run_py("pywbem_handler_retry.py", &[&server.url(), "retryguest"]);
    assert!(server.core.snapshot().domain_by_name("retryguest").is_none());
}
