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
//! Every wait has a deadline; on a timeout the tail of ldk-node's log (debug level, in the
//! node's temporary directory) is printed. Fulmen logs through `tracing` (`RUST_LOG`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod ldk_support;

use ldk_support::*;

/// Step 1: Fulmen opens an anchor channel to ldk-node; after the funding reaches LDK's
/// `minimum_depth` both sides see it usable.
#[test]
fn fulmen_opens_a_channel_to_ldk() {
    let mut net = Net::start("fulmen-opens");
    let opened = net.fulmen_open(1_000_000);
    let ldk_channel = net.ldk_channel(&opened);
    assert!(!ldk_channel.is_outbound);
    assert_eq!(ldk_channel.channel_value_sats, 1_000_000);
    net.stop();
}
