//! BOLT 7 gossip validation, the network graph and pathfinding. No I/O.
//!
//! A sans-IO protocol crate: no clock (time is a `now: u64` of unix seconds
//! passed in), no socket, no disk, no randomness.
//!
//! | module | what |
//! |---|---|
//! | [`sign`] | the digests `channel_announcement`, `node_announcement` and `channel_update` signatures cover; signing |
//! | [`validate`] | stateless checks (chain, node id order, features, signatures) and the P2WSH funding script to match on chain |
//! | [`error`] | [`GossipError`] and the reaction to each |
//! | [`graph`] | [`NetworkGraph`]: channels, nodes, policies and what tells duplicates from conflicts (no signed message), staleness pruning, trusted insertion |
//! | [`stored`] | loading the graph back from the encoded messages a node stored, without re-checking signatures |
//! | [`router`] | [`find_route`] and [`find_mpp_route`]: Dijkstra backwards from the payee with exact BOLT 4/7 fee and CLTV arithmetic |
//! | [`scorer`] | the [`Scorer`] trait, [`ProbabilisticScorer`] (learned liquidity bounds with decay) and [`NoPenalty`] |
//! | `testing` | (feature `test-utils`) builders of signed gossip and small graphs |
//! | `synthetic` | (feature `test-utils`) a seeded mainnet-sized graph generator, for benchmarks |
//!
//! # Driving it
//!
//! Gossip from peers goes to [`NetworkGraph::add_channel`] (after the caller
//! has checked the funding output on chain), [`NetworkGraph::apply_channel_update`]
//! and [`NetworkGraph::apply_node_announcement`]; an
//! [`UpdateOutcome::Applied`] result is to be relayed, a [`GossipError`] is
//! dropped and its [`GossipError::reaction`] applied to the peer. Payments
//! call [`find_route`] (or [`find_mpp_route`]) with the node's own channels
//! as [`FirstHop`]s and feed results back to the [`ProbabilisticScorer`].

#![forbid(unsafe_code)]

pub mod error;
pub mod graph;
pub mod router;
pub mod scorer;
pub mod sign;
pub mod stored;
#[cfg(feature = "test-utils")]
pub mod synthetic;
#[cfg(any(test, feature = "test-utils"))]
pub mod testing;
pub mod validate;

pub use error::{GossipError, SignatureKind};
pub use graph::{
    funding_keys_hash, message_fingerprint, ChannelView, DirectedPolicy, NetworkGraph, NodeView,
    UpdateOutcome,
};
pub use router::{
    find_mpp_route, find_route, Exclusions, FirstHop, Route, RouteError, RouteHint, RouteHop,
    RouteParams,
};
pub use scorer::{NoPenalty, ProbabilisticScorer, Scorer, ScorerParams};
