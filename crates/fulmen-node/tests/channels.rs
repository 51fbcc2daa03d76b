//! Two nodes in one process over real TCP, on one in-memory chain: open a
//! channel (mine for depth), pay invoices both ways, keysend, a payment the
//! payee refuses, restart a node and resume with `channel_reestablish`,
//! then close cooperatively (both balances land in the wallets) and force
//! close a second channel (our commitment confirms).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use bitcoin::{Transaction, Txid};
use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig};
use fulmen_node::{NodeEvent, PayRequest, PaymentStatusKind};
use fulmen_types::{ChannelId, Msat, PaymentSecret, Sat};
use support::*;

/// The transaction `txid` in the chain's last `depth` blocks.
fn find_tx(chain: &EmbeddedChain, txid: Txid, depth: u32) -> Transaction {
    let tip = chain.tip().unwrap().height;
    for h in (tip.saturating_sub(depth)..=tip).rev() {
        let block = chain.block_at(h).unwrap().unwrap();
        if let Some(tx) = block.txdata.into_iter().find(|t| t.compute_txid() == txid) {
            return tx;
        }
    }
    panic!("{txid} not in the last {depth} blocks");
}

/// Waits until the wallet's confirmed balance is `sat`.
async fn wait_confirmed(n: &mut TestNode, sat: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while confirmed(n).await != sat {
        assert!(
            tokio::time::Instant::now() < deadline,
            "balance {} never became {sat}",
            confirmed(n).await
        );
        wait_event(&mut n.events, |e| {
            matches!(e, NodeEvent::ChainSynced { .. }).then_some(())
        })
        .await;
    }
}

/// Waits until neither side has an HTLC in flight on the channel (the last
/// payment's removal is irrevocably committed on both sides).
async fn settled(a: &TestNode, b: &TestNode, id: ChannelId) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if channel(a, id).await.htlcs == 0 && channel(b, id).await.htlcs == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "HTLCs never settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

async fn pay(payer: &TestNode, payee: &TestNode, msat: u64, label: &str) {
    let inv = payee
        .node
        .create_invoice(Some(Msat(msat)), label, "test")
        .await
        .unwrap();
    let out = payer.node.pay_invoice(&inv.bolt11, None).await.unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
    assert_eq!(out.preimage.unwrap().payment_hash(), inv.payment_hash);
    assert_eq!(out.amount, Msat(msat));
    assert_eq!(out.fee, Msat(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_pay_restart_and_close() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let cfg = |c: &EmbeddedChain| {
        let c = c.clone();
        move |dir: &std::path::Path| config(dir, Some(c), fast_peers())
    };
    let mut a = start_with(cfg(&chain)).await;
    let mut b = start_with(cfg(&chain)).await;
    a.node.mine(1, None).await.unwrap();
    mine(&a, 100).await;
    wait_confirmed(&mut a, 50 * COIN).await;
    a.node.connect(&target(&b)).await.unwrap();

    // Open: answered once the funding transaction is broadcast.
    let opened = a
        .node
        .open_channel(b.id(), Sat(1_000_000), Msat(0), false)
        .await
        .unwrap();
    let id = opened.channel_id;
    let funding = chain.tx_status(&opened.funding_txid).unwrap();
    assert!(
        !matches!(funding, fulmen_chain::TxStatus::Unknown),
        "{funding:?}"
    );
    assert_eq!(channel(&a, id).await.state, "opening");
    mine(&a, 3).await;
    wait_ready(&mut a, id).await;
    wait_ready(&mut b, id).await;
    let info = channel(&a, id).await;
    assert_eq!(info.state, "normal");
    assert_eq!(info.capacity, Sat(1_000_000));
    assert_eq!(info.local_balance, Msat(1_000_000_000));
    assert_eq!(info.funder_is_local, Some(true));
    assert!(info.short_channel_id.is_some());
    assert_eq!(channel(&b, id).await.remote_balance, Msat(1_000_000_000));

    // Invoices both ways, then keysend.
    pay(&a, &b, 50_000_000, "b1").await;
    pay(&b, &a, 20_000_000, "a1").await;
    let ks = a.node.keysend(b.id(), Msat(1_000_000)).await.unwrap();
    assert_eq!(ks.status, PaymentStatusKind::Complete);
    let received = b.node.list_invoices().await.unwrap();
    let keysend = received
        .iter()
        .find(|i| i.payment_hash == ks.payment_hash)
        .expect("keysend receipt");
    assert_eq!(keysend.status, fulmen_store::InvoiceStatus::Paid);
    assert_eq!(keysend.amount_received, Some(Msat(1_000_000)));
    settled(&a, &b, id).await;
    assert_eq!(channel(&a, id).await.local_balance, Msat(969_000_000));
    assert_eq!(channel(&b, id).await.local_balance, Msat(31_000_000));

    // The payee refuses a wrong payment secret: failed, nothing moved.
    let inv = b
        .node
        .create_invoice(Some(Msat(5_000)), "b2", "wrong secret")
        .await
        .unwrap();
    let bad = a
        .node
        .pay(PayRequest {
            destination: b.id(),
            amount: Msat(5_000),
            payment_hash: inv.payment_hash,
            payment_secret: Some(PaymentSecret([9; 32])),
            keysend_preimage: None,
            min_final_cltv_expiry_delta: 80,
            bolt11: None,
            route_hints: Vec::new(),
            mpp: false,
        })
        .await
        .unwrap();
    assert_eq!(bad.status, PaymentStatusKind::Failed);
    assert_eq!(
        bad.failure.as_deref(),
        Some("incorrect_or_unknown_payment_details")
    );
    // Paying the invoice itself afterwards (a retry) works.
    let good = a.node.pay_invoice(&inv.bolt11, None).await.unwrap();
    assert_eq!(good.status, PaymentStatusKind::Complete);
    // A paid invoice is not paid twice.
    assert!(a.node.pay_invoice(&inv.bolt11, None).await.is_err());
    settled(&a, &b, id).await;
    let payments = a.node.list_payments().await.unwrap();
    assert_eq!(payments.len(), 3);

    // Restart B: the channel is loaded from the store and resumes.
    let dir = b.stop_keep().await;
    let mut b = start_in(dir, cfg(&chain)).await;
    a.node.connect(&target(&b)).await.unwrap();
    wait_reestablished(&mut a, id).await;
    wait_reestablished(&mut b, id).await;
    assert_eq!(channel(&b, id).await.local_balance, Msat(31_005_000));
    pay(&a, &b, 7_000_000, "b3").await;
    pay(&b, &a, 3_000_000, "a2").await;

    // Cooperative close: both balances land in the wallets.
    settled(&a, &b, id).await;
    let a_local = channel(&a, id).await.local_balance;
    let b_local = channel(&b, id).await.local_balance;
    assert_eq!(b_local, Msat(35_005_000));
    assert_eq!(a_local.0 + b_local.0, 1_000_000_000);
    let a_before = confirmed(&a).await;
    assert_eq!(confirmed(&b).await, 0);
    let txid = a.node.close_channel(id, false).await.unwrap();
    mine(&a, 1).await;
    let close = find_tx(&chain, txid, 1);
    assert_eq!(close.input.len(), 1);
    let funding_outpoint = close.input[0].previous_output;
    assert_eq!(funding_outpoint.txid, opened.funding_txid);
    let values: Vec<u64> = close.output.iter().map(|o| o.value.to_sat()).collect();
    let fee = 1_000_000 - values.iter().sum::<u64>();
    assert!(fee > 0 && fee < 10_000, "closing fee {fee}");
    // The funder pays the fee; the fundee gets its balance exactly.
    assert!(values.contains(&(b_local.0 / 1000)), "{values:?}");
    assert!(values.contains(&(a_local.0 / 1000 - fee)), "{values:?}");
    wait_confirmed(&mut b, b_local.0 / 1000).await;
    wait_confirmed(&mut a, a_before + a_local.0 / 1000 - fee).await;
    let closed = channel(&a, id).await;
    assert_eq!(closed.state, "closed");
    assert_eq!(closed.close_txid, Some(txid));

    // Force close of a second channel: our commitment confirms, with the
    // peer's balance in its own output.
    let second = a
        .node
        .open_channel(b.id(), Sat(500_000), Msat(0), false)
        .await
        .unwrap();
    let id2 = second.channel_id;
    mine(&a, 3).await;
    wait_ready(&mut a, id2).await;
    wait_ready(&mut b, id2).await;
    pay(&a, &b, 100_000_000, "b4").await;
    let txid = a.node.close_channel(id2, true).await.unwrap();
    mine(&a, 1).await;
    let commitment = find_tx(&chain, txid, 1);
    assert_eq!(
        commitment.input[0].previous_output.txid,
        second.funding_txid
    );
    assert!(commitment
        .output
        .iter()
        .any(|o| o.value.to_sat() == 100_000));
    assert_eq!(channel(&a, id2).await.state, "closing");
    wait_event(&mut b.events, |e| match e {
        NodeEvent::ChannelClosed { channel_id, .. } if *channel_id == id2 => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(channel(&b, id2).await.state, "closing");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funder_restarted_before_confirmation_gets_the_channel_ready() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let cfg = |c: &EmbeddedChain| {
        let c = c.clone();
        move |dir: &std::path::Path| config(dir, Some(c), fast_peers())
    };
    let mut a = start_with(cfg(&chain)).await;
    let b = start_with(cfg(&chain)).await;
    a.node.mine(1, None).await.unwrap();
    mine(&a, 100).await;
    wait_confirmed(&mut a, 50 * COIN).await;
    a.node.connect(&target(&b)).await.unwrap();
    let opened = a
        .node
        .open_channel(b.id(), Sat(300_000), Msat(10_000_000), true)
        .await
        .unwrap();
    let id = opened.channel_id;
    // A stops; the funding confirms while it is away.
    let dir = a.stop_keep().await;
    mine(&b, 3).await;
    // B is down while A restarts (A would reconnect to it at once), so what
    // A restored from its store can be read: the channel is still opening.
    let dir_b = b.stop_keep().await;
    let mut a = start_in(dir, cfg(&chain)).await;
    assert_eq!(channel(&a, id).await.state, "opening");
    let mut b = start_in(dir_b, cfg(&chain)).await;
    a.node.connect(&target(&b)).await.unwrap();
    wait_ready(&mut a, id).await;
    wait_ready(&mut b, id).await;
    let info = channel(&a, id).await;
    assert_eq!(info.state, "normal");
    // The push went to B at opening.
    assert_eq!(info.local_balance, Msat(290_000_000));
    assert_eq!(channel(&b, id).await.local_balance, Msat(10_000_000));
    pay(&b, &a, 1_000_000, "a1").await;
    a.stop().await;
    b.stop().await;
}

/// Two nodes with a normal channel A → B of `sat`.
async fn open_pair(sat: u64) -> (EmbeddedChain, TestNode, TestNode, ChannelId) {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let mut a = start_node(Some(chain.clone()), fast_peers()).await;
    let mut b = start_node(Some(chain.clone()), fast_peers()).await;
    a.node.mine(1, None).await.unwrap();
    mine(&a, 100).await;
    wait_confirmed(&mut a, 50 * COIN).await;
    a.node.connect(&target(&b)).await.unwrap();
    let id = a
        .node
        .open_channel(b.id(), Sat(sat), Msat(0), false)
        .await
        .unwrap()
        .channel_id;
    mine(&a, 3).await;
    wait_ready(&mut a, id).await;
    wait_ready(&mut b, id).await;
    (chain, a, b, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payee_enforces_the_final_node_checks() {
    let (_chain, a, b, id) = open_pair(1_000_000).await;
    let inv = b
        .node
        .create_invoice(Some(Msat(100_000)), "checked", "checks")
        .await
        .unwrap();
    let parsed = fulmen_onion::Invoice::parse(&inv.bolt11).unwrap();
    let good = PayRequest {
        destination: b.id(),
        amount: Msat(100_000),
        payment_hash: inv.payment_hash,
        payment_secret: Some(parsed.payment_secret()),
        keysend_preimage: None,
        min_final_cltv_expiry_delta: 80,
        bolt11: None,
        route_hints: Vec::new(),
        mpp: false,
    };
    let refused = |r: PayRequest| {
        let a = a.node.clone();
        async move {
            let out = a.pay(r).await.unwrap();
            assert_eq!(out.status, PaymentStatusKind::Failed, "{out:?}");
            out.failure.unwrap()
        }
    };
    let unknown = "incorrect_or_unknown_payment_details";
    // Too little, more than twice the amount.
    let mut r = good.clone();
    r.amount = Msat(99_999);
    assert_eq!(refused(r).await, unknown);
    let mut r = good.clone();
    r.amount = Msat(200_001);
    assert_eq!(refused(r).await, unknown);
    // An expiry too close to the chain tip for the invoice's delta.
    let mut r = good.clone();
    r.min_final_cltv_expiry_delta = 40;
    assert_eq!(refused(r).await, unknown);
    // No payment secret.
    let mut r = good.clone();
    r.payment_secret = None;
    assert_eq!(refused(r).await, unknown);
    // A hash no invoice has.
    let mut r = good.clone();
    r.payment_hash = fulmen_types::PaymentHash([7; 32]);
    assert_eq!(refused(r).await, unknown);
    // A keysend whose preimage does not hash to the payment hash.
    let mut r = good.clone();
    r.payment_secret = None;
    r.keysend_preimage = Some(fulmen_types::PaymentPreimage([1; 32]));
    assert_eq!(refused(r).await, unknown);
    // Nothing moved; the invoice is still unpaid; the right payment works
    // (twice the amount is still accepted).
    settled(&a, &b, id).await;
    assert_eq!(channel(&a, id).await.local_balance, Msat(1_000_000_000));
    let mut r = good.clone();
    r.amount = Msat(200_000);
    let out = a.node.pay(r).await.unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete);
    settled(&a, &b, id).await;
    assert_eq!(channel(&b, id).await.local_balance, Msat(200_000));
    let paid = b.node.list_invoices().await.unwrap();
    assert_eq!(paid[0].status, fulmen_store::InvoiceStatus::Paid);
    assert_eq!(paid[0].amount_received, Some(Msat(200_000)));
    // Every attempt is one payment record, now complete.
    let payments = a.node.list_payments().await.unwrap();
    assert_eq!(
        payments.len(),
        2,
        "the invoice's hash (retried), the unknown hash"
    );
    assert!(payments.iter().any(|p| p.payment_hash == inv.payment_hash
        && p.status == fulmen_store::PaymentStatus::Succeeded));
    a.stop().await;
    b.stop().await;
}

/// BOLT 2 `update_fee` from the daemon: when the chain's estimate moves,
/// the funder proposes it for the anchor channel's commitment (up to 10
/// sat/vbyte: CPFP covers the rest) and both sides sign at the new
/// feerate; a payment still goes through after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funder_follows_the_chain_feerate_with_update_fee() {
    let (chain, a, b, id) = open_pair(1_000_000).await;
    assert_eq!(channel(&a, id).await.feerate_per_kw, Some(500));
    let both_at = |rate: u32| {
        let (a, b) = (&a, &b);
        async move {
            until(&format!("both commitments at {rate} sat/kw"), || async {
                (channel(a, id).await.feerate_per_kw == Some(rate)
                    && channel(b, id).await.feerate_per_kw == Some(rate)
                    && htlcs(a, id).await == 0)
                    .then_some(())
            })
            .await
        }
    };
    chain
        .set_fee_rate(bitcoin::FeeRate::from_sat_per_kwu(1_000))
        .unwrap();
    mine(&a, 1).await;
    both_at(1_000).await;
    chain
        .set_fee_rate(bitcoin::FeeRate::from_sat_per_kwu(20_000))
        .unwrap();
    mine(&a, 1).await;
    both_at(2_500).await;
    // A small wobble is not worth a signature round.
    chain
        .set_fee_rate(bitcoin::FeeRate::from_sat_per_kwu(2_200))
        .unwrap();
    mine(&a, 1).await;
    pay(&a, &b, 10_000_000, "after").await;
    settled(&a, &b, id).await;
    assert_eq!(channel(&b, id).await.feerate_per_kw, Some(2_500));
    assert_eq!(a.node.feerate().await.unwrap(), 2_200);
    // The estimator fails: the last estimate stays, no update_fee to a
    // floor.
    chain.set_fee_estimates(false).unwrap();
    mine(&a, 2).await;
    let tip = chain.tip().unwrap().height;
    until("A at the tip", || async {
        (a.node.block_height() == tip).then_some(())
    })
    .await;
    pay(&a, &b, 10_000_000, "no estimate").await;
    settled(&a, &b, id).await;
    assert_eq!(a.node.feerate().await.unwrap(), 2_200);
    assert_eq!(channel(&a, id).await.feerate_per_kw, Some(2_500));
    a.stop().await;
    b.stop().await;
}
