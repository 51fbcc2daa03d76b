//! Transaction validation on the embedded chain: double spends (mempool, without the fee to
//! replace, and block), coinbase
//! maturity, signatures, policy, packages of unconfirmed parents, and Core's reasons and codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::{Amount, OutPoint, TxOut, Witness};
use common::*;
use fulmen_chain::error::{NonStandard, ScriptPolicy};
use fulmen_chain::{BlockReject, ChainSource, MineError, TxReject, TxStatus};

fn block_reject(r: Result<bitcoin::BlockHash, MineError>) -> BlockReject {
    match r {
        Err(MineError::Rejected(reason)) => reason,
        other => panic!("expected a block rejection, got {other:?}"),
    }
}

#[test]
fn double_spend_refused_in_mempool() {
    let w = Wallet::new(10);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let a = w.pay(coin, burn_spk(), Amount::from_sat(10_000));
    let b = w.pay(coin, burn_spk(), Amount::from_sat(20_000));
    chain.broadcast(&a).unwrap();
    // Full RBF: the same fee does not replace (tests/replace.rs has the rules).
    let reason = rejected(chain.test_accept(&b));
    assert_eq!(
        reason,
        TxReject::InsufficientFee {
            fee: FEE,
            min_fee: FEE + fulmen_chain::embedded::policy::min_fee(b.vsize() as u64, 1_000),
        }
    );
    assert_eq!(reason.to_string(), "insufficient fee, 1000 < 1141");
    assert_eq!(reason.rpc_code(), -26);
    // Re-broadcasting the same transaction is fine; submit_tx reports it precisely.
    assert_eq!(chain.broadcast(&a).unwrap(), a.compute_txid());
    assert_eq!(rejected(chain.submit_tx(&a)), TxReject::AlreadyInMempool);

    // Once `a` is confirmed, `b` spends a missing input (-25) and `a` is already in the chain.
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    let reason = rejected(chain.test_accept(&b));
    assert_eq!(reason, TxReject::MissingInputs { outpoint: coin.0 });
    assert_eq!(reason.to_string(), "bad-txns-inputs-missingorspent");
    assert_eq!(reason.rpc_code(), -25);
    let reason = rejected(chain.broadcast(&a));
    assert_eq!(reason, TxReject::AlreadyInChain);
    assert_eq!(reason.rpc_code(), -27);
}

#[test]
fn double_spend_refused_in_a_block() {
    let w = Wallet::new(11);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let a = w.pay(coin, burn_spk(), Amount::from_sat(10_000));
    let b = w.pay(coin, burn_spk(), Amount::from_sat(20_000));
    let tip = chain.tip().unwrap();
    let r =
        block_reject(chain.mine_block_with(vec![a.clone(), b.clone()], &w.spk, next_time(&chain)));
    assert_eq!(
        r,
        BlockReject::Tx {
            txid: b.compute_txid(),
            reject: TxReject::MissingInputs { outpoint: coin.0 }
        }
    );
    assert_eq!(r.reason(), "bad-txns-inputs-missingorspent");
    assert_eq!(
        chain.tip().unwrap(),
        tip,
        "the invalid block did not become the tip"
    );
    // The UTXO set was rolled back: the coin is still there.
    assert!(chain.get_tx_out(&coin.0).unwrap().is_some());

    // A block spending an output already spent in the chain is refused too.
    chain
        .mine_block_with(vec![a.clone()], &w.spk, next_time(&chain))
        .unwrap();
    let r = block_reject(chain.mine_block_with(vec![b], &w.spk, next_time(&chain)));
    assert_eq!(r.reason(), "bad-txns-inputs-missingorspent");

    // A block conflicting with the mempool wins: the mempool transaction is evicted.
    let coin2 = coinbase_at(&chain, 2);
    let c = w.pay(coin2, burn_spk(), Amount::from_sat(30_000));
    let d = w.pay(coin2, burn_spk(), Amount::from_sat(40_000));
    chain.broadcast(&c).unwrap();
    chain
        .mine_block_with(vec![d.clone()], &w.spk, next_time(&chain))
        .unwrap();
    assert_eq!(
        chain.tx_status(&c.compute_txid()).unwrap(),
        TxStatus::Unknown
    );
    let spend = chain.spending_tx(&coin2.0).unwrap().unwrap();
    assert_eq!(spend.tx, d);
    assert!(matches!(
        spend.status,
        TxStatus::Confirmed {
            confirmations: 1,
            ..
        }
    ));
}

#[test]
fn coinbase_spend_refused_before_100_confirmations() {
    let w = Wallet::new(12);
    let chain = fulmen_chain::EmbeddedChain::in_memory(Default::default());
    chain.mine(1, &w.spk, T0).unwrap();
    let coin = coinbase_at(&chain, 1);
    assert!(chain.get_tx_out(&coin.0).unwrap().unwrap().is_coinbase);
    let tx = w.pay(coin, burn_spk(), Amount::from_sat(10_000));
    // Tip 99: the next block (100) would give the coinbase 99 confirmations.
    chain.mine(98, &w.spk, next_time(&chain)).unwrap();
    assert_eq!(chain.tip().unwrap().height, 99);
    let reason = rejected(chain.test_accept(&tx));
    assert_eq!(reason, TxReject::PrematureCoinbaseSpend { depth: 99 });
    assert_eq!(
        reason.to_string(),
        "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 99"
    );
    let r = block_reject(chain.mine_block_with(vec![tx.clone()], &w.spk, next_time(&chain)));
    assert_eq!(r.reason(), "bad-txns-premature-spend-of-coinbase");
    // Tip 100: the next block gives it 100 confirmations.
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    chain.broadcast(&tx).unwrap();
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    assert_eq!(chain.tx_confirmations(&tx.compute_txid()).unwrap(), Some(1));
}

#[test]
fn bad_signature_refused() {
    let w = Wallet::new(13);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    // Signed for the wrong amount (segwit signatures commit to it).
    let mut tx = w.pay(coin, burn_spk(), Amount::from_sat(10_000));
    w.sign(&mut tx, 0, coin.1 - Amount::from_sat(1));
    let reason = rejected(chain.test_accept(&tx));
    assert_eq!(reason, TxReject::MandatoryScript { input: 0 });
    assert!(reason
        .to_string()
        .starts_with("mandatory-script-verify-flag-failed"));
    let r = block_reject(chain.mine_block_with(vec![tx.clone()], &w.spk, next_time(&chain)));
    assert_eq!(r.reason(), "mandatory-script-verify-flag-failed");
    // Signed by another key.
    let other = Wallet::new(14);
    let mut tx2 = w.pay(coin, burn_spk(), Amount::from_sat(10_000));
    let sig = other.sighash_sig(&tx2, 0, coin.1);
    let sig = bitcoin::ecdsa::Signature {
        signature: sig,
        sighash_type: bitcoin::EcdsaSighashType::All,
    };
    tx2.input[0].witness = Witness::p2wpkh(&sig, &w.pk.0);
    assert!(matches!(
        rejected(chain.test_accept(&tx2)),
        TxReject::MandatoryScript { .. }
    ));
    // No witness at all.
    let mut tx3 = tx2.clone();
    tx3.input[0].witness = Witness::new();
    assert!(matches!(
        rejected(chain.test_accept(&tx3)),
        TxReject::MandatoryScript { .. }
    ));
}

#[test]
fn high_s_signature_is_policy_not_consensus() {
    let w = Wallet::new(15);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let mut tx = w.pay(coin, burn_spk(), Amount::from_sat(10_000));
    let sig = high_s(&w.sighash_sig(&tx, 0, coin.1));
    let sig = bitcoin::ecdsa::Signature {
        signature: sig,
        sighash_type: bitcoin::EcdsaSighashType::All,
    };
    tx.input[0].witness = Witness::p2wpkh(&sig, &w.pk.0);
    let reason = rejected(chain.test_accept(&tx));
    assert_eq!(
        reason,
        TxReject::NonMandatoryScript {
            input: 0,
            violation: ScriptPolicy::SigHighS
        }
    );
    assert!(reason.is_policy_only());
    assert!(reason
        .to_string()
        .starts_with("non-mandatory-script-verify-flag-failed (Non-canonical signature: S value is unnecessarily high)"));
    // Consensus-valid: a block may include it.
    chain
        .mine_block_with(vec![tx.clone()], &w.spk, next_time(&chain))
        .unwrap();
    assert_eq!(chain.tx_confirmations(&tx.compute_txid()).unwrap(), Some(1));
}

#[test]
fn fee_and_dust_policy() {
    let w = Wallet::new(16);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    // Zero fee: below 1 sat/vB.
    let tx = w.spend(
        &[coin],
        vec![TxOut {
            value: coin.1,
            script_pubkey: w.spk.clone(),
        }],
    );
    let reason = rejected(chain.test_accept(&tx));
    let vsize = tx.vsize() as u64;
    assert_eq!(
        reason,
        TxReject::MinRelayFee {
            fee: Amount::ZERO,
            min_fee: Amount::from_sat(vsize)
        }
    );
    assert_eq!(
        reason.to_string(),
        format!("min relay fee not met, 0 < {vsize}")
    );
    // Exactly 1 sat/vB passes.
    let tx = w.spend(
        &[coin],
        vec![TxOut {
            value: coin.1 - Amount::from_sat(vsize),
            script_pubkey: w.spk.clone(),
        }],
    );
    chain.test_accept(&tx).unwrap();
    // P2WPKH dust threshold is 294 sat.
    let dust = w.pay(coin, burn_spk(), Amount::from_sat(293));
    assert_eq!(
        rejected(chain.test_accept(&dust)),
        TxReject::NonStandard(NonStandard::Dust)
    );
    let ok = w.pay(coin, burn_spk(), Amount::from_sat(294));
    chain.test_accept(&ok).unwrap();
    // Outputs above inputs.
    let mut greedy = w.spend(
        &[coin],
        vec![TxOut {
            value: coin.1 + Amount::ONE_SAT,
            script_pubkey: w.spk.clone(),
        }],
    );
    w.sign(&mut greedy, 0, coin.1);
    assert!(matches!(
        rejected(chain.test_accept(&greedy)),
        TxReject::InBelowOut { .. }
    ));
    assert!(
        chain.mempool_entries().unwrap().is_empty(),
        "dry runs add nothing"
    );
}

#[test]
fn package_of_unconfirmed_parent_and_child() {
    let w = Wallet::new(17);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let parent = w.pay(coin, w.spk.clone(), Amount::from_sat(1_000_000));
    chain.broadcast(&parent).unwrap();
    let child_coin = (
        OutPoint {
            txid: parent.compute_txid(),
            vout: 0,
        },
        Amount::from_sat(1_000_000),
    );
    // Visible through the mempool only.
    assert!(chain.get_tx_out(&child_coin.0).unwrap().is_none());
    assert_eq!(
        chain
            .tx_out(&child_coin.0, true)
            .unwrap()
            .unwrap()
            .confirmations,
        0
    );
    let child = w.pay(child_coin, burn_spk(), Amount::from_sat(500_000));
    chain.broadcast(&child).unwrap();
    let entries = chain.mempool_entries().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].txid, parent.compute_txid());
    assert_eq!(entries[1].parents, vec![parent.compute_txid()]);
    assert_eq!(
        chain.spending_tx(&child_coin.0).unwrap().unwrap().status,
        TxStatus::Mempool
    );
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    assert!(chain.mempool_entries().unwrap().is_empty());
    assert_eq!(
        chain.tx_confirmations(&parent.compute_txid()).unwrap(),
        Some(1)
    );
    assert_eq!(
        chain.tx_confirmations(&child.compute_txid()).unwrap(),
        Some(1)
    );
    // The coinbase collected both fees.
    let block = chain
        .block_at(chain.tip().unwrap().height)
        .unwrap()
        .unwrap();
    assert_eq!(
        block.txdata[0].output[0].value,
        fulmen_chain::embedded::validate::block_subsidy(chain.tip().unwrap().height) + FEE + FEE
    );
    assert_eq!(block.txdata.len(), 3);
}

#[test]
fn block_proof_of_work_and_structure_checked() {
    let w = Wallet::new(18);
    let chain = fulmen_chain::EmbeddedChain::in_memory(Default::default());
    let hash = chain.mine(1, &w.spk, T0).unwrap()[0];
    let good = chain.block(&hash).unwrap().unwrap();
    chain.invalidate_block(&hash).unwrap();
    // Find a nonce that misses the target.
    let mut bad = good.clone();
    while bad.header.validate_pow(bad.header.target()).is_ok() {
        bad.header.nonce = bad.header.nonce.wrapping_add(1);
    }
    assert_eq!(
        chain.submit_block(bad).unwrap_err().to_string(),
        "block rejected: high-hash"
    );
    let mut inflated = good.clone();
    inflated.txdata[0].output[0].value = Amount::from_btc(51.0).unwrap();
    inflated.header.merkle_root = inflated.compute_merkle_root().unwrap();
    fulmen_chain::embedded::mining::solve(&mut inflated.header, |_| true);
    match chain.submit_block(inflated) {
        Err(MineError::Rejected(BlockReject::BadCoinbaseAmount { .. })) => {}
        other => panic!("inflated coinbase accepted: {other:?}"),
    }
    let mut wrong_root = good.clone();
    wrong_root.txdata[0].output[0].value = Amount::ONE_SAT;
    // Same header as `good` would be a duplicate: search another nonce.
    fulmen_chain::embedded::mining::solve(&mut wrong_root.header, |h| *h != hash);
    assert!(matches!(
        chain.submit_block(wrong_root),
        Err(MineError::Rejected(BlockReject::BadMerkleRoot))
    ));
    chain.reconsider_block(&hash).unwrap();
    assert_eq!(chain.tip().unwrap().hash, hash);
    assert!(matches!(
        chain.submit_block(good),
        Err(MineError::Rejected(BlockReject::Duplicate))
    ));
}
