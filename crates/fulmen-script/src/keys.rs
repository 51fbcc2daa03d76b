//! BOLT 3 key derivation: per-commitment points, the keys that appear in
//! each commitment's scripts, and their private keys.
//!
//! Every commitment uses fresh keys, derived from long-lived *basepoints*
//! and that commitment's `per_commitment_point`:
//!
//! ```text
//! pubkey           = basepoint + SHA256(per_commitment_point || basepoint) * G
//! revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
//!                  + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)
//! ```
//!
//! The derived keys are wrapped in one newtype per role, so that a script
//! builder cannot be handed a delayed key where a revocation key belongs.

use core::fmt;

use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::secp256k1::{PublicKey, Scalar, Secp256k1, SecretKey, Verification};

use fulmen_types::ec;

use crate::shachain::PerCommitmentSecret;

/// Why a key could not be derived.
///
/// For keys built from honest inputs these cannot happen (they need a SHA256
/// output at least the curve order, or two points that cancel); if one does,
/// the peer's basepoint or point is hostile: fail the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A secret is zero or not below the curve order.
    InvalidSecret,
    /// A tweak hash is not below the curve order, or the derived key is the
    /// point at infinity (or zero).
    InvalidTweak,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSecret => f.write_str("secret is not a valid secp256k1 private key"),
            Self::InvalidTweak => f.write_str("key derivation produced an invalid key"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A party's four basepoints, as sent in `open_channel` / `accept_channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Basepoints {
    /// `revocation_basepoint`: combined with the *counterparty's*
    /// per-commitment points into the `revocationpubkey` of the
    /// counterparty's commitments, so that this party can punish them.
    pub revocation: PublicKey,
    /// `payment_basepoint`: with `option_static_remotekey`, the key of the
    /// `to_remote` output on the counterparty's commitment.
    pub payment: PublicKey,
    /// `delayed_payment_basepoint`: base of `local_delayedpubkey` on this
    /// party's own commitments.
    pub delayed_payment: PublicKey,
    /// `htlc_basepoint`: base of this party's HTLC keys on both commitments.
    pub htlc: PublicKey,
}

macro_rules! role_key {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub PublicKey);

        impl $name {
            /// The 33-byte compressed encoding.
            pub fn serialize(&self) -> [u8; 33] {
                self.0.serialize()
            }
        }
    };
}

role_key!(
    RevocationPubkey,
    "`revocationpubkey`: lets the counterparty take every output of a revoked commitment."
);
role_key!(
    DelayedPubkey,
    "`local_delayedpubkey`: the owner's key for `to_local` and second-stage HTLC outputs, behind `to_self_delay`."
);
role_key!(
    HtlcPubkey,
    "`local_htlcpubkey` or `remote_htlcpubkey`: a party's key in HTLC scripts."
);
role_key!(
    PaymentPubkey,
    "`remotepubkey`: the counterparty's key for `to_remote` (its `payment_basepoint` under `option_static_remotekey`)."
);

/// `SHA256(a || b)` over compressed encodings, as a scalar.
fn tweak(a: &PublicKey, b: &PublicKey) -> Result<Scalar, KeyError> {
    let mut engine = sha256::Hash::engine();
    engine.input(&a.serialize());
    engine.input(&b.serialize());
    let hash = sha256::Hash::from_engine(engine).to_byte_array();
    Scalar::from_be_bytes(hash).map_err(|_| KeyError::InvalidTweak)
}

/// `per_commitment_point = per_commitment_secret * G`.
pub fn per_commitment_point(secret: &PerCommitmentSecret) -> Result<PublicKey, KeyError> {
    let sk = SecretKey::from_slice(secret.as_bytes()).map_err(|_| KeyError::InvalidSecret)?;
    Ok(ec::public_key(&sk))
}

/// The private key of a per-commitment point (`per_commitment_secret` as a
/// secp256k1 key).
pub fn per_commitment_secret_key(secret: &PerCommitmentSecret) -> Result<SecretKey, KeyError> {
    SecretKey::from_slice(secret.as_bytes()).map_err(|_| KeyError::InvalidSecret)
}

/// `basepoint + SHA256(per_commitment_point || basepoint) * G`: the formula
/// behind `localpubkey`, `local_htlcpubkey`, `remote_htlcpubkey`,
/// `local_delayedpubkey` and `remote_delayedpubkey`.
pub fn derive_pubkey<C: Verification>(
    secp: &Secp256k1<C>,
    basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<PublicKey, KeyError> {
    let t = tweak(per_commitment_point, basepoint)?;
    basepoint
        .add_exp_tweak(secp, &t)
        .map_err(|_| KeyError::InvalidTweak)
}

/// `basepoint_secret + SHA256(per_commitment_point || basepoint)`: the
/// private key of [`derive_pubkey`], for the owner of the basepoint.
pub fn derive_privkey(
    basepoint_secret: &SecretKey,
    per_commitment_point: &PublicKey,
) -> Result<SecretKey, KeyError> {
    let basepoint = ec::public_key(basepoint_secret);
    let t = tweak(per_commitment_point, &basepoint)?;
    basepoint_secret
        .add_tweak(&t)
        .map_err(|_| KeyError::InvalidTweak)
}

/// `localpubkey`: derived from the local `payment_basepoint`. Not used by
/// the `option_static_remotekey` commitment scripts, kept for completeness.
pub fn localpubkey<C: Verification>(
    secp: &Secp256k1<C>,
    local_payment_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<PublicKey, KeyError> {
    derive_pubkey(secp, local_payment_basepoint, per_commitment_point)
}

/// `remotepubkey` under `option_static_remotekey`: the remote
/// `payment_basepoint` itself, so that funds are recoverable without the
/// per-commitment point.
pub fn remotepubkey(remote_payment_basepoint: &PublicKey) -> PaymentPubkey {
    PaymentPubkey(*remote_payment_basepoint)
}

/// `local_delayedpubkey`: derived from the owner's `delayed_payment_basepoint`.
pub fn local_delayedpubkey<C: Verification>(
    secp: &Secp256k1<C>,
    local_delayed_payment_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<DelayedPubkey, KeyError> {
    derive_pubkey(secp, local_delayed_payment_basepoint, per_commitment_point).map(DelayedPubkey)
}

/// `local_htlcpubkey`: derived from the owner's `htlc_basepoint`.
pub fn local_htlcpubkey<C: Verification>(
    secp: &Secp256k1<C>,
    local_htlc_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<HtlcPubkey, KeyError> {
    derive_pubkey(secp, local_htlc_basepoint, per_commitment_point).map(HtlcPubkey)
}

/// `remote_htlcpubkey`: derived from the counterparty's `htlc_basepoint`.
pub fn remote_htlcpubkey<C: Verification>(
    secp: &Secp256k1<C>,
    remote_htlc_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<HtlcPubkey, KeyError> {
    derive_pubkey(secp, remote_htlc_basepoint, per_commitment_point).map(HtlcPubkey)
}

/// `revocationpubkey` from the counterparty's `revocation_basepoint` and the
/// owner's `per_commitment_point`.
pub fn revocationpubkey<C: Verification>(
    secp: &Secp256k1<C>,
    revocation_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<RevocationPubkey, KeyError> {
    let h1 = tweak(revocation_basepoint, per_commitment_point)?;
    let h2 = tweak(per_commitment_point, revocation_basepoint)?;
    let a = revocation_basepoint
        .mul_tweak(secp, &h1)
        .map_err(|_| KeyError::InvalidTweak)?;
    let b = per_commitment_point
        .mul_tweak(secp, &h2)
        .map_err(|_| KeyError::InvalidTweak)?;
    a.combine(&b)
        .map(RevocationPubkey)
        .map_err(|_| KeyError::InvalidTweak)
}

/// `revocationprivkey`, once the owner of the revoked commitment has
/// revealed its `per_commitment_secret`.
pub fn revocation_privkey(
    revocation_basepoint_secret: &SecretKey,
    per_commitment_secret: &PerCommitmentSecret,
) -> Result<SecretKey, KeyError> {
    let pcs = per_commitment_secret_key(per_commitment_secret)?;
    let revocation_basepoint = ec::public_key(revocation_basepoint_secret);
    let per_commitment_point = ec::public_key(&pcs);
    let h1 = tweak(&revocation_basepoint, &per_commitment_point)?;
    let h2 = tweak(&per_commitment_point, &revocation_basepoint)?;
    let a = revocation_basepoint_secret
        .mul_tweak(&h1)
        .map_err(|_| KeyError::InvalidTweak)?;
    let b = pcs.mul_tweak(&h2).map_err(|_| KeyError::InvalidTweak)?;
    a.add_tweak(&Scalar::from(b))
        .map_err(|_| KeyError::InvalidTweak)
}

/// The keys of one commitment transaction, seen from its owner ("local").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommitmentKeys {
    /// The owner's `per_commitment_point` for this commitment.
    pub per_commitment_point: PublicKey,
    /// `revocationpubkey`: counterparty's revocation basepoint + this point.
    pub revocation: RevocationPubkey,
    /// `local_delayedpubkey`.
    pub local_delayed: DelayedPubkey,
    /// `local_htlcpubkey`.
    pub local_htlc: HtlcPubkey,
    /// `remote_htlcpubkey`.
    pub remote_htlc: HtlcPubkey,
    /// `remotepubkey` (static: the counterparty's payment basepoint).
    pub remote_payment: PaymentPubkey,
}

impl CommitmentKeys {
    /// Derives every key of the commitment owned by the party with basepoints
    /// `local`, whose counterparty has basepoints `remote`.
    pub fn derive<C: Verification>(
        secp: &Secp256k1<C>,
        per_commitment_point: &PublicKey,
        local: &Basepoints,
        remote: &Basepoints,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            per_commitment_point: *per_commitment_point,
            revocation: revocationpubkey(secp, &remote.revocation, per_commitment_point)?,
            local_delayed: local_delayedpubkey(secp, &local.delayed_payment, per_commitment_point)?,
            local_htlc: local_htlcpubkey(secp, &local.htlc, per_commitment_point)?,
            remote_htlc: remote_htlcpubkey(secp, &remote.htlc, per_commitment_point)?,
            remote_payment: remotepubkey(&remote.payment),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(hex: &str) -> PublicKey {
        hex.parse().unwrap()
    }

    #[test]
    fn revocation_key_pairs_match() {
        let secp = Secp256k1::new();
        let base_secret = SecretKey::from_slice(&[0x11; 32]).unwrap();
        let pcs = PerCommitmentSecret::new([0x22; 32]);
        let base = PublicKey::from_secret_key(&secp, &base_secret);
        let point = per_commitment_point(&pcs).unwrap();
        let pubkey = revocationpubkey(&secp, &base, &point).unwrap();
        let privkey = revocation_privkey(&base_secret, &pcs).unwrap();
        assert_eq!(PublicKey::from_secret_key(&secp, &privkey), pubkey.0);

        let htlc_priv = derive_privkey(&base_secret, &point).unwrap();
        let htlc_pub = derive_pubkey(&secp, &base, &point).unwrap();
        assert_eq!(PublicKey::from_secret_key(&secp, &htlc_priv), htlc_pub);
    }

    #[test]
    fn invalid_secrets_are_errors() {
        assert_eq!(
            per_commitment_point(&PerCommitmentSecret::new([0; 32])),
            Err(KeyError::InvalidSecret)
        );
        assert_eq!(
            per_commitment_point(&PerCommitmentSecret::new([0xff; 32])),
            Err(KeyError::InvalidSecret)
        );
    }

    #[test]
    fn static_remotekey_is_the_basepoint() {
        let p = pk("032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991");
        assert_eq!(remotepubkey(&p).0, p);
    }
}
