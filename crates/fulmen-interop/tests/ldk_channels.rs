//! Channels between a Fulmen node and an ldk-node 0.7 (an independent Lightning implementation)
//! over loopback TCP, both on one chain: Fulmen's embedded chain, which Fulmen uses directly and
//! which the chain server serves over bitcoind-style JSON-RPC to ldk-node
//! (`set_chain_source_bitcoind_rpc`).
//!
//! Channel type: both sides default to `option_anchors_zero_fee_htlc_tx`. ldk-node keeps an
//! on-chain reserve (`AnchorChannelsConfig::per_channel_reserve_sats`, 25,000 sat) per anchor
//! channel with a peer it does not trust and refuses to open or accept anchor channels without
//! it, so the tests fund ldk-node's wallet first; no `trusted_peers_no_reserve` is needed.
//!
//! Every wait has a deadline; on a timeout the tail of ldk-node's log (gossip level, in the
//! node's temporary directory; `FULMEN_INTEROP_KEEP=1` keeps it) is printed. Fulmen logs
//! through `tracing` (`RUST_LOG`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod ldk_support;

use std::str::FromStr;

use bitcoin::hashes::Hash;
use fulmen_types::Msat;
use ldk_node::lightning_invoice::Bolt11Invoice;
use ldk_node::Event;
use ldk_support::*;

/// Fulmen opens an anchor channel to ldk-node; after the funding reaches LDK's
/// `minimum_depth` both sides see it usable. BOLT 11 payments both ways. Fulmen closes it
/// cooperatively: both balances land in the on-chain wallets.
#[test]
fn fulmen_opens_to_ldk_and_pays_both_ways() {
    let mut net = Net::start("fulmen-opens");
    let opened = net.fulmen_open(1_000_000);
    let id = opened.channel_id;
    let ldk_channel = net.ldk_channel(&opened);
    assert!(!ldk_channel.is_outbound);
    assert_eq!(ldk_channel.channel_value_sats, 1_000_000);
    let info = net.fulmen_channel(id);
    assert_eq!(info.funder_is_local, Some(true));
    net.check_balances(id, 1_000_000_000);

    // Fulmen pays an LDK invoice, then LDK pays a Fulmen invoice.
    net.fulmen_pays_ldk(50_000_000);
    net.check_balances(id, 950_000_000);
    net.ldk_pays_fulmen(20_000_000, "f1");
    net.check_balances(id, 970_000_000);
    net.fulmen_pays_ldk(1_234_567);
    net.ldk_pays_fulmen(7_654_321, "f2");
    net.check_balances(id, 970_000_000 - 1_234_567 + 7_654_321);

    let before = net.onchain_balances();
    let txid = net
        .block_on(net.fulmen.close_channel(id, false))
        .unwrap_or_else(|e| net.fail(&format!("closechannel failed: {e}")));
    net.mine_mutual_close(id, txid, before);
    net.stop();
}

/// ldk-node opens an anchor channel to Fulmen; after the funding reaches Fulmen's
/// `minimum_depth` both sides see it usable. BOLT 11 payments both ways. ldk-node closes it
/// cooperatively: both balances land in the on-chain wallets.
#[test]
fn ldk_opens_to_fulmen_and_pays_both_ways() {
    let mut net = Net::start("ldk-opens");
    let id = net.ldk_open(800_000);
    let ldk_channel = net.ldk_channel_by_id(id).unwrap();
    assert!(ldk_channel.is_outbound);
    assert_eq!(net.fulmen_channel(id).funder_is_local, Some(false));
    net.check_balances(id, 0);

    net.ldk_pays_fulmen(30_000_000, "f1");
    net.check_balances(id, 30_000_000);
    net.fulmen_pays_ldk(10_000_000);
    net.check_balances(id, 20_000_000);

    let before = net.onchain_balances();
    let user_channel_id = net.ldk_user_channel_id(id);
    net.ldk
        .close_channel(&user_channel_id, net.fulmen_pk())
        .unwrap_or_else(|e| net.fail(&format!("ldk close_channel failed: {e:?}")));
    let mut txid = None;
    net.wait("Fulmen to see the mutual close", || {
        txid = net.fulmen_channel(id).close_txid;
        txid.is_some()
    });
    net.mine_mutual_close(id, txid.unwrap(), before);
    net.stop();
}

/// A payment interrupted by a disconnection completes after `channel_reestablish`: the
/// connection dropped (from Fulmen's side) while ldk-node holds an HTLC and claimed while
/// disconnected; dropped right after Fulmen sends `update_add_htlc`; dropped from ldk-node's
/// side right after it sends one; dropped from Fulmen's side right after it receives one.
#[test]
fn payments_complete_across_disconnections() {
    let mut net = Net::start("disconnects");
    let opened = net.fulmen_open(1_000_000);
    let id = opened.channel_id;
    net.fulmen_pays_ldk(100_000_000);
    let mut fulmen_msat = 900_000_000;
    net.check_balances(id, fulmen_msat);

    // 1. ldk-node holds the HTLC (an invoice for a hash it does not know the preimage of);
    //    the connection drops; ldk-node claims at once (so, most often, while disconnected);
    //    the fulfill goes out after the reestablish.
    let preimage = [0x11; 32];
    let hash = bitcoin::hashes::sha256::Hash::hash(&preimage).to_byte_array();
    let invoice = net
        .ldk
        .bolt11_payment()
        .receive_for_hash(
            2_000_000,
            &description(),
            3600,
            ldk_node::lightning_types::payment::PaymentHash(hash),
        )
        .unwrap();
    let pay = {
        let fulmen = net.fulmen.clone();
        let bolt11 = invoice.to_string();
        net.rt
            .spawn(async move { fulmen.pay_invoice(&bolt11, None).await })
    };
    let claimable = net.ldk_event("PaymentClaimable", |e| match e {
        Event::PaymentClaimable {
            payment_hash,
            claimable_amount_msat,
            ..
        } if payment_hash.0 == hash => Some(*claimable_amount_msat),
        _ => None,
    });
    assert_eq!(claimable, 2_000_000);
    net.fulmen_drops_connection();
    net.ldk
        .bolt11_payment()
        .claim_for_hash(
            ldk_node::lightning_types::payment::PaymentHash(hash),
            claimable,
            ldk_node::lightning_types::payment::PaymentPreimage(preimage),
        )
        .unwrap();
    let outcome = net.block_on(pay).unwrap().unwrap();
    net.check_fulmen_paid_ldk(&invoice, outcome);
    net.wait_reconnected(id);
    fulmen_msat -= 2_000_000;
    net.check_balances(id, fulmen_msat);

    // 2. Fulmen pays; the connection drops as soon as the HTLC is in Fulmen's channel (its
    //    update_add_htlc and commitment_signed on their way or just delivered).
    for round in 0..3u64 {
        let msat = 3_000_000 + round;
        let invoice = net.ldk_invoice(msat);
        let pay = {
            let fulmen = net.fulmen.clone();
            let bolt11 = invoice.to_string();
            net.rt
                .spawn(async move { fulmen.pay_invoice(&bolt11, None).await })
        };
        net.wait("Fulmen's HTLC", || {
            net.fulmen_channel(id).htlcs > 0 || pay.is_finished()
        });
        net.fulmen_drops_connection();
        let outcome = net.block_on(pay).unwrap().unwrap();
        net.check_fulmen_paid_ldk(&invoice, outcome);
        net.wait_reconnected(id);
        fulmen_msat -= msat;
        net.check_balances(id, fulmen_msat);
    }

    // 3. ldk-node pays and at once disconnects Fulmen (ldk-node's `disconnect`); Fulmen
    //    reconnects.
    for round in 0..3u64 {
        let msat = 4_000_000 + round;
        let created = net
            .block_on(net.fulmen.create_invoice(
                Some(Msat(msat)),
                &format!("ldk-drop-{round}"),
                "interop",
            ))
            .unwrap();
        let invoice = Bolt11Invoice::from_str(&created.bolt11).unwrap();
        let payment_id = net.ldk.bolt11_payment().send(&invoice, None).unwrap();
        net.ldk.disconnect(net.fulmen_pk()).unwrap();
        net.ldk_payment_successful(payment_id, created.payment_hash);
        net.wait_fulmen_invoice_paid(created.payment_hash, msat);
        net.wait_reconnected(id);
        fulmen_msat += msat;
        net.check_balances(id, fulmen_msat);
    }

    // 4. ldk-node pays; Fulmen drops the connection as soon as the HTLC reaches its channel.
    for round in 0..3u64 {
        let msat = 5_000_000 + round;
        let created = net
            .block_on(net.fulmen.create_invoice(
                Some(Msat(msat)),
                &format!("fulmen-drop-{round}"),
                "interop",
            ))
            .unwrap();
        let invoice = Bolt11Invoice::from_str(&created.bolt11).unwrap();
        let payment_id = net.ldk.bolt11_payment().send(&invoice, None).unwrap();
        net.wait("the HTLC at Fulmen", || net.fulmen_channel(id).htlcs > 0);
        net.fulmen_drops_connection();
        net.ldk_payment_successful(payment_id, created.payment_hash);
        net.wait_fulmen_invoice_paid(created.payment_hash, msat);
        net.wait_reconnected(id);
        fulmen_msat += msat;
        net.check_balances(id, fulmen_msat);
    }

    // 5. Fulmen stops while ldk-node holds its HTLC; ldk-node claims while Fulmen is down;
    //    Fulmen restarts from its store, reconnects, and the payment completes.
    let preimage = [0x22; 32];
    let hash = bitcoin::hashes::sha256::Hash::hash(&preimage).to_byte_array();
    let invoice = net
        .ldk
        .bolt11_payment()
        .receive_for_hash(
            6_000_000,
            &description(),
            3600,
            ldk_node::lightning_types::payment::PaymentHash(hash),
        )
        .unwrap();
    let pay = {
        let fulmen = net.fulmen.clone();
        let bolt11 = invoice.to_string();
        net.rt
            .spawn(async move { fulmen.pay_invoice(&bolt11, None).await })
    };
    let claimable = net.ldk_event("PaymentClaimable", |e| match e {
        Event::PaymentClaimable {
            payment_hash,
            claimable_amount_msat,
            ..
        } if payment_hash.0 == hash => Some(*claimable_amount_msat),
        _ => None,
    });
    net.restart_fulmen_with(|net| {
        net.ldk
            .bolt11_payment()
            .claim_for_hash(
                ldk_node::lightning_types::payment::PaymentHash(hash),
                claimable,
                ldk_node::lightning_types::payment::PaymentPreimage(preimage),
            )
            .unwrap();
    });
    // The caller of the first run learns nothing more (its node stopped).
    let _ = net.block_on(pay);
    net.wait_reconnected(id);
    net.wait("Fulmen's payment to succeed after its restart", || {
        net.block_on(net.fulmen.list_payments())
            .unwrap()
            .iter()
            .any(|p| {
                p.payment_hash.0 == hash
                    && p.status == fulmen_store::PaymentStatus::Succeeded
                    && p.preimage.map(|p| p.0) == Some(preimage)
            })
    });
    let received = net.ldk_event("PaymentReceived", |e| match e {
        Event::PaymentReceived {
            payment_hash,
            amount_msat,
            ..
        } if payment_hash.0 == hash => Some(*amount_msat),
        _ => None,
    });
    assert_eq!(received, 6_000_000);
    fulmen_msat -= 6_000_000;
    net.check_balances(id, fulmen_msat);

    // 6. ldk-node restarts; the channel resumes; payments both ways.
    net.restart_ldk();
    net.wait_reconnected(id);
    net.fulmen_pays_ldk(1_000_000);
    net.ldk_pays_fulmen(2_000_000, "after-ldk-restart");
    fulmen_msat = fulmen_msat - 1_000_000 + 2_000_000;
    net.check_balances(id, fulmen_msat);
    net.stop();
}

/// Keysend (spontaneous) payments and invoices without an amount, both ways, on a channel
/// ldk-node opened.
#[test]
fn keysend_both_ways() {
    let mut net = Net::start("keysend");
    let id = net.ldk_open(500_000);
    let payment_id = net
        .ldk
        .spontaneous_payment()
        .send(25_000_000, net.fulmen_pk(), None)
        .unwrap_or_else(|e| net.fail(&format!("ldk keysend failed: {e:?}")));
    let hash = net.ldk_event("PaymentSuccessful", |e| match e {
        Event::PaymentSuccessful {
            payment_id: Some(p),
            payment_hash,
            ..
        } if *p == payment_id => Some(*payment_hash),
        Event::PaymentFailed {
            payment_id: Some(p),
            reason,
            ..
        } if *p == payment_id => panic!("ldk-node's keysend failed: {reason:?}"),
        _ => None,
    });
    net.wait_fulmen_invoice_paid(fulmen_types::PaymentHash(hash.0), 25_000_000);
    net.check_balances(id, 25_000_000);

    let outcome = net
        .block_on(net.fulmen.keysend(net.ldk_id(), Msat(5_000_000)))
        .unwrap();
    assert_eq!(
        outcome.status,
        fulmen_node::PaymentStatusKind::Complete,
        "{outcome:?}"
    );
    let received = net.ldk_event("PaymentReceived", |e| match e {
        Event::PaymentReceived {
            payment_hash,
            amount_msat,
            ..
        } if payment_hash.0 == outcome.payment_hash.0 => Some(*amount_msat),
        _ => None,
    });
    assert_eq!(received, 5_000_000);
    net.check_balances(id, 20_000_000);

    // Invoices without an amount, both ways.
    let created = net
        .block_on(net.fulmen.create_invoice(None, "any-amount", "interop"))
        .unwrap();
    let invoice = Bolt11Invoice::from_str(&created.bolt11).unwrap();
    assert_eq!(invoice.amount_milli_satoshis(), None);
    let payment_id = net
        .ldk
        .bolt11_payment()
        .send_using_amount(&invoice, 7_000_000, None)
        .unwrap();
    net.ldk_payment_successful(payment_id, created.payment_hash);
    net.wait_fulmen_invoice_paid(created.payment_hash, 7_000_000);
    let invoice = net
        .ldk
        .bolt11_payment()
        .receive_variable_amount(&description(), 3600)
        .unwrap();
    let outcome = net
        .block_on(
            net.fulmen
                .pay_invoice(&invoice.to_string(), Some(Msat(4_000_000))),
        )
        .unwrap();
    assert_eq!(outcome.status, fulmen_node::PaymentStatusKind::Complete);
    let received = net.ldk_event("PaymentReceived", |e| match e {
        Event::PaymentReceived {
            payment_hash,
            amount_msat,
            ..
        } if payment_hash.0 == outcome.payment_hash.0 => Some(*amount_msat),
        _ => None,
    });
    assert_eq!(received, 4_000_000);
    net.check_balances(id, 23_000_000);
    net.stop();
}

/// ldk-node, funder of the channel, raises the commitment feerate with `update_fee` when the
/// chain's estimate rises (at its once-a-minute timer tick); Fulmen accepts it; payments both
/// ways at the new feerate; ldk-node closes cooperatively.
#[test]
fn ldk_funder_updates_the_fee() {
    let mut net = Net::start("update-fee");
    let id = net.ldk_open(600_000);
    net.ldk_pays_fulmen(40_000_000, "before");
    let before = net
        .ldk_channel_by_id(id)
        .unwrap()
        .feerate_sat_per_1000_weight;
    net.chain
        .set_fee_rate(bitcoin::FeeRate::from_sat_per_kwu(2_500))
        .unwrap();
    // ldk-node reads the new estimate at its next sync; its channel manager proposes the fee
    // at its next timer tick (every 60 s).
    net.ldk.sync_wallets().unwrap();
    net.wait_up_to(
        std::time::Duration::from_secs(150),
        "ldk-node's update_fee to be committed",
        || {
            net.ldk_channel_by_id(id)
                .unwrap()
                .feerate_sat_per_1000_weight
                > before
        },
    );
    let after = net
        .ldk_channel_by_id(id)
        .unwrap()
        .feerate_sat_per_1000_weight;
    eprintln!("[update-fee] commitment feerate {before} -> {after} sat/kw");
    assert!(
        net.protocol_complaints().is_empty(),
        "{:?}",
        net.protocol_complaints()
    );
    net.ldk_pays_fulmen(3_000_000, "after");
    net.fulmen_pays_ldk(13_000_000);
    net.check_balances(id, 30_000_000);

    let balances = net.onchain_balances();
    let user_channel_id = net.ldk_user_channel_id(id);
    net.ldk
        .close_channel(&user_channel_id, net.fulmen_pk())
        .unwrap_or_else(|e| net.fail(&format!("ldk close_channel failed: {e:?}")));
    let mut txid = None;
    net.wait("Fulmen to see the mutual close", || {
        txid = net.fulmen_channel(id).close_txid;
        txid.is_some()
    });
    net.mine_mutual_close(id, txid.unwrap(), balances);
    net.stop();
}

/// Many payments in flight at once in both directions on one channel (Fulmen pushed part of
/// it to ldk-node at opening): Fulmen signs several HTLCs per `commitment_signed`, the two
/// sides' commitment updates cross; every payment completes and the balances agree.
#[test]
fn concurrent_payments_both_ways() {
    const EACH_WAY: u64 = 20;
    let mut net = Net::start("concurrent");
    let opened = net.fulmen_open_with_push(2_000_000, 600_000_000);
    let id = opened.channel_id;
    net.check_balances(id, 1_400_000_000);

    let ldk_invoices: Vec<_> = (0..EACH_WAY)
        .map(|i| net.ldk_invoice(2_000_000 + i))
        .collect();
    let fulmen_invoices: Vec<_> = (0..EACH_WAY)
        .map(|i| {
            net.block_on(net.fulmen.create_invoice(
                Some(Msat(3_000_000 + i)),
                &format!("concurrent-{i}"),
                "interop",
            ))
            .unwrap()
        })
        .collect();
    let fulmen_pays: Vec<_> = ldk_invoices
        .iter()
        .map(|invoice| {
            let fulmen = net.fulmen.clone();
            let bolt11 = invoice.to_string();
            net.rt
                .spawn(async move { fulmen.pay_invoice(&bolt11, None).await })
        })
        .collect();
    let ldk_pays: Vec<_> = fulmen_invoices
        .iter()
        .map(|created| {
            let invoice = Bolt11Invoice::from_str(&created.bolt11).unwrap();
            let payment_id = net.ldk.bolt11_payment().send(&invoice, None).unwrap();
            (payment_id, created.payment_hash)
        })
        .collect();

    for (invoice, pay) in ldk_invoices.iter().zip(fulmen_pays) {
        let outcome = net.block_on(pay).unwrap().unwrap();
        net.check_fulmen_paid_ldk(invoice, outcome);
    }
    for (i, (payment_id, hash)) in ldk_pays.into_iter().enumerate() {
        net.ldk_payment_successful(payment_id, hash);
        net.wait_fulmen_invoice_paid(hash, 3_000_000 + i as u64);
    }
    let paid_out: u64 = (0..EACH_WAY).map(|i| 2_000_000 + i).sum();
    let paid_in: u64 = (0..EACH_WAY).map(|i| 3_000_000 + i).sum();
    net.check_balances(id, 1_400_000_000 - paid_out + paid_in);
    net.stop();
}

/// Fulmen respects the limits ldk-node set as fundee: one payment above its
/// `max_htlc_value_in_flight_msat` (ldk-node accepts 10% of the channel in flight on inbound
/// channels) and more payments at once than its `max_accepted_htlcs` (50) are never sent beyond
/// them (the excess fails at Fulmen or waits); the channel stays usable.
#[test]
fn fulmen_respects_ldk_limits() {
    let mut net = Net::start("limits");
    let opened = net.fulmen_open(1_000_000);
    let id = opened.channel_id;

    // 10% of 1,000,000 sat is 100,000,000 msat: one HTLC above it.
    let invoice = net.ldk_invoice(150_000_000);
    let outcome = net
        .block_on(net.fulmen.pay_invoice(&invoice.to_string(), None))
        .map(|o| (o.status, o.failure));
    eprintln!("[limits] a payment above ldk-node's max in flight: {outcome:?}");
    assert!(
        !matches!(outcome, Ok((fulmen_node::PaymentStatusKind::Complete, _))),
        "{outcome:?}"
    );
    net.wait_usable(id);
    net.fulmen_pays_ldk(90_000_000);
    net.check_balances(id, 910_000_000);

    // 60 payments at once: at most 50 HTLCs may be in flight to ldk-node.
    let invoices: Vec<_> = (0..60u64).map(|i| net.ldk_invoice(100_000 + i)).collect();
    let pays: Vec<_> = invoices
        .iter()
        .map(|invoice| {
            let fulmen = net.fulmen.clone();
            let bolt11 = invoice.to_string();
            net.rt
                .spawn(async move { fulmen.pay_invoice(&bolt11, None).await })
        })
        .collect();
    let mut paid = 0;
    let mut failed = 0;
    let mut fulmen_msat = 910_000_000;
    for (invoice, pay) in invoices.iter().zip(pays) {
        match net.block_on(pay).unwrap() {
            Ok(o) if o.status == fulmen_node::PaymentStatusKind::Complete => {
                net.check_fulmen_paid_ldk(invoice, o);
                fulmen_msat -= invoice.amount_milli_satoshis().unwrap();
                paid += 1;
            }
            other => {
                eprintln!("[limits] not sent: {other:?}");
                failed += 1;
            }
        }
    }
    eprintln!("[limits] 60 at once: {paid} paid, {failed} failed");
    assert!(paid >= 50, "{paid} paid");
    net.check_balances(id, fulmen_msat);
    net.fulmen_pays_ldk(1_000_000);
    net.stop();
}

/// A payment ldk-node holds (an invoice for a hash only the test knows the preimage of).
struct HeldPayment {
    invoice: Bolt11Invoice,
    preimage: [u8; 32],
    claimable_msat: u64,
    pay: tokio::task::JoinHandle<Result<fulmen_node::PaymentOutcome, fulmen_node::NodeError>>,
}

/// Fulmen pays an ldk-node invoice for the hash of `preimage`; returns once ldk-node holds the
/// HTLC (`PaymentClaimable`).
fn fulmen_pays_held(net: &mut Net, msat: u64, preimage: [u8; 32]) -> HeldPayment {
    let hash = bitcoin::hashes::sha256::Hash::hash(&preimage).to_byte_array();
    let invoice = net
        .ldk
        .bolt11_payment()
        .receive_for_hash(
            msat,
            &description(),
            3600,
            ldk_node::lightning_types::payment::PaymentHash(hash),
        )
        .unwrap();
    let pay = {
        let fulmen = net.fulmen.clone();
        let bolt11 = invoice.to_string();
        net.rt
            .spawn(async move { fulmen.pay_invoice(&bolt11, None).await })
    };
    let claimable_msat = net.ldk_event("PaymentClaimable", |e| match e {
        Event::PaymentClaimable {
            payment_hash,
            claimable_amount_msat,
            ..
        } if payment_hash.0 == hash => Some(*claimable_amount_msat),
        _ => None,
    });
    HeldPayment {
        invoice,
        preimage,
        claimable_msat,
        pay,
    }
}

/// ldk-node claims a held payment; waits for Fulmen's outcome.
fn claim_held(net: &mut Net, held: HeldPayment) {
    let hash = bitcoin::hashes::sha256::Hash::hash(&held.preimage).to_byte_array();
    net.ldk
        .bolt11_payment()
        .claim_for_hash(
            ldk_node::lightning_types::payment::PaymentHash(hash),
            held.claimable_msat,
            ldk_node::lightning_types::payment::PaymentPreimage(held.preimage),
        )
        .unwrap();
    let outcome = net.block_on(held.pay).unwrap().unwrap();
    net.check_fulmen_paid_ldk(&held.invoice, outcome);
}

/// A cooperative close started while an HTLC is in flight (BOLT 2: `shutdown` first, the
/// HTLC resolved, then `closing_signed`), started by Fulmen, then by ldk-node; each time the
/// connection drops while shutting down and the closing resumes after the reestablish.
#[test]
fn mutual_close_with_an_htlc_in_flight() {
    let mut net = Net::start("close-htlc");

    // Fulmen's shutdown while ldk-node holds Fulmen's HTLC.
    let id = net.fulmen_open(700_000).channel_id;
    let held = fulmen_pays_held(&mut net, 8_000_000, [0x33; 32]);
    let balances = net.onchain_balances();
    let close = {
        let fulmen = net.fulmen.clone();
        net.rt
            .spawn(async move { fulmen.close_channel(id, false).await })
    };
    net.wait("Fulmen shutting down", || {
        net.fulmen_channel(id).state == "shutting_down"
    });
    net.wait("ldk-node to stop using the channel", || {
        !net.ldk_channel_by_id(id).unwrap().is_usable
    });
    assert!(!close.is_finished(), "closed with an HTLC in flight");
    // The connection drops mid-shutdown: `shutdown` is retransmitted after the reestablish.
    net.fulmen_drops_connection();
    net.wait("the channel reestablished at Fulmen", || {
        net.fulmen_channel(id).connected
    });
    claim_held(&mut net, held);
    let txid = net
        .block_on(close)
        .unwrap()
        .unwrap_or_else(|e| net.fail(&format!("closechannel failed: {e}")));
    assert_eq!(net.fulmen_channel(id).local_balance, Msat(692_000_000));
    net.mine_mutual_close(id, txid, balances);

    // ldk-node's shutdown while it holds Fulmen's HTLC.
    let id = net.fulmen_open(400_000).channel_id;
    let held = fulmen_pays_held(&mut net, 9_000_000, [0x44; 32]);
    let balances = net.onchain_balances();
    let user_channel_id = net.ldk_user_channel_id(id);
    net.ldk
        .close_channel(&user_channel_id, net.fulmen_pk())
        .unwrap_or_else(|e| net.fail(&format!("ldk close_channel failed: {e:?}")));
    net.wait("Fulmen shutting down", || {
        net.fulmen_channel(id).state == "shutting_down"
    });
    net.fulmen_drops_connection();
    net.wait("the channel reestablished at Fulmen", || {
        net.fulmen_channel(id).connected
    });
    claim_held(&mut net, held);
    let mut txid = None;
    net.wait("Fulmen to see the mutual close", || {
        txid = net.fulmen_channel(id).close_txid;
        txid.is_some()
    });
    assert_eq!(net.fulmen_channel(id).local_balance, Msat(391_000_000));
    net.mine_mutual_close(id, txid.unwrap(), balances);
    net.stop();
}

/// Payments the payee refuses fail cleanly both ways (`update_fail_htlc` with an onion error the
/// payer decodes); nothing moves and the channel stays usable.
#[test]
fn refused_payments_fail_cleanly_both_ways() {
    let mut net = Net::start("refused");
    let id = net.fulmen_open_with_push(1_000_000, 300_000_000).channel_id;

    // ldk-node fails the HTLC it holds.
    let held = fulmen_pays_held(&mut net, 5_000_000, [0x55; 32]);
    let hash = bitcoin::hashes::sha256::Hash::hash(&held.preimage).to_byte_array();
    net.ldk
        .bolt11_payment()
        .fail_for_hash(ldk_node::lightning_types::payment::PaymentHash(hash))
        .unwrap();
    let outcome = net.block_on(held.pay).unwrap().unwrap();
    assert_eq!(
        outcome.status,
        fulmen_node::PaymentStatusKind::Failed,
        "{outcome:?}"
    );
    assert_eq!(
        outcome.failure.as_deref(),
        Some("incorrect_or_unknown_payment_details")
    );
    net.check_balances(id, 700_000_000);

    // Fulmen refuses more than twice its invoice's amount (BOLT 4).
    let created = net
        .block_on(
            net.fulmen
                .create_invoice(Some(Msat(1_000_000)), "too-much", "interop"),
        )
        .unwrap();
    let invoice = Bolt11Invoice::from_str(&created.bolt11).unwrap();
    let payment_id = net
        .ldk
        .bolt11_payment()
        .send_using_amount(&invoice, 2_500_000, None)
        .unwrap();
    let reason = net.ldk_event("PaymentFailed", |e| match e {
        Event::PaymentFailed {
            payment_id: Some(p),
            reason,
            ..
        } if *p == payment_id => Some(*reason),
        Event::PaymentSuccessful {
            payment_id: Some(p),
            ..
        } if *p == payment_id => panic!("Fulmen accepted 2.5 times its invoice"),
        _ => None,
    });
    assert_eq!(
        reason,
        Some(ldk_node::lightning::events::PaymentFailureReason::RecipientRejected)
    );
    net.check_balances(id, 700_000_000);

    // Both directions still work.
    net.fulmen_pays_ldk(1_000_000);
    net.ldk_pays_fulmen(2_000_000, "after");
    net.check_balances(id, 701_000_000);
    net.stop();
}

/// A node restarted while the funding confirms (the blocks mined while it is down) gets the
/// channel ready after reconnecting (`channel_ready` retransmitted on reestablish): Fulmen as
/// fundee of ldk-node's channel, then ldk-node as fundee of Fulmen's.
#[test]
fn restarts_while_the_funding_confirms() {
    let mut net = Net::start("restart-opening");

    let id = net.ldk_open_unconfirmed(300_000);
    net.restart_fulmen_with(|net| {
        let time = net.chain.median_time_past().unwrap() + 3_600;
        net.chain
            .mine(6, &burn_address().script_pubkey(), time)
            .unwrap();
    });
    net.confirm_channel(id);
    net.ldk_pays_fulmen(10_000_000, "after-fulmen-restart");
    net.fulmen_pays_ldk(1_000_000);
    net.check_balances(id, 9_000_000);

    let opened = net.fulmen_open_unconfirmed(300_000, 0);
    net.restart_ldk_with(|net| net.mine(6));
    net.connect_if_needed();
    net.confirm_channel(opened.channel_id);
    net.fulmen_pays_ldk(10_000_000);
    net.ldk_pays_fulmen(1_000_000, "after-ldk-restart");
    net.stop();
}
