//! Outgoing payments over a direct channel to the payee: a one-hop BOLT 4
//! onion (with `payment_data`, or the keysend preimage), one HTLC, and its
//! outcome.
//!
//! The payment record, its part (with the onion's shared secret, to
//! decrypt a failure) and the channel state holding the new HTLC are
//! committed together before `update_add_htlc` leaves. The preimage that
//! comes back is recorded with the channel state that received it.

use core::fmt;

use fulmen_channel::HtlcFailure;
use fulmen_onion::{FailureCode, FailureMessage, SharedSecret};
use fulmen_store::{PartStatus, PartUpdate, Payment, PaymentPart, PaymentStatus, PaymentUpdate};
use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage, PaymentSecret};
use tokio::sync::oneshot;

use super::manager::{after, ChannelManager};
use super::route::{Attempts, Blame, MAX_ATTEMPTS, PAYMENT_TIMEOUT_SECS};
use super::{Broadcaster, CmError, Outbox, Persister, Tick};
use crate::events::NodeEvent;

/// Blocks added to the payee's `min_final_cltv_expiry_delta` so that a
/// block found while the HTLC travels does not make it too short.
pub const CLTV_SAFETY_BLOCKS: u32 = 3;

/// What to pay.
#[derive(Clone, PartialEq, Eq)]
pub struct PayRequest {
    /// The payee.
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
    /// The invoice's route hints (paths to the payee over channels not in
    /// the graph).
    pub route_hints: Vec<Vec<fulmen_graph::router::RouteHint>>,
    /// The payee takes multi-part payments (its invoice sets `basic_mpp`):
    /// the amount may be split over several routes.
    pub mpp: bool,
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
    /// Attempts made (each a route tried).
    pub attempts: u32,
    /// The route of the attempt that succeeded (or the last one tried):
    /// the nodes after us, ending with the payee.
    pub route: Vec<NodeId>,
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
    /// The route (unknown for parts resumed after a restart).
    pub(crate) route: Option<super::route::SentRoute>,
    /// Routing fees of this part.
    pub(crate) fee: Msat,
}

/// Who waits for a payment's outcome.
pub(crate) type Waiter = oneshot::Sender<Result<PaymentOutcome, CmError>>;

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
        FailureCode::REQUIRED_CHANNEL_FEATURE_MISSING => "required_channel_feature_missing",
        FailureCode::UNKNOWN_NEXT_PEER => "unknown_next_peer",
        FailureCode::AMOUNT_BELOW_MINIMUM => "amount_below_minimum",
        FailureCode::FEE_INSUFFICIENT => "fee_insufficient",
        FailureCode::INCORRECT_CLTV_EXPIRY => "incorrect_cltv_expiry",
        FailureCode::EXPIRY_TOO_SOON => "expiry_too_soon",
        FailureCode::CHANNEL_DISABLED => "channel_disabled",
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
    /// Rebuilds the HTLCs in flight of stored payments (at start). Nobody
    /// waits for them and their routes are unknown: the first preimage
    /// completes the payment; once every part failed, it failed.
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
                    route: None,
                    fee: part.fee,
                },
            );
        }
    }

    /// `pay` / `keysend`; with `route`, exactly that route and no retry
    /// (`sendtoroute`).
    pub(super) fn pay(
        &mut self,
        tick: &mut Tick,
        req: PayRequest,
        route: Option<fulmen_graph::router::Route>,
        reply: Waiter,
    ) {
        match self.start_payment(tick, &req, route) {
            Ok(()) => {
                if let Some(state) = self.attempts.get_mut(&req.payment_hash) {
                    state.waiters.push(reply);
                }
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn start_payment(
        &mut self,
        tick: &mut Tick,
        req: &PayRequest,
        route: Option<fulmen_graph::router::Route>,
    ) -> Result<(), CmError> {
        let hash = req.payment_hash;
        if self.paying.contains(&hash) {
            return match route {
                Some(route) => self.add_part(tick, req, route),
                None => Err(CmError::PaymentInProgress),
            };
        }
        let existing = self.read(|s| s.payment_by_hash(&hash))?;
        let next_part = match &existing {
            Some(p) if p.status == PaymentStatus::Succeeded => return Err(CmError::AlreadyPaid),
            Some(p) if p.status == PaymentStatus::Pending => {
                return Err(CmError::PaymentInProgress)
            }
            Some(_) => self.read(|s| s.payment_parts(&hash))?.len() as u64,
            None => 0,
        };
        req.destination
            .to_pubkey()
            .map_err(|_| CmError::Invalid("the payee is not a valid public key"))?;
        let exclusions = fulmen_graph::router::Exclusions::default();
        let given = route.is_some();
        // A given route may carry a part of the amount (the payee then
        // waits for the rest, as with LND's `sendtoroute` and an MPP
        // record): only with a payment secret.
        let routes = match route {
            Some(r)
                if r.hops.last().map(|h| h.node_id) == Some(req.destination)
                    && (r.final_amount() == req.amount
                        || (r.final_amount() < req.amount && req.payment_secret.is_some())) =>
            {
                vec![r]
            }
            Some(_) => {
                return Err(CmError::Invalid(
                    "the route must end at the payee with the amount (or a part of it, with a payment secret)",
                ))
            }
            None => self.plan(req, req.amount, &exclusions)?,
        };
        let now = self.now;
        if existing.is_some() {
            tick.batch.store.update_payment(hash, PaymentUpdate::Retry);
        } else {
            tick.batch.store.insert_payment(Payment {
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
        self.paying.insert(hash);
        self.attempts.insert(
            hash,
            Attempts {
                req: req.clone(),
                exclusions,
                tries: 1,
                fixed_route: given,
                deadline: now.saturating_add(PAYMENT_TIMEOUT_SECS),
                waiters: Vec::new(),
                in_flight: 0,
                next_part,
                preimage: None,
                failure: None,
                route: Vec::new(),
            },
        );
        match self.offer_routes(tick, hash, routes) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.attempts.remove(&hash);
                self.paying.remove(&hash);
                tick.batch
                    .store
                    .update_payment(hash, PaymentUpdate::Failed { completed_at: now });
                Err(e)
            }
        }
    }

    /// One more part of a multi-part payment sent over given routes (as
    /// LND's `sendtoroute` shards or Core Lightning's `sendpay` with a
    /// `partid`): only while the payment, started with a given route, is
    /// in flight and undecided, for the same payee, total and secret, and
    /// for a part of the total.
    fn add_part(
        &mut self,
        tick: &mut Tick,
        req: &PayRequest,
        route: fulmen_graph::router::Route,
    ) -> Result<(), CmError> {
        let hash = req.payment_hash;
        let Some(state) = self.attempts.get(&hash) else {
            return Err(CmError::PaymentInProgress);
        };
        let same = state.req.destination == req.destination
            && state.req.amount == req.amount
            && state.req.payment_secret == req.payment_secret
            && req.payment_secret.is_some();
        let partial = route.hops.last().map(|h| h.node_id) == Some(req.destination)
            && route.final_amount() < req.amount;
        // Never more than the total in flight: a repeated call must not
        // overpay.
        let in_flight = self
            .outgoing
            .values()
            .filter(|o| o.payment_hash == hash)
            .try_fold(Msat(0), |sum, o| sum.checked_add(o.amount));
        let fits = in_flight
            .and_then(|f| f.checked_add(route.final_amount()))
            .is_some_and(|total| total <= req.amount);
        if !state.fixed_route
            || !same
            || !partial
            || !fits
            || self.now > state.deadline
            || state.preimage.is_some()
            || state.failure.is_some()
        {
            return Err(CmError::PaymentInProgress);
        }
        self.offer_routes(tick, hash, vec![route])
    }

    /// Offers one part per route; `Err` if none could be offered.
    fn offer_routes(
        &mut self,
        tick: &mut Tick,
        hash: PaymentHash,
        routes: Vec<fulmen_graph::router::Route>,
    ) -> Result<(), CmError> {
        let Some(req) = self.attempts.get(&hash).map(|a| a.req.clone()) else {
            return Err(CmError::Stopped);
        };
        let mut offered = 0usize;
        let mut last = CmError::NoRoute("no route".into());
        for route in routes {
            match self.offer_route(tick, &req, &route) {
                Ok(((channel, htlc_id), secrets, sent)) => {
                    let Some(state) = self.attempts.get_mut(&hash) else {
                        break;
                    };
                    let part_id = state.next_part;
                    state.next_part += 1;
                    state.in_flight += 1;
                    state.route = sent.hops.iter().map(|h| h.node_id).collect();
                    let amount = route.final_amount();
                    tick.batch.store.insert_payment_part(PaymentPart {
                        payment_hash: hash,
                        part_id,
                        status: PartStatus::InFlight,
                        amount,
                        fee: sent.total_fee(),
                        route: encode_route(&secrets),
                        first_hop_channel: Some(channel),
                        htlc_id: Some(htlc_id),
                        created_at: self.now,
                        resolved_at: None,
                        failure: None,
                    });
                    tick.batch.point("payment_created");
                    self.outgoing.insert(
                        (channel, htlc_id),
                        OutgoingHtlc {
                            payment_hash: hash,
                            part_id,
                            amount,
                            destination: Some(req.destination),
                            secrets,
                            fee: sent.total_fee(),
                            route: Some(sent),
                        },
                    );
                    offered += 1;
                }
                Err(e) => last = e,
            }
        }
        if offered == 0 {
            Err(last)
        } else {
            Ok(())
        }
    }

    /// The peer fulfilled our HTLC: the payment is complete (the first
    /// part's preimage completes it; later parts only close their record).
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
        let hash = out.payment_hash;
        let now = self.now;
        if let Some(route) = &out.route {
            self.learn_success(route);
        }
        tick.batch.store.update_payment_part(
            hash,
            out.part_id,
            PartUpdate::Succeeded { resolved_at: now },
        );
        let mut done = true;
        let mut attempts = 1;
        let mut waiters = Vec::new();
        let mut route = route_nodes(out.route.as_ref());
        let mut amount = out.amount;
        if let Some(state) = self.attempts.get_mut(&hash) {
            amount = state.req.amount;
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.preimage.is_some() {
                if state.in_flight == 0 {
                    self.attempts.remove(&hash);
                    self.paying.remove(&hash);
                }
                return;
            }
            state.preimage = Some(preimage);
            attempts = state.tries;
            waiters = core::mem::take(&mut state.waiters);
            route = state.route.clone();
            done = state.in_flight == 0;
        }
        // The fee of every part in flight: they all reach the payee, which
        // released the preimage only once it had the whole amount.
        let fee = self
            .outgoing
            .values()
            .filter(|o| o.payment_hash == hash)
            .fold(out.fee, |acc, o| acc.checked_add(o.fee).unwrap_or(acc));
        if done {
            self.attempts.remove(&hash);
            self.paying.remove(&hash);
        }
        tick.batch.store.update_payment(
            hash,
            PaymentUpdate::Succeeded {
                preimage,
                fee,
                completed_at: now,
            },
        );
        tick.batch.point("payment_succeeded");
        let outcome = PaymentOutcome {
            payment_hash: hash,
            status: PaymentStatusKind::Complete,
            preimage: Some(preimage),
            amount,
            fee,
            attempts,
            route,
            destination: out.destination,
            failure: None,
            failure_code: None,
        };
        tracing::debug!(%hash, fee_msat = fee.0, attempts, "payment complete");
        self.emit_after(
            tick,
            NodeEvent::PaymentSent {
                payment_hash: hash,
                amount: outcome.amount,
            },
        );
        answer(tick, waiters, outcome);
    }

    /// Our HTLC's failure is irrevocably committed: route its amount again,
    /// or, once nothing is left in flight, the payment failed.
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
        let hash = out.payment_hash;
        let decrypted = match &failure {
            HtlcFailure::Reason(reason) => {
                fulmen_onion::failure::decrypt_failure(&out.secrets, reason)
                    .ok()
                    .and_then(|d| {
                        FailureMessage::decode(&d.message)
                            .ok()
                            .map(|m| (d.hop_index, m))
                    })
            }
            // Only our direct peer answers with a malformed failure.
            HtlcFailure::Malformed { failure_code, .. } => Some((
                0,
                FailureMessage::Unknown {
                    code: FailureCode(*failure_code),
                    data: Vec::new(),
                },
            )),
            // Our first hop's channel closed and the HTLC came back on chain.
            HtlcFailure::OnChain => Some((0, FailureMessage::PermanentChannelFailure)),
        };
        let code = decrypted.as_ref().map(|(_, m)| m.code().0);
        let name = code.map_or("unreadable_failure", failure_name);
        let now = self.now;
        tick.batch.store.update_payment_part(
            hash,
            out.part_id,
            PartUpdate::Failed {
                failure: code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default(),
                resolved_at: now,
            },
        );
        tracing::info!(%hash, failure = name, hop = ?decrypted.as_ref().map(|d| d.0), "payment part failed");
        let blame = match (&out.route, &decrypted) {
            (Some(route), Some((index, msg))) => {
                self.learn_failure(route, *index);
                self.blame(route, *index, msg)
            }
            _ => Blame::Unknown,
        };
        if let Some(state) = self.attempts.get_mut(&hash) {
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.preimage.is_none() && state.failure.is_none() {
                if self.retry(tick, hash, out.amount, blame) {
                    return;
                }
                if let Some(state) = self.attempts.get_mut(&hash) {
                    state.failure = Some((name, code));
                }
            }
        }
        let in_flight = self.attempts.get(&hash).map_or_else(
            || {
                self.outgoing
                    .values()
                    .filter(|o| o.payment_hash == hash)
                    .count()
            },
            |a| a.in_flight,
        );
        if in_flight > 0 {
            return;
        }
        let state = self.attempts.remove(&hash);
        self.paying.remove(&hash);
        if state.as_ref().is_some_and(|s| s.preimage.is_some()) {
            return;
        }
        let (name, code) = state
            .as_ref()
            .and_then(|s| s.failure)
            .unwrap_or((name, code));
        tick.batch
            .store
            .update_payment(hash, PaymentUpdate::Failed { completed_at: now });
        tick.batch.point("payment_failed");
        tracing::info!(%hash, failure = name, "payment failed");
        let (attempts, route, amount, waiters) = match state {
            Some(s) => (s.tries, s.route, s.req.amount, s.waiters),
            None => (1, route_nodes(out.route.as_ref()), out.amount, Vec::new()),
        };
        let outcome = PaymentOutcome {
            payment_hash: hash,
            status: PaymentStatusKind::Failed,
            preimage: None,
            amount,
            fee: Msat(0),
            attempts,
            route,
            destination: out.destination,
            failure: Some(name.to_owned()),
            failure_code: code,
        };
        self.emit_after(
            tick,
            NodeEvent::PaymentFailed {
                payment_hash: hash,
                failure: name,
            },
        );
        answer(tick, waiters, outcome);
    }

    /// Routes `amount` of the payment again after a failure blamed on
    /// `blame`; `false` if there is nothing to try.
    fn retry(&mut self, tick: &mut Tick, hash: PaymentHash, amount: Msat, blame: Blame) -> bool {
        let Some(state) = self.attempts.get_mut(&hash) else {
            return false;
        };
        if state.fixed_route {
            return false;
        }
        match blame {
            Blame::Channel(from, scid) => state.exclusions.exclude_channel(scid, from),
            Blame::Node(node) => state.exclusions.exclude_node(node),
            Blame::Payee | Blame::Unknown => return false,
        }
        if state.tries >= MAX_ATTEMPTS || self.now > state.deadline {
            return false;
        }
        state.tries += 1;
        let req = state.req.clone();
        let exclusions = state.exclusions.clone();
        let routes = match self.plan(&req, amount, &exclusions) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(%hash, error = %e, "no further route");
                return false;
            }
        };
        self.offer_routes(tick, hash, routes).is_ok()
    }

    /// A commit failed: callers waiting on payments of `channels` hear it.
    pub(super) fn fail_payment_waiters(&mut self, channels: &[ChannelId]) {
        let hashes: Vec<PaymentHash> = self
            .outgoing
            .iter()
            .filter(|((c, _), _)| channels.contains(c))
            .map(|(_, o)| o.payment_hash)
            .collect();
        for hash in hashes {
            if let Some(state) = self.attempts.get_mut(&hash) {
                for reply in state.waiters.drain(..) {
                    let _ = reply.send(Err(CmError::Stopped));
                }
            }
        }
    }
}

/// The nodes of a route after us, ending with the payee.
fn route_nodes(route: Option<&super::route::SentRoute>) -> Vec<NodeId> {
    route.map_or_else(Vec::new, |r| r.hops.iter().map(|h| h.node_id).collect())
}

fn answer(tick: &mut Tick, waiters: Vec<Waiter>, outcome: PaymentOutcome) {
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
