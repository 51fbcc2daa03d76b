//! Reorgs on the embedded chain: confirmed transactions return to the mempool, the ChainSource
//! events report disconnects then connects, the most-work branch wins, and the handle is shared
//! across threads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::{Amount, OutPoint};
use common::*;
use fulmen_chain::{BlockRef, ChainEvent, ChainSource, TxStatus};

#[test]
fn depth_3_reorg_returns_confirmed_tx_to_mempool_and_events_show_it() {
    let w = Wallet::new(20);
    let chain = funded_chain(&w);
    let fork = chain.tip().unwrap();
    let coin = coinbase_at(&chain, 1);
    let tx = w.pay(coin, burn_spk(), Amount::from_sat(50_000));
    let txid = chain.broadcast(&tx).unwrap();
    let old = chain.mine(3, &w.spk, next_time(&chain)).unwrap();
    assert_eq!(chain.tx_confirmations(&txid).unwrap(), Some(3));
    // The follower saw the old tip.
    let known = chain.tip().unwrap();
    assert_eq!(known.hash, old[2]);

    // Knock out the three blocks (tip first, as a test would), then mine a longer branch
    // without the transaction.
    for _ in 0..3 {
        chain.invalidate_tip().unwrap();
    }
    assert_eq!(chain.tip().unwrap(), fork);
    assert_eq!(
        chain.tx_status(&txid).unwrap(),
        TxStatus::Mempool,
        "back in the mempool"
    );
    assert!(
        chain.get_tx_out(&coin.0).unwrap().is_some(),
        "its input is unspent again"
    );
    let mut new = Vec::new();
    for _ in 0..4 {
        new.push(
            chain
                .mine_block_with(vec![], &w.spk, next_time(&chain) + 7)
                .unwrap(),
        );
    }
    assert_eq!(chain.tip().unwrap().height, fork.height + 4);
    assert_eq!(chain.tx_status(&txid).unwrap(), TxStatus::Mempool);
    assert_eq!(chain.tx_confirmations(&txid).unwrap(), Some(0));

    let events = chain.events_since(&known).unwrap();
    assert_eq!(events.len(), 7);
    for (i, e) in events.iter().take(3).enumerate() {
        let height = known.height - i as u32;
        assert_eq!(*e, ChainEvent::BlockDisconnected(height, old[2 - i]));
    }
    for (i, e) in events.iter().skip(3).enumerate() {
        match e {
            ChainEvent::BlockConnected(h, block) => {
                assert_eq!(*h, fork.height + 1 + i as u32);
                assert_eq!(block.block_hash(), new[i]);
            }
            other => panic!("expected a connect, got {other:?}"),
        }
    }
    // The follower caught up: nothing more.
    assert!(chain
        .events_since(&chain.tip().unwrap())
        .unwrap()
        .is_empty());

    // The transaction confirms again on the new branch.
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    assert_eq!(chain.tx_confirmations(&txid).unwrap(), Some(1));
}

#[test]
fn most_work_branch_wins_and_reconsider_does_not_steal_the_tip() {
    let w = Wallet::new(21);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let tx = w.pay(coin, burn_spk(), Amount::from_sat(50_000));
    let txid = chain.broadcast(&tx).unwrap();
    let old = chain.mine(3, &w.spk, next_time(&chain)).unwrap();
    chain.invalidate_block(&old[0]).unwrap();
    // Build a 4-block branch that spends the same coin differently.
    let double = w.pay(coin, burn_spk(), Amount::from_sat(60_000));
    let mut new = vec![chain
        .mine_block_with(vec![double.clone()], &w.spk, next_time(&chain))
        .unwrap()];
    new.extend(chain.mine(3, &w.spk, next_time(&chain)).unwrap());
    assert_eq!(
        chain.tx_status(&txid).unwrap(),
        TxStatus::Unknown,
        "conflict evicted"
    );
    // Reconsidering the shorter branch leaves the longer one active.
    chain.reconsider_block(&old[0]).unwrap();
    assert_eq!(chain.tip().unwrap().hash, new[3]);
    let info = chain.block_info(&old[2]).unwrap().unwrap();
    assert_eq!(info.confirmations, None);
    assert!(info.failure.is_none());
    // Knocking out the new branch switches back: the old tx is confirmed again, `double` is
    // dropped (its input is spent in the chain).
    chain.invalidate_block(&new[0]).unwrap();
    assert_eq!(chain.tip().unwrap().hash, old[2]);
    assert_eq!(chain.tx_confirmations(&txid).unwrap(), Some(3));
    assert_eq!(
        chain.tx_status(&double.compute_txid()).unwrap(),
        TxStatus::Unknown
    );
    let spend = chain.spending_tx(&coin.0).unwrap().unwrap();
    assert_eq!(spend.tx.compute_txid(), txid);
}

#[test]
fn events_cover_plain_connects_and_unknown_tips() {
    let w = Wallet::new(22);
    let chain = fulmen_chain::EmbeddedChain::in_memory(Default::default());
    let genesis = chain.tip().unwrap();
    assert_eq!(genesis.height, 0);
    chain.mine(5, &w.spk, T0).unwrap();
    let events = chain.events_since(&genesis).unwrap();
    assert_eq!(events.len(), 5);
    assert!(matches!(events[0], ChainEvent::BlockConnected(1, _)));
    let unknown = BlockRef {
        height: 3,
        hash: bitcoin::BlockHash::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
    };
    assert!(matches!(
        chain.events_since(&unknown),
        Err(fulmen_chain::ChainError::UnknownBlock(_))
    ));
    assert_eq!(
        chain.block_at(3).unwrap().unwrap().block_hash(),
        chain.block_hash_at(3).unwrap().unwrap()
    );
    assert!(chain.block_at(6).unwrap().is_none());
    let fee = chain.estimate_feerate(6).unwrap();
    assert_eq!(fee.to_sat_per_kwu(), 500);
    assert!(chain.estimate_feerate(0).is_err());
    chain
        .set_fee_rate(bitcoin::FeeRate::from_sat_per_vb_u32(10))
        .unwrap();
    assert_eq!(chain.estimate_feerate(1).unwrap().to_sat_per_kwu(), 2_500);
    chain.set_fee_estimates(false).unwrap();
    assert!(matches!(
        chain.estimate_feerate(6),
        Err(fulmen_chain::ChainError::NoFeeEstimate)
    ));
    chain.set_fee_estimates(true).unwrap();
    assert_eq!(chain.estimate_feerate(1).unwrap().to_sat_per_kwu(), 2_500);
}

#[test]
fn shared_between_threads() {
    let w = Wallet::new(23);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let start_tip = chain.tip().unwrap();
    let miner = chain.clone();
    let spk = w.spk.clone();
    let start = next_time(&chain);
    let handle = std::thread::spawn(move || {
        for i in 0..10 {
            miner.mine(1, &spk, start + i).unwrap();
        }
    });
    let reader = chain.clone();
    let watcher = std::thread::spawn(move || {
        let mut known = start_tip;
        let mut connects = 0;
        while connects < 10 {
            for e in reader.events_since(&known).unwrap() {
                if let ChainEvent::BlockConnected(h, b) = e {
                    known = BlockRef {
                        height: h,
                        hash: b.block_hash(),
                    };
                    connects += 1;
                }
            }
            std::thread::yield_now();
        }
        known
    });
    handle.join().unwrap();
    let seen = watcher.join().unwrap();
    assert_eq!(seen, chain.tip().unwrap());
    let tx = w.pay(coin, burn_spk(), Amount::from_sat(10_000));
    chain.broadcast(&tx).unwrap();
    let out = OutPoint {
        txid: tx.compute_txid(),
        vout: 0,
    };
    assert!(chain.tx_out(&out, true).unwrap().is_some());
}
