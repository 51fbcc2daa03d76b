//! One channel's keys: funding key, the four basepoint secrets and the
//! per-commitment seed (BOLT 2 `open_channel`/`accept_channel` fields,
//! BOLT 3 "Key Derivation").

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, Signing};
use core::fmt;
use zeroize::Zeroize;

/// The public half of a channel's keys: what the node sends its peer in
/// `open_channel` / `accept_channel`, and what the channel layer feeds into
/// BOLT 3 key derivation. `Debug` prints the keys in compressed hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelPublicKeys {
    /// `funding_pubkey`: our key in the 2-of-2 funding output.
    pub funding_pubkey: PublicKey,
    /// `revocation_basepoint`: combined with the peer's per-commitment
    /// point into the `revocationpubkey` of the peer's commitments.
    pub revocation_basepoint: PublicKey,
    /// `payment_basepoint`: our `localpubkey` base, and the peer's
    /// `remotepubkey` in its commitments.
    pub payment_basepoint: PublicKey,
    /// `delayed_payment_basepoint`: base of `local_delayedpubkey`.
    pub delayed_payment_basepoint: PublicKey,
    /// `htlc_basepoint`: base of `local_htlcpubkey`.
    pub htlc_basepoint: PublicKey,
}

impl fmt::Debug for ChannelPublicKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `PublicKey`'s own Debug is its internal (uncompressed, reversed)
        // form; print what appears on the wire instead.
        f.debug_struct("ChannelPublicKeys")
            .field("funding_pubkey", &format_args!("{}", self.funding_pubkey))
            .field(
                "revocation_basepoint",
                &format_args!("{}", self.revocation_basepoint),
            )
            .field(
                "payment_basepoint",
                &format_args!("{}", self.payment_basepoint),
            )
            .field(
                "delayed_payment_basepoint",
                &format_args!("{}", self.delayed_payment_basepoint),
            )
            .field("htlc_basepoint", &format_args!("{}", self.htlc_basepoint))
            .finish()
    }
}

/// The secret keys of one channel, derived from the key tree at a channel
/// key index. Re-deriving at the same index gives the same keys.
///
/// `Debug` prints the index and the public keys only; secrets are wiped on
/// drop.
#[derive(Clone)]
pub struct ChannelKeys {
    index: u32,
    funding: SecretKey,
    revocation_basepoint: SecretKey,
    payment_basepoint: SecretKey,
    delayed_payment_basepoint: SecretKey,
    htlc_basepoint: SecretKey,
    per_commitment_seed: [u8; 32],
    public: ChannelPublicKeys,
}

/// The secret material of a channel, in [`ChannelKeyKind`] order, before the
/// public keys are computed.
///
/// [`ChannelKeyKind`]: super::ChannelKeyKind
pub(crate) struct ChannelSecrets {
    pub funding: SecretKey,
    pub revocation_basepoint: SecretKey,
    pub payment_basepoint: SecretKey,
    pub delayed_payment_basepoint: SecretKey,
    pub htlc_basepoint: SecretKey,
    pub per_commitment_seed: [u8; 32],
}

impl ChannelKeys {
    pub(crate) fn new<C: Signing>(secp: &Secp256k1<C>, index: u32, s: ChannelSecrets) -> Self {
        let public = ChannelPublicKeys {
            funding_pubkey: PublicKey::from_secret_key(secp, &s.funding),
            revocation_basepoint: PublicKey::from_secret_key(secp, &s.revocation_basepoint),
            payment_basepoint: PublicKey::from_secret_key(secp, &s.payment_basepoint),
            delayed_payment_basepoint: PublicKey::from_secret_key(
                secp,
                &s.delayed_payment_basepoint,
            ),
            htlc_basepoint: PublicKey::from_secret_key(secp, &s.htlc_basepoint),
        };
        Self {
            index,
            funding: s.funding,
            revocation_basepoint: s.revocation_basepoint,
            payment_basepoint: s.payment_basepoint,
            delayed_payment_basepoint: s.delayed_payment_basepoint,
            htlc_basepoint: s.htlc_basepoint,
            per_commitment_seed: s.per_commitment_seed,
            public,
        }
    }

    /// The channel key index these keys were derived at (store it with the
    /// channel: it is all that is needed to re-derive them).
    pub const fn index(&self) -> u32 {
        self.index
    }

    /// All public keys and basepoints.
    pub const fn public_keys(&self) -> ChannelPublicKeys {
        self.public
    }

    /// `funding_pubkey`.
    pub const fn funding_pubkey(&self) -> PublicKey {
        self.public.funding_pubkey
    }

    /// `revocation_basepoint`.
    pub const fn revocation_basepoint(&self) -> PublicKey {
        self.public.revocation_basepoint
    }

    /// `payment_basepoint`.
    pub const fn payment_basepoint(&self) -> PublicKey {
        self.public.payment_basepoint
    }

    /// `delayed_payment_basepoint`.
    pub const fn delayed_payment_basepoint(&self) -> PublicKey {
        self.public.delayed_payment_basepoint
    }

    /// `htlc_basepoint`.
    pub const fn htlc_basepoint(&self) -> PublicKey {
        self.public.htlc_basepoint
    }

    /// Secret of `funding_pubkey`: signs our half of commitment and closing
    /// transactions.
    pub const fn funding_secret(&self) -> &SecretKey {
        &self.funding
    }

    /// `revocation_basepoint_secret`: with a revealed per-commitment secret
    /// gives the `revocationprivkey` that punishes a revoked commitment.
    pub const fn revocation_basepoint_secret(&self) -> &SecretKey {
        &self.revocation_basepoint
    }

    /// `payment_basepoint_secret`.
    pub const fn payment_basepoint_secret(&self) -> &SecretKey {
        &self.payment_basepoint
    }

    /// `delayed_payment_basepoint_secret`.
    pub const fn delayed_payment_basepoint_secret(&self) -> &SecretKey {
        &self.delayed_payment_basepoint
    }

    /// `htlc_basepoint_secret`.
    pub const fn htlc_basepoint_secret(&self) -> &SecretKey {
        &self.htlc_basepoint
    }

    /// The 32-byte seed from which BOLT 3 generates this channel's
    /// per-commitment secrets (`generate_from_seed`). Never reveal it.
    pub const fn per_commitment_seed(&self) -> &[u8; 32] {
        &self.per_commitment_seed
    }
}

impl Drop for ChannelKeys {
    fn drop(&mut self) {
        self.funding.non_secure_erase();
        self.revocation_basepoint.non_secure_erase();
        self.payment_basepoint.non_secure_erase();
        self.delayed_payment_basepoint.non_secure_erase();
        self.htlc_basepoint.non_secure_erase();
        self.per_commitment_seed.zeroize();
    }
}

impl fmt::Debug for ChannelKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelKeys")
            .field("index", &self.index)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}
