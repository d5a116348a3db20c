//! QMF `_exception` replies: [`QmfError`] and its error-code table
//! (libvirt-qmf's numbering; see docs/amqp.md §5).

use serde_json::{json, Value};
use virtbus_schemas::{ErrorCode, VirtError};

/// libvirt-qmf's status for an object the agent does not have.
pub const STATUS_UNKNOWN_OBJECT: u32 = 1;
/// libvirt-qmf's status for a method the class does not have.
pub const STATUS_UNKNOWN_METHOD: u32 = 2;
/// libvirt-qmf's "not implemented"; virtbus also uses it for requests it cannot parse.
pub const STATUS_NOT_IMPLEMENTED: u32 = 3;
/// An exception inside the agent itself.
pub const STATUS_EXCEPTION: u32 = 7;
/// Base of core (libvirt) errors: `STATUS_USER + libvirt code`.
pub const STATUS_USER: u32 = 0x10000;

/// Why a request was answered with `_exception`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QmfError {
    #[error("unknown object '{0}'")]
    UnknownObject(String),
    #[error("unknown method '{method}' of class '{class}'")]
    UnknownMethod { class: String, method: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{0}")]
    Virt(VirtError),
}

impl From<VirtError> for QmfError {
    fn from(err: VirtError) -> Self {
        QmfError::Virt(err)
    }
}

impl QmfError {
    /// A wrong or missing method argument: libvirt's INVALID_ARG.
    pub fn invalid_arg(message: impl Into<String>) -> QmfError {
        QmfError::Virt(VirtError::new(ErrorCode::InvalidArg, message.into()))
    }

    /// The `error_code` of the `_exception` body.
    pub fn code(&self) -> u32 {
        match self {
            QmfError::UnknownObject(_) => STATUS_UNKNOWN_OBJECT,
            QmfError::UnknownMethod { .. } => STATUS_UNKNOWN_METHOD,
            QmfError::BadRequest(_) => STATUS_NOT_IMPLEMENTED,
            QmfError::Internal(_) => STATUS_EXCEPTION,
            QmfError::Virt(err) => STATUS_USER + err.code.number().max(0) as u32,
        }
    }

    /// The body of the `_exception` message.
    pub fn to_body(&self) -> Value {
        let mut values = json!({
            "error_code": self.code(),
            "error_text": self.to_string(),
        });
        if let (QmfError::Virt(err), Some(map)) = (self, values.as_object_mut()) {
            map.insert("error_text".into(), Value::String(err.message.clone()));
            map.insert("libvirt_code".into(), json!(err.code.number()));
            map.insert("libvirt_error".into(), json!(err.code.name()));
        }
        json!({ "_values": values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the `_exception` table of docs/amqp.md §5.
    #[test]
    fn exception_table() {
        let cases: Vec<(QmfError, u32)> = vec![
            (QmfError::UnknownObject("domain/x".into()), 1),
            (
                QmfError::UnknownMethod {
                    class: "domain".into(),
                    method: "explode".into(),
                },
                2,
            ),
            (QmfError::BadRequest("unknown opcode 'x'".into()), 3),
            (QmfError::Internal("boom".into()), 7),
            (QmfError::invalid_arg("xmlDesc must be a string"), 0x10000 + 8),
            (VirtError::new(ErrorCode::NoDomain, "no domain").into(), 0x10000 + 42),
            (
                VirtError::new(ErrorCode::OperationInvalid, "not running").into(),
                0x10000 + 55,
            ),
            (VirtError::new(ErrorCode::NoSupport, "no").into(), 0x10000 + 3),
            (VirtError::new(ErrorCode::XmlError, "bad xml").into(), 0x10000 + 27),
            (
                VirtError::new(ErrorCode::OperationDenied, "denied").into(),
                0x10000 + 29,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code, "{err:?}");
            assert_eq!(err.to_body()["_values"]["error_code"], json!(code));
        }
        let body = QmfError::from(VirtError::new(ErrorCode::NoDomain, "no domain 'x'")).to_body();
        assert_eq!(body["_values"]["libvirt_error"], json!("NO_DOMAIN"));
        assert_eq!(body["_values"]["error_text"], json!("no domain 'x'"));
    }
}
