//! BOLT 5 upstream safety for a forwarding node, end to end: three nodes
//! on one in-memory chain, A → B → C with a direct channel A → C beside
//! it. A forwarded HTLC that C claims on chain with its preimage is
//! settled upstream by B with that preimage; one whose downstream peer is
//! silent is timed out on chain by B in time, and failed upstream before
//! A would have to close its channel with B.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig, TxStatus};
use fulmen_graph::router::RouteHop;
use fulmen_node::{ForwardingPolicy, PayRequest, PaymentStatusKind};
use fulmen_store::ForwardStatus;
use fulmen_types::{ChannelId, Msat, Sat, ShortChannelId};
use support::*;

/// What C takes as the final hop (blocks before the expiry).
const MIN_FINAL: u16 = 18;
/// Each payment part, in sat (the invoice asks twice that).
const PART: u64 = 20_000;

/// A, B and C with channels A → B, A → C and B → C of [`CHANNEL`] sat.
struct Triangle {
    a: TestNode,
    b: TestNode,
    c: TestNode,
    ab: ChannelId,
    bc: ChannelId,
    scid_ab: ShortChannelId,
    scid_ac: ShortChannelId,
    scid_bc: ShortChannelId,
}

async fn triangle(chain: &EmbeddedChain) -> Triangle {
    let c_cfg = {
        let c = chain.clone();
        move |dir: &std::path::Path| {
            let mut config = config(dir, Some(c), fast_peers());
            config.channels.min_final_cltv_expiry_delta = MIN_FINAL;
            config
        }
    };
    let a = start_with(cfg(chain)).await;
    let b = start_with(cfg(chain)).await;
    let c = start_with(c_cfg).await;
    // Coins for A (two) and B to open channels, for B and C to fund
    // their HTLC transactions.
    for n in [&a, &a, &b, &c] {
        n.node.mine(1, None).await.unwrap();
    }
    mine(&a, 100).await;
    wait_balance(&a, 100 * COIN).await;
    wait_balance(&b, 50 * COIN).await;
    wait_balance(&c, 50 * COIN).await;
    a.node.connect(&target(&b)).await.unwrap();
    a.node.connect(&target(&c)).await.unwrap();
    b.node.connect(&target(&c)).await.unwrap();
    let open = |from: &TestNode, to: &TestNode| {
        let (node, to) = (from.node.clone(), to.id());
        async move {
            node.open_channel(to, Sat(CHANNEL), Msat(0), false)
                .await
                .unwrap()
                .channel_id
        }
    };
    let ab = open(&a, &b).await;
    let ac = open(&a, &c).await;
    let bc = open(&b, &c).await;
    mine(&a, 3).await;
    let scid_ab = wait_normal(&a, ab).await;
    let scid_ac = wait_normal(&a, ac).await;
    let scid_bc = wait_normal(&b, bc).await;
    wait_normal(&b, ab).await;
    wait_normal(&c, ac).await;
    wait_normal(&c, bc).await;
    Triangle {
        a,
        b,
        c,
        ab,
        bc,
        scid_ab,
        scid_ac,
        scid_bc,
    }
}

/// A sends one [`PART`] of `request` through B to C, expiring at C at
/// `expiry`, and waits until B's commitment with C carries it. Returns
/// the call and B's fee.
async fn send_through_b(t: &Triangle, request: &PayRequest, expiry: u32) -> (PayCall, Msat) {
    let policy = ForwardingPolicy::default();
    let fee = policy.fee_for(Msat(PART * 1000)).unwrap();
    let via_b = RouteHop {
        node_id: t.b.id(),
        short_channel_id: t.scid_ab,
        amount: Msat(PART * 1000 + fee.0),
        cltv_expiry: expiry + u32::from(policy.cltv_expiry_delta),
        fee,
        cltv_expiry_delta: policy.cltv_expiry_delta,
    };
    let before = channel(&t.b, t.bc).await.local_balance;
    let call = send_over(
        &t.a,
        request,
        vec![via_b, final_hop(&t.c, t.scid_bc, PART, expiry)],
    );
    until("the part in B's commitment with C", || async {
        (channel(&t.b, t.bc).await.local_balance == Msat(before.0 - PART * 1000)).then_some(())
    })
    .await;
    (call, fee)
}

/// The commitment `n` broadcast closing `id`, once mined.
async fn mine_commitment(
    chain: &EmbeddedChain,
    n: &TestNode,
    id: ChannelId,
) -> bitcoin::Transaction {
    let txid = until("the commitment", || async {
        channel(n, id).await.close_txid
    })
    .await;
    until("the commitment broadcast", || async {
        (chain.tx_status(&txid).unwrap() == TxStatus::Mempool).then_some(())
    })
    .await;
    mine(n, 1).await;
    tip_tx(chain, txid)
}

/// B's forward, once it has one.
async fn forward(b: &TestNode) -> fulmen_store::Forward {
    let forwards = b.node.list_forwards().await.unwrap();
    assert_eq!(forwards.len(), 1, "{forwards:?}");
    forwards.into_iter().next().unwrap()
}

/// "If a forwarded HTLC is claimed on chain downstream with a preimage,
/// settle upstream with it". A pays C in two parts, one through B, one
/// over the direct channel; C holds the first until the second arrives.
/// B is away when C releases the preimage, so C's fulfil never reaches
/// it; 18 blocks before the HTLC's expiry C goes on chain and claims it
/// with an HTLC-success transaction. When B comes back it reads the
/// preimage from that transaction and settles the incoming HTLC with A:
/// B keeps its fee and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_claimed_on_chain_downstream_is_settled_upstream() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let t = triangle(&chain).await;
    let request = part_request(&t.c, PART, "forwarded").await;
    let expiry = t.b.node.block_height() + 30;
    let (first, fee) = send_through_b(&t, &request, expiry).await;
    let Triangle {
        a, b, c, ab, bc, ..
    } = t;
    let b_dir = b.stop_keep().await;

    // The second part: C has the whole payment and releases the preimage.
    let second = send_over(&a, &request, vec![final_hop(&c, t.scid_ac, PART, expiry)]);
    let out = second.await.unwrap().unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
    let out = first.await.unwrap().unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
    assert_eq!(
        htlcs(&a, ab).await,
        1,
        "the first part still in flight to B"
    );

    // C's fulfil cannot reach B: C goes on chain and takes the HTLC.
    let tip = chain.tip().unwrap().height;
    mine(&a, expiry - u32::from(MIN_FINAL) - tip).await;
    let commitment = mine_commitment(&chain, &c, bc).await;
    let success = spender(&chain, output_of(&commitment, PART)).await;
    mine(&a, 1).await;
    wait_confirmed(&chain, &success).await;

    // B comes back, reads the preimage and settles with A.
    let b = start_in(b_dir, cfg(&chain)).await;
    a.node.connect(&target(&b)).await.unwrap();
    settled(&a, &b, ab).await;
    let f = forward(&b).await;
    assert_eq!(f.status, ForwardStatus::Settled);
    assert_eq!(f.fee(), Some(fee));
    assert_eq!(
        channel(&b, ab).await.local_balance,
        Msat(PART * 1000 + fee.0),
        "B was paid upstream"
    );
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

/// "If its timeout nears and the downstream peer is silent, go on chain
/// in time". C goes away holding the part B forwarded. Two blocks after
/// the HTLC's expiry B goes on chain with its commitment and its
/// HTLC-timeout transaction; six blocks after that one confirmed, B fails
/// the incoming HTLC back to A — long before A's own deadline (B's
/// `cltv_expiry_delta` of 40 blocks later), so A's channel with B stays
/// open and A's payment ends failed, not stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_whose_downstream_is_silent_is_timed_out_on_chain_and_failed_upstream() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let t = triangle(&chain).await;
    let request = part_request(&t.c, PART, "silent").await;
    let a_balance = channel(&t.a, t.ab).await.local_balance;
    let expiry = t.b.node.block_height() + 30;
    let (call, _) = send_through_b(&t, &request, expiry).await;
    let Triangle {
        a, b, c, ab, bc, ..
    } = t;
    c.stop().await;

    let tip = chain.tip().unwrap().height;
    mine(&a, expiry + 2 - tip).await;
    let commitment = mine_commitment(&chain, &b, bc).await;
    let timeout = spender(&chain, output_of(&commitment, PART)).await;
    assert_eq!(timeout.lock_time.to_consensus_u32(), expiry);
    mine(&a, 1).await;
    wait_confirmed(&chain, &timeout).await;
    assert_eq!(forward(&b).await.status, ForwardStatus::Offered);

    // Deep enough (6 confirmations): failed upstream.
    mine(&a, 5).await;
    settled(&a, &b, ab).await;
    let out = call.await.unwrap().unwrap();
    assert_eq!(out.status, PaymentStatusKind::Failed, "{out:?}");
    assert_eq!(forward(&b).await.status, ForwardStatus::Failed);
    // In time: past the block where A would have gone on chain for the
    // upstream HTLC (its expiry, 40 blocks later, plus A's 2 blocks of
    // grace), A's channel with B still runs and A lost nothing.
    let tip = chain.tip().unwrap().height;
    mine(&a, expiry + 40 + 3 - tip).await;
    until("A at the tip", || async {
        (a.node.block_height() == expiry + 43).then_some(())
    })
    .await;
    let ab_at_a = channel(&a, ab).await;
    assert_eq!(ab_at_a.phase, "normal", "{ab_at_a:?}");
    assert_eq!(ab_at_a.close_txid, None);
    assert_eq!(ab_at_a.local_balance, a_balance, "A lost nothing");
    a.stop().await;
    b.stop().await;
}
