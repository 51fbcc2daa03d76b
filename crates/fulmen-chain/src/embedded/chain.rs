//! The chain state: the block tree (active chain and side branches), block connection and
//! disconnection with undo data, most-work chain selection, reorgs, and the indexes the queries
//! use. Mempool acceptance is in `accept.rs`, queries in `query.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use bitcoin::blockdata::constants::genesis_block;
use bitcoin::pow::Work;
use bitcoin::{Amount, Block, BlockHash, Network, OutPoint, Transaction, TxOut, Txid};

use super::locks::{median_time_past, sequence_locks, sequence_locks_satisfied, MEDIAN_TIME_SPAN};
use super::mempool::Mempool;
use super::store::{Record, Store};
use super::utxo::{BlockUndo, Coin, UtxoSet};
use super::validate::{
    block_subsidy, check_block, check_tx_inputs, contextual_check_block, verify_scripts,
    CONSENSUS_FLAGS,
};
use super::EmbeddedConfig;
use crate::error::{BlockReject, ChainError, CorruptRecord, MineError, TxReject};

/// Why a block is not a candidate for the active chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It failed validation when connected.
    Invalid(BlockReject),
    /// It was invalidated on request (`invalidateblock`).
    Invalidated,
    /// An ancestor failed or was invalidated.
    InvalidAncestor,
}

/// A block in the tree.
#[derive(Debug, Clone)]
pub(crate) struct BlockEntry {
    pub(crate) block: Arc<Block>,
    pub(crate) height: u32,
    pub(crate) chainwork: Work,
    pub(crate) failed: Option<Failure>,
    /// Present while the block is in the active chain.
    pub(crate) undo: Option<BlockUndo>,
    /// Arrival order, to break ties between branches of equal work (first seen wins).
    pub(crate) sequence: u64,
}

/// Where a confirmed transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxLocation {
    pub(crate) block: BlockHash,
    pub(crate) height: u32,
    pub(crate) position: u32,
}

/// The whole state behind the [`super::EmbeddedChain`] lock.
#[derive(Debug)]
pub(crate) struct ChainState {
    pub(crate) config: EmbeddedConfig,
    pub(crate) index: HashMap<BlockHash, BlockEntry>,
    /// Active chain hashes by height.
    pub(crate) active: Vec<BlockHash>,
    pub(crate) utxo: UtxoSet,
    pub(crate) tx_index: HashMap<Txid, TxLocation>,
    /// Confirmed spends in the active chain: outpoint to (spending txid, input index).
    pub(crate) spent_by: HashMap<OutPoint, (Txid, u32)>,
    pub(crate) mempool: Mempool,
    pub(crate) store: Store,
    next_sequence: u64,
}

impl ChainState {
    /// A chain holding only the regtest genesis block.
    pub(crate) fn new(config: EmbeddedConfig, store: Store) -> Self {
        let genesis = genesis_block(Network::Regtest);
        let hash = genesis.block_hash();
        let entry = BlockEntry {
            chainwork: genesis.header.work(),
            block: Arc::new(genesis),
            height: 0,
            failed: None,
            // The genesis coinbase is not spendable (as in Core): nothing to undo, nothing added.
            undo: Some(BlockUndo::default()),
            sequence: 0,
        };
        let mut index = HashMap::new();
        index.insert(hash, entry);
        ChainState {
            config,
            index,
            active: vec![hash],
            utxo: UtxoSet::new(),
            tx_index: HashMap::new(),
            spent_by: HashMap::new(),
            mempool: Mempool::new(),
            store,
            next_sequence: 1,
        }
    }

    /// Replays stored records (blocks are fully re-validated).
    pub(crate) fn replay(&mut self, records: Vec<(u64, Record)>) -> Result<(), ChainError> {
        for (offset, record) in records {
            match record {
                Record::Block(block) => self.replay_block(offset, block)?,
                Record::Invalidate(hash) => self.invalidate_block(&hash, false)?,
                Record::Reconsider(hash) => self.reconsider_block(&hash, false)?,
            }
        }
        Ok(())
    }

    fn replay_block(&mut self, offset: u64, block: Block) -> Result<(), ChainError> {
        let hash = block.block_hash();
        match self.accept_block(block, false) {
            Ok(_) => Ok(()),
            // Stored, then found invalid when connected: kept as invalid, exactly as before the
            // restart.
            Err(MineError::Rejected(_)) if self.index.contains_key(&hash) => Ok(()),
            Err(MineError::Rejected(r)) => Err(ChainError::Corrupt {
                offset,
                problem: CorruptRecord::Block(r),
            }),
            Err(MineError::Chain(e)) => Err(e),
            Err(_) => Err(ChainError::Corrupt {
                offset,
                problem: CorruptRecord::Decode,
            }),
        }
    }

    /// Height of the active tip.
    pub(crate) fn tip_height(&self) -> u32 {
        u32::try_from(self.active.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// Hash of the active tip.
    pub(crate) fn tip_hash(&self) -> BlockHash {
        self.active
            .last()
            .copied()
            .unwrap_or_else(|| genesis_block(Network::Regtest).block_hash())
    }

    /// Whether `hash` is in the active chain.
    pub(crate) fn is_active(&self, hash: &BlockHash) -> bool {
        self.index
            .get(hash)
            .and_then(|e| self.active.get(e.height as usize))
            .is_some_and(|h| h == hash)
    }

    /// Median time past of the active-chain block at `height` (clamped to the tip).
    pub(crate) fn mtp_at(&self, height: u32) -> u32 {
        mtp_active(&self.active, &self.index, height)
    }

    /// Median time past of the block `hash` along its own branch.
    pub(crate) fn mtp_of(&self, hash: &BlockHash) -> u32 {
        let mut times = Vec::with_capacity(MEDIAN_TIME_SPAN);
        let mut cur = self.index.get(hash);
        while let Some(e) = cur {
            times.push(e.block.header.time);
            if times.len() == MEDIAN_TIME_SPAN || e.height == 0 {
                break;
            }
            cur = self.index.get(&e.block.header.prev_blockhash);
        }
        times.reverse();
        median_time_past(&times)
    }

    /// Adds a block to the tree (after context-free and header-context checks), persists it when
    /// `persist`, and activates the most-work chain. Errors if the block is refused or, once
    /// connected, turns out invalid.
    pub(crate) fn accept_block(
        &mut self,
        block: Block,
        persist: bool,
    ) -> Result<BlockHash, MineError> {
        let hash = block.block_hash();
        if self.index.contains_key(&hash) {
            return Err(BlockReject::Duplicate.into());
        }
        let prev_hash = block.header.prev_blockhash;
        let prev = self
            .index
            .get(&prev_hash)
            .ok_or(BlockReject::PrevNotFound(prev_hash))?;
        if prev.failed.is_some() {
            return Err(BlockReject::BadPrevBlock.into());
        }
        let height = prev.height.saturating_add(1);
        let prev_work = prev.chainwork;
        let txids = check_block(&block)?;
        contextual_check_block(&block, &txids, height, self.mtp_of(&prev_hash))?;
        // Only after the regtest-bits check: one block's work is then tiny (no overflow).
        let chainwork = prev_work + block.header.work();
        if persist {
            self.store.append_block(&block)?;
        }
        let sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.saturating_add(1);
        self.index.insert(
            hash,
            BlockEntry {
                block: Arc::new(block),
                height,
                chainwork,
                failed: None,
                undo: None,
                sequence,
            },
        );
        self.activate_best_chain();
        match self.index.get(&hash).and_then(|e| e.failed.clone()) {
            Some(Failure::Invalid(r)) => Err(r.into()),
            _ => Ok(hash),
        }
    }

    /// Marks `hash` invalid (and its descendants), persisting the decision when `persist`, and
    /// moves the active chain to the best remaining branch.
    pub(crate) fn invalidate_block(
        &mut self,
        hash: &BlockHash,
        persist: bool,
    ) -> Result<(), ChainError> {
        let entry = self
            .index
            .get(hash)
            .ok_or(ChainError::UnknownBlock(*hash))?;
        if entry.height == 0 {
            return Err(ChainError::InvalidArgument(
                "cannot invalidate the genesis block",
            ));
        }
        if persist {
            self.store.append_invalidate(hash)?;
        }
        self.mark_failed(hash, Failure::Invalidated);
        self.activate_best_chain();
        Ok(())
    }

    /// Clears failure marks on `hash`, its ancestors and descendants, and re-activates the best
    /// chain (blocks that are really invalid fail again when connected).
    pub(crate) fn reconsider_block(
        &mut self,
        hash: &BlockHash,
        persist: bool,
    ) -> Result<(), ChainError> {
        let height = self
            .index
            .get(hash)
            .ok_or(ChainError::UnknownBlock(*hash))?
            .height;
        if persist {
            self.store.append_reconsider(hash)?;
        }
        let descendants: Vec<BlockHash> = self
            .index
            .iter()
            .filter(|(h, e)| e.height > height && self.ancestor_at(h, height) == Some(*hash))
            .map(|(h, _)| *h)
            .collect();
        for h in descendants {
            if let Some(e) = self.index.get_mut(&h) {
                e.failed = None;
            }
        }
        let mut cur = Some(*hash);
        while let Some(h) = cur {
            cur = match self.index.get_mut(&h) {
                Some(e) => {
                    e.failed = None;
                    (e.height > 0).then_some(e.block.header.prev_blockhash)
                }
                None => None,
            };
        }
        self.activate_best_chain();
        Ok(())
    }

    /// The ancestor of `hash` at `height` along its branch.
    pub(crate) fn ancestor_at(&self, hash: &BlockHash, height: u32) -> Option<BlockHash> {
        let mut cur = *hash;
        loop {
            let e = self.index.get(&cur)?;
            if e.height == height {
                return Some(cur);
            }
            if e.height < height {
                return None;
            }
            cur = e.block.header.prev_blockhash;
        }
    }

    fn mark_failed(&mut self, hash: &BlockHash, failure: Failure) {
        let Some(height) = self.index.get(hash).map(|e| e.height) else {
            return;
        };
        let descendants: Vec<BlockHash> = self
            .index
            .iter()
            .filter(|(h, e)| e.height > height && self.ancestor_at(h, height) == Some(*hash))
            .map(|(h, _)| *h)
            .collect();
        for h in descendants {
            if let Some(e) = self.index.get_mut(&h) {
                e.failed.get_or_insert(Failure::InvalidAncestor);
            }
        }
        if let Some(e) = self.index.get_mut(hash) {
            e.failed = Some(failure);
        }
    }

    /// The valid block with the most work; ties keep the current tip, then the first seen.
    fn best_candidate(&self) -> BlockHash {
        let tip = self.tip_hash();
        self.index
            .iter()
            .filter(|(_, e)| e.failed.is_none())
            .max_by_key(|(h, e)| (e.chainwork, **h == tip, std::cmp::Reverse(e.sequence)))
            .map_or(tip, |(h, _)| *h)
    }

    /// Moves the active chain to the most-work valid branch, disconnecting and connecting as
    /// needed; blocks that fail to connect are marked invalid and the next best branch is tried.
    /// After a reorg the mempool is rebuilt: transactions of disconnected blocks first, then the
    /// previous mempool, each re-validated against the new tip.
    pub(crate) fn activate_best_chain(&mut self) {
        let mut disconnected: Vec<Vec<Transaction>> = Vec::new();
        loop {
            let best = self.best_candidate();
            let tip = self.tip_hash();
            if best == tip && self.index.get(&tip).is_some_and(|e| e.failed.is_none()) {
                break;
            }
            let mut path = Vec::new();
            let mut cur = best;
            while !self.is_active(&cur) {
                path.push(cur);
                match self.index.get(&cur) {
                    Some(e) => cur = e.block.header.prev_blockhash,
                    None => break,
                }
            }
            let fork_height = self.index.get(&cur).map_or(0, |e| e.height);
            while self.tip_height() > fork_height {
                match self.disconnect_tip() {
                    Some(txs) => disconnected.push(txs),
                    None => break,
                }
            }
            for hash in path.iter().rev() {
                if let Err(reject) = self.connect_block(hash) {
                    self.mark_failed(hash, Failure::Invalid(reject));
                    break;
                }
            }
        }
        if !disconnected.is_empty() {
            // Disconnected from the tip downwards: put them back oldest block first.
            let mut txs: Vec<Transaction> = disconnected.into_iter().rev().flatten().collect();
            txs.extend(self.mempool.drain());
            for tx in txs {
                // Failures just drop the transaction (confirmed again, or now invalid).
                let _ = self.accept_to_mempool(&tx, false);
            }
        }
    }

    /// Connects the block `hash` on top of the active tip: full validation of every
    /// transaction, UTXO update with undo data, indexes, and mempool cleanup.
    pub(crate) fn connect_block(&mut self, hash: &BlockHash) -> Result<(), BlockReject> {
        let block = match self.index.get(hash) {
            Some(e) => Arc::clone(&e.block),
            None => return Err(BlockReject::PrevNotFound(*hash)),
        };
        let height = u32::try_from(self.active.len()).unwrap_or(u32::MAX);
        let prev_mtp = self.mtp_at(height.saturating_sub(1));
        let txids = check_block(&block)?;
        contextual_check_block(&block, &txids, height, prev_mtp)?;
        let mut undo = BlockUndo::default();
        let result = self.apply_block_txs(&block, &txids, height, prev_mtp, &mut undo);
        if let Err(reject) = result {
            // Roll back: restore spent coins, then drop every output the block created.
            self.utxo.restore(&undo);
            for (tx, txid) in block.txdata.iter().zip(&txids) {
                self.utxo.remove_outputs(tx, *txid);
            }
            return Err(reject);
        }
        if let Some(e) = self.index.get_mut(hash) {
            e.undo = Some(undo);
        }
        self.active.push(*hash);
        for (position, (tx, txid)) in block.txdata.iter().zip(&txids).enumerate() {
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            self.tx_index.insert(
                *txid,
                TxLocation {
                    block: *hash,
                    height,
                    position,
                },
            );
            if position == 0 {
                continue;
            }
            for (vin, input) in tx.input.iter().enumerate() {
                let vin = u32::try_from(vin).unwrap_or(u32::MAX);
                self.spent_by.insert(input.previous_output, (*txid, vin));
            }
            if self.mempool.remove_confirmed(txid).is_none() {
                for input in &tx.input {
                    if let Some(conflict) = self.mempool.spender(&input.previous_output) {
                        self.mempool.remove_with_descendants(&conflict);
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_block_txs(
        &mut self,
        block: &Block,
        txids: &[Txid],
        height: u32,
        prev_mtp: u32,
        undo: &mut BlockUndo,
    ) -> Result<(), BlockReject> {
        let mut fees = Amount::ZERO;
        for (i, (tx, txid)) in block.txdata.iter().zip(txids).enumerate() {
            let fail = |reject| BlockReject::Tx {
                txid: *txid,
                reject,
            };
            if i > 0 {
                let mut coins = Vec::with_capacity(tx.input.len());
                for input in &tx.input {
                    let coin = self.utxo.spend(&input.previous_output).ok_or(fail(
                        TxReject::MissingInputs {
                            outpoint: input.previous_output,
                        },
                    ))?;
                    undo.spent.push((input.previous_output, coin.clone()));
                    coins.push(coin);
                }
                let heights: Vec<u32> = coins.iter().map(|c| c.height).collect();
                let lock =
                    sequence_locks(tx, &heights, |h| mtp_active(&self.active, &self.index, h))
                        .ok_or(fail(TxReject::NonBip68Final))?;
                if !sequence_locks_satisfied(lock, height, prev_mtp) {
                    return Err(fail(TxReject::NonBip68Final));
                }
                let fee = check_tx_inputs(tx, &coins, height).map_err(fail)?;
                fees = fees
                    .checked_add(fee)
                    .ok_or(fail(TxReject::InputValuesOutOfRange))?;
                let spent: Vec<&TxOut> = coins.iter().map(|c| &c.output).collect();
                verify_scripts(tx, &spent, CONSENSUS_FLAGS).map_err(fail)?;
            }
            let clash = tx.output.iter().enumerate().any(|(vout, out)| {
                !out.script_pubkey.is_op_return()
                    && u32::try_from(vout)
                        .is_ok_and(|vout| self.utxo.contains(&OutPoint { txid: *txid, vout }))
            });
            if clash {
                return Err(BlockReject::Bip30);
            }
            self.utxo.add_outputs_with_txid(tx, *txid, height);
        }
        let allowed = block_subsidy(height)
            .checked_add(fees)
            .unwrap_or(Amount::MAX_MONEY);
        let paid = block
            .txdata
            .first()
            .map(|cb| {
                cb.output
                    .iter()
                    .map(|o| o.value)
                    .try_fold(Amount::ZERO, |a, v| a.checked_add(v))
            })
            .unwrap_or(Some(Amount::ZERO))
            .unwrap_or(Amount::MAX_MONEY);
        if paid > allowed {
            return Err(BlockReject::BadCoinbaseAmount { paid, allowed });
        }
        Ok(())
    }

    /// Disconnects the active tip (never genesis). Returns its non-coinbase transactions.
    pub(crate) fn disconnect_tip(&mut self) -> Option<Vec<Transaction>> {
        if self.active.len() <= 1 {
            return None;
        }
        let hash = self.active.pop()?;
        let entry = self.index.get_mut(&hash)?;
        let undo = entry.undo.take().unwrap_or_default();
        let block = Arc::clone(&entry.block);
        self.utxo.restore(&undo);
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            self.utxo.remove_outputs(tx, txid);
            self.tx_index.remove(&txid);
            if !tx.is_coinbase() {
                for input in &tx.input {
                    self.spent_by.remove(&input.previous_output);
                }
            }
        }
        Some(block.txdata.iter().skip(1).cloned().collect())
    }

    /// The coin spent by `outpoint` for a transaction entering the mempool: from the UTXO set,
    /// or created by a mempool transaction (height = next block).
    pub(crate) fn coin_for_mempool(&self, outpoint: &OutPoint) -> Option<(Coin, Option<Txid>)> {
        if let Some(out) = self.mempool.output(outpoint) {
            let coin = Coin {
                output: out.clone(),
                height: self.tip_height().saturating_add(1),
                is_coinbase: false,
            };
            return Some((coin, Some(outpoint.txid)));
        }
        self.utxo.get(outpoint).map(|c| (c.clone(), None))
    }
}

/// Median time past of the active-chain block at `height`.
pub(crate) fn mtp_active(
    active: &[BlockHash],
    index: &HashMap<BlockHash, BlockEntry>,
    height: u32,
) -> u32 {
    let end = (height as usize).min(active.len().saturating_sub(1));
    let start = (end + 1).saturating_sub(MEDIAN_TIME_SPAN);
    let times: Vec<u32> = active
        .get(start..=end)
        .unwrap_or_default()
        .iter()
        .filter_map(|h| index.get(h).map(|e| e.block.header.time))
        .collect();
    median_time_past(&times)
}
