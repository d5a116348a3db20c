//! The one table that maps core errors ([`VirtError`] codes) to what an SNMP
//! manager sees. `docs/snmp.md` shows the same table; a test pins it.
//!
//! SNMP gives an agent few ways to say why: a read either has a value or an
//! exception (`noSuchInstance`), and a SET that passed its test phase can
//! only fail as `commitFailed` (or `undoFailed` when rolling back failed too,
//! RFC 3416 §4.2.5). So the table is small: what the test phase can know from
//! the snapshot it answers precisely (see [`crate::guest_set`]); what only the
//! core can tell us at commit time becomes `commitFailed`.

use async_snmp::ErrorStatus;
use virtbus_schemas::{ErrorCode, VirtError};

/// What a read of a column backed by a core call returns on error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The row vanished between the snapshot and the call.
    NoSuchInstance,
    /// The value does not exist for this row now (e.g. CPU time of a guest
    /// that is not running): report zero, as libvirt-snmp does.
    Zero,
    /// Anything else: the request fails with `genErr`.
    GenErr,
}

/// Reads: core error → outcome.
pub fn read_outcome(err: &VirtError) -> ReadOutcome {
    match err.code {
        ErrorCode::NoDomain => ReadOutcome::NoSuchInstance,
        ErrorCode::OperationInvalid => ReadOutcome::Zero,
        _ => ReadOutcome::GenErr,
    }
}

/// SET commit: core error → error-status (v2c/v3; for v1 the agent turns
/// `commitFailed` into `genErr`, RFC 2576 §4.3).
pub fn commit_status(_err: &VirtError) -> ErrorStatus {
    ErrorStatus::CommitFailed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: ErrorCode) -> VirtError {
        VirtError {
            code,
            message: format!("test error {}", code.name()),
        }
    }

    #[test]
    fn read_table_is_pinned() {
        assert_eq!(read_outcome(&err(ErrorCode::NoDomain)), ReadOutcome::NoSuchInstance);
        assert_eq!(read_outcome(&err(ErrorCode::OperationInvalid)), ReadOutcome::Zero);
        assert_eq!(read_outcome(&err(ErrorCode::InternalError)), ReadOutcome::GenErr);
        assert_eq!(read_outcome(&err(ErrorCode::OperationFailed)), ReadOutcome::GenErr);
        assert_eq!(read_outcome(&err(ErrorCode::NoSupport)), ReadOutcome::GenErr);
    }

    #[test]
    fn commit_table_is_pinned() {
        for code in ErrorCode::ALL {
            assert_eq!(commit_status(&err(*code)), ErrorStatus::CommitFailed, "{}", code.name());
        }
    }
}
