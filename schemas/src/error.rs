//! The one error type of the core, carrying libvirt's error code.
//!
//! Every layer (drivers, actors, adapters) reports failures as a [`VirtError`]:
//! a libvirt `virErrorNumber` plus a human message. Adapters translate the code
//! into their protocol's error in one table each (see `docs/`).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! error_codes {
    ($($variant:ident = $num:expr, $name:literal;)*) => {
        /// libvirt's `virErrorNumber`, with libvirt's numbers
        /// (`include/libvirt/virterror.h`, libvirt 9.0.0).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorCode {
            $($variant = $num,)*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// libvirt's number for this code.
            pub fn number(self) -> i32 {
                self as i32
            }

            /// The code for a libvirt number, if libvirt 9.0.0 knows it.
            pub fn from_number(n: i32) -> Option<ErrorCode> {
                match n {
                    $($num => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }

            /// libvirt's C name without the `VIR_ERR_` prefix (`NO_DOMAIN`).
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The code for a name as [`ErrorCode::name`] spells it.
            pub fn from_name(name: &str) -> Option<ErrorCode> {
                match name {
                    $($name => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    Ok = 0, "OK";
    InternalError = 1, "INTERNAL_ERROR";
    NoMemory = 2, "NO_MEMORY";
    NoSupport = 3, "NO_SUPPORT";
    UnknownHost = 4, "UNKNOWN_HOST";
    NoConnect = 5, "NO_CONNECT";
    InvalidConn = 6, "INVALID_CONN";
    InvalidDomain = 7, "INVALID_DOMAIN";
    InvalidArg = 8, "INVALID_ARG";
    OperationFailed = 9, "OPERATION_FAILED";
    GetFailed = 10, "GET_FAILED";
    PostFailed = 11, "POST_FAILED";
    HttpError = 12, "HTTP_ERROR";
    SexprSerial = 13, "SEXPR_SERIAL";
    NoXen = 14, "NO_XEN";
    XenCall = 15, "XEN_CALL";
    OsType = 16, "OS_TYPE";
    NoKernel = 17, "NO_KERNEL";
    NoRoot = 18, "NO_ROOT";
    NoSource = 19, "NO_SOURCE";
    NoTarget = 20, "NO_TARGET";
    NoName = 21, "NO_NAME";
    NoOs = 22, "NO_OS";
    NoDevice = 23, "NO_DEVICE";
    NoXenstore = 24, "NO_XENSTORE";
    DriverFull = 25, "DRIVER_FULL";
    CallFailed = 26, "CALL_FAILED";
    XmlError = 27, "XML_ERROR";
    DomExist = 28, "DOM_EXIST";
    OperationDenied = 29, "OPERATION_DENIED";
    OpenFailed = 30, "OPEN_FAILED";
    ReadFailed = 31, "READ_FAILED";
    ParseFailed = 32, "PARSE_FAILED";
    ConfSyntax = 33, "CONF_SYNTAX";
    WriteFailed = 34, "WRITE_FAILED";
    XmlDetail = 35, "XML_DETAIL";
    InvalidNetwork = 36, "INVALID_NETWORK";
    NetworkExist = 37, "NETWORK_EXIST";
    SystemError = 38, "SYSTEM_ERROR";
    Rpc = 39, "RPC";
    GnutlsError = 40, "GNUTLS_ERROR";
    WarNoNetwork = 41, "WAR_NO_NETWORK";
    NoDomain = 42, "NO_DOMAIN";
    NoNetwork = 43, "NO_NETWORK";
    InvalidMac = 44, "INVALID_MAC";
    AuthFailed = 45, "AUTH_FAILED";
    InvalidStoragePool = 46, "INVALID_STORAGE_POOL";
    InvalidStorageVol = 47, "INVALID_STORAGE_VOL";
    WarNoStorage = 48, "WAR_NO_STORAGE";
    NoStoragePool = 49, "NO_STORAGE_POOL";
    NoStorageVol = 50, "NO_STORAGE_VOL";
    WarNoNode = 51, "WAR_NO_NODE";
    InvalidNodeDevice = 52, "INVALID_NODE_DEVICE";
    NoNodeDevice = 53, "NO_NODE_DEVICE";
    NoSecurityModel = 54, "NO_SECURITY_MODEL";
    OperationInvalid = 55, "OPERATION_INVALID";
    WarNoInterface = 56, "WAR_NO_INTERFACE";
    NoInterface = 57, "NO_INTERFACE";
    InvalidInterface = 58, "INVALID_INTERFACE";
    MultipleInterfaces = 59, "MULTIPLE_INTERFACES";
    WarNoNwfilter = 60, "WAR_NO_NWFILTER";
    InvalidNwfilter = 61, "INVALID_NWFILTER";
    NoNwfilter = 62, "NO_NWFILTER";
    BuildFirewall = 63, "BUILD_FIREWALL";
    WarNoSecret = 64, "WAR_NO_SECRET";
    InvalidSecret = 65, "INVALID_SECRET";
    NoSecret = 66, "NO_SECRET";
    ConfigUnsupported = 67, "CONFIG_UNSUPPORTED";
    OperationTimeout = 68, "OPERATION_TIMEOUT";
    MigratePersistFailed = 69, "MIGRATE_PERSIST_FAILED";
    HookScriptFailed = 70, "HOOK_SCRIPT_FAILED";
    InvalidDomainSnapshot = 71, "INVALID_DOMAIN_SNAPSHOT";
    NoDomainSnapshot = 72, "NO_DOMAIN_SNAPSHOT";
    InvalidStream = 73, "INVALID_STREAM";
    ArgumentUnsupported = 74, "ARGUMENT_UNSUPPORTED";
    StorageProbeFailed = 75, "STORAGE_PROBE_FAILED";
    StoragePoolBuilt = 76, "STORAGE_POOL_BUILT";
    SnapshotRevertRisky = 77, "SNAPSHOT_REVERT_RISKY";
    OperationAborted = 78, "OPERATION_ABORTED";
    AuthCancelled = 79, "AUTH_CANCELLED";
    NoDomainMetadata = 80, "NO_DOMAIN_METADATA";
    MigrateUnsafe = 81, "MIGRATE_UNSAFE";
    Overflow = 82, "OVERFLOW";
    BlockCopyActive = 83, "BLOCK_COPY_ACTIVE";
    OperationUnsupported = 84, "OPERATION_UNSUPPORTED";
    Ssh = 85, "SSH";
    AgentUnresponsive = 86, "AGENT_UNRESPONSIVE";
    ResourceBusy = 87, "RESOURCE_BUSY";
    AccessDenied = 88, "ACCESS_DENIED";
    DbusService = 89, "DBUS_SERVICE";
    StorageVolExist = 90, "STORAGE_VOL_EXIST";
    CpuIncompatible = 91, "CPU_INCOMPATIBLE";
    XmlInvalidSchema = 92, "XML_INVALID_SCHEMA";
    MigrateFinishOk = 93, "MIGRATE_FINISH_OK";
    AuthUnavailable = 94, "AUTH_UNAVAILABLE";
    NoServer = 95, "NO_SERVER";
    NoClient = 96, "NO_CLIENT";
    AgentUnsynced = 97, "AGENT_UNSYNCED";
    Libssh = 98, "LIBSSH";
    DeviceMissing = 99, "DEVICE_MISSING";
    InvalidNwfilterBinding = 100, "INVALID_NWFILTER_BINDING";
    NoNwfilterBinding = 101, "NO_NWFILTER_BINDING";
    InvalidDomainCheckpoint = 102, "INVALID_DOMAIN_CHECKPOINT";
    NoDomainCheckpoint = 103, "NO_DOMAIN_CHECKPOINT";
    NoDomainBackup = 104, "NO_DOMAIN_BACKUP";
    InvalidNetworkPort = 105, "INVALID_NETWORK_PORT";
    NetworkPortExist = 106, "NETWORK_PORT_EXIST";
    NoNetworkPort = 107, "NO_NETWORK_PORT";
    NoHostname = 108, "NO_HOSTNAME";
    CheckpointInconsistent = 109, "CHECKPOINT_INCONSISTENT";
    MultipleDomains = 110, "MULTIPLE_DOMAINS";
    NoNetworkMetadata = 111, "NO_NETWORK_METADATA";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ErrorCode::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown libvirt error code {name}")))
    }
}

/// A failure anywhere in the core: libvirt's code and a message that names the
/// object and value involved (lowercase, no trailing period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct VirtError {
    pub code: ErrorCode,
    pub message: String,
}

impl VirtError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        VirtError {
            code,
            message: message.into(),
        }
    }

    /// `XML_ERROR`: malformed or invalid XML.
    pub fn xml(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::XmlError, message)
    }

    /// `INVALID_ARG`: a caller-supplied value is not acceptable.
    pub fn invalid_arg(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArg, message)
    }

    /// `OPERATION_INVALID`: not possible in the object's current state.
    pub fn operation_invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::OperationInvalid, message)
    }

    /// `OPERATION_FAILED`: tried, and it failed.
    pub fn operation_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::OperationFailed, message)
    }

    /// `INTERNAL_ERROR`: a bug or an unexpected condition.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }

    /// `NO_SUPPORT`: this driver does not implement the operation.
    pub fn no_support(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NoSupport, message)
    }
}

impl VirtError {
    /// The message as libvirt's `virErrorMsg` frames it for this code
    /// (`internal error: domain 'x' not paused`), which is what virsh prints.
    pub fn libvirt_message(&self) -> String {
        let prefix = match self.code {
            ErrorCode::InternalError => "internal error",
            ErrorCode::NoSupport => "this function is not supported by the connection driver",
            ErrorCode::InvalidArg => "invalid argument",
            ErrorCode::OperationFailed => "operation failed",
            ErrorCode::XmlError => "XML error",
            ErrorCode::OperationDenied => "operation forbidden",
            ErrorCode::NoDomain => "Domain not found",
            ErrorCode::NoNetwork => "Network not found",
            ErrorCode::NoStoragePool => "Storage pool not found",
            ErrorCode::NoStorageVol => "Storage volume not found",
            ErrorCode::OperationInvalid => "Requested operation is not valid",
            ErrorCode::ConfigUnsupported => "unsupported configuration",
            ErrorCode::OperationTimeout => "Timed out during operation",
            ErrorCode::NoConnect => "no connection driver available",
            ErrorCode::ResourceBusy => "resource busy",
            _ => return self.message.clone(),
        };
        format!("{prefix}: {}", self.message)
    }
}

/// Result alias used across the core.
pub type VirtResult<T> = Result<T, VirtError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_round_trip() {
        for (idx, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(code.number(), idx as i32, "codes are dense from 0");
            assert_eq!(ErrorCode::from_number(code.number()), Some(*code));
            assert_eq!(ErrorCode::from_name(code.name()), Some(*code));
        }
        assert_eq!(ErrorCode::NoDomain.number(), 42);
        assert_eq!(ErrorCode::OperationInvalid.number(), 55);
        assert_eq!(ErrorCode::XmlError.number(), 27);
        assert_eq!(ErrorCode::from_number(9999), None);
    }

    #[test]
    fn libvirt_framing() {
        let err = VirtError::operation_invalid("domain is not running");
        assert_eq!(
            err.libvirt_message(),
            "Requested operation is not valid: domain is not running"
        );
        let err = VirtError::new(ErrorCode::SystemError, "cannot open 'x'");
        assert_eq!(err.libvirt_message(), "cannot open 'x'");
    }

    #[test]
    fn serialises_as_name() {
        let err = VirtError::new(ErrorCode::NoDomain, "domain 'x' not found");
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(json, r#"{"code":"NO_DOMAIN","message":"domain 'x' not found"}"#);
        let back: VirtError = serde_json::from_str(&json).unwrap();
        assert_eq!(back, err);
    }
}
