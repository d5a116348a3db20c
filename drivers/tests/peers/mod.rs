//! The real programs the driver tests run, found where `scripts/test` put
//! them (or at the path in an environment variable).

use std::path::PathBuf;

/// The program at `$env`, else at `default`; a failure saying which Debian
/// packages `scripts/test` installs for it when it is missing, since these
/// tests never pass without the real program.
pub fn peer_binary(env: &str, default: &str, packages: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.exists(),
        "{} not found at {}: run scripts/test, which installs Debian's {packages}",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        path.display()
    );
    path
}
