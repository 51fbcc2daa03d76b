//! Whose transaction spent the funding output (BOLT 5 "General
//! Nomenclature": mutual close, unilateral close by either side, revoked
//! transaction close).

use bitcoin::{Transaction, Txid};
use fulmen_script::keys::PaymentPubkey;
use fulmen_script::scripts::to_remote_script_pubkey;
use fulmen_script::shachain::{commitment_index, PerCommitmentSecret};

use super::{OnchainError, Signer};
use crate::commitment::{build_latest_local, LocalBuilt};
use crate::error::InternalError;
use crate::state::Established;

/// Which of the peer's two unrevoked commitments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteWhich {
    /// Its latest (`remote_commit`).
    Current,
    /// Its previous one, whose revocation we were still owed
    /// (`remote_prev`).
    Previous,
}

/// What spent the funding output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpendKind {
    /// Our latest commitment (we force-closed).
    LocalCommitment {
        /// Its commitment number.
        number: u64,
    },
    /// One of the peer's unrevoked commitments (it force-closed).
    RemoteCommitment {
        /// Its commitment number.
        number: u64,
        /// Current or previous.
        which: RemoteWhich,
    },
    /// A commitment of the peer whose secret it revealed: the cheat. Every
    /// output is ours.
    RevokedRemoteCommitment {
        /// Its commitment number.
        number: u64,
    },
    /// A commitment of the peer newer than any we know (we lost state):
    /// only our `to_remote` (and anchor) can be taken.
    FutureRemoteCommitment {
        /// Its commitment number.
        number: u64,
    },
    /// A transaction without the commitment markers: a mutual close (it
    /// needs both funding signatures, so we signed it). Nothing to claim.
    MutualClose,
    /// Not something we can act on; warn the user (BOLT 5 "General
    /// Requirements").
    Unknown(UnknownSpend),
}

/// Why a funding spend is not recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownSpend {
    /// The transaction does not spend the channel's funding outpoint.
    NotFundingSpend,
    /// One of *our* earlier, revoked commitments (its `to_remote` pays
    /// the peer): we broadcast a stale state and the peer can take
    /// everything.
    OwnRevokedCommitment {
        /// Its commitment number.
        number: u64,
    },
    /// A commitment-shaped transaction (markers present) that matches no
    /// commitment we know and whose secret we do not have.
    UnknownCommitment {
        /// The commitment number it claims.
        number: u64,
    },
}

/// Our latest commitment, rebuilt ([`crate::commitment::build_latest_local`]).
pub(crate) fn build_local<'e>(
    est: &'e Established,
    signer: &Signer<'_>,
) -> Result<LocalBuilt<'e>, OnchainError> {
    build_latest_local(est, signer).map_err(|e| match e {
        InternalError::KeyDerivation => OnchainError::KeyDerivationError,
        _ => OnchainError::CommitmentBuildError,
    })
}

/// The peer's revealed secret of commitment `number`, if any.
pub(crate) fn revealed_secret(est: &Established, number: u64) -> Option<PerCommitmentSecret> {
    let index = commitment_index(number).ok()?;
    est.remote_secrets.0.get_secret(index).ok()
}

/// Classifies a transaction spending the funding output.
///
/// Recognises our latest commitment and the peer's current and previous
/// ones by txid; otherwise recovers the commitment number hidden in the
/// locktime and sequence (BOLT 3) and checks it against the peer's
/// revealed secrets. A transaction without the markers is a mutual close.
/// Never panics, whatever the transaction.
pub fn classify(funding_spend: &Transaction, est: &Established, signer: &Signer<'_>) -> SpendKind {
    let funding = est.core.funding_outpoint;
    if !funding_spend
        .input
        .iter()
        .any(|i| i.previous_output == funding)
    {
        return SpendKind::Unknown(UnknownSpend::NotFundingSpend);
    }
    let txid: Txid = funding_spend.compute_txid();
    if txid == est.remote_commit.txid {
        return SpendKind::RemoteCommitment {
            number: est.remote_commit.number,
            which: RemoteWhich::Current,
        };
    }
    if let Some(prev) = est.remote_prev.as_ref().filter(|p| p.txid == txid) {
        return SpendKind::RemoteCommitment {
            number: prev.number,
            which: RemoteWhich::Previous,
        };
    }
    if let Ok(local) = build_local(est, signer) {
        if local.built.tx.compute_txid() == txid {
            return SpendKind::LocalCommitment {
                number: est.local_commit.number,
            };
        }
    }
    let Some(number) = est.core.obscuring_factor().reveal(funding_spend) else {
        return SpendKind::MutualClose;
    };
    // Whose commitment: its `to_remote` pays the other side's static
    // payment basepoint.
    let channel_type = est.core.channel_type.base;
    let pays = |basepoint| {
        let spk = to_remote_script_pubkey(channel_type, &PaymentPubkey(basepoint));
        funding_spend.output.iter().any(|o| o.script_pubkey == spk)
    };
    if pays(est.core.remote_keys.payment_basepoint) {
        return SpendKind::Unknown(UnknownSpend::OwnRevokedCommitment { number });
    }
    if revealed_secret(est, number).is_some() {
        return SpendKind::RevokedRemoteCommitment { number };
    }
    if number > est.remote_commit.number {
        return SpendKind::FutureRemoteCommitment { number };
    }
    SpendKind::Unknown(UnknownSpend::UnknownCommitment { number })
}
