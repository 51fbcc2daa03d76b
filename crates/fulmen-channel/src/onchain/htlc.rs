//! Our commitment's HTLC outputs: the HTLC-success and HTLC-timeout
//! transactions (pre-signed by the peer), and their delayed output.
//!
//! Without anchors the HTLC transaction pays its own fee and is final as
//! built. With anchors it pays none: the node appends wallet inputs (and
//! change outputs after the first) to [`SecondStage::tx`], then calls
//! [`finalize_htlc_tx`] and signs its own inputs; the peer's
//! `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY` signature stays valid as long as
//! input 0 and output 0 are unchanged. Several such transactions with the
//! same `nLockTime` can be one ([`finalize_htlc_txs`]): input and output
//! `i` of each pair at the same index, wallet inputs and change after.

use bitcoin::{EcdsaSighashType, OutPoint, Transaction};
use fulmen_script::scripts::p2wsh;
use fulmen_script::sign::{htlc_success_witness, htlc_timeout_witness, sign_p2wsh_input};
use fulmen_types::{PaymentPreimage, Sat};

use super::claim::{Claim, ClaimKey, ClaimKind, Deadline, SecondStage};
use super::sweep::claim_secret_key;
use super::{OnchainError, Signer};

/// The pre-signed second-stage transaction of an HTLC claim on our
/// commitment, if it is one.
pub fn second_stage(claim: &Claim) -> Option<&SecondStage> {
    match &claim.kind {
        ClaimKind::HtlcSuccess {
            second_stage: Some(s),
            ..
        }
        | ClaimKind::HtlcTimeout {
            second_stage: Some(s),
            ..
        } => Some(s),
        _ => None,
    }
}

/// Adds our `SIGHASH_ALL` signature and the peer's to input 0 of `tx`,
/// the claim's HTLC transaction (possibly with wallet inputs and outputs
/// appended for its fee): the witness
/// `0 <remotehtlcsig> <localhtlcsig> <preimage or empty> <htlc_script>`.
///
/// HTLC-success needs the preimage of the claim's hash in `preimages`.
/// `tx` keeps the claim's `nLockTime` (the expiry, for timeouts) and
/// input-0 `nSequence` (1 with anchors), which the peer signed.
pub fn finalize_htlc_tx(
    claim: &Claim,
    tx: Transaction,
    signer: &Signer<'_>,
    preimages: &[PaymentPreimage],
) -> Result<Transaction, OnchainError> {
    finalize_htlc_txs(core::slice::from_ref(claim), tx, signer, preimages)
}

/// [`finalize_htlc_tx`] for several HTLC transactions of anchor channels
/// aggregated into one: claim `i` is input `i` and output `i` of `tx`
/// (the peer's `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY` signature commits to
/// that pair only), wallet inputs and change follow. They must share the
/// `nLockTime` the peer signed: every HTLC-success transaction has 0, an
/// HTLC-timeout its expiry.
pub fn finalize_htlc_txs(
    claims: &[Claim],
    mut tx: Transaction,
    signer: &Signer<'_>,
    preimages: &[PaymentPreimage],
) -> Result<Transaction, OnchainError> {
    if claims.is_empty() || (claims.len() > 1 && !claims.iter().all(has_anchors)) {
        return Err(OnchainError::WrongTransaction);
    }
    let mut witnesses = Vec::with_capacity(claims.len());
    for (i, claim) in claims.iter().enumerate() {
        let stage = second_stage(claim).ok_or(OnchainError::WrongClaimKind)?;
        let script = claim
            .witness_script
            .as_ref()
            .ok_or(OnchainError::WrongClaimKind)?;
        let expected = stage
            .tx
            .input
            .first()
            .map(|i| (i.previous_output, i.sequence));
        let found = tx.input.get(i).map(|i| (i.previous_output, i.sequence));
        if found.is_none()
            || found != expected
            || tx.lock_time != stage.tx.lock_time
            || tx.output.get(i) != stage.tx.output.first()
        {
            return Err(OnchainError::WrongTransaction);
        }
        let key = claim_secret_key(&claim.key, signer)?;
        let ours = sign_p2wsh_input(&tx, i, script, claim.value, EcdsaSighashType::All, &key)
            .map_err(|_| OnchainError::SigningError)?;
        let channel_type = stage.channel_type;
        let witness = match &claim.kind {
            ClaimKind::HtlcSuccess { payment_hash, .. } => {
                let preimage = preimages
                    .iter()
                    .find(|p| p.payment_hash() == *payment_hash)
                    .ok_or(OnchainError::MissingPreimageError {
                        payment_hash: *payment_hash,
                    })?;
                htlc_success_witness(
                    script,
                    channel_type,
                    &stage.remote_signature,
                    &ours,
                    preimage,
                )
            }
            _ => htlc_timeout_witness(script, channel_type, &stage.remote_signature, &ours),
        };
        witnesses.push(witness);
    }
    for (input, witness) in tx.input.iter_mut().zip(witnesses) {
        input.witness = witness;
    }
    Ok(tx)
}

fn has_anchors(claim: &Claim) -> bool {
    second_stage(claim).is_some_and(|s| s.channel_type.has_anchors())
}

/// The most the witness of an HTLC transaction's input 0 weighs (BOLT 3):
/// `0 <remotesig> <localsig> <preimage or empty> <script>`, each signature
/// at most 73 bytes with its sighash flag, a 32-byte preimage. What a
/// wallet adding fee inputs counts for it.
pub fn max_witness_weight(claim: &Claim) -> u64 {
    let script = claim.witness_script.as_ref().map_or(0, |s| s.len() as u64);
    // Item count, the empty item, two signatures, the preimage, the
    // script with a length prefix of up to 3 bytes.
    1 + 1 + (1 + 73) * 2 + (1 + 32) + 3 + script
}

/// The delayed output of our confirmed HTLC transaction `confirmed` (the
/// claim's, built by [`finalize_htlc_tx`] or [`finalize_htlc_txs`]: the
/// output at the index of the input spending the claim), to sweep after
/// `to_self_delay` blocks: witness `<sig> <> <script>`.
pub fn second_stage_claim(claim: &Claim, confirmed: &Transaction) -> Option<Claim> {
    let stage = second_stage(claim)?;
    let ClaimKey::Htlc {
        per_commitment_point,
    } = claim.key
    else {
        return None;
    };
    let index = confirmed
        .input
        .iter()
        .position(|i| i.previous_output == claim.outpoint)?;
    let spk = p2wsh(&stage.output_witness_script);
    let out = confirmed
        .output
        .get(index)
        .filter(|o| o.script_pubkey == spk)?;
    Some(Claim {
        outpoint: OutPoint {
            txid: confirmed.compute_txid(),
            vout: u32::try_from(index).ok()?,
        },
        value: Sat(out.value.to_sat()),
        script_pubkey: spk,
        witness_script: Some(stage.output_witness_script.clone()),
        kind: ClaimKind::ToLocalAfterCsv {
            delay: stage.to_self_delay,
        },
        key: ClaimKey::DelayedPayment {
            per_commitment_point,
        },
        csv: stage.to_self_delay,
        cltv: 0,
        deadline: Deadline::None,
        contested: false,
    })
}
