//! The [`ChainSource`] trait: the one interface the node uses for everything on chain, and the
//! plain data types it speaks in.
//!
//! The trait is small and synchronous; an async node wraps calls in `spawn_blocking`. It is
//! implemented by the embedded regtest chain ([`crate::EmbeddedChain`]) and is designed so that a
//! JSON-RPC client against bitcoind can implement it too: [`ChainSource::events_since`] only needs
//! "block hash at height", "header by hash" (to walk back to the fork point) and "block by hash".

use bitcoin::{Block, BlockHash, FeeRate, OutPoint, Transaction, TxOut, Txid};

use crate::error::{BroadcastError, ChainError};

/// A block identified by height and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Height (genesis is 0).
    pub height: u32,
    /// Block hash.
    pub hash: BlockHash,
}

/// A change of the active chain, in the order it must be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// The block at this height joined the active chain.
    BlockConnected(u32, Block),
    /// The block at this height with this hash left the active chain (reorg).
    BlockDisconnected(u32, BlockHash),
}

/// An unspent output with where it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtxoInfo {
    /// The output.
    pub txout: TxOut,
    /// Height of the block that created it.
    pub height: u32,
    /// Confirmations (1 when created in the tip block).
    pub confirmations: u32,
    /// Whether it is a coinbase output (spendable after 100 confirmations).
    pub is_coinbase: bool,
}

/// Where a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Unknown to the source (never seen, or evicted).
    Unknown,
    /// Waiting in the mempool.
    Mempool,
    /// In a block of the active chain.
    Confirmed {
        /// The block.
        block: BlockRef,
        /// Confirmations (1 when in the tip block).
        confirmations: u32,
    },
}

/// A transaction spending an outpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spend {
    /// The spending transaction.
    pub tx: Transaction,
    /// Which of its inputs spends the outpoint.
    pub input_index: u32,
    /// Where it is ([`TxStatus::Mempool`] or [`TxStatus::Confirmed`]).
    pub status: TxStatus,
}

/// The node's view of the chain.
///
/// All methods are synchronous and may block on I/O. Implementations are cheap to share
/// (`Send + Sync`).
pub trait ChainSource: Send + Sync {
    /// The tip of the active chain.
    fn tip(&self) -> Result<BlockRef, ChainError>;

    /// The hash of the active-chain block at `height`, or `None` above the tip.
    fn block_hash_at(&self, height: u32) -> Result<Option<BlockHash>, ChainError>;

    /// The block with this hash (active chain or not), or `None` if unknown.
    fn block(&self, hash: &BlockHash) -> Result<Option<Block>, ChainError>;

    /// The active-chain block at `height`, or `None` above the tip.
    fn block_at(&self, height: u32) -> Result<Option<Block>, ChainError> {
        match self.block_hash_at(height)? {
            Some(hash) => self.block(&hash),
            None => Ok(None),
        }
    }

    /// What happened since the follower saw `known_tip`: first a [`ChainEvent::BlockDisconnected`]
    /// for each of its blocks no longer in the active chain (from `known_tip` down to the fork
    /// point), then a [`ChainEvent::BlockConnected`] for each active block above the fork point,
    /// in height order.
    ///
    /// Implementations may cap the number of connect events per call; the follower applies the
    /// events and calls again with its new tip until the list is empty.
    /// Errors with [`ChainError::UnknownBlock`] if `known_tip` is unknown to the source.
    fn events_since(&self, known_tip: &BlockRef) -> Result<Vec<ChainEvent>, ChainError>;

    /// Submit a transaction for relay and mining. Returns its txid; broadcasting a transaction
    /// that is already in the mempool succeeds.
    fn broadcast(&self, tx: &Transaction) -> Result<Txid, BroadcastError>;

    /// A feerate expected to confirm within `target_blocks` blocks (at least 1).
    fn estimate_feerate(&self, target_blocks: u16) -> Result<FeeRate, ChainError>;

    /// The output at `outpoint` if it is confirmed and unspent in the active chain (outputs
    /// spent only in the mempool are still returned: confirmation is what counts).
    fn get_tx_out(&self, outpoint: &OutPoint) -> Result<Option<UtxoInfo>, ChainError>;

    /// The transaction spending `outpoint`, in the active chain or in the mempool, if any.
    fn spending_tx(&self, outpoint: &OutPoint) -> Result<Option<Spend>, ChainError>;

    /// Where the transaction is.
    fn tx_status(&self, txid: &Txid) -> Result<TxStatus, ChainError>;

    /// Confirmations of a transaction: `None` if unknown, `Some(0)` in the mempool.
    fn tx_confirmations(&self, txid: &Txid) -> Result<Option<u32>, ChainError> {
        Ok(match self.tx_status(txid)? {
            TxStatus::Unknown => None,
            TxStatus::Mempool => Some(0),
            TxStatus::Confirmed { confirmations, .. } => Some(confirmations),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    #[test]
    fn trait_is_object_safe_and_shareable() {
        fn takes(_: std::sync::Arc<dyn ChainSource>) {}
        let chain = crate::EmbeddedChain::in_memory(crate::EmbeddedConfig::default());
        takes(std::sync::Arc::new(chain.clone()));
        let dynamic: &dyn ChainSource = &chain;
        assert_eq!(dynamic.tip().unwrap().height, 0);
        assert_eq!(
            dynamic.block_at(0).unwrap().unwrap().block_hash(),
            dynamic.tip().unwrap().hash
        );
        assert_eq!(
            dynamic
                .tx_confirmations(&bitcoin::Txid::from_byte_array([0; 32]))
                .unwrap(),
            None
        );
    }
}
