//! The WBEM HTTP(S) listener (DSP0200 §7): `POST`/`M-POST` to `/cimom`,
//! the CIM headers, Basic auth, body limits, TLS (rustls) when the listener
//! has a certificate; protocol errors as HTTP 4xx with a `CIMError` header,
//! CIM errors inside a 200 response body.

use crate::auth::{self, User};
use crate::ops::Engine;
use crate::xml::{dom, request};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;

/// Certificate chain and private key (PEM files) of an HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate first, then any intermediates.
    pub cert: PathBuf,
    /// PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key.
    pub key: PathBuf,
}

/// Settings of one listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub users: Vec<User>,
    /// Largest request body accepted (bytes).
    pub max_body: usize,
    pub limits: dom::Limits,
    /// Serve HTTPS with these files instead of plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen,
            users: Vec::new(),
            max_body: 16 * 1024 * 1024,
            limits: dom::Limits::default(),
            tls: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cim: cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cim: listener {0} is not on loopback, so it needs at least one user (HTTP Basic auth)")]
    AuthRequired(SocketAddr),
    #[error("cim: {0}")]
    User(#[from] auth::UserError),
    #[error("cim: tls: cannot read {what} from {path}: {message}")]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("cim: tls: certificate {cert} and key {key} do not make a usable server identity: {message}")]
    TlsConfig {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

/// Builds the TLS acceptor of an HTTPS listener from its PEM files.
pub fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, StartError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| StartError::TlsFile {
            what: "certificates",
            path: files.cert.clone(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(StartError::TlsFile {
            what: "certificates",
            path: files.cert.clone(),
            message: "no CERTIFICATE block in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| StartError::TlsFile {
        what: "a private key",
        path: files.key.clone(),
        message: e.to_string(),
    })?;
    let config_error = |message: String| StartError::TlsConfig {
        cert: files.cert.clone(),
        key: files.key.clone(),
        message,
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| config_error(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A running server.
pub struct CimServer {
    pub local_addr: SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

struct Shared {
    engine: Arc<Engine>,
    config: ServerConfig,
}

/// Binds and starts serving on the current tokio runtime. Several
/// listeners (HTTP and HTTPS) may share one engine.
pub async fn start(engine: impl Into<Arc<Engine>>, config: ServerConfig) -> Result<CimServer, StartError> {
    for user in &config.users {
        user.check()?;
    }
    if !config.listen.ip().is_loopback() && config.users.is_empty() {
        return Err(StartError::AuthRequired(config.listen));
    }
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let shared = Arc::new(Shared {
        engine: engine.into(),
        config,
    });
    shared.engine.start_indications();
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(adapter = "cim", "accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let shared = shared.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_connection(shared, stream).await,
                    Some(acceptor) => {
                        // A client that never finishes the handshake does not hold the task.
                        match tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => serve_connection(shared, stream).await,
                            Ok(Err(err)) => tracing::debug!(adapter = "cim", "tls handshake failed: {err}"),
                            Err(_) => tracing::debug!(adapter = "cim", "tls handshake timed out"),
                        }
                    }
                }
            });
        }
    });
    Ok(CimServer { local_addr, task })
}

async fn serve_connection<I>(shared: Arc<Shared>, io: I)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        // Clients that half-close after sending still get their answer.
        .half_close(true)
        .serve_connection(TokioIo::new(io), service);
    if let Err(err) = conn.await {
        tracing::debug!(adapter = "cim", "connection ended: {err}");
    }
}

fn plain(status: StatusCode, cim_error: Option<&str>, text: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if let Some(value) = cim_error {
        if let Ok(v) = HeaderValue::from_str(value) {
            resp.headers_mut().insert("CIMError", v);
        }
    }
    resp
}

/// Looks a CIM header up; for M-POST the names carry the `NN-` prefix that
/// the `Man` header declared (DSP0200 §7.2.2), which we accept whatever NN is.
fn cim_header<'a>(headers: &'a HeaderMap, name: &str, extended: bool) -> Option<&'a str> {
    if let Some(v) = headers.get(name) {
        return v.to_str().ok();
    }
    if extended {
        let suffix = format!("-{}", name.to_ascii_lowercase());
        return headers
            .iter()
            .find(|(k, _)| k.as_str().ends_with(&suffix))
            .and_then(|(_, v)| v.to_str().ok());
    }
    None
}

/// Decodes `%XX` escapes of the CIMObject/CIMMethod headers.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let extended = req.method().as_str() == "M-POST";
    if req.method() != Method::POST && !extended {
        let mut resp = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "only POST and M-POST are accepted",
        );
        resp.headers_mut()
            .insert("Allow", HeaderValue::from_static("POST, M-POST"));
        return resp;
    }
    if req.uri().path() != "/cimom" && req.uri().path() != "/" {
        return plain(StatusCode::NOT_FOUND, None, "the CIM endpoint is /cimom");
    }
    let is_loopback = shared.config.listen.ip().is_loopback();
    if !shared.config.users.is_empty() || !is_loopback {
        let header = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if auth::verify(&shared.config.users, header).is_none() {
            let mut resp = plain(StatusCode::UNAUTHORIZED, None, "authentication required");
            resp.headers_mut()
                .insert("WWW-Authenticate", HeaderValue::from_static("Basic realm=\"virtbus\""));
            return resp;
        }
    }
    let headers = req.headers().clone();
    let operation = cim_header(&headers, "CIMOperation", extended);
    if !operation.is_some_and(|v| v.trim().eq_ignore_ascii_case("MethodCall")) {
        return plain(
            StatusCode::BAD_REQUEST,
            Some("unsupported-operation"),
            "CIMOperation header must be MethodCall",
        );
    }
    // Optional; when given, a major version other than 1 is refused
    // (DSP0200 §7.3.7: 501 with unsupported-protocol-version).
    if let Some(version) = cim_header(&headers, "CIMProtocolVersion", extended) {
        if version.trim().split('.').next() != Some("1") {
            return plain(
                StatusCode::NOT_IMPLEMENTED,
                Some("unsupported-protocol-version"),
                "CIMProtocolVersion 1.x is supported",
            );
        }
    }
    let content_length = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if content_length.is_some_and(|n| n > shared.config.max_body as u64) {
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("request-not-valid"),
            "request body is too large",
        );
    }
    let body = match Limited::new(req.into_body(), shared.config.max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            if err.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Some("request-not-valid"),
                    "request body is too large",
                );
            }
            return plain(
                StatusCode::BAD_REQUEST,
                Some("request-not-well-formed"),
                "request body could not be read",
            );
        }
    };
    let root = match dom::parse(&body, shared.config.limits) {
        Ok(root) => root,
        Err(err) => {
            return plain(
                StatusCode::BAD_REQUEST,
                Some("request-not-well-formed"),
                &err.to_string(),
            )
        }
    };
    let request = match request::decode(&root) {
        Ok(request) => request,
        Err(err) => return plain(StatusCode::BAD_REQUEST, Some(err.header()), &err.to_string()),
    };
    if let Some(method) = cim_header(&headers, "CIMMethod", extended) {
        if !percent_decode(method.trim()).eq_ignore_ascii_case(request.call.name()) {
            return plain(
                StatusCode::BAD_REQUEST,
                Some("header-mismatch"),
                "CIMMethod header does not match the request",
            );
        }
    }
    if let Some(object) = cim_header(&headers, "CIMObject", extended) {
        // Either the namespace alone (intrinsic calls) or namespace:Class.keys
        // (extrinsic calls, as wbemcli and pywbem send it).
        let object = percent_decode(object.trim());
        let ns = object.split(':').next().unwrap_or_default().trim_matches('/');
        if !ns.eq_ignore_ascii_case(request.namespace.trim_matches('/')) {
            return plain(
                StatusCode::BAD_REQUEST,
                Some("header-mismatch"),
                "CIMObject header does not match the request namespace",
            );
        }
    }
    let xml = shared.engine.handle(&request).await;
    let mut resp = Response::new(Full::new(Bytes::from(xml)));
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=\"utf-8\""),
    );
    if extended {
        h.insert("Ext", HeaderValue::from_static(""));
        h.insert(
            "Man",
            HeaderValue::from_static("http://www.dmtf.org/cim/mapping.http/v1.0 ; ns=73"),
        );
        h.insert("73-CIMOperation", HeaderValue::from_static("MethodResponse"));
    } else {
        h.insert("CIMOperation", HeaderValue::from_static("MethodResponse"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("root%2Fvirt"), "root/virt");
        assert_eq!(percent_decode("a%zz%"), "a%zz%");
        assert_eq!(percent_decode("%41"), "A");
    }
}
