//! Spending from the on-chain wallet: payments to a P2WSH funding script,
//! sweeps, CPFP, coin reservation; every transaction verified with
//! libbitcoinconsensus against the outputs it spends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use bitcoin::{Amount, FeeRate, OutPoint, Transaction};
use fulmen_types::Sat;
use fulmen_wallet::onchain::{
    Balance, CoinPolicy, Keychain, OnchainError, OnchainWallet, Package, MAX_FEE_RATE,
};
use support::{funding_script, out, pays_at_least, wallet, Chain, SUBSIDY};

/// A wallet holding `n` mature 50 BTC coinbase outputs, tip at `n + 99`.
fn funded(n: u32) -> (OnchainWallet, Chain) {
    let mut wallet = wallet();
    let mut chain = Chain::new();
    for _ in 0..n {
        let script = wallet.new_address().unwrap().address.script_pubkey();
        chain.mine(&mut wallet, vec![out(SUBSIDY, script)], vec![]);
    }
    chain.mine_empty(&mut wallet, 99);
    assert_eq!(wallet.balance().confirmed, Sat(50_0000_0000 * u64::from(n)));
    (wallet, chain)
}

fn rate(sat_per_kw: u64) -> FeeRate {
    FeeRate::from_sat_per_kwu(sat_per_kw)
}

fn outputs_value(tx: &Transaction) -> Amount {
    tx.output.iter().map(|o| o.value).sum()
}

#[test]
fn payment_to_p2wsh_is_signed_with_change_back() {
    let (mut wallet, mut chain) = funded(1);
    let script = funding_script();
    let feerate = rate(2_500);
    let paid = wallet
        .build_payment(
            script.clone(),
            Sat(1_000_000),
            feerate,
            CoinPolicy::ConfirmedOnly,
            [1; 32],
        )
        .unwrap();
    let tx = &paid.tx;
    chain.verify(tx);

    // The payment output is where the index says.
    let payment = &tx.output[paid.output_index as usize];
    assert_eq!(payment.script_pubkey, script);
    assert_eq!(payment.value, Amount::from_sat(1_000_000));
    // Fee: inputs minus outputs, at least the requested rate.
    assert_eq!(
        Amount::from(paid.fee),
        chain.input_value(tx) - outputs_value(tx)
    );
    assert!(pays_at_least(paid.fee.into(), tx, feerate));
    assert!(
        !pays_at_least(paid.fee.into(), tx, rate(2_700)),
        "fee too generous"
    );
    // Fully segwit, RBF, locked to the tip.
    assert!(tx
        .input
        .iter()
        .all(|i| i.script_sig.is_empty() && !i.witness.is_empty()));
    assert!(tx.is_explicitly_rbf());
    assert_eq!(tx.lock_time.to_consensus_u32(), wallet.tip().height);
    // The other output is change to the wallet's change branch.
    assert_eq!(tx.output.len(), 2);
    let change = &tx.output[1 - paid.output_index as usize];
    assert!(wallet.is_mine(&change.script_pubkey));
    assert_eq!(
        wallet
            .peek_address(Keychain::Change, 0)
            .address
            .script_pubkey(),
        change.script_pubkey
    );
    assert_eq!(wallet.last_revealed_index(Keychain::Change), Some(0));
    assert_eq!(
        change.value,
        SUBSIDY - Amount::from_sat(1_000_000) - paid.fee.into()
    );

    // Broadcast: the change is trusted pending, the coinbase spent.
    wallet.apply_unconfirmed([tx.clone()], 10).unwrap();
    assert_eq!(
        wallet.balance(),
        Balance {
            trusted_pending: change.value.into(),
            ..Balance::default()
        }
    );
    // Confirmed: the change is confirmed.
    chain.mine(&mut wallet, vec![], vec![tx.clone()]);
    assert_eq!(
        wallet.balance(),
        Balance {
            confirmed: change.value.into(),
            ..Balance::default()
        }
    );
}

#[test]
fn unconfirmed_coins_are_spent_only_when_allowed() {
    let (mut wallet, mut chain) = funded(1);
    let first = wallet
        .build_payment(
            funding_script(),
            Sat(500_000),
            rate(253),
            CoinPolicy::ConfirmedOnly,
            [2; 32],
        )
        .unwrap();
    wallet.apply_unconfirmed([first.tx.clone()], 10).unwrap();
    chain.remember(&first.tx);

    // Only the unconfirmed change is left.
    let err = wallet
        .build_payment(
            funding_script(),
            Sat(500_000),
            rate(253),
            CoinPolicy::ConfirmedOnly,
            [3; 32],
        )
        .unwrap_err();
    assert!(
        matches!(err, OnchainError::InsufficientFunds { .. }),
        "{err}"
    );

    let second = wallet
        .build_payment(
            funding_script(),
            Sat(500_000),
            rate(253),
            CoinPolicy::AllowUnconfirmed,
            [3; 32],
        )
        .unwrap();
    assert!(second
        .tx
        .input
        .iter()
        .all(|i| i.previous_output.txid == first.tx.compute_txid()));
    chain.verify(&second.tx);
    assert_eq!(wallet.last_revealed_index(Keychain::Change), Some(1));
}

#[test]
fn applying_a_built_tx_reserves_its_coins_and_eviction_releases_them() {
    let (mut wallet, _chain) = funded(1);
    let built = wallet
        .build_payment(
            funding_script(),
            Sat(2_000_000),
            rate(1_000),
            CoinPolicy::ConfirmedOnly,
            [4; 32],
        )
        .unwrap();
    // Reserved while a channel is negotiated.
    wallet.apply_unconfirmed([built.tx.clone()], 100).unwrap();
    assert_eq!(wallet.balance().confirmed, Sat(0));
    // The open failed: release.
    wallet
        .apply_evicted([built.tx.compute_txid()], 101)
        .unwrap();
    assert_eq!(
        wallet.balance(),
        Balance {
            confirmed: SUBSIDY.into(),
            ..Balance::default()
        }
    );
    wallet
        .build_payment(
            funding_script(),
            Sat(2_000_000),
            rate(1_000),
            CoinPolicy::ConfirmedOnly,
            [5; 32],
        )
        .unwrap();
}

#[test]
fn coin_selection_uses_several_coins_and_fails_cleanly() {
    let (mut wallet, chain) = funded(3);
    let paid = wallet
        .build_payment(
            funding_script(),
            Sat(120 * 100_000_000),
            rate(253),
            CoinPolicy::ConfirmedOnly,
            [6; 32],
        )
        .unwrap();
    assert_eq!(paid.tx.input.len(), 3);
    chain.verify(&paid.tx);

    let err = wallet
        .build_payment(
            funding_script(),
            Sat(150 * 100_000_000),
            rate(253),
            CoinPolicy::ConfirmedOnly,
            [6; 32],
        )
        .unwrap_err();
    match err {
        OnchainError::InsufficientFunds { needed, available } => {
            assert!(needed > Sat(150 * 100_000_000));
            assert_eq!(available, Sat(150 * 100_000_000));
        }
        e => panic!("{e}"),
    }
    let err = wallet
        .build_payment(
            funding_script(),
            Sat(100),
            rate(253),
            CoinPolicy::ConfirmedOnly,
            [6; 32],
        )
        .unwrap_err();
    assert!(matches!(err, OnchainError::OutputBelowDust { .. }), "{err}");
}

#[test]
fn same_aux_rand_same_transaction() {
    let build = |aux: [u8; 32]| {
        let (mut wallet, _chain) = funded(3);
        wallet
            .build_payment(
                funding_script(),
                Sat(10_000_000),
                rate(500),
                CoinPolicy::ConfirmedOnly,
                aux,
            )
            .unwrap()
    };
    assert_eq!(build([7; 32]), build([7; 32]));
    // Outputs are shuffled with it: both orders occur.
    let indices: std::collections::BTreeSet<u32> =
        (0..16u8).map(|b| build([b; 32]).output_index).collect();
    assert_eq!(indices.len(), 2);
}

#[test]
fn sweep_sends_everything_but_immature_coins() {
    let (mut wallet, mut chain) = funded(2);
    // A third coinbase, still immature.
    let script = wallet.new_address().unwrap().address.script_pubkey();
    chain.mine(&mut wallet, vec![out(SUBSIDY, script)], vec![]);
    // An unconfirmed incoming payment.
    let incoming = support::foreign_payment(
        8,
        vec![out(
            Amount::from_sat(40_000),
            wallet.new_address().unwrap().address.script_pubkey(),
        )],
    );
    wallet.apply_unconfirmed([incoming.clone()], 5).unwrap();
    chain.remember(&incoming);

    let target = funding_script();
    let sweep = wallet
        .sweep_all_to(
            target.clone(),
            rate(1_000),
            CoinPolicy::ConfirmedOnly,
            [8; 32],
        )
        .unwrap();
    chain.verify(&sweep.tx);
    assert_eq!(sweep.tx.input.len(), 2);
    assert_eq!(sweep.tx.output.len(), 1);
    assert_eq!(sweep.tx.output[0].script_pubkey, target);
    assert_eq!(sweep.tx.output[0].value, SUBSIDY * 2 - sweep.fee.into());
    assert!(pays_at_least(sweep.fee.into(), &sweep.tx, rate(1_000)));

    // With unconfirmed coins: the incoming payment's output too. (Its input
    // is a stranger's fake outpoint, so only our input is verified here.)
    let all = wallet
        .sweep_all_to(
            target.clone(),
            rate(1_000),
            CoinPolicy::AllowUnconfirmed,
            [8; 32],
        )
        .unwrap();
    assert_eq!(all.tx.input.len(), 3);
    assert!(all
        .tx
        .input
        .iter()
        .any(|i| i.previous_output == OutPoint::new(incoming.compute_txid(), 0)));

    wallet.apply_unconfirmed([sweep.tx.clone()], 6).unwrap();
    assert_eq!(
        wallet.balance(),
        Balance {
            untrusted_pending: Sat(40_000),
            immature: SUBSIDY.into(),
            ..Balance::default()
        }
    );
}

#[test]
fn cpfp_child_lifts_the_package_to_the_target() {
    let (mut wallet, mut chain) = funded(1);
    let parent = wallet
        .build_payment(
            funding_script(),
            Sat(3_000_000),
            rate(253),
            CoinPolicy::ConfirmedOnly,
            [9; 32],
        )
        .unwrap();
    wallet.apply_unconfirmed([parent.tx.clone()], 10).unwrap();
    chain.remember(&parent.tx);
    let parent_txid = parent.tx.compute_txid();
    let change = OutPoint::new(parent_txid, 1 - parent.output_index);

    let target = rate(5_000);
    let child = wallet
        .build_cpfp(parent_txid, change, target, [10; 32])
        .unwrap();
    chain.verify(&child.tx);
    assert_eq!(child.tx.input.len(), 1);
    assert_eq!(child.tx.input[0].previous_output, change);
    assert_eq!(child.tx.output.len(), 1);
    assert!(wallet.is_mine(&child.tx.output[0].script_pubkey));
    let package_fee = Amount::from(parent.fee) + child.fee.into();
    let package_weight = parent.tx.weight() + child.tx.weight();
    assert!(package_fee >= target.fee_wu(package_weight).unwrap());
    // And not wildly more: within one child input's worth of slack.
    assert!(package_fee <= target.fee_wu(package_weight).unwrap() + Amount::from_sat(1_000));

    // The child is the wallet's: applying it leaves one trusted coin.
    wallet.apply_unconfirmed([child.tx.clone()], 11).unwrap();
    let left = wallet.list_unspent();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].outpoint.txid, child.tx.compute_txid());

    // A parent that already pays the target: the child pays for itself.
    let (mut wallet, mut chain) = funded(1);
    let rich = wallet
        .build_payment(
            funding_script(),
            Sat(3_000_000),
            rate(10_000),
            CoinPolicy::ConfirmedOnly,
            [9; 32],
        )
        .unwrap();
    wallet.apply_unconfirmed([rich.tx.clone()], 10).unwrap();
    chain.remember(&rich.tx);
    let txid = rich.tx.compute_txid();
    let child = wallet
        .build_cpfp(
            txid,
            OutPoint::new(txid, 1 - rich.output_index),
            target,
            [1; 32],
        )
        .unwrap();
    chain.verify(&child.tx);
    assert!(pays_at_least(child.fee.into(), &child.tx, target));
    assert!(!pays_at_least(child.fee.into(), &child.tx, rate(5_600)));
}

#[test]
fn cpfp_refuses_what_it_cannot_bump() {
    let (mut wallet, mut chain) = funded(1);
    let parent = wallet
        .build_payment(
            funding_script(),
            Sat(3_000_000),
            rate(253),
            CoinPolicy::ConfirmedOnly,
            [9; 32],
        )
        .unwrap();
    let txid = parent.tx.compute_txid();
    let change = OutPoint::new(txid, 1 - parent.output_index);
    let payment = OutPoint::new(txid, parent.output_index);

    // Not applied yet: unknown.
    let err = wallet
        .build_cpfp(txid, change, rate(5_000), [0; 32])
        .unwrap_err();
    assert!(matches!(err, OnchainError::UnknownTx { .. }), "{err}");

    wallet.apply_unconfirmed([parent.tx.clone()], 10).unwrap();
    // The payment output is not the wallet's.
    let err = wallet
        .build_cpfp(txid, payment, rate(5_000), [0; 32])
        .unwrap_err();
    assert!(matches!(err, OnchainError::NotOurOutput { .. }), "{err}");
    // The outpoint must belong to the parent.
    let other = OutPoint::new(chain.txs.keys().copied().next().unwrap(), 0);
    let err = wallet
        .build_cpfp(txid, other, rate(5_000), [0; 32])
        .unwrap_err();
    assert!(matches!(err, OnchainError::NotOurOutput { .. }), "{err}");
    // An absurd target (200,000 sat/vB) is refused at extraction.
    let err = wallet
        .build_cpfp(txid, change, FeeRate::from_sat_per_kwu(50_000_000), [0; 32])
        .unwrap_err();
    assert!(matches!(err, OnchainError::Extract(_)), "{err}");
    // A target the one output cannot pay: a parent with ~99,000 sat change
    // and a package fee of ~500,000 sat.
    {
        let (mut wallet, _chain) = funded(1);
        let small = wallet
            .build_payment(
                funding_script(),
                Sat::from(SUBSIDY).checked_sub(Sat(100_000)).unwrap(),
                rate(253),
                CoinPolicy::ConfirmedOnly,
                [9; 32],
            )
            .unwrap();
        wallet.apply_unconfirmed([small.tx.clone()], 10).unwrap();
        let txid = small.tx.compute_txid();
        let change = OutPoint::new(txid, 1 - small.output_index);
        let err = wallet
            .build_cpfp(txid, change, rate(500_000), [0; 32])
            .unwrap_err();
        assert!(
            matches!(err, OnchainError::InsufficientFunds { .. }),
            "{err}"
        );
    }
    // A fee rate whose fee could overflow.
    let err = wallet
        .build_cpfp(txid, change, FeeRate::from_sat_per_kwu(u64::MAX), [0; 32])
        .unwrap_err();
    assert!(matches!(err, OnchainError::FeeRateTooHigh { .. }), "{err}");

    // Confirmed: nothing to bump.
    chain.mine(&mut wallet, vec![], vec![parent.tx.clone()]);
    let err = wallet
        .build_cpfp(txid, change, rate(5_000), [0; 32])
        .unwrap_err();
    assert!(
        matches!(err, OnchainError::AlreadyConfirmed { .. }),
        "{err}"
    );

    // A parent paid by a stranger: its fee is unknown.
    let script = wallet.new_address().unwrap().address.script_pubkey();
    let incoming = support::foreign_payment(4, vec![out(Amount::from_sat(80_000), script)]);
    wallet.apply_unconfirmed([incoming.clone()], 12).unwrap();
    let itxid = incoming.compute_txid();
    let err = wallet
        .build_cpfp(itxid, OutPoint::new(itxid, 0), rate(5_000), [0; 32])
        .unwrap_err();
    assert!(
        matches!(err, OnchainError::ParentFeeUnknown { .. }),
        "{err}"
    );
}

#[test]
fn extreme_arguments_are_refused_without_panic() {
    let (mut wallet, _chain) = funded(1);
    let too_high = FeeRate::from_sat_per_kwu(MAX_FEE_RATE.to_sat_per_kwu() + 1);
    for feerate in [too_high, rate(u64::MAX)] {
        let err = wallet
            .build_payment(
                funding_script(),
                Sat(10_000),
                feerate,
                CoinPolicy::ConfirmedOnly,
                [0; 32],
            )
            .unwrap_err();
        assert!(matches!(err, OnchainError::FeeRateTooHigh { .. }), "{err}");
        let err = wallet
            .sweep_all_to(
                funding_script(),
                feerate,
                CoinPolicy::ConfirmedOnly,
                [0; 32],
            )
            .unwrap_err();
        assert!(matches!(err, OnchainError::FeeRateTooHigh { .. }), "{err}");
    }
    // The maximum itself builds, and is refused as absurd at extraction.
    let err = wallet
        .sweep_all_to(
            funding_script(),
            MAX_FEE_RATE,
            CoinPolicy::ConfirmedOnly,
            [0; 32],
        )
        .unwrap_err();
    assert!(matches!(err, OnchainError::Extract(_)), "{err}");
    for amount in [u64::MAX, 21_000_000 * 100_000_000 + 1] {
        let err = wallet
            .build_payment(
                funding_script(),
                Sat(amount),
                rate(253),
                CoinPolicy::ConfirmedOnly,
                [0; 32],
            )
            .unwrap_err();
        assert!(matches!(err, OnchainError::AmountTooLarge { .. }), "{err}");
    }
    let err = wallet
        .build_payment(
            funding_script(),
            Sat(21_000_000 * 100_000_000),
            rate(253),
            CoinPolicy::ConfirmedOnly,
            [0; 32],
        )
        .unwrap_err();
    assert!(
        matches!(err, OnchainError::InsufficientFunds { .. }),
        "{err}"
    );
}

/// BOLT 3 anchors: a commitment paying too little is lifted by a child
/// spending its anchor (a foreign output, input 0, signed here by its
/// owner) with wallet coins; the package pays the target, every input of
/// the child verifies.
#[test]
fn anchor_child_lifts_a_foreign_parent_to_the_target() {
    use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
    use bitcoin::sighash::{EcdsaSighashType, SighashCache};
    use bitcoin::{opcodes, script::Builder, ScriptBuf, Weight, Witness};

    let secp = Secp256k1::new();
    let key = SecretKey::from_slice(&[7; 32]).unwrap();
    let anchor_script = Builder::new()
        .push_slice(key.public_key(&secp).serialize())
        .push_opcode(opcodes::all::OP_CHECKSIG)
        .into_script();
    let anchor_value = Amount::from_sat(330);
    let prev = out(
        anchor_value,
        ScriptBuf::new_p2wsh(&anchor_script.wscript_hash()),
    );
    // The commitment: not the wallet's, 1,000 sat of fee for its weight.
    let parent = support::foreign_payment(
        3,
        vec![
            prev.clone(),
            out(Amount::from_sat(500_000), funding_script()),
        ],
    );
    let parent_fee = Amount::from_sat(1_000);
    let parent_weight = Weight::from_wu(1_124);
    let anchor = OutPoint::new(parent.compute_txid(), 0);
    // Item count, signature, script (with their length bytes).
    let satisfaction = Weight::from_wu(1 + 1 + 73 + 1 + anchor_script.len() as u64);

    let (mut wallet, mut chain) = funded(1);
    chain.remember(&parent);
    let target = rate(10_000);
    let child = wallet
        .fund_anchor_child(
            anchor,
            prev,
            satisfaction,
            Package {
                parent_weight,
                parent_fee,
                target,
            },
            [4; 32],
        )
        .unwrap();
    let mut tx = child.tx.clone();
    assert_eq!(tx.input[0].previous_output, anchor);
    assert!(tx.input[0].witness.is_empty());
    assert!(tx.input.len() >= 2);
    assert!(tx.output.iter().all(|o| wallet.is_mine(&o.script_pubkey)));
    let sighash = SighashCache::new(&tx)
        .p2wsh_signature_hash(0, &anchor_script, anchor_value, EcdsaSighashType::All)
        .unwrap();
    let sig = bitcoin::ecdsa::Signature {
        signature: secp.sign_ecdsa(&Message::from(sighash), &key),
        sighash_type: EcdsaSighashType::All,
    };
    tx.input[0].witness =
        Witness::from_slice(&[sig.serialize().to_vec(), anchor_script.to_bytes()]);
    chain.verify(&tx);

    let fee = chain.input_value(&tx) - outputs_value(&tx);
    assert_eq!(fee, Amount::from(child.fee));
    let package = target.fee_wu(parent_weight + tx.weight()).unwrap();
    assert!(parent_fee + fee >= package, "{fee} for {}", tx.weight());
    assert!(parent_fee + fee <= package + Amount::from_sat(1_000));

    // A parent that already pays the target: the child pays for itself.
    let rich = wallet
        .fund_anchor_child(
            anchor,
            out(
                anchor_value,
                ScriptBuf::new_p2wsh(&anchor_script.wscript_hash()),
            ),
            satisfaction,
            Package {
                parent_weight,
                parent_fee: Amount::from_sat(100_000),
                target,
            },
            [4; 32],
        )
        .unwrap();
    let own = target.fee_wu(rich.tx.weight() + satisfaction).unwrap();
    assert!(Amount::from(rich.fee) >= own);
    assert!(Amount::from(rich.fee) < fee);
}

/// BOLT 3 anchors, two HTLC transactions aggregated: the wallet funds a
/// template of two foreign inputs (each paired with the output at its
/// index, as `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY` needs), keeps both pairs
/// first and in order with the template's lock time and sequences, adds a
/// confirmed coin and change after them, and pays the feerate counting
/// the foreign witnesses it was told of.
#[test]
fn foreign_pairs_stay_first_and_in_order_when_funded() {
    use bitcoin::{absolute, ScriptBuf, Sequence, TxIn, Weight, Witness};

    let prevs: Vec<(bitcoin::TxOut, Weight)> = [11u8, 12]
        .iter()
        .map(|t| {
            (
                out(
                    Amount::from_sat(40_000 + u64::from(*t)),
                    ScriptBuf::new_p2wsh(&ScriptBuf::from_bytes(vec![*t; 4]).wscript_hash()),
                ),
                Weight::from_wu(400),
            )
        })
        .collect();
    let parents: Vec<Transaction> = prevs
        .iter()
        .enumerate()
        .map(|(i, (o, _))| support::foreign_payment(20 + i as u8, vec![o.clone()]))
        .collect();
    let template = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: absolute::LockTime::from_height(150).unwrap(),
        input: parents
            .iter()
            .map(|p| TxIn {
                previous_output: OutPoint::new(p.compute_txid(), 0),
                script_sig: ScriptBuf::new(),
                sequence: Sequence(1),
                witness: Witness::new(),
            })
            .collect(),
        output: vec![
            out(Amount::from_sat(39_000), funding_script()),
            out(Amount::from_sat(38_000), funding_script()),
        ],
    };
    let (mut wallet, mut chain) = funded(1);
    for p in &parents {
        chain.remember(p);
    }
    let fee_rate = rate(2_000);
    let signed = wallet
        .fund_foreign_spend(&template, &prevs, fee_rate, [5; 32])
        .unwrap();
    let tx = &signed.tx;
    assert_eq!(tx.lock_time, template.lock_time);
    assert_eq!(&tx.input[..2], &template.input[..]);
    assert_eq!(&tx.output[..2], &template.output[..]);
    assert!(tx.input.len() >= 3 && tx.output.len() == 3);
    assert!(wallet.is_mine(&tx.output[2].script_pubkey));
    assert!(tx.input[2..].iter().all(|i| !i.witness.is_empty()));
    let fee = chain.input_value(tx) - outputs_value(tx);
    assert_eq!(fee, Amount::from(signed.fee));
    let weight = tx.weight() + Weight::from_wu(800);
    assert!(
        fee >= fee_rate.fee_wu(weight).unwrap(),
        "{fee} for {weight}"
    );

    // A template whose pairs do not match its spent outputs is refused.
    let mut lopsided = template.clone();
    lopsided.output.pop();
    assert!(wallet
        .fund_foreign_spend(&lopsided, &prevs, fee_rate, [5; 32])
        .is_err());
}
