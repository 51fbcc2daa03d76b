//! Read-only queries over the chain state: tip, blocks and headers, chain events since a known
//! tip, outputs, spends, transaction lookups and mempool entries. These back both the
//! [`crate::ChainSource`] implementation and the JSON-RPC server to come.

use bitcoin::block::Header;
use bitcoin::pow::Work;
use bitcoin::{Block, BlockHash, OutPoint, Transaction, Txid};

use super::chain::{ChainState, Failure};
use super::mempool::MempoolEntry;
use crate::error::ChainError;
use crate::source::{BlockRef, ChainEvent, Spend, TxStatus, UtxoInfo};

/// What the chain knows about a block (for `getblockheader`/`getblock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// Its header.
    pub header: Header,
    /// Its height.
    pub height: u32,
    /// Total work of the chain up to and including it.
    pub chainwork: Work,
    /// Confirmations if in the active chain (1 for the tip), `None` otherwise (Core shows -1).
    pub confirmations: Option<u32>,
    /// Median time past at this block.
    pub median_time_past: u32,
    /// The next block in the active chain.
    pub next: Option<BlockHash>,
    /// Number of transactions.
    pub tx_count: usize,
    /// Why it is not a candidate for the active chain, if it is not.
    pub failure: Option<Failure>,
}

/// Summary of the chain (for `getblockchaininfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfo {
    /// The active tip.
    pub tip: BlockRef,
    /// Median time past of the tip.
    pub median_time_past: u32,
    /// Total work of the active chain.
    pub chainwork: Work,
    /// Number of unspent outputs.
    pub utxo_count: usize,
    /// Number of mempool transactions.
    pub mempool_size: usize,
}

/// A transaction found by txid, with where it is (for `getrawtransaction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxLookup {
    /// The transaction.
    pub tx: Transaction,
    /// Where it is ([`TxStatus::Mempool`] or [`TxStatus::Confirmed`]).
    pub status: TxStatus,
    /// Its position in the block, when confirmed.
    pub position: Option<u32>,
}

impl ChainState {
    /// The active tip.
    pub(crate) fn tip(&self) -> BlockRef {
        BlockRef {
            height: self.tip_height(),
            hash: self.tip_hash(),
        }
    }

    /// Active-chain hash at `height`.
    pub(crate) fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.active.get(height as usize).copied()
    }

    /// Any known block by hash.
    pub(crate) fn block(&self, hash: &BlockHash) -> Option<Block> {
        self.index.get(hash).map(|e| (*e.block).clone())
    }

    /// Confirmations of an active block at `height`.
    fn confirmations(&self, height: u32) -> u32 {
        self.tip_height().saturating_sub(height).saturating_add(1)
    }

    /// Details of a known block.
    pub(crate) fn block_info(&self, hash: &BlockHash) -> Option<BlockInfo> {
        let e = self.index.get(hash)?;
        let active = self.is_active(hash);
        Some(BlockInfo {
            header: e.block.header,
            height: e.height,
            chainwork: e.chainwork,
            confirmations: active.then(|| self.confirmations(e.height)),
            median_time_past: self.mtp_of(hash),
            next: if active {
                self.hash_at(e.height.saturating_add(1))
            } else {
                None
            },
            tx_count: e.block.txdata.len(),
            failure: e.failed.clone(),
        })
    }

    /// Chain summary.
    pub(crate) fn chain_info(&self) -> ChainInfo {
        let tip = self.tip();
        ChainInfo {
            tip,
            median_time_past: self.mtp_at(tip.height),
            chainwork: self
                .index
                .get(&tip.hash)
                .map_or(Work::from_be_bytes([0; 32]), |e| e.chainwork),
            utxo_count: self.utxo.len(),
            mempool_size: self.mempool.len(),
        }
    }

    /// See [`crate::ChainSource::events_since`]; at most `max_connects` connect events.
    pub(crate) fn events_since(
        &self,
        known: &BlockRef,
        max_connects: usize,
    ) -> Result<Vec<ChainEvent>, ChainError> {
        let entry = self
            .index
            .get(&known.hash)
            .ok_or(ChainError::UnknownBlock(known.hash))?;
        if entry.height != known.height {
            return Err(ChainError::InvalidArgument(
                "known tip height does not match its hash",
            ));
        }
        let mut events = Vec::new();
        let mut cur = known.hash;
        while !self.is_active(&cur) {
            let e = self.index.get(&cur).ok_or(ChainError::UnknownBlock(cur))?;
            events.push(ChainEvent::BlockDisconnected(e.height, cur));
            cur = e.block.header.prev_blockhash;
        }
        let fork = self.index.get(&cur).map_or(0, |e| e.height);
        let mut height = fork.saturating_add(1);
        let mut connects = 0;
        while connects < max_connects {
            let Some(block) = self.hash_at(height).and_then(|h| self.index.get(&h)) else {
                break;
            };
            events.push(ChainEvent::BlockConnected(height, (*block.block).clone()));
            connects += 1;
            height = height.saturating_add(1);
        }
        Ok(events)
    }

    /// An unspent output: confirmed ones always; with `include_mempool`, outputs created by
    /// mempool transactions too (confirmations 0, height of the next block) and outputs spent in
    /// the mempool hidden — Core's `gettxout` semantics.
    pub(crate) fn tx_out(&self, outpoint: &OutPoint, include_mempool: bool) -> Option<UtxoInfo> {
        if include_mempool {
            if self.mempool.spender(outpoint).is_some() {
                return None;
            }
            if let Some(out) = self.mempool.output(outpoint) {
                return Some(UtxoInfo {
                    txout: out.clone(),
                    height: self.tip_height().saturating_add(1),
                    confirmations: 0,
                    is_coinbase: false,
                });
            }
        }
        self.utxo.get(outpoint).map(|c| UtxoInfo {
            txout: c.output.clone(),
            height: c.height,
            confirmations: self.confirmations(c.height),
            is_coinbase: c.is_coinbase,
        })
    }

    /// A transaction by txid, confirmed (active chain) or in the mempool.
    pub(crate) fn transaction(&self, txid: &Txid) -> Option<TxLookup> {
        if let Some(loc) = self.tx_index.get(txid) {
            let tx = self
                .index
                .get(&loc.block)?
                .block
                .txdata
                .get(loc.position as usize)?
                .clone();
            return Some(TxLookup {
                tx,
                status: TxStatus::Confirmed {
                    block: BlockRef {
                        height: loc.height,
                        hash: loc.block,
                    },
                    confirmations: self.confirmations(loc.height),
                },
                position: Some(loc.position),
            });
        }
        self.mempool.get(txid).map(|e| TxLookup {
            tx: e.tx.clone(),
            status: TxStatus::Mempool,
            position: None,
        })
    }

    /// Where a transaction is.
    pub(crate) fn tx_status(&self, txid: &Txid) -> TxStatus {
        self.transaction(txid)
            .map_or(TxStatus::Unknown, |t| t.status)
    }

    /// The transaction spending `outpoint` (active chain first, then mempool).
    pub(crate) fn spending_tx(&self, outpoint: &OutPoint) -> Option<Spend> {
        let (txid, input_index) = match self.spent_by.get(outpoint) {
            Some(s) => *s,
            None => {
                let txid = self.mempool.spender(outpoint)?;
                let tx = &self.mempool.get(&txid)?.tx;
                let index = tx
                    .input
                    .iter()
                    .position(|i| i.previous_output == *outpoint)?;
                (txid, u32::try_from(index).ok()?)
            }
        };
        let found = self.transaction(&txid)?;
        Some(Spend {
            tx: found.tx,
            input_index,
            status: found.status,
        })
    }

    /// Mempool entries, parents before children.
    pub(crate) fn mempool_entries(&self) -> Vec<MempoolEntry> {
        self.mempool.ordered().into_iter().cloned().collect()
    }
}
