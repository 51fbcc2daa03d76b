//! On-chain enforcement (BOLT 5) on real channel states: two `Channel`s
//! driven through open, HTLC adds and fulfills and revocations; their
//! commitments are then resolved and every transaction built is checked
//! by Bitcoin Core's script interpreter (libbitcoinconsensus, with CSV
//! and CLTV), and its relative and absolute locks against BIP 68 / BIP 65
//! finality at the claims' ready heights.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashMap;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, PublicKey, SecretKey};
use bitcoin::sighash::SighashCache;
use bitcoin::{
    Amount, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    WPubkeyHash, Witness,
};
use common::*;
use fulmen_channel::onchain::fees::{
    cpfp_child_fee, escalated_feerate, plan_batches, MIN_FEERATE_PER_KW,
};
use fulmen_channel::onchain::htlc::{
    finalize_htlc_tx, finalize_htlc_txs, second_stage, second_stage_claim,
};
use fulmen_channel::onchain::resolve::extract_preimages;
use fulmen_channel::onchain::sweep::{build_sweep, sign_claim_input, sweep_weight};
use fulmen_channel::onchain::{
    classify, resolve, Claim, ClaimKind, RemoteWhich, RevokedOutput, Signer, SpendKind,
    UnknownSpend,
};
use fulmen_channel::{Channel, ChannelConfig, ChannelEvent, RevokedCommitment};
use fulmen_types::{Msat, PaymentPreimage, Sat};
use proptest::prelude::*;

const FEERATE: u32 = 2_000;

// ---------------------------------------------------------------- chain

/// The outputs transactions in the test have created, with the height
/// their transaction confirmed at.
#[derive(Default)]
struct Utxos {
    outs: HashMap<OutPoint, TxOut>,
    heights: HashMap<Txid, u32>,
}

impl Utxos {
    fn confirm(&mut self, tx: &Transaction, height: u32) {
        let txid = tx.compute_txid();
        for (i, o) in tx.output.iter().enumerate() {
            self.outs.insert(
                OutPoint {
                    txid,
                    vout: i as u32,
                },
                o.clone(),
            );
        }
        self.heights.insert(txid, height);
    }

    /// Bitcoin Core's script interpreter, every input, CSV and CLTV on.
    fn verify(&self, tx: &Transaction) -> Result<(), String> {
        tx.verify(|op| self.outs.get(op).cloned())
            .map_err(|e| format!("{e:?}"))
    }

    /// BIP 65 / BIP 68 (height locks only): can `tx` be mined in block
    /// `height`?
    fn final_in_block(&self, tx: &Transaction, height: u32) -> bool {
        let lt = tx.lock_time.to_consensus_u32();
        let all_final = tx.input.iter().all(|i| i.sequence == Sequence::MAX);
        if lt != 0 && !all_final && lt >= height {
            return false;
        }
        tx.input.iter().all(|i| {
            let s = i.sequence.0;
            if s & (1 << 31) != 0 {
                return true;
            }
            assert_eq!(s & (1 << 22), 0, "only height locks are used");
            let conf = self.heights[&i.previous_output.txid];
            conf + (s & 0xffff) <= height
        })
    }

    fn input_value(&self, tx: &Transaction) -> u64 {
        tx.input
            .iter()
            .map(|i| self.outs[&i.previous_output].value.to_sat())
            .sum()
    }
}

fn out_sum(tx: &Transaction) -> u64 {
    tx.output.iter().map(|o| o.value.to_sat()).sum()
}

/// Asserts `tx` (spending `claims`, confirmed parents in `u`) verifies,
/// can be mined exactly from the claims' ready height, and that each CSV
/// and CLTV is enforced by the script: one block less, re-signed, fails.
fn check_sweep(
    u: &Utxos,
    tx: &Transaction,
    claims: &[Claim],
    signer: &Signer<'_>,
    preimages: &[PaymentPreimage],
) {
    u.verify(tx).unwrap();
    let ready = claims
        .iter()
        .map(|c| c.ready_height(u.heights[&c.outpoint.txid]))
        .max()
        .unwrap();
    assert!(u.final_in_block(tx, ready), "final at ready height {ready}");
    assert!(!u.final_in_block(tx, ready - 1) || claims.iter().all(|c| c.csv == 0 && c.cltv == 0));
    let resign = |t: &mut Transaction| {
        let ws: Vec<Witness> = claims
            .iter()
            .enumerate()
            .map(|(i, c)| sign_claim_input(t, i, c, signer, preimages).unwrap())
            .collect();
        for (inp, w) in t.input.iter_mut().zip(ws) {
            inp.witness = w;
        }
    };
    // Re-signing the untouched transaction gives the same bytes (RFC 6979).
    let mut same = tx.clone();
    resign(&mut same);
    assert_eq!(&same, tx);
    for (i, c) in claims.iter().enumerate() {
        if c.csv > 0 {
            let mut t = tx.clone();
            t.input[i].sequence = Sequence::from_height(c.csv - 1);
            resign(&mut t);
            assert!(
                u.verify(&t).is_err(),
                "CSV {} enforced by the script",
                c.csv
            );
        }
    }
    if let Some(cltv) = claims.iter().map(|c| c.cltv).filter(|c| *c > 0).max() {
        let mut t = tx.clone();
        t.lock_time = LockTime::from_consensus(cltv - 1);
        resign(&mut t);
        assert!(u.verify(&t).is_err(), "CLTV {cltv} enforced by the script");
    }
}

// ---------------------------------------------------------- the wallet

fn wallet_key() -> SecretKey {
    SecretKey::from_slice(&[0x77; 32]).unwrap()
}

fn wallet_script(p: &Pair) -> ScriptBuf {
    let pk = bitcoin::CompressedPublicKey(PublicKey::from_secret_key(&p.secp, &wallet_key()));
    ScriptBuf::new_p2wpkh(&WPubkeyHash::hash(&pk.to_bytes()))
}

/// A confirmed wallet coin of 1,000,000 sat.
fn wallet_coin(p: &Pair, u: &mut Utxos, tag: u8, height: u32) -> OutPoint {
    let tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: LockTime::from_consensus(u32::from(tag)),
        input: vec![TxIn::default()],
        output: vec![TxOut {
            value: Amount::from_sat(1_000_000),
            script_pubkey: wallet_script(p),
        }],
    };
    u.confirm(&tx, height);
    OutPoint {
        txid: tx.compute_txid(),
        vout: 0,
    }
}

/// Appends a wallet input and a change output paying `fee`.
fn add_fee_input(p: &Pair, tx: &mut Transaction, coin: OutPoint, fee: u64) {
    tx.input.push(TxIn {
        previous_output: coin,
        script_sig: ScriptBuf::new(),
        sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
        witness: Witness::new(),
    });
    tx.output.push(TxOut {
        value: Amount::from_sat(1_000_000 - fee),
        script_pubkey: wallet_script(p),
    });
}

fn sign_wallet_input(p: &Pair, tx: &mut Transaction, index: usize) {
    let hash = SighashCache::new(&*tx)
        .p2wpkh_signature_hash(
            index,
            &wallet_script(p),
            Amount::from_sat(1_000_000),
            EcdsaSighashType::All,
        )
        .unwrap();
    let sig = p.secp.sign_ecdsa(&Message::from(hash), &wallet_key());
    let sig = bitcoin::ecdsa::Signature::sighash_all(sig);
    let pk = PublicKey::from_secret_key(&p.secp, &wallet_key());
    tx.input[index].witness = Witness::p2wpkh(&sig, &pk);
}

// ----------------------------------------------------------- channels

fn config(anchors: bool) -> ChannelConfig {
    ChannelConfig {
        prefer_anchors: anchors,
        ..ChannelConfig::default()
    }
}

/// A funds 10,000,000 sat and pushes 4,000,000 sat to B.
fn open(anchors: bool) -> Pair {
    let mut p = Pair::new(config(anchors), config(anchors));
    let setup = p.outbound_setup(Sat(10_000_000), Msat(4_000_000_000));
    p.open_until_funded(setup);
    p.confirm_funding();
    assert_eq!(p.a.chan.phase(), "normal");
    let est = p.a.chan.established().unwrap();
    assert_eq!(est.core.channel_type.base.has_anchors(), anchors);
    p
}

fn signer<'a>(p: &'a Pair, who: Who) -> Signer<'a> {
    let end = match who {
        Who::A => &p.a,
        Who::B => &p.b,
    };
    Signer {
        secp: &p.secp,
        secrets: &end.secrets,
    }
}

fn end(p: &Pair, who: Who) -> &End {
    match who {
        Who::A => &p.a,
        Who::B => &p.b,
    }
}

/// `who`'s channel as it is now and its latest commitment, fully signed
/// (what it would broadcast), without disturbing the channel.
fn snapshot(p: &Pair, who: Who) -> (Channel, Transaction) {
    let e = end(p, who);
    let mut chan = e.chan.clone();
    let c = ctx(&p.secp, e, p.height, p.feerate);
    let out = chan.force_close(&c).unwrap();
    (e.chan.clone(), out.broadcasts.last().cloned().unwrap())
}

fn fulfill(p: &mut Pair, who: Who, id: u64, tag: u64) {
    let out = p
        .call(who, |c, _| c.fulfill_htlc(id, preimage(tag)))
        .unwrap();
    p.apply(who, out);
}

fn fail(p: &mut Pair, who: Who, id: u64) {
    let out = p.call(who, |c, _| c.fail_htlc(id, vec![0; 32])).unwrap();
    p.apply(who, out);
}

fn records(p: &Pair, who: Who) -> HashMap<Txid, RevokedCommitment> {
    end(p, who)
        .events
        .iter()
        .filter_map(|e| match e {
            ChannelEvent::RevokedRemoteCommitment(r) => Some((r.txid, r.clone())),
            _ => None,
        })
        .collect()
}

fn is_anchor(c: &Claim) -> bool {
    matches!(c.kind, ClaimKind::AnchorCpfp)
}

fn non_anchor_output_sum(p: &Pair, tx: &Transaction) -> u64 {
    let a = p.a.chan.established().unwrap();
    let anchors = [
        a.core.local_keys.funding_pubkey,
        a.core.remote_keys.funding_pubkey,
    ]
    .map(|k| fulmen_script::scripts::p2wsh(&fulmen_script::scripts::anchor_script(&k)));
    tx.output
        .iter()
        .filter(|o| !anchors.contains(&o.script_pubkey))
        .map(|o| o.value.to_sat())
        .sum()
}

/// The funding transaction and `commitment` confirmed at `height`.
fn chain_with(p: &Pair, commitment: &Transaction, height: u32) -> Utxos {
    let mut u = Utxos::default();
    u.confirm(p.funding_tx.as_ref().unwrap(), height - 10);
    u.verify(commitment).unwrap();
    u.confirm(commitment, height);
    u
}

/// Three HTLCs in flight on both commitments: A offers 500,000 and
/// 300,000 sat (tags 1, 2), B offers 200,000 sat (tag 3).
fn three_htlcs(p: &mut Pair) {
    p.add(Who::A, 500_000_000, 1);
    p.add(Who::A, 300_000_000, 2);
    p.add(Who::B, 200_000_000, 3);
    p.settle();
}

// ---------------------------------------------------------------- tests

/// The cheat: B broadcasts a commitment it has revoked, with three HTLCs
/// in flight. A takes every output but the anchors in one justice
/// transaction.
fn revoked_with_three_htlcs(anchors: bool) {
    let mut p = open(anchors);
    three_htlcs(&mut p);
    let (_, cheat) = snapshot(&p, Who::B);
    // B settles the first HTLC: its old commitment is revoked.
    fulfill(&mut p, Who::B, 0, 1);
    p.settle();
    let recs = records(&p, Who::A);
    let record = &recs[&cheat.compute_txid()];
    let a_est = p.a.chan.established().unwrap();
    let sa = signer(&p, Who::A);
    assert_eq!(
        classify(&cheat, a_est, &sa),
        SpendKind::RevokedRemoteCommitment {
            number: record.commitment_number
        }
    );
    let res = resolve(&cheat, a_est, &sa, Some(record)).unwrap();
    assert!(res.unclaimed.is_empty(), "{:?}", res.unclaimed);
    let claims: Vec<Claim> = res
        .claims
        .iter()
        .filter(|c| !is_anchor(c))
        .cloned()
        .collect();
    let htlcs = claims
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                ClaimKind::Revoked {
                    output: RevokedOutput::Htlc { .. }
                }
            )
        })
        .count();
    assert_eq!(htlcs, 3);
    assert!(claims.iter().any(|c| matches!(
        c.kind,
        ClaimKind::Revoked {
            output: RevokedOutput::ToLocal
        }
    )));
    assert!(claims
        .iter()
        .any(|c| matches!(c.kind, ClaimKind::ToRemote { .. })));
    let claimed: u64 = claims.iter().map(|c| c.value.value()).sum();
    assert_eq!(claimed, non_anchor_output_sum(&p, &cheat));
    assert_eq!(claimed, 10_000_000 - cheat_fee_and_anchors(&cheat, anchors));

    let h = p.height + 1;
    let u = chain_with(&p, &cheat, h);
    let dest = p2wpkh(0xd0);
    let justice = build_sweep(&claims, &dest, FEERATE, &sa, &[]).unwrap();
    check_sweep(&u, &justice, &claims, &sa, &[]);
    let fee = claimed - out_sum(&justice);
    assert!(
        fee * 1000 >= u64::from(FEERATE) * justice.weight().to_wu(),
        "fee {fee}"
    );
    assert!(fee * 1000 <= u64::from(FEERATE) * (justice.weight().to_wu() + 10));
    // The justice transaction is final at once (a block later with
    // anchors, for `to_remote`'s `1 OP_CSV`): no lock on revocation paths.
    assert!(u.final_in_block(&justice, h + u32::from(anchors)));
    // BOLT 5's split: each contested (HTLC) claim alone, to_local and
    // to_remote together.
    let plan = plan_batches(claims.clone(), FEERATE, &dest, true, &sa).unwrap();
    assert_eq!(plan.batches.len(), 4);
    assert_eq!(plan.batches[0].len(), 2);
    for b in &plan.batches {
        let t = build_sweep(b, &dest, FEERATE, &sa, &[]).unwrap();
        check_sweep(&u, &t, b, &sa, &[]);
    }
}

fn cheat_fee_and_anchors(tx: &Transaction, anchors: bool) -> u64 {
    let anchor_total = if anchors {
        tx.output.iter().filter(|o| o.value.to_sat() == 330).count() as u64 * 330
    } else {
        0
    };
    10_000_000 - out_sum(tx) + anchor_total
}

#[test]
fn revoked_commitment_with_three_htlcs_punished_entirely_anchors() {
    revoked_with_three_htlcs(true);
}

#[test]
fn revoked_commitment_with_three_htlcs_punished_entirely_static_remotekey() {
    revoked_with_three_htlcs(false);
}

/// The cheater confirms its HTLC-timeout (of the HTLC it offered) and its
/// HTLC-success (of one it received, with the preimage) first; A takes
/// both second-stage outputs with the revocation key, and the rest of the
/// commitment.
fn cheater_second_stage_taken(anchors: bool) {
    let mut p = open(anchors);
    three_htlcs(&mut p);
    let (b_old, cheat) = snapshot(&p, Who::B);
    fulfill(&mut p, Who::B, 1, 2);
    p.settle();
    let recs = records(&p, Who::A);
    let record = &recs[&cheat.compute_txid()];
    let conf = p.height + 1;
    let mut u = chain_with(&p, &cheat, conf);

    // The cheater resolves its own (old) commitment as a local one.
    let sb = signer(&p, Who::B);
    let b_est = b_old.established().unwrap();
    let b_res = resolve(&cheat, b_est, &sb, None).unwrap();
    assert!(matches!(b_res.kind, SpendKind::LocalCommitment { .. }));
    let timeout = b_res
        .claims
        .iter()
        .find(|c| matches!(c.kind, ClaimKind::HtlcTimeout { .. }))
        .unwrap();
    let success = b_res
        .claims
        .iter()
        .find(|c| matches!(c.kind, ClaimKind::HtlcSuccess { .. }))
        .unwrap();
    let cltv = timeout.cltv;
    let success_hash = success.payment_hash().unwrap();
    let mut second = Vec::new();
    for (n, c) in [timeout, success].into_iter().enumerate() {
        let mut tx = second_stage(c).unwrap().tx.clone();
        if anchors {
            let coin = wallet_coin(&p, &mut u, 10 + n as u8, conf - 1);
            add_fee_input(&p, &mut tx, coin, 2_000);
        }
        let tx = finalize_htlc_tx(c, tx, &sb, &[preimage(1), preimage(2)]).unwrap();
        let mut tx = tx;
        if anchors {
            sign_wallet_input(&p, &mut tx, 1);
        }
        u.verify(&tx).unwrap();
        let ready = c.ready_height(conf);
        assert!(u.final_in_block(&tx, ready));
        assert!(!u.final_in_block(&tx, ready - 1));
        if matches!(c.kind, ClaimKind::HtlcTimeout { .. }) {
            assert_eq!(ready, cltv + 1);
        }
        second.push(tx);
    }

    // A: the justice transaction for the commitment (the two HTLC outputs
    // the cheater spent excluded), then the second-stage outputs.
    let sa = signer(&p, Who::A);
    let a_est = p.a.chan.established().unwrap();
    let res = resolve(&cheat, a_est, &sa, Some(record)).unwrap();
    let spent: Vec<OutPoint> = second.iter().map(|t| t.input[0].previous_output).collect();
    let rest: Vec<Claim> = res
        .claims
        .iter()
        .filter(|c| !is_anchor(c) && !spent.contains(&c.outpoint))
        .cloned()
        .collect();
    assert_eq!(rest.len(), 3, "to_local, to_remote, one HTLC");
    let dest = p2wpkh(0xd0);
    let justice = build_sweep(&rest, &dest, FEERATE, &sa, &[]).unwrap();
    check_sweep(&u, &justice, &rest, &sa, &[]);
    let mut taken = out_sum(&justice);
    let mut fees = rest.iter().map(|c| c.value.value()).sum::<u64>() - taken;
    for (n, tx) in second.iter().enumerate() {
        let h2 = cltv + 2 + n as u32;
        u.confirm(tx, h2);
        // A learns the preimage of the HTLC-success from its witness.
        let hashes: Vec<_> = res.htlc_outpoints().map(|(_, h)| h).collect();
        let found = extract_preimages(tx, &hashes);
        if n == 1 {
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].payment_hash(), success_hash);
        } else {
            assert!(found.is_empty());
        }
        let claims = res.revoked_second_stage_claims(tx);
        assert_eq!(claims.len(), 1);
        let c = &claims[0];
        assert_eq!(c.value.value(), tx.output[0].value.to_sat());
        assert_eq!(c.deadline_height(h2), Some(h2 + 144));
        let t = build_sweep(&claims, &dest, FEERATE, &sa, &[]).unwrap();
        check_sweep(&u, &t, &claims, &sa, &[]);
        taken += out_sum(&t);
        fees += c.value.value() - out_sum(&t);
    }
    // Nothing of the channel is left to the cheater: A holds everything
    // but the anchors, the fees, and (without anchors) the HTLC
    // transactions' own fees.
    let htlc_tx_fees: u64 = if anchors {
        0
    } else {
        second.iter().map(|t| u.input_value(t) - out_sum(t)).sum()
    };
    assert_eq!(
        taken + fees + htlc_tx_fees,
        non_anchor_output_sum(&p, &cheat)
    );
    // Other transactions yield nothing.
    assert!(res.revoked_second_stage_claims(&justice).is_empty());
}

#[test]
fn cheater_second_stage_outputs_taken_anchors() {
    cheater_second_stage_taken(true);
}

#[test]
fn cheater_second_stage_outputs_taken_static_remotekey() {
    cheater_second_stage_taken(false);
}

/// A force-closes with three HTLCs in flight. A sweeps `to_local` after
/// its delay, runs HTLC-success (preimage) and HTLC-timeout (after the
/// expiry) and sweeps their outputs after the delay, and bumps the
/// commitment through its anchor. B takes `to_remote`, its HTLC with the
/// preimage and its own offered one after the timeout, directly.
fn unilateral_close(anchors: bool) {
    let mut p = open(anchors);
    three_htlcs(&mut p);
    let (a_chan, commit) = snapshot(&p, Who::A);
    let conf = p.height + 1;
    let mut u = chain_with(&p, &commit, conf);
    let dest = p2wpkh(0xd0);

    // --- A: our commitment.
    let sa = signer(&p, Who::A);
    let a_est = a_chan.established().unwrap();
    let res = resolve(&commit, a_est, &sa, None).unwrap();
    assert_eq!(
        res.kind,
        SpendKind::LocalCommitment {
            number: a_est.local_commit.number
        }
    );
    assert!(res.unclaimed.is_empty());
    let to_local: Vec<Claim> = res
        .claims
        .iter()
        .filter(|c| matches!(c.kind, ClaimKind::ToLocalAfterCsv { .. }))
        .cloned()
        .collect();
    assert_eq!(to_local.len(), 1);
    assert_eq!(to_local[0].csv, 144);
    assert_eq!(to_local[0].ready_height(conf), conf + 144);
    let t = build_sweep(&to_local, &dest, FEERATE, &sa, &[]).unwrap();
    check_sweep(&u, &t, &to_local, &sa, &[]);
    assert_eq!(t.input[0].sequence, Sequence::from_height(144));

    let htlc_claims: Vec<&Claim> = res
        .claims
        .iter()
        .filter(|c| c.kind.is_second_stage())
        .collect();
    assert_eq!(htlc_claims.len(), 3);
    let mut tag = 20u8;
    for c in htlc_claims {
        let mut tx = second_stage(c).unwrap().tx.clone();
        if anchors {
            tag += 1;
            let coin = wallet_coin(&p, &mut u, tag, conf);
            add_fee_input(&p, &mut tx, coin, 3_000);
        }
        // Without the preimage an HTLC-success cannot be finalised.
        if let ClaimKind::HtlcSuccess { payment_hash, .. } = c.kind {
            assert_eq!(
                finalize_htlc_tx(c, tx.clone(), &sa, &[]),
                Err(fulmen_channel::onchain::OnchainError::MissingPreimageError { payment_hash })
            );
        }
        let mut tx = finalize_htlc_tx(c, tx, &sa, &[preimage(3)]).unwrap();
        if anchors {
            sign_wallet_input(&p, &mut tx, 1);
        }
        u.verify(&tx).unwrap();
        let ready = c.ready_height(conf);
        assert!(u.final_in_block(&tx, ready));
        assert!(!u.final_in_block(&tx, ready - 1));
        let h2 = ready + 1;
        u.confirm(&tx, h2);
        let out = second_stage_claim(c, &tx).unwrap();
        assert_eq!(out.ready_height(h2), h2 + 144);
        let s = build_sweep(std::slice::from_ref(&out), &dest, FEERATE, &sa, &[]).unwrap();
        check_sweep(&u, &s, std::slice::from_ref(&out), &sa, &[]);
    }

    // Anchor CPFP: a child spending our anchor and a wallet coin.
    let anchor = res.claims.iter().find(|c| is_anchor(c));
    assert_eq!(anchor.is_some(), anchors);
    if let Some(anchor) = anchor {
        let coin = wallet_coin(&p, &mut u, 99, conf - 1);
        let mut child = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: anchor.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: anchor.sequence(),
                witness: Witness::new(),
            }],
            output: vec![],
        };
        let parent_fee = 10_000_000 - out_sum(&commit);
        let fee = cpfp_child_fee(commit.weight().to_wu(), Sat(parent_fee), 800, 20_000).unwrap();
        assert!(fee.value() > 0);
        add_fee_input(&p, &mut child, coin, fee.value());
        child.output[0].value += Amount::from_sat(330);
        child.input[0].witness = sign_claim_input(&child, 0, anchor, &sa, &[]).unwrap();
        sign_wallet_input(&p, &mut child, 1);
        // The parent is unconfirmed in a real CPFP; the scripts do not care.
        u.verify(&child).unwrap();
    }

    // --- B: the peer's commitment.
    let sb = signer(&p, Who::B);
    let b_est = p.b.chan.established().unwrap();
    let res = resolve(&commit, b_est, &sb, None).unwrap();
    assert!(matches!(
        res.kind,
        SpendKind::RemoteCommitment {
            which: RemoteWhich::Current,
            ..
        }
    ));
    assert!(res.unclaimed.is_empty());
    let claims: Vec<Claim> = res
        .claims
        .iter()
        .filter(|c| !is_anchor(c))
        .cloned()
        .collect();
    assert_eq!(claims.len(), 4, "to_remote and three HTLCs");
    let to_remote = claims
        .iter()
        .find(|c| matches!(c.kind, ClaimKind::ToRemote { .. }))
        .unwrap();
    assert_eq!(to_remote.csv, u16::from(anchors));
    // B's balance: 4,000,000 minus its HTLC (A pays the fees).
    assert_eq!(to_remote.value, Sat(3_800_000));
    let b_pre = [preimage(1), preimage(2)];
    // Everything at once, after the timeout of B's own HTLC.
    let t = build_sweep(&claims, &dest, FEERATE, &sb, &b_pre).unwrap();
    check_sweep(&u, &t, &claims, &sb, &b_pre);
    // Without the timeout claim it can go at once (one block with anchors).
    let now: Vec<Claim> = claims.iter().filter(|c| c.cltv == 0).cloned().collect();
    let t = build_sweep(&now, &dest, FEERATE, &sb, &b_pre).unwrap();
    check_sweep(&u, &t, &now, &sb, &b_pre);
    assert!(u.final_in_block(&t, conf + u32::from(anchors)));
    // A preimage is required for the success claims.
    assert!(build_sweep(&now, &dest, FEERATE, &sb, &[]).is_err());
}

/// Anchors: A's two HTLC-timeout transactions (same expiry, so the same
/// `nLockTime` the peer signed) go out as one transaction with one wallet
/// coin: input and output `i` of each pair at the same index, the coin and
/// change after. The scripts accept it; each claim's delayed output is
/// found at its own index. Pairs out of place, or mixed with an
/// HTLC-success (another `nLockTime`), are refused.
#[test]
fn htlc_transactions_aggregated_with_one_wallet_coin() {
    let mut p = open(true);
    three_htlcs(&mut p);
    let (a_chan, commit) = snapshot(&p, Who::A);
    let conf = p.height + 1;
    let mut u = chain_with(&p, &commit, conf);
    let sa = signer(&p, Who::A);
    let res = resolve(&commit, a_chan.established().unwrap(), &sa, None).unwrap();
    let (timeouts, successes): (Vec<Claim>, Vec<Claim>) = res
        .claims
        .iter()
        .filter(|c| c.kind.is_second_stage())
        .cloned()
        .partition(|c| matches!(c.kind, ClaimKind::HtlcTimeout { .. }));
    assert_eq!((timeouts.len(), successes.len()), (2, 1));
    let aggregate = |claims: &[Claim]| {
        let first = &second_stage(&claims[0]).unwrap().tx;
        Transaction {
            version: first.version,
            lock_time: first.lock_time,
            input: claims
                .iter()
                .map(|c| second_stage(c).unwrap().tx.input[0].clone())
                .collect(),
            output: claims
                .iter()
                .map(|c| second_stage(c).unwrap().tx.output[0].clone())
                .collect(),
        }
    };
    let coin = wallet_coin(&p, &mut u, 40, conf);
    let mut tx = aggregate(&timeouts);
    add_fee_input(&p, &mut tx, coin, 5_000);
    let mut swapped = tx.clone();
    swapped.output.swap(0, 1);
    assert_eq!(
        finalize_htlc_txs(&timeouts, swapped, &sa, &[]),
        Err(fulmen_channel::onchain::OnchainError::WrongTransaction)
    );
    let mixed = [timeouts[0].clone(), successes[0].clone()];
    assert_eq!(
        finalize_htlc_txs(&mixed, aggregate(&mixed), &sa, &[preimage(3)]),
        Err(fulmen_channel::onchain::OnchainError::WrongTransaction)
    );
    let mut tx = finalize_htlc_txs(&timeouts, tx, &sa, &[]).unwrap();
    sign_wallet_input(&p, &mut tx, 2);
    u.verify(&tx).unwrap();
    let ready = timeouts[0].ready_height(conf);
    assert!(u.final_in_block(&tx, ready));
    u.confirm(&tx, ready);
    for (i, c) in timeouts.iter().enumerate() {
        let out = second_stage_claim(c, &tx).unwrap();
        assert_eq!(out.outpoint.vout, i as u32);
        assert_eq!(out.value.0, tx.output[i].value.to_sat());
    }
}

#[test]
fn unilateral_close_resolved_anchors() {
    unilateral_close(true);
}

#[test]
fn unilateral_close_resolved_static_remotekey() {
    unilateral_close(false);
}

/// The peer's previous commitment, broadcast while its revocation is
/// still owed, is recognised and resolved as unrevoked.
#[test]
fn previous_remote_commitment_while_revocation_owed() {
    let mut p = open(true);
    p.add(Who::A, 400_000_000, 1);
    p.settle();
    let (_, prev) = snapshot(&p, Who::B);
    // A adds again and signs; B replies with commitment_signed's
    // revoke_and_ack, which we keep from A.
    p.add(Who::A, 100_000_000, 2);
    p.sign(Who::A);
    p.deliver_one(Who::B).unwrap().unwrap(); // update_add_htlc
    p.deliver_one(Who::B).unwrap().unwrap(); // commitment_signed
    let est = p.a.chan.established().unwrap();
    assert!(est.remote_prev.is_some());
    let sa = signer(&p, Who::A);
    let (_, cur) = {
        // B's newest commitment.
        snapshot(&p, Who::B)
    };
    assert!(matches!(
        classify(&prev, est, &sa),
        SpendKind::RemoteCommitment {
            which: RemoteWhich::Previous,
            ..
        }
    ));
    assert!(matches!(
        classify(&cur, est, &sa),
        SpendKind::RemoteCommitment {
            which: RemoteWhich::Current,
            ..
        }
    ));
    let res = resolve(&prev, est, &sa, None).unwrap();
    let u = chain_with(&p, &prev, p.height + 1);
    let claims: Vec<Claim> = res
        .claims
        .iter()
        .filter(|c| !is_anchor(c))
        .cloned()
        .collect();
    assert_eq!(claims.len(), 2, "to_remote and the HTLC to time out");
    let t = build_sweep(&claims, &p2wpkh(0xd0), FEERATE, &sa, &[]).unwrap();
    check_sweep(&u, &t, &claims, &sa, &[]);
}

#[test]
fn mutual_close_own_revoked_and_foreign_transactions() {
    let mut p = open(true);
    p.add(Who::A, 400_000_000, 1);
    p.settle();
    let (_, a_old) = snapshot(&p, Who::A);
    fulfill(&mut p, Who::B, 0, 1);
    p.settle();
    let est = p.a.chan.established().unwrap();
    let sa = signer(&p, Who::A);
    // Our own revoked commitment: never ours to claim from.
    assert!(matches!(
        classify(&a_old, est, &sa),
        SpendKind::Unknown(UnknownSpend::OwnRevokedCommitment { .. })
    ));
    // A transaction that does not spend the funding output.
    let mut other = a_old.clone();
    other.input[0].previous_output.vout ^= 1;
    assert_eq!(
        classify(&other, est, &sa),
        SpendKind::Unknown(UnknownSpend::NotFundingSpend)
    );
    // No markers: a mutual close.
    let mut close = a_old.clone();
    close.lock_time = LockTime::ZERO;
    close.input[0].sequence = Sequence::MAX;
    assert_eq!(classify(&close, est, &sa), SpendKind::MutualClose);
    let res = resolve(&close, est, &sa, None).unwrap();
    assert!(res.claims.is_empty());
    // The real mutual close.
    let out = p.call(Who::A, |c, ctx| c.shutdown(None, ctx)).unwrap();
    p.apply(Who::A, out);
    p.flush();
    let tx = p.a.broadcasts.last().unwrap().clone();
    let est = p.a.chan.established().unwrap();
    assert_eq!(
        classify(&tx, est, &signer(&p, Who::A)),
        SpendKind::MutualClose
    );
}

#[test]
fn fee_schedule_and_batching() {
    assert_eq!(escalated_feerate(1_000, None, 100_000), 1_000);
    assert_eq!(escalated_feerate(1_000, Some(500), 100_000), 1_000);
    assert_eq!(escalated_feerate(1_000, Some(72), 100_000), 1_000);
    assert_eq!(escalated_feerate(1_000, Some(71), 100_000), 2_000);
    assert_eq!(escalated_feerate(1_000, Some(35), 100_000), 4_000);
    assert_eq!(escalated_feerate(1_000, Some(17), 100_000), 8_000);
    assert_eq!(escalated_feerate(1_000, Some(5), 100_000), 16_000);
    assert_eq!(escalated_feerate(1_000, Some(0), 10_000), 10_000);
    assert_eq!(escalated_feerate(0, None, 10_000), MIN_FEERATE_PER_KW);

    // A small HTLC is split out of the justice batch once its own input
    // costs more than it holds.
    let mut p = open(true);
    p.add(Who::A, 2_000_000, 1); // 2,000 sat
    p.add(Who::B, 300_000_000, 2);
    p.settle();
    let (_, cheat) = snapshot(&p, Who::B);
    fail(&mut p, Who::B, 0);
    p.settle();
    let recs = records(&p, Who::A);
    let est = p.a.chan.established().unwrap();
    let sa = signer(&p, Who::A);
    let res = resolve(&cheat, est, &sa, Some(&recs[&cheat.compute_txid()])).unwrap();
    let dest = p2wpkh(0xd0);
    let plan = plan_batches(res.claims.clone(), 2_000, &dest, false, &sa).unwrap();
    assert_eq!(plan.batches.len(), 1);
    assert!(plan.uneconomical.is_empty());
    assert_eq!(plan.anchors.len(), 1);
    let plan = plan_batches(res.claims.clone(), 10_000, &dest, false, &sa).unwrap();
    assert_eq!(plan.uneconomical.len(), 1);
    assert_eq!(plan.uneconomical[0].value, Sat(2_000));
    assert_eq!(plan.batches[0].len(), 3);
    let w = sweep_weight(&plan.batches[0], &dest, &sa).unwrap();
    let t = build_sweep(&plan.batches[0], &dest, 10_000, &sa, &[]).unwrap();
    assert!(t.weight().to_wu() <= w && t.weight().to_wu() + 8 >= w);
    // Fees never take an output below dust: an error, not a bad tx.
    assert!(matches!(
        build_sweep(&plan.uneconomical, &dest, 10_000, &sa, &[]),
        Err(fulmen_channel::onchain::OnchainError::BelowDustError { .. })
    ));
}

// ------------------------------------------------------------ property

#[derive(Debug, Clone)]
enum Op {
    Add(bool, u64),
    Settle(bool, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 10_000u64..400_000).prop_map(|(a, s)| Op::Add(a, s)),
        (any::<bool>(), any::<bool>()).prop_map(|(a, f)| Op::Settle(a, f)),
    ]
}

struct History {
    p: Pair,
    /// B's commitments as broadcastable, oldest first.
    b_commits: Vec<Transaction>,
}

fn run_history(anchors: bool, ops: &[Op]) -> History {
    let mut p = open(anchors);
    let mut pending: Vec<(Who, u64, u64)> = Vec::new(); // (offerer, id, tag)
    let mut next_id = [0u64; 2];
    let mut b_commits = vec![snapshot(&p, Who::B).1];
    for (tag, op) in ops.iter().enumerate() {
        let tag = tag as u64 + 1;
        match op {
            Op::Add(from_a, sat) => {
                let who = if *from_a { Who::A } else { Who::B };
                let (_, bal) = p.end(who).chan.balances().map(|(l, r)| (r, l)).unwrap();
                if bal.0 < sat * 1000 + 1_100_000_000 {
                    continue;
                }
                let id = p.add(who, sat * 1000, tag);
                let slot = &mut next_id[usize::from(who == Who::B)];
                assert_eq!(id, *slot);
                *slot += 1;
                pending.push((who, id, tag));
            }
            Op::Settle(first, ok) => {
                let Some(i) = (if *first {
                    0
                } else {
                    pending.len().wrapping_sub(1)
                })
                .checked_add(0)
                .filter(|i| *i < pending.len()) else {
                    continue;
                };
                let (offerer, id, tag) = pending.remove(i);
                if *ok {
                    fulfill(&mut p, offerer.other(), id, tag);
                } else {
                    fail(&mut p, offerer.other(), id);
                }
            }
        }
        p.settle();
        let (_, tx) = snapshot(&p, Who::B);
        if b_commits.last() != Some(&tx) {
            b_commits.push(tx);
        }
    }
    History { p, b_commits }
}

fn all_preimages(n: usize) -> Vec<PaymentPreimage> {
    (1..=n as u64 + 1).map(preimage).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Any revoked state of B lets A claim every non-anchor output; the
    /// latest state lets each side claim its own balance.
    #[test]
    fn any_revoked_state_is_punished_and_latest_pays_both(
        anchors in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..8),
        pick in any::<prop::sample::Index>(),
    ) {
        let h = run_history(anchors, &ops);
        let p = &h.p;
        let recs = records(p, Who::A);
        let sa = signer(p, Who::A);
        let sb = signer(p, Who::B);
        let a_est = p.a.chan.established().unwrap();
        let b_est = p.b.chan.established().unwrap();
        let dest = p2wpkh(0xd0);
        let pre = all_preimages(ops.len());

        let revoked = &h.b_commits[..h.b_commits.len() - 1];
        // Every add changes the state, so any history with one has a
        // revoked commitment of B to broadcast.
        prop_assert!(!revoked.is_empty() || !ops.iter().any(|o| matches!(o, Op::Add(..))));
        if !revoked.is_empty() {
            let cheat = pick.get(revoked);
            let rec = &recs[&cheat.compute_txid()];
            let res = resolve(cheat, a_est, &sa, Some(rec)).unwrap();
            prop_assert!(matches!(res.kind, SpendKind::RevokedRemoteCommitment { .. }), "revoked");
            prop_assert!(res.unclaimed.is_empty());
            let claims: Vec<Claim> = res.claims.iter().filter(|c| !is_anchor(c)).cloned().collect();
            let claimed: u64 = claims.iter().map(|c| c.value.value()).sum();
            prop_assert_eq!(claimed, non_anchor_output_sum(p, cheat));
            let u = chain_with(p, cheat, p.height + 1);
            let t = build_sweep(&claims, &dest, FEERATE, &sa, &[]).unwrap();
            check_sweep(&u, &t, &claims, &sa, &[]);
        }

        // The latest state, broadcast by either side.
        let latest = [(Who::A, snapshot(p, Who::A).1), (Who::B, snapshot(p, Who::B).1)];
        for (owner, commit) in latest {
            let u = chain_with(p, &commit, p.height + 1);
            for (who, est, s) in [(Who::A, a_est, &sa), (Who::B, b_est, &sb)] {
                let res = resolve(&commit, est, s, None).unwrap();
                prop_assert!(res.unclaimed.is_empty());
                let own: Vec<Claim> = res
                    .claims
                    .iter()
                    .filter(|c| matches!(c.kind, ClaimKind::ToLocalAfterCsv { .. } | ClaimKind::ToRemote { .. }))
                    .cloned()
                    .collect();
                // Its balance on the commitment (the funder's after fees).
                let spec = end(p, who).chan.commitment_spec(fulmen_script::Side::Local).unwrap();
                let balance = spec.local.to_sat_floor().value();
                let got: u64 = own.iter().map(|c| c.value.value()).sum();
                if who == Who::A {
                    prop_assert!(got <= balance && balance - got < 20_000, "{got} {balance}");
                } else if balance >= 546 {
                    prop_assert_eq!(got, balance);
                }
                if !own.is_empty() {
                    let t = build_sweep(&own, &dest, FEERATE, s, &[]).unwrap();
                    check_sweep(&u, &t, &own, s, &[]);
                }
                // Every HTLC is claimable by exactly one side's path at a
                // time; check each direct one verifies.
                let direct: Vec<Claim> = res
                    .claims
                    .iter()
                    .filter(|c| !c.kind.is_second_stage() && c.payment_hash().is_some())
                    .cloned()
                    .collect();
                if !direct.is_empty() {
                    prop_assert!(who != owner);
                    let t = build_sweep(&direct, &dest, FEERATE, s, &pre).unwrap();
                    check_sweep(&u, &t, &direct, s, &pre);
                }
            }
        }
    }

    /// Classification never panics on arbitrary transactions spending the
    /// funding output.
    #[test]
    fn classify_never_panics(
        lock in any::<u32>(),
        seq in any::<u32>(),
        outs in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..5),
    ) {
        let p = open(true);
        let est = p.a.chan.established().unwrap();
        let sa = signer(&p, Who::A);
        let tx = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: LockTime::from_consensus(lock),
            input: vec![TxIn {
                previous_output: est.core.funding_outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence(seq),
                witness: Witness::new(),
            }],
            output: outs
                .into_iter()
                .map(|(v, s)| TxOut { value: Amount::from_sat(v), script_pubkey: ScriptBuf::from_bytes(s) })
                .collect(),
        };
        let _ = classify(&tx, est, &sa);
        let _ = resolve(&tx, est, &sa, None).unwrap();
    }
}

/// We lost state (restored an old channel): the peer's newer commitment
/// is recognised as such and our `to_remote` is still taken (static
/// remote key), while nothing else is claimed.
#[test]
fn future_remote_commitment_still_pays_to_remote() {
    for anchors in [true, false] {
        let mut p = open(anchors);
        p.add(Who::B, 300_000_000, 1);
        p.settle();
        let (a_old, _) = snapshot(&p, Who::A);
        fulfill(&mut p, Who::A, 0, 1);
        p.add(Who::A, 100_000_000, 2);
        p.settle();
        let (_, b_latest) = snapshot(&p, Who::B);
        let est = a_old.established().unwrap();
        let sa = signer(&p, Who::A);
        assert!(matches!(
            classify(&b_latest, est, &sa),
            SpendKind::FutureRemoteCommitment { .. }
        ));
        let res = resolve(&b_latest, est, &sa, None).unwrap();
        let claims: Vec<Claim> = res
            .claims
            .iter()
            .filter(|c| !is_anchor(c))
            .cloned()
            .collect();
        assert_eq!(claims.len(), 1);
        assert!(matches!(claims[0].kind, ClaimKind::ToRemote { .. }));
        // The HTLC output and the peer's `to_local` (unknown point) are
        // reported, not silently ignored.
        assert_eq!(res.unclaimed.len(), 2);
        let u = chain_with(&p, &b_latest, p.height + 1);
        let t = build_sweep(&claims, &p2wpkh(0xd0), FEERATE, &sa, &[]).unwrap();
        check_sweep(&u, &t, &claims, &sa, &[]);
    }
}
