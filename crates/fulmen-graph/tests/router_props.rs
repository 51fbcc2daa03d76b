//! Property: every route found on a random graph satisfies every
//! constraint — BOLT 4/7 amount and CLTV arithmetic per the policies used,
//! HTLC limits, capacity, disabled directions, fee and CLTV limits — and
//! every MPP set of routes sums to the amount within the liquidity.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;

use fulmen_graph::router::MAX_ROUTE_HOPS;
use fulmen_graph::testing::{node_id, policy, scid, GraphBuilder};
use fulmen_graph::{
    find_mpp_route, find_route, DirectedPolicy, Exclusions, NetworkGraph, NoPenalty,
    ProbabilisticScorer, Route, RouteParams, Scorer, ScorerParams,
};
use fulmen_types::{Msat, NodeId, Sat, ShortChannelId};
use proptest::prelude::*;

const HEIGHT: u32 = 700_000;

#[derive(Debug, Clone)]
struct Chan {
    a: u32,
    b: u32,
    capacity: u64,
    pa: Option<DirectedPolicy>,
    pb: Option<DirectedPolicy>,
}

fn arb_policy() -> impl Strategy<Value = Option<DirectedPolicy>> {
    prop::option::weighted(
        0.9,
        (
            0u32..3000,
            0u32..20_000,
            1u16..200,
            0u64..20_000,
            1u64..3_000_000_000,
            prop::bool::weighted(0.1),
        )
            .prop_map(|(base, ppm, cltv, min, max, disabled)| DirectedPolicy {
                disabled,
                htlc_minimum: Msat(min),
                htlc_maximum: Msat(max),
                ..policy(base, ppm, cltv)
            }),
    )
}

fn arb_graph() -> impl Strategy<Value = (u32, Vec<Chan>)> {
    (3u32..10).prop_flat_map(|n| {
        let chan = (0..n, 0..n, 10_000u64..3_000_000, arb_policy(), arb_policy()).prop_filter_map(
            "no loops",
            |(a, b, capacity, pa, pb)| {
                (a != b).then_some(Chan {
                    a,
                    b,
                    capacity,
                    pa,
                    pb,
                })
            },
        );
        (Just(n), prop::collection::vec(chan, 2..30))
    })
}

fn build(chans: &[Chan]) -> GraphBuilder {
    let mut b = GraphBuilder::new();
    for (i, c) in chans.iter().enumerate() {
        let s = scid(i as u32 + 1);
        b.channel(s, c.a, c.b, Sat(c.capacity)).unwrap();
        if let Some(p) = c.pa {
            b.policy(s, c.a, c.b, p).unwrap();
        }
        if let Some(p) = c.pb {
            b.policy(s, c.b, c.a, p).unwrap();
        }
    }
    b
}

/// The directed policy of `from` on `scid`, and the capacity.
fn policy_of(
    g: &NetworkGraph,
    s: ShortChannelId,
    from: &NodeId,
    to: &NodeId,
) -> (Option<DirectedPolicy>, Sat) {
    let c = g.channel(s).expect("route uses a known channel");
    if c.node_1 == *from {
        assert_eq!(c.node_2, *to);
        (c.one_to_two, c.capacity)
    } else {
        assert_eq!((c.node_2, c.node_1), (*from, *to));
        (c.two_to_one, c.capacity)
    }
}

/// Checks one route; returns the amount it puts on each directed channel.
fn check_route(
    g: &NetworkGraph,
    source: &NodeId,
    params: &RouteParams,
    r: &Route,
) -> Vec<((ShortChannelId, NodeId), u64)> {
    assert!(!r.hops.is_empty() && r.hops.len() <= MAX_ROUTE_HOPS);
    let last = r.hops.last().unwrap();
    assert_eq!(last.node_id, params.payee);
    assert_eq!(last.amount, params.amount);
    assert_eq!(last.cltv_expiry, HEIGHT + params.final_cltv_expiry_delta);
    assert_eq!((last.fee, last.cltv_expiry_delta), (Msat(0), 0));
    let mut seen = vec![*source];
    let mut from = *source;
    let mut flows = Vec::new();
    for (i, hop) in r.hops.iter().enumerate() {
        assert!(!seen.contains(&hop.node_id), "loop at {}", hop.node_id);
        seen.push(hop.node_id);
        let (p, capacity) = policy_of(g, hop.short_channel_id, &from, &hop.node_id);
        // The HTLC on this channel is hops[i].amount.
        assert!(hop.amount.0 <= capacity.0 * 1000);
        if let Some(p) = p {
            assert!(!p.disabled);
            assert!(p.htlc_minimum <= hop.amount && hop.amount <= p.htlc_maximum);
        } else {
            assert_eq!(from, *source, "a forwarder without a policy");
        }
        if let Some(next) = r.hops.get(i + 1) {
            // hop.node_id forwards `next.amount` over next's channel with its
            // own policy there.
            let (p, _) = policy_of(g, next.short_channel_id, &hop.node_id, &next.node_id);
            let p = p.expect("forwarder has a policy");
            let fee = u64::from(p.fee_base_msat)
                + next.amount.0 * u64::from(p.fee_proportional_millionths) / 1_000_000;
            assert_eq!(hop.amount.0, next.amount.0 + fee);
            assert_eq!(hop.fee, Msat(fee));
            assert_eq!(
                hop.cltv_expiry,
                next.cltv_expiry + u32::from(p.cltv_expiry_delta)
            );
            assert_eq!(hop.cltv_expiry_delta, p.cltv_expiry_delta);
        }
        flows.push(((hop.short_channel_id, from), hop.amount.0));
        from = hop.node_id;
    }
    let total_cltv = r.hops[0].cltv_expiry - HEIGHT;
    assert!(total_cltv <= params.max_total_cltv_expiry_delta);
    assert_eq!(
        total_cltv,
        r.total_cltv_delta() + params.final_cltv_expiry_delta
    );
    flows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn found_routes_satisfy_every_constraint(
        (n, chans) in arb_graph(),
        src in 0u32..10,
        dst in 0u32..10,
        amount in 1u64..1_500_000_000,
        final_cltv in 9u32..200,
        max_cltv in 100u32..2016,
        max_fee in prop::option::of(0u64..10_000_000),
        use_scorer: bool,
    ) {
        let (src, dst) = (src % n, dst % n);
        prop_assume!(src != dst);
        let b = build(&chans);
        let params = RouteParams {
            max_total_cltv_expiry_delta: max_cltv,
            max_fee: max_fee.map(Msat),
            ..RouteParams::new(node_id(dst), Msat(amount), final_cltv)
        };
        let prob = ProbabilisticScorer::new(ScorerParams::default());
        let scorer: &dyn Scorer = if use_scorer { &prob } else { &NoPenalty };
        let ex = Exclusions::new();
        if let Ok(r) = find_route(&b.graph, &node_id(src), &[], &params, scorer, HEIGHT, &ex) {
            check_route(&b.graph, &node_id(src), &params, &r);
            if let Some(m) = params.max_fee {
                prop_assert!(r.total_fee() <= m);
            }
            // Deterministic.
            prop_assert_eq!(find_route(&b.graph, &node_id(src), &[], &params, scorer, HEIGHT, &ex), Ok(r));
        }
        if let Ok(parts) = find_mpp_route(&b.graph, &node_id(src), &[], &params, scorer, HEIGHT, &ex) {
            prop_assert!(!parts.is_empty() && parts.len() <= 16);
            let mut sum = 0u64;
            let mut fees = Msat(0);
            let mut per_channel: HashMap<(ShortChannelId, NodeId), u64> = HashMap::new();
            for r in &parts {
                let part_params = RouteParams { amount: r.final_amount(), ..params.clone() };
                for (k, v) in check_route(&b.graph, &node_id(src), &part_params, r) {
                    *per_channel.entry(k).or_default() += v;
                }
                sum += r.final_amount().0;
                fees = fees.checked_add(r.total_fee()).unwrap();
            }
            prop_assert_eq!(sum, amount);
            if let Some(m) = params.max_fee {
                prop_assert!(fees <= m);
            }
            for ((s, _), v) in per_channel {
                prop_assert!(v <= b.graph.channel(s).unwrap().capacity.0 * 1000);
            }
        }
    }
}
