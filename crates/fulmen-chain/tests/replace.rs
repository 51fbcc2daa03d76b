//! Full-RBF replacement on the embedded chain, as Bitcoin Core 28+ does it: a conflicting
//! transaction replaces the mempool one (and its descendants) when it pays a higher feerate,
//! at least every evicted fee, and its own relay; each refusal gives Core's reason and code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::{Amount, OutPoint, Transaction, TxOut};
use common::*;
use fulmen_chain::embedded::policy::min_fee;
use fulmen_chain::embedded::replace::MAX_REPLACEMENT_EVICTIONS;
use fulmen_chain::{ChainSource, EmbeddedChain, TxReject, TxStatus};

/// `w` spends `prev` to a burn output, paying `fee`.
fn burn_with_fee(w: &Wallet, prev: (OutPoint, Amount), fee: u64) -> Transaction {
    w.spend(&[prev], vec![burn(prev.1 - Amount::from_sat(fee))])
}

fn vsize(tx: &Transaction) -> u64 {
    tx.vsize() as u64
}

fn in_mempool(chain: &EmbeddedChain, tx: &Transaction) -> bool {
    chain.in_mempool(&tx.compute_txid()).unwrap()
}

#[test]
fn a_replacement_must_pay_for_what_it_evicts_and_its_own_relay() {
    let w = Wallet::new(31);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let first = burn_with_fee(&w, coin, 1_000);
    chain.broadcast(&first).unwrap();

    // The same fee (to another output): refused with the least fee that would replace.
    let same = w.spend(
        &[coin],
        vec![TxOut {
            value: coin.1 - Amount::from_sat(1_000),
            script_pubkey: w.spk.clone(),
        }],
    );
    let r = rejected(chain.test_accept(&same));
    assert_eq!(
        r,
        TxReject::InsufficientFee {
            fee: Amount::from_sat(1_000),
            min_fee: Amount::from_sat(1_000) + min_fee(vsize(&same), 1_000),
        }
    );
    assert_eq!(r.reason(), "insufficient fee");
    assert_eq!(r.rpc_code(), -26);

    // One satoshi short of paying its own relay, then exactly enough.
    let relay = min_fee(vsize(&first), 1_000).to_sat();
    let short = burn_with_fee(&w, coin, 1_000 + relay - 1);
    assert!(matches!(
        rejected(chain.broadcast(&short)),
        TxReject::InsufficientFee { .. }
    ));
    assert!(in_mempool(&chain, &first));
    let enough = burn_with_fee(&w, coin, 1_000 + relay);
    chain.broadcast(&enough).unwrap();
    assert!(!in_mempool(&chain, &first));
    assert!(in_mempool(&chain, &enough));
    assert_eq!(
        chain.spending_tx(&coin.0).unwrap().unwrap().tx,
        enough,
        "the replacement spends the coin now"
    );

    // The replaced transaction cannot come back for less.
    assert!(matches!(
        rejected(chain.broadcast(&first)),
        TxReject::InsufficientFee { .. }
    ));
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    assert_eq!(
        chain.tx_status(&first.compute_txid()).unwrap(),
        TxStatus::Unknown
    );
    assert!(matches!(
        chain.tx_status(&enough.compute_txid()).unwrap(),
        TxStatus::Confirmed { .. }
    ));
}

#[test]
fn a_replacement_evicts_descendants_and_pays_for_them_too() {
    let w = Wallet::new(32);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let parent = w.pay(coin, w.spk.clone(), Amount::from_sat(1_000_000));
    chain.broadcast(&parent).unwrap();
    let out = (
        OutPoint {
            txid: parent.compute_txid(),
            vout: 0,
        },
        Amount::from_sat(1_000_000),
    );
    let child = burn_with_fee(&w, out, 20_000);
    chain.broadcast(&child).unwrap();

    // Above the parent's feerate but not above parent + child fees: refused.
    let cheap = burn_with_fee(&w, coin, 5_000);
    let r = rejected(chain.test_accept(&cheap));
    let TxReject::InsufficientFee { min_fee: need, .. } = r else {
        panic!("{r:?}");
    };
    assert_eq!(
        need.to_sat(),
        21_000 + min_fee(vsize(&cheap), 1_000).to_sat()
    );
    let rich = burn_with_fee(&w, coin, need.to_sat());
    chain.broadcast(&rich).unwrap();
    for gone in [&parent, &child] {
        assert!(!in_mempool(&chain, gone));
    }
    assert_eq!(chain.mempool_entries().unwrap().len(), 1);
}

#[test]
fn a_replacement_may_not_spend_what_it_replaces_nor_add_unconfirmed_inputs() {
    let w = Wallet::new(33);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let other = coinbase_at(&chain, 2);
    let first = w.pay(coin, w.spk.clone(), Amount::from_sat(1_000_000));
    chain.broadcast(&first).unwrap();
    let first_out = (
        OutPoint {
            txid: first.compute_txid(),
            vout: 0,
        },
        Amount::from_sat(1_000_000),
    );
    // Spends the coin again and the output of the transaction it would replace.
    let both = w.spend(
        &[coin, first_out],
        vec![burn(coin.1 - Amount::from_sat(50_000))],
    );
    let r = rejected(chain.test_accept(&both));
    assert_eq!(r, TxReject::SpendsConflictingTx);
    assert_eq!(r.reason(), "bad-txns-spends-conflicting-tx");

    // Spends the coin and an unconfirmed output of an unrelated transaction.
    let unrelated = w.pay(other, w.spk.clone(), Amount::from_sat(1_000_000));
    chain.broadcast(&unrelated).unwrap();
    let unrelated_out = (
        OutPoint {
            txid: unrelated.compute_txid(),
            vout: 0,
        },
        Amount::from_sat(1_000_000),
    );
    let adds = w.spend(
        &[coin, unrelated_out],
        vec![burn(coin.1 - Amount::from_sat(50_000))],
    );
    let r = rejected(chain.test_accept(&adds));
    assert_eq!(r, TxReject::ReplacementAddsUnconfirmed);
    assert_eq!(r.reason(), "replacement-adds-unconfirmed");
    assert!(in_mempool(&chain, &first));
}

#[test]
fn a_replacement_evicting_more_than_100_transactions_is_refused() {
    let w = Wallet::new(34);
    let chain = funded_chain(&w);
    let coin = coinbase_at(&chain, 1);
    let fan = MAX_REPLACEMENT_EVICTIONS as u64 + 1;
    let each = Amount::from_sat(100_000);
    let outputs = (0..fan)
        .map(|_| TxOut {
            value: each,
            script_pubkey: w.spk.clone(),
        })
        .collect();
    let parent = w.spend(&[coin], outputs);
    chain.broadcast(&parent).unwrap();
    for vout in 0..fan {
        let out = (
            OutPoint {
                txid: parent.compute_txid(),
                vout: vout as u32,
            },
            each,
        );
        chain.broadcast(&burn_with_fee(&w, out, 1_000)).unwrap();
    }
    let replacement = burn_with_fee(&w, coin, 10_000_000);
    let r = rejected(chain.test_accept(&replacement));
    assert_eq!(
        r,
        TxReject::TooManyReplacements {
            evictions: MAX_REPLACEMENT_EVICTIONS + 2
        }
    );
    assert_eq!(r.to_string(), "too many potential replacements (102 > 100)");
}
