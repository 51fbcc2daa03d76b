//! Pathfinding on small hand-built graphs of real signed gossip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use fulmen_graph::router::{MAX_MPP_PARTS, MAX_ROUTE_HOPS};
use fulmen_graph::testing::{node_id, policy, scid, GraphBuilder};
use fulmen_graph::{
    find_mpp_route, find_route, DirectedPolicy, Exclusions, FirstHop, NoPenalty,
    ProbabilisticScorer, Route, RouteError, RouteHint, RouteParams, ScorerParams,
};
use fulmen_types::{Feature, Features, Msat, Sat};

const HEIGHT: u32 = 800_000;
const BTC: u64 = 100_000_000_000; // msat

fn route(b: &GraphBuilder, src: u32, params: &RouteParams) -> Result<Route, RouteError> {
    find_route(
        &b.graph,
        &node_id(src),
        &[],
        params,
        &NoPenalty,
        HEIGHT,
        &Exclusions::new(),
    )
}

fn scids(r: &Route) -> Vec<u32> {
    r.hops.iter().map(|h| h.short_channel_id.block()).collect()
}

/// BOLT 4/7 amounts on a line A-B-C-D-E (nodes 1..=5), each forwarder
/// charging a flat 0.001 BTC and 40 blocks.
#[test]
fn line_of_five_flat_fees() {
    let mut b = GraphBuilder::new();
    let p = DirectedPolicy {
        fee_base_msat: 100_000_000,
        htlc_maximum: Msat(10 * BTC),
        ..policy(0, 0, 40)
    };
    for i in 1..5 {
        b.both_ways(scid(i), i, i + 1, Sat(2 * BTC / 1000), p)
            .unwrap();
    }
    let params = RouteParams::new(node_id(5), Msat(BTC), 18);
    let r = route(&b, 1, &params).unwrap();
    assert_eq!(scids(&r), vec![1, 2, 3, 4]);
    let amounts: Vec<u64> = r.hops.iter().map(|h| h.amount.0).collect();
    assert_eq!(
        amounts,
        vec![
            100_300_000_000,
            100_200_000_000,
            100_100_000_000,
            100_000_000_000
        ]
    );
    let cltvs: Vec<u32> = r.hops.iter().map(|h| h.cltv_expiry).collect();
    let end = HEIGHT + 18;
    assert_eq!(cltvs, vec![end + 120, end + 80, end + 40, end]);
    let ids: Vec<_> = r.hops.iter().map(|h| h.node_id).collect();
    assert_eq!(ids, (2..=5).map(node_id).collect::<Vec<_>>());
    let fees: Vec<u64> = r.hops.iter().map(|h| h.fee.0).collect();
    assert_eq!(fees, vec![100_000_000, 100_000_000, 100_000_000, 0]);
    assert_eq!(
        r.hops
            .iter()
            .map(|h| h.cltv_expiry_delta)
            .collect::<Vec<_>>(),
        vec![40, 40, 40, 0]
    );
    assert_eq!(r.total_amount(), Msat(100_300_000_000));
    assert_eq!(r.total_fee(), Msat(300_000_000));
    assert_eq!(r.total_cltv_delta(), 120);

    // Back the other way, and with limits.
    let r = route(&b, 5, &RouteParams::new(node_id(1), Msat(BTC), 18)).unwrap();
    assert_eq!(scids(&r), vec![4, 3, 2, 1]);
    let tight = RouteParams {
        max_fee: Some(Msat(299_999_999)),
        ..params.clone()
    };
    assert_eq!(route(&b, 1, &tight), Err(RouteError::FeeTooHigh));
    let tight = RouteParams {
        max_total_cltv_expiry_delta: 18 + 119,
        ..params.clone()
    };
    assert_eq!(route(&b, 1, &tight), Err(RouteError::CltvTooFar));
    let tight = RouteParams {
        max_total_cltv_expiry_delta: 18 + 120,
        max_fee: Some(Msat(300_000_000)),
        ..params.clone()
    };
    assert!(route(&b, 1, &tight).is_ok());
    assert_eq!(
        route(&b, 1, &RouteParams::new(node_id(1), Msat(1), 18)),
        Err(RouteError::PayeeIsSource)
    );
    assert_eq!(
        route(&b, 1, &RouteParams::new(node_id(5), Msat(0), 18)),
        Err(RouteError::ZeroAmount)
    );
    assert_eq!(
        route(&b, 1, &RouteParams::new(node_id(9), Msat(1), 18)),
        Err(RouteError::NoRoute)
    );
}

/// The "Routing Example" of BOLT 7: A, B, C, D (nodes 1..=4) in a square,
/// each node charging its own fee scheme on every channel.
#[test]
fn bolt7_routing_example() {
    let mut b = GraphBuilder::new();
    let scheme = |n: u32| DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(100 * n, 1000 * n, 10 * n as u16)
    };
    let (a, bb, c, d) = (1, 2, 3, 4);
    for (s, x, y) in [(1, a, bb), (2, bb, c), (3, c, d), (4, d, a)] {
        b.channel(scid(s), x, y, Sat(BTC / 1000)).unwrap();
        b.policy(scid(s), x, y, scheme(x)).unwrap();
        b.policy(scid(s), y, x, scheme(y)).unwrap();
    }
    // B -> C directly: no fee, final CLTV 18 (+42 shadow).
    let params = RouteParams::new(node_id(c), Msat(4_999_999), 18 + 42);
    let r = route(&b, bb, &params).unwrap();
    assert_eq!(r.hops.len(), 1);
    assert_eq!(
        (r.hops[0].amount, r.hops[0].cltv_expiry),
        (Msat(4_999_999), HEIGHT + 60)
    );

    // A -> B -> C: 200 + 4999999 * 2000 / 1000000 = 10199.
    let r = route(&b, a, &params).unwrap();
    assert_eq!(scids(&r), vec![1, 2]);
    assert_eq!(r.hops[0].amount, Msat(5_010_198));
    assert_eq!(r.hops[0].cltv_expiry, HEIGHT + 20 + 18 + 42);
    assert_eq!(r.hops[1].amount, Msat(4_999_999));
    assert_eq!(r.hops[1].cltv_expiry, HEIGHT + 18 + 42);

    // A -> D -> C when B is excluded: 5020398.
    let mut ex = Exclusions::new();
    ex.exclude_node(node_id(bb));
    let r = find_route(&b.graph, &node_id(a), &[], &params, &NoPenalty, HEIGHT, &ex).unwrap();
    assert_eq!(scids(&r), vec![4, 3]);
    assert_eq!(r.hops[0].amount, Msat(5_020_398));
    assert_eq!(r.hops[0].cltv_expiry, HEIGHT + 40 + 18 + 42);

    // Excluding only the directed channel B -> C has the same effect; the
    // opposite direction does not matter.
    let mut ex = Exclusions::new();
    ex.exclude_channel(scid(2), node_id(c));
    let r = find_route(&b.graph, &node_id(a), &[], &params, &NoPenalty, HEIGHT, &ex).unwrap();
    assert_eq!(scids(&r), vec![1, 2]);
    ex.exclude_channel(scid(2), node_id(bb));
    let r = find_route(&b.graph, &node_id(a), &[], &params, &NoPenalty, HEIGHT, &ex).unwrap();
    assert_eq!(scids(&r), vec![4, 3]);
}

/// A diamond 1-2-4 (cheap) and 1-3-4 (dear).
fn diamond(cheap: DirectedPolicy, cheap_capacity: Sat) -> GraphBuilder {
    let mut b = GraphBuilder::new();
    let dear = DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(5000, 5000, 40)
    };
    b.both_ways(scid(1), 1, 2, cheap_capacity, cheap).unwrap();
    b.both_ways(scid(2), 2, 4, cheap_capacity, cheap).unwrap();
    b.both_ways(scid(3), 1, 3, Sat(BTC / 1000), dear).unwrap();
    b.both_ways(scid(4), 3, 4, Sat(BTC / 1000), dear).unwrap();
    b
}

#[test]
fn capacity_htlc_limits_and_disabled_channels() {
    let cheap = DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(1, 1, 40)
    };
    let params = RouteParams::new(node_id(4), Msat(1_000_000_000), 18);
    let b = diamond(cheap, Sat(BTC / 1000));
    assert_eq!(scids(&route(&b, 1, &params).unwrap()), vec![1, 2]);

    // The cheap path's capacity is too small.
    let b = diamond(cheap, Sat(999_999));
    assert_eq!(scids(&route(&b, 1, &params).unwrap()), vec![3, 4]);

    // Its htlc_maximum is too low at the second hop...
    let mut b = diamond(cheap, Sat(BTC / 1000));
    let low = DirectedPolicy {
        timestamp: cheap.timestamp + 1,
        htlc_maximum: Msat(999_999_999),
        ..cheap
    };
    b.policy(scid(2), 2, 4, low).unwrap();
    assert_eq!(scids(&route(&b, 1, &params).unwrap()), vec![3, 4]);
    // ...which does not matter for a smaller payment.
    let small = RouteParams::new(node_id(4), Msat(999_999_999), 18);
    assert_eq!(scids(&route(&b, 1, &small).unwrap()), vec![1, 2]);

    // Its htlc_minimum is too high.
    let mut b = diamond(cheap, Sat(BTC / 1000));
    let high_min = DirectedPolicy {
        timestamp: cheap.timestamp + 1,
        htlc_minimum: Msat(1_000_000_001),
        ..cheap
    };
    b.policy(scid(2), 2, 4, high_min).unwrap();
    assert_eq!(scids(&route(&b, 1, &params).unwrap()), vec![3, 4]);

    // Disabled.
    let mut b = diamond(cheap, Sat(BTC / 1000));
    let off = DirectedPolicy {
        timestamp: cheap.timestamp + 1,
        disabled: true,
        ..cheap
    };
    b.policy(scid(1), 2, 1, off).unwrap(); // the unused direction: no effect
    assert_eq!(scids(&route(&b, 1, &params).unwrap()), vec![1, 2]);
    b.policy(scid(2), 2, 4, off).unwrap();
    assert_eq!(scids(&route(&b, 1, &params).unwrap()), vec![3, 4]);
    // Both paths disabled.
    let dear_off = DirectedPolicy {
        timestamp: cheap.timestamp + 1,
        disabled: true,
        htlc_maximum: Msat(BTC),
        ..policy(5000, 5000, 40)
    };
    b.policy(scid(4), 3, 4, dear_off).unwrap();
    assert_eq!(route(&b, 1, &params), Err(RouteError::NoRoute));
}

#[test]
fn unknown_required_node_feature_is_not_routed_through() {
    let cheap = DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(1, 1, 40)
    };
    let mut b = diamond(cheap, Sat(BTC / 1000));
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let mut ann = fulmen_graph::testing::node_announcement(&secp, 2, 1_700_000_000, "odd");
    let mut f = Features::empty().with_optional(Feature::VarOnionOptin);
    f.set_bit(200);
    ann.features = fulmen_wire::WireFeatures::new(f);
    fulmen_graph::sign::sign_node_announcement(
        &secp,
        &fulmen_graph::testing::node_secret(2),
        &mut ann,
    );
    b.graph
        .apply_node_announcement(&secp, &ann, 1_700_000_000)
        .unwrap();
    let params = RouteParams::new(node_id(4), Msat(1000), 18);
    assert_eq!(scids(&route(&b, 1, &params).unwrap()), vec![3, 4]);
    // It can still be paid directly.
    assert_eq!(
        scids(&route(&b, 1, &RouteParams::new(node_id(2), Msat(1000), 18)).unwrap()),
        vec![1]
    );
}

#[test]
fn first_hops_replace_our_graph_channels() {
    let cheap = DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(1, 1, 40)
    };
    let b = diamond(cheap, Sat(BTC / 1000));
    let params = RouteParams::new(node_id(4), Msat(1_000_000), 18);
    let hop = |peer: u32, s: u32, outbound: u64| FirstHop {
        short_channel_id: scid(s),
        peer: node_id(peer),
        outbound_msat: Msat(outbound),
        htlc_minimum: Msat(1),
    };
    let go = |fh: &[FirstHop]| {
        find_route(
            &b.graph,
            &node_id(1),
            fh,
            &params,
            &NoPenalty,
            HEIGHT,
            &Exclusions::new(),
        )
    };
    // Only the dear side has balance.
    let r = go(&[hop(2, 1, 10), hop(3, 3, 2_000_000)]).unwrap();
    assert_eq!(scids(&r), vec![3, 4]);
    // Our channel to 2 is not in first_hops: not used.
    assert_eq!(scids(&go(&[hop(3, 3, 2_000_000)]).unwrap()), vec![3, 4]);
    // Not enough anywhere.
    assert_eq!(
        go(&[hop(2, 1, 10), hop(3, 3, 10)]),
        Err(RouteError::InsufficientFirstHopLiquidity)
    );
    // A private channel straight to the payee, unknown to the graph.
    let r = go(&[hop(4, 77, 5_000_000)]).unwrap();
    assert_eq!(scids(&r), vec![77]);
    assert_eq!(r.hops[0].amount, Msat(1_000_000));
    assert_eq!(r.hops[0].fee, Msat(0));
}

#[test]
fn route_hints_reach_a_private_payee() {
    let p = DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(1000, 100, 40)
    };
    let mut b = GraphBuilder::new();
    b.both_ways(scid(1), 1, 2, Sat(BTC / 1000), p).unwrap();
    b.both_ways(scid(2), 2, 3, Sat(BTC / 1000), p).unwrap();
    // Payee 9 is private, behind 3 -> 8 -> 9.
    let hint = |src: u32, s: u32, base: u32| RouteHint {
        src: node_id(src),
        short_channel_id: scid(s),
        fee_base_msat: base,
        fee_proportional_millionths: 0,
        cltv_expiry_delta: 144,
        htlc_minimum: None,
        htlc_maximum: Some(Msat(50_000_000)),
    };
    let mut params = RouteParams::new(node_id(9), Msat(10_000_000), 18);
    assert_eq!(route(&b, 1, &params), Err(RouteError::NoRoute));
    params.hints = vec![vec![hint(3, 50, 7), hint(8, 51, 5)]];
    let r = route(&b, 1, &params).unwrap();
    assert_eq!(scids(&r), vec![1, 2, 50, 51]);
    let amounts: Vec<u64> = r.hops.iter().map(|h| h.amount.0).collect();
    // 8 charges 5, 3 charges 7, 2 charges 1000 + 100 ppm of 10_000_012.
    assert_eq!(
        amounts,
        vec![10_000_012 + 1000 + 1000, 10_000_012, 10_000_005, 10_000_000]
    );
    assert_eq!(r.hops[0].cltv_expiry, HEIGHT + 18 + 144 + 144 + 40);
    // The hint's htlc_maximum is honoured.
    params.amount = Msat(50_000_001);
    assert_eq!(route(&b, 1, &params), Err(RouteError::NoRoute));
}

#[test]
fn too_many_hops() {
    let p = DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(0, 0, 1)
    };
    let mut b = GraphBuilder::new();
    let n = MAX_ROUTE_HOPS as u32 + 1;
    for i in 0..n {
        b.both_ways(scid(i + 1), i, i + 1, Sat(BTC / 1000), p)
            .unwrap();
    }
    let r = route(&b, 0, &RouteParams::new(node_id(n - 1), Msat(1000), 18)).unwrap();
    assert_eq!(r.hops.len(), MAX_ROUTE_HOPS);
    assert_eq!(
        route(&b, 0, &RouteParams::new(node_id(n), Msat(1000), 18)),
        Err(RouteError::TooManyHops)
    );
}

/// Two disjoint paths 1-2-4 and 1-3-4 that can each carry 60 % of the
/// payment: no single route, two parts.
#[test]
fn mpp_splits_over_two_paths() {
    let p = DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(10, 100, 40)
    };
    let mut b = GraphBuilder::new();
    let cap = Sat(600_000);
    b.both_ways(scid(1), 1, 2, cap, p).unwrap();
    b.both_ways(scid(2), 2, 4, cap, p).unwrap();
    b.both_ways(scid(3), 1, 3, cap, p).unwrap();
    b.both_ways(scid(4), 3, 4, cap, p).unwrap();
    let params = RouteParams::new(node_id(4), Msat(1_000_000_000), 18);
    assert_eq!(route(&b, 1, &params), Err(RouteError::NoRoute));
    let parts = find_mpp_route(
        &b.graph,
        &node_id(1),
        &[],
        &params,
        &NoPenalty,
        HEIGHT,
        &Exclusions::new(),
    )
    .unwrap();
    assert_eq!(parts.len(), 2);
    let total: u64 = parts.iter().map(|r| r.final_amount().0).sum();
    assert_eq!(total, 1_000_000_000);
    let mut used: Vec<Vec<u32>> = parts.iter().map(scids).collect();
    used.sort();
    assert_eq!(used, vec![vec![1, 2], vec![3, 4]]);
    for r in &parts {
        assert!(r.total_amount() <= Msat(cap.0 * 1000));
        assert_eq!(r.hops[1].amount, Msat(500_000_000));
        assert_eq!(r.hops[0].amount, Msat(500_000_000 + 10 + 50_000));
    }
    // A single route when one fits.
    let small = RouteParams::new(node_id(4), Msat(1_000_000), 18);
    let one = find_mpp_route(
        &b.graph,
        &node_id(1),
        &[],
        &small,
        &NoPenalty,
        HEIGHT,
        &Exclusions::new(),
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    // More than both paths together.
    let big = RouteParams::new(node_id(4), Msat(1_300_000_000), 18);
    assert!(find_mpp_route(
        &b.graph,
        &node_id(1),
        &[],
        &big,
        &NoPenalty,
        HEIGHT,
        &Exclusions::new()
    )
    .is_err());

    // The same with first hops as the bottleneck: balances 0.6 and 0.5.
    let fh = [
        FirstHop {
            short_channel_id: scid(1),
            peer: node_id(2),
            outbound_msat: Msat(600_000_000),
            htlc_minimum: Msat(1),
        },
        FirstHop {
            short_channel_id: scid(3),
            peer: node_id(3),
            outbound_msat: Msat(500_000_000),
            htlc_minimum: Msat(1),
        },
    ];
    let parts = find_mpp_route(
        &b.graph,
        &node_id(1),
        &fh,
        &params,
        &NoPenalty,
        HEIGHT,
        &Exclusions::new(),
    )
    .unwrap();
    assert!(parts.len() >= 2 && parts.len() <= MAX_MPP_PARTS);
    let total: u64 = parts.iter().map(|r| r.final_amount().0).sum();
    assert_eq!(total, 1_000_000_000);
    for (s, bal) in [(1, 600_000_000u64), (3, 500_000_000)] {
        let sent: u64 = parts
            .iter()
            .filter(|r| r.hops[0].short_channel_id == scid(s))
            .map(|r| r.total_amount().0)
            .sum();
        assert!(sent <= bal, "{sent} > {bal}");
    }
    let poor = [FirstHop {
        outbound_msat: Msat(10),
        ..fh[0]
    }];
    assert_eq!(
        find_mpp_route(
            &b.graph,
            &node_id(1),
            &poor,
            &params,
            &NoPenalty,
            HEIGHT,
            &Exclusions::new()
        ),
        Err(RouteError::InsufficientFirstHopLiquidity)
    );
}

/// The probabilistic scorer steers away from a channel that just failed.
#[test]
fn scorer_learns_from_failures() {
    let cheap = DirectedPolicy {
        htlc_maximum: Msat(BTC),
        ..policy(1, 1, 40)
    };
    let b = diamond(cheap, Sat(BTC / 1000));
    let params = RouteParams::new(node_id(4), Msat(1_000_000), 18);
    let mut scorer = ProbabilisticScorer::new(ScorerParams::default());
    let now = 1_700_000_000;
    scorer.set_now(now);
    let go = |s: &ProbabilisticScorer| {
        find_route(
            &b.graph,
            &node_id(1),
            &[],
            &params,
            s,
            HEIGHT,
            &Exclusions::new(),
        )
        .unwrap()
    };
    let r = go(&scorer);
    assert_eq!(scids(&r), vec![1, 2]);
    scorer.path_failed(&node_id(1), &r, scid(2), now);
    assert_eq!(scids(&go(&scorer)), vec![3, 4]);
    // A day later (four half-lives) the failure is mostly forgotten.
    scorer.set_now(now + 86_400);
    assert_eq!(scids(&go(&scorer)), vec![1, 2]);
    let r = go(&scorer);
    scorer.path_succeeded(&node_id(1), &r, now + 86_400);
    assert!(scorer.liquidity_bounds(scid(1), &node_id(1)).is_some());
}
