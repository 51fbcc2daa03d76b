//! Receiving multi-part payments (BOLT 4 `basic_mpp`): HTLCs that carry
//! the same payment hash and secret with a `total_msat` above their own
//! amount are held until their sum reaches `total_msat`; then every part is
//! fulfilled and the invoice is marked paid once, in one commit. A set that
//! is not complete `mpp_timeout_secs` ([`MPP_TIMEOUT_SECS`] by default)
//! after its first part arrived is
//! failed with `mpp_timeout`, every part. A part whose `total_msat` differs
//! from the set's is refused with `incorrect_or_unknown_payment_details`.
//!
//! Held parts are unresolved incoming HTLCs: after a restart they are
//! judged again ([`ChannelManager::resolve_pending_incoming`]) and
//! collected anew.

use std::collections::HashMap;

use fulmen_channel::IncomingHtlc;
use fulmen_onion::{FailureMessage, SharedSecret};
use fulmen_store::Invoice;
use fulmen_types::{ChannelId, Msat, PaymentHash, PaymentPreimage};

use super::manager::ChannelManager;
use super::receive::failure_packet;
use super::{Broadcaster, Outbox, Persister, Tick};

/// Seconds a set of parts may wait for the rest by default (BOLT 4
/// suggests 60).
pub const MPP_TIMEOUT_SECS: u64 = 60;

/// What the final-node checks found for one part.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) shared_secret: SharedSecret,
    pub(crate) total: Msat,
    pub(crate) preimage: PaymentPreimage,
    pub(crate) invoice: Invoice,
}

/// One held HTLC.
#[derive(Debug, Clone, Copy)]
struct Held {
    channel: ChannelId,
    htlc: u64,
    shared_secret: SharedSecret,
}

/// The parts of one payment received so far.
#[derive(Debug)]
pub(crate) struct PartSet {
    total: Msat,
    received: Msat,
    first_at: u64,
    parts: Vec<Held>,
}

/// Sets being collected, by payment hash.
pub(crate) type PartSets = HashMap<PaymentHash, PartSet>;

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Holds a part; settles the whole set once it is complete.
    pub(super) fn hold_part(
        &mut self,
        tick: &mut Tick,
        channel: ChannelId,
        htlc: &IncomingHtlc,
        part: Part,
    ) {
        let hash = htlc.payment_hash;
        let now = self.now;
        let set = self.mpp_sets.entry(hash).or_insert_with(|| PartSet {
            total: part.total,
            received: Msat(0),
            first_at: now,
            parts: Vec::new(),
        });
        if set.total != part.total {
            let msg = FailureMessage::IncorrectOrUnknownPaymentDetails {
                htlc_msat: htlc.amount.0,
                height: self.height,
            };
            self.fail_held(tick, channel, htlc.id, &part.shared_secret, &msg);
            return;
        }
        set.parts.push(Held {
            channel,
            htlc: htlc.id,
            shared_secret: part.shared_secret,
        });
        set.received = set
            .received
            .checked_add(htlc.amount)
            .unwrap_or(set.received);
        tracing::debug!(%hash, parts = set.parts.len(), received = set.received.0, total = set.total.0, "multi-part payment part held");
        if set.received < set.total {
            return;
        }
        let Some(set) = self.mpp_sets.remove(&hash) else {
            return;
        };
        self.settle_invoice(tick, part.invoice, set.received, false);
        for held in set.parts {
            let (id, preimage) = (held.htlc, part.preimage);
            let result = self.call(&held.channel, |c, _| c.fulfill_htlc(id, preimage));
            self.apply_call(tick, held.channel, result, "fulfil a part");
        }
    }

    /// Fails every part of the sets that waited too long.
    pub(super) fn expire_part_sets(&mut self, tick: &mut Tick) {
        let now = self.now;
        let timeout = self.svc.config.mpp_timeout_secs;
        let expired: Vec<PaymentHash> = self
            .mpp_sets
            .iter()
            // Whole unix seconds on both sides: `>` so that a set never
            // expires before `timeout` full seconds have passed.
            .filter(|(_, s)| now.saturating_sub(s.first_at) > timeout)
            .map(|(h, _)| *h)
            .collect();
        for hash in expired {
            let Some(set) = self.mpp_sets.remove(&hash) else {
                continue;
            };
            tracing::info!(%hash, parts = set.parts.len(), received = set.received.0, total = set.total.0, "multi-part payment timed out");
            for held in set.parts {
                self.fail_held(
                    tick,
                    held.channel,
                    held.htlc,
                    &held.shared_secret,
                    &FailureMessage::MppTimeout,
                );
            }
        }
    }

    fn fail_held(
        &mut self,
        tick: &mut Tick,
        channel: ChannelId,
        htlc: u64,
        ss: &SharedSecret,
        msg: &FailureMessage,
    ) {
        let packet = failure_packet(ss, msg);
        let result = self.call(&channel, |c, _| c.fail_htlc(htlc, packet));
        self.apply_call(tick, channel, result, "fail a part");
    }
}
