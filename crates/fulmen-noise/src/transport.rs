//! Post-handshake message encryption and decryption (BOLT 8 "Lightning
//! Message Specification" and "Key Rotation").
//!
//! Wire format of one message:
//!
//! ```text
//! [2-byte encrypted big-endian length][16-byte MAC][length bytes of encrypted body][16-byte MAC]
//! ```

use core::fmt;

use bitcoin::secp256k1::PublicKey;

use crate::cipher::CipherState;
use crate::crypto::{Secret, TAG_LEN};
use crate::error::{Error, MacStage};

/// Maximum length in bytes of a Lightning message (the plaintext body).
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize;
/// Length in bytes of a Poly1305 MAC.
pub const MAC_LEN: usize = TAG_LEN;
/// Length in bytes of the encrypted length header (2-byte length + MAC).
pub const LENGTH_HEADER_LEN: usize = 2 + MAC_LEN;

/// Number of bytes on the wire for a message of `message_len` plaintext bytes:
/// `18 + message_len + 16`.
#[must_use]
pub const fn encrypted_len(message_len: usize) -> usize {
    LENGTH_HEADER_LEN + message_len + MAC_LEN
}

/// The sending half of a [`Transport`]: `sk`, `sn` and `sck`.
pub struct Encryptor {
    cipher: CipherState,
}

impl Encryptor {
    /// Encrypts one Lightning message and returns its wire bytes
    /// ([`encrypted_len`]`(message.len())` of them).
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLong`] if `message` exceeds [`MAX_MESSAGE_LEN`]
    /// bytes; the encryptor is then unchanged.
    pub fn encrypt(&mut self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(encrypted_len(message.len()));
        self.encrypt_into(message, &mut out)?;
        Ok(out)
    }

    /// Encrypts one Lightning message and appends its wire bytes to `out`.
    ///
    /// Reusing `out` across calls avoids any allocation: the message is
    /// copied once and encrypted in place.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLong`] if `message` exceeds [`MAX_MESSAGE_LEN`]
    /// bytes; the encryptor and `out` are then unchanged.
    pub fn encrypt_into(&mut self, message: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let too_long = Error::MessageTooLong { len: message.len() };
        let len = u16::try_from(message.len()).map_err(|_| too_long)?;
        let start = out.len();
        out.reserve(encrypted_len(message.len()));

        let mut header = len.to_be_bytes();
        let header_tag = self.cipher.encrypt(&mut header).ok_or(too_long)?;
        out.extend_from_slice(&header);
        out.extend_from_slice(&header_tag);

        let body_start = out.len();
        out.extend_from_slice(message);
        let (_, body) = out.split_at_mut(body_start);
        match self.cipher.encrypt(body) {
            Some(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            None => {
                // Unreachable for messages of at most 65535 bytes.
                out.truncate(start);
                Err(too_long)
            }
        }
    }
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor")
            .field("nonce", &self.cipher.nonce())
            .finish_non_exhaustive()
    }
}

/// The receiving half of a [`Transport`]: `rk`, `rn` and `rck`.
///
/// For a stream, call [`decrypt_length`](Self::decrypt_length) on exactly
/// [`LENGTH_HEADER_LEN`] bytes, then
/// [`decrypt_body_in_place`](Self::decrypt_body_in_place) on exactly
/// `length + MAC_LEN` bytes, strictly alternating. Each call consumes one
/// nonce, so calls out of order fail authentication (they never decrypt
/// anything wrongly). To decode arbitrary chunks instead, wrap the decryptor
/// in a [`MessageDecoder`](crate::MessageDecoder).
pub struct Decryptor {
    cipher: CipherState,
}

impl Decryptor {
    /// Authenticates and decrypts an 18-byte length header; returns the
    /// length of the message body that follows (excluding its MAC).
    ///
    /// The returned length is authenticated, so it is safe to allocate
    /// `length + MAC_LEN` bytes for the body.
    ///
    /// # Errors
    ///
    /// [`Error::BadMac`] with [`MacStage::LengthHeader`].
    pub fn decrypt_length(&mut self, header: &[u8; LENGTH_HEADER_LEN]) -> Result<u16, Error> {
        let [l0, l1, tag @ ..] = *header;
        let mut len = [l0, l1];
        if self.cipher.decrypt(&mut len, &tag) {
            Ok(u16::from_be_bytes(len))
        } else {
            Err(Error::BadMac(MacStage::LengthHeader))
        }
    }

    /// Authenticates and decrypts a message body (ciphertext followed by its
    /// 16-byte MAC) in place, and returns the plaintext: the first
    /// `body.len() - MAC_LEN` bytes of `body`.
    ///
    /// On [`Error::BadMac`] the ciphertext part of `body` (all but its last
    /// 16 bytes) is overwritten with zeros, so no unauthenticated plaintext
    /// is ever exposed; on the other errors `body` is left unmodified.
    ///
    /// # Errors
    ///
    /// [`Error::TruncatedBody`] if `body` is shorter than a MAC,
    /// [`Error::MessageTooLong`] if it is longer than
    /// `MAX_MESSAGE_LEN + MAC_LEN`, otherwise [`Error::BadMac`] with
    /// [`MacStage::Body`].
    pub fn decrypt_body_in_place<'a>(&mut self, body: &'a mut [u8]) -> Result<&'a mut [u8], Error> {
        let len = body.len();
        if len > MAX_MESSAGE_LEN + MAC_LEN {
            return Err(Error::MessageTooLong { len: len - MAC_LEN });
        }
        let (ciphertext, tag) = body
            .split_last_chunk_mut::<MAC_LEN>()
            .ok_or(Error::TruncatedBody { len })?;
        let tag = *tag;
        if self.cipher.decrypt(ciphertext, &tag) {
            Ok(ciphertext)
        } else {
            Err(Error::BadMac(MacStage::Body))
        }
    }
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("nonce", &self.cipher.nonce())
            .finish_non_exhaustive()
    }
}

/// An established BOLT 8 session: both directions plus the peer's
/// authenticated static key.
///
/// Use it directly, or [`split`](Self::split) it to hand the sending and
/// receiving halves to different tasks.
pub struct Transport {
    encryptor: Encryptor,
    decryptor: Decryptor,
    remote_static: PublicKey,
}

impl Transport {
    /// Builds the session from the handshake's final keys. Both directions
    /// start from the same chaining key (`rck = sck = ck`).
    pub(crate) fn new(
        sending_key: Secret,
        receiving_key: Secret,
        chaining_key: Secret,
        remote_static: PublicKey,
    ) -> Self {
        Self {
            encryptor: Encryptor {
                cipher: CipherState::new(sending_key, chaining_key),
            },
            decryptor: Decryptor {
                cipher: CipherState::new(receiving_key, chaining_key),
            },
            remote_static,
        }
    }

    /// The peer's static public key (its node id), authenticated by the
    /// handshake.
    #[must_use]
    pub fn remote_static(&self) -> &PublicKey {
        &self.remote_static
    }

    /// See [`Encryptor::encrypt`].
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLong`].
    pub fn encrypt(&mut self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.encryptor.encrypt(message)
    }

    /// See [`Encryptor::encrypt_into`].
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLong`].
    pub fn encrypt_into(&mut self, message: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.encryptor.encrypt_into(message, out)
    }

    /// See [`Decryptor::decrypt_length`].
    ///
    /// # Errors
    ///
    /// [`Error::BadMac`].
    pub fn decrypt_length(&mut self, header: &[u8; LENGTH_HEADER_LEN]) -> Result<u16, Error> {
        self.decryptor.decrypt_length(header)
    }

    /// See [`Decryptor::decrypt_body_in_place`].
    ///
    /// # Errors
    ///
    /// [`Error::TruncatedBody`], [`Error::MessageTooLong`] or
    /// [`Error::BadMac`].
    pub fn decrypt_body_in_place<'a>(&mut self, body: &'a mut [u8]) -> Result<&'a mut [u8], Error> {
        self.decryptor.decrypt_body_in_place(body)
    }

    /// Splits the session into its sending and receiving halves.
    #[must_use]
    pub fn split(self) -> (Encryptor, Decryptor) {
        (self.encryptor, self.decryptor)
    }

    /// The sending half, for tests of key material.
    #[cfg(test)]
    pub(crate) fn sending(&self) -> &CipherState {
        &self.encryptor.cipher
    }

    /// The receiving half, for tests of key material.
    #[cfg(test)]
    pub(crate) fn receiving(&self) -> &CipherState {
        &self.decryptor.cipher
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("remote_static", &self.remote_static)
            .field("encryptor", &self.encryptor)
            .field("decryptor", &self.decryptor)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Transport, Transport) {
        let pk = crate::crypto::public_key(
            &bitcoin::secp256k1::SecretKey::from_slice(&[3; 32]).unwrap(),
        );
        (
            Transport::new([1; 32], [2; 32], [9; 32], pk),
            Transport::new([2; 32], [1; 32], [9; 32], pk),
        )
    }

    fn deliver(to: &mut Transport, wire: &[u8]) -> Result<Vec<u8>, Error> {
        let (header, body) = wire.split_at(LENGTH_HEADER_LEN);
        let len = to.decrypt_length(header.try_into().unwrap())?;
        assert_eq!(body.len(), usize::from(len) + MAC_LEN);
        let mut body = body.to_vec();
        Ok(to.decrypt_body_in_place(&mut body)?.to_vec())
    }

    #[test]
    fn round_trip_both_directions_across_rotations() {
        let (mut a, mut b) = pair();
        for i in 0..1200usize {
            let msg = vec![i as u8; i % 300];
            let wire = a.encrypt(&msg).unwrap();
            assert_eq!(wire.len(), encrypted_len(msg.len()));
            assert_eq!(deliver(&mut b, &wire).unwrap(), msg);
            let wire = b.encrypt(&msg[..msg.len() / 2]).unwrap();
            assert_eq!(deliver(&mut a, &wire).unwrap(), &msg[..msg.len() / 2]);
        }
    }

    #[test]
    fn limits() {
        let (mut a, mut b) = pair();
        let max = vec![0x42; MAX_MESSAGE_LEN];
        let wire = a.encrypt(&max).unwrap();
        assert_eq!(deliver(&mut b, &wire).unwrap(), max);

        let mut out = vec![7];
        assert_eq!(
            a.encrypt_into(&vec![0; MAX_MESSAGE_LEN + 1], &mut out),
            Err(Error::MessageTooLong {
                len: MAX_MESSAGE_LEN + 1
            })
        );
        assert_eq!(out, [7], "output untouched on error");
        // State untouched: the next message still decrypts.
        let wire = a.encrypt(b"").unwrap();
        assert_eq!(deliver(&mut b, &wire).unwrap(), b"");

        assert_eq!(
            b.decrypt_body_in_place(&mut [0; 15]),
            Err(Error::TruncatedBody { len: 15 })
        );
        assert_eq!(
            b.decrypt_body_in_place(&mut vec![0; MAX_MESSAGE_LEN + MAC_LEN + 1]),
            Err(Error::MessageTooLong {
                len: MAX_MESSAGE_LEN + 1
            })
        );
    }

    #[test]
    fn tampering_is_detected() {
        let (mut a, mut b) = pair();
        let wire = a.encrypt(b"hello").unwrap();
        for bit in 0..wire.len() * 8 {
            let (_, mut b2) = pair();
            let mut bad = wire.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let err = deliver(&mut b2, &bad).unwrap_err();
            let expected = if bit / 8 < LENGTH_HEADER_LEN {
                MacStage::LengthHeader
            } else {
                MacStage::Body
            };
            assert_eq!(err, Error::BadMac(expected));
        }
        assert_eq!(deliver(&mut b, &wire).unwrap(), b"hello");
    }

    #[test]
    fn debug_is_redacted() {
        let (a, _) = pair();
        let s = format!("{a:?}");
        assert!(s.contains("remote_static") && s.contains("nonce"), "{s}");
        assert!(!s.contains("[1, 1") && !s.contains("0101"), "{s}");
    }
}
