//! Block assembly as pure functions: the coinbase (BIP 34 height, witness commitment), the
//! header, and the proof-of-work search at regtest difficulty.

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::hashes::Hash;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Block, BlockHash, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};

use std::collections::{HashMap, HashSet};

use super::chain::ChainState;
use super::validate::{
    bip34_prefix, block_subsidy, regtest_bits, MAX_BLOCK_WEIGHT, WITNESS_COMMITMENT_HEADER,
};
use crate::error::MineError;

/// The witness reserved value our coinbases carry (32 zero bytes, as Core's miner).
pub const WITNESS_RESERVED_VALUE: [u8; 32] = [0; 32];

/// A coinbase for `height` paying `value` to `to`. The scriptSig is the BIP 34 height followed by
/// OP_0 (so it is at least two bytes long, as Core's miner does).
pub fn coinbase_tx(height: u32, to: &ScriptBuf, value: Amount) -> Transaction {
    let mut script_sig = bip34_prefix(height).into_bytes();
    script_sig.push(0x00);
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value,
            script_pubkey: to.clone(),
        }],
    }
}

/// Assembles a block on `prev` at `time` from a coinbase and transactions: adds the witness
/// commitment when any transaction carries witness data, and sets the merkle root. The nonce is
/// left at zero; see [`solve`].
pub fn assemble(
    prev: BlockHash,
    time: u32,
    mut coinbase: Transaction,
    txs: Vec<Transaction>,
) -> Block {
    let has_witness = txs
        .iter()
        .any(|t| t.input.iter().any(|i| !i.witness.is_empty()));
    if has_witness {
        if let Some(input) = coinbase.input.first_mut() {
            input.witness = Witness::from_slice(&[WITNESS_RESERVED_VALUE]);
        }
    }
    let mut txdata = Vec::with_capacity(txs.len() + 1);
    txdata.push(coinbase);
    txdata.extend(txs);
    let mut block = Block {
        header: Header {
            version: BlockVersion::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: bitcoin::TxMerkleNode::all_zeros(),
            time,
            bits: regtest_bits(),
            nonce: 0,
        },
        txdata,
    };
    if has_witness {
        if let Some(root) = block.witness_root() {
            let commitment = Block::compute_witness_commitment(&root, &WITNESS_RESERVED_VALUE);
            let mut script = WITNESS_COMMITMENT_HEADER.to_vec();
            script.extend_from_slice(commitment.as_byte_array());
            if let Some(cb) = block.txdata.first_mut() {
                cb.output.push(TxOut {
                    value: Amount::ZERO,
                    script_pubkey: ScriptBuf::from_bytes(script),
                });
            }
        }
    }
    if let Some(root) = block.compute_merkle_root() {
        block.header.merkle_root = root;
    }
    block
}

/// Searches nonces until the header meets its target and `accept(hash)` agrees (used to avoid
/// reproducing a block that is already known). At regtest difficulty about every second nonce
/// qualifies. Returns false if the whole nonce space was exhausted.
pub fn solve(header: &mut Header, accept: impl Fn(&BlockHash) -> bool) -> bool {
    let target = header.target();
    for nonce in 0..=u32::MAX {
        header.nonce = nonce;
        if let Ok(hash) = header.validate_pow(target) {
            if accept(&hash) {
                return true;
            }
        }
    }
    false
}

/// Weight kept free for the coinbase when filling a block from the mempool.
pub const COINBASE_WEIGHT_RESERVE: u64 = 8_000;

impl ChainState {
    /// Mines `n` blocks on the active tip paying `to`, each filled from the mempool (parents
    /// before children, oldest first, up to the weight limit). Block `i` gets timestamp
    /// `time + i`, raised to one second past the parent's median time past if needed.
    pub(crate) fn mine(
        &mut self,
        n: u32,
        to: &ScriptBuf,
        time: u32,
    ) -> Result<Vec<BlockHash>, MineError> {
        let mut hashes = Vec::new();
        for i in 0..n {
            let height = self.tip_height().saturating_add(1);
            let floor = self.mtp_at(self.tip_height()).saturating_add(1);
            let t = time.saturating_add(i).max(floor);
            let mut weight = COINBASE_WEIGHT_RESERVE;
            let mut fees = Amount::ZERO;
            let mut txs = Vec::new();
            let mut taken: HashSet<Txid> = HashSet::new();
            for e in self.mempool.ordered() {
                if weight.saturating_add(e.weight) > MAX_BLOCK_WEIGHT
                    || !e.parents.iter().all(|p| taken.contains(p))
                {
                    continue;
                }
                weight = weight.saturating_add(e.weight);
                fees = fees.checked_add(e.fee).unwrap_or(fees);
                taken.insert(e.txid);
                txs.push(e.tx.clone());
            }
            let value = block_subsidy(height)
                .checked_add(fees)
                .unwrap_or(Amount::MAX_MONEY);
            hashes.push(self.build_and_submit(height, t, to, value, txs)?);
        }
        Ok(hashes)
    }

    /// Mines one block on the active tip holding exactly `txs` (no mempool transactions),
    /// at timestamp `time` (which must exceed the tip's median time past).
    pub(crate) fn mine_block_with(
        &mut self,
        txs: Vec<Transaction>,
        to: &ScriptBuf,
        time: u32,
    ) -> Result<BlockHash, MineError> {
        let height = self.tip_height().saturating_add(1);
        let median_time_past = self.mtp_at(self.tip_height());
        if time <= median_time_past {
            return Err(MineError::TimeTooOld {
                time,
                median_time_past,
            });
        }
        // Fees are computed where inputs are known; an invalid transaction contributes nothing
        // and is reported by block validation with Core's reason.
        let mut fees = Amount::ZERO;
        let mut created: HashMap<OutPoint, Amount> = HashMap::new();
        for tx in &txs {
            let value_in = tx.input.iter().try_fold(Amount::ZERO, |acc, i| {
                let v = created
                    .get(&i.previous_output)
                    .copied()
                    .or_else(|| self.utxo.get(&i.previous_output).map(|c| c.output.value))?;
                acc.checked_add(v)
            });
            let value_out = tx
                .output
                .iter()
                .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value));
            if let (Some(i), Some(o)) = (value_in, value_out) {
                fees = fees
                    .checked_add(i.checked_sub(o).unwrap_or(Amount::ZERO))
                    .unwrap_or(fees);
            }
            let txid = tx.compute_txid();
            for (vout, out) in tx.output.iter().enumerate() {
                if let Ok(vout) = u32::try_from(vout) {
                    created.insert(OutPoint { txid, vout }, out.value);
                }
            }
        }
        let value = block_subsidy(height)
            .checked_add(fees)
            .unwrap_or(Amount::MAX_MONEY);
        self.build_and_submit(height, time, to, value, txs)
    }

    fn build_and_submit(
        &mut self,
        height: u32,
        time: u32,
        to: &ScriptBuf,
        value: Amount,
        txs: Vec<Transaction>,
    ) -> Result<BlockHash, MineError> {
        let coinbase = coinbase_tx(height, to, value);
        let mut block = assemble(self.tip_hash(), time, coinbase, txs);
        // Never reproduce a known block (e.g. one invalidated at the same height and time).
        if !solve(&mut block.header, |h| !self.index.contains_key(h)) {
            return Err(MineError::NoProofOfWork);
        }
        self.accept_block(block, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::validate::{check_block, contextual_check_block};

    #[test]
    fn assembled_block_is_valid() {
        let to = ScriptBuf::new_op_return([1u8]);
        let cb = coinbase_tx(1, &to, Amount::from_sat(1));
        let mut block = assemble(BlockHash::all_zeros(), 100, cb, vec![]);
        assert!(solve(&mut block.header, |_| true));
        let txids = check_block(&block).unwrap();
        contextual_check_block(&block, &txids, 1, 99).unwrap();
        assert_eq!(
            block.txdata[0].output.len(),
            1,
            "no commitment without witness"
        );
    }

    #[test]
    fn witness_commitment_added_when_needed() {
        let to = ScriptBuf::new();
        let cb = coinbase_tx(300, &to, Amount::from_sat(1));
        let mut spend = coinbase_tx(5, &to, Amount::from_sat(1));
        spend.input[0].previous_output = OutPoint {
            txid: bitcoin::Txid::all_zeros(),
            vout: 3,
        };
        spend.input[0].witness = Witness::from_slice(&[[1u8]]);
        let mut block = assemble(BlockHash::all_zeros(), 100, cb, vec![spend]);
        assert!(solve(&mut block.header, |_| true));
        let txids = check_block(&block).unwrap();
        contextual_check_block(&block, &txids, 300, 99).unwrap();
        // Tampering with the witness breaks the commitment.
        block.txdata[1].input[0].witness = Witness::from_slice(&[[2u8]]);
        assert!(contextual_check_block(&block, &txids, 300, 99).is_err());
    }
}
