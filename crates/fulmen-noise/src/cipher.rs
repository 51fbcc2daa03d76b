//! One direction of the post-handshake transport: a ChaCha20-Poly1305 key,
//! its nonce counter and its chaining key, with BOLT 8 key rotation.

use core::fmt;

use crate::crypto::{hkdf, wipe, AeadKey, Secret, TAG_LEN};

/// A key is rotated once its nonce reaches this value, i.e. after it has been
/// used 1000 times (500 messages: one length header and one body each).
pub(crate) const ROTATION_INTERVAL: u64 = 1000;

/// Per-direction cipher state: `sk`/`sn`/`sck` or `rk`/`rn`/`rck`.
///
/// The AEAD key is kept set up alongside the raw key so that ChaCha20-Poly1305
/// key setup happens once per rotation rather than once per message. The raw
/// key is still needed as the HKDF input of the next rotation.
pub(crate) struct CipherState {
    key: Secret,
    chaining_key: Secret,
    nonce: u64,
    aead: AeadKey,
}

impl CipherState {
    /// A fresh direction with nonce 0.
    pub(crate) fn new(key: Secret, chaining_key: Secret) -> Self {
        Self {
            aead: AeadKey::new(&key),
            key,
            chaining_key,
            nonce: 0,
        }
    }

    /// The nonce the next operation will use.
    pub(crate) fn nonce(&self) -> u64 {
        self.nonce
    }

    /// The current key.
    #[cfg(test)]
    pub(crate) fn key(&self) -> &Secret {
        &self.key
    }

    /// The current chaining key.
    #[cfg(test)]
    pub(crate) fn chaining_key(&self) -> &Secret {
        &self.chaining_key
    }

    /// Encrypts `buf` in place with an empty AD and returns the tag.
    ///
    /// Returns `None` only if the AEAD refuses the buffer (256 GiB or more);
    /// the state is then left untouched and `buf` is unmodified.
    pub(crate) fn encrypt(&mut self, buf: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        let tag = self.aead.seal(self.nonce, &[], buf)?;
        self.advance();
        Some(tag)
    }

    /// Decrypts `buf` in place with an empty AD after verifying `tag`.
    ///
    /// On failure returns `false`, leaves the state untouched and `buf` all
    /// zeros (no unauthenticated plaintext is exposed).
    #[must_use]
    pub(crate) fn decrypt(&mut self, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        let ok = self.aead.open(self.nonce, &[], buf, tag);
        if ok {
            self.advance();
        }
        ok
    }

    /// Increments the nonce and rotates the key when it reaches 1000:
    /// `ck', k' = HKDF(ck, k)`, `n = 0`.
    fn advance(&mut self) {
        self.nonce += 1;
        if self.nonce == ROTATION_INTERVAL {
            let (chaining_key, key) = hkdf(&self.chaining_key, &self.key);
            self.chaining_key = chaining_key;
            self.key = key;
            self.aead = AeadKey::new(&self.key);
            self.nonce = 0;
        }
    }
}

impl Drop for CipherState {
    fn drop(&mut self) {
        wipe(&mut self.key);
        wipe(&mut self.chaining_key);
    }
}

impl fmt::Debug for CipherState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CipherState")
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_1000_uses() {
        let mut a = CipherState::new([1; 32], [2; 32]);
        let mut b = CipherState::new([1; 32], [2; 32]);
        let (ck1, k1) = hkdf(&[2; 32], &[1; 32]);
        for i in 0..ROTATION_INTERVAL {
            assert_eq!(a.nonce(), i);
            let mut buf = [i as u8; 3];
            let tag = a.encrypt(&mut buf).unwrap();
            assert!(b.decrypt(&mut buf, &tag));
            assert_eq!(buf, [i as u8; 3]);
        }
        assert_eq!(a.nonce(), 0);
        assert_eq!(a.key(), &k1);
        assert_eq!(a.chaining_key(), &ck1);
        assert_eq!(b.key(), &k1);
        assert_eq!(b.chaining_key(), &ck1);
    }

    #[test]
    fn failed_decrypt_does_not_advance() {
        let mut a = CipherState::new([1; 32], [2; 32]);
        let mut b = CipherState::new([1; 32], [2; 32]);
        let mut buf = *b"abc";
        let tag = a.encrypt(&mut buf).unwrap();
        let mut bad_tag = tag;
        bad_tag[0] ^= 1;
        let mut copy = buf;
        assert!(!b.decrypt(&mut copy, &bad_tag));
        assert_eq!(copy, [0; 3], "no unauthenticated plaintext");
        assert_eq!(b.nonce(), 0);
        assert!(b.decrypt(&mut buf, &tag));
        assert_eq!(&buf, b"abc");
    }

    #[test]
    fn debug_is_redacted() {
        let s = format!("{:?}", CipherState::new([0xab; 32], [0xcd; 32]));
        assert!(!s.contains("171"), "{s}");
        assert!(!s.contains("ab"), "{s}");
        assert!(s.contains("nonce"));
    }
}
