//! Channel scoring for pathfinding: the [`Scorer`] trait, a
//! [`ProbabilisticScorer`] that learns liquidity bounds from payment
//! results, and [`NoPenalty`].

use std::collections::HashMap;

use fulmen_types::{Msat, NodeId, Sat, ShortChannelId};

use crate::router::Route;

/// Adds a cost, in millisatoshis, to sending `amount` over a directed
/// channel; the router adds it to fees. `None` means "do not use".
pub trait Scorer {
    /// The penalty for sending `amount` from `from` to `to` over `scid`,
    /// whose funding output holds `capacity` (for route hints, whose
    /// capacity is unknown: their `htlc_maximum`, or all the bitcoin there
    /// is).
    fn penalty_msat(
        &self,
        scid: ShortChannelId,
        from: &NodeId,
        to: &NodeId,
        amount: Msat,
        capacity: Sat,
    ) -> Option<u64>;
}

/// Scores every channel zero: routes are the cheapest in fees and CLTV risk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoPenalty;

impl Scorer for NoPenalty {
    fn penalty_msat(
        &self,
        _: ShortChannelId,
        _: &NodeId,
        _: &NodeId,
        _: Msat,
        _: Sat,
    ) -> Option<u64> {
        Some(0)
    }
}

/// Tuning of [`ProbabilisticScorer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScorerParams {
    /// After this many seconds without news, a learned lower bound halves and
    /// a learned upper bound doubles (default 6 hours).
    pub half_life_secs: u64,
    /// Penalty per bit of failure information: `-log2(P(success))` times
    /// this (default 10,000 msat, i.e. a 50 % channel costs 10 sat).
    pub liquidity_penalty_multiplier_msat: u64,
    /// Amount-proportional penalty per bit, in millionths of the amount
    /// (default 30: sending 1 BTC over a 50 % channel costs 3,000 sat).
    pub amount_penalty_millionths: u64,
    /// Flat penalty per channel, favouring shorter routes (default 500 msat).
    pub base_penalty_msat: u64,
}

impl Default for ScorerParams {
    fn default() -> Self {
        Self {
            half_life_secs: 6 * 3600,
            liquidity_penalty_multiplier_msat: 10_000,
            amount_penalty_millionths: 30,
            base_penalty_msat: 500,
        }
    }
}

/// What is known about one direction's liquidity (the amount the sender
/// side can push through): `min <= liquidity <= max`, as of `updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    min: u64,
    /// `u64::MAX`: unknown (the capacity bounds it).
    max: u64,
    updated: u64,
}

impl Bounds {
    const UNKNOWN: Self = Self {
        min: 0,
        max: u64::MAX,
        updated: 0,
    };

    /// The bounds decayed to `now`: the lower bound halves and the upper
    /// bound doubles every half-life. Decaying the upper bound
    /// multiplicatively (rather than toward the capacity) needs no capacity,
    /// which the learning calls do not have; the capacity caps it when
    /// scoring.
    fn at(self, now: u64, half_life: u64) -> Self {
        let elapsed = now.saturating_sub(self.updated);
        if elapsed == 0 || half_life == 0 {
            return Self {
                updated: now,
                ..self
            };
        }
        let halvings = elapsed as f64 / half_life as f64;
        let factor = halvings.exp2();
        let min = (self.min as f64 / factor) as u64;
        let max = if self.max == u64::MAX {
            u64::MAX
        } else {
            let m = self.max as f64 * factor;
            if m >= u64::MAX as f64 {
                u64::MAX
            } else {
                m as u64
            }
        };
        Self {
            min,
            max,
            updated: now,
        }
    }
}

/// A scorer that learns, per directed channel, bounds on the liquidity from
/// payment results, and scores by the probability that the liquidity,
/// assumed uniform within the bounds (and the capacity), covers the amount.
/// Bounds decay toward ignorance with [`ScorerParams::half_life_secs`].
///
/// Time is an argument: every learning call takes `now`, and scoring uses
/// the latest `now` seen (or given to [`ProbabilisticScorer::set_now`]).
#[derive(Debug, Clone, Default)]
pub struct ProbabilisticScorer {
    params: ScorerParams,
    now: u64,
    bounds: HashMap<(ShortChannelId, NodeId), Bounds>,
}

impl ProbabilisticScorer {
    /// A scorer that knows nothing yet.
    pub fn new(params: ScorerParams) -> Self {
        Self {
            params,
            now: 0,
            bounds: HashMap::new(),
        }
    }

    /// Advances the scorer's clock (it never goes back).
    pub fn set_now(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    /// The learned `(min, max)` liquidity of `from`'s side of `scid`, decayed
    /// to the scorer's clock; `max` is `None` if unknown.
    pub fn liquidity_bounds(
        &self,
        scid: ShortChannelId,
        from: &NodeId,
    ) -> Option<(Msat, Option<Msat>)> {
        let b = self
            .bounds
            .get(&(scid, *from))?
            .at(self.now, self.params.half_life_secs);
        Some((Msat(b.min), (b.max != u64::MAX).then_some(Msat(b.max))))
    }

    fn learn(
        &mut self,
        scid: ShortChannelId,
        from: &NodeId,
        now: u64,
        f: impl FnOnce(&mut Bounds),
    ) {
        self.set_now(now);
        let hl = self.params.half_life_secs;
        let now = self.now;
        let entry = self.bounds.entry((scid, *from)).or_insert(Bounds::UNKNOWN);
        let mut b = entry.at(now, hl);
        f(&mut b);
        *entry = b;
    }

    /// An HTLC of `amount` failed at `from` for lack of liquidity on `scid`
    /// toward `to`: the liquidity is below `amount`.
    pub fn payment_failed_at(
        &mut self,
        scid: ShortChannelId,
        from: &NodeId,
        _to: &NodeId,
        amount: Msat,
        now: u64,
    ) {
        self.learn(scid, from, now, |b| {
            b.max = b.max.min(amount.0.saturating_sub(1));
            if b.min > b.max {
                // Contradicts older knowledge: the new result wins.
                b.min = 0;
            }
        });
    }

    /// An HTLC of `amount` got through `scid` without moving money (a probe,
    /// or a payment that failed further on): the liquidity is at least
    /// `amount`.
    pub fn payment_probe_success(
        &mut self,
        scid: ShortChannelId,
        from: &NodeId,
        _to: &NodeId,
        amount: Msat,
        now: u64,
    ) {
        self.learn(scid, from, now, |b| {
            b.min = b.min.max(amount.0);
            if b.max < b.min {
                b.max = u64::MAX;
            }
        });
    }

    /// A payment of `amount` went through `scid` and settled: the liquidity
    /// was at least `amount` and is now `amount` less.
    pub fn payment_succeeded_through(
        &mut self,
        scid: ShortChannelId,
        from: &NodeId,
        _to: &NodeId,
        amount: Msat,
        now: u64,
    ) {
        self.learn(scid, from, now, |b| {
            b.min = b.min.max(amount.0) - amount.0;
            b.max = if b.max == u64::MAX || b.max < amount.0 {
                u64::MAX
            } else {
                b.max - amount.0
            };
        });
    }

    /// Learns from a route that failed at `failed_scid` for lack of
    /// liquidity: the channels before it carried the HTLC (probe success),
    /// `failed_scid` could not. `source` is the sender.
    pub fn path_failed(
        &mut self,
        source: &NodeId,
        route: &Route,
        failed_scid: ShortChannelId,
        now: u64,
    ) {
        let mut from = *source;
        for hop in &route.hops {
            if hop.short_channel_id == failed_scid {
                self.payment_failed_at(hop.short_channel_id, &from, &hop.node_id, hop.amount, now);
                return;
            }
            self.payment_probe_success(hop.short_channel_id, &from, &hop.node_id, hop.amount, now);
            from = hop.node_id;
        }
    }

    /// Learns from a route whose payment settled.
    pub fn path_succeeded(&mut self, source: &NodeId, route: &Route, now: u64) {
        let mut from = *source;
        for hop in &route.hops {
            self.payment_succeeded_through(
                hop.short_channel_id,
                &from,
                &hop.node_id,
                hop.amount,
                now,
            );
            from = hop.node_id;
        }
    }
}

impl Scorer for ProbabilisticScorer {
    /// `base + bits * multiplier + bits * amount * amount_millionths / 1e6`
    /// where `bits = -log2(P)` and `P = (max + 1 - amount) / (max + 1 - min)`
    /// with `max` capped by the capacity; `None` if `amount > max`.
    fn penalty_msat(
        &self,
        scid: ShortChannelId,
        from: &NodeId,
        _to: &NodeId,
        amount: Msat,
        capacity: Sat,
    ) -> Option<u64> {
        let p = &self.params;
        let cap = capacity.checked_to_msat().unwrap_or(Msat::MAX).0;
        let b = self
            .bounds
            .get(&(scid, *from))
            .map_or(Bounds::UNKNOWN, |b| b.at(self.now, p.half_life_secs));
        let max = b.max.min(cap);
        let min = b.min.min(max);
        if amount.0 > max {
            return None;
        }
        let bits = if amount.0 <= min {
            0.0
        } else {
            let num = (max - amount.0) as f64 + 1.0;
            let den = (max - min) as f64 + 1.0;
            -(num / den).log2()
        };
        let liquidity = bits * p.liquidity_penalty_multiplier_msat as f64;
        let by_amount = bits * amount.0 as f64 * p.amount_penalty_millionths as f64 / 1e6;
        let extra = (liquidity + by_amount).min(u64::MAX as f64 / 2.0) as u64;
        Some(p.base_penalty_msat.saturating_add(extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node_id, scid};

    #[test]
    fn learns_and_decays() {
        let mut s = ProbabilisticScorer::new(ScorerParams::default());
        let (a, b, c) = (node_id(1), node_id(2), scid(1));
        let cap = Sat(1_000_000);
        let t0 = 1_000_000;
        s.set_now(t0);
        let fresh = s.penalty_msat(c, &a, &b, Msat(500_000_000), cap).unwrap();
        // Unknown channel: half the capacity is a coin flip (1 bit).
        assert!(
            (10_000 + 500 + 15_000 - 100..=10_000 + 500 + 15_000 + 100).contains(&fresh),
            "{fresh}"
        );
        assert_eq!(s.penalty_msat(c, &a, &b, Msat(0), cap), Some(500));

        s.payment_failed_at(c, &a, &b, Msat(400_000_000), t0);
        assert_eq!(
            s.liquidity_bounds(c, &a),
            Some((Msat(0), Some(Msat(399_999_999))))
        );
        assert_eq!(s.penalty_msat(c, &a, &b, Msat(400_000_000), cap), None);
        // The other direction is unaffected.
        assert!(s.penalty_msat(c, &b, &a, Msat(400_000_000), cap).is_some());
        // A smaller amount is now dearer than before.
        let small = s.penalty_msat(c, &a, &b, Msat(200_000_000), cap).unwrap();
        assert!(small > 10_000, "{small}");

        // One half-life later the upper bound has doubled.
        s.set_now(t0 + 6 * 3600);
        let (_, max) = s.liquidity_bounds(c, &a).unwrap();
        assert_eq!(max, Some(Msat(799_999_998)));
        assert!(s.penalty_msat(c, &a, &b, Msat(400_000_000), cap).is_some());

        s.payment_probe_success(c, &a, &b, Msat(300_000_000), t0 + 6 * 3600);
        assert_eq!(s.penalty_msat(c, &a, &b, Msat(300_000_000), cap), Some(500));
        s.set_now(t0 + 12 * 3600);
        assert_eq!(s.liquidity_bounds(c, &a).unwrap().0, Msat(150_000_000));

        s.payment_succeeded_through(c, &a, &b, Msat(100_000_000), t0 + 12 * 3600);
        assert_eq!(s.liquidity_bounds(c, &a).unwrap().0, Msat(50_000_000));
    }

    #[test]
    fn no_penalty_is_zero() {
        assert_eq!(
            NoPenalty.penalty_msat(scid(1), &node_id(1), &node_id(2), Msat(5), Sat(1)),
            Some(0)
        );
    }
}
