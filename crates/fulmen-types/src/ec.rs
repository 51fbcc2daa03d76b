//! The two elliptic-curve operations Fulmen does most often, on a newer
//! libsecp256k1: public key generation (`k·G`) and ECDSA signing.
//!
//! rust-bitcoin 0.32 pins `secp256k1` 0.29, which bundles libsecp256k1 0.4.
//! Its generator multiplication adds 64 table points; libsecp256k1 0.6
//! (bundled by `secp256k1` 0.31) uses a signed-digit multi-comb with 44
//! additions and 3 doublings over a 22 KB table, so
//! `k·G` is ~19% faster and a signature ~14% faster on the development VM
//! (17.7 vs 21.7 µs and 23.8 vs 27.8 µs). Both are constant time in the
//! secret and give the same results: signing is deterministic (RFC 6979,
//! low-S), so a signature made here is byte for byte the one 0.29 makes.
//!
//! Results are handed back as rust-bitcoin's types (an uncompressed point or
//! a compact signature crosses over, ~0.2 µs). Callers also build BOLT 3's
//! `basepoint + h·G` from [`public_key`] and one point addition. The other
//! operations (verification, ECDH, variable-base multiplication) stay on
//! rust-bitcoin's `secp256k1`, where 0.6 is no faster. If a conversion were
//! ever refused (it cannot be for a valid key), the old library computes the
//! result instead.

use std::sync::OnceLock;

use bitcoin::secp256k1::{ecdsa::Signature, Message, PublicKey, Secp256k1, SecretKey};
use secp256k1_v06 as v06;

static CTX: OnceLock<v06::Secp256k1<v06::All>> = OnceLock::new();

fn context() -> &'static v06::Secp256k1<v06::All> {
    CTX.get_or_init(v06::Secp256k1::new)
}

/// Blinds the process-wide signing context with `seed`: libsecp256k1's
/// context randomization, a defence against side channels (power, EM) on
/// `k·G`. Results do not change: keys and RFC 6979 signatures are the same
/// with or without it. This crate has no randomness of its own, so the node
/// calls this once at start with fresh bytes from its entropy source.
///
/// Returns `true` if this call blinded the context; `false` if it was
/// already in use (an earlier call, or a key or signature made before),
/// which it then leaves as it is.
pub fn blind(seed: &[u8; 32]) -> bool {
    let mut blinded = false;
    CTX.get_or_init(|| {
        let mut ctx = v06::Secp256k1::new();
        ctx.seeded_randomize(seed);
        blinded = true;
        ctx
    });
    blinded
}

fn fallback_context() -> &'static Secp256k1<bitcoin::secp256k1::All> {
    static CTX: OnceLock<Secp256k1<bitcoin::secp256k1::All>> = OnceLock::new();
    CTX.get_or_init(Secp256k1::new)
}

fn secret_v06(secret: &SecretKey) -> Option<v06::SecretKey> {
    v06::SecretKey::from_byte_array(secret.secret_bytes()).ok()
}

/// `secret·G`, the public key of `secret`.
pub fn public_key(secret: &SecretKey) -> PublicKey {
    secret_v06(secret)
        .map(|sk| v06::PublicKey::from_secret_key(context(), &sk))
        .and_then(|pk| PublicKey::from_slice(&pk.serialize_uncompressed()).ok())
        .unwrap_or_else(|| PublicKey::from_secret_key(fallback_context(), secret))
}

/// The ECDSA signature of `msg` by `secret` (RFC 6979 nonce, low-S), as
/// [`Secp256k1::sign_ecdsa`] would make it.
pub fn sign_ecdsa(msg: &Message, secret: &SecretKey) -> Signature {
    secret_v06(secret)
        .map(|sk| context().sign_ecdsa(v06::Message::from_digest(*msg.as_ref()), &sk))
        .and_then(|sig| Signature::from_compact(&sig.serialize_compact()).ok())
        .unwrap_or_else(|| fallback_context().sign_ecdsa(msg, secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bitcoin::hashes::Hash;

    use super::*;
    use crate::ids::parse_hex;

    /// Both libraries agree on keys and signatures over many scalars,
    /// including the smallest and largest valid ones, with the context
    /// blinded (whichever test of this process used it first).
    #[test]
    fn same_results_as_rust_bitcoins_secp256k1() {
        blind(&[0x42; 32]);
        assert!(
            !blind(&[0x43; 32]),
            "a context in use is never blinded again"
        );
        let secp = Secp256k1::new();
        let mut seed = [0x11u8; 32];
        let mut secrets = vec![
            SecretKey::from_slice(&{
                let mut one = [0u8; 32];
                one[31] = 1;
                one
            })
            .unwrap(),
            // n - 1
            SecretKey::from_slice(
                &parse_hex::<32>(
                    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
                )
                .unwrap(),
            )
            .unwrap(),
        ];
        for _ in 0..200 {
            seed = bitcoin::hashes::sha256::Hash::hash(&seed).to_byte_array();
            if let Ok(sk) = SecretKey::from_slice(&seed) {
                secrets.push(sk);
            }
        }
        for (i, sk) in secrets.iter().enumerate() {
            assert_eq!(
                public_key(sk),
                PublicKey::from_secret_key(&secp, sk),
                "key {i}"
            );
            let msg = Message::from_digest(seed);
            assert_eq!(
                sign_ecdsa(&msg, sk),
                secp.sign_ecdsa(&msg, sk),
                "signature {i}"
            );
            seed[0] ^= 0x5a;
        }
    }
}
