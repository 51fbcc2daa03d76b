//! The cryptographic primitives BOLT 8 names: `SHA-256`, `HKDF`, `ECDH`,
//! `encryptWithAD` / `decryptWithAD` and the Noise nonce encoding.
//!
//! Everything here is stateless; the stateful pieces live in `handshake` and
//! `cipher`.

use std::sync::OnceLock;

use bitcoin::secp256k1::{ecdh::SharedSecret, PublicKey, Secp256k1, SecretKey, SignOnly};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Length of a symmetric key, chaining key or handshake hash.
pub(crate) const KEY_LEN: usize = 32;
/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

/// A 32-byte secret (key or chaining key). Deliberately has no `Debug`.
pub(crate) type Secret = [u8; KEY_LEN];

/// Overwrites a secret with zeros on a best-effort basis.
///
/// `black_box` keeps the compiler from eliding the writes as dead stores;
/// copies made by earlier moves are not reached (there is no `unsafe` or
/// `zeroize` dependency here). The AEAD instances zeroize their own key copy
/// on drop.
pub(crate) fn wipe(secret: &mut Secret) {
    secret.fill(0);
    std::hint::black_box(secret);
}

/// The signing context used to derive public keys from secret keys.
///
/// Shared so that each handshake does not allocate a new context. It is never
/// randomized because this crate has no source of randomness; key derivation in
/// libsecp256k1 is constant time regardless.
pub(crate) fn secp() -> &'static Secp256k1<SignOnly> {
    static CTX: OnceLock<Secp256k1<SignOnly>> = OnceLock::new();
    CTX.get_or_init(Secp256k1::signing_only)
}

/// Derives the public key of `secret`.
pub(crate) fn public_key(secret: &SecretKey) -> PublicKey {
    PublicKey::from_secret_key(secp(), secret)
}

/// `SHA-256` of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// `ECDH(k, rk)`: SHA-256 of the compressed encoding of `k * rk`.
///
/// libsecp256k1's default ECDH hash is exactly this
/// (`SHA256(0x02 | parity(y) || x)`).
pub(crate) fn ecdh(local: &SecretKey, remote: &PublicKey) -> Secret {
    SharedSecret::new(remote, local).secret_bytes()
}

/// HMAC-SHA256 with a 32-byte key over the concatenation of `parts`.
fn hmac_sha256(key: &Secret, parts: &[&[u8]]) -> [u8; 32] {
    // HMAC zero-pads keys shorter than the hash block (RFC 2104, section 2),
    // so a 32-byte key padded to SHA-256's 64-byte block yields the same MAC.
    // Passing the padded block lets us use the infallible `Mac::new` instead
    // of `new_from_slice`, whose error case cannot occur but would still need
    // handling.
    let mut block = hmac::digest::Key::<Hmac<Sha256>>::default();
    for (dst, src) in block.iter_mut().zip(key) {
        *dst = *src;
    }
    let mut mac = <Hmac<Sha256> as Mac>::new(&block);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// `HKDF(salt, ikm)` with an empty `info`, returning the 64 output bytes as
/// two 32-byte halves (RFC 5869 extract-and-expand).
pub(crate) fn hkdf(salt: &Secret, ikm: &[u8]) -> (Secret, Secret) {
    let prk = hmac_sha256(salt, &[ikm]);
    // HKDF-Expand with L = 64: T(1) = HMAC(PRK, "" || 0x01),
    // T(2) = HMAC(PRK, T(1) || "" || 0x02).
    let t1 = hmac_sha256(&prk, &[&[1]]);
    let t2 = hmac_sha256(&prk, &[&t1, &[2]]);
    (t1, t2)
}

/// The 96-bit Noise nonce: 32 zero bits then the 64-bit little-endian counter.
pub(crate) fn nonce(n: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    for (dst, src) in bytes.iter_mut().skip(4).zip(n.to_le_bytes()) {
        *dst = src;
    }
    Nonce::from(bytes)
}

/// Builds the AEAD for `key`.
pub(crate) fn aead(key: &Secret) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(key))
}

/// `encryptWithAD(k, n, ad, plaintext)` in place; returns the detached tag.
///
/// Only used for the fixed-size handshake payloads (at most 33 bytes). The
/// AEAD can only refuse buffers of 256 GiB or more, so its error case is
/// unreachable here; should it ever occur, the buffer and tag are zeroed so
/// that the peer's MAC check fails and no plaintext is sent (fail closed).
pub(crate) fn encrypt_with_ad(key: &Secret, n: u64, ad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    match aead(key).encrypt_in_place_detached(&nonce(n), ad, buf) {
        Ok(tag) => tag.into(),
        Err(_) => {
            buf.fill(0);
            [0; TAG_LEN]
        }
    }
}

/// `decryptWithAD(k, n, ad, ciphertext)` in place. Returns `false` (leaving
/// `buf` unchanged) if the tag does not verify.
#[must_use]
pub(crate) fn decrypt_with_ad(
    key: &Secret,
    n: u64,
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> bool {
    aead(key)
        .decrypt_in_place_detached(&nonce(n), ad, buf, Tag::from_slice(tag))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn nonce_layout() {
        let n = nonce(0x0102_0304_0506_0708);
        assert_eq!(
            n.as_slice(),
            &[0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1],
            "32 zero bits then little-endian counter"
        );
        assert_eq!(nonce(1).as_slice(), &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn hkdf_matches_reference_crate() {
        let salts = [[0u8; 32], [0x5a; 32], h32(&"ab".repeat(32))];
        let ikms: [&[u8]; 4] = [&[], &[0x11; 32], &[1, 2, 3], &[0xff; 100]];
        for salt in &salts {
            for ikm in ikms {
                let mut okm = [0u8; 64];
                hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
                    .expand(&[], &mut okm)
                    .unwrap();
                let (a, b) = hkdf(salt, ikm);
                assert_eq!(&okm[..32], &a);
                assert_eq!(&okm[32..], &b);
            }
        }
    }

    #[test]
    fn hkdf_matches_rotation_vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/bolt08_vectors.json")).unwrap();
        let rotations = v["messages"]["rotations"].as_array().unwrap();
        assert_eq!(rotations.len(), 2);
        for r in rotations {
            let get = |f: &str| h32(r[f].as_str().unwrap());
            assert_eq!(
                hkdf(&get("ck_in"), &get("k_in")),
                (get("ck_out"), get("k_out"))
            );
        }
    }

    #[test]
    fn aead_round_trip_and_tamper() {
        let key = [7u8; 32];
        let mut buf = *b"hello world";
        let tag = encrypt_with_ad(&key, 3, b"ad", &mut buf);
        assert_ne!(&buf, b"hello world");
        let mut bad = buf;
        assert!(!decrypt_with_ad(&key, 4, b"ad", &mut bad, &tag));
        assert!(!decrypt_with_ad(&key, 3, b"xx", &mut bad, &tag));
        assert_eq!(bad, buf, "failed decryption leaves the buffer untouched");
        assert!(decrypt_with_ad(&key, 3, b"ad", &mut buf, &tag));
        assert_eq!(&buf, b"hello world");
    }
}
