//! Fee policy for claims: a feerate that escalates as a deadline
//! approaches, batching of ready claims, and the CPFP child fee for an
//! anchor.
//!
//! # Escalation schedule
//!
//! [`escalated_feerate`] multiplies the node's estimate by the urgency of
//! the nearest deadline among the claims spent together
//! ([`super::Claim::blocks_left`]):
//!
//! | blocks left | feerate |
//! |---|---|
//! | no deadline, or ≥ 72 | estimate |
//! | 36 – 71 | 2 × estimate |
//! | 18 – 35 ([`SECURITY_DELAY`] … ) | 4 × estimate |
//! | 6 – 17 | 8 × estimate |
//! | 0 – 5 (or passed) | 16 × estimate |
//!
//! always at least [`MIN_FEERATE_PER_KW`] and at most the caller's cap.
//! Re-run it each block and replace (RBF) the pending spend when the
//! result rose.

use bitcoin::Script;
use fulmen_script::fees::dust_threshold;
use fulmen_types::Sat;

use super::claim::{Claim, ClaimKind};
use super::sweep::{claim_input_weight, fee_at, sweep_weight};
use super::{OnchainError, Signer};

/// The relay floor: 253 sat per 1000 weight (1 sat/vbyte, rounded up).
pub const MIN_FEERATE_PER_KW: u32 = 253;

/// BOLT 5's recommended `security_delay`: within this many blocks of a
/// deadline, contested claims (which the cheater can pin) are spent in
/// their own transactions ([`plan_batches`] with `split_contested`).
pub const SECURITY_DELAY: u32 = 18;

/// The feerate for spending claims whose nearest deadline is
/// `blocks_left` blocks away (see the module's schedule), from the node's
/// estimate `estimate_per_kw`, capped at `max_per_kw`.
pub fn escalated_feerate(estimate_per_kw: u32, blocks_left: Option<u32>, max_per_kw: u32) -> u32 {
    let factor: u32 = match blocks_left {
        None => 1,
        Some(b) if b >= 72 => 1,
        Some(b) if b >= 36 => 2,
        Some(b) if b >= SECURITY_DELAY => 4,
        Some(b) if b >= 6 => 8,
        Some(_) => 16,
    };
    estimate_per_kw
        .saturating_mul(factor)
        .min(max_per_kw)
        .max(MIN_FEERATE_PER_KW)
}

/// How ready claims are to be spent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchPlan {
    /// Sweeps to build ([`super::sweep::build_sweep`]), one per batch.
    pub batches: Vec<Vec<Claim>>,
    /// Claims whose own input costs at least their value at this feerate
    /// (or that cannot reach the dust threshold alone): keep them for a
    /// lower feerate, or give them up if they are dust at any feerate.
    pub uneconomical: Vec<Claim>,
    /// Anchors: spent only by a CPFP child with wallet inputs.
    pub anchors: Vec<Claim>,
    /// HTLC claims of our commitment: spent by their own pre-signed
    /// transaction ([`super::htlc::finalize_htlc_tx`]).
    pub second_stage: Vec<Claim>,
}

/// Groups ready claims into sweeps at `feerate_per_kw` to `destination`.
///
/// * A claim whose input alone costs at least its value is split out of
///   the batch (it would lower what the batch yields) into
///   `uneconomical`.
/// * With `split_contested` (set it within [`SECURITY_DELAY`] blocks of a
///   deadline, or always with anchors on a revoked commitment, as BOLT 5
///   recommends), every contested claim gets its own transaction, so that
///   the peer cannot pin the uncontested ones (a revoked `to_local`)
///   behind a spend it races.
/// * A batch that would not reach the dust threshold after its fee goes
///   to `uneconomical` whole.
pub fn plan_batches(
    claims: Vec<Claim>,
    feerate_per_kw: u32,
    destination: &Script,
    split_contested: bool,
    signer: &Signer<'_>,
) -> Result<BatchPlan, OnchainError> {
    let mut plan = BatchPlan::default();
    let mut main = Vec::new();
    let mut alone = Vec::new();
    for c in claims {
        if matches!(c.kind, ClaimKind::AnchorCpfp) {
            plan.anchors.push(c);
            continue;
        }
        if c.kind.is_second_stage() {
            plan.second_stage.push(c);
            continue;
        }
        let cost = fee_at(feerate_per_kw, claim_input_weight(&c, signer)?)
            .ok_or(OnchainError::OverflowError)?;
        if c.value <= cost {
            plan.uneconomical.push(c);
        } else if split_contested && c.contested {
            alone.push(vec![c]);
        } else {
            main.push(c);
        }
    }
    let dust = dust_threshold(destination);
    for batch in core::iter::once(main).chain(alone) {
        if batch.is_empty() {
            continue;
        }
        let fee = fee_at(feerate_per_kw, sweep_weight(&batch, destination, signer)?)
            .ok_or(OnchainError::OverflowError)?;
        let total =
            Sat::checked_sum(batch.iter().map(|c| c.value)).ok_or(OnchainError::OverflowError)?;
        if total.checked_sub(fee).is_some_and(|v| v >= dust) {
            plan.batches.push(batch);
        } else {
            plan.uneconomical.extend(batch);
        }
    }
    Ok(plan)
}

/// The fee a CPFP child must pay so that a parent of `parent_weight`
/// paying `parent_fee`, and the child of `child_weight`, together reach
/// `target_feerate_per_kw`; zero if the parent alone already does.
pub fn cpfp_child_fee(
    parent_weight: u64,
    parent_fee: Sat,
    child_weight: u64,
    target_feerate_per_kw: u32,
) -> Option<Sat> {
    let package = fee_at(
        target_feerate_per_kw,
        parent_weight.checked_add(child_weight)?,
    )?;
    Some(package.saturating_sub(parent_fee))
}
