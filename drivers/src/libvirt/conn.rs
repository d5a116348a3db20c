//! One open libvirt connection ([`Session`]) and the translation of libvirt's
//! errors into ours ([`virt_error`]): the code is kept by number, the message
//! as libvirt wrote it (without the code's stock prefix, which
//! [`VirtError::libvirt_message`] puts back).

use super::ffi::{self, CallbackId, CloseSink, EventSink};
use std::sync::Arc;
use virt::connect::Connect;
use virtbus_schemas::{ErrorCode, VirtError};

/// An open connection with its callbacks registered; closing undoes both.
pub(crate) struct Session {
    conn: Connect,
    callbacks: Vec<CallbackId>,
    close_registered: bool,
}

impl Session {
    /// Opens `uri` (the part after `libvirt+`), subscribes `events` to every
    /// lifecycle event and `closed` to libvirt closing the connection, and
    /// turns on keepalive (5 s interval, 3 missed answers) where the
    /// transport has it (remote connections; in-process drivers have none).
    pub(crate) fn open(uri: &str, events: &Arc<EventSink>, closed: Arc<CloseSink>) -> Result<Session, VirtError> {
        ffi::ensure_event_loop().map_err(VirtError::internal)?;
        let conn = Connect::open(Some(uri)).map_err(virt_error)?;
        let mut session = Session {
            conn,
            callbacks: Vec::new(),
            close_registered: false,
        };
        session.callbacks = ffi::register_lifecycle(&session.conn, events).map_err(virt_error)?;
        match ffi::register_close(&session.conn, closed) {
            Ok(()) => session.close_registered = true,
            Err(err) => tracing::debug!(uri, error = %err.message(), "no close callback on this connection"),
        }
        if let Err(err) = session.conn.set_keep_alive(5, 3) {
            tracing::debug!(uri, error = %err.message(), "no keepalive on this connection");
        }
        Ok(session)
    }

    pub(crate) fn conn(&self) -> &Connect {
        &self.conn
    }

    /// Whether libvirt still considers the connection usable.
    pub(crate) fn is_alive(&self) -> bool {
        self.conn.is_alive().unwrap_or(false)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        ffi::deregister_lifecycle(&self.conn, &self.callbacks);
        if self.close_registered {
            ffi::unregister_close(&self.conn);
        }
        if let Err(err) = self.conn.close() {
            tracing::debug!(error = %err.message(), "closing the libvirt connection failed");
        }
    }
}

/// libvirt's error as ours: same code (by number; codes we do not know become
/// INTERNAL_ERROR with the number in the message), same message.
pub(crate) fn virt_error(err: virt::error::Error) -> VirtError {
    let number = err.code().to_raw() as i32;
    let Some(code) = ErrorCode::from_number(number) else {
        return VirtError::internal(format!("libvirt error {number}: {}", err.message()));
    };
    VirtError::new(code, strip_prefix(code, err.message()))
}

/// Removes the stock text libvirt puts before messages of `code`
/// (`Requested operation is not valid: `), so the message reads like ours and
/// `libvirt_message()` gives back exactly what libvirt printed.
fn strip_prefix(code: ErrorCode, message: &str) -> String {
    let framed = VirtError::new(code, "").libvirt_message();
    match message.strip_prefix(framed.as_str()) {
        Some(rest) if !framed.is_empty() => rest.to_string(),
        _ => message.to_string(),
    }
}

/// Refuses text libvirt's C API cannot take (an interior NUL byte), before
/// the `virt` crate would panic on it.
pub(crate) fn c_text<'a>(what: &str, text: &'a str) -> Result<&'a str, VirtError> {
    if text.contains('\0') {
        return Err(VirtError::invalid_arg(format!("{what} contains a NUL byte")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_removed_only_when_it_is_the_codes_own() {
        assert_eq!(
            strip_prefix(
                ErrorCode::OperationInvalid,
                "Requested operation is not valid: domain is not running"
            ),
            "domain is not running"
        );
        assert_eq!(
            strip_prefix(ErrorCode::InternalError, "Requested operation is not valid: x"),
            "Requested operation is not valid: x"
        );
    }
}
