//! Pathfinding: [`find_route`] and [`find_mpp_route`].
//!
//! # Amounts and CLTVs (BOLT 4 / BOLT 7)
//!
//! A forwarding node `N` forwarding `amount_out` over a channel charges the
//! fee of *its own* direction of that channel:
//! `fee_base_msat + amount_out * fee_proportional_millionths / 1_000_000`
//! (rounded down), and wants the incoming HTLC to expire
//! `cltv_expiry_delta` (of the same direction) blocks after the outgoing one.
//! The payee receives exactly [`RouteParams::amount`] with `cltv_expiry =
//! current_height + final_cltv_expiry_delta`. The sender charges itself
//! nothing on its first hop.
//!
//! Amounts are only exact when computed backward from the payee, so the
//! search is Dijkstra from the payee toward the source: each node's label is
//! the HTLC that must arrive at it, and relaxing a channel `M → N` adds
//! `M`'s fee and delta.
//!
//! # Cost
//!
//! A channel `M → N` carrying `amount_out` costs
//! `fee + risk + scorer penalty`, where
//! `risk = amount_out * cltv_expiry_delta * 15 / 1_000_000_000`
//! ([`RISK_PARTS_PER_BILLION_PER_BLOCK`]): locking funds for a block is
//! valued at 15 parts per billion (≈ 0.08 % a year), enough to prefer short
//! CLTVs between otherwise equal routes without outweighing fees. Ties are
//! broken by the node table order (deterministic for a given graph).
//!
//! # Constraints
//!
//! Every directed policy used must be enabled, have
//! `htlc_minimum ≤ amount ≤ htlc_maximum` for the amount it carries, and
//! `amount ≤ capacity`. Routes have at most [`MAX_ROUTE_HOPS`] channels, the
//! total CLTV (the forwarders' deltas plus the final delta) is at most
//! [`RouteParams::max_total_cltv_expiry_delta`], and the total fee at most
//! [`RouteParams::max_fee`]. Like every Dijkstra with such limits, a cheaper
//! path pruned by a limit can hide a dearer one that would have fitted. An
//! intermediate node whose `node_announcement` requires an unknown feature
//! is never used (BOLT 7).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt;

use fulmen_types::{Msat, NodeId, Sat, ShortChannelId, MAX_MONEY_SAT};

use crate::graph::{fee_for, NetworkGraph};
use crate::scorer::Scorer;

/// The most channels a route may have (BOLT 4: 1300 bytes of onion fit 20
/// typical hop payloads).
pub const MAX_ROUTE_HOPS: usize = 20;

/// The default [`RouteParams::max_total_cltv_expiry_delta`]: two weeks of
/// blocks.
pub const DEFAULT_MAX_TOTAL_CLTV_EXPIRY_DELTA: u32 = 2016;

/// The CLTV risk factor of the cost function, in parts per billion of the
/// amount per block of delta (see the module doc).
pub const RISK_PARTS_PER_BILLION_PER_BLOCK: u128 = 15;

/// The most parts [`find_mpp_route`] splits a payment into.
pub const MAX_MPP_PARTS: usize = 16;

/// One of our own channels, usable as the first hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstHop {
    /// The channel (real or alias short channel id).
    pub short_channel_id: ShortChannelId,
    /// The peer at the other end.
    pub peer: NodeId,
    /// What we can send over it now.
    pub outbound_msat: Msat,
    /// The peer's `htlc_minimum_msat`.
    pub htlc_minimum: Msat,
}

/// A channel from a BOLT 11 `r` field: from `src` to the next hint's `src`,
/// or to the payee for the last hint of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteHint {
    /// The forwarding node.
    pub src: NodeId,
    /// The channel it forwards over.
    pub short_channel_id: ShortChannelId,
    /// Its base fee.
    pub fee_base_msat: u32,
    /// Its proportional fee.
    pub fee_proportional_millionths: u32,
    /// Its CLTV delta.
    pub cltv_expiry_delta: u16,
    /// Its smallest HTLC, if known.
    pub htlc_minimum: Option<Msat>,
    /// Its largest HTLC, if known (also taken as the channel's capacity).
    pub htlc_maximum: Option<Msat>,
}

/// What to pay, and the limits of an acceptable route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteParams {
    /// The recipient.
    pub payee: NodeId,
    /// What the payee must receive.
    pub amount: Msat,
    /// The payee's `min_final_cltv_expiry_delta` (plus any shadow offset).
    pub final_cltv_expiry_delta: u32,
    /// The most the route's first HTLC may expire after the current height,
    /// the final delta included.
    pub max_total_cltv_expiry_delta: u32,
    /// The most fees the route may cost (all parts together for MPP).
    pub max_fee: Option<Msat>,
    /// BOLT 11 route hints: each inner list is a path ending at the payee.
    pub hints: Vec<Vec<RouteHint>>,
}

impl RouteParams {
    /// Parameters with the default CLTV limit, no fee limit and no hints.
    pub fn new(payee: NodeId, amount: Msat, final_cltv_expiry_delta: u32) -> Self {
        Self {
            payee,
            amount,
            final_cltv_expiry_delta,
            max_total_cltv_expiry_delta: DEFAULT_MAX_TOTAL_CLTV_EXPIRY_DELTA,
            max_fee: None,
            hints: Vec::new(),
        }
    }
}

/// One channel of a route and the HTLC it carries.
///
/// For onion construction (BOLT 4): the payload for the node at hop `i`
/// carries `amt_to_forward = hops[i + 1].amount` and `outgoing_cltv_value =
/// hops[i + 1].cltv_expiry` and `short_channel_id = hops[i + 1].short_channel_id`;
/// the payee's payload carries its own `amount` and `cltv_expiry`. The
/// first HTLC, sent by us, is `hops[0].amount` with expiry
/// `hops[0].cltv_expiry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteHop {
    /// The node this hop reaches.
    pub node_id: NodeId,
    /// The channel used to reach it.
    pub short_channel_id: ShortChannelId,
    /// The HTLC amount arriving at `node_id`.
    pub amount: Msat,
    /// The HTLC `cltv_expiry` arriving at `node_id`.
    pub cltv_expiry: u32,
    /// The fee `node_id` charges for forwarding to the next hop (0 for the
    /// payee).
    pub fee: Msat,
    /// The `cltv_expiry_delta` `node_id` applies when forwarding (0 for the
    /// payee).
    pub cltv_expiry_delta: u16,
}

/// A route from the source to the payee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The hops, first (our peer) to last (the payee). Never empty when
    /// returned by the router.
    pub hops: Vec<RouteHop>,
}

impl Route {
    /// What we send on the first hop.
    pub fn total_amount(&self) -> Msat {
        self.hops.first().map_or(Msat::ZERO, |h| h.amount)
    }

    /// What the payee receives.
    pub fn final_amount(&self) -> Msat {
        self.hops.last().map_or(Msat::ZERO, |h| h.amount)
    }

    /// The fees of all forwarders.
    pub fn total_fee(&self) -> Msat {
        self.total_amount().saturating_sub(self.final_amount())
    }

    /// The sum of the forwarders' CLTV deltas: how much later than the
    /// payee's HTLC the first HTLC expires. (The first HTLC's expiry minus
    /// the current height is this plus the final delta.)
    pub fn total_cltv_delta(&self) -> u32 {
        self.hops
            .iter()
            .map(|h| u32::from(h.cltv_expiry_delta))
            .sum()
    }
}

/// Directed channels and nodes the router must not use (a payment's retry
/// loop adds the ones that failed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions {
    channels: HashSet<(ShortChannelId, NodeId)>,
    nodes: HashSet<NodeId>,
}

impl Exclusions {
    /// Nothing excluded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Do not send over `scid` from `from`'s side.
    pub fn exclude_channel(&mut self, scid: ShortChannelId, from: NodeId) {
        self.channels.insert((scid, from));
    }

    /// Do not route through `node` (the source and payee cannot be excluded).
    pub fn exclude_node(&mut self, node: NodeId) {
        self.nodes.insert(node);
    }

    /// Whether `from`'s side of `scid` is excluded.
    pub fn is_channel_excluded(&self, scid: ShortChannelId, from: &NodeId) -> bool {
        self.channels.contains(&(scid, *from))
    }

    /// Whether `node` is excluded.
    pub fn is_node_excluded(&self, node: &NodeId) -> bool {
        self.nodes.contains(node)
    }
}

/// Why no route was found. When several limits pruned candidate paths, the
/// first in this order is reported: first-hop liquidity, fee, CLTV, hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// The payee is the source.
    PayeeIsSource,
    /// The amount is zero.
    ZeroAmount,
    /// The payee cannot be reached at all.
    NoRoute,
    /// Paths exist but none within [`MAX_ROUTE_HOPS`].
    TooManyHops,
    /// Paths exist but none within [`RouteParams::max_fee`].
    FeeTooHigh,
    /// Paths exist but none within the CLTV limit.
    CltvTooFar,
    /// Our channels cannot send the amount.
    InsufficientFirstHopLiquidity,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PayeeIsSource => "payee is the source",
            Self::ZeroAmount => "amount is zero",
            Self::NoRoute => "no route to the payee",
            Self::TooManyHops => "every route is too long",
            Self::FeeTooHigh => "every route costs more than the fee limit",
            Self::CltvTooFar => "every route exceeds the cltv limit",
            Self::InsufficientFirstHopLiquidity => "not enough outbound liquidity",
        })
    }
}

impl std::error::Error for RouteError {}

/// Liquidity already taken by earlier parts of a payment, per directed
/// channel (short channel id, sender).
type Used = HashMap<(ShortChannelId, NodeId), Msat>;

/// A channel into the node being expanded, from `from`.
#[derive(Debug, Clone, Copy)]
struct Edge {
    from: u32,
    scid: ShortChannelId,
    base: u32,
    ppm: u32,
    delta: u16,
    disabled: bool,
    htlc_min: Msat,
    htlc_max: Msat,
    /// The most the channel can carry before [`Used`] is taken off:
    /// capacity, hint maximum, or first-hop outbound balance.
    limit: Msat,
    /// Given to the scorer.
    capacity: Sat,
    first_hop: bool,
}

#[derive(Debug, Clone, Copy)]
struct Label {
    cost: u64,
    /// The HTLC that must arrive at this node.
    amount: Msat,
    /// Its expiry minus the current height.
    cltv: u32,
    hops: usize,
    /// Toward the payee: next node and the channel to it.
    next: Option<(u32, ShortChannelId)>,
    settled: bool,
    reached: bool,
}

const UNREACHED: Label = Label {
    cost: u64::MAX,
    amount: Msat::ZERO,
    cltv: 0,
    hops: 0,
    next: None,
    settled: false,
    reached: false,
};

/// Which limits pruned candidates, for the error when no route is found.
#[derive(Debug, Default)]
struct Pruned {
    first_hop: bool,
    fee: bool,
    cltv: bool,
    hops: bool,
}

struct Search<'a> {
    graph: &'a NetworkGraph,
    params: &'a RouteParams,
    scorer: &'a dyn Scorer,
    exclude: &'a Exclusions,
    used: &'a Used,
    first_hops: &'a [FirstHop],
    /// Local node numbering: graph slots first, then nodes known only from
    /// hints and first hops.
    extra: HashMap<NodeId, u32>,
    extra_ids: Vec<NodeId>,
    source: u32,
    payee: u32,
    hints_into: HashMap<u32, Vec<Edge>>,
    first_hops_into: HashMap<u32, Vec<Edge>>,
}

impl<'a> Search<'a> {
    fn new(
        graph: &'a NetworkGraph,
        source: &NodeId,
        first_hops: &'a [FirstHop],
        params: &'a RouteParams,
        scorer: &'a dyn Scorer,
        exclude: &'a Exclusions,
        used: &'a Used,
    ) -> Self {
        let mut s = Self {
            graph,
            params,
            scorer,
            exclude,
            used,
            first_hops,
            extra: HashMap::new(),
            extra_ids: Vec::new(),
            source: 0,
            payee: 0,
            hints_into: HashMap::new(),
            first_hops_into: HashMap::new(),
        };
        s.source = s.local(source);
        s.payee = s.local(&params.payee);
        for path in &params.hints {
            for (i, h) in path.iter().enumerate() {
                let to = path.get(i + 1).map_or(params.payee, |n| n.src);
                let to = s.local(&to);
                let from = s.local(&h.src);
                let max = h.htlc_maximum.unwrap_or(Msat::MAX);
                let capacity = h
                    .htlc_maximum
                    .map_or(Sat(MAX_MONEY_SAT), |m| Sat(m.0.div_ceil(1000)));
                s.hints_into.entry(to).or_default().push(Edge {
                    from,
                    scid: h.short_channel_id,
                    base: h.fee_base_msat,
                    ppm: h.fee_proportional_millionths,
                    delta: h.cltv_expiry_delta,
                    disabled: false,
                    htlc_min: h.htlc_minimum.unwrap_or(Msat::ZERO),
                    htlc_max: max,
                    limit: max,
                    capacity,
                    first_hop: false,
                });
            }
        }
        for fh in first_hops {
            let to = s.local(&fh.peer);
            let source = s.source;
            s.first_hops_into.entry(to).or_default().push(Edge {
                from: source,
                scid: fh.short_channel_id,
                base: 0,
                ppm: 0,
                delta: 0,
                disabled: false,
                htlc_min: fh.htlc_minimum,
                htlc_max: Msat::MAX,
                limit: fh.outbound_msat,
                capacity: fh.outbound_msat.to_sat_floor(),
                first_hop: true,
            });
        }
        s
    }

    fn graph_slots(&self) -> u32 {
        u32::try_from(self.graph.node_slots()).unwrap_or(u32::MAX)
    }

    fn local(&mut self, id: &NodeId) -> u32 {
        if let Some(i) = self.graph.node_slot(id) {
            return i;
        }
        if let Some(i) = self.extra.get(id) {
            return *i;
        }
        let n = u32::try_from(self.extra_ids.len()).unwrap_or(u32::MAX);
        let i = self.graph_slots().saturating_add(n);
        self.extra.insert(*id, i);
        self.extra_ids.push(*id);
        i
    }

    fn id(&self, i: u32) -> Option<NodeId> {
        match i.checked_sub(self.graph_slots()) {
            Some(e) => self.extra_ids.get(e as usize).copied(),
            None => self.graph.node_entry(i).map(|n| n.id),
        }
    }

    /// The channels into `n` usable by the search.
    fn incoming(&self, n: u32, out: &mut Vec<Edge>) {
        out.clear();
        if let Some(node) = self.graph.node_entry(n) {
            for c in node
                .channels
                .iter()
                .filter_map(|c| self.graph.channel_entry(*c))
            {
                let [n1, n2] = c.nodes;
                let (from, dir) = if n1 == n { (n2, 1) } else { (n1, 0) };
                let cap_msat = c.capacity.checked_to_msat().unwrap_or(Msat::MAX);
                let policy = c.dirs.get(dir).copied().flatten();
                let edge = match policy {
                    _ if from == self.source && !self.first_hops.is_empty() => continue,
                    Some(p) => Edge {
                        from,
                        scid: c.scid,
                        base: p.fee_base_msat,
                        ppm: p.fee_proportional_millionths,
                        delta: p.cltv_expiry_delta,
                        disabled: p.disabled,
                        htlc_min: p.htlc_minimum,
                        htlc_max: p.htlc_maximum,
                        limit: cap_msat,
                        capacity: c.capacity,
                        first_hop: false,
                    },
                    // Our own channel without our own update: we charge
                    // ourselves nothing, so only the capacity matters.
                    None if from == self.source => Edge {
                        from,
                        scid: c.scid,
                        base: 0,
                        ppm: 0,
                        delta: 0,
                        disabled: false,
                        htlc_min: Msat::ZERO,
                        htlc_max: cap_msat,
                        limit: cap_msat,
                        capacity: c.capacity,
                        first_hop: false,
                    },
                    None => continue,
                };
                out.push(edge);
            }
        }
        if let Some(h) = self.hints_into.get(&n) {
            let from_source_ok = self.first_hops.is_empty();
            out.extend(h.iter().filter(|e| e.from != self.source || from_source_ok));
        }
        if let Some(f) = self.first_hops_into.get(&n) {
            out.extend(f.iter().copied());
        }
    }

    fn run(&self, current_height: u32) -> Result<Route, RouteError> {
        let params = self.params;
        let total = self.graph_slots() as usize + self.extra_ids.len();
        let mut labels = vec![UNREACHED; total];
        let mut pruned = Pruned::default();
        if params.final_cltv_expiry_delta > params.max_total_cltv_expiry_delta {
            return Err(RouteError::CltvTooFar);
        }
        let payee = labels
            .get_mut(self.payee as usize)
            .ok_or(RouteError::NoRoute)?;
        *payee = Label {
            cost: 0,
            amount: params.amount,
            cltv: params.final_cltv_expiry_delta,
            hops: 0,
            next: None,
            settled: false,
            reached: true,
        };
        let mut heap = BinaryHeap::new();
        heap.push(Reverse((0u64, self.payee)));
        let mut edges = Vec::new();
        while let Some(Reverse((cost, n))) = heap.pop() {
            let Some(ln) = labels.get_mut(n as usize) else {
                continue;
            };
            if ln.settled || ln.cost != cost {
                continue;
            }
            ln.settled = true;
            let ln = *ln;
            if n == self.source {
                return self.build(&labels, current_height);
            }
            let Some(n_id) = self.id(n) else { continue };
            self.incoming(n, &mut edges);
            for e in &edges {
                if let Some(l) = self.relax(e, &ln, &n_id, &mut pruned) {
                    if let Some(lm) = labels.get_mut(e.from as usize) {
                        if !lm.settled && l.cost < lm.cost {
                            *lm = Label {
                                next: Some((n, e.scid)),
                                ..l
                            };
                            heap.push(Reverse((l.cost, e.from)));
                        }
                    }
                }
            }
        }
        Err(if pruned.first_hop {
            RouteError::InsufficientFirstHopLiquidity
        } else if pruned.fee {
            RouteError::FeeTooHigh
        } else if pruned.cltv {
            RouteError::CltvTooFar
        } else if pruned.hops {
            RouteError::TooManyHops
        } else {
            RouteError::NoRoute
        })
    }

    /// The label `e.from` gets by forwarding over `e` to a node labelled
    /// `ln`, or `None` if `e` cannot be used.
    fn relax(&self, e: &Edge, ln: &Label, n_id: &NodeId, pruned: &mut Pruned) -> Option<Label> {
        let params = self.params;
        let m_is_source = e.from == self.source;
        let m_id = self.id(e.from)?;
        if !m_is_source {
            if e.from == self.payee || self.exclude.is_node_excluded(&m_id) {
                return None;
            }
            if self
                .graph
                .node_entry(e.from)
                .is_some_and(|n| n.requires_unknown)
            {
                return None;
            }
        }
        if e.disabled || self.exclude.is_channel_excluded(e.scid, &m_id) {
            return None;
        }
        let amount = ln.amount;
        if amount < e.htlc_min || amount > e.htlc_max {
            return None;
        }
        let used = self
            .used
            .get(&(e.scid, m_id))
            .copied()
            .unwrap_or(Msat::ZERO);
        if amount > e.limit.saturating_sub(used) {
            pruned.first_hop |= e.first_hop;
            return None;
        }
        let (fee, delta) = if m_is_source {
            (Msat::ZERO, 0)
        } else {
            (fee_for(e.base, e.ppm, amount)?, e.delta)
        };
        let amount_in = amount.checked_add(fee)?;
        let cltv_in = ln.cltv.checked_add(u32::from(delta))?;
        let hops = ln.hops + 1;
        if hops > MAX_ROUTE_HOPS {
            pruned.hops = true;
            return None;
        }
        if cltv_in > params.max_total_cltv_expiry_delta {
            pruned.cltv = true;
            return None;
        }
        if let Some(max_fee) = params.max_fee {
            if amount_in.saturating_sub(params.amount) > max_fee {
                pruned.fee = true;
                return None;
            }
        }
        let penalty = if e.first_hop {
            0
        } else {
            self.scorer
                .penalty_msat(e.scid, &m_id, n_id, amount, e.capacity)?
        };
        let risk = u128::from(amount.0) * u128::from(delta) * RISK_PARTS_PER_BILLION_PER_BLOCK
            / 1_000_000_000;
        let cost = ln
            .cost
            .saturating_add(fee.0)
            .saturating_add(u64::try_from(risk).unwrap_or(u64::MAX))
            .saturating_add(penalty);
        Some(Label {
            cost,
            amount: amount_in,
            cltv: cltv_in,
            hops,
            next: None,
            settled: false,
            reached: true,
        })
    }

    fn build(&self, labels: &[Label], current_height: u32) -> Result<Route, RouteError> {
        let mut hops: Vec<RouteHop> = Vec::new();
        let mut cur = labels
            .get(self.source as usize)
            .ok_or(RouteError::NoRoute)?;
        while let Some((next, scid)) = cur.next {
            if hops.len() >= MAX_ROUTE_HOPS {
                return Err(RouteError::TooManyHops);
            }
            let l = labels.get(next as usize).ok_or(RouteError::NoRoute)?;
            if !l.reached {
                return Err(RouteError::NoRoute);
            }
            hops.push(RouteHop {
                node_id: self.id(next).ok_or(RouteError::NoRoute)?,
                short_channel_id: scid,
                amount: l.amount,
                cltv_expiry: current_height
                    .checked_add(l.cltv)
                    .ok_or(RouteError::CltvTooFar)?,
                fee: Msat::ZERO,
                cltv_expiry_delta: 0,
            });
            cur = l;
        }
        // Each forwarder's fee and delta are the differences with the next
        // hop; the payee's are zero.
        let following: Vec<Option<(Msat, u32)>> = hops
            .iter()
            .skip(1)
            .map(|h| Some((h.amount, h.cltv_expiry)))
            .chain([None])
            .collect();
        for (h, next) in hops.iter_mut().zip(following) {
            if let Some((next_amount, next_cltv)) = next {
                h.fee = h.amount.saturating_sub(next_amount);
                h.cltv_expiry_delta =
                    u16::try_from(h.cltv_expiry.saturating_sub(next_cltv)).unwrap_or(u16::MAX);
            }
        }
        if hops.last().map(|h| h.node_id) != Some(self.params.payee) {
            return Err(RouteError::NoRoute);
        }
        Ok(Route { hops })
    }
}

fn check_params(source: &NodeId, params: &RouteParams) -> Result<(), RouteError> {
    if *source == params.payee {
        return Err(RouteError::PayeeIsSource);
    }
    if params.amount == Msat::ZERO {
        return Err(RouteError::ZeroAmount);
    }
    Ok(())
}

/// Finds the cheapest single route (by fees, CLTV risk and the scorer's
/// penalties) from `source` to `params.payee` meeting every constraint of
/// the [module documentation](self).
///
/// If `first_hops` is non-empty, our channels are used only through it
/// (balances and our private channels included) and the source's channels
/// in the graph are ignored; if it is empty, the source's graph channels are
/// used with their capacity as the only limit (and their policy's HTLC
/// limits and `disable` bit if we have announced one). Route hints whose
/// `src` is the source are treated like our graph channels.
pub fn find_route(
    graph: &NetworkGraph,
    source: &NodeId,
    first_hops: &[FirstHop],
    params: &RouteParams,
    scorer: &dyn Scorer,
    current_height: u32,
    exclude: &Exclusions,
) -> Result<Route, RouteError> {
    check_params(source, params)?;
    Search::new(
        graph,
        source,
        first_hops,
        params,
        scorer,
        exclude,
        &Used::new(),
    )
    .run(current_height)
}

/// Like [`find_route`], but when no single route can carry the amount,
/// splits it: repeatedly routes the largest part that fits (the remainder,
/// halved until a route is found, never below 1/16 of the amount), taking
/// each part's amounts off the liquidity left for the next parts (per
/// directed channel: capacity, hint maximum or first-hop balance). At most
/// [`MAX_MPP_PARTS`] parts; `max_fee` bounds the parts' fees together. The
/// parts' final amounts sum to `params.amount`; the caller sets `total_msat`
/// and checks the payee supports `basic_mpp`.
pub fn find_mpp_route(
    graph: &NetworkGraph,
    source: &NodeId,
    first_hops: &[FirstHop],
    params: &RouteParams,
    scorer: &dyn Scorer,
    current_height: u32,
    exclude: &Exclusions,
) -> Result<Vec<Route>, RouteError> {
    check_params(source, params)?;
    let mut used = Used::new();
    match Search::new(graph, source, first_hops, params, scorer, exclude, &used).run(current_height)
    {
        Ok(r) => return Ok(vec![r]),
        Err(RouteError::NoRoute | RouteError::InsufficientFirstHopLiquidity) => {}
        Err(e) => return Err(e),
    }
    if !first_hops.is_empty() {
        let outbound = first_hops
            .iter()
            .fold(Msat::ZERO, |a, f| a.saturating_add(f.outbound_msat));
        if outbound < params.amount {
            return Err(RouteError::InsufficientFirstHopLiquidity);
        }
    }
    let min_part = Msat(params.amount.0.div_ceil(MAX_MPP_PARTS as u64));
    let mut remaining = params.amount;
    let mut fees = Msat::ZERO;
    let mut routes = Vec::new();
    while remaining > Msat::ZERO {
        if routes.len() >= MAX_MPP_PARTS {
            return Err(RouteError::NoRoute);
        }
        let mut part = remaining;
        let route = loop {
            let part_params = RouteParams {
                amount: part,
                max_fee: params.max_fee.map(|m| m.saturating_sub(fees)),
                ..params.clone()
            };
            match Search::new(
                graph,
                source,
                first_hops,
                &part_params,
                scorer,
                exclude,
                &used,
            )
            .run(current_height)
            {
                Ok(r) => break r,
                Err(e) if part <= min_part => return Err(e),
                Err(_) => part = Msat(part.0.div_ceil(2)).max(min_part),
            }
        };
        let mut from = *source;
        for h in &route.hops {
            let u = used.entry((h.short_channel_id, from)).or_insert(Msat::ZERO);
            *u = u.saturating_add(h.amount);
            from = h.node_id;
        }
        fees = fees.saturating_add(route.total_fee());
        remaining = remaining.saturating_sub(part);
        routes.push(route);
    }
    Ok(routes)
}
