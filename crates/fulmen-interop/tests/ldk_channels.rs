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

use ldk_support::*;

/// Fulmen opens an anchor channel to ldk-node; after the funding reaches LDK's
/// `minimum_depth` both sides see it usable. BOLT 11 payments both ways.
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
    net.stop();
}

/// ldk-node opens an anchor channel to Fulmen; after the funding reaches Fulmen's
/// `minimum_depth` both sides see it usable. BOLT 11 payments both ways.
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
    net.stop();
}
