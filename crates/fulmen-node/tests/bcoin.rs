//! BOLT 5 against a real full node: two Fulmen nodes on bcoin regtest
//! (`--bitcoind-rpc`; bcoin from npm stands in for bitcoind, installed by
//! `scripts/test-all`). B restores an old copy of its data directory and
//! publishes that revoked commitment while A is offline; A comes back,
//! and its justice transaction is accepted into bcoin's mempool (bcoin's
//! own script interpreter checks the revocation witness) and mined: A
//! takes the whole channel minus fees.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{CompressedPublicKey, OutPoint, ScriptBuf, Transaction, Txid};
use fulmen_chain::bcoin::{Bcoin, SEGWIT_HEIGHT};
use fulmen_chain::rpc::{RpcChainClient, RpcClientConfig};
use fulmen_chain::{ChainSource, TxStatus};
use fulmen_node::{BitcoindUrl, ChainConfig, NodeConfig};
use fulmen_types::{Msat, Sat};
use serde_json::json;
use support::*;

const COIN: u64 = 100_000_000;
const CHANNEL: u64 = 1_000_000;
/// What fees (commitment, anchors and sweeps) may take at most.
const FEES: u64 = 20_000;

fn burn_script() -> ScriptBuf {
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x5a; 32]).unwrap());
    ScriptBuf::new_p2wpkh(&CompressedPublicKey(pk).wpubkey_hash())
}

/// Mines `n` blocks on bcoin paying `script`.
fn mine(rpc: &RpcChainClient, n: u32, script: &ScriptBuf) {
    let address = Bcoin::address(script).unwrap();
    tokio::task::block_in_place(|| {
        rpc.call("generatetoaddress", json!([n, address])).unwrap();
    });
}

fn bcoin_config(url: &str) -> impl Fn(&std::path::Path) -> NodeConfig + Clone {
    let url = url.to_string();
    move |dir: &std::path::Path| {
        let url: BitcoindUrl = url.parse().unwrap();
        let mut c = config(dir, None, fast_peers());
        c.chain = ChainConfig::External(url.chain_source().unwrap());
        c
    }
}

/// Waits until `n` has applied bcoin's tip.
async fn synced(n: &TestNode, rpc: &RpcChainClient) {
    let tip = tokio::task::block_in_place(|| rpc.tip()).unwrap().height;
    n.node.wait_for_height(tip, WAIT).await.unwrap();
}

async fn status(rpc: &RpcChainClient, txid: Txid) -> TxStatus {
    tokio::task::block_in_place(|| rpc.tx_status(&txid)).unwrap()
}

/// The transactions of bcoin's tip block (bcoin keeps no transaction
/// index: `getrawtransaction` does not find confirmed ones).
fn tip_txs(rpc: &RpcChainClient) -> Vec<Transaction> {
    tokio::task::block_in_place(|| {
        let tip = rpc.tip().unwrap().height;
        rpc.block_at(tip).unwrap().unwrap().txdata
    })
}

/// Mines one block and checks it holds `tx`.
fn mine_with(rpc: &RpcChainClient, tx: &Transaction) {
    mine(rpc, 1, &burn_script());
    let txid = tx.compute_txid();
    assert!(
        tip_txs(rpc).iter().any(|t| t.compute_txid() == txid),
        "{txid} is not in the block"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_commitment_is_punished_on_bcoin() {
    let bcoin = tokio::task::spawn_blocking(Bcoin::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let rpc = RpcChainClient::new(RpcClientConfig::new(bcoin.addr(), Bcoin::credentials()));
    let burn = burn_script();
    mine(&rpc, SEGWIT_HEIGHT, &burn);
    let cfg = bcoin_config(&bcoin.url());

    let mut a = start_with(cfg.clone()).await;
    let mut b = start_with(cfg.clone()).await;
    let a_script = a.node.new_address().await.unwrap().script_pubkey();
    mine(&rpc, 1, &a_script);
    mine(&rpc, 100, &burn);
    synced(&a, &rpc).await;
    // bcoin's regtest halves every 150 blocks: 12.5 BTC at this height.
    until("A's coin matures", || async {
        (a.node.wallet_balance().await.unwrap().confirmed >= Sat(COIN)).then_some(())
    })
    .await;

    a.node.connect(&target(&b)).await.unwrap();
    let id = a
        .node
        .open_channel(b.id(), Sat(CHANNEL), Msat(0), false)
        .await
        .unwrap()
        .channel_id;
    mine(&rpc, 3, &burn);
    wait_ready(&mut a, id).await;
    wait_ready(&mut b, id).await;
    pay(&a, &b, 300_000_000, "to-b").await;
    settled(&a, &b, id).await;

    // B keeps a copy of its state of now, then pays most of it back.
    let b_dir = b.stop_keep().await;
    let old = tempfile::tempdir().unwrap();
    copy_dir(b_dir.path(), old.path());
    let mut b = start_in(b_dir, cfg.clone()).await;
    a.node.connect(&target(&b)).await.unwrap();
    wait_reestablished(&mut a, id).await;
    wait_reestablished(&mut b, id).await;
    pay(&b, &a, 200_000_000, "back-to-a").await;
    settled(&a, &b, id).await;
    let a_before = a.node.wallet_balance().await.unwrap().confirmed.0;

    // A goes away; B restores the old state and publishes it.
    let a_dir = a.stop_keep().await;
    let b_dir = b.stop_keep().await;
    replace_dir(b_dir.path(), old.path());
    let b = start_in(b_dir, cfg.clone()).await;
    let cheat = b.node.close_channel(id, true).await.unwrap();
    assert_eq!(status(&rpc, cheat).await, TxStatus::Mempool);
    mine(&rpc, 1, &burn);
    let revoked = tip_txs(&rpc)
        .into_iter()
        .find(|t| t.compute_txid() == cheat)
        .expect("the cheat is in the tip block");
    let to_local = OutPoint {
        txid: cheat,
        vout: revoked
            .output
            .iter()
            .position(|o| o.value.to_sat() == 300_000)
            .expect("the cheater's to_local") as u32,
    };

    // A comes back: bcoin accepts its justice transaction and mines it.
    let a = start_in(a_dir, cfg.clone()).await;
    let justice = until("A's justice transaction in bcoin's mempool", || async {
        tokio::task::block_in_place(|| rpc.spending_tx(&to_local))
            .unwrap()
            .map(|s| s.tx)
    })
    .await;
    mine_with(&rpc, &justice);
    let mut a_got: u64 = justice.output.iter().map(|o| o.value.to_sat()).sum();
    // A's own to_remote, if swept apart from the justice transaction.
    for (vout, out) in revoked.output.iter().enumerate() {
        let o = OutPoint {
            txid: cheat,
            vout: vout as u32,
        };
        if out.value.to_sat() <= 330 || justice.input.iter().any(|i| i.previous_output == o) {
            continue;
        }
        let sweep = until("A's to_remote swept", || async {
            tokio::task::block_in_place(|| rpc.spending_tx(&o))
                .unwrap()
                .map(|s| s.tx)
        })
        .await;
        mine_with(&rpc, &sweep);
        a_got += sweep.output.iter().map(|o| o.value.to_sat()).sum::<u64>();
    }
    assert!(a_got > CHANNEL - FEES && a_got < CHANNEL, "{a_got}");
    synced(&a, &rpc).await;
    until("A's wallet holds the channel", || async {
        (a.node.wallet_balance().await.unwrap().confirmed.0 == a_before + a_got).then_some(())
    })
    .await;
    a.stop().await;
    b.stop().await;
}
