//! BOLT 3 Appendix B (funding), C (commitment and HTLC transactions) and F
//! (the same with anchors) test vectors, from tests/data/: every
//! transaction byte-exact, every signature reproduced, and every signed
//! transaction checked by libbitcoinconsensus against what it spends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{Message, PublicKey};
use bitcoin::sighash::SighashCache;
use bitcoin::{
    Amount, EcdsaSighashType, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};
use common::{pk, sk, Fixture};
use fulmen_script::commitment::{build_commitment, CommitmentTx, OutputKind};
use fulmen_script::htlc_tx::{HtlcTx, HtlcTxKind};
use fulmen_script::scripts::{funding_script, p2wsh};
use fulmen_script::sign::{
    counterparty_htlc_sighash_type, funding_witness, htlc_success_witness, htlc_timeout_witness,
    sign_funding_spend, sign_htlc_tx, verify_counterparty_htlc_signature, verify_funding_spend,
};
use fulmen_script::{ChannelType, Htlc, HtlcDirection};
use fulmen_types::Sat;
use serde::Deserialize;

fn der(sig: &Signature) -> String {
    hex::encode(sig.serialize_der())
}

/// Signs the commitment with both funding keys, checks the peer's
/// signature, and returns (local sig, remote sig, signed tx).
fn sign_commitment(fx: &Fixture, built: &CommitmentTx) -> (Signature, Signature, Transaction) {
    let local = sign_funding_spend(
        &built.tx,
        &fx.funding_script,
        fx.funding_amount,
        &fx.local_funding_key,
    )
    .unwrap();
    let remote = sign_funding_spend(
        &built.tx,
        &fx.funding_script,
        fx.funding_amount,
        &fx.remote_funding_key,
    )
    .unwrap();
    verify_funding_spend(
        &fx.secp,
        &built.tx,
        &fx.funding_script,
        fx.funding_amount,
        &remote,
        &fx.remote_funding_pubkey,
    )
    .unwrap();
    let mut tx = built.tx.clone();
    tx.input[0].witness = funding_witness(
        &fx.funding_script,
        (&fx.local_funding_pubkey, &local),
        (&fx.remote_funding_pubkey, &remote),
    );
    (local, remote, tx)
}

/// Signs one HTLC transaction with both HTLC keys (the remote one with the
/// channel type's sighash type), checks the remote signature, and returns
/// (remote sig, local sig, signed tx).
fn sign_htlc(
    fx: &Fixture,
    channel_type: ChannelType,
    h: &HtlcTx,
    htlcs: &[Htlc],
) -> (Signature, Signature, Transaction) {
    let remote = sign_htlc_tx(
        &h.tx,
        &h.htlc_script,
        h.htlc_amount,
        counterparty_htlc_sighash_type(channel_type),
        &fx.remote_htlc_key,
    )
    .unwrap();
    let local = sign_htlc_tx(
        &h.tx,
        &h.htlc_script,
        h.htlc_amount,
        EcdsaSighashType::All,
        &fx.local_htlc_key,
    )
    .unwrap();
    verify_counterparty_htlc_signature(
        &fx.secp,
        &h.tx,
        &h.htlc_script,
        h.htlc_amount,
        channel_type,
        &remote,
        &fx.keys.remote_htlc.0,
    )
    .unwrap();
    let mut tx = h.tx.clone();
    tx.input[0].witness = match h.kind {
        HtlcTxKind::Success => {
            let preimage = fx.preimage_for(&htlcs[h.htlc_index].payment_hash);
            htlc_success_witness(&h.htlc_script, channel_type, &remote, &local, &preimage)
        }
        HtlcTxKind::Timeout => htlc_timeout_witness(&h.htlc_script, channel_type, &remote, &local),
    };
    (remote, local, tx)
}

fn consensus_check(tx: &Transaction, spent: &TxOut) {
    tx.verify(|op| (op == &tx.input[0].previous_output).then(|| spent.clone()))
        .unwrap_or_else(|e| panic!("libbitcoinconsensus rejects {}: {e}", tx.compute_txid()));
}

#[test]
fn appendix_c_commitment_and_htlc_transactions() {
    let fx = Fixture::new();
    let funding_txout = TxOut {
        value: Amount::from_sat(fx.funding_amount.value()),
        script_pubkey: p2wsh(&fx.funding_script),
    };
    let channel_type = ChannelType::StaticRemoteKey;
    let mut htlc_tx_count = 0;
    assert_eq!(fx.data.cases.len(), 16);
    for case in &fx.data.cases {
        let htlcs = fx.htlcs(&case.htlcs);
        let params = fx.params(
            channel_type,
            case.to_local_msat,
            case.to_remote_msat,
            case.feerate_per_kw,
            fx.data.params.local_dust_limit_satoshi,
            &htlcs,
        );
        let built = build_commitment(&params).unwrap();
        let name = &case.name;

        if let Some(base) = case.base_fee_sat {
            assert_eq!(built.base_fee, Sat(base), "{name}: base fee");
        }
        if let Some(actual) = case.actual_fee_sat {
            assert_eq!(built.fee, Sat(actual), "{name}: actual fee");
        }
        // Every output's witness script as the spec lists it.
        for row in &case.htlc_outputs {
            let pos = case.htlcs.iter().position(|id| *id == row.htlc).unwrap();
            let vout = built.htlc_output_indices[pos].unwrap() as usize;
            let out = &built.outputs[vout];
            assert_eq!(out.value, Sat(row.amount_sat), "{name}");
            assert_eq!(
                out.witness_script.as_ref().unwrap().to_hex_string(),
                row.wscript,
                "{name}: htlc #{}",
                row.htlc
            );
            let dir = match out.kind {
                OutputKind::Htlc {
                    direction: HtlcDirection::Offered,
                    ..
                } => "offered",
                OutputKind::Htlc {
                    direction: HtlcDirection::Received,
                    ..
                } => "received",
                other => panic!("{other:?}"),
            };
            assert_eq!(dir, row.direction);
        }
        assert_eq!(
            built.untrimmed_htlc_count(),
            case.htlc_outputs.len(),
            "{name}"
        );
        // (The spec's comments omit to_local/to_remote in some cases that
        // have them; the byte-exact transaction below covers those.)
        let find = |kind: OutputKind| built.outputs.iter().find(|o| o.kind == kind);
        if let Some(row) = &case.to_local {
            let o = find(OutputKind::ToLocal).unwrap();
            assert_eq!(o.value, Sat(row.amount_sat), "{name}: to_local");
            assert_eq!(
                o.witness_script.as_ref().unwrap().to_hex_string(),
                row.wscript
            );
        }
        if let Some(row) = &case.to_remote {
            let o = find(OutputKind::ToRemote).unwrap();
            assert_eq!(o.value, Sat(row.amount_sat), "{name}: to_remote");
            assert_eq!(pk(&row.p2wpkh_pubkey), fx.keys.remote_payment.0);
        }

        let (local, remote, signed) = sign_commitment(&fx, &built);
        assert_eq!(der(&local), case.local_signature, "{name}: local signature");
        assert_eq!(
            der(&remote),
            case.remote_signature,
            "{name}: remote signature"
        );
        assert_eq!(
            serialize_hex(&signed),
            case.commit_tx,
            "{name}: commitment tx"
        );
        assert_eq!(fx.obscuring_factor.reveal(&signed), Some(42));
        consensus_check(&signed, &funding_txout);

        let htlc_txs = built.htlc_txs(&params).unwrap();
        assert_eq!(htlc_txs.len(), case.num_htlcs, "{name}");
        for (h, row) in htlc_txs.iter().zip(&case.htlc_txs) {
            assert_eq!(h.commitment_output_index, row.output, "{name}");
            assert_eq!(
                case.htlcs[h.htlc_index], row.htlc,
                "{name}: output {}",
                row.output
            );
            let kind = match h.kind {
                HtlcTxKind::Success => "success",
                HtlcTxKind::Timeout => "timeout",
            };
            assert_eq!(kind, row.kind);
            let (remote, local, signed_htlc) = sign_htlc(&fx, channel_type, h, &htlcs);
            assert_eq!(
                der(&remote),
                row.remote_signature,
                "{name}: htlc #{} remote",
                row.htlc
            );
            assert_eq!(
                der(&local),
                row.local_signature,
                "{name}: htlc #{} local",
                row.htlc
            );
            assert_eq!(
                serialize_hex(&signed_htlc),
                row.tx,
                "{name}: htlc #{} tx",
                row.htlc
            );
            consensus_check(&signed_htlc, &signed.output[row.output as usize]);
            htlc_tx_count += 1;
        }
    }
    assert_eq!(htlc_tx_count, 33);
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CaseF {
    name: String,
    local_balance: u64,
    remote_balance: u64,
    dust_limit_satoshis: u64,
    fee_per_kw: u32,
    htlc_descs: Vec<HtlcDesc>,
    expected_commitment_tx_hex: String,
    remote_sig_hex: String,
    #[serde(rename = "htlcs")]
    htlcs: Vec<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HtlcDesc {
    remote_sig_hex: String,
    resolution_tx_hex: String,
}

#[derive(Deserialize)]
struct AppendixF {
    cases: Vec<CaseF>,
}

#[test]
fn appendix_f_anchors_commitment_and_htlc_transactions() {
    let fx = Fixture::new();
    let f: AppendixF =
        serde_json::from_str(include_str!("data/bolt03_appendix_f_anchors.json")).unwrap();
    let funding_txout = TxOut {
        value: Amount::from_sat(fx.funding_amount.value()),
        script_pubkey: p2wsh(&fx.funding_script),
    };
    let channel_type = ChannelType::AnchorsZeroFeeHtlcTx;
    let mut htlc_tx_count = 0;
    assert_eq!(f.cases.len(), 9);
    for case in &f.cases {
        let htlcs = fx.htlcs(&case.htlcs);
        let params = fx.params(
            channel_type,
            case.local_balance,
            case.remote_balance,
            case.fee_per_kw,
            case.dust_limit_satoshis,
            &htlcs,
        );
        let built = build_commitment(&params).unwrap();
        let name = &case.name;
        let (_, remote, signed) = sign_commitment(&fx, &built);
        assert_eq!(
            der(&remote),
            case.remote_sig_hex,
            "{name}: remote signature"
        );
        assert_eq!(
            serialize_hex(&signed),
            case.expected_commitment_tx_hex,
            "{name}: commitment tx"
        );
        consensus_check(&signed, &funding_txout);

        let htlc_txs = built.htlc_txs(&params).unwrap();
        assert_eq!(htlc_txs.len(), case.htlc_descs.len(), "{name}");
        for (h, desc) in htlc_txs.iter().zip(&case.htlc_descs) {
            let (remote, _, signed_htlc) = sign_htlc(&fx, channel_type, h, &htlcs);
            assert_eq!(
                der(&remote),
                desc.remote_sig_hex,
                "{name}: output {}",
                h.commitment_output_index
            );
            assert_eq!(
                serialize_hex(&signed_htlc),
                desc.resolution_tx_hex,
                "{name}: output {}",
                h.commitment_output_index
            );
            // The remote signature really is SIGHASH_SINGLE|ANYONECANPAY.
            assert_eq!(
                signed_htlc.input[0].witness.nth(1).unwrap().last(),
                Some(&0x83)
            );
            assert_eq!(signed_htlc.input[0].sequence, Sequence(1));
            consensus_check(
                &signed_htlc,
                &signed.output[h.commitment_output_index as usize],
            );
            htlc_tx_count += 1;
        }
    }
    assert_eq!(htlc_tx_count, 15);
}

#[derive(Deserialize)]
struct AppendixB {
    block1_coinbase_tx: String,
    block1_coinbase_privkey: String,
    local_funding_pubkey: String,
    remote_funding_pubkey: String,
    funding_witness_script: String,
    input_txid: String,
    input_index: u32,
    input_satoshis: u64,
    funding_satoshis: u64,
    feerate_per_kw: u64,
    change_satoshis: u64,
    funding_output: usize,
    funding_tx: String,
    funding_txid: String,
}

#[test]
fn appendix_b_funding_transaction() {
    let b: AppendixB =
        serde_json::from_str(include_str!("data/bolt03_appendix_b_funding.json")).unwrap();
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let script = funding_script(&pk(&b.local_funding_pubkey), &pk(&b.remote_funding_pubkey));
    assert_eq!(script.to_hex_string(), b.funding_witness_script);

    // The coinbase being spent, and its P2PKH output.
    let coinbase: Transaction = deserialize(&hex::decode(&b.block1_coinbase_tx).unwrap()).unwrap();
    let input_txid: Txid = b.input_txid.parse().unwrap();
    assert_eq!(coinbase.compute_txid(), input_txid);
    let prevout = coinbase.output[b.input_index as usize].clone();
    assert_eq!(prevout.value, Amount::from_sat(b.input_satoshis));
    let key = sk(&b.block1_coinbase_privkey);
    let pubkey = bitcoin::PublicKey::new(PublicKey::from_secret_key(&secp, &key));
    assert_eq!(
        prevout.script_pubkey,
        ScriptBuf::new_p2pkh(&pubkey.pubkey_hash())
    );

    // Rebuild it: funding output (BIP 69 puts it first), change to the
    // coinbase key's P2WPKH, one P2PKH input signed with RFC 6979.
    let mut tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: input_txid,
                vout: b.input_index,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(b.funding_satoshis),
                script_pubkey: p2wsh(&script),
            },
            TxOut {
                value: Amount::from_sat(b.change_satoshis),
                script_pubkey: ScriptBuf::new_p2wpkh(&pubkey.wpubkey_hash().unwrap()),
            },
        ],
    };
    let sighash = SighashCache::new(&tx)
        .legacy_signature_hash(0, &prevout.script_pubkey, EcdsaSighashType::All.to_u32())
        .unwrap();
    let sig = secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &key);
    let sig = bitcoin::ecdsa::Signature {
        signature: sig,
        sighash_type: EcdsaSighashType::All,
    };
    tx.input[0].script_sig = bitcoin::script::Builder::new()
        .push_slice(sig.serialize())
        .push_key(&pubkey)
        .into_script();
    assert_eq!(serialize_hex(&tx), b.funding_tx);
    assert_eq!(tx.compute_txid().to_string(), b.funding_txid);
    assert_eq!(tx.output[b.funding_output].script_pubkey, p2wsh(&script));
    // The fee is feerate_per_kw times the weight, rounded down.
    let fee = b.input_satoshis - b.funding_satoshis - b.change_satoshis;
    assert_eq!(fee, b.feerate_per_kw * tx.weight().to_wu() / 1000);
    consensus_check(&tx, &prevout);
}
