//! Routed payments between nodes in one process over real TCP, on one
//! in-memory chain: channels announced by gossip, a payment through a
//! forwarding node with its fee and CLTV delta checked hop by hop, probes
//! with a wrong amount or secret answered like an unknown hash, a failure
//! in the middle attributed to the right hop and retried on another route,
//! and a multi-part payment split over two disjoint paths.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use fulmen_node::PayRequest;
use fulmen_node::{ChannelsConfig, ForwardingPolicy, NodeEvent, PaymentStatusKind};
use fulmen_types::{ChannelId, Msat, PaymentHash, PaymentSecret, Sat};
use support::*;

/// A node on `chain` charging `base` msat + `ppm` to forward, with
/// `delta` blocks of CLTV delta.
async fn node(chain: &EmbeddedChain, base: u32, ppm: u32, delta: u16) -> TestNode {
    node_with(chain, base, ppm, delta, |_| {}).await
}

/// [`node`], with `more` changing the config.
async fn node_with(
    chain: &EmbeddedChain,
    base: u32,
    ppm: u32,
    delta: u16,
    more: impl FnOnce(&mut fulmen_node::NodeConfig),
) -> TestNode {
    start_with(|dir| {
        let mut c = config(dir, Some(chain.clone()), fast_peers());
        c.channels = ChannelsConfig {
            forwarding: ForwardingPolicy {
                fee_base_msat: base,
                fee_proportional_millionths: ppm,
                cltv_expiry_delta: delta,
                ..ForwardingPolicy::default()
            },
            ..ChannelsConfig::default()
        };
        more(&mut c);
        c
    })
    .await
}

async fn fund(nodes: &[&TestNode]) {
    for n in nodes {
        n.node.mine(1, None).await.unwrap();
    }
    nodes[0].node.mine(100, Some(burn_address())).await.unwrap();
}

async fn wait_synced(n: &mut TestNode, height: u32) {
    while n.node.block_height() < height {
        wait_event(&mut n.events, |e| match e {
            NodeEvent::ChainSynced { height: h } if *h >= height => Some(()),
            _ => None,
        })
        .await;
    }
}

/// Opens an announced channel from `a` to `b` (connecting first).
async fn open(a: &TestNode, b: &TestNode, sat: u64, push_msat: u64) -> ChannelId {
    a.node.connect(&target(b)).await.unwrap();
    a.node
        .open_channel(b.id(), Sat(sat), Msat(push_msat), true)
        .await
        .unwrap()
        .channel_id
}

async fn wait_ready_count(n: &mut TestNode, count: usize) {
    for _ in 0..count {
        wait_event(&mut n.events, |e| {
            matches!(e, NodeEvent::ChannelReady { .. }).then_some(())
        })
        .await;
    }
}

/// Waits until `n`'s graph has `channels` channels, each with both
/// directions' policies.
async fn wait_graph(n: &mut TestNode, channels: usize) {
    let graph = n.node.network_graph();
    let complete = || {
        let g = graph.read().unwrap();
        g.num_channels() >= channels
            && g.channel_ids().all(|scid| {
                g.channel(scid)
                    .is_some_and(|c| c.one_to_two.is_some() && c.two_to_one.is_some())
            })
    };
    while !complete() {
        wait_event(&mut n.events, |e| {
            matches!(e, NodeEvent::GraphChanged { .. }).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_through_a_forwarding_node_pays_its_fee_and_cltv_delta() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let mut a = node(&chain, 1_000, 0, 40).await;
    let mut b = node(&chain, 5_000, 100, 30).await;
    let mut c = node(&chain, 1_000, 0, 40).await;
    fund(&[&a, &b]).await;
    for n in [&mut a, &mut b, &mut c] {
        wait_synced(n, 102).await;
    }
    let ab = open(&a, &b, 10_000_000, 0).await;
    let bc = open(&b, &c, 10_000_000, 0).await;
    a.node.mine(6, Some(burn_address())).await.unwrap();
    wait_ready_count(&mut a, 1).await;
    wait_ready_count(&mut b, 2).await;
    wait_ready_count(&mut c, 1).await;
    wait_graph(&mut a, 2).await;

    let amount = 2_000_000_000u64;
    let inv = c
        .node
        .create_invoice(Some(Msat(amount)), "routed", "through b")
        .await
        .unwrap();
    let out = a.node.pay_invoice(&inv.bolt11, None).await.unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
    assert_eq!(out.preimage.unwrap().payment_hash(), inv.payment_hash);
    // b charges 5,000 msat + 100 ppm of what it forwards.
    let fee = 5_000 + amount * 100 / 1_000_000;
    assert_eq!(out.fee, Msat(fee));
    assert_eq!(out.route, vec![b.id(), c.id()]);
    assert_eq!(out.attempts, 1);

    let (in_amount, out_amount, in_cltv, out_cltv) = wait_event(&mut b.events, |e| match e {
        NodeEvent::HtlcForwarded {
            in_amount,
            out_amount,
            in_cltv_expiry,
            out_cltv_expiry,
            in_channel,
            out_channel,
            ..
        } => {
            assert_eq!((*in_channel, *out_channel), (ab, bc));
            Some((*in_amount, *out_amount, *in_cltv_expiry, *out_cltv_expiry))
        }
        _ => None,
    })
    .await;
    assert_eq!(in_amount, Msat(amount + fee));
    assert_eq!(out_amount, Msat(amount));
    assert_eq!(in_cltv - out_cltv, 30, "b's cltv_expiry_delta");
    wait_event(&mut b.events, |e| {
        matches!(e, NodeEvent::ForwardSettled { .. }).then_some(())
    })
    .await;
    let forwards = b.node.list_forwards().await.unwrap();
    assert_eq!(forwards.len(), 1);
    assert_eq!(forwards[0].status, fulmen_store::ForwardStatus::Settled);
    assert_eq!(forwards[0].fee(), Some(Msat(fee)));

    // Probes through b: a wrong amount, a wrong secret and an unknown hash
    // all get the same answer from c, attributed to c, with no retry.
    let inv = c
        .node
        .create_invoice(Some(Msat(amount)), "probed", "probe me")
        .await
        .unwrap();
    let parsed = fulmen_onion::Invoice::parse(&inv.bolt11).unwrap();
    let probe = |hash: PaymentHash, secret: PaymentSecret, msat: u64| PayRequest {
        destination: c.id(),
        amount: Msat(msat),
        payment_hash: hash,
        payment_secret: Some(secret),
        keysend_preimage: None,
        min_final_cltv_expiry_delta: 80,
        bolt11: None,
        route_hints: Vec::new(),
        mpp: false,
    };
    let probes = [
        probe(inv.payment_hash, parsed.payment_secret(), amount / 2),
        probe(inv.payment_hash, PaymentSecret([7; 32]), amount),
        probe(PaymentHash([9; 32]), parsed.payment_secret(), amount),
    ];
    for p in probes {
        let out = a.node.pay(p).await.unwrap();
        assert_eq!(out.status, PaymentStatusKind::Failed);
        assert_eq!(
            out.failure.as_deref(),
            Some("incorrect_or_unknown_payment_details")
        );
        assert_eq!(out.attempts, 1, "the payee's answer is final");
    }
    for n in [a, b, c] {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_in_the_middle_is_attributed_and_another_route_succeeds() {
    // a → b → d is cheaper than a → c → d, but b has nothing to send to d
    // (d funded that channel): b fails the HTLC, a retries through c.
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let mut a = node(&chain, 1_000, 0, 40).await;
    let mut b = node(&chain, 1, 0, 40).await;
    let mut c = node(&chain, 50_000, 0, 40).await;
    let mut d = node(&chain, 1_000, 0, 40).await;
    // a funds two channels: two coins, one for each.
    fund(&[&a, &a, &c, &d]).await;
    for n in [&mut a, &mut b, &mut c, &mut d] {
        wait_synced(n, 104).await;
    }
    open(&a, &b, 10_000_000, 0).await;
    open(&a, &c, 10_000_000, 0).await;
    open(&d, &b, 10_000_000, 0).await;
    open(&c, &d, 10_000_000, 0).await;
    a.node.mine(6, Some(burn_address())).await.unwrap();
    wait_ready_count(&mut a, 2).await;
    wait_graph(&mut a, 4).await;

    let inv = d
        .node
        .create_invoice(Some(Msat(1_000_000_000)), "retry", "around b")
        .await
        .unwrap();
    let out = a.node.pay_invoice(&inv.bolt11, None).await.unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
    assert_eq!(out.attempts, 2, "the first route through b failed");
    assert_eq!(out.route, vec![c.id(), d.id()]);
    assert_eq!(out.fee, Msat(50_000));
    let forwards = b.node.list_forwards().await.unwrap();
    assert_eq!(forwards.len(), 1);
    assert_eq!(forwards[0].status, fulmen_store::ForwardStatus::LocalFailed);
    assert_eq!(
        forwards[0].failure_code,
        Some(fulmen_onion::FailureCode::TEMPORARY_CHANNEL_FAILURE.0)
    );
    let payments = a.node.list_payments().await.unwrap();
    assert_eq!(payments.len(), 1, "one payment, two attempts");
    for n in [a, b, c, d] {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_too_large_for_one_path_is_split_over_two() {
    // a → b → d and a → c → d, 0.1 BTC each: 0.15 BTC needs both.
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let mut a = node(&chain, 1_000, 0, 40).await;
    let mut b = node(&chain, 1_000, 0, 40).await;
    let mut c = node(&chain, 2_000, 0, 40).await;
    let mut d = node(&chain, 1_000, 0, 40).await;
    fund(&[&a, &a, &b, &c]).await;
    for n in [&mut a, &mut b, &mut c, &mut d] {
        wait_synced(n, 104).await;
    }
    open(&a, &b, 10_000_000, 0).await;
    open(&a, &c, 10_000_000, 0).await;
    open(&b, &d, 10_000_000, 0).await;
    open(&c, &d, 10_000_000, 0).await;
    a.node.mine(6, Some(burn_address())).await.unwrap();
    wait_ready_count(&mut a, 2).await;
    wait_ready_count(&mut d, 2).await;
    wait_graph(&mut a, 4).await;

    let amount = 15_000_000_000u64;
    let inv = d
        .node
        .create_invoice(Some(Msat(amount)), "split", "two paths")
        .await
        .unwrap();
    let out = a.node.pay_invoice(&inv.bolt11, None).await.unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
    assert_eq!(out.amount, Msat(amount));
    let received = wait_event(&mut d.events, |e| match e {
        NodeEvent::PaymentReceived { amount, .. } => Some(*amount),
        _ => None,
    })
    .await;
    assert_eq!(received, Msat(amount), "every part reached d");
    let mut forwarded = 0u64;
    for n in [&mut b, &mut c] {
        let (in_amount, out_amount) = wait_event(&mut n.events, |e| match e {
            NodeEvent::HtlcForwarded {
                in_amount,
                out_amount,
                ..
            } => Some((*in_amount, *out_amount)),
            _ => None,
        })
        .await;
        assert!(out_amount < Msat(amount), "each path carries a part");
        forwarded += out_amount.0;
        let _ = in_amount;
    }
    assert_eq!(forwarded, amount);
    // Fees: b's 1,000 msat on its part and c's 2,000 on its.
    assert_eq!(out.fee, Msat(3_000));
    let paid = d.node.list_invoices().await.unwrap();
    let inv_row = paid
        .iter()
        .find(|i| i.payment_hash == inv.payment_hash)
        .unwrap();
    assert_eq!(inv_row.status, fulmen_store::InvoiceStatus::Paid);
    assert_eq!(inv_row.amount_received, Some(Msat(amount)));
    for n in [a, b, c, d] {
        n.stop().await;
    }
}

/// A and B with an announced channel A → B, in A's graph.
async fn announced_pair(chain: &EmbeddedChain) -> (TestNode, TestNode) {
    let mut a = node(chain, 1_000, 0, 40).await;
    let b = node(chain, 1_000, 0, 40).await;
    fund(&[&a]).await;
    wait_synced(&mut a, 101).await;
    open(&a, &b, 10_000_000, 0).await;
    a.node.mine(6, Some(burn_address())).await.unwrap();
    wait_graph(&mut a, 1).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_is_reloaded_from_the_gossip_store_at_restart() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (a, b) = announced_pair(&chain).await;
    let before = {
        let g = a.node.network_graph();
        let g = g.read().unwrap();
        let scid = g.channel_ids().next().unwrap();
        (scid, g.channel(scid).unwrap(), g.num_nodes())
    };
    // Nobody can teach the restarted node anything: b is gone too.
    b.stop().await;
    let dir = a.stop_keep().await;
    let a = start_in(dir, |d| config(d, Some(chain.clone()), fast_peers())).await;
    {
        let g = a.node.network_graph();
        let g = g.read().unwrap();
        assert_eq!(g.num_channels(), 1);
        assert_eq!(g.num_nodes(), before.2);
        let after = g.channel(before.0).expect("the channel was reloaded");
        assert_eq!(after.capacity, before.1.capacity);
        assert_eq!(after.one_to_two, before.1.one_to_two);
        assert_eq!(after.two_to_one, before.1.two_to_one);
    }
    a.stop().await;
}

/// BOLT 7 initial sync: a node joining after the channel was announced
/// learns it (announcement, both updates) from its first peer by range
/// queries, its timestamp filter asking only for what is newer than its
/// arrival.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_later_learns_the_graph_by_range_queries() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (a, b) = announced_pair(&chain).await;
    let mut d = node(&chain, 1_000, 0, 40).await;
    wait_synced(&mut d, 107).await;
    d.node.connect(&target(&a)).await.unwrap();
    wait_graph(&mut d, 1).await;
    {
        let g = d.node.network_graph();
        let g = g.read().unwrap();
        let scid = g.channel_ids().next().unwrap();
        assert_eq!(
            g.channel(scid),
            a.node.network_graph().read().unwrap().channel(scid)
        );
    }
    for n in [a, b, d] {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarding_node_refuses_onions_that_break_its_policy_with_the_right_code() {
    use fulmen_graph::router::{Route, RouteHop};
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let mut a = node(&chain, 1_000, 0, 40).await;
    let mut b = node(&chain, 5_000, 0, 30).await;
    let c = node(&chain, 1_000, 0, 40).await;
    fund(&[&a, &b]).await;
    for n in [&mut a, &mut b] {
        wait_synced(n, 102).await;
    }
    open(&a, &b, 10_000_000, 0).await;
    open(&b, &c, 10_000_000, 0).await;
    a.node.mine(6, Some(burn_address())).await.unwrap();
    wait_graph(&mut a, 2).await;
    let (ab, bc) = {
        let g = a.node.network_graph();
        let g = g.read().unwrap();
        let between = |x: &TestNode, y: &TestNode| {
            g.channel_ids()
                .find(|s| {
                    let ch = g.channel(*s).unwrap();
                    [ch.node_1, ch.node_2].contains(&x.id())
                        && [ch.node_1, ch.node_2].contains(&y.id())
                })
                .unwrap()
        };
        (between(&a, &b), between(&b, &c))
    };
    let amount = 1_000_000u64;
    let inv = c
        .node
        .create_invoice(Some(Msat(amount)), "policy", "policy")
        .await
        .unwrap();
    let secret = fulmen_onion::Invoice::parse(&inv.bolt11)
        .unwrap()
        .payment_secret();
    let request = PayRequest {
        destination: c.id(),
        amount: Msat(amount),
        payment_hash: inv.payment_hash,
        payment_secret: Some(secret),
        keysend_preimage: None,
        min_final_cltv_expiry_delta: 80,
        bolt11: None,
        route_hints: Vec::new(),
        mpp: false,
    };
    let height = a.node.block_height();
    // b's fee for `amount` is 5,000 msat and its delta 30 blocks.
    let route = |fee: u64, delta: u32, final_cltv: u32, next: fulmen_types::ShortChannelId| Route {
        hops: vec![
            RouteHop {
                node_id: b.id(),
                short_channel_id: ab,
                amount: Msat(amount + fee),
                cltv_expiry: final_cltv + delta,
                fee: Msat(fee),
                cltv_expiry_delta: delta as u16,
            },
            RouteHop {
                node_id: c.id(),
                short_channel_id: next,
                amount: Msat(amount),
                cltv_expiry: final_cltv,
                fee: Msat(0),
                cltv_expiry_delta: 0,
            },
        ],
    };
    let final_cltv = height + 100;
    let bogus = fulmen_types::ShortChannelId::new(1, 2, 3).unwrap();
    let cases = [
        (route(4_999, 30, final_cltv, bc), "fee_insufficient"),
        (route(5_000, 29, final_cltv, bc), "incorrect_cltv_expiry"),
        (route(5_000, 30, height + 5, bc), "expiry_too_soon"),
        (route(5_000, 30, height + 3_000, bc), "expiry_too_far"),
        (route(5_000, 30, final_cltv, bogus), "unknown_next_peer"),
    ];
    for (r, expected) in cases {
        let out = a.node.pay_route(request.clone(), r).await.unwrap();
        assert_eq!(out.status, PaymentStatusKind::Failed);
        assert_eq!(out.failure.as_deref(), Some(expected));
        assert_eq!(out.attempts, 1, "a given route is tried once");
    }
    let refused = b.node.list_forwards().await.unwrap();
    assert_eq!(refused.len(), 5);
    assert!(refused
        .iter()
        .all(|f| f.status == fulmen_store::ForwardStatus::LocalFailed));
    // The right fee and delta go through.
    let out = a
        .node
        .pay_route(request, route(5_000, 30, final_cltv, bc))
        .await
        .unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
    assert_eq!(out.fee, Msat(5_000));
    for n in [a, b, c] {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hop_offline_is_attributed_and_routed_around() {
    // a → b → d is cheaper than a → c → d, but b has lost d: b fails the
    // HTLC (temporary_channel_failure with its disabled channel_update),
    // a retries through c.
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let slow_reconnect = |c: &mut fulmen_node::NodeConfig| {
        c.reconnect_interval = std::time::Duration::from_secs(600);
    };
    let mut a = node_with(&chain, 1_000, 0, 40, slow_reconnect).await;
    let mut b = node_with(&chain, 1, 0, 40, slow_reconnect).await;
    let mut c = node_with(&chain, 50_000, 0, 40, slow_reconnect).await;
    let mut d = node_with(&chain, 1_000, 0, 40, slow_reconnect).await;
    fund(&[&a, &a, &b, &c]).await;
    for n in [&mut a, &mut b, &mut c, &mut d] {
        wait_synced(n, 104).await;
    }
    open(&a, &b, 10_000_000, 0).await;
    open(&a, &c, 10_000_000, 0).await;
    open(&b, &d, 10_000_000, 0).await;
    open(&c, &d, 10_000_000, 0).await;
    a.node.mine(6, Some(burn_address())).await.unwrap();
    wait_graph(&mut a, 4).await;
    assert!(b
        .node
        .peers()
        .disconnect(&d.id(), fulmen_node::DisconnectReason::Shutdown));
    wait_event(&mut b.events, |e| match e {
        NodeEvent::PeerDisconnected {
            node_id: Some(id), ..
        } if *id == d.id() => Some(()),
        _ => None,
    })
    .await;
    let inv = d
        .node
        .create_invoice(Some(Msat(1_000_000)), "offline", "around b")
        .await
        .unwrap();
    let out = a.node.pay_invoice(&inv.bolt11, None).await.unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
    assert_eq!(out.attempts, 2, "the route through b failed first");
    assert_eq!(out.route, vec![c.id(), d.id()]);
    let forwards = b.node.list_forwards().await.unwrap();
    assert_eq!(forwards.len(), 1);
    assert_eq!(
        forwards[0].failure_code,
        Some(fulmen_onion::FailureCode::TEMPORARY_CHANNEL_FAILURE.0)
    );
    // b's channel_update in the failure said b → d is disabled.
    let disabled = {
        let g = a.node.network_graph();
        let g = g.read().unwrap();
        let scid = g
            .channel_ids()
            .find(|s| {
                let ch = g.channel(*s).unwrap();
                [ch.node_1, ch.node_2].contains(&b.id()) && [ch.node_1, ch.node_2].contains(&d.id())
            })
            .unwrap();
        let ch = g.channel(scid).unwrap();
        let from_b = if ch.node_1 == b.id() {
            ch.one_to_two
        } else {
            ch.two_to_one
        };
        from_b.unwrap().disabled
    };
    assert!(disabled, "a learnt b's update from the failure");
    for n in [a, b, c, d] {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_multi_part_payment_times_out_and_nothing_moves() {
    use fulmen_graph::router::{Route, RouteHop};
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let mut a = node(&chain, 1_000, 0, 40).await;
    let mut b = node_with(&chain, 1_000, 0, 40, |c| c.channels.mpp_timeout_secs = 2).await;
    fund(&[&a]).await;
    wait_synced(&mut a, 101).await;
    open(&a, &b, 10_000_000, 0).await;
    a.node.mine(6, Some(burn_address())).await.unwrap();
    wait_graph(&mut a, 1).await;
    let scid = {
        let g = a.node.network_graph();
        let g = g.read().unwrap();
        let first = g.channel_ids().next().unwrap();
        first
    };
    let inv = b
        .node
        .create_invoice(Some(Msat(2_000_000)), "half", "only half comes")
        .await
        .unwrap();
    let secret = fulmen_onion::Invoice::parse(&inv.bolt11)
        .unwrap()
        .payment_secret();
    let request = PayRequest {
        destination: b.id(),
        amount: Msat(2_000_000),
        payment_hash: inv.payment_hash,
        payment_secret: Some(secret),
        keysend_preimage: None,
        min_final_cltv_expiry_delta: 80,
        bolt11: None,
        route_hints: Vec::new(),
        mpp: true,
    };
    // One part of half the total: b holds it, then gives up.
    let half = Route {
        hops: vec![RouteHop {
            node_id: b.id(),
            short_channel_id: scid,
            amount: Msat(1_000_000),
            cltv_expiry: a.node.block_height() + 100,
            fee: Msat(0),
            cltv_expiry_delta: 0,
        }],
    };
    let started = std::time::Instant::now();
    let out = a.node.pay_route(request, half).await.unwrap();
    assert_eq!(out.status, PaymentStatusKind::Failed);
    assert_eq!(out.failure.as_deref(), Some("mpp_timeout"));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    let inv = b
        .node
        .list_invoices()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.payment_hash == inv.payment_hash)
        .unwrap();
    assert_eq!(inv.status, fulmen_store::InvoiceStatus::Unpaid);
    wait_event(&mut b.events, |e| {
        matches!(e, NodeEvent::ChannelSettled { .. }).then_some(())
    })
    .await;
    let ch = a.node.list_channels().await.unwrap();
    assert_eq!(ch[0].remote_balance, Msat(0), "nothing moved");
    for n in [a, b] {
        n.stop().await;
    }
}
