//! The funding-and-spend flow against bcoin regtest (a full node in JavaScript standing in for
//! bitcoind), through `RpcChainClient`. bcoin is installed by `scripts/test-all` (`npm ci` in
//! `scripts/bcoin`); without it this test fails and says so.
//!
//! bcoin's quirks met here: segwit and CSV activate only after 432 regtest blocks (mined first);
//! its bech32 prefix is `rb`, so the mining address is built from the script with that HRP;
//! `sendrawtransaction` relays without reporting rejections (the client checks the mempool);
//! `estimatesmartfee` answers `{"fee": -1}` (the client reports no estimate).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod rpc_common;

use fulmen_chain::bcoin::{Bcoin, SEGWIT_HEIGHT};
use fulmen_chain::ChainSource;
use rpc_common::{client, funding_and_spend, Backend, KeyWallet, Rejections};
use serde_json::json;

#[test]
fn funding_and_spend_flow_against_bcoin() {
    let node = Bcoin::start().unwrap_or_else(|e| panic!("{e}"));
    let c = client(node.addr(), Bcoin::credentials());
    let info = c.call("getblockchaininfo", json!([])).unwrap();
    assert_eq!(info["chain"], "regtest");
    let wallet = KeyWallet::new(0x31);
    funding_and_spend(
        &Backend {
            client: &c,
            address: Bcoin::address(&wallet.spk).unwrap(),
            pre_mine: SEGWIT_HEIGHT,
            rejections: Rejections::Untyped,
            reorg: true,
        },
        &wallet,
    );
    // bcoin has no fee data on a fresh regtest chain: no estimate.
    assert!(matches!(
        c.estimate_feerate(2),
        Err(fulmen_chain::ChainError::NoFeeEstimate)
    ));
}
