//! One connection to the master: Open, Register, then serve requests and
//! send notifications until the master goes away (RFC 2741 §7.1).
//!
//! A reader task turns the byte stream into frames (header + payload), so
//! the session loop can wait for a frame, a notification or shutdown at
//! once. A frame that does not decode is logged and answered with
//! `parseError`; a request for another session gets `notOpen`; a header
//! announcing a payload above [`super::pdu::MAX_PAYLOAD`] cannot be skipped safely, so the
//! session closes with reason parseError and the caller reconnects.

use super::pdu::{close_reason, kind, res_error, Body, Header, Pdu, HEADER_LEN};
use super::requests::Responder;
use super::wire::PduError;
use super::AgentxAddr;
use crate::mib::{Mib, SUBTREES};
use crate::oids::LIBVIRT_MIB;
use async_snmp::{Oid, VarBind};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long the master may take to answer Open and Register.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The Open-PDU timeout: how long the master waits for our answers (we may
/// ask the core for a CPU-time sample).
const SESSION_TIMEOUT_SECS: u8 = 5;
/// Registration priority (§6.2.3; 127 is the customary default).
const PRIORITY: u8 = 127;

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot connect to the agentx master at {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("agentx master at {addr}: {message}")]
    Refused { addr: String, message: String },
    #[error("agentx master at {addr} closed the connection")]
    Closed { addr: String },
    #[error("agentx master at {addr}: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("agentx master at {addr} sent an unusable pdu: {source}")]
    Framing { addr: String, source: PduError },
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn connect(addr: &AgentxAddr) -> std::io::Result<Box<dyn Stream>> {
    Ok(match addr {
        AgentxAddr::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        AgentxAddr::Tcp(host) => {
            let stream = tokio::net::TcpStream::connect(host.as_str()).await?;
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
    })
}

/// Bytes read from the master at once.
const READ_BUFFER: usize = 64 * 1024;

/// What the reader task delivers.
type Frame = Result<(Header, Vec<u8>), FrameEnd>;

#[derive(Debug)]
enum FrameEnd {
    Eof,
    Io(std::io::Error),
    Bad(PduError),
}

async fn read_frames(mut reader: impl AsyncRead + Unpin, tx: mpsc::Sender<Frame>) {
    loop {
        let mut head = [0u8; HEADER_LEN];
        let frame = match reader.read_exact(&mut head).await {
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => Err(FrameEnd::Eof),
            Err(err) => Err(FrameEnd::Io(err)),
            Ok(_) => match Header::decode(&head) {
                Err(err) => Err(FrameEnd::Bad(err)),
                Ok(header) => {
                    let mut payload = vec![0u8; header.payload_length as usize];
                    match reader.read_exact(&mut payload).await {
                        Ok(_) => Ok((header, payload)),
                        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => Err(FrameEnd::Eof),
                        Err(err) => Err(FrameEnd::Io(err)),
                    }
                }
            },
        };
        let last = frame.is_err();
        if tx.send(frame).await.is_err() || last {
            return;
        }
    }
}

/// A connected, registered session.
pub struct Session {
    addr: String,
    writer: WriteHalf<Box<dyn Stream>>,
    frames: mpsc::Receiver<Frame>,
    session_id: u32,
    next_packet: u32,
}

impl Session {
    /// Connects, opens a session and registers `libvirtMIB` and `virtbusMIB`.
    pub async fn open(master: &AgentxAddr) -> Result<Session, SessionError> {
        let addr = master.to_string();
        let stream = connect(master).await.map_err(|source| SessionError::Connect {
            addr: addr.clone(),
            source,
        })?;
        let (reader, writer) = tokio::io::split(stream);
        let (tx, frames) = mpsc::channel(64);
        // Buffered: one read usually brings a whole PDU (header and
        // payload) instead of one read each plus the one that finds the
        // socket empty; the master sends a PDU per varbind of a walk.
        tokio::spawn(read_frames(
            tokio::io::BufReader::with_capacity(READ_BUFFER, reader),
            tx,
        ));
        let mut session = Session {
            addr,
            writer,
            frames,
            session_id: 0,
            next_packet: 1,
        };
        let open = Body::Open {
            timeout: SESSION_TIMEOUT_SECS,
            id: Oid::from_slice(LIBVIRT_MIB),
            descr: format!("virtbus {} LIBVIRT-MIB subagent", env!("CARGO_PKG_VERSION")).into_bytes(),
        };
        let (header, _) = session.request(open).await?;
        session.session_id = header.session_id;
        for subtree in SUBTREES {
            let register = Body::Register {
                timeout: 0,
                priority: PRIORITY,
                range_subid: 0,
                subtree: Oid::from_slice(subtree),
                upper_bound: None,
            };
            session.request(register).await?;
        }
        Ok(session)
    }

    pub fn session_id(&self) -> u32 {
        self.session_id
    }

    async fn send(&mut self, pdu: &Pdu) -> Result<(), SessionError> {
        let bytes = pdu.encode().map_err(|source| SessionError::Framing {
            addr: self.addr.clone(),
            source,
        })?;
        self.writer.write_all(&bytes).await.map_err(|source| SessionError::Io {
            addr: self.addr.clone(),
            source,
        })
    }

    fn fresh_packet_id(&mut self) -> u32 {
        let id = self.next_packet;
        self.next_packet = self.next_packet.wrapping_add(1).max(1);
        id
    }

    /// Sends `body` and waits for its Response; a Response with an error is
    /// a refusal.
    async fn request(&mut self, body: Body) -> Result<(Header, Body), SessionError> {
        let what = match body.pdu_type() {
            kind::OPEN => "open",
            kind::REGISTER => "register",
            _ => "request",
        };
        let packet_id = self.fresh_packet_id();
        self.send(&Pdu::new(self.session_id, 0, packet_id, body)).await?;
        let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.frames.recv())
                .await
                .map_err(|_| SessionError::Refused {
                    addr: self.addr.clone(),
                    message: format!("no response to {what} within {HANDSHAKE_TIMEOUT:?}"),
                })?;
            let (header, payload) = self.frame_or_end(frame)?;
            if header.pdu_type != kind::RESPONSE || header.packet_id != packet_id {
                continue;
            }
            let pdu = Pdu::decode_payload(&header, &payload).map_err(|source| SessionError::Framing {
                addr: self.addr.clone(),
                source,
            })?;
            if let Body::Response { error, .. } = pdu.body {
                if error != res_error::NO_ERROR {
                    return Err(SessionError::Refused {
                        addr: self.addr.clone(),
                        message: format!("{what} refused with error {error}"),
                    });
                }
            }
            return Ok((header, pdu.body));
        }
    }

    fn frame_or_end(&self, frame: Option<Frame>) -> Result<(Header, Vec<u8>), SessionError> {
        match frame {
            Some(Ok(frame)) => Ok(frame),
            None | Some(Err(FrameEnd::Eof)) => Err(SessionError::Closed {
                addr: self.addr.clone(),
            }),
            Some(Err(FrameEnd::Io(source))) => Err(SessionError::Io {
                addr: self.addr.clone(),
                source,
            }),
            Some(Err(FrameEnd::Bad(source))) => Err(SessionError::Framing {
                addr: self.addr.clone(),
                source,
            }),
        }
    }

    /// Serves until the master goes away (an error to reconnect after) or
    /// `cancel` fires (Ok: the session was closed politely).
    pub async fn serve(
        &mut self,
        mib: Arc<Mib>,
        notifications: &mut mpsc::Receiver<Vec<VarBind>>,
        cancel: &CancellationToken,
    ) -> Result<(), SessionError> {
        let mut responder = Responder::new(mib);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    let close = Pdu::new(self.session_id, 0, self.fresh_packet_id(), Body::Close {
                        reason: close_reason::SHUTDOWN,
                    });
                    let _ = self.send(&close).await;
                    return Ok(());
                }
                frame = self.frames.recv() => {
                    let frame = match self.frame_or_end(frame) {
                        Ok(frame) => frame,
                        Err(err @ SessionError::Framing { .. }) => {
                            // The stream cannot be resynchronised after a bad
                            // header: say why and start over.
                            let close = Pdu::new(self.session_id, 0, self.fresh_packet_id(), Body::Close {
                                reason: close_reason::PARSE_ERROR,
                            });
                            let _ = self.send(&close).await;
                            return Err(err);
                        }
                        Err(err) => return Err(err),
                    };
                    if self.handle(&mut responder, frame).await? {
                        return Err(SessionError::Closed { addr: self.addr.clone() });
                    }
                }
                Some(varbinds) = notifications.recv() => {
                    let packet_id = self.fresh_packet_id();
                    self.send(&Pdu::new(self.session_id, 0, packet_id, Body::Notify(varbinds))).await?;
                }
            }
        }
    }

    /// Handles one frame; `Ok(true)` when the master closed the session.
    async fn handle(
        &mut self,
        responder: &mut Responder,
        (header, payload): (Header, Vec<u8>),
    ) -> Result<bool, SessionError> {
        let pdu = match Pdu::decode_payload(&header, &payload) {
            Ok(pdu) => pdu,
            Err(err) => {
                tracing::warn!(adapter = "snmp", master = %self.addr, error = %err, packet = header.packet_id,
                    "snmp: agentx pdu from the master refused");
                if header.pdu_type != kind::RESPONSE {
                    self.send(&Pdu::response_to(&header, res_error::PARSE_ERROR, 0, Vec::new()))
                        .await?;
                }
                return Ok(false);
            }
        };
        match &pdu.body {
            Body::Response { error, .. } => {
                if *error != res_error::NO_ERROR {
                    tracing::warn!(adapter = "snmp", master = %self.addr, error = *error, packet = header.packet_id,
                        "snmp: agentx master refused a notification");
                }
                return Ok(false);
            }
            Body::Close { reason } => {
                tracing::info!(adapter = "snmp", master = %self.addr, reason = *reason, "snmp: agentx master closed the session");
                return Ok(true);
            }
            _ => {}
        }
        if header.session_id != self.session_id {
            tracing::warn!(adapter = "snmp", master = %self.addr, session = header.session_id,
                "snmp: agentx request for an unknown session refused");
            self.send(&Pdu::response_to(&header, res_error::NOT_OPEN, 0, Vec::new()))
                .await?;
            return Ok(false);
        }
        if pdu.context.is_some() {
            self.send(&Pdu::response_to(
                &header,
                res_error::UNSUPPORTED_CONTEXT,
                0,
                Vec::new(),
            ))
            .await?;
            return Ok(false);
        }
        if let Some(answer) = responder
            .answer(header.session_id, header.transaction_id, &pdu.body)
            .await
        {
            let response = Pdu::response_to(&header, answer.error, answer.index, answer.varbinds);
            self.send(&response).await?;
        } else if !matches!(pdu.body, Body::CleanupSet) {
            self.send(&Pdu::response_to(&header, res_error::PROCESSING_ERROR, 0, Vec::new()))
                .await?;
        }
        Ok(false)
    }
}
