//! Fulmen's router and LDK's (`lightning` 0.2, through ldk-node) on the
//! same synthetic mainnet-sized graph (`fulmen_graph::synthetic`, seed 42:
//! 15,000 nodes, 60,000 channels, the same policies), for the same 200
//! random pairs and 50,000 sat as `fulmen-graph`'s `route` bench:
//! single-path routes (LDK limited to one path, 2,016 blocks of total
//! CLTV as Fulmen), each router with its own probabilistic scorer fresh
//! (nothing learnt). Prints p50/p90 of each, how many pairs each found a
//! route for, and the ratio of the medians.
//!
//! LDK's graph is filled with its unsigned-message entry points (partial
//! announcements with the capacity, unsigned updates): no signature or
//! UTXO check on either side. LDK refuses updates older than two weeks by
//! the wall clock, so the update timestamps are moved to the present (the
//! same ages). Under `cargo test` (no `--bench`) the graph is 1/20 of the
//! size.
//!
//! `cargo bench -p fulmen-interop --bench router_vs_ldk`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::PublicKey;
use bitcoin::Network;
use fulmen_graph::synthetic::{SyntheticGraph, SyntheticParams};
use fulmen_graph::{find_route, Exclusions, ProbabilisticScorer, RouteParams, ScorerParams};
use fulmen_types::Msat;
use ldk_node::lightning::routing::gossip::{NetworkGraph, NodeId as LdkNodeId};
use ldk_node::lightning::routing::router::{self, PaymentParameters, RouteParameters};
use ldk_node::lightning::routing::scoring::{
    ProbabilisticScorer as LdkScorer, ProbabilisticScoringDecayParameters,
    ProbabilisticScoringFeeParameters,
};
use ldk_node::lightning::types::features::ChannelFeatures;
use ldk_node::lightning::util::logger::{Logger, Record};

const HEIGHT: u32 = 800_000;
const SAT: u64 = 50_000;
const FINAL_CLTV: u32 = 40;

struct Quiet;

impl Logger for Quiet {
    fn log(&self, _: Record) {}
}

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn params() -> SyntheticParams {
    if full() {
        SyntheticParams::mainnet(42)
    } else {
        SyntheticParams::scaled(42, 750, 3000)
    }
}

/// LDK's graph of `s`.
fn ldk_graph(s: &SyntheticGraph) -> NetworkGraph<&'static Quiet> {
    static LOG: Quiet = Quiet;
    let graph = NetworkGraph::new(Network::Bitcoin, &LOG);
    let chain = ChainHash::using_genesis_block(Network::Bitcoin);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let shift = wall.saturating_sub(s.params.now);
    for c in &s.channels {
        let n1 = LdkNodeId::from_slice(&s.node_ids[c.node_1 as usize].0).unwrap();
        let n2 = LdkNodeId::from_slice(&s.node_ids[c.node_2 as usize].0).unwrap();
        graph
            .add_channel_from_partial_announcement(
                c.short_channel_id.0,
                Some(c.capacity.0),
                wall,
                ChannelFeatures::empty(),
                n1,
                n2,
            )
            .unwrap();
        for (dir, p) in c.policies.iter().enumerate() {
            let Some(p) = p else { continue };
            let update = ldk_node::lightning::ln::msgs::UnsignedChannelUpdate {
                chain_hash: chain,
                short_channel_id: c.short_channel_id.0,
                timestamp: u32::try_from(u64::from(p.timestamp) + shift).unwrap(),
                message_flags: 1,
                channel_flags: dir as u8 | if p.disabled { 2 } else { 0 },
                cltv_expiry_delta: p.cltv_expiry_delta,
                htlc_minimum_msat: p.htlc_minimum.0,
                htlc_maximum_msat: p.htlc_maximum.0,
                fee_base_msat: p.fee_base_msat,
                fee_proportional_millionths: p.fee_proportional_millionths,
                excess_data: Vec::new(),
            };
            graph.update_channel_unsigned(&update).unwrap();
        }
    }
    graph
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn main() {
    let synthetic = SyntheticGraph::generate(params());
    let ours = synthetic.build_graph();
    let theirs = ldk_graph(&synthetic);
    let ldk_scorer = LdkScorer::new(
        ProbabilisticScoringDecayParameters::default(),
        &theirs,
        &Quiet,
    );
    let ldk_fees = ProbabilisticScoringFeeParameters::default();
    let scorer = ProbabilisticScorer::new(ScorerParams::default());
    let route_pairs = synthetic.random_pairs(200, 1);

    // Each router over all the pairs in turn (interleaving them would let
    // one evict the other's graph from the caches).
    let (mut fulmen_t, mut ldk_t) = (Vec::new(), Vec::new());
    let (mut fulmen_ok, mut ldk_ok) = (0, 0);
    for (a, b) in &route_pairs {
        let p = RouteParams::new(*b, Msat(SAT * 1000), FINAL_CLTV);
        let t = Instant::now();
        if find_route(&ours, a, &[], &p, &scorer, HEIGHT, &Exclusions::new()).is_ok() {
            fulmen_ok += 1;
        }
        fulmen_t.push(t.elapsed());
    }
    for (a, b) in &route_pairs {
        let from = PublicKey::from_slice(&a.0).unwrap();
        let to = PublicKey::from_slice(&b.0).unwrap();
        let payment = PaymentParameters::from_node_id(to, FINAL_CLTV)
            .with_max_path_count(1)
            .with_max_total_cltv_expiry_delta(2016);
        let rp = RouteParameters::from_payment_params_and_value(payment, SAT * 1000);
        let t = Instant::now();
        let found = router::find_route(
            &from,
            &rp,
            &theirs,
            None,
            &Quiet,
            &ldk_scorer,
            &ldk_fees,
            &[7; 32],
        );
        ldk_t.push(t.elapsed());
        if found.is_ok() {
            ldk_ok += 1;
        }
    }
    fulmen_t.sort();
    ldk_t.sort();
    let (f50, l50) = (pct(&fulmen_t, 50), pct(&ldk_t, 50));
    println!(
        "single-path route, {SAT} sat, {} pairs on {} nodes / {} channels:\n  \
         fulmen: p50 {f50:.2} ms, p90 {:.2} ms, {fulmen_ok} routes found\n  \
         ldk:    p50 {l50:.2} ms, p90 {:.2} ms, {ldk_ok} routes found\n  \
         ratio of medians (LDK / Fulmen): {:.2}",
        route_pairs.len(),
        synthetic.node_ids.len(),
        synthetic.channels.len(),
        pct(&fulmen_t, 90),
        pct(&ldk_t, 90),
        l50 / f50.max(1e-9),
    );
}
