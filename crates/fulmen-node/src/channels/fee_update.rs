//! The commitment feerate we propose as the funder (BOLT 2 `update_fee`),
//! following the chain's estimate each time it changes (after blocks).
//!
//! Without anchors the commitment must confirm on its own: its feerate
//! follows the estimate. With `option_anchors_zero_fee_htlc_tx` a child
//! on our anchor can lift it (CPFP, [`super::bump`]), so it follows the
//! estimate only up to [`ANCHOR_COMMITMENT_MAX_PER_KW`] (10 sat/vbyte, as
//! LND caps anchor commitments), which keeps it relayable without paying
//! peak fees from the channel. A proposal is sent when the target is a
//! quarter above the commitment's feerate or below half of it (so a
//! wobbling estimate does not cost a signature round per block), to
//! connected peers of running channels only; one the channel refuses
//! (unaffordable, dust exposure) is logged and left.

use fulmen_channel::ledger::View;
use fulmen_channel::Channel;
use fulmen_script::Side;
use fulmen_types::ChannelId;

use super::manager::{ChannelManager, MIN_FEERATE_PER_KW};
use super::{Broadcaster, Outbox, Persister, Tick};

/// The highest feerate we propose for an anchor channel's commitment.
pub const ANCHOR_COMMITMENT_MAX_PER_KW: u32 = 2_500;

/// The commitment feerate we want for the chain's `estimate`.
pub fn commitment_target(estimate: u32, anchors: bool) -> u32 {
    if anchors {
        estimate.clamp(MIN_FEERATE_PER_KW, ANCHOR_COMMITMENT_MAX_PER_KW)
    } else {
        estimate.max(MIN_FEERATE_PER_KW)
    }
}

/// Whether `target` differs enough from `current` to propose it.
pub fn worth_updating(current: u32, target: u32) -> bool {
    u64::from(target) * 4 > u64::from(current) * 5 || u64::from(target) * 2 < u64::from(current)
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Proposes the target feerate on every running channel we fund whose
    /// commitment is off it.
    pub(super) fn update_fees(&mut self, tick: &mut Tick) {
        let mut ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        ids.sort();
        for id in ids {
            let Some(slot) = self.channels.get(&id) else {
                continue;
            };
            let Channel::Normal(n) = &slot.chan else {
                continue;
            };
            if n.est.core.funder != Side::Local || !self.is_connected(&slot.peer) {
                continue;
            }
            let anchors = n.est.core.channel_type.base.has_anchors();
            let Ok(spec) = n.est.ledger.spec(Side::Remote, View::Projected) else {
                continue;
            };
            let target = commitment_target(self.feerate, anchors);
            if !worth_updating(spec.feerate, target) {
                continue;
            }
            match self.call(&id, |c, ctx| c.update_fee(target, ctx)) {
                Some(Ok(out)) => {
                    tracing::info!(channel = %id, from = spec.feerate, to = target, "proposing a new commitment feerate");
                    self.apply(tick, id, out);
                }
                Some(Err(e)) => {
                    tracing::debug!(channel = %id, target, error = %e, "commitment feerate left as it is");
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_the_estimate_up_to_a_cap_others_all_the_way() {
        assert_eq!(commitment_target(100, true), 253);
        assert_eq!(commitment_target(1_000, true), 1_000);
        assert_eq!(
            commitment_target(20_000, true),
            ANCHOR_COMMITMENT_MAX_PER_KW
        );
        assert_eq!(commitment_target(20_000, false), 20_000);
        assert_eq!(commitment_target(0, false), 253);
    }

    #[test]
    fn only_a_quarter_up_or_half_down_is_worth_a_signature_round() {
        assert!(!worth_updating(1_000, 1_000));
        assert!(!worth_updating(1_000, 1_250));
        assert!(worth_updating(1_000, 1_251));
        assert!(!worth_updating(1_000, 500));
        assert!(worth_updating(1_000, 499));
        assert!(!worth_updating(u32::MAX, u32::MAX));
    }
}
