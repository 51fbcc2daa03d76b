//! ldk-node (an independent Lightning implementation) syncs from Fulmen's chain server through
//! its bitcoind RPC chain source: it sees blocks mined to its address, reports the balance after
//! `sync_wallets`, and its own on-chain payment is broadcast to the chain server and confirms.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    Address, Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use fulmen_chain::rpc::{Credentials, RpcServer, ServerConfig};
use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig};
use ldk_node::payment::{ConfirmationStatus, PaymentDirection, PaymentKind};

/// The test's own key: mines coins and pays the node from them.
struct TestKey {
    sk: SecretKey,
    pk: bitcoin::CompressedPublicKey,
    spk: ScriptBuf,
}

impl TestKey {
    fn new() -> Self {
        let sk = SecretKey::from_slice(&[0x5a; 32]).unwrap();
        let pk = bitcoin::CompressedPublicKey(sk.public_key(&Secp256k1::new()));
        let spk = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
        TestKey { sk, pk, spk }
    }

    /// Spends `prev` (worth `value`) to `to`, change back to the key, 2,000 sat fee.
    fn pay(&self, prev: OutPoint, value: Amount, to: ScriptBuf, amount: Amount) -> Transaction {
        let mut tx = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: prev,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            }],
            output: vec![
                TxOut {
                    value: amount,
                    script_pubkey: to,
                },
                TxOut {
                    value: value - amount - Amount::from_sat(2_000),
                    script_pubkey: self.spk.clone(),
                },
            ],
        };
        let sighash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(0, &self.spk, value, EcdsaSighashType::All)
            .unwrap();
        let signature =
            Secp256k1::new().sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &self.sk);
        let sig = bitcoin::ecdsa::Signature {
            signature,
            sighash_type: EcdsaSighashType::All,
        };
        tx.input[0].witness = Witness::p2wpkh(&sig, &self.pk.0);
        tx
    }
}

/// A throwaway P2WPKH output script nobody in the test owns.
fn burn_script() -> ScriptBuf {
    let pk = bitcoin::CompressedPublicKey::from_slice(&[
        0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0, 0x62, 0x95, 0xce, 0x87,
        0x0b, 0x07, 0x02, 0x9b, 0xfc, 0xdb, 0x2d, 0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16,
        0xf8, 0x17, 0x98,
    ])
    .unwrap();
    ScriptBuf::new_p2wpkh(&pk.wpubkey_hash())
}

/// Polls `cond` every 100 ms until it holds, failing after `limit` with `what` and the log.
fn wait_for(what: &str, limit: Duration, log: &std::path::Path, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            panic!("timed out waiting for {what}; ldk-node log tail:\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ldk_node_syncs_receives_and_sends_through_the_chain_server() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let credentials = Credentials::new("ldk", "interop-password");
    let server = RpcServer::start(
        chain.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::new(credentials.clone()),
    )
    .unwrap();
    let rpc = server.local_addr();
    let burn = burn_script();
    let key = TestKey::new();
    // Some history before the node starts: one coinbase for the test key, then 10 more blocks.
    chain.mine(1, &key.spk, 1_700_000_000).unwrap();
    chain.mine(10, &burn, 1_700_000_001).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ldk_node.log");
    let mut builder = ldk_node::Builder::new();
    builder
        .set_network(Network::Regtest)
        .set_storage_dir_path(dir.path().join("ldk").display().to_string())
        .set_filesystem_logger(
            Some(log.display().to_string()),
            Some(ldk_node::logger::LogLevel::Debug),
        )
        .set_entropy_seed_bytes([42u8; 64])
        .set_chain_source_bitcoind_rpc(
            rpc.ip().to_string(),
            rpc.port(),
            credentials.user.clone(),
            credentials.password.clone(),
        );
    let node = builder.build().unwrap();
    node.start().unwrap();

    // Funds mined to the node's address, matured by 100 more blocks.
    let address = node.onchain_payment().new_address().unwrap();
    assert!(address.to_string().starts_with("bcrt1"), "{address}");
    let start_height = chain.tip().unwrap().height;
    let time = chain.median_time_past().unwrap() + 3_600;
    chain.mine(1, &address.script_pubkey(), time).unwrap();
    chain.mine(100, &burn, time + 1).unwrap();
    let tip = chain.tip().unwrap();
    assert_eq!(tip.height, start_height + 101);
    let reward = Amount::from_sat(5_000_000_000);

    node.sync_wallets().unwrap();
    wait_for("the mined funds", Duration::from_secs(60), &log, || {
        node.sync_wallets().unwrap();
        node.list_balances().spendable_onchain_balance_sats == reward.to_sat()
    });
    assert_eq!(node.status().current_best_block.block_hash, tip.hash);
    assert_eq!(node.status().current_best_block.height, tip.height);
    assert_eq!(
        node.list_balances().total_onchain_balance_sats,
        reward.to_sat()
    );

    // The node pays another address; its broadcast reaches the chain server's mempool.
    let payee = Address::from_script(&burn, Network::Regtest).unwrap();
    let amount = Amount::from_sat(1_234_567);
    let txid = node
        .onchain_payment()
        .send_to_address(&payee, amount.to_sat(), None)
        .unwrap();
    wait_for(
        "the broadcast in the mempool",
        Duration::from_secs(60),
        &log,
        || chain.in_mempool(&txid).unwrap(),
    );
    let tx = chain.transaction(&txid).unwrap().unwrap().tx;
    let vout = tx
        .output
        .iter()
        .position(|o| o.script_pubkey == burn && o.value == amount)
        .expect("payment output") as u32;

    // Mined by the chain server: the node sees its payment confirm.
    chain
        .mine(1, &burn, chain.median_time_past().unwrap() + 7_200)
        .unwrap();
    let confirmed_tip = chain.tip().unwrap();
    assert_eq!(chain.tx_confirmations(&txid).unwrap(), Some(1));
    wait_for(
        "the payment to confirm",
        Duration::from_secs(60),
        &log,
        || {
            node.sync_wallets().unwrap();
            node.list_payments().iter().any(|p| {
            matches!(
                p.kind,
                PaymentKind::Onchain {
                    txid: t,
                    status: ConfirmationStatus::Confirmed { block_hash, height, .. },
                } if t == txid && block_hash == confirmed_tip.hash && height == confirmed_tip.height
            ) && p.direction == PaymentDirection::Outbound
        })
        },
    );
    let balance = node.list_balances().total_onchain_balance_sats;
    assert!(
        balance < reward.to_sat() - amount.to_sat(),
        "fee not paid: {balance}"
    );
    assert!(
        balance > reward.to_sat() - amount.to_sat() - 100_000,
        "fee too high: {balance}"
    );

    let out = chain
        .tx_out(&OutPoint { txid, vout }, false)
        .unwrap()
        .unwrap();
    assert_eq!((out.txout.value, out.confirmations), (amount, 1));

    // An unconfirmed payment to the node, submitted over RPC: ldk-node finds it through
    // getrawmempool / getmempoolentry / getrawtransaction.
    let block1 = chain.block_at(1).unwrap().unwrap();
    let coinbase = OutPoint {
        txid: block1.txdata[0].compute_txid(),
        vout: 0,
    };
    let incoming = Amount::from_sat(777_000);
    let second = node.onchain_payment().new_address().unwrap();
    let pay = key.pay(coinbase, reward, second.script_pubkey(), incoming);
    let rpc_client = fulmen_chain::rpc::RpcChainClient::new(
        fulmen_chain::rpc::RpcClientConfig::new(rpc, credentials.clone()),
    );
    let pay_txid = rpc_client.broadcast(&pay).unwrap();
    wait_for(
        "the unconfirmed incoming payment",
        Duration::from_secs(60),
        &log,
        || {
            node.sync_wallets().unwrap();
            node.list_balances().total_onchain_balance_sats == balance + incoming.to_sat()
        },
    );
    chain
        .mine(1, &burn, chain.median_time_past().unwrap() + 7_300)
        .unwrap();
    wait_for(
        "the incoming payment to confirm",
        Duration::from_secs(60),
        &log,
        || {
            node.sync_wallets().unwrap();
            node.list_payments().iter().any(|p| {
                matches!(
                    p.kind,
                    PaymentKind::Onchain { txid, status: ConfirmationStatus::Confirmed { .. } }
                        if txid == pay_txid
                ) && p.direction == PaymentDirection::Inbound
                    && p.amount_msat == Some(incoming.to_sat() * 1_000)
            })
        },
    );

    node.stop().unwrap();
    server.shutdown();
}
