//! Routed payments between Fulmen and ldk-node 0.7 over announced channels, each side routing
//! on the gossip it learnt from the other (issue 7's interop): Fulmen pays a Fulmen node
//! through an ldk-node forwarding node, and ldk-node pays a Fulmen node through a Fulmen
//! forwarding node.
//!
//! Every channel is announced (Fulmen's `open_channel(.., announce = true)`, ldk-node's
//! `open_announced_channel`, for which ldk-node needs an alias and listening addresses:
//! [`Net::start_announcing`]). Six blocks make each channel ready and announceable
//! (`announcement_signatures` at 6 confirmations on both sides); the tests then wait for the
//! gossip: Fulmen's graph on its `GraphChanged` events, ldk-node's graph by polling (ldk-node
//! has no gossip event). All three nodes sit on one chain: Fulmen's embedded chain, served to
//! ldk-node over JSON-RPC (ldk-node checks the funding outputs of the announcements it gets
//! through it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod ldk_support;

use std::str::FromStr;
use std::time::Instant;

use fulmen_node::{ForwardingPolicy, PaymentStatusKind};
use fulmen_store::{ForwardStatus, InvoiceStatus};
use fulmen_types::{ChannelId, Msat, Sat, ShortChannelId};
use ldk_node::config::ChannelConfig;
use ldk_node::lightning_invoice::Bolt11Invoice;
use ldk_node::Event;
use ldk_support::*;

/// Channel capacities.
const CAPACITY_SAT: u64 = 1_000_000;

/// What the payee's invoice asks.
const AMOUNT_MSAT: u64 = 10_000_000;

/// What ldk-node charges to forward over the channel it opens in
/// [`fulmen_pays_fulmen_through_ldk`] (set explicitly rather than relying on LDK's default of
/// 1,000 msat + 0 ppm, so that a fee taken from the wrong policy would show).
const LDK_FEE_BASE_MSAT: u32 = 1_500;
const LDK_FEE_PPM: u32 = 250;
const LDK_CLTV_EXPIRY_DELTA: u16 = 72;

/// A forwarding fee: base + proportional (BOLT 7, rounded down).
fn fee(base_msat: u32, ppm: u32, amount_msat: u64) -> u64 {
    u64::from(base_msat) + amount_msat * u64::from(ppm) / 1_000_000
}

/// Waits for ldk-node's `ChannelReady` of `id`.
fn ldk_channel_ready(net: &mut Net, id: ChannelId) {
    net.ldk_event("ChannelReady", |e| match e {
        Event::ChannelReady { channel_id, .. } if channel_id.0 == id.0 => Some(()),
        _ => None,
    });
}

/// The short channel id the Fulmen node `channels` give `id`.
fn scid_of(net: &Net, channels: &[fulmen_node::ChannelInfo], id: ChannelId) -> ShortChannelId {
    channels
        .iter()
        .find(|c| c.channel_id == id)
        .and_then(|c| c.short_channel_id)
        .unwrap_or_else(|| net.fail(&format!("no short channel id for {id}")))
}

/// Fulmen A pays Fulmen B through ldk-node L: A→L announced (opened by A), L→B announced
/// (opened by L with explicit forwarding fees). Once A's graph holds both channels with both
/// directions' `channel_update`s, B's invoice paid by A completes over the route [L, B] with
/// `fee_msat` exactly L's fee on L→B; L reports the forward and its fee; B has the invoice
/// paid; A's balance drops by amount + fee.
#[test]
fn fulmen_pays_fulmen_through_ldk() {
    let started = Instant::now();
    let mut net = Net::start_announcing("fulmen-ldk-fulmen");
    let b = net.start_other_fulmen("fulmen-b");
    net.connect_to_ldk(&b.node);
    let mut a_events = net.fulmen.subscribe();

    let a_l = net.fulmen_open_unconfirmed_with(CAPACITY_SAT, 0, true);
    let ldk_config = ChannelConfig {
        forwarding_fee_base_msat: LDK_FEE_BASE_MSAT,
        forwarding_fee_proportional_millionths: LDK_FEE_PPM,
        cltv_expiry_delta: LDK_CLTV_EXPIRY_DELTA,
        ..ChannelConfig::default()
    };
    let l_b = net.ldk_open_announced_unconfirmed(
        b.pk(),
        b.node.listen_addr().unwrap(),
        CAPACITY_SAT,
        ldk_config,
    );

    // Six confirmations: both channels ready (either side's minimum_depth is at most 6) and
    // deep enough to announce.
    net.mine(6);
    ldk_channel_ready(&mut net, a_l.channel_id);
    ldk_channel_ready(&mut net, l_b);
    net.wait_usable(a_l.channel_id);
    net.wait_fulmen_normal(&b.node, l_b);
    net.wait("ldk-node's channel to B usable", || {
        net.ldk_channel_by_id(l_b).is_some_and(|c| c.is_usable)
    });
    let a_l_scid = scid_of(&net, &net.fulmen_channels(), a_l.channel_id);
    let l_b_scid = scid_of(&net, &b.channels(&net), l_b);
    assert_eq!(
        net.ldk_channel_by_id(l_b).and_then(|c| c.short_channel_id),
        Some(l_b_scid.0)
    );

    let gossip_started = Instant::now();
    net.wait_fulmen_graph(&net.fulmen, &mut a_events, &[a_l_scid, l_b_scid]);
    eprintln!(
        "[{}] A's graph has {a_l_scid} and {l_b_scid} both ways after {:?}",
        net.name,
        gossip_started.elapsed()
    );
    {
        let graph = net.fulmen.network_graph();
        let g = graph.read().unwrap();
        let c = g.channel(l_b_scid).unwrap();
        // L's direction of L→B carries the fees ldk-node was told to charge.
        let ldk_id = net.ldk_id();
        let l_to_b = if c.node_1 == ldk_id {
            c.one_to_two
        } else {
            c.two_to_one
        }
        .unwrap();
        assert_eq!(l_to_b.fee_base_msat, LDK_FEE_BASE_MSAT, "{l_to_b:?}");
        assert_eq!(l_to_b.fee_proportional_millionths, LDK_FEE_PPM);
        assert_eq!(l_to_b.cltv_expiry_delta, LDK_CLTV_EXPIRY_DELTA);
    }

    let created = net
        .block_on(
            b.node
                .create_invoice(Some(Msat(AMOUNT_MSAT)), "via-ldk", "interop"),
        )
        .unwrap();
    let outcome = net
        .block_on(net.fulmen.pay_invoice(&created.bolt11, None))
        .unwrap();
    if outcome.status != PaymentStatusKind::Complete {
        net.fail(&format!(
            "A's payment through L did not complete: {outcome:?}"
        ));
    }
    let expected_fee = fee(LDK_FEE_BASE_MSAT, LDK_FEE_PPM, AMOUNT_MSAT);
    assert_eq!(outcome.payment_hash, created.payment_hash);
    assert_eq!(
        outcome.preimage.unwrap().payment_hash(),
        created.payment_hash
    );
    assert_eq!(outcome.amount, Msat(AMOUNT_MSAT));
    assert_eq!(outcome.fee, Msat(expected_fee));
    assert_eq!(outcome.route, vec![net.ldk_id(), b.node.node_id()]);

    let earned = net.ldk_event("PaymentForwarded", |e| match e {
        Event::PaymentForwarded {
            prev_channel_id,
            next_channel_id,
            total_fee_earned_msat,
            outbound_amount_forwarded_msat,
            ..
        } if prev_channel_id.0 == a_l.channel_id.0 && next_channel_id.0 == l_b.0 => {
            Some((*total_fee_earned_msat, *outbound_amount_forwarded_msat))
        }
        _ => None,
    });
    assert_eq!(earned, (Some(expected_fee), Some(AMOUNT_MSAT)));
    net.wait("B's invoice paid", || {
        net.block_on(b.node.list_invoices())
            .unwrap()
            .iter()
            .any(|i| {
                i.payment_hash == created.payment_hash
                    && i.status == InvoiceStatus::Paid
                    && i.amount_received == Some(Msat(AMOUNT_MSAT))
            })
    });
    net.wait_settled(a_l.channel_id);
    assert_eq!(
        net.fulmen_channel(a_l.channel_id).local_balance,
        Msat(CAPACITY_SAT * 1000 - AMOUNT_MSAT - expected_fee)
    );

    net.stop_other_fulmen(b);
    net.stop();
    eprintln!(
        "fulmen_pays_fulmen_through_ldk took {:?}",
        started.elapsed()
    );
}

/// ldk-node L pays Fulmen B through Fulmen A: L→A announced (opened by L), A→B announced
/// (opened by A; A forwards with the default `ForwardingPolicy`: 1,000 msat + 1 ppm, CLTV
/// delta 40). Once ldk-node's graph holds A→B with both directions, L pays B's invoice;
/// ldk-node reports `fee_paid_msat` equal to A's policy, A lists one settled forward L→A→B
/// with that fee, and B has the invoice paid.
#[test]
fn ldk_pays_fulmen_through_fulmen() {
    let started = Instant::now();
    let mut net = Net::start_announcing("ldk-fulmen-fulmen");
    let b = net.start_other_fulmen("fulmen-b");
    net.connect_fulmen(&net.fulmen, &b.node);

    let l_a = net.ldk_open_announced_unconfirmed(
        net.fulmen_pk(),
        net.fulmen.listen_addr().unwrap(),
        CAPACITY_SAT,
        ChannelConfig::default(),
    );
    let a_b = net
        .block_on(
            net.fulmen
                .open_channel(b.node.node_id(), Sat(CAPACITY_SAT), Msat(0), true),
        )
        .unwrap_or_else(|e| net.fail(&format!("A's open_channel to B failed: {e}")));
    net.wait("A's funding transaction in the mempool", || {
        net.chain.in_mempool(&a_b.funding_txid).unwrap()
    });

    net.mine(6);
    ldk_channel_ready(&mut net, l_a);
    net.wait_usable(l_a);
    net.wait_fulmen_normal(&net.fulmen, a_b.channel_id);
    net.wait_fulmen_normal(&b.node, a_b.channel_id);
    let a_b_scid = scid_of(&net, &net.fulmen_channels(), a_b.channel_id);

    let gossip_started = Instant::now();
    net.wait_ldk_graph(a_b_scid);
    eprintln!(
        "[{}] ldk-node's graph has {a_b_scid} both ways after {:?}",
        net.name,
        gossip_started.elapsed()
    );
    let policy = ForwardingPolicy::default();
    {
        let c = net.ldk.network_graph().channel(a_b_scid.0).unwrap();
        let a = ldk_node::lightning::routing::gossip::NodeId::from_pubkey(&net.fulmen_pk());
        let a_to_b = if c.node_one == a {
            c.one_to_two
        } else {
            c.two_to_one
        }
        .unwrap();
        assert_eq!(a_to_b.fees.base_msat, policy.fee_base_msat, "{a_to_b:?}");
        assert_eq!(
            a_to_b.fees.proportional_millionths,
            policy.fee_proportional_millionths
        );
        assert_eq!(a_to_b.cltv_expiry_delta, policy.cltv_expiry_delta);
    }

    let created = net
        .block_on(
            b.node
                .create_invoice(Some(Msat(AMOUNT_MSAT)), "via-fulmen", "interop"),
        )
        .unwrap();
    let invoice = Bolt11Invoice::from_str(&created.bolt11).unwrap();
    let payment_id = net
        .ldk
        .bolt11_payment()
        .send(&invoice, None)
        .unwrap_or_else(|e| net.fail(&format!("ldk send failed: {e:?}")));
    let expected_fee = fee(
        policy.fee_base_msat,
        policy.fee_proportional_millionths,
        AMOUNT_MSAT,
    );
    net.ldk_payment_successful_with_fee(payment_id, created.payment_hash, expected_fee);
    net.wait("B's invoice paid", || {
        net.block_on(b.node.list_invoices())
            .unwrap()
            .iter()
            .any(|i| {
                i.payment_hash == created.payment_hash
                    && i.status == InvoiceStatus::Paid
                    && i.amount_received == Some(Msat(AMOUNT_MSAT))
            })
    });

    let mut forwards = Vec::new();
    net.wait("A's forward settled", || {
        forwards = net.block_on(net.fulmen.list_forwards()).unwrap();
        forwards.iter().all(|f| f.status != ForwardStatus::Offered) && !forwards.is_empty()
    });
    assert_eq!(forwards.len(), 1, "{forwards:?}");
    let f = &forwards[0];
    assert_eq!(f.status, ForwardStatus::Settled, "{f:?}");
    assert_eq!(f.payment_hash, created.payment_hash);
    assert_eq!(f.in_channel, l_a);
    assert_eq!(f.out_channel, Some(a_b.channel_id));
    assert_eq!(f.out_amount, Some(Msat(AMOUNT_MSAT)));
    assert_eq!(f.fee(), Some(Msat(expected_fee)));
    assert_eq!(f.in_amount, Msat(AMOUNT_MSAT + expected_fee));

    net.stop_other_fulmen(b);
    net.stop();
    eprintln!(
        "ldk_pays_fulmen_through_fulmen took {:?}",
        started.elapsed()
    );
}
