//! On-chain enforcement (BOLT 5), sans-IO: what a transaction spending the
//! funding output is, which of its outputs are ours and how to take them,
//! and the signed transactions that take them.
//!
//! Nothing here watches the chain, keeps state, reads a clock or
//! broadcasts: the node feeds transactions and heights in and acts on the
//! values that come back.
//!
//! # Driving it
//!
//! 1. A transaction spends the funding outpoint: [`classify()`] says whose
//!    commitment it is ([`SpendKind`]): our latest, the peer's current or
//!    previous (not yet revoked), a revoked one of the peer (commitment
//!    number recovered from locktime and sequence and checked against the
//!    revealed secrets), a mutual close, or unknown.
//! 2. [`resolve()`] turns it into a [`Resolution`]: every output we can claim
//!    as a [`Claim`] (outpoint, value, script, [`ClaimKind`], key, the
//!    CSV / CLTV it waits for, the deadline after which it may be lost).
//!    For a revoked commitment pass the stored
//!    [`crate::RevokedCommitment`] record (its HTLC outputs need the
//!    payment hashes and expiries it keeps).
//! 3. Once a claim is ready ([`Claim::ready_height`]), spend it:
//!    * sweeps ([`sweep::build_sweep`]): `to_local` after `to_self_delay`,
//!      `to_remote`, HTLCs directly from the peer's commitment, every
//!      revoked output, second-stage outputs — one fully signed
//!      transaction paying a destination script at a feerate;
//!    * HTLC-success / HTLC-timeout on our commitment
//!      ([`htlc::finalize_htlc_tx`]), then their output after the delay
//!      ([`htlc::second_stage_claim`]);
//!    * anchors: [`sweep::sign_claim_input`] signs our anchor input in a
//!      CPFP child the wallet assembles ([`fees::cpfp_child_fee`]).
//! 4. When the peer spends an HTLC output of a revoked commitment with its
//!    own HTLC transaction, [`Resolution::revoked_second_stage_claims`]
//!    takes that transaction's output with the revocation key.
//!    [`resolve::extract_preimages`] finds preimages the peer revealed on
//!    chain (to settle upstream).
//! 5. Fees: [`fees::escalated_feerate`] raises the feerate as a deadline
//!    approaches; [`fees::plan_batches`] groups ready claims and sets
//!    aside those not worth their own input's fee.
//!
//! Signing is deterministic (RFC 6979): the same inputs give the same
//! bytes. Keys come from [`crate::ChannelSecrets`] through a [`Signer`].

pub mod claim;
pub mod classify;
pub mod fees;
pub mod htlc;
pub mod resolve;
pub mod sweep;

use core::fmt;

use bitcoin::secp256k1::{All, Secp256k1};
use fulmen_types::{PaymentHash, Sat};

use crate::config::{ChannelSecrets, Ctx};

pub use claim::{Claim, ClaimKey, ClaimKind, Deadline, RevokedOutput, SecondStage};
pub use classify::{classify, RemoteWhich, SpendKind, UnknownSpend};
pub use resolve::{resolve, Resolution};

/// What claiming and building commitments need: the channel's secrets, and
/// a secp256k1 context for deriving the public keys of scripts (signing and
/// generator multiplications go through [`fulmen_types::ec`]).
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// A verification and key-tweaking context (create once, reuse).
    pub secp: &'a Secp256k1<All>,
    /// The channel's secrets.
    pub secrets: &'a dyn ChannelSecrets,
}

impl<'a> Signer<'a> {
    /// The signer of a channel call's context.
    pub fn from_ctx(ctx: &Ctx<'a>) -> Self {
        Self {
            secp: ctx.secp,
            secrets: ctx.secrets,
        }
    }
}

impl fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(<secrets>)")
    }
}

/// Why an on-chain transaction could not be analysed, built or signed.
///
/// None of these comes from the transaction being hostile in a way that
/// could make us skip a claim silently: a claim that cannot be built is an
/// error the node logs and retries (e.g. at another feerate).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnchainError {
    /// A key could not be derived (hostile basepoints or points).
    KeyDerivationError,
    /// Our commitment or its HTLC transactions could not be rebuilt from
    /// the channel state (an inconsistent state).
    CommitmentBuildError,
    /// The transaction given is not the one the resolution is for.
    WrongTransaction,
    /// A claim of this kind cannot be spent this way (e.g. an anchor in a
    /// sweep, a direct claim given to the HTLC-transaction finaliser).
    WrongClaimKind,
    /// An HTLC-success claim needs the payment preimage.
    MissingPreimageError {
        /// The HTLC's payment hash.
        payment_hash: PaymentHash,
    },
    /// No claim was given.
    NoClaims,
    /// The fee at the requested feerate leaves less than the destination's
    /// dust threshold.
    BelowDustError {
        /// The claims' total value.
        total: Sat,
        /// The fee at the requested feerate.
        fee: Sat,
        /// The destination's dust threshold.
        dust: Sat,
    },
    /// An amount, weight or fee overflowed.
    OverflowError,
    /// A signature could not be made (the transaction lacks the input).
    SigningError,
}

impl fmt::Display for OnchainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyDerivationError => f.write_str("key derivation failed"),
            Self::CommitmentBuildError => f.write_str("commitment could not be rebuilt"),
            Self::WrongTransaction => f.write_str("transaction does not match the claim"),
            Self::WrongClaimKind => f.write_str("claim cannot be spent this way"),
            Self::MissingPreimageError { payment_hash } => {
                write!(f, "no preimage for payment hash {payment_hash:?}")
            }
            Self::NoClaims => f.write_str("no claim to spend"),
            Self::BelowDustError { total, fee, dust } => write!(
                f,
                "claims of {total} minus a fee of {fee} fall below the dust threshold {dust}"
            ),
            Self::OverflowError => f.write_str("amount, weight or fee overflows"),
            Self::SigningError => f.write_str("signing failed"),
        }
    }
}

impl std::error::Error for OnchainError {}
