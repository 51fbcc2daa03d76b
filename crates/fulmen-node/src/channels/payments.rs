//! Outgoing payments over a direct channel to the payee: a one-hop BOLT 4
//! onion (with `payment_data`, or the keysend preimage), one HTLC, and its
//! outcome.
//!
//! The payment record, its part (with the onion's shared secret, to
//! decrypt a failure) and the channel state holding the new HTLC are
//! committed together before `update_add_htlc` leaves. The preimage that
//! comes back is recorded with the channel state that received it.

use core::fmt;

use bitcoin::secp256k1::PublicKey;
use fulmen_channel::HtlcFailure;
use fulmen_onion::{
    build_payment_onion, FailureCode, FailureMessage, HopPayload, PaymentData, SharedSecret,
};
use fulmen_store::{PartStatus, PartUpdate, Payment, PaymentPart, PaymentStatus, PaymentUpdate};
use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage, PaymentSecret};
use fulmen_wire::OnionPacket;
use tokio::sync::oneshot;

use super::manager::{after, ChannelManager};
use super::{Broadcaster, CmError, Outbox, Persister, Tick};
use crate::entropy::secret_key;
use crate::events::NodeEvent;

/// Blocks added to the payee's `min_final_cltv_expiry_delta` so that a
/// block found while the HTLC travels does not make it too short.
pub const CLTV_SAFETY_BLOCKS: u32 = 3;

/// What to pay.
#[derive(Clone, PartialEq, Eq)]
pub struct PayRequest {
    /// The payee (a direct peer).
    pub destination: NodeId,
    /// What the payee receives.
    pub amount: Msat,
    /// The hash the HTLC is locked to.
    pub payment_hash: PaymentHash,
    /// The invoice's `payment_secret` (`payment_data`).
    pub payment_secret: Option<PaymentSecret>,
    /// For keysend: the preimage, carried in TLV 5482373484.
    pub keysend_preimage: Option<PaymentPreimage>,
    /// The payee's `min_final_cltv_expiry_delta`.
    pub min_final_cltv_expiry_delta: u32,
    /// The invoice paid, if any.
    pub bolt11: Option<String>,
}

impl fmt::Debug for PayRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayRequest")
            .field("destination", &self.destination)
            .field("amount", &self.amount)
            .field("payment_hash", &self.payment_hash)
            .field("keysend", &self.keysend_preimage.is_some())
            .finish_non_exhaustive()
    }
}

/// How a payment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatusKind {
    /// The preimage came back.
    Complete,
    /// The payee or the channel failed it.
    Failed,
}

impl PaymentStatusKind {
    /// `complete` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Failed => "failed",
        }
    }
}

/// The outcome `pay` answers. `Debug` hides the preimage.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentOutcome {
    /// The payment hash.
    pub payment_hash: PaymentHash,
    /// Complete or failed.
    pub status: PaymentStatusKind,
    /// The proof of payment, once complete.
    pub preimage: Option<PaymentPreimage>,
    /// What the payee received (or was to receive).
    pub amount: Msat,
    /// Routing fees paid (zero over a direct channel).
    pub fee: Msat,
    /// The payee.
    pub destination: Option<NodeId>,
    /// Why it failed: the BOLT 4 failure name.
    pub failure: Option<String>,
    /// The BOLT 4 failure code.
    pub failure_code: Option<u16>,
}

impl fmt::Debug for PaymentOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentOutcome")
            .field("payment_hash", &self.payment_hash)
            .field("status", &self.status)
            .field("amount", &self.amount)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

/// An HTLC of ours that belongs to a payment.
pub(crate) struct OutgoingHtlc {
    pub(crate) payment_hash: PaymentHash,
    pub(crate) part_id: u64,
    pub(crate) amount: Msat,
    pub(crate) destination: Option<NodeId>,
    pub(crate) secrets: Vec<SharedSecret>,
    pub(crate) waiters: Vec<oneshot::Sender<Result<PaymentOutcome, CmError>>>,
}

/// The part's `route` record: a version byte and the hops' shared secrets.
fn encode_route(secrets: &[SharedSecret]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 32 * secrets.len());
    out.push(1);
    for s in secrets {
        out.extend_from_slice(&s.0);
    }
    out
}

fn decode_route(bytes: &[u8]) -> Vec<SharedSecret> {
    match bytes.split_first() {
        Some((1, rest)) => rest
            .chunks_exact(32)
            .filter_map(|c| <[u8; 32]>::try_from(c).ok().map(SharedSecret))
            .collect(),
        _ => Vec::new(),
    }
}

/// The BOLT 4 name of a failure code.
pub fn failure_name(code: u16) -> &'static str {
    match FailureCode(code) {
        FailureCode::INVALID_REALM => "invalid_realm",
        FailureCode::TEMPORARY_NODE_FAILURE => "temporary_node_failure",
        FailureCode::PERMANENT_NODE_FAILURE => "permanent_node_failure",
        FailureCode::REQUIRED_NODE_FEATURE_MISSING => "required_node_feature_missing",
        FailureCode::INVALID_ONION_VERSION => "invalid_onion_version",
        FailureCode::INVALID_ONION_HMAC => "invalid_onion_hmac",
        FailureCode::INVALID_ONION_KEY => "invalid_onion_key",
        FailureCode::TEMPORARY_CHANNEL_FAILURE => "temporary_channel_failure",
        FailureCode::PERMANENT_CHANNEL_FAILURE => "permanent_channel_failure",
        FailureCode::UNKNOWN_NEXT_PEER => "unknown_next_peer",
        FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS => "incorrect_or_unknown_payment_details",
        FailureCode::FINAL_INCORRECT_CLTV_EXPIRY => "final_incorrect_cltv_expiry",
        FailureCode::FINAL_INCORRECT_HTLC_AMOUNT => "final_incorrect_htlc_amount",
        FailureCode::EXPIRY_TOO_FAR => "expiry_too_far",
        FailureCode::INVALID_ONION_PAYLOAD => "invalid_onion_payload",
        FailureCode::MPP_TIMEOUT => "mpp_timeout",
        FailureCode::INVALID_ONION_BLINDING => "invalid_onion_blinding",
        _ => "unknown_failure",
    }
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Rebuilds the HTLCs in flight of stored payments (at start).
    pub(super) fn resume_payments(&mut self, parts: Vec<PaymentPart>) {
        for part in parts {
            let (Some(channel), Some(htlc)) = (part.first_hop_channel, part.htlc_id) else {
                continue;
            };
            self.paying.insert(part.payment_hash);
            self.outgoing.insert(
                (channel, htlc),
                OutgoingHtlc {
                    payment_hash: part.payment_hash,
                    part_id: part.part_id,
                    amount: part.amount,
                    destination: None,
                    secrets: decode_route(&part.route),
                    waiters: Vec::new(),
                },
            );
        }
    }

    /// `pay` / `keysend`.
    pub(super) fn pay(
        &mut self,
        tick: &mut Tick,
        req: PayRequest,
        reply: oneshot::Sender<Result<PaymentOutcome, CmError>>,
    ) {
        match self.start_payment(tick, &req) {
            Ok(Some(key)) => {
                if let Some(htlc) = self.outgoing.get_mut(&key) {
                    htlc.waiters.push(reply);
                }
            }
            Ok(None) => {}
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn start_payment(
        &mut self,
        tick: &mut Tick,
        req: &PayRequest,
    ) -> Result<Option<(ChannelId, u64)>, CmError> {
        let hash = req.payment_hash;
        if self.paying.contains(&hash) {
            return Err(CmError::PaymentInProgress);
        }
        let existing = self.read(|s| s.payment_by_hash(&hash))?;
        let part_id = match &existing {
            Some(p) if p.status == PaymentStatus::Succeeded => return Err(CmError::AlreadyPaid),
            Some(p) if p.status == PaymentStatus::Pending => {
                return Err(CmError::PaymentInProgress)
            }
            Some(_) => self.read(|s| s.payment_parts(&hash))?.len() as u64,
            None => 0,
        };
        let payee = req
            .destination
            .to_pubkey()
            .map_err(|_| CmError::Invalid("the payee is not a valid public key"))?;
        let cltv = self
            .height
            .saturating_add(req.min_final_cltv_expiry_delta)
            .saturating_add(CLTV_SAFETY_BLOCKS);
        let (onion, secrets) = self.payment_onion(req, payee, cltv)?;
        let (channel, htlc_id) = self.offer(tick, req, cltv, onion)?;
        let now = self.now;
        let batch = &mut tick.batch;
        if existing.is_some() {
            batch.store.update_payment(hash, PaymentUpdate::Retry);
        } else {
            batch.store.insert_payment(Payment {
                payment_hash: hash,
                destination: Some(req.destination),
                amount: req.amount,
                bolt11: req.bolt11.clone(),
                label: None,
                status: PaymentStatus::Pending,
                preimage: None,
                fee: None,
                created_at: now,
                completed_at: None,
            });
        }
        batch.store.insert_payment_part(PaymentPart {
            payment_hash: hash,
            part_id,
            status: PartStatus::InFlight,
            amount: req.amount,
            fee: Msat(0),
            route: encode_route(&secrets),
            first_hop_channel: Some(channel),
            htlc_id: Some(htlc_id),
            created_at: now,
            resolved_at: None,
            failure: None,
        });
        batch.point("payment_created");
        self.paying.insert(hash);
        self.outgoing.insert(
            (channel, htlc_id),
            OutgoingHtlc {
                payment_hash: hash,
                part_id,
                amount: req.amount,
                destination: Some(req.destination),
                secrets,
                waiters: Vec::new(),
            },
        );
        Ok(Some((channel, htlc_id)))
    }

    fn payment_onion(
        &self,
        req: &PayRequest,
        payee: PublicKey,
        cltv: u32,
    ) -> Result<(OnionPacket, Vec<SharedSecret>), CmError> {
        let payload = HopPayload {
            amt_to_forward: Some(req.amount),
            outgoing_cltv_value: Some(cltv),
            payment_data: req.payment_secret.map(|payment_secret| PaymentData {
                payment_secret,
                total_msat: req.amount,
            }),
            keysend_preimage: req.keysend_preimage,
            ..HopPayload::default()
        };
        let session = secret_key(self.svc.entropy.as_ref()).map_err(|_| CmError::Entropy)?;
        let built = build_payment_onion(&session, &[(payee, payload)], &req.payment_hash)
            .map_err(|_| CmError::Invalid("cannot build the onion"))?;
        let packet = OnionPacket(Box::new(built.packet.to_bytes()));
        Ok((packet, built.shared_secrets))
    }

    /// Offers the HTLC on the usable channel with the payee that has the
    /// most to send.
    fn offer(
        &mut self,
        tick: &mut Tick,
        req: &PayRequest,
        cltv: u32,
        onion: OnionPacket,
    ) -> Result<(ChannelId, u64), CmError> {
        let mut candidates: Vec<(fulmen_types::Msat, ChannelId)> = self
            .channels
            .iter()
            .filter(|(id, s)| {
                s.peer == req.destination
                    && matches!(s.chan, fulmen_channel::Channel::Normal(_))
                    && !self.stopped.contains(id)
            })
            .map(|(id, s)| (s.chan.balances().map_or(Msat(0), |b| b.0), *id))
            .collect();
        if candidates.is_empty() {
            return Err(CmError::NoChannelToPayee);
        }
        candidates.sort();
        let mut last = CmError::NoChannelToPayee;
        for (_, id) in candidates.into_iter().rev() {
            let onion = onion.clone();
            let added = self.call(&id, |c, ctx| {
                c.add_htlc(req.amount, req.payment_hash, cltv, onion, None, ctx)
            });
            match added {
                Some(Ok((htlc_id, out))) => {
                    self.apply(tick, id, out);
                    return Ok((id, htlc_id));
                }
                Some(Err(e)) => last = CmError::Channel(e.to_string()),
                None => {}
            }
        }
        Err(last)
    }

    /// The peer fulfilled our HTLC: the payment is complete.
    pub(super) fn on_htlc_fulfilled(
        &mut self,
        tick: &mut Tick,
        channel: ChannelId,
        htlc: u64,
        preimage: PaymentPreimage,
    ) {
        let Some(out) = self.outgoing.remove(&(channel, htlc)) else {
            tracing::debug!(%channel, htlc, "fulfilled HTLC belongs to no payment");
            return;
        };
        self.paying.remove(&out.payment_hash);
        let now = self.now;
        let batch = &mut tick.batch;
        batch.store.update_payment_part(
            out.payment_hash,
            out.part_id,
            PartUpdate::Succeeded { resolved_at: now },
        );
        batch.store.update_payment(
            out.payment_hash,
            PaymentUpdate::Succeeded {
                preimage,
                fee: Msat(0),
                completed_at: now,
            },
        );
        batch.point("payment_succeeded");
        let outcome = PaymentOutcome {
            payment_hash: out.payment_hash,
            status: PaymentStatusKind::Complete,
            preimage: Some(preimage),
            amount: out.amount,
            fee: Msat(0),
            destination: out.destination,
            failure: None,
            failure_code: None,
        };
        tracing::debug!(hash = %out.payment_hash, "payment complete");
        self.emit_after(
            tick,
            NodeEvent::PaymentSent {
                payment_hash: out.payment_hash,
                amount: out.amount,
            },
        );
        answer(tick, out.waiters, outcome);
    }

    /// Our HTLC's failure is irrevocably committed: the payment failed.
    pub(super) fn on_htlc_failed(
        &mut self,
        tick: &mut Tick,
        channel: ChannelId,
        htlc: u64,
        failure: HtlcFailure,
    ) {
        let Some(out) = self.outgoing.remove(&(channel, htlc)) else {
            tracing::debug!(%channel, htlc, "failed HTLC belongs to no payment");
            return;
        };
        self.paying.remove(&out.payment_hash);
        let code = match &failure {
            HtlcFailure::Reason(reason) => {
                fulmen_onion::failure::decrypt_failure(&out.secrets, reason)
                    .ok()
                    .and_then(|d| FailureMessage::decode(&d.message).ok())
                    .map(|m| m.code().0)
            }
            HtlcFailure::Malformed { failure_code, .. } => Some(*failure_code),
        };
        let name = code.map_or("unreadable_failure", failure_name);
        let now = self.now;
        let batch = &mut tick.batch;
        batch.store.update_payment_part(
            out.payment_hash,
            out.part_id,
            PartUpdate::Failed {
                failure: code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default(),
                resolved_at: now,
            },
        );
        batch.store.update_payment(
            out.payment_hash,
            PaymentUpdate::Failed { completed_at: now },
        );
        batch.point("payment_failed");
        tracing::info!(hash = %out.payment_hash, failure = name, "payment failed");
        let outcome = PaymentOutcome {
            payment_hash: out.payment_hash,
            status: PaymentStatusKind::Failed,
            preimage: None,
            amount: out.amount,
            fee: Msat(0),
            destination: out.destination,
            failure: Some(name.to_owned()),
            failure_code: code,
        };
        self.emit_after(
            tick,
            NodeEvent::PaymentFailed {
                payment_hash: out.payment_hash,
                failure: name,
            },
        );
        answer(tick, out.waiters, outcome);
    }

    /// A commit failed: callers waiting on payments of `channels` hear it.
    pub(super) fn fail_payment_waiters(&mut self, channels: &[ChannelId]) {
        for ((channel, _), htlc) in self.outgoing.iter_mut() {
            if channels.contains(channel) {
                for reply in htlc.waiters.drain(..) {
                    let _ = reply.send(Err(CmError::Stopped));
                }
            }
        }
    }
}

fn answer(
    tick: &mut Tick,
    waiters: Vec<oneshot::Sender<Result<PaymentOutcome, CmError>>>,
    outcome: PaymentOutcome,
) {
    if waiters.is_empty() {
        return;
    }
    after(tick, move |ok| {
        for w in waiters {
            let _ = w.send(if ok {
                Ok(outcome.clone())
            } else {
                Err(CmError::Stopped)
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip_and_failure_names() {
        let secrets = vec![SharedSecret([1; 32]), SharedSecret([2; 32])];
        let decoded = decode_route(&encode_route(&secrets));
        assert_eq!(decoded, secrets);
        assert!(decode_route(&[]).is_empty());
        assert!(decode_route(&[9, 1, 2]).is_empty());
        assert_eq!(
            failure_name(FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS.0),
            "incorrect_or_unknown_payment_details"
        );
        assert_eq!(failure_name(0xffff), "unknown_failure");
    }
}
