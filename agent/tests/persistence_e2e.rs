//! Nothing lost: definitions survive `kill -9` and a restart; a corrupt file
//! in the state directory is set aside and reported while the rest loads.

mod common;

use common::Agent;

const DOM: &str = "<domain type='test'><name>keeper</name><uuid>aaaaaaaa-1111-2222-3333-444444444444</uuid><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os><metadata><app:tag xmlns:app='http://example.org/app'>kept verbatim</app:tag></metadata></domain>";
const POOL: &str = "<pool type='dir'><name>images</name><uuid>bbbbbbbb-1111-2222-3333-444444444444</uuid><target><path>/images</path></target></pool>";
const NET: &str = "<network><name>lab</name><uuid>cccccccc-1111-2222-3333-444444444444</uuid><bridge name='virbr9'/><ip address='10.9.0.1' netmask='255.255.255.0'/></network>";

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn definitions_survive_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &[], &[]);
    agent.ok(&["define", &write(files.path(), "d.xml", DOM)]);
    agent.ok(&["pool-define", &write(files.path(), "p.xml", POOL)]);
    agent.ok(&["net-define", &write(files.path(), "n.xml", NET)]);
    agent.ok(&["destroy", "test"]);
    agent.ok(&["undefine", "test"]);
    agent.ok(&["setmaxmem", "keeper", "512M"]);
    agent.kill9();

    let agent = Agent::start(dir.path(), &[], &[]);
    let list = agent.ok(&["list", "--all"]);
    assert!(list.contains(" -    keeper   shut off\n"), "{list}");
    assert!(
        !list.contains("test"),
        "the undefined default domain stays undefined: {list}"
    );
    assert!(agent
        .ok(&["dominfo", "keeper"])
        .contains("Max memory:     524288 KiB\n"));
    let xml = agent.ok(&["dumpxml", "keeper"]);
    assert!(xml.contains("kept verbatim"), "unknown XML survives: {xml}");
    assert!(agent.ok(&["pool-list", "--all"]).contains(" images "));
    assert!(agent.ok(&["net-list", "--all"]).contains(" lab "));
    assert!(agent.ok(&["net-dumpxml", "lab"]).contains("10.9.0.1"));
}

#[test]
fn corrupt_definition_is_set_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &[], &[]);
    agent.ok(&["define", &write(files.path(), "d.xml", DOM)]);
    let status = agent.terminate();
    assert!(status.success());

    // Find the store's domain directory and drop a broken file beside the good one.
    let defs = dir.path().join("defs");
    let store = std::fs::read_dir(&defs).unwrap().next().unwrap().unwrap().path();
    let broken = store.join("domains").join("dddddddd-1111-2222-3333-444444444444.xml");
    std::fs::write(&broken, "<domain type='test'><name>half").unwrap();

    let mut agent = Agent::start(dir.path(), &[], &[]);
    assert!(agent.ok(&["list", "--all"]).contains("keeper"), "the rest loads");
    assert!(!broken.exists(), "corrupt file moved away");
    let moved: Vec<_> = std::fs::read_dir(store.join("domains"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1);
    let logs = agent.drain_logs().join("\n");
    assert!(logs.contains("corrupt definition set aside"), "reported: {logs}");
}
