//! Rate limit of `channel_update`s per channel direction (BOLT 7: a node
//! SHOULD NOT send more than a few a day; a receiver MAY rate-limit).
//!
//! A token bucket per (short channel id, direction): `burst` updates at
//! once, then one more every `refill_secs`. Updates over the limit are
//! dropped without relaying them and without blaming the peer (honest peers
//! relay what others sent). Full buckets are forgotten, so the table only
//! holds channels that updated recently.

use std::collections::HashMap;

use fulmen_types::ShortChannelId;

/// The limiter (see the module documentation).
#[derive(Debug)]
pub(crate) struct UpdateLimiter {
    burst: u64,
    refill_secs: u64,
    /// (scid, direction) → (tokens, unix seconds of the last refill).
    buckets: HashMap<(ShortChannelId, u8), (u64, u64)>,
}

impl UpdateLimiter {
    pub(crate) fn new(burst: u32, refill_secs: u64) -> Self {
        Self {
            burst: u64::from(burst.max(1)),
            refill_secs: refill_secs.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Whether an update of this direction may be taken at `now`; takes a
    /// token if so.
    pub(crate) fn allow(&mut self, scid: ShortChannelId, direction: u8, now: u64) -> bool {
        let (burst, refill) = (self.burst, self.refill_secs);
        let (tokens, last) = self
            .buckets
            .entry((scid, direction))
            .or_insert((burst, now));
        let earned = now.saturating_sub(*last) / refill;
        if earned > 0 {
            *tokens = tokens.saturating_add(earned).min(burst);
            *last = last.saturating_add(earned.saturating_mul(refill));
        }
        if *tokens == 0 {
            return false;
        }
        *tokens -= 1;
        true
    }

    /// Forgets buckets that are full again at `now`.
    pub(crate) fn forget_idle(&mut self, now: u64) {
        let (burst, refill) = (self.burst, self.refill_secs);
        self.buckets.retain(|_, (tokens, last)| {
            let earned = now.saturating_sub(*last) / refill;
            tokens.saturating_add(earned) < burst
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval_per_direction() {
        let mut l = UpdateLimiter::new(3, 60);
        let scid = ShortChannelId(7);
        for _ in 0..3 {
            assert!(l.allow(scid, 0, 1_000));
        }
        assert!(!l.allow(scid, 0, 1_000), "burst spent");
        assert!(l.allow(scid, 1, 1_000), "the other direction has its own");
        assert!(!l.allow(scid, 0, 1_059));
        assert!(l.allow(scid, 0, 1_060), "one token a minute");
        assert!(!l.allow(scid, 0, 1_061));
        assert!(
            l.allow(scid, 0, 1_000 + 60 * 100),
            "refilled, capped at the burst"
        );
        assert!(l.allow(scid, 0, 1_000 + 60 * 100));
        assert!(l.allow(scid, 0, 1_000 + 60 * 100));
        assert!(!l.allow(scid, 0, 1_000 + 60 * 100));
    }

    #[test]
    fn idle_buckets_are_forgotten() {
        let mut l = UpdateLimiter::new(2, 10);
        l.allow(ShortChannelId(1), 0, 0);
        l.allow(ShortChannelId(2), 0, 0);
        l.allow(ShortChannelId(2), 0, 0);
        assert_eq!(l.len(), 2);
        l.forget_idle(10);
        assert_eq!(l.len(), 1, "the first is full again, the second not yet");
        l.forget_idle(20);
        assert_eq!(l.len(), 0);
    }
}
