//! Sending over routes: the first hops we offer (our channels), a route
//! from the network graph ([`fulmen_graph::router`]), the onion for it, and
//! what a failure teaches before the next attempt.
//!
//! A payment whose payee takes multi-part payments is split over several
//! routes when no single one has the liquidity (each part's onion carries
//! the whole `total_msat`). A payment is tried until it succeeds, the payee itself refuses it, no
//! route is left, [`MAX_ATTEMPTS`] attempts were made or
//! [`PAYMENT_TIMEOUT_SECS`] passed. After each failure the failing channel
//! (or node, for a node failure) is excluded from the next attempt, the
//! `channel_update` the failure carries goes to the graph, and the
//! scorer learns that the amount did not pass. One payment hash has one
//! outcome: attempts are parts of one payment record, never new payments.

use std::collections::HashMap;

use bitcoin::secp256k1::PublicKey;
use fulmen_channel::Channel;
use fulmen_graph::router::{
    find_mpp_route, find_route, Exclusions, FirstHop, Route, RouteHint, RouteParams,
};
use fulmen_onion::{build_payment_onion, FailureMessage, HopPayload, PaymentData, SharedSecret};
use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, ShortChannelId};
use fulmen_wire::{ChannelUpdate, OnionPacket, WireMessage};

use super::manager::ChannelManager;
use super::payments::{PayRequest, CLTV_SAFETY_BLOCKS};
use super::{Broadcaster, CmError, Outbox, Persister, Tick};
use crate::entropy::secret_key;
use crate::gossip::GossipInput;

/// Most attempts per payment.
pub const MAX_ATTEMPTS: u32 = 12;
/// Seconds after which no new attempt is started.
pub const PAYMENT_TIMEOUT_SECS: u64 = 60;
/// The longest CLTV budget a route may use (BOLT 7 recommendation).
pub const MAX_TOTAL_CLTV_EXPIRY_DELTA: u32 = 2016;

/// What a payment in progress remembers between attempts.
#[derive(Debug)]
pub(crate) struct Attempts {
    pub(crate) req: PayRequest,
    pub(crate) exclusions: Exclusions,
    /// Routes planned so far (the first included).
    pub(crate) tries: u32,
    /// The caller gave the route: no retry.
    pub(crate) fixed_route: bool,
    pub(crate) deadline: u64,
    /// Who waits for the outcome.
    pub(crate) waiters: Vec<super::payments::Waiter>,
    /// Parts offered and not yet resolved.
    pub(crate) in_flight: usize,
    /// The next part id of the payment record.
    pub(crate) next_part: u64,
    /// Set by the first part fulfilled.
    pub(crate) preimage: Option<fulmen_types::PaymentPreimage>,
    /// Set when we stopped trying (the failure reported at the end).
    pub(crate) failure: Option<(&'static str, Option<u16>)>,
    /// The nodes of the last route offered.
    pub(crate) route: Vec<NodeId>,
}

/// One attempt's route, as the router gave it (hops with their amounts,
/// expiries and fees).
pub(crate) type SentRoute = Route;

/// An attempt offered: the first hop's (channel, HTLC id), the onion's
/// shared secrets and the route.
pub(crate) type Attempt = ((ChannelId, u64), Vec<SharedSecret>, SentRoute);

/// Where a decrypted failure points, for the next attempt.
pub(crate) enum Blame {
    /// The payee refused: final.
    Payee,
    /// Avoid this directed channel (from, scid).
    Channel(NodeId, ShortChannelId),
    /// Avoid this node.
    Node(NodeId),
    /// Nothing usable (unreadable failure): do not retry.
    Unknown,
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Our usable channels, as the router's first hops.
    fn first_hops(&self) -> Vec<FirstHop> {
        let mut hops: Vec<FirstHop> = self
            .channels
            .iter()
            .filter(|(id, s)| {
                matches!(s.chan, Channel::Normal(_))
                    && self.peers.contains_key(&s.peer)
                    && !self.stopped.contains(id)
            })
            .filter_map(|(_, s)| {
                let est = s.chan.established()?;
                let scid = est.short_channel_id.unwrap_or(est.core.local_alias);
                // What the channel itself will check an add against: our
                // balance in the peer's next commitment and in ours once
                // everything in flight is committed.
                let next = est
                    .ledger
                    .spec(
                        fulmen_script::Side::Remote,
                        fulmen_channel::ledger::View::Next,
                    )
                    .ok()?
                    .balance(fulmen_script::Side::Local);
                let projected = est
                    .ledger
                    .spec(
                        fulmen_script::Side::Local,
                        fulmen_channel::ledger::View::Projected,
                    )
                    .ok()?
                    .balance(fulmen_script::Side::Local);
                let local = next.min(projected);
                let reserve = Msat(
                    est.core
                        .reserve_of(fulmen_script::Side::Local)
                        .0
                        .saturating_mul(1000),
                );
                Some(FirstHop {
                    short_channel_id: scid,
                    peer: s.peer,
                    outbound_msat: local.checked_sub(reserve).unwrap_or(Msat(0)),
                    htlc_minimum: est.core.remote_params.htlc_minimum,
                })
            })
            .collect();
        hops.sort_by_key(|h| h.short_channel_id);
        hops
    }

    /// Routes for `amount` of `req` avoiding `exclusions`: one, or several
    /// parts when the payee takes multi-part payments and no single route
    /// has the liquidity.
    pub(super) fn plan(
        &mut self,
        req: &PayRequest,
        amount: Msat,
        exclusions: &Exclusions,
    ) -> Result<Vec<Route>, CmError> {
        self.scorer.set_now(self.now);
        let params = RouteParams {
            payee: req.destination,
            amount,
            final_cltv_expiry_delta: req
                .min_final_cltv_expiry_delta
                .saturating_add(CLTV_SAFETY_BLOCKS),
            max_total_cltv_expiry_delta: MAX_TOTAL_CLTV_EXPIRY_DELTA,
            max_fee: None,
            hints: req.route_hints.clone(),
        };
        let first_hops = self.first_hops();
        if first_hops.is_empty() {
            return Err(CmError::NoRoute("no usable channel".into()));
        }
        let graph = self
            .svc
            .gossip
            .graph()
            .read()
            .map_err(|_| CmError::NoRoute("graph unavailable".into()))?;
        let us = self.our_node_id();
        let routes = if req.mpp {
            find_mpp_route(
                &graph,
                &us,
                &first_hops,
                &params,
                &self.scorer,
                self.height,
                exclusions,
            )
        } else {
            find_route(
                &graph,
                &us,
                &first_hops,
                &params,
                &self.scorer,
                self.height,
                exclusions,
            )
            .map(|r| vec![r])
        };
        routes.map_err(|e| CmError::NoRoute(e.to_string()))
    }

    /// Builds the onion of `route` and offers its first HTLC. Returns the
    /// first hop's (channel, HTLC id), the onion's shared secrets and the
    /// route.
    pub(super) fn offer_route(
        &mut self,
        tick: &mut Tick,
        req: &PayRequest,
        route: &Route,
    ) -> Result<Attempt, CmError> {
        let (onion, secrets) = self.route_onion(req, route)?;
        let first = route
            .hops
            .first()
            .ok_or_else(|| CmError::NoRoute("empty route".into()))?;
        let channel = self
            .channels
            .iter()
            .find(|(_, s)| {
                s.peer == first.node_id
                    && s.chan.established().is_some_and(|e| {
                        e.short_channel_id.unwrap_or(e.core.local_alias) == first.short_channel_id
                    })
            })
            .map(|(id, _)| *id)
            .ok_or(CmError::NoChannelToPayee)?;
        let (amount, cltv) = (first.amount, first.cltv_expiry);
        let hash = req.payment_hash;
        let added = self.call(&channel, |c, ctx| {
            c.add_htlc(amount, hash, cltv, onion, None, ctx)
        });
        let htlc = match added {
            Some(Ok((htlc, out))) => {
                self.apply(tick, channel, out);
                htlc
            }
            Some(Err(e)) => return Err(CmError::Channel(e.to_string())),
            None => return Err(CmError::UnknownChannel),
        };
        tracing::debug!(%hash, hops = route.hops.len(), amount_msat = route.final_amount().0, fee_msat = route.total_fee().0, "payment part offered");
        Ok(((channel, htlc), secrets, route.clone()))
    }

    /// The onion of a route: each forwarding hop is told the next channel,
    /// amount and expiry; the payee gets the payment data.
    fn route_onion(
        &self,
        req: &PayRequest,
        route: &Route,
    ) -> Result<(OnionPacket, Vec<SharedSecret>), CmError> {
        let mut hops: Vec<(PublicKey, HopPayload)> = Vec::with_capacity(route.hops.len());
        for (i, hop) in route.hops.iter().enumerate() {
            let key = hop
                .node_id
                .to_pubkey()
                .map_err(|_| CmError::Invalid("a route node is not a valid public key"))?;
            let payload = match route.hops.get(i + 1) {
                Some(next) => HopPayload {
                    amt_to_forward: Some(next.amount),
                    outgoing_cltv_value: Some(next.cltv_expiry),
                    short_channel_id: Some(next.short_channel_id),
                    ..HopPayload::default()
                },
                None => HopPayload {
                    amt_to_forward: Some(hop.amount),
                    outgoing_cltv_value: Some(hop.cltv_expiry),
                    payment_data: req.payment_secret.map(|payment_secret| PaymentData {
                        payment_secret,
                        total_msat: req.amount,
                    }),
                    keysend_preimage: req.keysend_preimage,
                    ..HopPayload::default()
                },
            };
            hops.push((key, payload));
        }
        let session = secret_key(self.svc.entropy.as_ref()).map_err(|_| CmError::Entropy)?;
        let built = build_payment_onion(&session, &hops, &req.payment_hash)
            .map_err(|_| CmError::Invalid("cannot build the onion"))?;
        Ok((
            OnionPacket(Box::new(built.packet.to_bytes())),
            built.shared_secrets,
        ))
    }

    /// What a failure from hop `index` of `route` says about where to go
    /// next; a `channel_update` it carries goes to the graph.
    pub(super) fn blame(&self, route: &SentRoute, index: usize, msg: &FailureMessage) -> Blame {
        let code = msg.code();
        let last = route.hops.len().saturating_sub(1);
        let Some(node) = route.hops.get(index).map(|h| h.node_id) else {
            return Blame::Unknown;
        };
        if let Some(update) = carried_update(msg) {
            self.svc.gossip.send(GossipInput::FailureUpdate(update));
        }
        if index == last {
            return Blame::Payee;
        }
        if code.0 & fulmen_onion::FailureCode::NODE != 0 {
            return Blame::Node(node);
        }
        match route.hops.get(index + 1) {
            Some(next) => Blame::Channel(node, next.short_channel_id),
            None => Blame::Unknown,
        }
    }
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// The scorer learns that every channel of the route carried its hop's
    /// amount.
    pub(super) fn learn_success(&mut self, route: &SentRoute) {
        let us = self.our_node_id();
        self.scorer.path_succeeded(&us, route, self.now);
    }

    /// The scorer learns that the channels before the one leaving hop
    /// `index` carried their amounts and that one did not. (A failure at
    /// the payee says nothing about liquidity.)
    pub(super) fn learn_failure(&mut self, route: &SentRoute, index: usize) {
        if let Some(next) = route.hops.get(index + 1) {
            let us = self.our_node_id();
            self.scorer
                .path_failed(&us, route, next.short_channel_id, self.now);
        }
    }
}

/// The `channel_update` a failure carries (type-prefixed or not).
fn carried_update(msg: &FailureMessage) -> Option<ChannelUpdate> {
    let bytes = match msg {
        FailureMessage::TemporaryChannelFailure { channel_update }
        | FailureMessage::AmountBelowMinimum { channel_update, .. }
        | FailureMessage::FeeInsufficient { channel_update, .. }
        | FailureMessage::IncorrectCltvExpiry { channel_update, .. }
        | FailureMessage::ExpiryTooSoon { channel_update }
        | FailureMessage::ChannelDisabled { channel_update, .. } => channel_update,
        _ => return None,
    };
    let body = match bytes.get(..2) {
        Some([0x01, 0x02]) => bytes.get(2..)?,
        _ => bytes.as_slice(),
    };
    ChannelUpdate::decode_payload(body).ok()
}

/// Payment attempts in progress, by hash.
pub(crate) type AttemptMap = HashMap<PaymentHash, Attempts>;

/// Route hints of an invoice, as the router takes them.
pub fn hints_from_invoice(invoice: &fulmen_onion::Invoice) -> Vec<Vec<RouteHint>> {
    invoice
        .route_hints()
        .into_iter()
        .map(|path| {
            path.into_iter()
                .map(|h| RouteHint {
                    src: h.node_id,
                    short_channel_id: h.short_channel_id,
                    fee_base_msat: h.fee_base_msat,
                    fee_proportional_millionths: h.fee_proportional_millionths,
                    cltv_expiry_delta: h.cltv_expiry_delta,
                    htlc_minimum: None,
                    htlc_maximum: None,
                })
                .collect()
        })
        .collect()
}
