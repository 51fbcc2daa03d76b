//! Persistence of the embedded chain: reopening the datadir keeps the chain, the UTXO set, the
//! indexes and block invalidations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::{Amount, OutPoint};
use common::*;
use fulmen_chain::{ChainSource, EmbeddedChain, EmbeddedConfig, TxStatus};

#[test]
fn restart_keeps_chain_and_utxo_set() {
    let dir = tempfile::tempdir().unwrap();
    let w = Wallet::new(30);
    let (tip, txid, coin, info) = {
        let chain = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
        chain.mine(101, &w.spk, T0).unwrap();
        let coin = coinbase_at(&chain, 1);
        let tx = w.pay(coin, burn_spk(), Amount::from_sat(70_000));
        let txid = chain.broadcast(&tx).unwrap();
        chain.mine(2, &w.spk, next_time(&chain)).unwrap();
        // A side branch and an invalidation must survive too.
        let stale = chain.invalidate_tip().unwrap();
        chain
            .mine_block_with(vec![], &w.spk, next_time(&chain) + 1)
            .unwrap();
        chain.mine(1, &w.spk, next_time(&chain)).unwrap();
        assert!(chain
            .block_info(&stale.hash)
            .unwrap()
            .unwrap()
            .confirmations
            .is_none());
        (
            chain.tip().unwrap(),
            txid,
            coin,
            chain.chain_info().unwrap(),
        )
    };
    let chain = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
    assert_eq!(chain.tip().unwrap(), tip);
    assert_eq!(
        chain.chain_info().unwrap(),
        info,
        "same UTXO count, work and tip"
    );
    assert!(
        chain.get_tx_out(&coin.0).unwrap().is_none(),
        "spent coin stays spent"
    );
    let paid = OutPoint { txid, vout: 0 };
    let out = chain.get_tx_out(&paid).unwrap().unwrap();
    assert_eq!(out.txout.value, Amount::from_sat(70_000));
    assert!(matches!(
        chain.tx_status(&txid).unwrap(),
        TxStatus::Confirmed { .. }
    ));
    assert_eq!(
        chain
            .spending_tx(&coin.0)
            .unwrap()
            .unwrap()
            .tx
            .compute_txid(),
        txid
    );
    // The chain keeps growing after a restart, and again survives one.
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    let tip = chain.tip().unwrap();
    drop(chain);
    let chain = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
    assert_eq!(chain.tip().unwrap(), tip);
}

#[test]
fn in_memory_chain_persists_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = Wallet::new(31);
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    chain.mine(3, &w.spk, T0).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let reopened = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
    assert_eq!(reopened.tip().unwrap().height, 0);
}

#[test]
fn corrupt_store_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let w = Wallet::new(32);
    {
        let chain = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
        chain.mine(3, &w.spk, T0).unwrap();
    }
    let path = dir.path().join("blocks.dat");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0xff; // inside the first record, with more records after it
    std::fs::write(&path, &bytes).unwrap();
    let err = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap_err();
    assert!(
        matches!(err, fulmen_chain::ChainError::Corrupt { offset: 0, .. }),
        "{err}"
    );
}

#[test]
fn invalid_blocks_stay_invalid_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let w = Wallet::new(33);
    let (tip, info) = {
        let chain = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
        chain.mine(101, &w.spk, T0).unwrap();
        let coin = coinbase_at(&chain, 1);
        let a = w.pay(coin, burn_spk(), Amount::from_sat(10_000));
        let b = w.pay(coin, burn_spk(), Amount::from_sat(20_000));
        // A double-spending block is stored, found invalid, and kept as such.
        assert!(chain
            .mine_block_with(vec![a, b], &w.spk, next_time(&chain))
            .is_err());
        chain.mine(1, &w.spk, next_time(&chain)).unwrap();
        (chain.tip().unwrap(), chain.chain_info().unwrap())
    };
    let chain = EmbeddedChain::open(dir.path(), EmbeddedConfig::default()).unwrap();
    assert_eq!(chain.tip().unwrap(), tip);
    assert_eq!(chain.chain_info().unwrap(), info);
}
