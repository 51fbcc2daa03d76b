//! Second-stage HTLC transactions (BOLT 3 "HTLC-Timeout and HTLC-Success
//! Transactions").
//!
//! Each untrimmed HTLC output of a commitment is spent by one: the owner's
//! offered HTLCs by an HTLC-timeout (locktime `cltv_expiry`), its received
//! HTLCs by an HTLC-success (locktime 0). The input's sequence is 0, or 1
//! with anchors; the fee is taken from the HTLC amount, and is zero with
//! anchors (the owner adds inputs to pay it, which the counterparty's
//! `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY` signature allows).

use core::fmt;

use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use fulmen_types::Sat;

use crate::channel::{ChannelType, Htlc, HtlcDirection};
use crate::commitment::{CommitmentParams, CommitmentTx};
use crate::fees::second_stage_fee;
use crate::keys::{DelayedPubkey, RevocationPubkey};
use crate::scripts::{htlc_output_script, p2wsh};

/// Why an HTLC transaction could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HtlcTxError {
    /// The HTLC does not cover its second-stage fee: it should have been
    /// trimmed. A caller bug; do not sign.
    AmountBelowFee {
        /// The HTLC amount in whole satoshis.
        amount: Sat,
        /// The second-stage fee.
        fee: Sat,
    },
    /// The commitment description does not match the built commitment (an
    /// HTLC output refers to an HTLC that is not in the list).
    UnknownHtlc {
        /// The HTLC index the output refers to.
        index: usize,
    },
}

impl fmt::Display for HtlcTxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AmountBelowFee { amount, fee } => {
                write!(
                    f,
                    "htlc of {amount} does not cover its second-stage fee of {fee}"
                )
            }
            Self::UnknownHtlc { index } => write!(f, "no htlc at index {index}"),
        }
    }
}

impl std::error::Error for HtlcTxError {}

/// Which second-stage transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HtlcTxKind {
    /// Spends an HTLC the owner offered, after `cltv_expiry`.
    Timeout,
    /// Spends an HTLC the owner received, with the preimage.
    Success,
}

impl HtlcTxKind {
    /// The kind that resolves an HTLC of this direction on its owner's
    /// commitment.
    pub const fn for_direction(direction: HtlcDirection) -> Self {
        match direction {
            HtlcDirection::Offered => Self::Timeout,
            HtlcDirection::Received => Self::Success,
        }
    }
}

/// The input sequence of HTLC transactions: 0, or 1 with anchors (the
/// commitment's HTLC scripts then require a one-block CSV).
pub fn htlc_tx_sequence(channel_type: ChannelType) -> Sequence {
    if channel_type.has_anchors() {
        Sequence(1)
    } else {
        Sequence(0)
    }
}

/// Builds the unsigned HTLC-timeout or HTLC-success transaction spending
/// output `output_index` of commitment `commitment_txid`, which holds
/// `htlc`. `revocation` and `local_delayed` are the commitment's keys.
#[allow(clippy::too_many_arguments)]
pub fn build_htlc_tx(
    commitment_txid: Txid,
    output_index: u32,
    htlc: &Htlc,
    channel_type: ChannelType,
    feerate_per_kw: u32,
    to_self_delay: u16,
    revocation: &RevocationPubkey,
    local_delayed: &DelayedPubkey,
) -> Result<Transaction, HtlcTxError> {
    let script_pubkey = p2wsh(&htlc_output_script(
        revocation,
        to_self_delay,
        local_delayed,
    ));
    build_with_output_script(
        commitment_txid,
        output_index,
        htlc,
        channel_type,
        feerate_per_kw,
        script_pubkey,
    )
}

/// [`build_htlc_tx`] with the second-stage `scriptPubKey` already computed
/// (it is the same for every HTLC of a commitment).
fn build_with_output_script(
    commitment_txid: Txid,
    output_index: u32,
    htlc: &Htlc,
    channel_type: ChannelType,
    feerate_per_kw: u32,
    script_pubkey: ScriptBuf,
) -> Result<Transaction, HtlcTxError> {
    let amount = htlc.amount.to_sat_floor();
    let fee = second_stage_fee(htlc.direction, feerate_per_kw, channel_type);
    let value = amount
        .checked_sub(fee)
        .ok_or(HtlcTxError::AmountBelowFee { amount, fee })?;
    let lock_time = match HtlcTxKind::for_direction(htlc.direction) {
        HtlcTxKind::Timeout => LockTime::from_consensus(htlc.cltv_expiry),
        HtlcTxKind::Success => LockTime::ZERO,
    };
    Ok(Transaction {
        version: Version::TWO,
        lock_time,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: commitment_txid,
                vout: output_index,
            },
            script_sig: ScriptBuf::new(),
            sequence: htlc_tx_sequence(channel_type),
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(value.value()),
            script_pubkey,
        }],
    })
}

/// An unsigned HTLC transaction of a commitment, with what signing it needs.
#[derive(Debug, Clone)]
pub struct HtlcTx {
    /// Timeout or success.
    pub kind: HtlcTxKind,
    /// The HTLC's position in [`CommitmentParams::htlcs`].
    pub htlc_index: usize,
    /// The commitment output it spends.
    pub commitment_output_index: u32,
    /// The witness script of that commitment output (what is signed).
    pub htlc_script: ScriptBuf,
    /// The value of that commitment output.
    pub htlc_amount: Sat,
    /// The unsigned transaction.
    pub tx: Transaction,
}

impl CommitmentTx {
    /// Builds the HTLC transactions of every untrimmed HTLC, in commitment
    /// output order (the order of `htlc_signatures` in
    /// `commitment_signed`). `params` must be the ones the commitment was
    /// built from.
    pub fn htlc_txs(&self, params: &CommitmentParams<'_>) -> Result<Vec<HtlcTx>, HtlcTxError> {
        let txid = self.tx.compute_txid();
        let script_pubkey = p2wsh(&htlc_output_script(
            &params.keys.revocation,
            params.to_self_delay,
            &params.keys.local_delayed,
        ));
        let mut out = Vec::with_capacity(self.untrimmed_htlc_count());
        for (vout, index, output) in self.htlc_outputs() {
            let htlc = params
                .htlcs
                .get(index)
                .ok_or(HtlcTxError::UnknownHtlc { index })?;
            let tx = build_with_output_script(
                txid,
                vout,
                htlc,
                params.channel_type,
                params.feerate_per_kw,
                script_pubkey.clone(),
            )?;
            out.push(HtlcTx {
                kind: HtlcTxKind::for_direction(htlc.direction),
                htlc_index: index,
                commitment_output_index: vout,
                htlc_script: output.witness_script.clone().unwrap_or_default(),
                htlc_amount: output.value,
                tx,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use bitcoin::secp256k1::PublicKey;
    use fulmen_types::{Msat, PaymentHash};

    #[test]
    fn amount_below_fee_is_an_error() {
        let k: PublicKey = "023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb"
            .parse()
            .unwrap();
        let htlc = Htlc {
            direction: HtlcDirection::Received,
            amount: Msat(1_000),
            payment_hash: PaymentHash([0; 32]),
            cltv_expiry: 1,
        };
        let err = build_htlc_tx(
            Txid::all_zeros(),
            0,
            &htlc,
            ChannelType::StaticRemoteKey,
            10_000,
            144,
            &RevocationPubkey(k),
            &DelayedPubkey(k),
        )
        .unwrap_err();
        assert_eq!(
            err,
            HtlcTxError::AmountBelowFee {
                amount: Sat(1),
                fee: Sat(7030)
            }
        );
        let tx = build_htlc_tx(
            Txid::all_zeros(),
            3,
            &Htlc {
                direction: HtlcDirection::Offered,
                ..htlc
            },
            ChannelType::AnchorsZeroFeeHtlcTx,
            10_000,
            144,
            &RevocationPubkey(k),
            &DelayedPubkey(k),
        )
        .unwrap();
        assert_eq!(tx.lock_time.to_consensus_u32(), 1);
        assert_eq!(tx.input[0].sequence, Sequence(1));
        assert_eq!(tx.output[0].value, Amount::from_sat(1));
    }
}
