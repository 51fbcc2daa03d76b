//! Incoming HTLCs, once irrevocably committed: peel the onion, check what
//! BOLT 4 asks of a final node, and settle with the invoice's preimage (or
//! a keysend preimage), or fail.
//!
//! Checks, in order (each failure is `update_fail_htlc` with an encrypted
//! failure, or `update_fail_malformed_htlc` for a bad onion):
//!
//! | check | failure |
//! | --- | --- |
//! | the onion peels (version, key, HMAC) | `invalid_onion_*` (malformed) |
//! | the channel did not flag it over our dust exposure limit (BOLT 2) | `temporary_channel_failure` |
//! | the payload decodes and is a final-hop payload | `invalid_onion_payload` |
//! | we are the final hop (no forwarding yet) | `unknown_next_peer` |
//! | `amt_to_forward` ≤ the HTLC amount | `final_incorrect_htlc_amount` |
//! | `outgoing_cltv_value` ≤ the HTLC's `cltv_expiry` | `final_incorrect_cltv_expiry` |
//! | `cltv_expiry` ≥ height + our `min_final_cltv_expiry_delta` | `incorrect_or_unknown_payment_details` |
//! | keysend: the preimage hashes to the payment hash | `incorrect_or_unknown_payment_details` |
//! | an unexpired invoice for the hash | `incorrect_or_unknown_payment_details` |
//! | `payment_secret` present and equal to the invoice's | `incorrect_or_unknown_payment_details` |
//! | `total_msat` ≥ the invoice's amount, ≤ twice it; the HTLC amount ≤ `total_msat` | `incorrect_or_unknown_payment_details` |
//! | `total_msat` > the HTLC amount: a part, held until the parts reach `total_msat` ([`super::mpp`]) | `mpp_timeout` after 60 s |
//!
//! Persist before you reveal: the invoice is marked paid in the same
//! commit as the channel state holding the fulfill, and
//! `update_fulfill_htlc` leaves only after that commit.

use fulmen_channel::IncomingHtlc;
use fulmen_onion::failure::{create_failure_packet, DEFAULT_PAD_TARGET};
use fulmen_onion::{peel_payment, FailureMessage, HopAction, NextHop, SharedSecret};
use fulmen_store::{Invoice, InvoiceStatus, InvoiceUpdate};
use fulmen_types::{ChannelId, Msat, PaymentPreimage};

use super::manager::ChannelManager;
use super::{Broadcaster, Outbox, Persister, Tick};
use crate::events::NodeEvent;

/// What to do with an incoming HTLC.
enum Verdict {
    Fulfill {
        preimage: PaymentPreimage,
        /// The invoice to mark paid (none if already paid).
        settle: Option<Invoice>,
        keysend: bool,
    },
    Fail(SharedSecret, FailureMessage),
    Malformed([u8; 32], u16),
    /// Not for us: relay it (see [`super::forward`]).
    Forward(Box<super::forward::ForwardRequest>),
    /// One part of a multi-part payment: hold it until the set is
    /// complete (see [`super::mpp`]).
    Hold(Box<super::mpp::Part>),
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Re-examines incoming HTLCs committed but not yet resolved (after a
    /// restart, or when an earlier attempt could not be applied).
    pub fn resolve_pending_incoming(&mut self, tick: &mut Tick) {
        let mut pending = Vec::new();
        for (id, slot) in &self.channels {
            let Some(est) = slot.chan.established() else {
                continue;
            };
            for h in est.ledger.htlcs() {
                if h.offerer == fulmen_script::Side::Remote
                    && h.add_stage == fulmen_channel::ledger::Stage::Done
                    && h.removal.is_none()
                    && !self.is_forwarded(id, h.id)
                {
                    if let Some(onion) = h.onion.clone() {
                        pending.push((
                            *id,
                            IncomingHtlc {
                                id: h.id,
                                amount: h.amount,
                                payment_hash: h.payment_hash,
                                cltv_expiry: h.cltv_expiry,
                                onion,
                                path_key: h.path_key,
                            },
                        ));
                    }
                }
            }
        }
        for (id, htlc) in pending {
            self.on_htlc_added(tick, id, htlc);
        }
        self.drain_events(tick);
    }

    /// An incoming HTLC is irrevocably committed.
    pub(super) fn on_htlc_added(
        &mut self,
        tick: &mut Tick,
        channel: ChannelId,
        htlc: IncomingHtlc,
    ) {
        // BOLT 2: a received dust HTLC that takes the dust exposure over
        // our limit is failed once committed (the channel flags it).
        let over_dust = self
            .channels
            .get(&channel)
            .is_some_and(|s| s.chan.htlc_over_dust_exposure(htlc.id));
        let dust_update = over_dust.then(|| self.channel_update_bytes(&channel));
        let verdict = self.judge(&htlc, dust_update);
        let id = htlc.id;
        let result = match verdict {
            Verdict::Fulfill {
                preimage,
                settle,
                keysend,
            } => {
                if let Some(inv) = settle {
                    self.settle_invoice(tick, inv, htlc.amount, keysend);
                }
                self.call(&channel, |c, _| c.fulfill_htlc(id, preimage))
            }
            Verdict::Fail(ss, msg) => {
                tracing::debug!(%channel, htlc = id, code = %msg.code(), "failing incoming HTLC");
                let packet = failure_packet(&ss, &msg);
                self.call(&channel, |c, _| c.fail_htlc(id, packet))
            }
            Verdict::Malformed(sha, code) => {
                self.call(&channel, |c, _| c.fail_malformed_htlc(id, sha, code))
            }
            Verdict::Hold(part) => {
                self.hold_part(tick, channel, &htlc, *part);
                return;
            }
            Verdict::Forward(req) => match self.forward(tick, channel, &htlc, &req) {
                Ok(()) => return,
                Err(msg) => {
                    tracing::debug!(%channel, htlc = id, code = %msg.code(), "refusing to forward");
                    self.record_local_failure(tick, channel, &htlc, msg.code().0);
                    let packet = failure_packet(&req.shared_secret, &msg);
                    self.call(&channel, |c, _| c.fail_htlc(id, packet))
                }
            },
        };
        self.apply_call(tick, channel, result, "resolve an incoming HTLC");
    }

    pub(super) fn settle_invoice(
        &mut self,
        tick: &mut Tick,
        mut inv: Invoice,
        amount: Msat,
        keysend: bool,
    ) {
        let hash = inv.payment_hash;
        let paid = InvoiceUpdate::Paid {
            amount_received: amount,
            paid_at: self.now,
        };
        if keysend {
            tick.batch.store.insert_invoice(inv.clone());
        }
        tick.batch.store.update_invoice(hash, paid);
        tick.batch.point("invoice_paid");
        // Kept (as paid) until the commit, so that another HTLC for the
        // same hash in this tick is settled without a second record.
        inv.status = InvoiceStatus::Paid;
        self.invoices.insert(hash, inv);
        self.work.paid.push(hash);
        // A part may sit in a channel already on chain: claim it now.
        self.work.claim_now |= !self.onchain.is_empty();
        self.emit_after(
            tick,
            NodeEvent::PaymentReceived {
                payment_hash: hash,
                amount,
                keysend,
            },
        );
    }

    fn judge(&mut self, htlc: &IncomingHtlc, dust_update: Option<Vec<u8>>) -> Verdict {
        let onion = fulmen_onion::OnionPacket::from_array(htlc.onion.as_bytes());
        let (peeled, payload) = match peel_payment(
            &self.svc.node_secret,
            &onion,
            &htlc.payment_hash,
            htlc.path_key.as_ref(),
        ) {
            Ok(p) => p,
            Err(e) if e.is_malformed() => {
                return Verdict::Malformed(e.sha256_of_onion(), e.failure_message().code().0)
            }
            Err(e) => {
                let ss = match &e {
                    fulmen_onion::PeelError::InvalidPayload { shared_secret, .. } => *shared_secret,
                    _ => SharedSecret([0; 32]),
                };
                return Verdict::Fail(ss, e.failure_message());
            }
        };
        let ss = peeled.shared_secret;
        if let Some(channel_update) = dust_update {
            return Verdict::Fail(
                ss,
                FailureMessage::TemporaryChannelFailure { channel_update },
            );
        }
        let is_final = matches!(peeled.next, NextHop::Final);
        let action = match payload.classify(is_final, htlc.path_key.is_some()) {
            Ok(a) => a,
            Err(e) => return Verdict::Fail(ss, e.failure_message()),
        };
        let (amt_to_forward, outgoing_cltv, payment_data) = match action {
            HopAction::Receive {
                amt_to_forward,
                outgoing_cltv_value,
                payment_data,
            } => (amt_to_forward, outgoing_cltv_value, payment_data),
            HopAction::Forward {
                short_channel_id,
                amt_to_forward,
                outgoing_cltv_value,
            } => {
                let NextHop::Forward(next) = peeled.next else {
                    return Verdict::Fail(ss, FailureMessage::PermanentNodeFailure);
                };
                return Verdict::Forward(Box::new(super::forward::ForwardRequest {
                    shared_secret: ss,
                    short_channel_id,
                    amt_to_forward,
                    outgoing_cltv_value,
                    onion: fulmen_wire::OnionPacket(Box::new(next.to_bytes())),
                }));
            }
            HopAction::Blinded { .. } => {
                return Verdict::Fail(
                    ss,
                    FailureMessage::InvalidOnionBlinding {
                        sha256_of_onion: onion.sha256(),
                    },
                )
            }
            _ => return Verdict::Fail(ss, FailureMessage::PermanentNodeFailure),
        };
        let unknown = FailureMessage::IncorrectOrUnknownPaymentDetails {
            htlc_msat: htlc.amount.0,
            height: self.height,
        };
        if amt_to_forward > htlc.amount {
            return Verdict::Fail(
                ss,
                FailureMessage::FinalIncorrectHtlcAmount {
                    incoming_htlc_amt: htlc.amount.0,
                },
            );
        }
        if outgoing_cltv > htlc.cltv_expiry {
            return Verdict::Fail(
                ss,
                FailureMessage::FinalIncorrectCltvExpiry {
                    cltv_expiry: htlc.cltv_expiry,
                },
            );
        }
        let min_cltv = self
            .height
            .saturating_add(u32::from(self.svc.config.min_final_cltv_expiry_delta));
        if htlc.cltv_expiry < min_cltv {
            tracing::debug!(cltv_expiry = htlc.cltv_expiry, min_cltv, "expiry too soon");
            return refuse(ss, unknown, "expiry too soon");
        }
        if let Some(preimage) = payload.keysend_preimage {
            if preimage.payment_hash() != htlc.payment_hash {
                return refuse(ss, unknown, "keysend preimage does not match");
            }
            return self.keysend_verdict(htlc, preimage, ss, unknown);
        }
        let invoice = match self.invoices.get(&htlc.payment_hash) {
            Some(inv) => Some(inv.clone()),
            None => self
                .read(|s| s.invoice_by_hash(&htlc.payment_hash))
                .ok()
                .flatten(),
        };
        let Some(inv) = invoice else {
            return refuse(ss, unknown, "no invoice");
        };
        let Some(preimage) = inv.preimage else {
            return refuse(ss, unknown, "invoice without preimage");
        };
        let total = match (payment_data, inv.payment_secret) {
            (Some(pd), Some(ours)) if pd.payment_secret.ct_eq(&ours) => pd.total_msat,
            _ => return refuse(ss, unknown, "payment secret missing or wrong"),
        };
        let amount_ok = htlc.amount <= total
            && inv
                .amount
                .is_none_or(|a| total >= a && total.0 <= a.0.saturating_mul(2));
        if !amount_ok {
            return refuse(ss, unknown, "amount out of range");
        }
        match inv.status {
            InvoiceStatus::Unpaid if self.now <= inv.expires_at && total > htlc.amount => {
                Verdict::Hold(Box::new(super::mpp::Part {
                    shared_secret: ss,
                    total,
                    preimage,
                    invoice: inv,
                }))
            }
            InvoiceStatus::Unpaid if self.now <= inv.expires_at => Verdict::Fulfill {
                preimage,
                settle: Some(inv),
                keysend: false,
            },
            // Paid again with the same secret (or a late part of a
            // multi-part payment): the payer already holds the preimage;
            // take the money.
            InvoiceStatus::Paid => Verdict::Fulfill {
                preimage,
                settle: None,
                keysend: false,
            },
            _ => refuse(ss, unknown, "invoice expired or cancelled"),
        }
    }

    fn keysend_verdict(
        &mut self,
        htlc: &IncomingHtlc,
        preimage: PaymentPreimage,
        ss: SharedSecret,
        unknown: FailureMessage,
    ) -> Verdict {
        let known = match self.invoices.get(&htlc.payment_hash) {
            Some(inv) => Some(inv.clone()),
            None => self
                .read(|s| s.invoice_by_hash(&htlc.payment_hash))
                .ok()
                .flatten(),
        };
        if let Some(inv) = known {
            // The hash is already known: only a repeat of a keysend we
            // took is settled again (never an invoice paid another way).
            return if inv.bolt11.is_empty() {
                Verdict::Fulfill {
                    preimage,
                    settle: None,
                    keysend: true,
                }
            } else {
                Verdict::Fail(ss, unknown)
            };
        }
        let receipt = Invoice {
            payment_hash: htlc.payment_hash,
            label: format!("keysend-{}", htlc.payment_hash),
            bolt11: String::new(),
            preimage: Some(preimage),
            payment_secret: None,
            amount: None,
            status: InvoiceStatus::Unpaid,
            created_at: self.now,
            expires_at: self.now,
            paid_at: None,
            amount_received: None,
        };
        Verdict::Fulfill {
            preimage,
            settle: Some(receipt),
            keysend: true,
        }
    }
}

/// The encrypted failure packet of `msg` for the origin.
pub(super) fn failure_packet(ss: &SharedSecret, msg: &FailureMessage) -> Vec<u8> {
    msg.encode()
        .ok()
        .and_then(|m| create_failure_packet(ss, &m, DEFAULT_PAD_TARGET).ok())
        .unwrap_or_default()
}

/// Fails a final HTLC with `incorrect_or_unknown_payment_details` (the
/// payer learns nothing more), logging why.
fn refuse(ss: SharedSecret, unknown: FailureMessage, why: &'static str) -> Verdict {
    tracing::debug!(reason = why, "refusing a payment to us");
    Verdict::Fail(ss, unknown)
}
