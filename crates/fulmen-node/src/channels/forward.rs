//! Forwarding: an incoming HTLC whose onion names a next channel is
//! checked against our [`ForwardingPolicy`] and offered on that channel;
//! what comes back from downstream goes back upstream.
//!
//! Checks, in order (BOLT 4 "Requirements for forwarding nodes"; each
//! failure is an encrypted `update_fail_htlc` upstream, and the forward is
//! recorded `local_failed`):
//!
//! | check | failure |
//! | --- | --- |
//! | a channel with that short channel id (or our alias for it) | `unknown_next_peer` |
//! | it is in normal operation and its peer connected | `temporary_channel_failure` |
//! | `amt_to_forward` ≥ our `htlc_minimum` | `amount_below_minimum` |
//! | incoming amount − `amt_to_forward` ≥ our fee for `amt_to_forward` | `fee_insufficient` |
//! | incoming `cltv_expiry` ≥ `outgoing_cltv_value` + our `cltv_expiry_delta` | `incorrect_cltv_expiry` |
//! | `outgoing_cltv_value` ≥ height + `min_outgoing_cltv_blocks` | `expiry_too_soon` |
//! | `outgoing_cltv_value` ≤ height + `max_outgoing_cltv_blocks` | `expiry_too_far` |
//! | the outgoing channel takes the HTLC (balance, limits) | `temporary_channel_failure` |
//!
//! Persist before you reveal: the forward record (`offered`) is committed
//! with the outgoing channel's state before `update_add_htlc` leaves. A
//! preimage from downstream settles upstream at once (it only gains us
//! money); a failure goes upstream only once the downstream HTLC is
//! irrevocably failed ([`fulmen_channel::ChannelEvent::HtlcFailed`]), the
//! packet wrapped with the incoming onion's shared secret.
//!
//! After a restart the links are rebuilt from the `offered` forward rows;
//! the shared secret is recovered by peeling the incoming HTLC's onion
//! again (the ledger keeps it).

use fulmen_channel::{Channel, HtlcFailure, IncomingHtlc};
use fulmen_onion::failure::{create_failure_packet, wrap_failure_packet, DEFAULT_PAD_TARGET};
use fulmen_onion::{peel_payment, FailureMessage, SharedSecret};
use fulmen_store::{Forward, ForwardStatus, ForwardUpdate};
use fulmen_types::{ChannelId, Msat, PaymentHash, PaymentPreimage, ShortChannelId};

use super::manager::ChannelManager;
use super::{Broadcaster, Outbox, Persister, Tick};
use crate::events::NodeEvent;

/// What the onion asks us to relay.
#[derive(Debug)]
pub(crate) struct ForwardRequest {
    /// The shared secret with the origin (failures are encrypted with it).
    pub(crate) shared_secret: SharedSecret,
    /// The outgoing channel.
    pub(crate) short_channel_id: ShortChannelId,
    /// The outgoing HTLC's amount.
    pub(crate) amt_to_forward: Msat,
    /// The outgoing HTLC's expiry.
    pub(crate) outgoing_cltv_value: u32,
    /// The packet for the next hop.
    pub(crate) onion: fulmen_wire::OnionPacket,
}

/// A forward in flight: the incoming HTLC our outgoing one pays for.
#[derive(Debug, Clone)]
pub(crate) struct ForwardLink {
    pub(crate) in_channel: ChannelId,
    pub(crate) in_htlc: u64,
    pub(crate) shared_secret: SharedSecret,
    pub(crate) payment_hash: PaymentHash,
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Rebuilds the forwards in flight from the store's `offered` rows (at
    /// start, after the channels are loaded).
    pub(super) fn resume_forwards(&mut self, rows: Vec<Forward>) {
        for row in rows {
            let (Some(out_channel), Some(out_htlc)) = (row.out_channel, row.out_htlc_id) else {
                continue;
            };
            let Some(ss) = self.incoming_shared_secret(&row.in_channel, row.in_htlc_id) else {
                tracing::warn!(channel = %row.in_channel, htlc = row.in_htlc_id, "forwarded HTLC no longer in its channel");
                continue;
            };
            self.forwarded_in.insert((row.in_channel, row.in_htlc_id));
            self.forwards.insert(
                (out_channel, out_htlc),
                ForwardLink {
                    in_channel: row.in_channel,
                    in_htlc: row.in_htlc_id,
                    shared_secret: ss,
                    payment_hash: row.payment_hash,
                },
            );
        }
    }

    /// The shared secret of an incoming HTLC's onion, peeled again.
    fn incoming_shared_secret(&self, channel: &ChannelId, htlc: u64) -> Option<SharedSecret> {
        let est = self.channels.get(channel)?.chan.established()?;
        let h = est
            .ledger
            .htlcs()
            .find(|h| h.offerer == fulmen_script::Side::Remote && h.id == htlc)?;
        let onion = fulmen_onion::OnionPacket::from_array(h.onion.as_ref()?.as_bytes());
        peel_payment(
            &self.svc.node_secret,
            &onion,
            &h.payment_hash,
            h.path_key.as_ref(),
        )
        .ok()
        .map(|(p, _)| p.shared_secret)
    }

    /// Whether an incoming HTLC was already forwarded (a restart must not
    /// forward it twice).
    pub(super) fn is_forwarded(&self, channel: &ChannelId, htlc: u64) -> bool {
        self.forwarded_in.contains(&(*channel, htlc))
    }

    /// Checks and offers the outgoing HTLC; on refusal, the failure to send
    /// upstream.
    pub(super) fn forward(
        &mut self,
        tick: &mut Tick,
        in_channel: ChannelId,
        htlc: &IncomingHtlc,
        req: &ForwardRequest,
    ) -> Result<(), FailureMessage> {
        let policy = self.svc.config.forwarding;
        let Some(out_channel) = self.channel_by_scid(req.short_channel_id) else {
            return Err(FailureMessage::UnknownNextPeer);
        };
        let update = self.channel_update_bytes(&out_channel);
        let usable = self.channels.get(&out_channel).is_some_and(|s| {
            matches!(s.chan, Channel::Normal(_)) && self.peers.contains_key(&s.peer)
        }) && !self.stopped.contains(&out_channel);
        if !usable {
            return Err(FailureMessage::TemporaryChannelFailure {
                channel_update: update,
            });
        }
        if req.amt_to_forward < policy.htlc_minimum {
            return Err(FailureMessage::AmountBelowMinimum {
                htlc_msat: req.amt_to_forward.0,
                channel_update: update,
            });
        }
        let fee_ok = policy
            .fee_for(req.amt_to_forward)
            .and_then(|fee| req.amt_to_forward.checked_add(fee))
            .is_some_and(|needed| htlc.amount >= needed);
        if !fee_ok {
            return Err(FailureMessage::FeeInsufficient {
                htlc_msat: htlc.amount.0,
                channel_update: update,
            });
        }
        let cltv_needed = req
            .outgoing_cltv_value
            .checked_add(u32::from(policy.cltv_expiry_delta));
        if cltv_needed.is_none_or(|needed| htlc.cltv_expiry < needed) {
            return Err(FailureMessage::IncorrectCltvExpiry {
                cltv_expiry: htlc.cltv_expiry,
                channel_update: update,
            });
        }
        if req.outgoing_cltv_value < self.height.saturating_add(policy.min_outgoing_cltv_blocks) {
            return Err(FailureMessage::ExpiryTooSoon {
                channel_update: update,
            });
        }
        if req.outgoing_cltv_value > self.height.saturating_add(policy.max_outgoing_cltv_blocks) {
            return Err(FailureMessage::ExpiryTooFar);
        }
        let onion = req.onion.clone();
        let added = self.call(&out_channel, |c, ctx| {
            c.add_htlc(
                req.amt_to_forward,
                htlc.payment_hash,
                req.outgoing_cltv_value,
                onion,
                None,
                ctx,
            )
        });
        let (out_htlc, out) = match added {
            Some(Ok(added)) => added,
            Some(Err(e)) => {
                tracing::debug!(channel = %out_channel, error = %e, "outgoing channel refused the HTLC");
                return Err(FailureMessage::TemporaryChannelFailure {
                    channel_update: update,
                });
            }
            None => return Err(FailureMessage::UnknownNextPeer),
        };
        self.apply(tick, out_channel, out);
        let now = self.now;
        tick.batch.store.insert_forward(Forward {
            in_channel,
            in_htlc_id: htlc.id,
            out_channel: Some(out_channel),
            out_htlc_id: Some(out_htlc),
            payment_hash: htlc.payment_hash,
            in_amount: htlc.amount,
            out_amount: Some(req.amt_to_forward),
            status: ForwardStatus::Offered,
            failure_code: None,
            received_at: now,
            resolved_at: None,
        });
        tick.batch.point("forward_offered");
        self.forwarded_in.insert((in_channel, htlc.id));
        self.forwards.insert(
            (out_channel, out_htlc),
            ForwardLink {
                in_channel,
                in_htlc: htlc.id,
                shared_secret: req.shared_secret,
                payment_hash: htlc.payment_hash,
            },
        );
        tracing::info!(hash = %htlc.payment_hash, in_msat = htlc.amount.0, out_msat = req.amt_to_forward.0, "forwarding HTLC");
        self.emit_after(
            tick,
            NodeEvent::HtlcForwarded {
                payment_hash: htlc.payment_hash,
                in_channel,
                out_channel,
                in_amount: htlc.amount,
                out_amount: req.amt_to_forward,
                in_cltv_expiry: htlc.cltv_expiry,
                out_cltv_expiry: req.outgoing_cltv_value,
            },
        );
        Ok(())
    }

    /// Records a forward we refused.
    pub(super) fn record_local_failure(
        &mut self,
        tick: &mut Tick,
        in_channel: ChannelId,
        htlc: &IncomingHtlc,
        code: u16,
    ) {
        let now = self.now;
        tick.batch.store.insert_forward(Forward {
            in_channel,
            in_htlc_id: htlc.id,
            out_channel: None,
            out_htlc_id: None,
            payment_hash: htlc.payment_hash,
            in_amount: htlc.amount,
            out_amount: None,
            status: ForwardStatus::LocalFailed,
            failure_code: Some(code),
            received_at: now,
            resolved_at: Some(now),
        });
    }

    /// The channel a forward names: by its real short channel id or our
    /// alias for it.
    fn channel_by_scid(&self, scid: ShortChannelId) -> Option<ChannelId> {
        let mut found: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, s)| {
                s.chan
                    .established()
                    .is_some_and(|e| e.short_channel_id == Some(scid) || e.core.local_alias == scid)
            })
            .map(|(id, _)| *id)
            .collect();
        found.sort();
        found.into_iter().next()
    }

    /// Downstream fulfilled one of our HTLCs: if it was a forward, settle
    /// upstream with the preimage. `false` if it was no forward.
    pub(super) fn on_forward_fulfilled(
        &mut self,
        tick: &mut Tick,
        out_channel: ChannelId,
        out_htlc: u64,
        preimage: PaymentPreimage,
    ) -> bool {
        let Some(link) = self.forwards.remove(&(out_channel, out_htlc)) else {
            return false;
        };
        self.forwarded_in.remove(&(link.in_channel, link.in_htlc));
        let now = self.now;
        tick.batch.store.update_forward(
            link.in_channel,
            link.in_htlc,
            ForwardUpdate::Settled { resolved_at: now },
        );
        tick.batch.point("forward_settled");
        let in_htlc = link.in_htlc;
        let result = self.call(&link.in_channel, |c, _| c.fulfill_htlc(in_htlc, preimage));
        if !matches!(result, Some(Ok(_))) {
            // The incoming channel is closing (or gone): its HTLC is claimed on
            // chain with this preimage, kept durably for it.
            self.keep_onchain_preimage(tick, preimage);
        }
        self.apply_call(
            tick,
            link.in_channel,
            result,
            "settle the incoming HTLC of a forward",
        );
        self.emit_after(
            tick,
            NodeEvent::ForwardSettled {
                payment_hash: link.payment_hash,
                in_channel: link.in_channel,
                out_channel,
                preimage,
            },
        );
        true
    }

    /// Downstream irrevocably failed one of our HTLCs: if it was a forward,
    /// fail upstream with the failure wrapped. `false` if it was no forward.
    pub(super) fn on_forward_failed(
        &mut self,
        tick: &mut Tick,
        out_channel: ChannelId,
        out_htlc: u64,
        failure: &HtlcFailure,
    ) -> bool {
        let Some(link) = self.forwards.remove(&(out_channel, out_htlc)) else {
            return false;
        };
        self.forwarded_in.remove(&(link.in_channel, link.in_htlc));
        let ss = &link.shared_secret;
        let packet = match failure {
            HtlcFailure::Reason(reason) => {
                let mut packet = reason.clone();
                wrap_failure_packet(ss, &mut packet);
                packet
            }
            // BOLT 2: relay a malformed failure as an encrypted one with
            // its code and `sha256_of_onion`.
            HtlcFailure::Malformed {
                sha256_of_onion,
                failure_code,
            } => {
                let mut msg = failure_code.to_be_bytes().to_vec();
                msg.extend_from_slice(sha256_of_onion);
                create_failure_packet(ss, &msg, DEFAULT_PAD_TARGET).unwrap_or_default()
            }
            // Timed out on chain downstream: the failure is ours.
            HtlcFailure::OnChain => {
                super::receive::failure_packet(ss, &FailureMessage::PermanentChannelFailure)
            }
        };
        let now = self.now;
        tick.batch.store.update_forward(
            link.in_channel,
            link.in_htlc,
            ForwardUpdate::Failed { resolved_at: now },
        );
        tick.batch.point("forward_failed");
        let in_htlc = link.in_htlc;
        let result = self.call(&link.in_channel, |c, _| c.fail_htlc(in_htlc, packet));
        self.apply_call(
            tick,
            link.in_channel,
            result,
            "fail the incoming HTLC of a forward",
        );
        self.emit_after(
            tick,
            NodeEvent::ForwardFailed {
                payment_hash: link.payment_hash,
                in_channel: link.in_channel,
                out_channel,
            },
        );
        true
    }
}
