//! Keys and shared secrets (BOLT 4 "Key Generation", "Pseudo Random Byte
//! Stream", "Shared Secret" and "Blinding Ephemeral Onion Keys").
//!
//! Everything here is a pure function of its arguments: the shared secret is
//! the SHA256 of the compressed ECDH point, each derived key is
//! `HMAC-SHA256(key_type, shared_secret)`, and the byte streams are ChaCha20
//! with an all-zero 96-bit nonce.

use core::fmt;
use std::sync::OnceLock;

use bitcoin::secp256k1::{self, ecdh, PublicKey, Scalar, Secp256k1, SecretKey};
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The process-wide secp256k1 context (verification and signing tables).
pub(crate) fn secp() -> &'static Secp256k1<secp256k1::All> {
    static CTX: OnceLock<Secp256k1<secp256k1::All>> = OnceLock::new();
    CTX.get_or_init(Secp256k1::new)
}

/// The key types of BOLT 4 (the HMAC key used to derive a per-hop key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// `rho`: the stream that obfuscates `hop_payloads`.
    Rho,
    /// `mu`: the HMAC key of the packet.
    Mu,
    /// `um`: the HMAC key of a returned failure.
    Um,
    /// `pad`: the stream that fills the initial packet.
    Pad,
    /// `ammag`: the stream that obfuscates a returned failure.
    Ammag,
}

impl KeyType {
    /// The ASCII key-type bytes (no terminating NUL).
    pub const fn label(self) -> &'static [u8] {
        match self {
            Self::Rho => b"rho",
            Self::Mu => b"mu",
            Self::Um => b"um",
            Self::Pad => b"pad",
            Self::Ammag => b"ammag",
        }
    }

    /// An HMAC-SHA256 already keyed with [`label`](Self::label): the key
    /// blocks are hashed once per process, not once per derived key.
    fn keyed_hmac(self) -> HmacSha256 {
        static KEYED: [OnceLock<HmacSha256>; 5] = [const { OnceLock::new() }; 5];
        let [rho, mu, um, pad, ammag] = &KEYED;
        let slot = match self {
            Self::Rho => rho,
            Self::Mu => mu,
            Self::Um => um,
            Self::Pad => pad,
            Self::Ammag => ammag,
        };
        slot.get_or_init(|| {
            // A key shorter than the block is zero-padded to it (RFC 2104).
            let mut key = hmac::digest::Key::<HmacSha256>::default();
            for (k, b) in key.iter_mut().zip(self.label()) {
                *k = *b;
            }
            <HmacSha256 as hmac::digest::KeyInit>::new(&key)
        })
        .clone()
    }
}

/// A 32-byte secret shared by the origin and one hop (`ss` in BOLT 4).
///
/// `Debug` never prints the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SharedSecret(pub [u8; 32]);

impl SharedSecret {
    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The derived key of type `kt`: `HMAC-SHA256(kt, ss)`.
    pub fn key(&self, kt: KeyType) -> [u8; 32] {
        let mut mac = kt.keyed_hmac();
        mac.update(&self.0);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// Why a key operation failed. These only happen for inputs a peer chose
/// (a point off the curve) or with negligible probability (a hash that is not
/// a valid scalar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a valid compressed secp256k1 point.
    InvalidPublicKey,
    /// A blinding factor or tweak is zero or not below the curve order.
    InvalidTweak,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPublicKey => f.write_str("invalid public key"),
            Self::InvalidTweak => f.write_str("blinding factor is not a valid scalar"),
        }
    }
}

impl std::error::Error for KeyError {}

/// `HMAC-SHA256(key, msg)`.
pub fn hmac256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    hmac256_parts(key, &[msg])
}

/// `HMAC-SHA256(key, parts[0] || parts[1] || ...)`.
pub fn hmac256_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// `SHA256(parts[0] || parts[1] || ...)`.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Constant-time equality of two equal-length byte strings (false if the
/// lengths differ; the length itself is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// XORs the ChaCha20 stream of `key` (zero nonce), starting at byte `offset`
/// of the stream, into `buf`.
pub fn xor_stream_at(key: &[u8; 32], offset: u64, buf: &mut [u8]) {
    let mut c = ChaCha20::new(key.into(), &[0u8; 12].into());
    c.seek(offset);
    c.apply_keystream(buf);
}

/// XORs the ChaCha20 stream of `key` (zero nonce) into `buf`.
pub fn xor_stream(key: &[u8; 32], buf: &mut [u8]) {
    xor_stream_at(key, 0, buf);
}

/// `len` bytes of the ChaCha20 stream of `key` (zero nonce).
pub fn stream(key: &[u8; 32], len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    xor_stream(key, &mut v);
    v
}

/// The ECDH shared secret `SHA256(compressed(k * P))`, as libsecp256k1's
/// default ECDH hash computes it (hashed here, where SHA256 uses the CPU's
/// SHA extensions when it has them).
pub fn ecdh(point: &PublicKey, secret: &SecretKey) -> SharedSecret {
    let xy = ecdh::shared_secret_point(point, secret);
    let (x, y) = xy.split_at(32);
    let parity = y.last().map_or(0, |b| b & 1);
    SharedSecret(sha256_parts(&[&[0x02 | parity], x]))
}

/// The blinding factor for the next ephemeral key: `SHA256(epk || ss)`.
pub fn blinding_factor(ephemeral: &PublicKey, ss: &SharedSecret) -> [u8; 32] {
    sha256_parts(&[&ephemeral.serialize(), &ss.0])
}

fn scalar(bytes: [u8; 32]) -> Result<Scalar, KeyError> {
    Scalar::from_be_bytes(bytes).map_err(|_| KeyError::InvalidTweak)
}

/// `factor * point`.
pub fn mul_public(point: &PublicKey, factor: [u8; 32]) -> Result<PublicKey, KeyError> {
    point
        .mul_tweak(secp(), &scalar(factor)?)
        .map_err(|_| KeyError::InvalidTweak)
}

/// `factor * secret` (mod the curve order).
pub fn mul_secret(secret: &SecretKey, factor: [u8; 32]) -> Result<SecretKey, KeyError> {
    secret
        .mul_tweak(&scalar(factor)?)
        .map_err(|_| KeyError::InvalidTweak)
}

/// The public key of `secret`.
pub fn public_key(secret: &SecretKey) -> PublicKey {
    fulmen_types::ec::public_key(secret)
}

/// Parses a 33-byte compressed public key.
pub fn parse_public(bytes: &[u8]) -> Result<PublicKey, KeyError> {
    PublicKey::from_slice(bytes).map_err(|_| KeyError::InvalidPublicKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn key_derivation_matches_spec_trace() {
        // BOLT 4 "Returning Errors" trace, hop 4.
        let ss = SharedSecret(h32(
            "b5756b9b542727dbafc6765a49488b023a725d631af688fc031217e90770c328",
        ));
        assert_eq!(
            hex::encode(ss.key(KeyType::Um)),
            "4da7f2923edce6c2d85987d1d9fa6d88023e6c3a9c3d20f07d3b10b61a78d646"
        );
        assert_eq!(
            hex::encode(ss.key(KeyType::Ammag)),
            "2f36bb8822e1f0d04c27b7d8bb7d7dd586e032a3218b8d414afbba6f169a4d68"
        );
        assert_eq!(format!("{ss:?}"), "SharedSecret(<redacted>)");
    }

    #[test]
    fn stream_matches_spec_trace_and_seeks() {
        let key = h32("2f36bb8822e1f0d04c27b7d8bb7d7dd586e032a3218b8d414afbba6f169a4d68");
        let s = stream(&key, 300);
        assert!(hex::encode(&s).starts_with("e9c975b07c9a374ba64fd9be3aae955e917d34d1"));
        let mut tail = vec![0u8; 100];
        xor_stream_at(&key, 200, &mut tail);
        assert_eq!(tail, s[200..]);
    }

    #[test]
    fn ct_eq_semantics() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
