//! Script satisfaction checked by Bitcoin Core's interpreter
//! (libbitcoinconsensus): the witnesses this crate assembles, and every
//! spending path of every commitment output script, verify against the
//! output they spend; broken witnesses do not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::sighash::SighashCache;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, WPubkeyHash,
    Witness,
};
use common::{b32, sk, Fixture};
use fulmen_script::commitment::{build_commitment, CommitmentTx, OutputKind};
use fulmen_script::htlc_tx::{HtlcTx, HtlcTxKind};
use fulmen_script::keys::revocation_privkey;
use fulmen_script::scripts::p2wsh;
use fulmen_script::shachain::PerCommitmentSecret;
use fulmen_script::sign::{
    counterparty_htlc_sighash_type, funding_witness, htlc_success_witness, htlc_timeout_witness,
    sign_funding_spend, sign_htlc_tx, sign_p2wsh_input,
};
use fulmen_script::{ChannelType, Htlc, HtlcDirection, Side};
use fulmen_types::{Msat, PaymentPreimage, Sat};
use proptest::prelude::*;

fn verifies(tx: &Transaction, spent: &TxOut) -> bool {
    tx.verify(|op| (op == &tx.input[0].previous_output).then(|| spent.clone()))
        .is_ok()
}

fn funding_txout(fx: &Fixture) -> TxOut {
    TxOut {
        value: Amount::from_sat(fx.funding_amount.value()),
        script_pubkey: p2wsh(&fx.funding_script),
    }
}

/// A one-in one-out transaction spending `outpoint`.
fn spender(outpoint: OutPoint, value: Amount, sequence: u32, lock_time: u32) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(lock_time),
        input: vec![TxIn {
            previous_output: outpoint,
            script_sig: ScriptBuf::new(),
            sequence: Sequence(sequence),
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: value
                .checked_sub(Amount::from_sat(200))
                .unwrap_or(Amount::ZERO),
            script_pubkey: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([7; 20])),
        }],
    }
}

fn sig_bytes(tx: &Transaction, script: &ScriptBuf, value: Amount, key: &SecretKey) -> Vec<u8> {
    let sig = sign_p2wsh_input(
        tx,
        0,
        script,
        Sat(value.to_sat()),
        EcdsaSighashType::All,
        key,
    )
    .unwrap();
    bitcoin::ecdsa::Signature {
        signature: sig,
        sighash_type: EcdsaSighashType::All,
    }
    .to_vec()
}

fn witness(items: &[&[u8]]) -> Witness {
    let mut w = Witness::new();
    for i in items {
        w.push(i);
    }
    w
}

fn signed_commitment(fx: &Fixture, built: &CommitmentTx) -> Transaction {
    let l = sign_funding_spend(
        &built.tx,
        &fx.funding_script,
        fx.funding_amount,
        &fx.local_funding_key,
    )
    .unwrap();
    let r = sign_funding_spend(
        &built.tx,
        &fx.funding_script,
        fx.funding_amount,
        &fx.remote_funding_key,
    )
    .unwrap();
    let mut tx = built.tx.clone();
    tx.input[0].witness = funding_witness(
        &fx.funding_script,
        (&fx.local_funding_pubkey, &l),
        (&fx.remote_funding_pubkey, &r),
    );
    tx
}

fn signed_htlc(
    fx: &Fixture,
    t: ChannelType,
    h: &HtlcTx,
    preimage: Option<&PaymentPreimage>,
) -> Transaction {
    let r = sign_htlc_tx(
        &h.tx,
        &h.htlc_script,
        h.htlc_amount,
        counterparty_htlc_sighash_type(t),
        &fx.remote_htlc_key,
    )
    .unwrap();
    let l = sign_htlc_tx(
        &h.tx,
        &h.htlc_script,
        h.htlc_amount,
        EcdsaSighashType::All,
        &fx.local_htlc_key,
    )
    .unwrap();
    let mut tx = h.tx.clone();
    tx.input[0].witness = match (h.kind, preimage) {
        (HtlcTxKind::Success, Some(p)) => htlc_success_witness(&h.htlc_script, t, &r, &l, p),
        (HtlcTxKind::Success, None) => panic!("success needs a preimage"),
        (HtlcTxKind::Timeout, _) => htlc_timeout_witness(&h.htlc_script, t, &r, &l),
    };
    tx
}

fn revocation_key(fx: &Fixture) -> SecretKey {
    let i = &fx.data.internal;
    revocation_privkey(
        &sk(&i.remote_revocation_basepoint_secret),
        &PerCommitmentSecret::new(b32(&i.local_per_commitment_secret)),
    )
    .unwrap()
}

/// Builds the Appendix C commitment with HTLCs 0-4 untrimmed.
fn commitment(fx: &Fixture, t: ChannelType, htlcs: &[Htlc]) -> (CommitmentTx, Transaction) {
    let params = fx.params(t, 6_988_000_000, 3_000_000_000, 0, 546, htlcs);
    let built = build_commitment(&params).unwrap();
    let signed = signed_commitment(fx, &built);
    assert!(verifies(&signed, &funding_txout(fx)));
    (built, signed)
}

#[test]
fn funding_witness_needs_both_signatures_in_key_order() {
    let fx = Fixture::new();
    let htlcs = fx.htlcs(&[0, 1, 2, 3, 4]);
    let (built, signed) = commitment(&fx, ChannelType::StaticRemoteKey, &htlcs);
    let funding = funding_txout(&fx);
    assert!(verifies(&signed, &funding));
    // Argument order does not matter: the witness sorts by key.
    let l = sign_funding_spend(
        &built.tx,
        &fx.funding_script,
        fx.funding_amount,
        &fx.local_funding_key,
    )
    .unwrap();
    let r = sign_funding_spend(
        &built.tx,
        &fx.funding_script,
        fx.funding_amount,
        &fx.remote_funding_key,
    )
    .unwrap();
    let mut swapped_args = built.tx.clone();
    swapped_args.input[0].witness = funding_witness(
        &fx.funding_script,
        (&fx.remote_funding_pubkey, &r),
        (&fx.local_funding_pubkey, &l),
    );
    assert_eq!(swapped_args, signed);
    // Signatures in the wrong order fail CHECKMULTISIG.
    let mut wrong = built.tx.clone();
    let w = &signed.input[0].witness;
    wrong.input[0].witness =
        witness(&[&[], w.nth(2).unwrap(), w.nth(1).unwrap(), w.nth(3).unwrap()]);
    assert!(!verifies(&wrong, &funding));
    // One key's signature twice fails.
    let mut twice = built.tx.clone();
    twice.input[0].witness =
        witness(&[&[], w.nth(1).unwrap(), w.nth(1).unwrap(), w.nth(3).unwrap()]);
    assert!(!verifies(&twice, &funding));
    // A changed transaction invalidates the signatures.
    let mut changed = signed.clone();
    changed.output[0].value += Amount::from_sat(1);
    assert!(!verifies(&changed, &funding));
}

#[test]
fn htlc_transactions_verify_and_broken_ones_do_not() {
    let fx = Fixture::new();
    for t in [
        ChannelType::StaticRemoteKey,
        ChannelType::AnchorsZeroFeeHtlcTx,
    ] {
        let htlcs = fx.htlcs(&[0, 1, 2, 3, 4]);
        let params = fx.params(t, 6_988_000_000, 3_000_000_000, 0, 546, &htlcs);
        let built = build_commitment(&params).unwrap();
        let signed = signed_commitment(&fx, &built);
        let txs = built.htlc_txs(&params).unwrap();
        assert_eq!(txs.len(), 5);
        for h in &txs {
            let spent = &signed.output[h.commitment_output_index as usize];
            let preimage = fx.preimage_for(&htlcs[h.htlc_index].payment_hash);
            let good = signed_htlc(&fx, t, h, Some(&preimage));
            assert!(verifies(&good, spent), "{t:?} {:?}", h.kind);
            match h.kind {
                HtlcTxKind::Success => {
                    let bad = signed_htlc(&fx, t, h, Some(&PaymentPreimage([0xee; 32])));
                    assert!(!verifies(&bad, spent), "wrong preimage accepted");
                }
                HtlcTxKind::Timeout => {
                    // Timeout through the success branch (a 32-byte element)
                    // needs the preimage hash to match: it does not.
                    let mut bad = good.clone();
                    let w = &good.input[0].witness;
                    bad.input[0].witness = witness(&[
                        &[],
                        w.nth(1).unwrap(),
                        w.nth(2).unwrap(),
                        &[0u8; 32],
                        w.nth(4).unwrap(),
                    ]);
                    assert!(!verifies(&bad, spent));
                }
            }
            // The local signature made with the wrong sighash type fails.
            let mut bad = good.clone();
            let w = &good.input[0].witness;
            let mut local = w.nth(2).unwrap().to_vec();
            *local.last_mut().unwrap() = 0x83;
            let items: Vec<&[u8]> = vec![
                &[],
                w.nth(1).unwrap(),
                &local,
                w.nth(3).unwrap(),
                w.nth(4).unwrap(),
            ];
            bad.input[0].witness = witness(&items);
            assert!(!verifies(&bad, spent));
            if t.has_anchors() {
                // Anchors: the spend needs the one-block CSV.
                let mut no_csv = h.clone();
                no_csv.tx.input[0].sequence = Sequence(0);
                let tx = signed_htlc(&fx, t, &no_csv, Some(&preimage));
                assert!(!verifies(&tx, spent));
            }
            // With anchors the counterparty's SIGHASH_SINGLE|ANYONECANPAY
            // signature survives the owner adding a fee input and a change
            // output (the owner re-signs its own SIGHASH_ALL); without
            // anchors it does not.
            let mut bumped = h.tx.clone();
            bumped.input.push(TxIn {
                previous_output: OutPoint {
                    txid: bitcoin::Txid::from_byte_array([9; 32]),
                    vout: 0,
                },
                ..TxIn::default()
            });
            bumped.output.push(TxOut {
                value: Amount::from_sat(1000),
                script_pubkey: ScriptBuf::new(),
            });
            let local = sign_htlc_tx(
                &bumped,
                &h.htlc_script,
                h.htlc_amount,
                EcdsaSighashType::All,
                &fx.local_htlc_key,
            )
            .unwrap();
            let local = bitcoin::ecdsa::Signature {
                signature: local,
                sighash_type: EcdsaSighashType::All,
            }
            .to_vec();
            let w = &good.input[0].witness;
            bumped.input[0].witness = witness(&[
                &[],
                w.nth(1).unwrap(),
                &local,
                w.nth(3).unwrap(),
                w.nth(4).unwrap(),
            ]);
            let input0 =
                spent
                    .script_pubkey
                    .verify(0, spent.value, &bitcoin::consensus::serialize(&bumped));
            assert_eq!(
                input0.is_ok(),
                t.has_anchors(),
                "{t:?}: remote signature after adding fee input"
            );
        }
    }
}

#[test]
fn every_commitment_output_path_verifies() {
    let fx = Fixture::new();
    let revocation = revocation_key(&fx);
    assert_eq!(
        PublicKey::from_secret_key(&fx.secp, &revocation),
        fx.keys.revocation.0
    );
    let remote_payment_key = sk(&fx.data.internal.remote_payment_basepoint_secret);
    let delay = u32::from(fx.data.params.local_delay);
    for t in [
        ChannelType::StaticRemoteKey,
        ChannelType::AnchorsZeroFeeHtlcTx,
    ] {
        let htlcs = fx.htlcs(&[0, 1, 2, 3, 4]);
        let (built, signed) = commitment(&fx, t, &htlcs);
        let txid = signed.compute_txid();
        for (vout, out) in built.outputs.iter().enumerate() {
            let prev = &signed.output[vout];
            let op = OutPoint {
                txid,
                vout: vout as u32,
            };
            let ws = out.witness_script.clone();
            match out.kind {
                OutputKind::ToLocal => {
                    let ws = ws.unwrap();
                    // Delayed path: needs nSequence >= to_self_delay.
                    let mut tx = spender(op, prev.value, delay, 0);
                    let s = sig_bytes(&tx, &ws, prev.value, &fx.local_delayed_key);
                    tx.input[0].witness = witness(&[&s, &[], ws.as_bytes()]);
                    assert!(verifies(&tx, prev));
                    let mut early = spender(op, prev.value, delay - 1, 0);
                    let s = sig_bytes(&early, &ws, prev.value, &fx.local_delayed_key);
                    early.input[0].witness = witness(&[&s, &[], ws.as_bytes()]);
                    assert!(
                        !verifies(&early, prev),
                        "to_local spent before to_self_delay"
                    );
                    // Revocation path: immediate.
                    let mut tx = spender(op, prev.value, 0, 0);
                    let s = sig_bytes(&tx, &ws, prev.value, &revocation);
                    tx.input[0].witness = witness(&[&s, &[1], ws.as_bytes()]);
                    assert!(verifies(&tx, prev));
                }
                OutputKind::ToRemote => {
                    if t.has_anchors() {
                        let ws = ws.unwrap();
                        let mut tx = spender(op, prev.value, 1, 0);
                        let s = sig_bytes(&tx, &ws, prev.value, &remote_payment_key);
                        tx.input[0].witness = witness(&[&s, ws.as_bytes()]);
                        assert!(verifies(&tx, prev));
                        let mut early = spender(op, prev.value, 0, 0);
                        let s = sig_bytes(&early, &ws, prev.value, &remote_payment_key);
                        early.input[0].witness = witness(&[&s, ws.as_bytes()]);
                        assert!(
                            !verifies(&early, prev),
                            "anchors to_remote spent without 1-block CSV"
                        );
                    } else {
                        let mut tx = spender(op, prev.value, 0, 0);
                        let hash = SighashCache::new(&tx)
                            .p2wpkh_signature_hash(
                                0,
                                &prev.script_pubkey,
                                prev.value,
                                EcdsaSighashType::All,
                            )
                            .unwrap();
                        let sig = fx.secp.sign_ecdsa(&hash.into(), &remote_payment_key);
                        let s = bitcoin::ecdsa::Signature {
                            signature: sig,
                            sighash_type: EcdsaSighashType::All,
                        }
                        .to_vec();
                        let pk =
                            PublicKey::from_secret_key(&fx.secp, &remote_payment_key).serialize();
                        tx.input[0].witness = witness(&[&s, &pk]);
                        assert!(verifies(&tx, prev));
                    }
                }
                OutputKind::LocalAnchor | OutputKind::RemoteAnchor => {
                    let ws = ws.unwrap();
                    let key = if out.kind == OutputKind::LocalAnchor {
                        &fx.local_funding_key
                    } else {
                        &fx.remote_funding_key
                    };
                    let mut tx = spender(op, prev.value, 0, 0);
                    let s = sig_bytes(&tx, &ws, prev.value, key);
                    tx.input[0].witness = witness(&[&s, ws.as_bytes()]);
                    assert!(verifies(&tx, prev));
                    // Anyone after 16 blocks.
                    let mut tx = spender(op, prev.value, 16, 0);
                    tx.input[0].witness = witness(&[&[], ws.as_bytes()]);
                    assert!(verifies(&tx, prev));
                    let mut early = spender(op, prev.value, 15, 0);
                    early.input[0].witness = witness(&[&[], ws.as_bytes()]);
                    assert!(!verifies(&early, prev));
                }
                OutputKind::Htlc { index, direction } => {
                    let ws = ws.unwrap();
                    let seq = u32::from(t.has_anchors());
                    // Revocation path.
                    let mut tx = spender(op, prev.value, 0, 0);
                    let s = sig_bytes(&tx, &ws, prev.value, &revocation);
                    tx.input[0].witness =
                        witness(&[&s, &fx.keys.revocation.serialize(), ws.as_bytes()]);
                    assert!(verifies(&tx, prev), "htlc revocation path");
                    let h = &htlcs[index];
                    let preimage = fx.preimage_for(&h.payment_hash);
                    match direction {
                        HtlcDirection::Offered => {
                            // The counterparty claims with the preimage.
                            let mut tx = spender(op, prev.value, seq, 0);
                            let s = sig_bytes(&tx, &ws, prev.value, &fx.remote_htlc_key);
                            tx.input[0].witness =
                                witness(&[&s, preimage.as_bytes(), ws.as_bytes()]);
                            assert!(verifies(&tx, prev), "offered htlc preimage path");
                            let mut bad = tx.clone();
                            bad.input[0].witness = witness(&[&s, &[0x55; 32], ws.as_bytes()]);
                            assert!(!verifies(&bad, prev));
                        }
                        HtlcDirection::Received => {
                            // The counterparty times out after cltv_expiry.
                            let mut tx = spender(op, prev.value, seq, h.cltv_expiry);
                            let s = sig_bytes(&tx, &ws, prev.value, &fx.remote_htlc_key);
                            tx.input[0].witness = witness(&[&s, &[], ws.as_bytes()]);
                            assert!(verifies(&tx, prev), "received htlc timeout path");
                            let mut early = spender(op, prev.value, seq, h.cltv_expiry - 1);
                            let s = sig_bytes(&early, &ws, prev.value, &fx.remote_htlc_key);
                            early.input[0].witness = witness(&[&s, &[], ws.as_bytes()]);
                            assert!(!verifies(&early, prev), "received htlc timed out early");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn second_stage_output_paths_verify() {
    let fx = Fixture::new();
    let revocation = revocation_key(&fx);
    let delay = u32::from(fx.data.params.local_delay);
    let t = ChannelType::StaticRemoteKey;
    let htlcs = fx.htlcs(&[0, 1, 2, 3, 4]);
    let params = fx.params(t, 6_988_000_000, 3_000_000_000, 0, 546, &htlcs);
    let built = build_commitment(&params).unwrap();
    let h = &built.htlc_txs(&params).unwrap()[0];
    let preimage = fx.preimage_for(&htlcs[h.htlc_index].payment_hash);
    let stage2 = signed_htlc(&fx, t, h, Some(&preimage));
    let prev = &stage2.output[0];
    let ws = fulmen_script::scripts::htlc_output_script(
        &fx.keys.revocation,
        delay as u16,
        &fx.keys.local_delayed,
    );
    assert_eq!(prev.script_pubkey, p2wsh(&ws));
    let op = OutPoint {
        txid: stage2.compute_txid(),
        vout: 0,
    };
    let mut tx = spender(op, prev.value, delay, 0);
    let s = sig_bytes(&tx, &ws, prev.value, &fx.local_delayed_key);
    tx.input[0].witness = witness(&[&s, &[], ws.as_bytes()]);
    assert!(verifies(&tx, prev));
    let mut tx = spender(op, prev.value, 0, 0);
    let s = sig_bytes(&tx, &ws, prev.value, &revocation);
    tx.input[0].witness = witness(&[&s, &[1], ws.as_bytes()]);
    assert!(verifies(&tx, prev));
}

fn random_htlcs() -> impl Strategy<Value = Vec<(bool, u64, u32, u8)>> {
    proptest::collection::vec(
        (
            any::<bool>(),
            600_000u64..20_000_000,
            400_000u32..400_100,
            any::<u8>(),
        ),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random channel states: the signed commitment and every signed HTLC
    /// transaction verify against what they spend.
    #[test]
    fn random_states_sign_and_verify(
        anchors in any::<bool>(),
        local_funds in any::<bool>(),
        split in 0u64..=100,
        feerate in 0u32..3_000,
        raw in random_htlcs(),
    ) {
        let fx = Fixture::new();
        let t = if anchors { ChannelType::AnchorsZeroFeeHtlcTx } else { ChannelType::StaticRemoteKey };
        let preimages: Vec<PaymentPreimage> = raw.iter().map(|(_, _, _, b)| PaymentPreimage([*b; 32])).collect();
        let htlcs: Vec<Htlc> = raw
            .iter()
            .zip(&preimages)
            .map(|((offered, amount, cltv, _), p)| Htlc {
                direction: if *offered { HtlcDirection::Offered } else { HtlcDirection::Received },
                amount: Msat(*amount),
                payment_hash: p.payment_hash(),
                cltv_expiry: *cltv,
            })
            .collect();
        let htlc_total: u64 = htlcs.iter().map(|h| h.amount.0).sum();
        let rest = fx.funding_amount.0 * 1000 - htlc_total;
        let to_local = rest / 100 * split;
        let mut params = fx.params(t, to_local, rest - to_local, feerate, 546, &htlcs);
        params.funder = if local_funds { Side::Local } else { Side::Remote };
        let Ok(built) = build_commitment(&params) else { return Ok(()) };
        let signed = signed_commitment(&fx, &built);
        prop_assert!(verifies(&signed, &funding_txout(&fx)));
        for h in built.htlc_txs(&params).unwrap() {
            let p = preimages.iter().find(|p| p.payment_hash() == htlcs[h.htlc_index].payment_hash).unwrap();
            let tx = signed_htlc(&fx, t, &h, Some(p));
            prop_assert!(verifies(&tx, &signed.output[h.commitment_output_index as usize]));
        }
    }
}
