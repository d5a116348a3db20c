//! Delivery: bus events become KVM_ComputerSystem{Created,Modified,Deleted}
//! Indications (as libvirt-cim maps domain lifecycle events: DEFINED/ADDED
//! → Created, UNDEFINED → Deleted, everything else → Modified), matched
//! against every subscription's filter and sent to its listener as a CIM-XML
//! `ExportIndication` (DSP0200 §5.4) over HTTP or HTTPS, one ordered queue
//! per listener, with retries and backoff. HTTPS listeners are verified
//! against the system's CA store and the CAs configured for listeners
//! ([`ListenerTls`]), with the destination's host as the expected name.

use super::query;
use super::Registry;
use crate::error::{CimError, CimStatus};
use crate::model::{system, Ctx, RequestedStates};
use crate::schema::{Schema, NS_VIRT};
use crate::value::{CimType, Instance, Value};
use crate::xml::write;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use virtbus_actors::{Core, EventBody, Received};
use virtbus_schemas::lifecycle::DomainEventType;

/// Indications waiting for one listener; more are dropped (and logged).
const QUEUE: usize = 1024;
/// Delivery attempts per indication, and the first pause between them
/// (doubled after each failure).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Connect + send + answer, per attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener URL (`http://host:port/path` or `https://…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` to connect to (port 80 or 443 when the URL has none).
    pub authority: String,
    /// The host alone (no brackets): the name an HTTPS listener's
    /// certificate must carry.
    pub host: String,
    pub path: String,
    pub tls: bool,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, CimError> {
        let bad = |why: &str| {
            CimError::new(
                CimStatus::InvalidParameter,
                format!("listener destination '{url}' {why}"),
            )
        };
        let (rest, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (rest, false),
            (_, Some(rest)) => (rest, true),
            _ => return Err(bad("is not an http:// or https:// URL")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || authority.chars().any(char::is_whitespace) {
            return Err(bad("has no usable host:port"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() && !host.is_empty() => (host, Some(port)),
            _ => (authority, None),
        };
        // An IPv6 literal is bracketed in the URL, bare in the certificate.
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if bare.is_empty() || (bare.contains(':') && bare.len() == host.len()) {
            return Err(bad("has no usable host:port"));
        }
        if tls && ServerName::try_from(bare.to_string()).is_err() {
            return Err(bad("has a host that is neither a DNS name nor an IP address"));
        }
        let port = port.unwrap_or(if tls { "443" } else { "80" });
        Ok(Target {
            authority: format!("{host}:{port}"),
            host: bare.to_string(),
            path: path.to_string(),
            tls,
        })
    }
}

/// Which indication a domain event makes.
pub fn indication_class(event: DomainEventType, detail_code: i32) -> &'static str {
    match event {
        DomainEventType::Defined if detail_code == 0 => "KVM_ComputerSystemCreatedIndication",
        DomainEventType::Undefined => "KVM_ComputerSystemDeletedIndication",
        _ => "KVM_ComputerSystemModifiedIndication",
    }
}

/// CIM datetime (`yyyymmddHHMMSS.mmmmmm+UUU`, DSP0004 §5.2.4) of a Unix time in ns.
pub fn cim_datetime(ns: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}.{:06}+000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// How HTTPS listeners are verified: the system's CA store (as
/// rustls-native-certs finds it, honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`)
/// plus the CAs configured for listeners. The client configuration is made
/// when the first HTTPS listener is used.
#[derive(Debug, Clone, Default)]
pub struct ListenerTls {
    extra: Vec<CertificateDer<'static>>,
}

impl ListenerTls {
    /// Reads the PEM CA certificates in `file` (one or more).
    pub fn with_ca_file(mut self, file: &Path) -> Result<ListenerTls, crate::StartError> {
        use rustls::pki_types::pem::PemObject;
        let error = |message: String| crate::StartError::TlsFile {
            what: "listener CA certificates",
            path: file.to_path_buf(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(file)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|e| error(e.to_string()))?;
        if certs.is_empty() {
            return Err(error("no CERTIFICATE block in the file".into()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in &certs {
            roots.add(cert.clone()).map_err(|e| error(e.to_string()))?;
        }
        self.extra.extend(certs);
        Ok(self)
    }

    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for err in &native.errors {
            tracing::debug!(adapter = "cim", error = %err, "cim: system CA store: {err}");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(adapter = "cim", added, ignored, "cim: system CAs for https listeners");
        for cert in &self.extra {
            if let Err(err) = roots.add(cert.clone()) {
                tracing::warn!(adapter = "cim", error = %err, "cim: a configured listener CA was refused");
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        match config {
            Ok(config) => Arc::new(config),
            // The ring provider supports the default versions; this cannot happen.
            Err(err) => panic!("rustls client configuration: {err}"),
        }
    }
}

/// Starts the delivery task once per registry (on the current runtime).
pub fn ensure_started(
    registry: &Arc<Registry>,
    core: &Core,
    host: &str,
    requested: &Arc<RequestedStates>,
    tls: &ListenerTls,
) {
    if registry.delivery_started.swap(true, Ordering::SeqCst) {
        return;
    }
    let (registry, core, host, requested, tls) = (
        registry.clone(),
        core.clone(),
        host.to_string(),
        requested.clone(),
        tls.clone(),
    );
    tokio::spawn(async move { run(registry, core, host, requested, tls).await });
}

async fn run(registry: Arc<Registry>, core: Core, host: String, requested: Arc<RequestedStates>, tls: ListenerTls) {
    let mut client_tls: Option<Arc<rustls::ClientConfig>> = None;
    let schema = Schema::default();
    let mut subscription = core.subscribe();
    let mut queues: HashMap<String, mpsc::Sender<String>> = HashMap::new();
    let ids = AtomicU64::new(0);
    loop {
        let event = match subscription.recv().await {
            Received::Event(event) => event,
            Received::Lagged(n) => {
                tracing::warn!(
                    adapter = "cim",
                    missed = n,
                    "cim indications fell behind the bus; events missed"
                );
                continue;
            }
            Received::Closed => return,
        };
        // The domain as of this event and as of before it come with the
        // event: this task runs behind the core, and by the time it handles
        // an event the snapshot may show later changes, or no domain at all
        // (DestroySystem is destroy then undefine).
        let EventBody::Domain {
            event: kind,
            detail_code,
            record,
            previous,
            ..
        } = &event.body
        else {
            continue;
        };
        let subscriptions = registry.subscriptions();
        if subscriptions.is_empty() {
            continue;
        }
        let class = indication_class(*kind, *detail_code);
        let snap = core.snapshot();
        let ctx = Ctx {
            snap: &snap,
            host: &host,
            requested: &requested,
            namespace: NS_VIRT,
            guest: None,
            indications: None,
        };
        let before = previous.as_ref().map(|d| system::computer_system(&ctx, d));
        let after = record.as_ref().map(|d| system::computer_system(&ctx, d));
        let source = match class {
            "KVM_ComputerSystemDeletedIndication" => before.clone().or(after.clone()),
            _ => after.clone().or(before.clone()),
        };
        let Some(source) = source else { continue };
        let id = ids.fetch_add(1, Ordering::Relaxed) + 1;
        let mut indication = Instance::new(class)
            .with(
                "IndicationIdentifier",
                CimType::String,
                Value::str(format!("{}:{}", event.epoch, event.seq)),
            )
            .with(
                "IndicationTime",
                CimType::Datetime,
                Value::str(cim_datetime(event.timestamp_ns)),
            )
            .with("SourceInstanceHost", CimType::String, Value::str(&host))
            .with(
                "SourceInstanceModelPath",
                CimType::String,
                Value::str(crate::model::path_of(&schema, NS_VIRT, &source).to_string()),
            )
            .with("SourceInstance", CimType::String, Value::Instance(Box::new(source)));
        if class == "KVM_ComputerSystemModifiedIndication" {
            if let Some(before) = before {
                indication.set("PreviousInstance", CimType::String, Value::Instance(Box::new(before)));
            }
        }
        let body = export_request(id, &indication, &host);
        let mut sent_to: Vec<String> = Vec::new();
        for (filter, destination) in subscriptions {
            let (Some(language), Some(text), Some(url)) = (
                filter.get_str("QueryLanguage"),
                filter.get_str("Query"),
                destination.get_str("Destination"),
            ) else {
                continue;
            };
            let Ok(q) = query::parse(&schema, language, text) else {
                continue;
            };
            if !q.matches(&schema, class, "KVM_ComputerSystem") || sent_to.iter().any(|u| u == url) {
                continue;
            }
            sent_to.push(url.to_string());
            let Ok(target) = Target::parse(url) else { continue };
            let connector = target.tls.then(|| {
                let config = client_tls.get_or_insert_with(|| tls.client_config());
                tokio_rustls::TlsConnector::from(config.clone())
            });
            let queue = queues
                .entry(url.to_string())
                .or_insert_with(|| spawn_sender(url.to_string(), target, connector));
            if queue.try_send(body.clone()).is_err() {
                tracing::warn!(
                    adapter = "cim",
                    listener = url,
                    "cim: listener queue full; indication dropped"
                );
            }
        }
    }
}

/// The ExportIndication request document.
pub fn export_request(id: u64, indication: &Instance, host: &str) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<CIM CIMVERSION=\"2.0\" DTDVERSION=\"2.0\">");
    let _ = write!(
        out,
        "<MESSAGE ID=\"{id}\" PROTOCOLVERSION=\"1.0\"><SIMPLEEXPREQ><EXPMETHODCALL NAME=\"ExportIndication\">\
         <EXPPARAMVALUE NAME=\"NewIndication\">"
    );
    write::instance(&mut out, indication, None, host);
    out.push_str("</EXPPARAMVALUE></EXPMETHODCALL></SIMPLEEXPREQ></MESSAGE></CIM>");
    out
}

/// One ordered sender per listener.
fn spawn_sender(url: String, target: Target, tls: Option<tokio_rustls::TlsConnector>) -> mpsc::Sender<String> {
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
    tokio::spawn(async move {
        while let Some(body) = rx.recv().await {
            let mut backoff = FIRST_BACKOFF;
            for attempt in 1..=ATTEMPTS {
                let why = match tokio::time::timeout(ATTEMPT_TIMEOUT, post(&target, tls.as_ref(), &body)).await {
                    Ok(Ok(())) => break,
                    Ok(Err(err)) => err,
                    Err(_) => "timed out".to_string(),
                };
                if attempt == ATTEMPTS {
                    tracing::warn!(adapter = "cim", listener = %url, "cim: indication not delivered after {ATTEMPTS} attempts: {why}");
                } else {
                    tracing::debug!(adapter = "cim", listener = %url, attempt, "cim: delivery failed ({why}); retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
        }
    });
    tx
}

/// One POST of an export request, over TLS for an https listener; Ok when
/// the listener answered 200.
async fn post(target: &Target, tls: Option<&tokio_rustls::TlsConnector>, body: &str) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|e| format!("connect {}: {e}", target.authority))?;
    match tls {
        None => exchange(tcp, target, body).await,
        Some(connector) => {
            let name = ServerName::try_from(target.host.clone()).map_err(|e| e.to_string())?;
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("tls with {}: {e}", target.authority))?;
            exchange(stream, target, body).await
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, target: &Target, body: &str) -> Result<(), String> {
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/xml; charset=\"utf-8\"\r\n\
         Accept: application/xml\r\nContent-Length: {}\r\nCIMExport: MethodRequest\r\n\
         CIMExportMethod: ExportIndication\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
    stream.write_all(body.as_bytes()).await.map_err(|e| e.to_string())?;
    // Only the status line matters; read a bounded amount.
    let mut buf = vec![0u8; 1024];
    let mut len = 0;
    while len < buf.len() && !buf[..len].contains(&b'\n') {
        let n = stream.read(&mut buf[len..]).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let status_line = String::from_utf8_lossy(&buf[..len]);
    let status_line = status_line.lines().next().unwrap_or_default();
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!("listener answered '{status_line}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_events_and_times() {
        assert_eq!(
            Target::parse("http://127.0.0.1:5000").unwrap(),
            Target {
                authority: "127.0.0.1:5000".into(),
                host: "127.0.0.1".into(),
                path: "/".into(),
                tls: false,
            }
        );
        assert_eq!(Target::parse("http://h/cimlistener").unwrap().authority, "h:80");
        let https = Target::parse("https://listener.example/cim").unwrap();
        assert_eq!(
            (
                https.authority.as_str(),
                https.host.as_str(),
                https.path.as_str(),
                https.tls
            ),
            ("listener.example:443", "listener.example", "/cim", true)
        );
        let v6 = Target::parse("https://[::1]:5001").unwrap();
        assert_eq!((v6.authority.as_str(), v6.host.as_str()), ("[::1]:5001", "::1"));
        assert_eq!(
            Target::parse("https://a_b!:1").unwrap_err().status,
            CimStatus::InvalidParameter
        );
        assert_eq!(
            Target::parse("http://::1:80").unwrap_err().status,
            CimStatus::InvalidParameter
        );
        assert_eq!(Target::parse("h:1").unwrap_err().status, CimStatus::InvalidParameter);
        assert_eq!(
            Target::parse("http://u@h:1/").unwrap_err().status,
            CimStatus::InvalidParameter
        );
        assert_eq!(
            indication_class(DomainEventType::Defined, 0),
            "KVM_ComputerSystemCreatedIndication"
        );
        assert_eq!(
            indication_class(DomainEventType::Defined, 1),
            "KVM_ComputerSystemModifiedIndication"
        );
        assert_eq!(
            indication_class(DomainEventType::Undefined, 0),
            "KVM_ComputerSystemDeletedIndication"
        );
        assert_eq!(
            indication_class(DomainEventType::Started, 0),
            "KVM_ComputerSystemModifiedIndication"
        );
        assert_eq!(cim_datetime(1_700_000_000_123_456_789), "20231114221320.123456+000");
    }
}
