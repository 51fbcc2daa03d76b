//! HTTP basic authentication for the JSON-RPC, and bitcoind's `.cookie` file.
//!
//! Without a configured user and password, bitcoind writes `__cookie__:<64 hex digits>` to
//! `<datadir>/.cookie` (owner-only) at start and removes it at shutdown; clients read it to
//! authenticate. The random bytes are an argument here (sans randomness): the binary draws them
//! from the operating system.

use core::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// The file name bitcoind uses for its cookie.
pub const COOKIE_FILE: &str = ".cookie";
/// The user name in a cookie.
pub const COOKIE_USER: &str = "__cookie__";

/// A user name and password for HTTP basic authentication. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The cookie credentials for 32 random bytes.
    pub fn from_cookie_secret(secret: &[u8; 32]) -> Self {
        Credentials::new(COOKIE_USER, hex::encode(secret))
    }

    /// Parses a cookie file's content (`user:password`, surrounding whitespace ignored).
    pub fn parse_cookie(content: &str) -> Option<Self> {
        let (user, password) = content.trim().split_once(':')?;
        Some(Credentials::new(user, password))
    }

    /// Reads a cookie file.
    pub fn read_cookie(path: &Path) -> std::io::Result<Self> {
        let content = std::fs::read_to_string(path)?;
        Self::parse_cookie(&content).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed cookie file")
        })
    }

    /// The value of an `Authorization` header carrying these credentials.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.user, self.password))
        )
    }

    /// Whether an `Authorization` header value carries exactly these credentials. The comparison
    /// of the decoded `user:password` runs in time independent of where it differs.
    pub fn matches_header(&self, header: &[u8]) -> bool {
        let Some(encoded) = header.strip_prefix(b"Basic ") else {
            return false;
        };
        let encoded = encoded.trim_ascii();
        // A header far longer than any credentials we accept is refused before decoding.
        if encoded.len() > 4 * 1024 {
            return false;
        }
        let Ok(decoded) = BASE64.decode(encoded) else {
            return false;
        };
        let expected = format!("{}:{}", self.user, self.password);
        constant_time_eq(&decoded, expected.as_bytes())
    }
}

/// Equality whose running time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes `<datadir>/.cookie` with the cookie credentials for `secret` (owner read/write only on
/// Unix), through a temporary file renamed into place as bitcoind does. Returns its path and the
/// credentials.
pub fn write_cookie(datadir: &Path, secret: &[u8; 32]) -> std::io::Result<(PathBuf, Credentials)> {
    let credentials = Credentials::from_cookie_secret(secret);
    let path = datadir.join(COOKIE_FILE);
    let tmp = datadir.join(".cookie.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(format!("{}:{}", credentials.user, credentials.password).as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &path)?;
    Ok((path, credentials))
}

/// Removes the cookie file (at shutdown). A missing file is not an error.
pub fn remove_cookie(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_mismatch() {
        let c = Credentials::new("user", "pass:word");
        let h = c.basic_header();
        assert_eq!(h, "Basic dXNlcjpwYXNzOndvcmQ=");
        assert!(c.matches_header(h.as_bytes()));
        assert!(!Credentials::new("user", "pass").matches_header(h.as_bytes()));
        assert!(!c.matches_header(b"Bearer dXNlcjpwYXNzOndvcmQ="));
        assert!(!c.matches_header(b"Basic !!!not base64"));
        assert!(!c.matches_header(b"Basic "));
        assert!(!c.matches_header(&[0xff; 10_000]));
    }

    #[test]
    fn debug_redacts_password() {
        let c = Credentials::new("u", "secret-password");
        assert!(!format!("{c:?}").contains("secret-password"));
    }

    #[test]
    fn cookie_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (path, creds) = write_cookie(dir.path(), &[0xab; 32]).unwrap();
        assert_eq!(creds.user, COOKIE_USER);
        assert_eq!(creds.password, "ab".repeat(32));
        assert_eq!(Credentials::read_cookie(&path).unwrap(), creds);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        remove_cookie(&path).unwrap();
        assert!(!path.exists());
        remove_cookie(&path).unwrap();
    }

    proptest::proptest! {
        /// Arbitrary header bytes never authenticate (unless they are the credentials) and never
        /// panic.
        #[test]
        fn arbitrary_headers_are_refused(header in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let c = Credentials::new("user", "password");
            proptest::prop_assert_eq!(c.matches_header(&header), header == c.basic_header().as_bytes());
        }
    }
}
