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

/// `revocationpubkey`'s two tweaks: `h1 = SHA256(revocation_basepoint ||
/// per_commitment_point)` and `h2 = SHA256(per_commitment_point ||
/// revocation_basepoint)`.
fn revocation_tweaks(
    revocation_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<(Scalar, Scalar), KeyError> {
    Ok((
        tweak(revocation_basepoint, per_commitment_point)?,
        tweak(per_commitment_point, revocation_basepoint)?,
    ))
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
///
/// The tweak is public, so `tweak * G` is a generator multiplication on
/// libsecp256k1 0.6 (its comb) plus one point addition. libsecp256k1 0.4's
/// `add_exp_tweak` runs its variable-time pass instead: a table of multiples
/// of the basepoint (for its factor of one) and ~129 doublings. Same result,
/// 14% fewer instructions (callgrind: 270k against 313k).
pub fn derive_pubkey(
    basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<PublicKey, KeyError> {
    let t = tweak(per_commitment_point, basepoint)?;
    match SecretKey::from_slice(&t.to_be_bytes()) {
        Ok(t) => ec::public_key(&t)
            .combine(basepoint)
            .map_err(|_| KeyError::InvalidTweak),
        // A zero tweak (a SHA256 output of zero): the key is the basepoint.
        Err(_) => Ok(*basepoint),
    }
}

/// [`derive_pubkey`] for the owner of the basepoint: `(basepoint_secret +
/// tweak) * G`, one constant-time generator multiplication. `basepoint`
/// must be `basepoint_secret * G` (it is hashed into the tweak).
pub fn derive_pubkey_owned(
    basepoint_secret: &SecretKey,
    basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<PublicKey, KeyError> {
    derive_privkey_with_basepoint(basepoint_secret, basepoint, per_commitment_point)
        .map(|k| ec::public_key(&k))
}

/// `basepoint_secret + SHA256(per_commitment_point || basepoint)`: the
/// private key of [`derive_pubkey`], for the owner of the basepoint.
pub fn derive_privkey(
    basepoint_secret: &SecretKey,
    per_commitment_point: &PublicKey,
) -> Result<SecretKey, KeyError> {
    let basepoint = ec::public_key(basepoint_secret);
    derive_privkey_with_basepoint(basepoint_secret, &basepoint, per_commitment_point)
}

/// [`derive_privkey`] with the basepoint (`basepoint_secret * G`) already
/// known: no point multiplication.
pub fn derive_privkey_with_basepoint(
    basepoint_secret: &SecretKey,
    basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<SecretKey, KeyError> {
    let t = tweak(per_commitment_point, basepoint)?;
    basepoint_secret
        .add_tweak(&t)
        .map_err(|_| KeyError::InvalidTweak)
}

/// `localpubkey`: derived from the local `payment_basepoint`. Not used by
/// the `option_static_remotekey` commitment scripts, kept for completeness.
pub fn localpubkey(
    local_payment_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<PublicKey, KeyError> {
    derive_pubkey(local_payment_basepoint, per_commitment_point)
}

/// `remotepubkey` under `option_static_remotekey`: the remote
/// `payment_basepoint` itself, so that funds are recoverable without the
/// per-commitment point.
pub fn remotepubkey(remote_payment_basepoint: &PublicKey) -> PaymentPubkey {
    PaymentPubkey(*remote_payment_basepoint)
}

/// `local_delayedpubkey`: derived from the owner's `delayed_payment_basepoint`.
pub fn local_delayedpubkey(
    local_delayed_payment_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<DelayedPubkey, KeyError> {
    derive_pubkey(local_delayed_payment_basepoint, per_commitment_point).map(DelayedPubkey)
}

/// `local_htlcpubkey`: derived from the owner's `htlc_basepoint`.
pub fn local_htlcpubkey(
    local_htlc_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<HtlcPubkey, KeyError> {
    derive_pubkey(local_htlc_basepoint, per_commitment_point).map(HtlcPubkey)
}

/// `remote_htlcpubkey`: derived from the counterparty's `htlc_basepoint`.
pub fn remote_htlcpubkey(
    remote_htlc_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<HtlcPubkey, KeyError> {
    derive_pubkey(remote_htlc_basepoint, per_commitment_point).map(HtlcPubkey)
}

/// `revocationpubkey` from the counterparty's `revocation_basepoint` and the
/// owner's `per_commitment_point`: two variable-base multiplications.
pub fn revocationpubkey<C: Verification>(
    secp: &Secp256k1<C>,
    revocation_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
) -> Result<RevocationPubkey, KeyError> {
    let (h1, h2) = revocation_tweaks(revocation_basepoint, per_commitment_point)?;
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

/// The secret behind one of the two points of a `revocationpubkey`, which
/// its deriver always holds: the counterparty's commitment is revoked
/// towards our `revocation_basepoint`, and our own commitment is built on
/// our `per_commitment_point`.
#[derive(Clone, Copy)]
pub enum RevocationSecret<'a> {
    /// `revocation_basepoint_secret` (deriving the counterparty's key).
    Basepoint(&'a SecretKey),
    /// `per_commitment_secret` (deriving our own commitment's key).
    PerCommitment(&'a SecretKey),
}

impl fmt::Debug for RevocationSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Basepoint(_) => "RevocationSecret::Basepoint(<redacted>)",
            Self::PerCommitment(_) => "RevocationSecret::PerCommitment(<redacted>)",
        })
    }
}

/// [`revocationpubkey`] by the holder of one of its secrets: that term is
/// `(secret * h) * G`, a constant-time generator multiplication (the scalar
/// is secret), instead of a variable-base one; the other term stays a
/// variable-base multiplication of public values. Same result. The secret
/// must belong to the matching point (both points are hashed into `h1` and
/// `h2`).
pub fn revocationpubkey_with_secret<C: Verification>(
    secp: &Secp256k1<C>,
    revocation_basepoint: &PublicKey,
    per_commitment_point: &PublicKey,
    secret: RevocationSecret<'_>,
) -> Result<RevocationPubkey, KeyError> {
    let (h1, h2) = revocation_tweaks(revocation_basepoint, per_commitment_point)?;
    let (known, public_point, public_tweak) = match secret {
        RevocationSecret::Basepoint(r) => (r.mul_tweak(&h1), per_commitment_point, h2),
        RevocationSecret::PerCommitment(p) => (p.mul_tweak(&h2), revocation_basepoint, h1),
    };
    let known = known.map_err(|_| KeyError::InvalidTweak)?;
    let other = public_point
        .mul_tweak(secp, &public_tweak)
        .map_err(|_| KeyError::InvalidTweak)?;
    ec::public_key(&known)
        .combine(&other)
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
    let (h1, h2) = revocation_tweaks(&revocation_basepoint, &per_commitment_point)?;
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
            local_delayed: local_delayedpubkey(&local.delayed_payment, per_commitment_point)?,
            local_htlc: local_htlcpubkey(&local.htlc, per_commitment_point)?,
            remote_htlc: remote_htlcpubkey(&remote.htlc, per_commitment_point)?,
            remote_payment: remotepubkey(&remote.payment),
        })
    }

    /// [`CommitmentKeys::derive`] by a party that holds its own secrets
    /// (`holder` says which side of the commitment it is on): each key built
    /// on one of its own points costs one constant-time generator
    /// multiplication instead of a variable-base one. Same keys.
    ///
    /// With [`HtlcKeys::Basepoints`] the two HTLC keys are not derived and
    /// the HTLC basepoints stand in for them: only for a commitment with no
    /// HTLC output, where those keys appear in no script.
    pub fn derive_held<C: Verification>(
        secp: &Secp256k1<C>,
        per_commitment_point: &PublicKey,
        local: &Basepoints,
        remote: &Basepoints,
        holder: Holder<'_>,
        htlc_keys: HtlcKeys,
    ) -> Result<Self, KeyError> {
        let point = per_commitment_point;
        // A key on a basepoint whose secret we hold is one `(secret + h)·G`.
        let key = |basepoint: &PublicKey, secret: Option<&SecretKey>| match secret {
            Some(s) => derive_pubkey_owned(s, basepoint, point),
            None => derive_pubkey(basepoint, point),
        };
        let (revocation, delayed_secret, local_htlc_secret, remote_htlc_secret) = match holder {
            Holder::Owner {
                per_commitment_secret,
                delayed_payment_basepoint_secret,
                htlc_basepoint_secret,
            } => (
                RevocationSecret::PerCommitment(per_commitment_secret),
                Some(delayed_payment_basepoint_secret),
                Some(htlc_basepoint_secret),
                None,
            ),
            Holder::Counterparty {
                revocation_basepoint_secret,
                htlc_basepoint_secret,
            } => (
                RevocationSecret::Basepoint(revocation_basepoint_secret),
                None,
                None,
                Some(htlc_basepoint_secret),
            ),
        };
        let local_delayed = key(&local.delayed_payment, delayed_secret)?;
        let (local_htlc, remote_htlc) = match htlc_keys {
            HtlcKeys::Basepoints => (local.htlc, remote.htlc),
            HtlcKeys::Derive => (
                key(&local.htlc, local_htlc_secret)?,
                key(&remote.htlc, remote_htlc_secret)?,
            ),
        };
        Ok(Self {
            per_commitment_point: *point,
            revocation: revocationpubkey_with_secret(secp, &remote.revocation, point, revocation)?,
            local_delayed: DelayedPubkey(local_delayed),
            local_htlc: HtlcPubkey(local_htlc),
            remote_htlc: HtlcPubkey(remote_htlc),
            remote_payment: remotepubkey(&remote.payment),
        })
    }
}

/// The secrets the deriver of a commitment's keys holds
/// ([`CommitmentKeys::derive_held`]). Each must belong to the matching
/// basepoint or point passed alongside it. `Debug` shows no secret.
#[derive(Clone, Copy)]
pub enum Holder<'a> {
    /// The deriver owns the commitment (it is "local").
    Owner {
        /// The commitment's `per_commitment_secret`.
        per_commitment_secret: &'a SecretKey,
        /// The owner's `delayed_payment_basepoint_secret`.
        delayed_payment_basepoint_secret: &'a SecretKey,
        /// The owner's `htlc_basepoint_secret`.
        htlc_basepoint_secret: &'a SecretKey,
    },
    /// The deriver is the counterparty (it is "remote").
    Counterparty {
        /// The counterparty's `revocation_basepoint_secret`.
        revocation_basepoint_secret: &'a SecretKey,
        /// The counterparty's `htlc_basepoint_secret`.
        htlc_basepoint_secret: &'a SecretKey,
    },
}

impl fmt::Debug for Holder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Owner { .. } => "Holder::Owner(<redacted>)",
            Self::Counterparty { .. } => "Holder::Counterparty(<redacted>)",
        })
    }
}

/// Whether [`CommitmentKeys::derive_held`] derives the two HTLC keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtlcKeys {
    /// Derive them (the commitment has an HTLC output).
    Derive,
    /// Skip their two multiplications; the HTLC basepoints stand in. Only
    /// for a commitment without an HTLC output.
    Basepoints,
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
        let htlc_pub = derive_pubkey(&base, &point).unwrap();
        assert_eq!(PublicKey::from_secret_key(&secp, &htlc_priv), htlc_pub);
    }

    /// The derivations that use the deriver's own secrets give the same
    /// keys as the public ones, on both sides of a commitment, over many
    /// keys.
    #[test]
    fn held_secrets_give_the_public_keys() {
        let secp = Secp256k1::new();
        let mut seed = [0x5au8; 32];
        let mut next = || {
            seed = sha256::Hash::hash(&seed).to_byte_array();
            SecretKey::from_slice(&seed).unwrap()
        };
        for _ in 0..40 {
            let (l_rev, l_pay, l_del, l_htlc) = (next(), next(), next(), next());
            let (r_rev, r_pay, r_del, r_htlc) = (next(), next(), next(), next());
            let pcs = next();
            let g = |k: &SecretKey| PublicKey::from_secret_key(&secp, k);
            let local = Basepoints {
                revocation: g(&l_rev),
                payment: g(&l_pay),
                delayed_payment: g(&l_del),
                htlc: g(&l_htlc),
            };
            let remote = Basepoints {
                revocation: g(&r_rev),
                payment: g(&r_pay),
                delayed_payment: g(&r_del),
                htlc: g(&r_htlc),
            };
            let point = g(&pcs);
            let public = CommitmentKeys::derive(&secp, &point, &local, &remote).unwrap();
            // `local` owns the commitment and derives it.
            let owner = Holder::Owner {
                per_commitment_secret: &pcs,
                delayed_payment_basepoint_secret: &l_del,
                htlc_basepoint_secret: &l_htlc,
            };
            // `remote` derives the same commitment, as counterparty.
            let counterparty = Holder::Counterparty {
                revocation_basepoint_secret: &r_rev,
                htlc_basepoint_secret: &r_htlc,
            };
            for holder in [owner, counterparty] {
                let held = CommitmentKeys::derive_held(
                    &secp,
                    &point,
                    &local,
                    &remote,
                    holder,
                    HtlcKeys::Derive,
                )
                .unwrap();
                assert_eq!(held, public, "{holder:?}");
                let short = CommitmentKeys::derive_held(
                    &secp,
                    &point,
                    &local,
                    &remote,
                    holder,
                    HtlcKeys::Basepoints,
                )
                .unwrap();
                assert_eq!(short.revocation, public.revocation);
                assert_eq!(short.local_delayed, public.local_delayed);
                assert_eq!(short.remote_payment, public.remote_payment);
                assert_eq!(short.local_htlc.0, local.htlc);
                assert_eq!(short.remote_htlc.0, remote.htlc);
            }
            // The old library's tweak-add agrees with the new derivation.
            let t = tweak(&point, &local.htlc).unwrap();
            assert_eq!(
                local.htlc.add_exp_tweak(&secp, &t).unwrap(),
                derive_pubkey(&local.htlc, &point).unwrap()
            );
        }
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let k = SecretKey::from_slice(&[0x77; 32]).unwrap();
        let shown = format!(
            "{:?} {:?}",
            RevocationSecret::Basepoint(&k),
            Holder::Counterparty {
                revocation_basepoint_secret: &k,
                htlc_basepoint_secret: &k,
            }
        );
        assert!(!shown.contains("77"), "{shown}");
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
