//! SNMPv3 (USM) through net-snmp's tools: authPriv with SHA-256 + AES reads
//! and, for a write user, sets; wrong keys are refused and counted; a
//! read-only user cannot set; the engine boots counter persists.

mod common;
use common::*;
use std::process::Command;

const CONFIG: &str = r#"
[snmp]
engine_state_dir = "ENGINE_DIR"
[[snmp.users]]
name = "admin"
auth_protocol = "SHA-256"
auth_password = "authpass123"
priv_protocol = "AES"
priv_password = "privpass123"
write = true
[[snmp.users]]
name = "reader"
auth_protocol = "SHA"
auth_password = "readerpass1"
"#;

fn v3(agent: &Agent, user: &str, auth: &[&str], rest: &[&str]) -> (bool, String) {
    let mut opts = vec!["-v3", "-u", user, "-OnUe", "-Ir"];
    opts.extend_from_slice(auth);
    let tool = if rest.len() > 1 { "snmpset" } else { "snmpget" };
    let out = agent.snmp(tool, &opts, rest);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && !text.contains("Error in packet"), text)
}

const ADMIN: &[&str] = &[
    "-l",
    "authPriv",
    "-a",
    "SHA-256",
    "-A",
    "authpass123",
    "-x",
    "AES",
    "-X",
    "privpass123",
];

#[test]
fn auth_priv_reads_and_writes_and_wrong_keys_are_refused() {
    let engine_dir = tempfile::tempdir().unwrap();
    let config = CONFIG.replace("ENGINE_DIR", &engine_dir.path().display().to_string());
    let state = format!(".1.3.6.1.4.1.36957.1.1.1.3.{}", index(ALPHA));
    {
        let agent = Agent::start_with(&["--snmp-listen", "udp:127.0.0.1:0"], &[], Some(&config));
        let (ok, text) = v3(&agent, "admin", ADMIN, &[&state]);
        assert!(ok && text.contains("INTEGER: 1"), "{text}");
        let (ok, text) = v3(&agent, "admin", ADMIN, &[&state, "i", "3"]);
        assert!(ok, "{text}");
        assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "paused");

        // Wrong authentication key: refused, counted in usmStatsWrongDigests.
        let wrong = [
            "-l",
            "authPriv",
            "-a",
            "SHA-256",
            "-A",
            "wrongpass99",
            "-x",
            "AES",
            "-X",
            "privpass123",
        ];
        let (ok, text) = v3(&agent, "admin", &wrong, &[&state]);
        assert!(!ok, "{text}");
        assert!(text.to_lowercase().contains("authentication failure"), "{text}");
        let (ok, text) = v3(&agent, "admin", ADMIN, &[".1.3.6.1.6.3.15.1.1.5.0"]);
        assert!(ok && !text.contains("Counter32: 0"), "usmStatsWrongDigests: {text}");

        // Wrong privacy key: the message does not decrypt.
        let wrong = [
            "-l",
            "authPriv",
            "-a",
            "SHA-256",
            "-A",
            "authpass123",
            "-x",
            "AES",
            "-X",
            "wrongpriv99",
        ];
        let (ok, text) = v3(&agent, "admin", &wrong, &[&state]);
        assert!(!ok, "{text}");

        // The read-only user reads but cannot write.
        let reader = ["-l", "authNoPriv", "-a", "SHA", "-A", "readerpass1"];
        let (ok, text) = v3(&agent, "reader", &reader, &[&state]);
        assert!(ok && text.contains("INTEGER: 3"), "{text}");
        let (ok, text) = v3(&agent, "reader", &reader, &[&state, "i", "1"]);
        assert!(!ok && text.contains("noAccess"), "{text}");
        assert_eq!(agent.ctl(&["domstate", "alpha"]).trim(), "paused");

        // Without authentication a user gets nothing.
        let (ok, text) = v3(&agent, "reader", &["-l", "noAuthNoPriv"], &[&state]);
        assert!(!ok, "{text}");
    }
    // The engine identity persisted; a second start counts a second boot.
    let text = std::fs::read_to_string(engine_dir.path().join("snmp-engine")).unwrap();
    assert!(text.contains("boots=1"), "{text}");
    let agent = Agent::start_with(&["--snmp-listen", "udp:127.0.0.1:0"], &[], Some(&config));
    let out = Command::new("snmpget")
        .args(["-v2c", "-c", "public", "-OnUe", "-t", "2"])
        .arg(agent.target())
        .arg(".1.3.6.1.6.3.10.2.1.2.0")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("INTEGER: 2"), "{out:?}");
}
