//! Our commitment until it confirms (BOLT 5 fees): broadcast again each
//! block, and lifted by a child when it pays too little.
//!
//! A commitment's fee was agreed when it was signed, maybe long before the
//! close. With `option_anchors_zero_fee_htlc_tx` it may pay less than the
//! chain now asks: then a child spending our anchor output (330 sat,
//! witness `<sig> <anchor script>` with the funding key) and wallet coins
//! pays what the package lacks (CPFP, [`super::FundingWallet::fund_anchor_child`]).
//! The target is the chain's feerate, escalated as the commitment's
//! nearest HTLC deadline nears ([`escalated_feerate`], as the sweeps).
//!
//! The child is kept and broadcast again each block with its parent. A new
//! one (its coins released first) is funded when the target rose above
//! what it pays, or when it is still unconfirmed
//! [`super::onchain::REFUND_AFTER_BLOCKS`] later; a chain that refuses
//! the replacement keeps the first one, which still lifts the parent.
//! Once the funding output is spent in a block the watch
//! ([`super::onchain`]) takes over and the child is forgotten.
//!
//! Nothing here is persisted: after a restart the next block rebuilds it
//! from the stored channel (`Closing` with our commitment).

use bitcoin::{Amount, OutPoint, Transaction, TxOut};
use fulmen_channel::closing::ClosingKind;
use fulmen_channel::onchain::fees::escalated_feerate;
use fulmen_channel::onchain::sweep::{claim_input_weight, sign_claim_input};
use fulmen_channel::onchain::{resolve, Claim, ClaimKind, Signer};
use fulmen_channel::Channel;
use fulmen_types::{ChannelId, Sat};

use super::manager::ChannelManager;
use super::onchain::{MAX_SWEEP_FEERATE_PER_KW, REFUND_AFTER_BLOCKS};
use super::{Broadcaster, Outbox, Persister, Tick};
use crate::entropy::random_bytes;

/// The weight of a transaction input before its witness: outpoint (36),
/// empty script length (1), sequence (4), times 4.
const INPUT_BASE_WEIGHT: u64 = 41 * 4;

/// What the wallet needs to fund a CPFP child on our anchor.
#[derive(Debug, Clone)]
pub struct AnchorBump {
    /// Our anchor output of the unconfirmed commitment.
    pub anchor: OutPoint,
    /// That output.
    pub prev: TxOut,
    /// The most its witness weighs (with the item count).
    pub satisfaction_weight: u64,
    /// The commitment's weight.
    pub parent_weight: u64,
    /// The commitment's fee.
    pub parent_fee: Sat,
    /// What the package must pay, sat/kw.
    pub feerate_per_kw: u32,
}

/// A child funded for a channel's commitment.
pub(crate) struct Bump {
    child: Transaction,
    funded_at: u32,
    feerate_per_kw: u32,
}

/// The commitment a channel broadcast on our force close, if any.
fn local_force_tx(chan: &Channel) -> Option<&Transaction> {
    match chan {
        Channel::Closing(c) => match &c.kind {
            ClosingKind::LocalForce { tx } => Some(tx),
            _ => None,
        },
        _ => None,
    }
}

/// The feerate a transaction paying `fee` for `weight` pays, sat/kw.
fn feerate_of(fee: Sat, weight: u64) -> u64 {
    fee.value().saturating_mul(1000) / weight.max(1)
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Each of our force-closed commitments not yet confirmed: broadcast
    /// again (`rebroadcast`, at blocks; the close itself broadcast it
    /// already) and, for anchor channels, lifted by a child if it pays
    /// less than the target.
    pub(super) fn bump_commitments(&mut self, tick: &mut Tick, rebroadcast: bool) {
        let height = self.height;
        let mut ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(id, s)| local_force_tx(&s.chan).is_some() && !self.onchain.contains_key(id))
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        self.bumps.retain(|id, _| ids.contains(id));
        for id in ids {
            let Some(slot) = self.channels.get(&id) else {
                continue;
            };
            let (Some(tx), Some(est)) = (local_force_tx(&slot.chan), slot.chan.established())
            else {
                continue;
            };
            if rebroadcast {
                tick.broadcasts.push((Some(id), tx.clone()));
            }
            if !est.core.channel_type.base.has_anchors() {
                continue;
            }
            let signer = Signer {
                secp: &self.secp,
                secrets: slot.secrets.as_ref(),
            };
            let resolution = match resolve(tx, est, &signer, None) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(channel = %id, error = %e, "cannot read our commitment's outputs");
                    continue;
                }
            };
            let Some(anchor) = resolution
                .claims
                .iter()
                .find(|c| matches!(c.kind, ClaimKind::AnchorCpfp))
                .cloned()
            else {
                continue;
            };
            // As if it confirmed in the next block.
            let blocks_left = resolution
                .claims
                .iter()
                .filter_map(|c| c.blocks_left(height.saturating_add(1), height))
                .min();
            let target = escalated_feerate(self.feerate, blocks_left, MAX_SWEEP_FEERATE_PER_KW);
            let outputs = tx.output.iter().map(|o| Sat(o.value.to_sat()));
            let Some(parent_fee) =
                Sat::checked_sum(outputs).and_then(|o| est.core.funding.checked_sub(o))
            else {
                continue;
            };
            let parent_weight = tx.weight().to_wu();
            if feerate_of(parent_fee, parent_weight) >= u64::from(target) {
                if let Some(b) = self.bumps.get(&id) {
                    // A child broadcast earlier still lifts it: keep it.
                    if rebroadcast {
                        tick.broadcasts.push((Some(id), b.child.clone()));
                    }
                }
                continue;
            }
            if let Some(b) = self.bumps.get(&id) {
                let fresh = height < b.funded_at.saturating_add(REFUND_AFTER_BLOCKS);
                if fresh && b.feerate_per_kw >= target {
                    if rebroadcast {
                        tick.broadcasts.push((Some(id), b.child.clone()));
                    }
                    continue;
                }
                let txid = b.child.compute_txid();
                tracing::warn!(channel = %id, %txid, target, "our commitment's child is not enough or stuck: funding a new one");
                self.svc.wallet.release_funding(txid);
                self.bumps.remove(&id);
            }
            let Some(slot) = self.channels.get(&id) else {
                continue;
            };
            let signer = Signer {
                secp: &self.secp,
                secrets: slot.secrets.as_ref(),
            };
            match self.fund_child(&anchor, &signer, parent_weight, parent_fee, target) {
                Ok(child) => {
                    tracing::info!(
                        channel = %id, child = %child.compute_txid(), %parent_fee,
                        parent_feerate = feerate_of(parent_fee, parent_weight), target,
                        "our commitment pays too little: bumping it with a child on our anchor"
                    );
                    tick.broadcasts.push((Some(id), child.clone()));
                    self.bumps.insert(
                        id,
                        Bump {
                            child,
                            funded_at: height,
                            feerate_per_kw: target,
                        },
                    );
                }
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "cannot bump our commitment: retrying next block")
                }
            }
        }
    }

    /// A child spending `anchor` with wallet coins, the anchor signed.
    fn fund_child(
        &self,
        anchor: &Claim,
        signer: &Signer<'_>,
        parent_weight: u64,
        parent_fee: Sat,
        feerate_per_kw: u32,
    ) -> Result<Transaction, String> {
        let input_weight = claim_input_weight(anchor, signer).map_err(|e| e.to_string())?;
        let bump = AnchorBump {
            anchor: anchor.outpoint,
            prev: TxOut {
                value: Amount::from_sat(anchor.value.value()),
                script_pubkey: anchor.script_pubkey.clone(),
            },
            satisfaction_weight: input_weight.saturating_sub(INPUT_BASE_WEIGHT),
            parent_weight,
            parent_fee,
            feerate_per_kw,
        };
        let aux =
            random_bytes::<32>(self.svc.entropy.as_ref()).map_err(|_| "no entropy".to_string())?;
        let mut child = self.svc.wallet.fund_anchor_child(&bump, *aux)?;
        let witness =
            sign_claim_input(&child, 0, anchor, signer, &[]).map_err(|e| e.to_string())?;
        if let Some(input) = child.input.first_mut() {
            input.witness = witness;
        }
        Ok(child)
    }
}
