//! Mutual-close transactions (BOLT 3 "Legacy Closing Transaction" and
//! "Closing Transaction").
//!
//! Both variants spend the funding output (sign it with
//! [`crate::sign::sign_funding_spend`]) and sort their one or two outputs in
//! BIP 69 order.
//!
//! * [`build_legacy_closing_tx`] (`closing_signed`): locktime 0, sequence
//!   `0xFFFFFFFF`, the funder pays the fee, outputs below the signer's dust
//!   limit are removed.
//! * [`build_closing_tx`] (`closing_complete` / `closing_sig`, with
//!   `option_simple_close`): the closer pays the fee, locktime from the
//!   message, sequence `0xFFFFFFFD`, `OP_RETURN` outputs carry zero, and
//!   which outputs exist is chosen by the message's signature field.

use core::fmt;

use bitcoin::absolute::LockTime;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};
use fulmen_types::{Msat, Sat};

use crate::channel::Side;

/// Why a closing transaction could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClosingError {
    /// The fee exceeds the paying side's balance. From a peer's
    /// `closing_signed` / `closing_complete`: send a warning and close the
    /// connection, or fail the channel.
    FeeExceedsBalance {
        /// The fee asked for.
        fee: Sat,
        /// The payer's balance, rounded down.
        balance: Sat,
    },
    /// The transaction would have no output at all.
    NoOutputs,
}

impl fmt::Display for ClosingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FeeExceedsBalance { fee, balance } => {
                write!(f, "closing fee {fee} exceeds the payer's balance {balance}")
            }
            Self::NoOutputs => f.write_str("closing transaction would have no outputs"),
        }
    }
}

impl std::error::Error for ClosingError {}

/// A built, unsigned closing transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosingTx {
    /// The transaction, outputs in BIP 69 order.
    pub tx: Transaction,
    /// The index of the local (legacy) or closer (simple) output, if any.
    pub local_output: Option<u32>,
    /// The index of the remote (legacy) or closee (simple) output, if any.
    pub remote_output: Option<u32>,
}

/// One side's final balance and destination script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosingOutput {
    /// The side's balance in the final commitment.
    pub balance: Msat,
    /// Where it goes (the `scriptpubkey` from `shutdown` or
    /// `closing_complete`).
    pub script_pubkey: ScriptBuf,
}

fn assemble(
    funding_outpoint: OutPoint,
    lock_time: LockTime,
    sequence: Sequence,
    local: Option<TxOut>,
    remote: Option<TxOut>,
) -> Result<ClosingTx, ClosingError> {
    // Tag outputs so their indices survive the sort.
    let mut outs: Vec<(bool, TxOut)> = Vec::with_capacity(2);
    if let Some(o) = local {
        outs.push((true, o));
    }
    if let Some(o) = remote {
        outs.push((false, o));
    }
    if outs.is_empty() {
        return Err(ClosingError::NoOutputs);
    }
    outs.sort_by(|a, b| {
        a.1.value.cmp(&b.1.value).then_with(|| {
            a.1.script_pubkey
                .as_bytes()
                .cmp(b.1.script_pubkey.as_bytes())
        })
    });
    let find = |local: bool| {
        outs.iter()
            .position(|(l, _)| *l == local)
            .and_then(|i| u32::try_from(i).ok())
    };
    let (local_output, remote_output) = (find(true), find(false));
    let tx = Transaction {
        version: Version::TWO,
        lock_time,
        input: vec![TxIn {
            previous_output: funding_outpoint,
            script_sig: ScriptBuf::new(),
            sequence,
            witness: Witness::new(),
        }],
        output: outs.into_iter().map(|(_, o)| o).collect(),
    };
    Ok(ClosingTx {
        tx,
        local_output,
        remote_output,
    })
}

fn txout(value: Sat, script_pubkey: &ScriptBuf) -> TxOut {
    TxOut {
        value: Amount::from_sat(value.value()),
        script_pubkey: script_pubkey.clone(),
    }
}

/// Builds the legacy (`closing_signed`) closing transaction as the signer
/// with `dust_limit` sees it: each balance rounded down, `fee` taken from
/// the funder, outputs below `dust_limit` removed.
pub fn build_legacy_closing_tx(
    funding_outpoint: OutPoint,
    funder: Side,
    local: &ClosingOutput,
    remote: &ClosingOutput,
    fee: Sat,
    dust_limit: Sat,
) -> Result<ClosingTx, ClosingError> {
    let mut local_value = local.balance.to_sat_floor();
    let mut remote_value = remote.balance.to_sat_floor();
    let payer = match funder {
        Side::Local => &mut local_value,
        Side::Remote => &mut remote_value,
    };
    *payer = payer
        .checked_sub(fee)
        .ok_or(ClosingError::FeeExceedsBalance {
            fee,
            balance: *payer,
        })?;
    let keep = |v: Sat| v >= dust_limit && v > Sat::ZERO;
    assemble(
        funding_outpoint,
        LockTime::ZERO,
        Sequence::MAX,
        keep(local_value).then(|| txout(local_value, &local.script_pubkey)),
        keep(remote_value).then(|| txout(remote_value, &remote.script_pubkey)),
    )
}

/// Which outputs a `closing_complete` signature covers (its TLV field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClosingOutputs {
    /// `closer_output_only`.
    CloserOnly,
    /// `closee_output_only`.
    CloseeOnly,
    /// `closer_and_closee_outputs`.
    Both,
}

/// Builds the `option_simple_close` closing transaction of a
/// `closing_complete`: the closer pays `fee` from its balance, `OP_RETURN`
/// outputs carry zero, `outputs` selects which outputs exist.
///
/// `local_output` of the result is the closer's, `remote_output` the
/// closee's.
pub fn build_closing_tx(
    funding_outpoint: OutPoint,
    closer: &ClosingOutput,
    closee: &ClosingOutput,
    fee: Sat,
    locktime: u32,
    outputs: ClosingOutputs,
) -> Result<ClosingTx, ClosingError> {
    let closer_balance = closer.balance.to_sat_floor();
    let closer_value = closer_balance
        .checked_sub(fee)
        .ok_or(ClosingError::FeeExceedsBalance {
            fee,
            balance: closer_balance,
        })?;
    let value_of = |v: Sat, script: &ScriptBuf| {
        if script.is_op_return() {
            Sat::ZERO
        } else {
            v
        }
    };
    let closer_out = txout(
        value_of(closer_value, &closer.script_pubkey),
        &closer.script_pubkey,
    );
    let closee_out = txout(
        value_of(closee.balance.to_sat_floor(), &closee.script_pubkey),
        &closee.script_pubkey,
    );
    let (with_closer, with_closee) = match outputs {
        ClosingOutputs::CloserOnly => (true, false),
        ClosingOutputs::CloseeOnly => (false, true),
        ClosingOutputs::Both => (true, true),
    };
    assemble(
        funding_outpoint,
        LockTime::from_consensus(locktime),
        Sequence::ENABLE_RBF_NO_LOCKTIME,
        with_closer.then_some(closer_out),
        with_closee.then_some(closee_out),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn out(balance: u64, tag: u8) -> ClosingOutput {
        ClosingOutput {
            balance: Msat(balance),
            script_pubkey: ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([tag; 20])),
        }
    }

    #[test]
    fn legacy_subtracts_fee_from_funder_and_trims_dust() {
        let op = OutPoint::null();
        let tx = build_legacy_closing_tx(
            op,
            Side::Local,
            &out(5_000_999, 1),
            &out(3_000_000, 2),
            Sat(1000),
            Sat(546),
        )
        .unwrap();
        assert_eq!(tx.tx.output.len(), 2);
        assert_eq!(tx.tx.output[0].value, Amount::from_sat(3000));
        assert_eq!(tx.tx.output[1].value, Amount::from_sat(4000));
        assert_eq!((tx.local_output, tx.remote_output), (Some(1), Some(0)));
        assert_eq!(tx.tx.input[0].sequence, Sequence::MAX);
        assert_eq!(tx.tx.lock_time, LockTime::ZERO);

        let tx = build_legacy_closing_tx(
            op,
            Side::Remote,
            &out(5_000_000, 1),
            &out(1_500_000, 2),
            Sat(1000),
            Sat(546),
        )
        .unwrap();
        assert_eq!(tx.tx.output.len(), 1);
        assert_eq!(tx.remote_output, None);

        assert_eq!(
            build_legacy_closing_tx(
                op,
                Side::Remote,
                &out(5_000_000, 1),
                &out(500_000, 2),
                Sat(1000),
                Sat(546)
            ),
            Err(ClosingError::FeeExceedsBalance {
                fee: Sat(1000),
                balance: Sat(500)
            })
        );
    }

    #[test]
    fn simple_close_variants() {
        let op = OutPoint::null();
        let closer = out(5_000_000, 1);
        let closee = out(3_000_000, 2);
        let tx = build_closing_tx(
            op,
            &closer,
            &closee,
            Sat(500),
            800_000,
            ClosingOutputs::Both,
        )
        .unwrap();
        assert_eq!(tx.tx.input[0].sequence, Sequence(0xFFFF_FFFD));
        assert_eq!(tx.tx.lock_time.to_consensus_u32(), 800_000);
        assert_eq!(
            tx.tx.output[tx.local_output.unwrap() as usize].value,
            Amount::from_sat(4500)
        );
        let only = build_closing_tx(
            op,
            &closer,
            &closee,
            Sat(500),
            0,
            ClosingOutputs::CloseeOnly,
        )
        .unwrap();
        assert_eq!(only.tx.output.len(), 1);
        assert_eq!(only.local_output, None);
        let burn = ClosingOutput {
            balance: Msat(1_000_000),
            script_pubkey: ScriptBuf::new_op_return([0u8; 4]),
        };
        let tx = build_closing_tx(op, &burn, &closee, Sat(100), 0, ClosingOutputs::Both).unwrap();
        assert_eq!(tx.tx.output[0].value, Amount::ZERO);
        assert_eq!(tx.local_output, Some(0));
    }
}
