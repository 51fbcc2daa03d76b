//! Where the node's randomness comes from.
//!
//! The runtime needs fresh randomness for the mnemonic of a new node, for
//! every BOLT 8 handshake's ephemeral key, for the RPC cookie and to blind
//! the signing context ([`fulmen_types::ec::blind`]) at start. It never
//! draws it itself: [`crate::Node::start`] takes an [`EntropySource`], which
//! the binary fills from the operating system ([`OsEntropy`]) and tests may
//! replace.

use core::fmt;

use bitcoin::secp256k1::SecretKey;
use zeroize::Zeroizing;

/// The entropy source failed; the node cannot make keys and must not start
/// (or must drop the connection that needed a key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntropyError {
    /// The operating system's random number generator failed.
    Unavailable,
    /// Repeated draws never gave a valid secp256k1 secret key (a broken
    /// source: the chance with a working one is about 2^-128 per draw).
    NoValidKey,
}

impl fmt::Display for EntropyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable => f.write_str("the entropy source is unavailable"),
            Self::NoValidKey => f.write_str("the entropy source gave no valid secret key"),
        }
    }
}

impl std::error::Error for EntropyError {}

/// A source of cryptographically secure random bytes.
pub trait EntropySource: Send + Sync + 'static {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), EntropyError>;
}

/// The operating system's random number generator (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl EntropySource for OsEntropy {
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::getrandom(dest).map_err(|_| EntropyError::Unavailable)
    }
}

/// How many draws [`secret_key`] makes before giving up.
const KEY_ATTEMPTS: usize = 8;

/// A fresh secret key (e.g. a handshake's ephemeral key) from `source`.
pub fn secret_key(source: &dyn EntropySource) -> Result<SecretKey, EntropyError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    for _ in 0..KEY_ATTEMPTS {
        source.fill_bytes(bytes.as_mut())?;
        if let Ok(key) = SecretKey::from_slice(bytes.as_ref()) {
            return Ok(key);
        }
    }
    Err(EntropyError::NoValidKey)
}

/// `N` random bytes from `source`, wiped when dropped.
pub fn random_bytes<const N: usize>(
    source: &dyn EntropySource,
) -> Result<Zeroizing<[u8; N]>, EntropyError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    source.fill_bytes(bytes.as_mut())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Constant(u8);
    impl EntropySource for Constant {
        fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
            dest.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn os_entropy_gives_distinct_keys() {
        let a = secret_key(&OsEntropy).unwrap();
        let b = secret_key(&OsEntropy).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn invalid_keys_are_redrawn_then_refused() {
        // All zeros and all 0xff are not valid secret keys.
        assert_eq!(secret_key(&Constant(0)), Err(EntropyError::NoValidKey));
        assert_eq!(secret_key(&Constant(0xff)), Err(EntropyError::NoValidKey));
        assert!(secret_key(&Constant(7)).is_ok());
        assert_eq!(*random_bytes::<4>(&Constant(9)).unwrap(), [9; 4]);
    }
}
