//! The commitment transaction (BOLT 3 "Commitment Transaction" and
//! "Commitment Transaction Construction").
//!
//! [`build_commitment`] turns a [`CommitmentParams`] — one side's view of
//! the channel at one commitment number — into the unsigned transaction,
//! with a description of every output and the output index of every
//! untrimmed HTLC (in the order the HTLCs were given). Both peers build the
//! same bytes from the same parameters; signatures are sent in output order.

use core::fmt;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::secp256k1::PublicKey;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};
use fulmen_types::{Msat, Sat};

use crate::channel::{ChannelType, Htlc, HtlcDirection, Side};
use crate::fees::{commitment_fee, is_htlc_trimmed, ANCHOR_OUTPUT_VALUE};
use crate::keys::CommitmentKeys;
use crate::scripts::{
    anchor_script, offered_htlc_script, p2wsh, received_htlc_script, to_local_script,
    to_remote_anchor_script, to_remote_p2wpkh,
};

/// Commitment numbers are 48-bit.
pub const MAX_COMMITMENT_NUMBER: u64 = (1 << 48) - 1;

/// Why a commitment transaction could not be built. Each means the caller's
/// channel state is inconsistent (a bug, or a peer update that should have
/// been rejected earlier): fail the channel rather than sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitmentError {
    /// The commitment number does not fit in 48 bits.
    CommitmentNumberOutOfRange {
        /// The number given.
        number: u64,
    },
    /// `to_local + to_remote + HTLCs` is not the funding amount.
    BalanceMismatch {
        /// The funding amount.
        funding: Msat,
        /// The sum of balances and HTLCs (`None` if it overflowed).
        total: Option<Msat>,
    },
    /// An amount or fee computation overflowed (absurd funding amount,
    /// feerate or HTLC count).
    Overflow,
    /// The outputs would spend more than the funding output holds (the
    /// funder cannot pay for the anchors).
    OutputsExceedFunding,
}

impl fmt::Display for CommitmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CommitmentNumberOutOfRange { number } => {
                write!(f, "commitment number {number} does not fit in 48 bits")
            }
            Self::BalanceMismatch { funding, total } => match total {
                Some(t) => write!(f, "balances and htlcs sum to {t}, funding is {funding}"),
                None => write!(f, "balances and htlcs overflow, funding is {funding}"),
            },
            Self::Overflow => f.write_str("commitment amount or fee overflows"),
            Self::OutputsExceedFunding => {
                f.write_str("commitment outputs exceed the funding amount")
            }
        }
    }
}

impl std::error::Error for CommitmentError {}

/// The 48-bit factor that hides commitment numbers on chain: the lower 48
/// bits of `SHA256(opener payment_basepoint || accepter payment_basepoint)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObscuringFactor(u64);

impl ObscuringFactor {
    /// From the `payment_basepoint` of `open_channel` (the opener's) and of
    /// `accept_channel` (the accepter's), whichever side is building.
    pub fn new(
        opener_payment_basepoint: &PublicKey,
        accepter_payment_basepoint: &PublicKey,
    ) -> Self {
        let mut engine = sha256::Hash::engine();
        engine.input(&opener_payment_basepoint.serialize());
        engine.input(&accepter_payment_basepoint.serialize());
        let h = sha256::Hash::from_engine(engine).to_byte_array();
        let mut low = [0u8; 8];
        if let (Some(dst), Some(src)) = (low.get_mut(2..), h.get(26..)) {
            dst.copy_from_slice(src);
        }
        Self(u64::from_be_bytes(low))
    }

    /// The factor as a 48-bit number.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// The commitment number XOR the factor.
    pub fn obscure(self, commitment_number: u64) -> Result<u64, CommitmentError> {
        if commitment_number > MAX_COMMITMENT_NUMBER {
            return Err(CommitmentError::CommitmentNumberOutOfRange {
                number: commitment_number,
            });
        }
        Ok(commitment_number ^ self.0)
    }

    /// The commitment number hidden in a commitment transaction's locktime
    /// and input sequence, or `None` if they lack the 0x20 / 0x80 markers.
    pub fn reveal(self, tx: &Transaction) -> Option<u64> {
        let locktime = tx.lock_time.to_consensus_u32();
        let sequence = tx.input.first()?.sequence.0;
        if locktime >> 24 != 0x20 || sequence >> 24 != 0x80 {
            return None;
        }
        let obscured =
            (u64::from(sequence & 0x00ff_ffff) << 24) | u64::from(locktime & 0x00ff_ffff);
        Some(obscured ^ self.0)
    }
}

/// The locktime and input sequence that carry an obscured commitment number.
pub fn commitment_locktime_sequence(obscured: u64) -> (LockTime, Sequence) {
    let low = (obscured & 0x00ff_ffff) as u32;
    let high = ((obscured >> 24) & 0x00ff_ffff) as u32;
    (
        LockTime::from_consensus(0x2000_0000 | low),
        Sequence(0x8000_0000 | high),
    )
}

/// One side's commitment transaction, described from its owner ("local").
#[derive(Debug, Clone)]
pub struct CommitmentParams<'a> {
    /// The funding transaction output this commitment spends.
    pub funding_outpoint: OutPoint,
    /// The funding output's value.
    pub funding_amount: Sat,
    /// Who opened (funded) the channel and pays the fee and anchors.
    pub funder: Side,
    /// The delay on the owner's outputs: the `to_self_delay` the
    /// counterparty asked for.
    pub to_self_delay: u16,
    /// The owner's `dust_limit_satoshis`. (Whatever its value, no
    /// zero-value output is ever created; BOLT 2 forbids limits below 354.)
    pub dust_limit: Sat,
    /// The commitment's `feerate_per_kw`.
    pub feerate_per_kw: u32,
    /// The channel type.
    pub channel_type: ChannelType,
    /// The owner's funding pubkey (its anchor's key).
    pub local_funding_pubkey: PublicKey,
    /// The counterparty's funding pubkey (its anchor's key).
    pub remote_funding_pubkey: PublicKey,
    /// This commitment's derived keys.
    pub keys: CommitmentKeys,
    /// The 48-bit commitment number.
    pub commitment_number: u64,
    /// The channel's obscuring factor.
    pub obscuring_factor: ObscuringFactor,
    /// The owner's balance, HTLCs excluded, before the funder pays the fee
    /// and anchors.
    pub to_local: Msat,
    /// The counterparty's balance, HTLCs excluded, before the funder pays
    /// the fee and anchors.
    pub to_remote: Msat,
    /// The HTLCs committed, directions relative to the owner.
    pub htlcs: &'a [Htlc],
}

/// What a commitment output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputKind {
    /// The owner's delayed balance.
    ToLocal,
    /// The counterparty's balance.
    ToRemote,
    /// The owner's anchor.
    LocalAnchor,
    /// The counterparty's anchor.
    RemoteAnchor,
    /// An HTLC; `index` is its position in [`CommitmentParams::htlcs`].
    Htlc {
        /// Position in the HTLC list given to the builder.
        index: usize,
        /// Offered or received by the owner.
        direction: HtlcDirection,
    },
}

/// One output of a built commitment, parallel to `tx.output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentOutput {
    /// What the output pays.
    pub kind: OutputKind,
    /// Its value.
    pub value: Sat,
    /// The witness script behind its P2WSH, or `None` for a P2WPKH
    /// `to_remote`.
    pub witness_script: Option<ScriptBuf>,
}

/// A built, unsigned commitment transaction.
#[derive(Debug, Clone)]
pub struct CommitmentTx {
    /// The transaction, outputs in BIP 69 + CLTV order, witness empty.
    pub tx: Transaction,
    /// What each output is, in output order.
    pub outputs: Vec<CommitmentOutput>,
    /// For each HTLC given (same order), its output index, or `None` if it
    /// was trimmed.
    pub htlc_output_indices: Vec<Option<u32>>,
    /// The base fee (weight-based, anchors excluded).
    pub base_fee: Sat,
    /// The real fee: the funding amount minus the outputs (base fee plus
    /// everything trimmed and every sub-satoshi remainder).
    pub fee: Sat,
    /// How much the funder's balance lacked to pay the base fee and the
    /// anchors; zero in a healthy channel.
    pub funder_shortfall: Sat,
}

impl CommitmentTx {
    /// The untrimmed HTLC outputs in output order: `(output index, htlc
    /// index, output)`. Signatures in `commitment_signed` follow this order.
    pub fn htlc_outputs(&self) -> impl Iterator<Item = (u32, usize, &CommitmentOutput)> + '_ {
        self.outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o.kind {
                OutputKind::Htlc { index, .. } => {
                    u32::try_from(i).ok().map(|vout| (vout, index, o))
                }
                _ => None,
            })
    }

    /// The number of untrimmed HTLC outputs.
    pub fn untrimmed_htlc_count(&self) -> usize {
        self.htlc_output_indices.iter().flatten().count()
    }
}

struct Pending {
    txout: TxOut,
    output: CommitmentOutput,
    cltv_expiry: u32,
}

/// Builds the unsigned commitment transaction described by `params`.
pub fn build_commitment(params: &CommitmentParams<'_>) -> Result<CommitmentTx, CommitmentError> {
    let obscured = params.obscuring_factor.obscure(params.commitment_number)?;
    let funding_msat = params
        .funding_amount
        .checked_to_msat()
        .ok_or(CommitmentError::Overflow)?;
    let total = params
        .to_local
        .checked_add(params.to_remote)
        .and_then(|t| t.checked_add(Msat::checked_sum(params.htlcs.iter().map(|h| h.amount))?));
    if total != Some(funding_msat) {
        return Err(CommitmentError::BalanceMismatch {
            funding: funding_msat,
            total,
        });
    }

    let channel_type = params.channel_type;
    let trimmed: Vec<bool> = params
        .htlcs
        .iter()
        .map(|h| {
            is_htlc_trimmed(
                h.direction,
                h.amount,
                params.dust_limit,
                params.feerate_per_kw,
                channel_type,
            ) || h.amount.to_sat_floor() == Sat::ZERO
        })
        .collect();
    let untrimmed = trimmed.iter().filter(|t| !**t).count();
    let base_fee = commitment_fee(params.feerate_per_kw, channel_type, untrimmed)
        .ok_or(CommitmentError::Overflow)?;
    let anchors_total = if channel_type.has_anchors() {
        ANCHOR_OUTPUT_VALUE
            .checked_mul(2)
            .ok_or(CommitmentError::Overflow)?
    } else {
        Sat::ZERO
    };
    let funder_pays = base_fee
        .checked_add(anchors_total)
        .and_then(Sat::checked_to_msat)
        .ok_or(CommitmentError::Overflow)?;

    let (mut local, mut remote) = (params.to_local, params.to_remote);
    let funder_balance = match params.funder {
        Side::Local => &mut local,
        Side::Remote => &mut remote,
    };
    let shortfall = funder_pays.saturating_sub(*funder_balance);
    *funder_balance = funder_balance.saturating_sub(funder_pays);
    let to_local_value = local.to_sat_floor();
    let to_remote_value = remote.to_sat_floor();

    let keys = &params.keys;
    let mut pending: Vec<Pending> = Vec::with_capacity(untrimmed.saturating_add(4));
    let has_to_local = to_local_value >= params.dust_limit && to_local_value > Sat::ZERO;
    let has_to_remote = to_remote_value >= params.dust_limit && to_remote_value > Sat::ZERO;

    for (index, (htlc, is_trimmed)) in params.htlcs.iter().zip(&trimmed).enumerate() {
        if *is_trimmed {
            continue;
        }
        let script = match htlc.direction {
            HtlcDirection::Offered => offered_htlc_script(
                channel_type,
                &keys.revocation,
                &keys.local_htlc,
                &keys.remote_htlc,
                &htlc.payment_hash,
            ),
            HtlcDirection::Received => received_htlc_script(
                channel_type,
                &keys.revocation,
                &keys.local_htlc,
                &keys.remote_htlc,
                &htlc.payment_hash,
                htlc.cltv_expiry,
            ),
        };
        pending.push(p2wsh_output(
            OutputKind::Htlc {
                index,
                direction: htlc.direction,
            },
            htlc.amount.to_sat_floor(),
            script,
            htlc.cltv_expiry,
        ));
    }
    if has_to_local {
        let script = to_local_script(&keys.revocation, params.to_self_delay, &keys.local_delayed);
        pending.push(p2wsh_output(OutputKind::ToLocal, to_local_value, script, 0));
    }
    if has_to_remote {
        if channel_type.has_anchors() {
            let script = to_remote_anchor_script(&keys.remote_payment);
            pending.push(p2wsh_output(
                OutputKind::ToRemote,
                to_remote_value,
                script,
                0,
            ));
        } else {
            pending.push(Pending {
                txout: TxOut {
                    value: Amount::from_sat(to_remote_value.value()),
                    script_pubkey: to_remote_p2wpkh(&keys.remote_payment),
                },
                output: CommitmentOutput {
                    kind: OutputKind::ToRemote,
                    value: to_remote_value,
                    witness_script: None,
                },
                cltv_expiry: 0,
            });
        }
    }
    if channel_type.has_anchors() {
        if has_to_local || untrimmed > 0 {
            let script = anchor_script(&params.local_funding_pubkey);
            pending.push(p2wsh_output(
                OutputKind::LocalAnchor,
                ANCHOR_OUTPUT_VALUE,
                script,
                0,
            ));
        }
        if has_to_remote || untrimmed > 0 {
            let script = anchor_script(&params.remote_funding_pubkey);
            pending.push(p2wsh_output(
                OutputKind::RemoteAnchor,
                ANCHOR_OUTPUT_VALUE,
                script,
                0,
            ));
        }
    }

    // BIP 69 by value then scriptPubKey, then CLTV for identical HTLC
    // outputs. The sort is stable, so fully identical HTLCs keep the order
    // they were given in (their HTLC transactions are identical anyway).
    pending.sort_by(|a, b| {
        a.txout
            .value
            .cmp(&b.txout.value)
            .then_with(|| {
                a.txout
                    .script_pubkey
                    .as_bytes()
                    .cmp(b.txout.script_pubkey.as_bytes())
            })
            .then_with(|| a.cltv_expiry.cmp(&b.cltv_expiry))
    });

    let outputs_total = Sat::checked_sum(pending.iter().map(|p| p.output.value))
        .ok_or(CommitmentError::OutputsExceedFunding)?;
    let fee = params
        .funding_amount
        .checked_sub(outputs_total)
        .ok_or(CommitmentError::OutputsExceedFunding)?;

    let mut htlc_output_indices = vec![None; params.htlcs.len()];
    for (vout, p) in pending.iter().enumerate() {
        if let OutputKind::Htlc { index, .. } = p.output.kind {
            if let Some(slot) = htlc_output_indices.get_mut(index) {
                *slot = u32::try_from(vout).ok();
            }
        }
    }
    let (lock_time, sequence) = commitment_locktime_sequence(obscured);
    let mut tx_outputs = Vec::with_capacity(pending.len());
    let mut outputs = Vec::with_capacity(pending.len());
    for p in pending {
        tx_outputs.push(p.txout);
        outputs.push(p.output);
    }
    let tx = Transaction {
        version: Version::TWO,
        lock_time,
        input: vec![TxIn {
            previous_output: params.funding_outpoint,
            script_sig: ScriptBuf::new(),
            sequence,
            witness: Witness::new(),
        }],
        output: tx_outputs,
    };
    Ok(CommitmentTx {
        tx,
        outputs,
        htlc_output_indices,
        base_fee,
        fee,
        funder_shortfall: shortfall.to_sat_floor(),
    })
}

fn p2wsh_output(
    kind: OutputKind,
    value: Sat,
    witness_script: ScriptBuf,
    cltv_expiry: u32,
) -> Pending {
    Pending {
        txout: TxOut {
            value: Amount::from_sat(value.value()),
            script_pubkey: p2wsh(&witness_script),
        },
        output: CommitmentOutput {
            kind,
            value,
            witness_script: Some(witness_script),
        },
        cltv_expiry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(hex: &str) -> PublicKey {
        hex.parse().unwrap()
    }

    #[test]
    fn obscuring_factor_matches_appendix_c() {
        let f = ObscuringFactor::new(
            &pk("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa"),
            &pk("032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991"),
        );
        assert_eq!(f.value(), 0x2bb038521914);
        let obscured = f.obscure(42).unwrap();
        let (lt, seq) = commitment_locktime_sequence(obscured);
        assert_eq!(lt.to_consensus_u32(), 0x2052193e);
        assert_eq!(seq.0, 0x802bb038);
        assert!(f.obscure(MAX_COMMITMENT_NUMBER + 1).is_err());
    }
}
