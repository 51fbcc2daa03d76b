//! Shared pieces of the JSON-RPC tests: a one-key P2WPKH wallet, addresses for Core-style
//! (`bcrt`) and bcoin (`rb`) regtest nodes, and the funding-and-spend flow run against every
//! backend through `RpcChainClient`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::opcodes::all::{OP_CSV, OP_DROP, OP_PUSHNUM_1};
use bitcoin::script::Builder;
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, BlockHash, CompressedPublicKey, Network, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Txid, Witness,
};
use fulmen_chain::rpc::{Credentials, RpcChainClient, RpcClientConfig};
use fulmen_chain::{BroadcastError, ChainError, ChainEvent, ChainSource, TxReject, TxStatus};
use serde_json::json;

/// A single-key P2WPKH wallet.
pub struct KeyWallet {
    pub sk: SecretKey,
    pub pk: CompressedPublicKey,
    pub spk: ScriptBuf,
}

impl KeyWallet {
    pub fn new(seed: u8) -> Self {
        let secp = Secp256k1::new();
        let sk = SecretKey::from_slice(&[seed; 32]).unwrap();
        let pk = CompressedPublicKey(sk.public_key(&secp));
        let spk = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
        KeyWallet { sk, pk, spk }
    }

    /// Spends `prev` (ours, worth `value`) to `outputs`, signing input 0 with `signer`'s key.
    pub fn spend_signed_by(
        &self,
        signer: &KeyWallet,
        prev: OutPoint,
        value: Amount,
        outputs: Vec<TxOut>,
    ) -> Transaction {
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: prev,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            }],
            output: outputs,
        };
        let secp = Secp256k1::new();
        let sighash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(0, &self.spk, value, EcdsaSighashType::All)
            .unwrap();
        let signature = secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &signer.sk);
        let sig = bitcoin::ecdsa::Signature {
            signature,
            sighash_type: EcdsaSighashType::All,
        };
        tx.input[0].witness = Witness::p2wpkh(&sig, &self.pk.0);
        tx
    }

    pub fn spend(&self, prev: OutPoint, value: Amount, outputs: Vec<TxOut>) -> Transaction {
        self.spend_signed_by(self, prev, value, outputs)
    }
}

/// A Core-style regtest address (`bcrt1…`) for a witness script.
pub fn core_address(spk: &ScriptBuf) -> String {
    bitcoin::Address::from_script(spk, Network::Regtest)
        .unwrap()
        .to_string()
}

/// `<n> OP_CSV OP_DROP OP_1`.
pub fn csv_script(n: i64) -> ScriptBuf {
    Builder::new()
        .push_int(n)
        .push_opcode(OP_CSV)
        .push_opcode(OP_DROP)
        .push_opcode(OP_PUSHNUM_1)
        .into_script()
}

/// A client with short timeouts for tests.
pub fn client(addr: SocketAddr, credentials: Credentials) -> RpcChainClient {
    let mut config = RpcClientConfig::new(addr, credentials);
    config.timeout = Duration::from_secs(30);
    config.max_attempts = 3;
    config.initial_backoff = Duration::from_millis(50);
    RpcChainClient::new(config)
}

/// Mines `n` blocks to `address` through `generatetoaddress`.
pub fn mine(client: &RpcChainClient, n: u32, address: &str) -> Vec<BlockHash> {
    let v = client
        .call("generatetoaddress", json!([n, address]))
        .unwrap();
    let hashes: Vec<BlockHash> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(hashes.len(), n as usize);
    hashes
}

/// Parents of every block `follow` has seen connected.
static PARENTS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<BlockHash, BlockHash>>,
> = std::sync::LazyLock::new(Default::default);

/// Follows the chain from `from` until `events_since` returns nothing; checks the events are
/// consecutive and linked. Returns the new tip and the connected blocks' heights.
pub fn follow(
    client: &RpcChainClient,
    from: fulmen_chain::BlockRef,
) -> (fulmen_chain::BlockRef, Vec<ChainEvent>) {
    let mut known = from;
    let mut all = Vec::new();
    loop {
        let events = client.events_since(&known).unwrap();
        if events.is_empty() {
            return (known, all);
        }
        for e in &events {
            match e {
                ChainEvent::BlockConnected(h, block) => {
                    assert_eq!(*h, known.height + 1, "connected out of order");
                    assert_eq!(block.header.prev_blockhash, known.hash, "not linked");
                    PARENTS
                        .lock()
                        .unwrap()
                        .insert(block.block_hash(), block.header.prev_blockhash);
                    known = fulmen_chain::BlockRef {
                        height: *h,
                        hash: block.block_hash(),
                    };
                }
                ChainEvent::BlockDisconnected(h, hash) => {
                    assert_eq!(
                        (*h, *hash),
                        (known.height, known.hash),
                        "disconnect out of order"
                    );
                    // (A node may forget invalidated blocks: bcoin does.)
                    let parent = PARENTS.lock().unwrap()[hash];
                    known = fulmen_chain::BlockRef {
                        height: h - 1,
                        hash: parent,
                    };
                }
            }
        }
        all.extend(events);
    }
}

/// How a backend reports rejections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejections {
    /// Core's reasons (this crate's chain server, bitcoind).
    Typed,
    /// No reasons (bcoin's `sendrawtransaction` relays without reporting).
    Untyped,
}

/// Which backend the flow runs against.
pub struct Backend<'a> {
    pub client: &'a RpcChainClient,
    /// Our key's address in the backend's format.
    pub address: String,
    /// Blocks to mine first (bcoin: 432 for segwit and CSV).
    pub pre_mine: u32,
    pub rejections: Rejections,
    /// Whether `invalidateblock` reorgs are exercised.
    pub reorg: bool,
}

/// The funding-and-spend flow: mine to our key, wait for maturity, spend the coinbase to a P2WSH
/// (CSV 2) output, see it in the mempool, confirm it, check `gettxout` and spends, spend the
/// P2WSH output too early (refused) and at maturity (accepted), and follow every block through
/// `events_since`.
pub fn funding_and_spend(b: &Backend<'_>, wallet: &KeyWallet) {
    let client = b.client;
    let genesis = client.tip().unwrap();
    assert_eq!(genesis.height, 0);
    mine(client, b.pre_mine, &b.address);
    let (tip, events) = follow(client, genesis);
    assert_eq!(tip.height, b.pre_mine);
    assert_eq!(events.len(), b.pre_mine as usize);
    assert_eq!(client.tip().unwrap(), tip);

    // The coinbase of block 1 pays our key and is mature.
    let block1 = client.block_at(1).unwrap().unwrap();
    let cb = &block1.txdata[0];
    let vout = cb
        .output
        .iter()
        .position(|o| o.script_pubkey == wallet.spk)
        .unwrap() as u32;
    let funding = OutPoint {
        txid: cb.compute_txid(),
        vout,
    };
    let value = cb.output[vout as usize].value;
    let utxo = client.get_tx_out(&funding).unwrap().unwrap();
    assert!(utxo.is_coinbase);
    assert_eq!(utxo.height, 1);
    assert_eq!(utxo.confirmations, tip.height);
    assert_eq!(utxo.txout.value, value);

    // Spend to a P2WSH output locked by CSV 2.
    let witness_script = csv_script(2);
    let locked = ScriptBuf::new_p2wsh(&witness_script.wscript_hash());
    let fee = Amount::from_sat(10_000);
    let outputs = vec![TxOut {
        value: value - fee,
        script_pubkey: locked.clone(),
    }];
    // A bad signature is refused.
    let forged = wallet.spend_signed_by(&KeyWallet::new(0x77), funding, value, outputs.clone());
    match client.broadcast(&forged) {
        Err(BroadcastError::Rejected(r)) => {
            if b.rejections == Rejections::Typed {
                assert!(r.reason().contains("script-verify-flag-failed"), "{r}");
            }
        }
        other => panic!("forged spend not refused: {other:?}"),
    }
    let spend = wallet.spend(funding, value, outputs);
    let txid = client.broadcast(&spend).unwrap();
    assert_eq!(txid, spend.compute_txid());
    // Broadcasting again is fine.
    assert_eq!(client.broadcast(&spend).unwrap(), txid);
    assert_eq!(client.tx_status(&txid).unwrap(), TxStatus::Mempool);
    assert_eq!(client.tx_confirmations(&txid).unwrap(), Some(0));
    let s = client.spending_tx(&funding).unwrap().unwrap();
    assert_eq!(
        (s.tx.compute_txid(), s.input_index, s.status),
        (txid, 0, TxStatus::Mempool)
    );
    // Confirmed and unspent is what gettxout reports: the mempool spend does not hide it.
    assert!(client.get_tx_out(&funding).unwrap().is_some());

    // A double spend paying no more is refused (the embedded chain does full RBF: a higher
    // fee would replace; bcoin refuses any double spend of a non-signalling transaction).
    let double = wallet.spend(
        funding,
        value,
        vec![TxOut {
            value: value - fee,
            script_pubkey: wallet.spk.clone(),
        }],
    );
    match client.broadcast(&double) {
        Err(BroadcastError::Rejected(r)) => {
            if b.rejections == Rejections::Typed {
                assert!(
                    matches!(r, TxReject::InsufficientFee { fee: f, .. } if f == fee),
                    "{r:?}"
                );
            }
        }
        other => panic!("double spend not refused: {other:?}"),
    }

    // Confirm it.
    mine(client, 1, &b.address);
    let (tip2, events) = follow(client, tip);
    assert_eq!(tip2.height, tip.height + 1);
    let [ChainEvent::BlockConnected(_, block)] = events.as_slice() else {
        panic!("expected one connected block, got {events:?}")
    };
    assert!(block.txdata.iter().any(|t| t.compute_txid() == txid));
    assert_eq!(
        client.tx_status(&txid).unwrap(),
        TxStatus::Confirmed {
            block: tip2,
            confirmations: 1
        }
    );
    let s = client.spending_tx(&funding).unwrap().unwrap();
    assert_eq!(s.tx.compute_txid(), txid);
    assert!(matches!(
        s.status,
        TxStatus::Confirmed {
            confirmations: 1,
            ..
        }
    ));
    assert!(
        client.get_tx_out(&funding).unwrap().is_none(),
        "spent output still reported"
    );
    let locked_out = OutPoint { txid, vout: 0 };
    let u = client.get_tx_out(&locked_out).unwrap().unwrap();
    assert_eq!(
        (u.confirmations, u.height, u.is_coinbase),
        (1, tip2.height, false)
    );
    assert_eq!(u.txout.script_pubkey, locked);
    assert!(client.spending_tx(&locked_out).unwrap().is_none());

    // The CSV-locked output: one block too early, then at maturity.
    let mut sweep = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: locked_out,
            script_sig: ScriptBuf::new(),
            sequence: Sequence(2),
            witness: Witness::from_slice(&[witness_script.as_bytes()]),
        }],
        output: vec![TxOut {
            value: value - fee - fee,
            script_pubkey: wallet.spk.clone(),
        }],
    };
    match client.broadcast(&sweep) {
        Err(BroadcastError::Rejected(r)) => {
            if b.rejections == Rejections::Typed {
                assert_eq!(r, TxReject::NonBip68Final);
            }
        }
        other => panic!("early CSV spend not refused: {other:?}"),
    }
    mine(client, 1, &b.address);
    let sweep_txid = client.broadcast(&sweep).unwrap();
    mine(client, 1, &b.address);
    let (tip4, _) = follow(client, tip2);
    assert_eq!(tip4.height, tip2.height + 2);
    assert_eq!(client.tx_confirmations(&sweep_txid).unwrap(), Some(1));
    assert_eq!(client.tx_confirmations(&txid).unwrap(), Some(3));
    assert_eq!(
        client.tx_status(&Txid::all_zeros()).unwrap(),
        TxStatus::Unknown
    );
    let s = client.spending_tx(&locked_out).unwrap().unwrap();
    assert_eq!(s.tx.compute_txid(), sweep_txid);

    // Fee estimates are never below the floor (bcoin has none on regtest).
    match client.estimate_feerate(6) {
        Ok(rate) => assert!(rate >= client.config().fee_floor),
        Err(ChainError::NoFeeEstimate) => {}
        Err(e) => panic!("{e}"),
    }

    if b.reorg {
        // Invalidate the tip: the sweep goes back to the mempool, then a longer branch
        // confirms it again.
        client
            .call("invalidateblock", json!([tip4.hash.to_string()]))
            .unwrap();
        let (back, events) = follow(client, tip4);
        assert_eq!(back.height, tip4.height - 1);
        assert_eq!(
            events,
            vec![ChainEvent::BlockDisconnected(tip4.height, tip4.hash)]
        );
        if b.rejections == Rejections::Typed {
            // Core returns the transactions of disconnected blocks to the mempool.
            wait_until(|| client.tx_status(&sweep_txid).unwrap() == TxStatus::Mempool);
        } else {
            // bcoin's invalidateblock resets its mempool: the sweep is unconfirmed, and the
            // follower rebroadcasts it.
            let status = client.tx_status(&sweep_txid).unwrap();
            assert!(
                matches!(status, TxStatus::Mempool | TxStatus::Unknown),
                "{status:?}"
            );
            assert_eq!(client.broadcast(&sweep).unwrap(), sweep_txid);
        }
        mine(client, 2, &b.address);
        let (tip6, events) = follow(client, back);
        assert_eq!(tip6.height, tip4.height + 1);
        assert_eq!(events.len(), 2);
        assert_eq!(client.tx_confirmations(&sweep_txid).unwrap(), Some(2));
        // A follower still on the invalidated block is walked back to the fork point.
        let (from_stale, events) = follow(client, tip4);
        assert_eq!(from_stale, tip6);
        assert_eq!(
            events[0],
            ChainEvent::BlockDisconnected(tip4.height, tip4.hash)
        );
        sweep.input[0].sequence = Sequence(3);
        assert!(client.broadcast(&sweep).is_err());
    }
}

/// Polls `cond` every 50 ms for up to 10 s.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
