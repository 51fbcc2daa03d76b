//! The on-chain wallet fed with hand-made regtest blocks: addresses (BIP84
//! vectors), coinbase maturity, reorgs, persistence across reopen, and
//! rejection of impossible input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Amount, Network};
use fulmen_types::Sat;
use fulmen_wallet::keys::{KeyTree, Mnemonic};
use fulmen_wallet::onchain::{
    Balance, BlockRef, Keychain, OnchainError, OnchainWallet, UtxoStatus,
};
use serde::Deserialize;
use support::{block, foreign_payment, out, wallet, Chain, SUBSIDY};

#[derive(Deserialize)]
struct Bip84 {
    mnemonic: String,
    passphrase: String,
    addresses: Vec<Bip84Address>,
}

#[derive(Deserialize)]
struct Bip84Address {
    relative: String,
    address: String,
}

#[test]
fn addresses_follow_bip84_vectors() {
    let file: Bip84 = serde_json::from_str(include_str!("data/bip84_vectors.json")).unwrap();
    let secp = Secp256k1::new();
    let seed = Mnemonic::parse(&file.mnemonic)
        .unwrap()
        .to_seed(&file.passphrase);
    let tree = KeyTree::new(&secp, &seed, Network::Bitcoin).unwrap();
    let mut wallet = OnchainWallet::in_memory(&tree, Network::Bitcoin).unwrap();
    assert_eq!(wallet.last_revealed_index(Keychain::Receive), None);

    for vector in &file.addresses {
        let (branch, index) = vector.relative.split_once('/').unwrap();
        let index: u32 = index.parse().unwrap();
        let got = match branch {
            "0" => {
                let revealed = wallet.new_address().unwrap();
                assert_eq!(revealed.index, index);
                assert_eq!(revealed.keychain, Keychain::Receive);
                revealed
            }
            "1" => wallet.peek_address(Keychain::Change, index),
            _ => panic!("unexpected branch {branch}"),
        };
        assert_eq!(
            got.address.to_string(),
            vector.address,
            "{}",
            vector.relative
        );
        assert!(wallet.is_mine(&got.address.script_pubkey()));
    }
    assert_eq!(wallet.last_revealed_index(Keychain::Receive), Some(1));
    assert_eq!(wallet.last_revealed_index(Keychain::Change), None);
}

#[test]
fn network_must_match_the_key_tree() {
    let tree = support::tree(1);
    let err = OnchainWallet::in_memory(&tree, Network::Bitcoin).unwrap_err();
    assert!(matches!(err, OnchainError::NetworkMismatch { .. }), "{err}");
    // Every test network shares coin type 1'.
    for network in [Network::Testnet, Network::Signet, Network::Regtest] {
        OnchainWallet::in_memory(&tree, network).unwrap();
    }
}

#[test]
fn coinbase_is_immature_until_100_confirmations() {
    let mut wallet = wallet();
    let mut chain = Chain::new();
    let address = wallet.new_address().unwrap().address;
    let reward = chain.mine(
        &mut wallet,
        vec![out(SUBSIDY, address.script_pubkey())],
        vec![],
    );
    let reward_txid = reward.txdata[0].compute_txid();

    let immature = Balance {
        immature: SUBSIDY.into(),
        ..Balance::default()
    };
    assert_eq!(wallet.balance(), immature);
    let utxos = wallet.list_unspent();
    assert_eq!(utxos.len(), 1);
    assert_eq!(utxos[0].outpoint.txid, reward_txid);
    assert_eq!(utxos[0].amount, Sat::from(SUBSIDY));
    assert_eq!(utxos[0].keychain, Keychain::Receive);
    assert_eq!(
        utxos[0].status,
        UtxoStatus::Confirmed {
            block: BlockRef {
                height: 1,
                hash: chain.hashes[1]
            }
        }
    );

    // 99 confirmations (98 blocks on top): still immature.
    chain.mine_empty(&mut wallet, 98);
    assert_eq!(wallet.tip().height, 99);
    assert_eq!(wallet.balance(), immature);
    let err = wallet
        .build_payment(
            support::funding_script(),
            Sat(10_000),
            bitcoin::FeeRate::from_sat_per_kwu(253),
            fulmen_wallet::onchain::CoinPolicy::AllowUnconfirmed,
            [0; 32],
        )
        .unwrap_err();
    assert!(
        matches!(err, OnchainError::InsufficientFunds { .. }),
        "{err}"
    );

    // The 100th confirmation: spendable in the next block, so confirmed.
    chain.mine_empty(&mut wallet, 1);
    assert_eq!(
        wallet.balance(),
        Balance {
            confirmed: SUBSIDY.into(),
            ..Balance::default()
        }
    );
    assert_eq!(wallet.balance().spendable(), Sat::from(SUBSIDY));
}

#[test]
fn payment_received_then_reorged_out_and_back() {
    let mut wallet = wallet();
    let mut chain = Chain::new();
    let script = wallet.new_address().unwrap().address.script_pubkey();
    chain.mine_empty(&mut wallet, 3);

    // Confirmed at height 4, never seen in the mempool.
    let payment = foreign_payment(9, vec![out(Amount::from_sat(700_000), script)]);
    chain.mine(&mut wallet, vec![], vec![payment.clone()]);
    chain.mine_empty(&mut wallet, 2);
    let confirmed = Balance {
        confirmed: Sat(700_000),
        ..Balance::default()
    };
    assert_eq!(wallet.balance(), confirmed);

    // A competing block at height 4 without the payment: bdk replaces
    // block 4 and drops 5 and 6. The payment was only ever confirmed in the
    // dropped block; bdk keeps it as unconfirmed (it may be mined again),
    // never seen in the mempool, so untrusted.
    chain.rewind_to(3);
    let fork = chain.make(vec![], vec![]);
    wallet.apply_block(&fork, 4).unwrap();
    assert_eq!(
        wallet.tip(),
        BlockRef {
            height: 4,
            hash: fork.block_hash()
        }
    );
    assert_eq!(wallet.block_hash_at(5), None);
    assert_eq!(
        wallet.balance(),
        Balance {
            untrusted_pending: Sat(700_000),
            ..Balance::default()
        }
    );
    assert_eq!(
        wallet.list_unspent()[0].status,
        UtxoStatus::Unconfirmed { last_seen: None }
    );
    assert_eq!(wallet.get_tx(payment.compute_txid()), Some(payment.clone()));

    // The new chain confirms it at height 5.
    chain.mine(&mut wallet, vec![], vec![payment.clone()]);
    assert_eq!(wallet.balance(), confirmed);
    let utxos = wallet.list_unspent();
    assert_eq!(
        utxos[0].status,
        UtxoStatus::Confirmed {
            block: BlockRef {
                height: 5,
                hash: chain.hashes[5]
            }
        }
    );
}

#[test]
fn mempool_payment_goes_back_to_unconfirmed_on_disconnect() {
    let mut wallet = wallet();
    let mut chain = Chain::new();
    let script = wallet.new_address().unwrap().address.script_pubkey();
    chain.mine_empty(&mut wallet, 2);

    let payment = foreign_payment(7, vec![out(Amount::from_sat(120_000), script)]);
    wallet.apply_unconfirmed([payment.clone()], 1_000).unwrap();
    let pending = Balance {
        untrusted_pending: Sat(120_000),
        ..Balance::default()
    };
    assert_eq!(wallet.balance(), pending);
    assert_eq!(
        wallet.list_unspent()[0].status,
        UtxoStatus::Unconfirmed {
            last_seen: Some(1_000)
        }
    );

    chain.mine(&mut wallet, vec![], vec![payment.clone()]);
    chain.mine_empty(&mut wallet, 1);
    assert_eq!(wallet.balance().confirmed, Sat(120_000));

    // The chain source reports blocks 4 and 3 disconnected.
    wallet.disconnect_to(2).unwrap();
    assert_eq!(wallet.tip().height, 2);
    assert_eq!(wallet.tip().hash, chain.hashes[2]);
    assert_eq!(wallet.balance(), pending);
    // The new chain, without the payment, leaves it unconfirmed.
    chain.rewind_to(2);
    chain.mine_empty(&mut wallet, 3);
    assert_eq!(wallet.tip().height, 5);
    assert_eq!(wallet.balance(), pending);
    // Disconnecting at or above the tip changes nothing.
    wallet.disconnect_to(5).unwrap();
    wallet.disconnect_to(9).unwrap();
    assert_eq!(wallet.tip().height, 5);
}

#[test]
fn blocks_must_connect() {
    let mut wallet = wallet();
    let mut chain = Chain::new();
    chain.mine_empty(&mut wallet, 2);
    let tip = wallet.tip();

    // A block whose parent the wallet does not have (a gap).
    let _skipped = chain.make(vec![], vec![]);
    let orphan = chain.make(vec![], vec![]);
    let err = wallet.apply_block(&orphan, 4).unwrap_err();
    assert!(
        matches!(err, OnchainError::BlockDoesNotConnect { height: 4, .. }),
        "{err}"
    );
    assert_eq!(wallet.tip(), tip);

    // A block claimed at a height that does not match its parent's.
    let err = wallet.apply_block(&orphan, 3).unwrap_err();
    assert!(
        matches!(err, OnchainError::BlockDoesNotConnect { .. }),
        "{err}"
    );

    // A connection point that contradicts the block.
    let next = block(chain.hashes[2], 3, 99, vec![], vec![]);
    let wrong = BlockRef {
        height: 2,
        hash: chain.hashes[1],
    };
    let err = wallet
        .apply_block_connected_to(&next, 3, wrong)
        .unwrap_err();
    assert!(
        matches!(err, OnchainError::InconsistentConnection { height: 3 }),
        "{err}"
    );
    assert_eq!(wallet.tip(), tip);

    // Disconnecting to 0 keeps the genesis block, which cannot be replaced.
    wallet.disconnect_to(0).unwrap();
    assert_eq!(wallet.tip().height, 0);
    assert_eq!(wallet.tip().hash, chain.hashes[0]);
    let other_genesis = block(chain.hashes[0], 0, 5, vec![], vec![]);
    let err = wallet.apply_block(&other_genesis, 0).unwrap_err();
    assert!(
        matches!(err, OnchainError::BlockDoesNotConnect { height: 0, .. }),
        "{err}"
    );
}

#[test]
fn re_applying_a_block_changes_nothing() {
    let mut wallet = wallet();
    let mut chain = Chain::new();
    let script = wallet.new_address().unwrap().address.script_pubkey();
    let payment = foreign_payment(3, vec![out(Amount::from_sat(5_000), script)]);
    let b1 = chain.mine(&mut wallet, vec![], vec![payment]);
    chain.mine_empty(&mut wallet, 1);
    let before = (wallet.tip(), wallet.balance(), wallet.list_unspent());
    wallet.apply_block(&b1, 1).unwrap();
    assert_eq!(
        (wallet.tip(), wallet.balance(), wallet.list_unspent()),
        before
    );
}

#[test]
fn a_fresh_wallet_can_start_at_a_birthday() {
    let mut wallet = wallet();
    let genesis = BlockRef {
        height: 0,
        hash: bitcoin::constants::genesis_block(Network::Regtest).block_hash(),
    };
    let script = wallet.new_address().unwrap().address.script_pubkey();
    let prev = bitcoin::BlockHash::from_byte_array([4; 32]);
    let payment = foreign_payment(1, vec![out(Amount::from_sat(9_000), script)]);
    let first = block(prev, 800, 1, vec![], vec![payment]);
    // Its parent is unknown: plain apply_block cannot connect it.
    assert!(wallet.apply_block(&first, 800).is_err());
    wallet
        .apply_block_connected_to(&first, 800, genesis)
        .unwrap();
    let second = block(first.block_hash(), 801, 2, vec![], vec![]);
    wallet.apply_block(&second, 801).unwrap();
    assert_eq!(wallet.tip().height, 801);
    assert_eq!(wallet.balance().confirmed, Sat(9_000));
}

#[test]
fn impossible_input_is_rejected_before_it_is_applied() {
    let mut wallet = wallet();
    let mut chain = Chain::new();
    let script = wallet.new_address().unwrap().address.script_pubkey();
    let tip = wallet.tip();

    // More than 21 million bitcoin, in a block and in the mempool.
    let inflation = foreign_payment(
        2,
        vec![
            out(Amount::MAX_MONEY, script.clone()),
            out(Amount::from_sat(1), script.clone()),
        ],
    );
    let bad = chain.make(vec![], vec![inflation.clone()]);
    let err = wallet.apply_block(&bad, 1).unwrap_err();
    assert!(
        matches!(err, OnchainError::InvalidAmount { txid } if txid == inflation.compute_txid())
    );
    let err = wallet.apply_unconfirmed([inflation], 5).unwrap_err();
    assert!(matches!(err, OnchainError::InvalidAmount { .. }), "{err}");
    // A coinbase cannot be in the mempool; with it, nothing is applied.
    let coinbase = support::coinbase(5, 1, vec![out(SUBSIDY, script.clone())]);
    let fine = foreign_payment(6, vec![out(Amount::from_sat(1_000), script.clone())]);
    let err = wallet.apply_unconfirmed([fine, coinbase], 5).unwrap_err();
    assert!(
        matches!(err, OnchainError::UnconfirmedCoinbase { .. }),
        "{err}"
    );
    assert_eq!(wallet.tip(), tip);
    assert_eq!(wallet.balance(), Balance::default());

    // Heights in the locktime timestamp range.
    let high = block(chain.hashes[0], 500_000_000, 1, vec![], vec![]);
    let err = wallet
        .apply_block_connected_to(&high, 500_000_000, tip)
        .unwrap_err();
    assert!(matches!(
        err,
        OnchainError::HeightOutOfRange {
            height: 500_000_000
        }
    ));
    assert_eq!(wallet.tip(), tip);
}

#[test]
fn reopen_keeps_addresses_chain_and_balance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wallet.sqlite");
    let tree = support::tree(1);
    let mut chain = Chain::new();

    let (tip, balance, utxos, third) = {
        let mut wallet = OnchainWallet::open(&tree, Network::Regtest, &path).unwrap();
        wallet.new_address().unwrap();
        wallet.new_address().unwrap();
        let third = wallet.new_address().unwrap();
        assert_eq!(third.index, 2);
        let script = third.address.script_pubkey();
        chain.mine(&mut wallet, vec![out(SUBSIDY, script.clone())], vec![]);
        chain.mine_empty(&mut wallet, 100);
        let payment = foreign_payment(5, vec![out(Amount::from_sat(33_000), script)]);
        wallet.apply_unconfirmed([payment], 42).unwrap();
        // A reorg through disconnect_to is durable too.
        wallet.disconnect_to(99).unwrap();
        chain.rewind_to(99);
        chain.mine_empty(&mut wallet, 2);
        (wallet.tip(), wallet.balance(), wallet.list_unspent(), third)
    };
    assert_eq!(
        balance,
        Balance {
            confirmed: SUBSIDY.into(),
            untrusted_pending: Sat(33_000),
            ..Balance::default()
        }
    );

    let mut wallet = OnchainWallet::open(&tree, Network::Regtest, &path).unwrap();
    assert_eq!(wallet.tip(), tip);
    assert_eq!(wallet.tip().hash, chain.hashes[101]);
    assert_eq!(wallet.balance(), balance);
    assert_eq!(wallet.list_unspent(), utxos);
    assert_eq!(wallet.last_revealed_index(Keychain::Receive), Some(2));
    assert_eq!(wallet.peek_address(Keychain::Receive, 2), third);
    assert_eq!(wallet.new_address().unwrap().index, 3);
    drop(wallet);

    // Another seed, or another network, cannot open this database.
    let stranger = support::tree(2);
    let err = OnchainWallet::open(&stranger, Network::Regtest, &path).unwrap_err();
    assert!(matches!(err, OnchainError::Load(_)), "{err}");
    let err = OnchainWallet::open(&tree, Network::Signet, &path).unwrap_err();
    assert!(matches!(err, OnchainError::Load(_)), "{err}");
    // And the file is untouched by the failed opens.
    let wallet = OnchainWallet::open(&tree, Network::Regtest, &path).unwrap();
    assert_eq!(wallet.last_revealed_index(Keychain::Receive), Some(3));
    assert_eq!(wallet.balance(), balance);
}

#[test]
fn debug_shows_no_secret() {
    let wallet = wallet();
    let debug = format!("{wallet:?}");
    assert!(debug.contains("Regtest"), "{debug}");
    assert!(!debug.contains("prv"), "{debug}");
}

#[test]
fn a_reorged_out_coinbase_is_dropped() {
    let mut wallet = wallet();
    let mut chain = Chain::new();
    let script = wallet.new_address().unwrap().address.script_pubkey();
    chain.mine_empty(&mut wallet, 1);
    chain.mine(&mut wallet, vec![out(SUBSIDY, script)], vec![]);
    chain.mine_empty(&mut wallet, 100);
    assert_eq!(wallet.balance().confirmed, Sat::from(SUBSIDY));

    // Unlike other transactions, a coinbase cannot be mined again: bdk no
    // longer counts one whose block left the chain.
    chain.rewind_to(1);
    let fork = chain.make(vec![], vec![]);
    wallet.apply_block(&fork, 2).unwrap();
    assert_eq!(wallet.balance(), Balance::default());
    assert!(wallet.list_unspent().is_empty());
}

/// Every mutating call is committed when it returns: a second handle on the
/// same file, opened while the first is still alive (so nothing can be
/// flushed at drop), sees it.
#[test]
fn every_mutation_is_durable_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wallet.sqlite");
    let tree = support::tree(1);
    let reopen = || OnchainWallet::open(&tree, Network::Regtest, &path).unwrap();
    let mut wallet = OnchainWallet::open(&tree, Network::Regtest, &path).unwrap();
    let mut chain = Chain::new();

    let address = wallet.new_address().unwrap();
    assert_eq!(reopen().last_revealed_index(Keychain::Receive), Some(0));

    chain.mine(
        &mut wallet,
        vec![out(SUBSIDY, address.address.script_pubkey())],
        vec![],
    );
    assert_eq!(reopen().tip(), wallet.tip());
    assert_eq!(reopen().balance().immature, Sat::from(SUBSIDY));
    chain.mine_empty(&mut wallet, 99);
    assert_eq!(reopen().balance().confirmed, Sat::from(SUBSIDY));

    let paid = wallet
        .build_payment(
            support::funding_script(),
            Sat(50_000),
            bitcoin::FeeRate::from_sat_per_kwu(253),
            fulmen_wallet::onchain::CoinPolicy::ConfirmedOnly,
            [0; 32],
        )
        .unwrap();
    assert_eq!(reopen().last_revealed_index(Keychain::Change), Some(0));

    wallet.apply_unconfirmed([paid.tx.clone()], 7).unwrap();
    assert_eq!(reopen().balance(), wallet.balance());
    assert_eq!(reopen().balance().confirmed, Sat(0));

    wallet.apply_evicted([paid.tx.compute_txid()], 8).unwrap();
    assert_eq!(reopen().balance().confirmed, Sat::from(SUBSIDY));

    wallet.disconnect_to(50).unwrap();
    assert_eq!(reopen().tip().height, 50);
    assert_eq!(reopen().balance(), wallet.balance());
}
