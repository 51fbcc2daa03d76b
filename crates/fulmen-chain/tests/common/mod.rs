//! Shared helpers for the embedded-chain integration tests: a one-key P2WPKH wallet that signs
//! for real, script helpers, and a funded chain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(dead_code)]

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::script::Builder;
use bitcoin::secp256k1::{ecdsa, All, Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, CompressedPublicKey, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use fulmen_chain::{BroadcastError, ChainSource, EmbeddedChain, EmbeddedConfig, TxReject};

/// Start of test time (2023-11-14).
pub const T0: u32 = 1_700_000_000;
/// Fee every helper transaction pays.
pub const FEE: Amount = Amount::from_sat(1_000);

/// A single-key P2WPKH wallet.
pub struct Wallet {
    pub secp: Secp256k1<All>,
    pub sk: SecretKey,
    pub pk: CompressedPublicKey,
    pub spk: ScriptBuf,
}

impl Wallet {
    pub fn new(seed: u8) -> Self {
        let secp = Secp256k1::new();
        let sk = SecretKey::from_slice(&[seed; 32]).unwrap();
        let pk = CompressedPublicKey(sk.public_key(&secp));
        let spk = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
        Wallet { secp, sk, pk, spk }
    }

    /// Raw ECDSA signature of input `index` (P2WPKH, SIGHASH_ALL).
    pub fn sighash_sig(&self, tx: &Transaction, index: usize, value: Amount) -> ecdsa::Signature {
        let sighash = SighashCache::new(tx)
            .p2wpkh_signature_hash(index, &self.spk, value, EcdsaSighashType::All)
            .unwrap();
        self.secp
            .sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &self.sk)
    }

    /// Signs P2WPKH input `index`.
    pub fn sign(&self, tx: &mut Transaction, index: usize, value: Amount) {
        let signature = self.sighash_sig(tx, index, value);
        let sig = bitcoin::ecdsa::Signature {
            signature,
            sighash_type: EcdsaSighashType::All,
        };
        tx.input[index].witness = Witness::p2wpkh(&sig, &self.pk.0);
    }

    /// A version-2 transaction spending `prevs` (all ours) to `outputs`, signed.
    pub fn spend(&self, prevs: &[(OutPoint, Amount)], outputs: Vec<TxOut>) -> Transaction {
        let mut tx = unsigned(prevs.iter().map(|p| p.0).collect(), outputs);
        for (i, (_, value)) in prevs.iter().enumerate() {
            self.sign(&mut tx, i, *value);
        }
        tx
    }

    /// Spends one of our outputs to `to`, paying [`FEE`].
    pub fn pay(&self, prev: (OutPoint, Amount), to: ScriptBuf, amount: Amount) -> Transaction {
        let change = prev.1 - amount - FEE;
        let mut outs = vec![TxOut {
            value: amount,
            script_pubkey: to,
        }];
        if change > Amount::ZERO {
            outs.push(TxOut {
                value: change,
                script_pubkey: self.spk.clone(),
            });
        }
        self.spend(&[prev], outs)
    }
}

/// An unsigned version-2 transaction with final sequences and no lock time.
pub fn unsigned(prevs: Vec<OutPoint>, outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: prevs
            .into_iter()
            .map(|previous_output| TxIn {
                previous_output,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    }
}

/// Flips the S value of a DER signature to its high-S twin (same validity under consensus).
pub fn high_s(sig: &ecdsa::Signature) -> ecdsa::Signature {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let mut compact = sig.serialize_compact();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(N[i]) - i16::from(compact[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        compact[32 + i] = (d + 256 * borrow) as u8;
    }
    ecdsa::Signature::from_compact(&compact).unwrap()
}

/// `<n> OP_CSV OP_DROP OP_TRUE`.
pub fn csv_script(n: i64) -> ScriptBuf {
    use bitcoin::opcodes::all::{OP_CSV, OP_DROP, OP_PUSHNUM_1};
    Builder::new()
        .push_int(n)
        .push_opcode(OP_CSV)
        .push_opcode(OP_DROP)
        .push_opcode(OP_PUSHNUM_1)
        .into_script()
}

/// `<locktime> OP_CLTV OP_DROP OP_TRUE`.
pub fn cltv_script(lock: i64) -> ScriptBuf {
    use bitcoin::opcodes::all::{OP_CLTV, OP_DROP, OP_PUSHNUM_1};
    Builder::new()
        .push_int(lock)
        .push_opcode(OP_CLTV)
        .push_opcode(OP_DROP)
        .push_opcode(OP_PUSHNUM_1)
        .into_script()
}

/// P2WSH output script for `script`.
pub fn p2wsh(script: &ScriptBuf) -> ScriptBuf {
    ScriptBuf::new_p2wsh(&script.wscript_hash())
}

/// A spend of a P2WSH output whose witness script needs no signature.
pub fn spend_p2wsh(
    prev: OutPoint,
    script: &ScriptBuf,
    to: TxOut,
    sequence: u32,
    lock: u32,
) -> Transaction {
    let mut tx = unsigned(vec![prev], vec![to]);
    tx.input[0].sequence = Sequence(sequence);
    tx.input[0].witness = Witness::from_slice(&[script.as_bytes()]);
    tx.lock_time = LockTime::from_consensus(lock);
    tx
}

/// The coinbase output of the active block at `height`.
pub fn coinbase_at(chain: &EmbeddedChain, height: u32) -> (OutPoint, Amount) {
    let block = chain.block_at(height).unwrap().unwrap();
    let cb = &block.txdata[0];
    (
        OutPoint {
            txid: cb.compute_txid(),
            vout: 0,
        },
        cb.output[0].value,
    )
}

/// An in-memory chain with 101 blocks mined to `wallet` (coinbases at heights 1 and 2 are
/// spendable by the next block).
pub fn funded_chain(wallet: &Wallet) -> EmbeddedChain {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    chain.mine(101, &wallet.spk, T0).unwrap();
    chain
}

/// A timestamp safely after the tip.
pub fn next_time(chain: &EmbeddedChain) -> u32 {
    let tip = chain.tip().unwrap();
    chain.block(&tip.hash).unwrap().unwrap().header.time + 1
}

/// A throwaway output paying `value` to an unrelated P2WPKH.
pub fn burn(value: Amount) -> TxOut {
    TxOut {
        value,
        script_pubkey: Wallet::new(0x99).spk,
    }
}

/// An unrelated P2WPKH script to pay to.
pub fn burn_spk() -> ScriptBuf {
    Wallet::new(0x99).spk
}

/// The rejection `r` must be.
pub fn rejected(r: Result<impl std::fmt::Debug, BroadcastError>) -> TxReject {
    match r {
        Err(BroadcastError::Rejected(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}
