//! The RPC client's memory of what it has seen: block headers (height and parent, to walk back
//! to fork points without asking again) and, for the most recent blocks it fetched, where each
//! transaction confirmed and which outpoints it spent (bitcoind has no "who spent this outpoint"
//! query without extra indexes).
//!
//! Bounded: at most `capacity` blocks are indexed (oldest fetched evicted first) and at most
//! `4 * capacity` headers are remembered. Entries may describe blocks that later left the active
//! chain; callers check activity against the node before trusting them.

use std::collections::{HashMap, VecDeque};

use bitcoin::{Block, BlockHash, OutPoint, Txid};

/// What a header says about chain structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderEntry {
    pub(crate) height: u32,
    /// `None` for the genesis block.
    pub(crate) prev: Option<BlockHash>,
}

/// Where a transaction or a spend was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeenIn {
    pub(crate) block: BlockHash,
    pub(crate) height: u32,
}

/// A spend seen in an indexed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeenSpend {
    pub(crate) txid: Txid,
    pub(crate) input: u32,
    pub(crate) at: SeenIn,
}

#[derive(Debug)]
struct IndexedBlock {
    txids: Vec<Txid>,
    spent: Vec<OutPoint>,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct SeenIndex {
    capacity: usize,
    headers: HashMap<BlockHash, HeaderEntry>,
    header_order: VecDeque<BlockHash>,
    blocks: HashMap<BlockHash, IndexedBlock>,
    block_order: VecDeque<BlockHash>,
    txs: HashMap<Txid, Vec<SeenIn>>,
    spends: HashMap<OutPoint, Vec<SeenSpend>>,
}

impl SeenIndex {
    pub(crate) fn new(capacity: usize) -> Self {
        SeenIndex {
            capacity: capacity.max(1),
            headers: HashMap::new(),
            header_order: VecDeque::new(),
            blocks: HashMap::new(),
            block_order: VecDeque::new(),
            txs: HashMap::new(),
            spends: HashMap::new(),
        }
    }

    pub(crate) fn header(&self, hash: &BlockHash) -> Option<HeaderEntry> {
        self.headers.get(hash).copied()
    }

    pub(crate) fn add_header(&mut self, hash: BlockHash, entry: HeaderEntry) {
        if self.headers.insert(hash, entry).is_none() {
            self.header_order.push_back(hash);
            while self.header_order.len() > self.capacity.saturating_mul(4) {
                if let Some(old) = self.header_order.pop_front() {
                    self.headers.remove(&old);
                }
            }
        }
    }

    /// Indexes the transactions and spends of `block` at `height`.
    pub(crate) fn add_block(&mut self, block: &Block, height: u32) {
        let hash = block.block_hash();
        if self.blocks.contains_key(&hash) {
            return;
        }
        self.add_header(
            hash,
            HeaderEntry {
                height,
                prev: (height > 0).then_some(block.header.prev_blockhash),
            },
        );
        let at = SeenIn {
            block: hash,
            height,
        };
        let mut indexed = IndexedBlock {
            txids: Vec::with_capacity(block.txdata.len()),
            spent: Vec::new(),
        };
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            self.txs.entry(txid).or_default().push(at);
            indexed.txids.push(txid);
            if tx.is_coinbase() {
                continue;
            }
            for (i, input) in tx.input.iter().enumerate() {
                let spend = SeenSpend {
                    txid,
                    input: u32::try_from(i).unwrap_or(u32::MAX),
                    at,
                };
                self.spends
                    .entry(input.previous_output)
                    .or_default()
                    .push(spend);
                indexed.spent.push(input.previous_output);
            }
        }
        self.blocks.insert(hash, indexed);
        self.block_order.push_back(hash);
        while self.block_order.len() > self.capacity {
            if let Some(old) = self.block_order.pop_front() {
                self.evict(&old);
            }
        }
    }

    fn evict(&mut self, hash: &BlockHash) {
        let Some(b) = self.blocks.remove(hash) else {
            return;
        };
        for txid in b.txids {
            if let Some(v) = self.txs.get_mut(&txid) {
                v.retain(|s| s.block != *hash);
                if v.is_empty() {
                    self.txs.remove(&txid);
                }
            }
        }
        for outpoint in b.spent {
            if let Some(v) = self.spends.get_mut(&outpoint) {
                v.retain(|s| s.at.block != *hash);
                if v.is_empty() {
                    self.spends.remove(&outpoint);
                }
            }
        }
    }

    /// Blocks the transaction was seen in (newest last).
    pub(crate) fn tx_blocks(&self, txid: &Txid) -> Vec<SeenIn> {
        self.txs.get(txid).cloned().unwrap_or_default()
    }

    /// Spends of `outpoint` seen in indexed blocks (newest last).
    pub(crate) fn spends_of(&self, outpoint: &OutPoint) -> Vec<SeenSpend> {
        self.spends.get(outpoint).cloned().unwrap_or_default()
    }

    /// Number of indexed blocks.
    #[cfg(test)]
    pub(crate) fn block_count(&self) -> usize {
        self.blocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::mining::{assemble, coinbase_tx};
    use bitcoin::hashes::Hash;
    use bitcoin::{Amount, ScriptBuf, TxIn};

    fn block(prev: BlockHash, height: u32, spend: Option<OutPoint>) -> Block {
        let cb = coinbase_tx(height, &ScriptBuf::new(), Amount::from_sat(1));
        let mut txs = Vec::new();
        if let Some(op) = spend {
            let mut tx = coinbase_tx(height, &ScriptBuf::new(), Amount::from_sat(1));
            tx.input = vec![TxIn {
                previous_output: op,
                ..Default::default()
            }];
            txs.push(tx);
        }
        assemble(prev, 1_000 + height, cb, txs)
    }

    #[test]
    fn indexes_spends_and_evicts_oldest() {
        let mut idx = SeenIndex::new(2);
        let op = OutPoint {
            txid: Txid::all_zeros(),
            vout: 1,
        };
        let b1 = block(BlockHash::all_zeros(), 1, Some(op));
        idx.add_block(&b1, 1);
        let spends = idx.spends_of(&op);
        assert_eq!(spends.len(), 1);
        assert_eq!(spends[0].at.block, b1.block_hash());
        assert_eq!(idx.tx_blocks(&b1.txdata[1].compute_txid())[0].height, 1);
        assert_eq!(idx.header(&b1.block_hash()).unwrap().height, 1);
        let b2 = block(b1.block_hash(), 2, None);
        let b3 = block(b2.block_hash(), 3, None);
        idx.add_block(&b2, 2);
        idx.add_block(&b2, 2);
        idx.add_block(&b3, 3);
        assert_eq!(idx.block_count(), 2);
        assert!(idx.spends_of(&op).is_empty());
        assert!(idx.tx_blocks(&b1.txdata[1].compute_txid()).is_empty());
        // Headers outlive block entries.
        assert!(idx.header(&b1.block_hash()).is_some());
    }
}
