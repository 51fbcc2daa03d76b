//! The embedded regtest chain: blocks, a UTXO set and a mempool in-process, validated with
//! Bitcoin Core's consensus rules (scripts through libbitcoinconsensus), mined on demand.
//!
//! [`EmbeddedChain`] is a cheap, cloneable handle (`Arc<Mutex<…>>`) shared by every node of a
//! process; it implements [`ChainSource`]. Drive it with [`EmbeddedChain::mine`] /
//! [`EmbeddedChain::mine_block_with`] (timestamps are arguments: nothing here reads a clock),
//! [`EmbeddedChain::submit_tx`], and for reorg tests [`EmbeddedChain::invalidate_tip`] followed
//! by mining a longer competing branch.
//!
//! Persistence: [`EmbeddedChain::open`] keeps an append-only block log in the datadir (see
//! `store`) and rebuilds the UTXO set and indexes by replaying it; [`EmbeddedChain::in_memory`]
//! persists nothing. The mempool is not persisted.
//!
//! Fee estimation: regtest has no fee market, so [`ChainSource::estimate_feerate`] returns the
//! configured [`EmbeddedConfig::fee_rate`] for every target (default 2 sat/vB = 500 sat/kWU),
//! or fails with [`ChainError::NoFeeEstimate`] while [`EmbeddedConfig::fee_estimates`] is off
//! (as Core's `estimatesmartfee` does without enough data).

pub mod accept;
pub mod chain;
pub mod locks;
pub mod mempool;
pub mod mining;
pub mod policy;
pub mod query;
pub mod replace;
pub mod store;
pub mod utxo;
pub mod validate;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use bitcoin::{Block, BlockHash, FeeRate, OutPoint, ScriptBuf, Transaction, Txid};

pub use accept::AcceptedTx;
pub use chain::Failure;
pub use mempool::MempoolEntry;
pub use query::{BlockInfo, ChainInfo, TxLookup};

use crate::error::{BroadcastError, ChainError, MineError, TxReject};
use crate::source::{BlockRef, ChainEvent, ChainSource, Spend, TxStatus, UtxoInfo};
use chain::ChainState;
use store::Store;

/// Settings of the embedded chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// The feerate [`ChainSource::estimate_feerate`] answers with, whatever the target.
    pub fee_rate: FeeRate,
    /// Whether fee estimation answers at all (`false`: it fails, to test callers' fallbacks).
    pub fee_estimates: bool,
    /// Minimum relay feerate in sat per 1,000 vbytes (Core's `-minrelaytxfee`, default 1,000).
    pub min_relay_fee_sat_per_kvb: u64,
    /// Most connect events one [`ChainSource::events_since`] call returns.
    pub max_events: usize,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            fee_rate: FeeRate::from_sat_per_kwu(500),
            fee_estimates: true,
            min_relay_fee_sat_per_kvb: 1_000,
            max_events: 1_000,
        }
    }
}

/// A shared handle to an embedded regtest chain.
#[derive(Debug, Clone)]
pub struct EmbeddedChain {
    inner: Arc<Mutex<ChainState>>,
}

impl EmbeddedChain {
    /// A fresh chain holding only the regtest genesis block, persisting nothing.
    pub fn in_memory(config: EmbeddedConfig) -> Self {
        Self::from_state(ChainState::new(config, Store::Memory))
    }

    /// Opens (or creates) a persistent chain in `datadir`, replaying and re-validating its
    /// block log.
    pub fn open(datadir: &Path, config: EmbeddedConfig) -> Result<Self, ChainError> {
        let (store, records) = Store::open(datadir)?;
        let mut state = ChainState::new(config, store);
        state.replay(records)?;
        Ok(Self::from_state(state))
    }

    fn from_state(state: ChainState) -> Self {
        EmbeddedChain {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, ChainState>, ChainError> {
        self.inner.lock().map_err(|_| ChainError::Poisoned)
    }

    /// Mines `n` blocks paying `to`, filled from the mempool. Block `i` has timestamp
    /// `time + i`, raised above the median time past where needed.
    pub fn mine(&self, n: u32, to: &ScriptBuf, time: u32) -> Result<Vec<BlockHash>, MineError> {
        self.lock()?.mine(n, to, time)
    }

    /// Mines one block holding exactly `txs` (no mempool transactions) at timestamp `time`.
    /// The block is fully validated: an invalid transaction gives
    /// [`MineError::Rejected`] with Core's reason, and the block is kept as invalid.
    pub fn mine_block_with(
        &self,
        txs: Vec<Transaction>,
        to: &ScriptBuf,
        time: u32,
    ) -> Result<BlockHash, MineError> {
        self.lock()?.mine_block_with(txs, to, time)
    }

    /// Submits a block from elsewhere (`submitblock`).
    pub fn submit_block(&self, block: Block) -> Result<BlockHash, MineError> {
        self.lock()?.accept_block(block, true)
    }

    /// Validates `tx` for the mempool and adds it (`sendrawtransaction` without the
    /// already-in-mempool shortcut).
    pub fn submit_tx(&self, tx: &Transaction) -> Result<AcceptedTx, BroadcastError> {
        Ok(self.lock()?.accept_to_mempool(tx, false)?)
    }

    /// Validates `tx` for the mempool without adding it (`testmempoolaccept`).
    pub fn test_accept(&self, tx: &Transaction) -> Result<AcceptedTx, BroadcastError> {
        Ok(self.lock()?.accept_to_mempool(tx, true)?)
    }

    /// Marks the active tip invalid and moves to the best other branch (its parent, unless a
    /// side branch has as much work). Returns the invalidated block.
    pub fn invalidate_tip(&self) -> Result<BlockRef, ChainError> {
        let mut state = self.lock()?;
        let tip = state.tip();
        state.invalidate_block(&tip.hash, true)?;
        Ok(tip)
    }

    /// Marks a block (and its descendants) invalid (`invalidateblock`).
    pub fn invalidate_block(&self, hash: &BlockHash) -> Result<(), ChainError> {
        self.lock()?.invalidate_block(hash, true)
    }

    /// Clears invalidity marks on a block, its ancestors and descendants (`reconsiderblock`).
    pub fn reconsider_block(&self, hash: &BlockHash) -> Result<(), ChainError> {
        self.lock()?.reconsider_block(hash, true)
    }

    /// Details of a known block (active or not).
    pub fn block_info(&self, hash: &BlockHash) -> Result<Option<BlockInfo>, ChainError> {
        Ok(self.lock()?.block_info(hash))
    }

    /// Chain summary.
    pub fn chain_info(&self) -> Result<ChainInfo, ChainError> {
        Ok(self.lock()?.chain_info())
    }

    /// An unspent output, optionally seen through the mempool (Core's `gettxout`).
    pub fn tx_out(
        &self,
        outpoint: &OutPoint,
        include_mempool: bool,
    ) -> Result<Option<UtxoInfo>, ChainError> {
        Ok(self.lock()?.tx_out(outpoint, include_mempool))
    }

    /// A transaction by txid, confirmed or in the mempool.
    pub fn transaction(&self, txid: &Txid) -> Result<Option<TxLookup>, ChainError> {
        Ok(self.lock()?.transaction(txid))
    }

    /// The mempool, parents before children.
    pub fn mempool_entries(&self) -> Result<Vec<MempoolEntry>, ChainError> {
        Ok(self.lock()?.mempool_entries())
    }

    /// Whether `txid` is in the mempool.
    pub fn in_mempool(&self, txid: &Txid) -> Result<bool, ChainError> {
        Ok(self.lock()?.mempool.get(txid).is_some())
    }

    /// Turns fee estimation on or off ([`EmbeddedConfig::fee_estimates`]).
    pub fn set_fee_estimates(&self, available: bool) -> Result<(), ChainError> {
        self.lock()?.config.fee_estimates = available;
        Ok(())
    }

    /// Changes the feerate returned by fee estimation.
    pub fn set_fee_rate(&self, fee_rate: FeeRate) -> Result<(), ChainError> {
        self.lock()?.config.fee_rate = fee_rate;
        Ok(())
    }

    /// Median time past of the active tip.
    pub fn median_time_past(&self) -> Result<u32, ChainError> {
        let state = self.lock()?;
        Ok(state.mtp_at(state.tip_height()))
    }
}

impl ChainSource for EmbeddedChain {
    fn tip(&self) -> Result<BlockRef, ChainError> {
        Ok(self.lock()?.tip())
    }

    fn block_hash_at(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        Ok(self.lock()?.hash_at(height))
    }

    fn block(&self, hash: &BlockHash) -> Result<Option<Block>, ChainError> {
        Ok(self.lock()?.block(hash))
    }

    fn events_since(&self, known_tip: &BlockRef) -> Result<Vec<ChainEvent>, ChainError> {
        let state = self.lock()?;
        state.events_since(known_tip, state.config.max_events)
    }

    fn broadcast(&self, tx: &Transaction) -> Result<Txid, BroadcastError> {
        match self.lock()?.accept_to_mempool(tx, false) {
            Ok(accepted) => Ok(accepted.txid),
            Err(TxReject::AlreadyInMempool) => Ok(tx.compute_txid()),
            Err(e) => Err(e.into()),
        }
    }

    fn estimate_feerate(&self, target_blocks: u16) -> Result<FeeRate, ChainError> {
        if target_blocks == 0 {
            return Err(ChainError::InvalidArgument(
                "fee estimation target must be at least one block",
            ));
        }
        let state = self.lock()?;
        if !state.config.fee_estimates {
            return Err(ChainError::NoFeeEstimate);
        }
        Ok(state.config.fee_rate)
    }

    fn get_tx_out(&self, outpoint: &OutPoint) -> Result<Option<UtxoInfo>, ChainError> {
        Ok(self.lock()?.tx_out(outpoint, false))
    }

    fn spending_tx(&self, outpoint: &OutPoint) -> Result<Option<Spend>, ChainError> {
        Ok(self.lock()?.spending_tx(outpoint))
    }

    fn tx_status(&self, txid: &Txid) -> Result<TxStatus, ChainError> {
        Ok(self.lock()?.tx_status(txid))
    }
}
