//! Bad input over raw HTTP: each case gets the protocol's error (HTTP 4xx
//! with a CIMError header, or a CIM status in the body) and the server keeps
//! serving the next request.

mod common;

use common::{cim_post, imethod, raw_http, Server};
use virtbus_cim::User;

fn enum_cs() -> String {
    imethod(
        "EnumerateInstanceNames",
        "root/virt",
        "<IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"KVM_ComputerSystem\"/></IPARAMVALUE>",
    )
}

/// The server still answers a good request.
fn still_serving(server: &Server) {
    let (head, body) = cim_post(server.addr, "EnumerateInstanceNames", "root/virt", &enum_cs());
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        body.contains("<KEYVALUE VALUETYPE=\"string\">test</KEYVALUE>"),
        "{body}"
    );
}

fn status_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or_default()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l.split_once(':').map(|(_, v)| v.trim()).unwrap_or_default())
}

#[test]
fn malformed_and_hostile_xml_get_400_request_not_well_formed() {
    let server = Server::start();
    let cases = [
        "<CIM><MESSAGE ID=\"1\"",
        "not xml at all",
        "<CIM></MESSAGE></CIM>",
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;\">]><CIM>&lol1;</CIM>",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><CIM>&xxe;</CIM>",
        "<CIM>&undefined;</CIM>",
    ];
    for body in cases {
        let (head, _) = cim_post(server.addr, "EnumerateInstanceNames", "root/virt", body);
        assert_eq!(status_of(&head), "400", "{body}: {head}");
        assert_eq!(
            header(&head, "CIMError"),
            Some("request-not-well-formed"),
            "{body}: {head}"
        );
        still_serving(&server);
    }
    let deep = format!("<CIM>{}{}</CIM>", "<A>".repeat(5000), "</A>".repeat(5000));
    let (head, _) = cim_post(server.addr, "EnumerateInstanceNames", "root/virt", &deep);
    assert_eq!(header(&head, "CIMError"), Some("request-not-well-formed"), "{head}");
    still_serving(&server);
}

#[test]
fn invalid_cim_documents_and_headers() {
    let server = Server::start();
    let (head, _) = cim_post(
        server.addr,
        "EnumerateInstanceNames",
        "root/virt",
        "<CIM><MESSAGE ID=\"1\"/></CIM>",
    );
    assert_eq!(header(&head, "CIMError"), Some("request-not-valid"), "{head}");

    // Missing CIMOperation.
    let body = enum_cs();
    let req = format!(
        "POST /cimom HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (head, _) = raw_http(server.addr, req.as_bytes());
    assert_eq!(status_of(&head), "400", "{head}");
    assert_eq!(header(&head, "CIMError"), Some("unsupported-operation"), "{head}");

    // CIMMethod contradicting the body, CIMObject naming another namespace.
    let (head, _) = cim_post(server.addr, "GetClass", "root/virt", &body);
    assert_eq!(header(&head, "CIMError"), Some("header-mismatch"), "{head}");
    let (head, _) = cim_post(server.addr, "EnumerateInstanceNames", "root/interop", &body);
    assert_eq!(header(&head, "CIMError"), Some("header-mismatch"), "{head}");
    // The object-path form of CIMObject is accepted.
    let (head, _) = cim_post(
        server.addr,
        "EnumerateInstanceNames",
        "root%2Fvirt:KVM_ComputerSystem",
        &body,
    );
    assert_eq!(status_of(&head), "200", "{head}");

    // GET is not an operation.
    let (head, _) = raw_http(
        server.addr,
        b"GET /cimom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&head), "405", "{head}");
    still_serving(&server);
}

#[test]
fn oversized_body_gets_413() {
    let server = Server::start_with(Vec::new(), |c| c.max_body = 1024 * 1024);
    // Declared too large: refused before reading.
    let req = format!(
        "POST /cimom HTTP/1.1\r\nHost: x\r\nCIMOperation: MethodCall\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        100 * 1024 * 1024
    );
    let (head, _) = raw_http(server.addr, req.as_bytes());
    assert_eq!(status_of(&head), "413", "{head}");
    // Chunked with no length: cut off at the limit.
    let chunk = "x".repeat(64 * 1024);
    let mut req = String::from(
        "POST /cimom HTTP/1.1\r\nHost: x\r\nCIMOperation: MethodCall\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..40 {
        req.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    req.push_str("0\r\n\r\n");
    let (head, _) = raw_http(server.addr, req.as_bytes());
    assert_eq!(status_of(&head), "413", "{head}");
    still_serving(&server);
}

#[test]
fn cim_errors_in_the_body() {
    let server = Server::start();
    let cases = [
        (
            imethod("EnumerateInstances", "root/nowhere", "<IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"KVM_ComputerSystem\"/></IPARAMVALUE>"),
            "root/nowhere",
            "3",
        ),
        (
            imethod("EnumerateInstances", "root/virt", "<IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"Nope\"/></IPARAMVALUE>"),
            "root/virt",
            "5",
        ),
        (imethod("GetClass", "root/virt", "<IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"Nope\"/></IPARAMVALUE>"), "root/virt", "6"),
        (
            // A key that the class does not have.
            imethod("GetInstance", "root/virt", "<IPARAMVALUE NAME=\"InstanceName\"><INSTANCENAME CLASSNAME=\"KVM_ComputerSystem\"><KEYBINDING NAME=\"Bogus\"><KEYVALUE>x</KEYVALUE></KEYBINDING></INSTANCENAME></IPARAMVALUE>"),
            "root/virt",
            "4",
        ),
        (
            // A class name where an instance name belongs.
            imethod("GetInstance", "root/virt", "<IPARAMVALUE NAME=\"InstanceName\"><CLASSNAME NAME=\"KVM_ComputerSystem\"/></IPARAMVALUE>"),
            "root/virt",
            "4",
        ),
        (
            imethod("EnumerateInstances", "root/virt", "<IPARAMVALUE NAME=\"ClassName\"><CLASSNAME NAME=\"KVM_ComputerSystem\"/></IPARAMVALUE><IPARAMVALUE NAME=\"DeepInheritance\"><VALUE>maybe</VALUE></IPARAMVALUE>"),
            "root/virt",
            "4",
        ),
        (imethod("ExecQuery", "root/virt", "<IPARAMVALUE NAME=\"QueryLanguage\"><VALUE>WQL</VALUE></IPARAMVALUE>"), "root/virt", "4"),
        (imethod("ExecQuery", "root/virt", "<IPARAMVALUE NAME=\"QueryLanguage\"><VALUE>XPath</VALUE></IPARAMVALUE><IPARAMVALUE NAME=\"Query\"><VALUE>/</VALUE></IPARAMVALUE>"), "root/virt", "14"),
        (imethod("ExecQuery", "root/virt", "<IPARAMVALUE NAME=\"QueryLanguage\"><VALUE>WQL</VALUE></IPARAMVALUE><IPARAMVALUE NAME=\"Query\"><VALUE>SELECT * FROM KVM_ComputerSystem WHERE (a = 1)</VALUE></IPARAMVALUE>"), "root/virt", "15"),
        (imethod("FlyToTheMoon", "root/virt", ""), "root/virt", "7"),
        (
            imethod("PullInstancesWithPath", "root/virt", "<IPARAMVALUE NAME=\"EnumerationContext\"><VALUE>virtbus-999</VALUE></IPARAMVALUE><IPARAMVALUE NAME=\"MaxObjectCount\"><VALUE>1</VALUE></IPARAMVALUE>"),
            "root/virt",
            "21",
        ),
    ];
    for (body, ns, code) in cases {
        let method = body
            .split("IMETHODCALL NAME=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_string();
        let (head, resp) = cim_post(server.addr, &method, ns, &body);
        assert_eq!(status_of(&head), "200", "{method}: {head}");
        assert!(
            resp.contains(&format!("<IMETHODRESPONSE NAME=\"{method}\"><ERROR CODE=\"{code}\"")),
            "{method}: want code {code}: {resp}"
        );
        still_serving(&server);
    }
}

#[test]
fn basic_auth_required_when_users_are_configured() {
    let params = sha_crypt::Sha512Params::new(5000).expect("params");
    let hash = sha_crypt::sha512_simple("pw", &params).expect("hash");
    let server = Server::start_with(
        vec![User {
            name: "ops".into(),
            password_hash: hash,
        }],
        |_| {},
    );
    let (head, _) = cim_post(server.addr, "EnumerateInstanceNames", "root/virt", &enum_cs());
    assert_eq!(status_of(&head), "401", "{head}");
    assert!(
        header(&head, "WWW-Authenticate").is_some_and(|v| v.starts_with("Basic")),
        "{head}"
    );
    let body = enum_cs();
    for (creds, want) in [("b3BzOnB3", "200"), ("b3BzOm5vcGU=", "401")] {
        // ops:pw and ops:nope
        let req = format!(
            "POST /cimom HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {creds}\r\nCIMOperation: MethodCall\r\n\
             CIMMethod: EnumerateInstanceNames\r\nCIMObject: root/virt\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (head, _) = raw_http(server.addr, req.as_bytes());
        assert_eq!(status_of(&head), want, "{creds}: {head}");
    }
}

#[test]
fn non_loopback_listener_without_users_is_refused() {
    let core = virtbus_actors::Core::start(virtbus_actors::CoreConfig::default()).expect("core");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let config = virtbus_cim::ServerConfig::new("0.0.0.0:0".parse().expect("addr"));
    let err = rt
        .block_on(virtbus_cim::start(virtbus_cim::Engine::new(core.clone()), config))
        .err()
        .expect("refused");
    assert!(matches!(err, virtbus_cim::StartError::AuthRequired(_)), "{err}");
    core.shutdown();
}

/// The request and response headers of DSP0200 §7: plain POST and the
/// extension-framework M-POST (`Man` with a namespace prefix), an optional
/// CIMProtocolVersion (1.x accepted, another major version 501), and the
/// response's CIMOperation and Content-Type.
#[test]
fn post_and_m_post_headers_and_protocol_version() {
    let server = Server::start();
    let body = enum_cs();
    let post = |extra: &str| {
        format!(
            "POST /cimom HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml; charset=\"utf-8\"\r\n\
             CIMOperation: MethodCall\r\nCIMMethod: EnumerateInstanceNames\r\nCIMObject: root/virt\r\n{extra}\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    for extra in ["", "CIMProtocolVersion: 1.0\r\n", "CIMProtocolVersion: 1.1\r\n"] {
        let (head, resp) = raw_http(server.addr, post(extra).as_bytes());
        assert_eq!(status_of(&head), "200", "{extra}: {head}");
        assert_eq!(header(&head, "CIMOperation"), Some("MethodResponse"), "{head}");
        assert_eq!(
            header(&head, "Content-Type"),
            Some("application/xml; charset=\"utf-8\""),
            "{head}"
        );
        assert!(
            resp.contains("<IMETHODRESPONSE NAME=\"EnumerateInstanceNames\">") && resp.contains(">test</KEYVALUE>"),
            "{resp}"
        );
    }
    let (head, _) = raw_http(server.addr, post("CIMProtocolVersion: 2.0\r\n").as_bytes());
    assert_eq!(status_of(&head), "501", "{head}");
    assert_eq!(
        header(&head, "CIMError"),
        Some("unsupported-protocol-version"),
        "{head}"
    );

    // M-POST: the CIM headers carry the prefix the Man header declares.
    let req = format!(
        "M-POST /cimom HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml; charset=\"utf-8\"\r\n\
         Man: http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=42\r\n42-CIMOperation: MethodCall\r\n\
         42-CIMMethod: EnumerateInstanceNames\r\n42-CIMObject: root%2Fvirt\r\n42-CIMProtocolVersion: 1.0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (head, resp) = raw_http(server.addr, req.as_bytes());
    assert_eq!(status_of(&head), "200", "{head}");
    assert_eq!(header(&head, "73-CIMOperation"), Some("MethodResponse"), "{head}");
    assert!(header(&head, "Ext").is_some(), "M-POST answers carry Ext: {head}");
    assert!(
        resp.contains("<IMETHODRESPONSE NAME=\"EnumerateInstanceNames\">"),
        "{resp}"
    );
    // M-POST with a contradicting prefixed CIMMethod is still a header mismatch.
    let bad = req.replace("42-CIMMethod: EnumerateInstanceNames", "42-CIMMethod: GetClass");
    let (head, _) = raw_http(server.addr, bad.as_bytes());
    assert_eq!(header(&head, "CIMError"), Some("header-mismatch"), "{head}");
    still_serving(&server);
}

/// 100 MiB actually sent, with a Content-Length and chunked, against the
/// default 16 MiB limit: 413 either way, without the server reading it all,
/// and the server keeps serving.
#[test]
fn a_100_mib_body_sent_in_full_gets_413() {
    use std::io::{Read, Write};
    const MIB: usize = 1 << 20;
    let server = Server::start();
    for chunked in [false, true] {
        let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .expect("timeout");
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_string()
        } else {
            format!("Content-Length: {}", 100 * MIB)
        };
        let head = format!(
            "POST /cimom HTTP/1.1\r\nHost: x\r\nCIMOperation: MethodCall\r\nCIMMethod: EnumerateInstanceNames\r\n\
             CIMObject: root/virt\r\n{framing}\r\nConnection: close\r\n\r\n"
        );
        let mut writer = stream.try_clone().expect("clone");
        // The body goes out from a thread of its own; it stops at the first
        // write the server no longer takes.
        let sender = std::thread::spawn(move || {
            let block = vec![b'<'; MIB];
            let mut sent = 0usize;
            let mut send = |bytes: &[u8]| writer.write_all(bytes).is_ok();
            if !send(head.as_bytes()) {
                return sent;
            }
            for _ in 0..100 {
                let ok = if chunked {
                    send(format!("{MIB:x}\r\n").as_bytes()) && send(&block) && send(b"\r\n")
                } else {
                    send(&block)
                };
                if !ok {
                    return sent;
                }
                sent += MIB;
            }
            if chunked {
                send(b"0\r\n\r\n");
            }
            sent
        });
        // Read what the server answers, up to its close (or reset).
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        let sent = sender.join().expect("sender");
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status_of(&text), "413", "chunked={chunked}, {sent} bytes sent: {text}");
        assert_eq!(header(&text, "CIMError"), Some("request-not-valid"), "{text}");
        assert!(sent < 100 * MIB, "chunked={chunked}: the server took all {sent} bytes");
        still_serving(&server);
    }
}
