//! A node on a bitcoind-compatible JSON-RPC chain (`--bitcoind-rpc`): here
//! fulmen-chain's own Bitcoin Core compatible server over an embedded chain,
//! on a real TCP port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bitcoin::Network;
use fulmen_chain::rpc::{serve, Credentials, ServerConfig};
use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use fulmen_node::rpc::RpcError;
use fulmen_node::{BitcoindUrl, ChainConfig, Node, NodeError, OsEntropy};
use fulmen_types::Sat;
use serde_json::json;
use support::*;

const COIN: u64 = 100_000_000;

async fn chain_server(chain: EmbeddedChain) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig::new(Credentials::new("user", "p@ss"));
    tokio::spawn(serve(listener, chain, config, async move {
        let _ = stopped.await;
    }));
    (format!("http://user:p%40ss@{addr}"), stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_json_rpc_chain() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (url, _stop) = chain_server(chain.clone()).await;
    let url: BitcoindUrl = url.parse().unwrap();
    let node = start_with(|dir| {
        let mut c = config(dir, None, fast_peers());
        c.chain = ChainConfig::External(url.chain_source().unwrap());
        c
    })
    .await;
    let address = node.node.new_address().await.unwrap();
    chain
        .mine(100, &address.script_pubkey(), 1_700_000_000)
        .unwrap();
    node.node
        .wait_for_height(100, WAIT)
        .await
        .expect("follower catches up over RPC");
    let balance = node.node.wallet_balance().await.unwrap();
    assert_eq!(balance.confirmed, Sat(50 * COIN));
    assert_eq!(balance.immature, Sat(99 * 50 * COIN));

    // `mine` is for the embedded chain only.
    let rpc = fulmen_node::RpcClient::from_datadir(node.node.datadir(), None).unwrap();
    let e = rpc.call("mine", json!([1])).await.unwrap_err();
    assert_eq!(e.code(), Some(RpcError::NOT_AVAILABLE));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_another_network_is_refused() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let (url, _stop) = chain_server(chain).await;
    let url: BitcoindUrl = url.parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None, fast_peers());
    c.network = Network::Testnet;
    c.chain = ChainConfig::External(url.chain_source().unwrap());
    let err = tokio::time::timeout(Duration::from_secs(60), Node::start(c, Arc::new(OsEntropy)))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, NodeError::Config(_)), "{err}");
}
