//! The JSON-RPC server and client against nodes on the embedded chain:
//! authentication, the wallet methods with mining, connect/listpeers,
//! stubs, stop, and restarting from the same data directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::sync::Arc;

use fulmen_node::datadir::RpcCookie;
use fulmen_node::rpc::RpcError;
use fulmen_node::{ChainConfig, ClientError, DataDir, Node, NodeConfig, OsEntropy, RpcClient};
use fulmen_types::Sat;
use serde_json::{json, Value};
use support::*;

const COIN: u64 = 100_000_000;

fn client(node: &TestNode) -> RpcClient {
    RpcClient::from_datadir(&DataDir::new(node.dir.path()), None).expect("cookie and address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_rejects_a_wrong_cookie() {
    let node = start_node(None, fast_peers()).await;
    let addr = node.node.rpc_addr().unwrap().to_string();
    let wrong = RpcClient::new(&addr, &RpcCookie::from_text("__cookie__:00"));
    assert!(matches!(
        wrong.call("getinfo", json!([])).await,
        Err(ClientError::Unauthorized)
    ));
    let right = client(&node);
    let info = right.call("getinfo", json!([])).await.unwrap();
    assert_eq!(info["node_id"], node.id().to_string());
    assert_eq!(info["network"], "regtest");
    assert_eq!(info["num_peers"], 0);
    assert_eq!(info["num_channels"], 0);
    assert_eq!(info["block_height"], 0);
    assert_eq!(info["alias"], "fulmen");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["listen"], node.addr().to_string());
    // The embedded chain's estimate (500 sat/kw by default).
    assert_eq!(info["feerate_per_kw"], 500);

    // Without any Authorization header: 401 too.
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::post("/")
        .header(hyper::header::HOST, &addr)
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"method":"getinfo"}"#,
        )))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), hyper::StatusCode::UNAUTHORIZED);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mined_coinbases_show_in_walletbalance() {
    let node = start_node(None, fast_peers()).await;
    let rpc = client(&node);
    let address = rpc.call("newaddress", json!([])).await.unwrap()["address"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(address.starts_with("bcrt1q"), "{address}");
    let zero = rpc.call("walletbalance", json!([])).await.unwrap();
    assert_eq!(
        zero,
        json!({"confirmed_sat": 0, "unconfirmed_sat": 0, "immature_sat": 0})
    );

    let mined = rpc
        .call("mine", json!({"blocks": 101, "address": address}))
        .await
        .unwrap();
    assert_eq!(mined["block_hashes"].as_array().unwrap().len(), 101);
    assert_eq!(mined["height"], 101);
    // `mine` returns once the follower applied the blocks.
    let balance = rpc.call("walletbalance", json!([])).await.unwrap();
    // Every block of heights 1..=101 pays the regtest subsidy of 50 BTC
    // (halving every 150 blocks). The wallet counts a coinbase as spendable
    // from its 100th confirmation (it can be spent in the next block, which
    // is what consensus allows): at tip 101 the coinbases of heights 1 and 2
    // (101 and 100 confirmations) are, the other 99 are immature. (Bitcoin
    // Core's wallet waits for 101 confirmations and would show 50 BTC.)
    assert_eq!(balance["confirmed_sat"], 2 * 50 * COIN);
    assert_eq!(balance["immature_sat"], 99 * 50 * COIN);
    assert_eq!(balance["unconfirmed_sat"], 0);
    let info = rpc.call("getinfo", json!([])).await.unwrap();
    assert_eq!(info["block_height"], 101);

    // Mining to another network's address, or zero blocks, is refused.
    let bad = rpc
        .call(
            "mine",
            json!([1, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some(RpcError::INVALID_PARAMS));
    let zero = rpc.call("mine", json!([0])).await.unwrap_err();
    assert_eq!(zero.code(), Some(RpcError::INVALID_PARAMS));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_broadcast_is_in_the_wallet_before_it_confirms() {
    let node = start_node(None, fast_peers()).await;
    node.node.mine(101, None).await.unwrap();
    let before = node.node.wallet_balance().await.unwrap();
    assert_eq!(before.confirmed, Sat(100 * COIN));
    // Pay an address outside the wallet.
    let elsewhere = node
        .node
        .parse_address("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
        .unwrap();
    let txid = node
        .node
        .send_to_address(&elsewhere, Sat(10 * COIN))
        .await
        .unwrap();
    let after = node.node.wallet_balance().await.unwrap();
    // The spent coin is gone from confirmed, the change is pending (ours,
    // so trusted), before any block.
    assert_eq!(after.confirmed, Sat(50 * COIN));
    assert!(after.trusted_pending.0 > 39 * COIN && after.trusted_pending.0 < 40 * COIN);
    // Mined into the next block, it confirms.
    node.node.mine(1, Some(elsewhere)).await.unwrap();
    let mined = node.node.wallet_balance().await.unwrap();
    assert_eq!(mined.trusted_pending, Sat(0));
    assert_eq!(
        mined.confirmed,
        Sat(50 * COIN + after.trusted_pending.0 + 50 * COIN)
    );
    let _ = txid;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_listpeers_decode_and_stubs() {
    let chain = fulmen_chain::EmbeddedChain::in_memory(fulmen_chain::EmbeddedConfig::default());
    let a = start_node(Some(chain.clone()), fast_peers()).await;
    let b = start_node(Some(chain), fast_peers()).await;
    let rpc = client(&a);
    let target = format!("{}@{}", b.id(), b.addr());
    let connected = rpc.call("connect", json!([target])).await.unwrap();
    assert_eq!(connected["id"], b.id().to_string());
    let peers = rpc.call("listpeers", json!([])).await.unwrap();
    let list = peers["peers"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], b.id().to_string());
    assert_eq!(list[0]["inbound"], false);
    assert!(list[0]["feature_names"]
        .as_array()
        .unwrap()
        .contains(&json!("PaymentSecret(required)")));

    let bad = rpc.call("connect", json!(["nonsense"])).await.unwrap_err();
    assert_eq!(bad.code(), Some(RpcError::INVALID_PARAMS));
    // Already connected: returns at once, whatever the address.
    let again = format!("{}@127.0.0.1:1", b.id());
    assert_eq!(
        rpc.call("connect", json!([again])).await.unwrap()["id"],
        b.id().to_string()
    );
    let unreachable =
        "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad@127.0.0.1:1";
    let bad = rpc.call("connect", json!([unreachable])).await.unwrap_err();
    assert_eq!(bad.code(), Some(RpcError::CONNECT_FAILED));

    // Channel commands check their parameters and what they refer to.
    let e = rpc.call("openchannel", json!([])).await.unwrap_err();
    assert_eq!(e.code(), Some(RpcError::INVALID_PARAMS));
    let stranger = "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad";
    let e = rpc
        .call("openchannel", json!([stranger, 100_000]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(RpcError::CHANNEL_ERROR));
    assert_eq!(e.to_string(), "peer not connected");
    let e = rpc
        .call("closechannel", json!([format!("{:064x}", 7)]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(RpcError::CHANNEL_ERROR));
    assert_eq!(
        rpc.call("listchannels", json!([])).await.unwrap(),
        json!({"channels": []})
    );
    assert_eq!(
        rpc.call("listforwards", json!([])).await.unwrap(),
        json!({"forwards": []})
    );
    let e = rpc.call("frobnicate", json!([])).await.unwrap_err();
    assert_eq!(e.code(), Some(RpcError::METHOD_NOT_FOUND));

    let invoice = "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql";
    let decoded = rpc.call("decode", json!([invoice])).await.unwrap();
    assert_eq!(
        decoded["payment_hash"],
        "0001020304050607080900010203040506070809000102030405060708090102"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_over_rpc_and_restart_from_the_datadir() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = NodeConfig::regtest(dir.path());
        c.chain_poll_interval = std::time::Duration::from_millis(100);
        c
    };
    assert!(matches!(config().chain, ChainConfig::EmbeddedInDatadir));
    let node = Node::start(config(), Arc::new(OsEntropy)).await.unwrap();
    let id = node.node_id();
    node.mine(3, None).await.unwrap();
    let rpc = RpcClient::from_datadir(&DataDir::new(dir.path()), None).unwrap();
    let stopped = rpc.call("stop", Value::Null).await.unwrap();
    assert_eq!(stopped["status"], "stopping");
    tokio::time::timeout(WAIT, node.clone().wait_stopped())
        .await
        .expect("stops");
    let datadir = DataDir::new(dir.path());
    assert!(!datadir.cookie_path().exists());
    assert!(!datadir.rpc_address_path().exists());
    assert!(datadir.seed_path().exists());
    assert!(matches!(
        rpc.call("getinfo", json!([])).await,
        Err(ClientError::Connect(_))
    ));

    // Same seed, same chain, same wallet.
    let again = Node::start(config(), Arc::new(OsEntropy)).await.unwrap();
    assert_eq!(again.node_id(), id);
    assert_eq!(again.block_height(), 3);
    assert_eq!(
        again.wallet_balance().await.unwrap().immature,
        Sat(150 * COIN)
    );
    let rpc = RpcClient::from_datadir(&DataDir::new(dir.path()), None).unwrap();
    assert_eq!(
        rpc.call("getinfo", json!([])).await.unwrap()["block_height"],
        3
    );
    again.stop();
    again.wait_stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_the_same_datadir_is_refused() {
    let first = start_node(None, fast_peers()).await;
    let mut config = support::config(first.dir.path(), None, fast_peers());
    config.rpc_listen = None;
    let err = Node::start(config, Arc::new(OsEntropy)).await.unwrap_err();
    assert!(
        matches!(
            err,
            fulmen_node::NodeError::Store(fulmen_store::StoreError::Locked)
        ),
        "{err}"
    );
    // The first one is untouched: its cookie still works.
    assert!(client(&first).call("getinfo", json!([])).await.is_ok());
    first.stop().await;
}
