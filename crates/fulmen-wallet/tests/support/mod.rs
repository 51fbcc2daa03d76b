//! Test support for the on-chain wallet: a key tree, regtest blocks built by
//! hand (linked by prev hash, no proof of work) and script verification.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use bitcoin::block::{Header, Version};
use bitcoin::hashes::Hash;
use bitcoin::script::Builder;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{
    absolute, transaction, Amount, Block, BlockHash, CompactTarget, FeeRate, Network, OutPoint,
    ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use fulmen_wallet::keys::{KeyTree, Mnemonic};
use fulmen_wallet::onchain::OnchainWallet;
use std::collections::HashMap;

/// A regtest key tree from fixed entropy.
pub fn tree(entropy_byte: u8) -> KeyTree {
    let secp = Secp256k1::new();
    let seed = Mnemonic::from_entropy(&[entropy_byte; 16])
        .unwrap()
        .to_seed("");
    KeyTree::new(&secp, &seed, Network::Regtest).unwrap()
}

/// A fresh in-memory regtest wallet.
pub fn wallet() -> OnchainWallet {
    OnchainWallet::in_memory(&tree(1), Network::Regtest).unwrap()
}

/// The subsidy our hand-made coinbases pay.
pub const SUBSIDY: Amount = Amount::from_sat(50 * 100_000_000);

/// A coinbase at `height` paying `outputs`; `salt` makes sibling blocks differ.
pub fn coinbase(height: u32, salt: u32, outputs: Vec<TxOut>) -> Transaction {
    let script_sig = Builder::new()
        .push_int(i64::from(height))
        .push_slice(salt.to_le_bytes())
        .into_script();
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig,
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: if outputs.is_empty() {
            vec![TxOut {
                value: SUBSIDY,
                script_pubkey: ScriptBuf::new_op_return([]),
            }]
        } else {
            outputs
        },
    }
}

/// A non-coinbase transaction from a stranger: spends an outpoint the wallet
/// does not know and pays `outputs`.
pub fn foreign_payment(tag: u8, outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(Txid::from_byte_array([tag; 32]), 0),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: outputs,
    }
}

/// A block on `prev` at `height`: a coinbase (paying `coinbase_out`, or an
/// OP_RETURN), then `txs`.
pub fn block(
    prev: BlockHash,
    height: u32,
    salt: u32,
    coinbase_out: Vec<TxOut>,
    txs: Vec<Transaction>,
) -> Block {
    let mut txdata = vec![coinbase(height, salt, coinbase_out)];
    txdata.extend(txs);
    let mut block = Block {
        header: Header {
            version: Version::TWO,
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time: 1_700_000_000u32.wrapping_add(height.wrapping_mul(600)),
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: salt,
        },
        txdata,
    };
    block.header.merkle_root = block.compute_merkle_root().unwrap();
    block
}

/// A chain of hand-made regtest blocks, fed to a wallet as it grows.
pub struct Chain {
    /// Block hashes by height; `hashes[0]` is the regtest genesis.
    pub hashes: Vec<BlockHash>,
    /// Every block made, by hash (to look up prevouts).
    pub txs: HashMap<Txid, Transaction>,
    salt: u32,
}

impl Chain {
    /// The regtest chain with only its genesis block.
    pub fn new() -> Self {
        let genesis = bitcoin::constants::genesis_block(Network::Regtest);
        Self {
            hashes: vec![genesis.block_hash()],
            txs: HashMap::new(),
            salt: 0,
        }
    }

    /// The height of the tip.
    pub fn height(&self) -> u32 {
        u32::try_from(self.hashes.len() - 1).unwrap()
    }

    /// Mines a block on the tip with a coinbase paying `coinbase_out` and
    /// `txs`, and applies it to `wallet`.
    pub fn mine(
        &mut self,
        wallet: &mut OnchainWallet,
        coinbase_out: Vec<TxOut>,
        txs: Vec<Transaction>,
    ) -> Block {
        let block = self.make(coinbase_out, txs);
        wallet.apply_block(&block, self.height()).unwrap();
        block
    }

    /// Mines `n` empty blocks into `wallet`.
    pub fn mine_empty(&mut self, wallet: &mut OnchainWallet, n: u32) {
        for _ in 0..n {
            self.mine(wallet, vec![], vec![]);
        }
    }

    /// Makes the next block on the tip (recording it) without applying it.
    pub fn make(&mut self, coinbase_out: Vec<TxOut>, txs: Vec<Transaction>) -> Block {
        self.salt += 1;
        let height = self.height() + 1;
        let prev = *self.hashes.last().unwrap();
        let block = block(prev, height, self.salt, coinbase_out, txs);
        self.hashes.push(block.block_hash());
        for tx in &block.txdata {
            self.txs.insert(tx.compute_txid(), tx.clone());
        }
        block
    }

    /// Forgets the blocks above `height` (the fork point of a reorg); the
    /// next `make`/`mine` builds on the block at `height`.
    pub fn rewind_to(&mut self, height: u32) {
        self.hashes.truncate(height as usize + 1);
    }

    /// Records a transaction that is not in a block (to look up prevouts).
    pub fn remember(&mut self, tx: &Transaction) {
        self.txs.insert(tx.compute_txid(), tx.clone());
    }

    /// Verifies every input script of `tx` with libbitcoinconsensus against
    /// the outputs it spends (all recorded in this chain).
    pub fn verify(&self, tx: &Transaction) {
        tx.verify(|op: &OutPoint| {
            self.txs
                .get(&op.txid)
                .and_then(|prev| prev.output.get(op.vout as usize).cloned())
        })
        .unwrap();
    }

    /// The sum of the outputs `tx` spends.
    pub fn input_value(&self, tx: &Transaction) -> Amount {
        tx.input
            .iter()
            .map(|i| {
                self.txs[&i.previous_output.txid].output[i.previous_output.vout as usize].value
            })
            .sum()
    }
}

/// A P2WSH output script like a channel funding output (2-of-2 multisig).
pub fn funding_script() -> ScriptBuf {
    let secp = Secp256k1::new();
    let key = |b: u8| {
        let sk = bitcoin::secp256k1::SecretKey::from_slice(&[b; 32]).unwrap();
        bitcoin::PublicKey::new(sk.public_key(&secp))
    };
    let witness_script = Builder::new()
        .push_opcode(bitcoin::opcodes::all::OP_PUSHNUM_2)
        .push_key(&key(2))
        .push_key(&key(3))
        .push_opcode(bitcoin::opcodes::all::OP_PUSHNUM_2)
        .push_opcode(bitcoin::opcodes::all::OP_CHECKMULTISIG)
        .into_script();
    ScriptBuf::new_p2wsh(&witness_script.wscript_hash())
}

/// An output of `value` to `script`.
pub fn out(value: Amount, script: ScriptBuf) -> TxOut {
    TxOut {
        value,
        script_pubkey: script,
    }
}

/// `fee` pays at least `rate` for the weight of `tx`.
pub fn pays_at_least(fee: Amount, tx: &Transaction, rate: FeeRate) -> bool {
    fee >= rate.fee_wu(tx.weight()).unwrap()
}
