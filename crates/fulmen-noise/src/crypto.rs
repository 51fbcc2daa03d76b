//! The cryptographic primitives BOLT 8 names: `SHA-256`, `HKDF`, `ECDH`,
//! `encryptWithAD` / `decryptWithAD` and the Noise nonce encoding.
//!
//! Nothing here keeps state beyond a set-up key ([`AeadKey`]); nonces and
//! rotation live in `handshake` and `cipher`.

use std::sync::OnceLock;

use bitcoin::secp256k1::{ecdh::SharedSecret, PublicKey, Secp256k1, SecretKey, SignOnly};
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
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
/// `zeroize` dependency here). [`AeadKey`] overwrites the AEAD's own key copy
/// the same way when it is dropped.
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
pub(crate) fn nonce(n: u64) -> [u8; 12] {
    let mut bytes = [0u8; 12];
    for (dst, src) in bytes.iter_mut().skip(4).zip(n.to_le_bytes()) {
        *dst = src;
    }
    bytes
}

/// A ChaCha20-Poly1305 (RFC 8439) key, set up once and used for any number
/// of `encryptWithAD` / `decryptWithAD` calls with distinct nonces.
///
/// The AEAD is `ring`'s (BoringSSL's assembly, selected at run time by CPU
/// feature detection): unlike the RustCrypto implementation it has no large
/// per-call set-up cost, which dominates BOLT 8 traffic because every message
/// starts with an AEAD over a 2-byte length.
pub(crate) struct AeadKey {
    /// `None` only if `ring` refused the 32-byte key, which it does only for
    /// a wrong key length and therefore never; every operation then fails
    /// closed.
    key: Option<LessSafeKey>,
}

impl AeadKey {
    /// Sets up the AEAD for `key`.
    pub(crate) fn new(key: &Secret) -> Self {
        Self {
            key: UnboundKey::new(&CHACHA20_POLY1305, key)
                .ok()
                .map(LessSafeKey::new),
        }
    }

    /// `encryptWithAD(k, n, ad, plaintext)` in place; returns the detached
    /// tag.
    ///
    /// Returns `None` only if the AEAD refuses the buffer (256 GiB or more);
    /// `buf` is then unmodified.
    pub(crate) fn seal(&self, n: u64, ad: &[u8], buf: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        let tag = self
            .key
            .as_ref()?
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce(n)), Aad::from(ad), buf)
            .ok()?;
        let mut out = [0; TAG_LEN];
        for (dst, src) in out.iter_mut().zip(tag.as_ref()) {
            *dst = *src;
        }
        Some(out)
    }

    /// `decryptWithAD(k, n, ad, ciphertext)` in place, given the detached
    /// tag. Returns `false` if the tag does not verify; `buf` is then all
    /// zeros, so unauthenticated plaintext is never exposed.
    #[must_use]
    pub(crate) fn open(&self, n: u64, ad: &[u8], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        let ok = self.key.as_ref().is_some_and(|key| {
            key.open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce(n)),
                Aad::from(ad),
                Tag::from(*tag),
                buf,
                0..,
            )
            .is_ok()
        });
        if !ok {
            // `ring` already zeroes what it decrypted; this also covers the
            // (unreachable) missing-key case.
            buf.fill(0);
        }
        ok
    }
}

impl Drop for AeadKey {
    /// Best-effort wipe: `ring` keeps the key inline and does not zeroize it,
    /// so the slot is overwritten in place with a key of zeros (see [`wipe`]
    /// for the limits).
    fn drop(&mut self) {
        if let (Some(slot), Ok(zero)) = (
            self.key.as_mut(),
            UnboundKey::new(&CHACHA20_POLY1305, &[0; KEY_LEN]),
        ) {
            *slot = LessSafeKey::new(zero);
        }
        std::hint::black_box(&mut self.key);
    }
}

/// `encryptWithAD(k, n, ad, plaintext)` in place with a one-off key; returns
/// the detached tag.
///
/// Only used for the fixed-size handshake payloads (at most 33 bytes). The
/// AEAD can only refuse buffers of 256 GiB or more, so its error case is
/// unreachable here; should it ever occur, the buffer and tag are zeroed so
/// that the peer's MAC check fails and no plaintext is sent (fail closed).
pub(crate) fn encrypt_with_ad(key: &Secret, n: u64, ad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    match AeadKey::new(key).seal(n, ad, buf) {
        Some(tag) => tag,
        None => {
            buf.fill(0);
            [0; TAG_LEN]
        }
    }
}

/// `decryptWithAD(k, n, ad, ciphertext)` in place with a one-off key. Returns
/// `false` (leaving `buf` all zeros) if the tag does not verify.
#[must_use]
pub(crate) fn decrypt_with_ad(
    key: &Secret,
    n: u64,
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> bool {
    AeadKey::new(key).open(n, ad, buf, tag)
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
        for (n, ad) in [(4, &b"ad"[..]), (3, &b"xx"[..])] {
            let mut bad = buf;
            assert!(!decrypt_with_ad(&key, n, ad, &mut bad, &tag));
            assert_eq!(bad, [0; 11], "failed decryption zeroes the buffer");
        }
        let mut bad_tag = tag;
        bad_tag[15] ^= 0x80;
        let mut bad = buf;
        assert!(!decrypt_with_ad(&key, 3, b"ad", &mut bad, &bad_tag));
        assert_eq!(bad, [0; 11]);
        assert!(decrypt_with_ad(&key, 3, b"ad", &mut buf, &tag));
        assert_eq!(&buf, b"hello world");
    }

    #[test]
    fn aead_matches_rustcrypto() {
        use chacha20poly1305::aead::AeadInPlace;
        use chacha20poly1305::{ChaCha20Poly1305, KeyInit};

        for len in (0..300).chain([1023, 1024, 1025, 4096, 65535]) {
            let key = [len as u8 ^ 0x3c; 32];
            let n = (len as u64).wrapping_mul(0x0102_0304_0506_0709);
            let ad = vec![len as u8; len % 70];
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();

            let mut ours = plaintext.clone();
            let tag = AeadKey::new(&key).seal(n, &ad, &mut ours).unwrap();
            let mut theirs = plaintext.clone();
            let their_tag = ChaCha20Poly1305::new(&key.into())
                .encrypt_in_place_detached(&nonce(n).into(), &ad, &mut theirs)
                .unwrap();
            assert_eq!(ours, theirs, "ciphertext, len {len}");
            assert_eq!(tag, <[u8; 16]>::from(their_tag), "tag, len {len}");

            assert!(AeadKey::new(&key).open(n, &ad, &mut ours, &tag));
            assert_eq!(ours, plaintext);
        }
    }
}
