//! Our HTLC transactions on chain (BOLT 5, our commitment confirmed): the
//! HTLC-success and HTLC-timeout transactions the peer pre-signed.
//!
//! Without anchors each pays its own fee and goes out as signed. With
//! anchors they pay none, and the peer signed each input with
//! `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY`: the ready ones sharing an
//! `nLockTime` (every HTLC-success has 0, an HTLC-timeout its expiry) are
//! aggregated into one transaction — pair `i` at input and output `i`,
//! at most [`MAX_HTLCS_PER_TX`] — and the wallet adds confirmed coins and
//! change for the fee ([`super::FundingWallet::fund_htlc_tx`]). One wallet
//! coin then resolves every HTLC of a commitment in one block, where one
//! transaction per HTLC would wait for its change to confirm.
//!
//! A funded transaction is kept by the claims it spends and sent again as
//! the same bytes each block; still unconfirmed [`REFUND_AFTER_BLOCKS`]
//! later (refused, or its coins spent elsewhere), or at once when the peer
//! spent the HTLC output of one of its pairs (with a preimage, or after a
//! timeout: the aggregate can never confirm), its coins are released and
//! its claims still pending funded anew.

use std::collections::{BTreeMap, HashMap, HashSet};

use bitcoin::{OutPoint, Transaction, Txid};
use fulmen_channel::onchain::{htlc, Claim, OnchainError, Signer};
use fulmen_types::{ChannelId, PaymentPreimage};

use super::onchain::REFUND_AFTER_BLOCKS;
use super::{FundingWallet, Tick};
use crate::entropy::{random_bytes, EntropySource};

/// Most HTLC pairs in one aggregated transaction (well under the 400,000
/// weight units of a standard transaction).
pub const MAX_HTLCS_PER_TX: usize = 100;

/// Our funded HTLC transactions of one channel, by the claim (HTLC
/// output of our commitment) they spend, with the height funded at.
pub(super) type Funded = HashMap<OutPoint, (Transaction, u32)>;

/// What sending HTLC transactions needs from the manager.
pub(super) struct HtlcTxContext<'a> {
    pub id: ChannelId,
    pub height: u32,
    pub feerate_per_kw: u32,
    pub signer: &'a Signer<'a>,
    pub preimages: &'a [PaymentPreimage],
    pub wallet: &'a dyn FundingWallet,
    pub entropy: &'a dyn EntropySource,
}

/// Sends the HTLC transactions of `claims` (ready second-stage claims of
/// one channel): the funded ones again, the others funded (anchors) or
/// as signed, into `tick.broadcasts`.
pub(super) fn send_htlc_txs(
    cx: &HtlcTxContext<'_>,
    claims: Vec<Claim>,
    funded: &mut Funded,
    spent: &HashSet<OutPoint>,
    tick: &mut Tick,
) {
    let id = cx.id;
    let (anchors, plain): (Vec<Claim>, Vec<Claim>) = claims
        .into_iter()
        .partition(|c| htlc::second_stage(c).is_some_and(|s| s.channel_type.has_anchors()));
    for c in plain {
        let Some(stage) = htlc::second_stage(&c) else {
            continue;
        };
        finalize_and_send(cx, std::slice::from_ref(&c), stage.tx.clone(), tick);
    }

    // Funded ones: the same bytes again, or funded anew once stale: still
    // unconfirmed after a while, or dead at once because the peer spent
    // the output of a sibling (its claim is spent, this one still pending:
    // ours would have spent both in one block).
    let mut stale: HashSet<Txid> = HashSet::new();
    for c in &anchors {
        let Some((tx, at)) = funded.get(&c.outpoint) else {
            continue;
        };
        let old = cx.height >= at.saturating_add(REFUND_AFTER_BLOCKS);
        let dead = tx.input.iter().any(|i| spent.contains(&i.previous_output));
        if old || dead {
            let txid = tx.compute_txid();
            if stale.insert(txid) {
                tracing::warn!(channel = %id, %txid, dead, "our funded HTLC transaction cannot confirm as it is: funding its claims anew");
                cx.wallet.release_funding(txid);
            }
        }
    }
    // Entries of claims spent (by this transaction or another) are done.
    funded.retain(|op, (tx, _)| !stale.contains(&tx.compute_txid()) && !spent.contains(op));
    let mut again: HashSet<Txid> = HashSet::new();
    let mut by_lock_time: BTreeMap<u32, Vec<Claim>> = BTreeMap::new();
    for c in anchors {
        if let Some((tx, _)) = funded.get(&c.outpoint) {
            if again.insert(tx.compute_txid()) {
                tick.broadcasts.push((Some(id), tx.clone()));
            }
            continue;
        }
        if let Some(stage) = htlc::second_stage(&c) {
            by_lock_time
                .entry(stage.tx.lock_time.to_consensus_u32())
                .or_default()
                .push(c);
        }
    }
    for group in by_lock_time.values() {
        for chunk in group.chunks(MAX_HTLCS_PER_TX) {
            let Some(tx) = fund(cx, chunk) else {
                continue;
            };
            let txid = tx.compute_txid();
            match finalize_and_send(cx, chunk, tx, tick) {
                Some(tx) => {
                    for c in chunk {
                        funded.insert(c.outpoint, (tx.clone(), cx.height));
                    }
                }
                None => cx.wallet.release_funding(txid),
            }
        }
    }
}

/// The zero-fee HTLC transactions of `claims` as one, with wallet inputs
/// and change paying its fee.
fn fund(cx: &HtlcTxContext<'_>, claims: &[Claim]) -> Option<Transaction> {
    let stages: Vec<_> = claims.iter().filter_map(htlc::second_stage).collect();
    let first = stages.first()?;
    if stages.len() != claims.len() {
        return None;
    }
    let template = Transaction {
        version: first.tx.version,
        lock_time: first.tx.lock_time,
        input: stages
            .iter()
            .filter_map(|s| s.tx.input.first().cloned())
            .collect(),
        output: stages
            .iter()
            .filter_map(|s| s.tx.output.first().cloned())
            .collect(),
    };
    let prevs: Vec<(bitcoin::TxOut, u64)> = claims
        .iter()
        .map(|c| {
            let prev = bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(c.value.0),
                script_pubkey: c.script_pubkey.clone(),
            };
            (prev, htlc::max_witness_weight(c))
        })
        .collect();
    let aux = match random_bytes::<32>(cx.entropy) {
        Ok(a) => *a,
        Err(_) => {
            tracing::error!(channel = %cx.id, "no entropy to fund HTLC transactions");
            return None;
        }
    };
    match cx
        .wallet
        .fund_htlc_tx(&template, &prevs, cx.feerate_per_kw, aux)
    {
        Ok(tx) => Some(tx),
        Err(e) => {
            tracing::warn!(channel = %cx.id, htlcs = claims.len(), error = %e, "cannot fund our HTLC transactions from the wallet: retrying next block");
            None
        }
    }
}

/// Signs our inputs of `tx` (the HTLC transactions of `claims`) and sends
/// it; returns it.
fn finalize_and_send(
    cx: &HtlcTxContext<'_>,
    claims: &[Claim],
    tx: Transaction,
    tick: &mut Tick,
) -> Option<Transaction> {
    match htlc::finalize_htlc_txs(claims, tx, cx.signer, cx.preimages) {
        Ok(tx) => {
            tracing::info!(channel = %cx.id, txid = %tx.compute_txid(), htlcs = claims.len(), inputs = tx.input.len(), "broadcasting our HTLC transaction");
            tick.broadcasts.push((Some(cx.id), tx.clone()));
            Some(tx)
        }
        Err(OnchainError::MissingPreimageError { .. }) => None,
        Err(e) => {
            tracing::warn!(channel = %cx.id, error = %e, "cannot finalise an HTLC transaction");
            None
        }
    }
}
