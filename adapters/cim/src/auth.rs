//! HTTP Basic authentication against configured users whose passwords are
//! stored as SHA-512 crypt hashes (`$6$salt$...`, as `mkpasswd -m sha-512`
//! or `openssl passwd -6` print them). Plain-text passwords are never kept.

use base64::Engine as _;

/// One configured user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// A `$6$` SHA-512 crypt hash.
    pub password_hash: String,
}

/// Why a configured user is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("cim user '{0}': password_hash must be a SHA-512 crypt hash ($6$...)")]
    BadHash(String),
    #[error("cim user name '{0}' must be non-empty and contain no ':'")]
    BadName(String),
}

impl User {
    pub fn check(&self) -> Result<(), UserError> {
        if self.name.is_empty() || self.name.contains(':') {
            return Err(UserError::BadName(self.name.clone()));
        }
        if !self.password_hash.starts_with("$6$") || self.password_hash.matches('$').count() < 3 {
            return Err(UserError::BadHash(self.name.clone()));
        }
        Ok(())
    }
}

/// Checks an `Authorization` header value against `users`; returns the
/// user name on success.
pub fn verify(users: &[User], header: Option<&str>) -> Option<String> {
    let encoded = header?
        .strip_prefix("Basic ")
        .or_else(|| header?.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (name, password) = decoded.split_once(':')?;
    let user = users.iter().find(|u| u.name == name)?;
    sha_crypt::sha512_check(password, &user.password_hash).ok()?;
    Some(user.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_with_sha512_crypt() {
        let params = sha_crypt::Sha512Params::new(5000).unwrap();
        let hash = sha_crypt::sha512_simple("s3cret", &params).unwrap();
        let users = vec![User {
            name: "admin".into(),
            password_hash: hash,
        }];
        assert!(users[0].check().is_ok());
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
        );
        let bad = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin:wrong")
        );
        assert_eq!(verify(&users, Some(&good)), Some("admin".into()));
        assert_eq!(verify(&users, Some(&bad)), None);
        assert_eq!(verify(&users, Some("Basic !!!")), None);
        assert_eq!(verify(&users, None), None);
        let plain = User {
            name: "x".into(),
            password_hash: "plaintext".into(),
        };
        assert_eq!(plain.check(), Err(UserError::BadHash("x".into())));
    }
}
