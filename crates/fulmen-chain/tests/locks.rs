//! Relative (CSV / BIP 68) and absolute (CLTV / nLockTime) locks on the embedded chain: refused
//! one block early, in the mempool and in a block, and accepted at maturity.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::{Amount, OutPoint};
use common::*;
use fulmen_chain::{BlockReject, ChainSource, MineError, TxReject};

const LOCKED: Amount = Amount::from_sat(100_000);

/// Funds a P2WSH output with `script` and confirms it; returns the outpoint and its height.
fn fund(
    chain: &fulmen_chain::EmbeddedChain,
    w: &Wallet,
    script: &bitcoin::ScriptBuf,
    cb_height: u32,
) -> (OutPoint, u32) {
    let tx = w.pay(coinbase_at(chain, cb_height), p2wsh(script), LOCKED);
    chain.submit_tx(&tx).unwrap();
    chain.mine(1, &w.spk, next_time(chain)).unwrap();
    let height = chain.tip().unwrap().height;
    assert_eq!(chain.tx_confirmations(&tx.compute_txid()).unwrap(), Some(1));
    (
        OutPoint {
            txid: tx.compute_txid(),
            vout: 0,
        },
        height,
    )
}

#[test]
fn csv_spend_refused_one_block_early_and_accepted_at_maturity() {
    let w = Wallet::new(1);
    let chain = funded_chain(&w);
    let script = csv_script(5);
    let (prev, h) = fund(&chain, &w, &script, 1);
    let spend = spend_p2wsh(prev, &script, burn(LOCKED - FEE), 5, 0);

    // Coin at height h with a 5-block lock: first allowed block is h + 5.
    chain.mine(3, &w.spk, next_time(&chain)).unwrap();
    assert_eq!(chain.tip().unwrap().height, h + 3);
    let reason = rejected(chain.test_accept(&spend));
    assert_eq!(reason, TxReject::NonBip68Final);
    assert_eq!(reason.to_string(), "non-BIP68-final");
    assert_eq!(reason.rpc_code(), -26);

    // The same transaction in block h + 4 is invalid too.
    match chain.mine_block_with(vec![spend.clone()], &w.spk, next_time(&chain)) {
        Err(MineError::Rejected(r @ BlockReject::Tx { .. })) => {
            assert_eq!(r.reason(), "bad-txns-nonfinal")
        }
        other => panic!("block with immature CSV spend accepted: {other:?}"),
    }
    assert_eq!(
        chain.tip().unwrap().height,
        h + 3,
        "invalid block not connected"
    );

    // A sequence below the script's requirement fails the script itself, whenever.
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    let short = spend_p2wsh(prev, &script, burn(LOCKED - FEE), 4, 0);
    let reason = rejected(chain.test_accept(&short));
    assert!(
        matches!(reason, TxReject::MandatoryScript { input: 0 }),
        "{reason:?}"
    );

    // At h + 4 the next block is h + 5: accepted, and mined.
    chain.broadcast(&spend).unwrap();
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    assert_eq!(
        chain.tx_confirmations(&spend.compute_txid()).unwrap(),
        Some(1)
    );
}

#[test]
fn csv_spend_in_a_block_accepted_at_maturity() {
    let w = Wallet::new(2);
    let chain = funded_chain(&w);
    let script = csv_script(3);
    let (prev, _) = fund(&chain, &w, &script, 1);
    let spend = spend_p2wsh(prev, &script, burn(LOCKED - FEE), 3, 0);
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    assert!(chain
        .mine_block_with(vec![spend.clone()], &w.spk, next_time(&chain))
        .is_err());
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    chain
        .mine_block_with(vec![spend.clone()], &w.spk, next_time(&chain))
        .unwrap();
    assert_eq!(
        chain.tx_confirmations(&spend.compute_txid()).unwrap(),
        Some(1)
    );
}

#[test]
fn time_based_csv_uses_median_time_past_of_block_before_coin() {
    let w = Wallet::new(3);
    let chain = funded_chain(&w);
    // One unit of 512 seconds.
    let seq = (1 << 22) | 1;
    let script = csv_script(i64::from(seq));
    let (prev, h) = fund(&chain, &w, &script, 1);
    let before_coin = chain.block_hash_at(h - 1).unwrap().unwrap();
    let coin_time = chain
        .block_info(&before_coin)
        .unwrap()
        .unwrap()
        .median_time_past;
    let spend = spend_p2wsh(prev, &script, burn(LOCKED - FEE), seq, 0);
    assert_eq!(rejected(chain.test_accept(&spend)), TxReject::NonBip68Final);
    // Blocks 100 s apart: accepted exactly when the tip's MTP exceeds coin_time + 512 - 1.
    let mut t = next_time(&chain);
    let mut accepted = false;
    for _ in 0..40 {
        t += 100;
        chain.mine(1, &w.spk, t).unwrap();
        let mtp = chain.median_time_past().unwrap();
        let ok = chain.test_accept(&spend).is_ok();
        assert_eq!(ok, mtp > coin_time + 511, "mtp {mtp} coin time {coin_time}");
        if ok {
            accepted = true;
            break;
        }
    }
    assert!(accepted, "time lock never matured");
}

#[test]
fn cltv_spend_refused_one_block_early_and_accepted_at_maturity() {
    let w = Wallet::new(4);
    let chain = funded_chain(&w);
    let lock = chain.tip().unwrap().height + 10;
    let script = cltv_script(i64::from(lock));
    let (prev, _) = fund(&chain, &w, &script, 1);
    let spend = spend_p2wsh(prev, &script, burn(LOCKED - FEE), 0xffff_fffe, lock);

    // nLockTime = lock is final in blocks above `lock`: the tip must reach `lock`.
    let tip = chain.tip().unwrap().height;
    chain
        .mine(lock - 1 - tip, &w.spk, next_time(&chain))
        .unwrap();
    assert_eq!(chain.tip().unwrap().height, lock - 1);
    let reason = rejected(chain.test_accept(&spend));
    assert_eq!(reason, TxReject::NonFinal);
    assert_eq!(reason.to_string(), "non-final");
    match chain.mine_block_with(vec![spend.clone()], &w.spk, next_time(&chain)) {
        Err(MineError::Rejected(r)) => assert_eq!(r.reason(), "bad-txns-nonfinal"),
        other => panic!("non-final tx mined: {other:?}"),
    }

    // A lower nLockTime is final but fails OP_CHECKLOCKTIMEVERIFY.
    let early = spend_p2wsh(prev, &script, burn(LOCKED - FEE), 0xffff_fffe, lock - 1);
    let reason = rejected(chain.test_accept(&early));
    assert!(
        matches!(reason, TxReject::MandatoryScript { .. }),
        "{reason:?}"
    );
    assert!(reason
        .to_string()
        .starts_with("mandatory-script-verify-flag-failed"));
    // A final sequence disables nLockTime, which CLTV refuses.
    let no_seq = spend_p2wsh(prev, &script, burn(LOCKED - FEE), 0xffff_ffff, lock);
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    assert!(matches!(
        rejected(chain.test_accept(&no_seq)),
        TxReject::MandatoryScript { .. }
    ));

    // Tip = lock: accepted.
    let txid = chain.broadcast(&spend).unwrap();
    chain.mine(1, &w.spk, next_time(&chain)).unwrap();
    assert_eq!(chain.tx_confirmations(&txid).unwrap(), Some(1));
}
