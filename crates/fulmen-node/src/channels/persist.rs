//! The [`Persister`] seam: what the manager commits once per tick, and the
//! node's store behind it ([`StorePersister`]).

use fulmen_types::{ChannelId, NodeId};

/// Everything to commit in one transaction at the end of a tick: the
/// records in a `fulmen_store::Batch`, plus which channels they touch (the
/// ones to stop if the commit fails) and what the tick did (for the
/// [`super::crash`] hook).
#[derive(Debug, Default)]
pub struct PersistBatch {
    /// The store records.
    pub store: fulmen_store::Batch,
    /// Channels written, closed or deleted.
    pub channels: Vec<ChannelId>,
    /// Named persistence points this commit covers (e.g. `invoice_paid`).
    pub points: Vec<&'static str>,
}

impl PersistBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// Writes a channel's encoded state.
    pub fn put_channel(
        &mut self,
        channel_id: ChannelId,
        peer_id: NodeId,
        state: Vec<u8>,
        now: u64,
    ) {
        self.store.put_channel(channel_id, peer_id, state, now);
        self.channels.push(channel_id);
    }

    /// Marks a stored channel closed (after its last write).
    pub fn close_channel(&mut self, channel_id: ChannelId, now: u64) {
        self.store.close_channel(channel_id, now);
        self.channels.push(channel_id);
    }

    /// Deletes a stored channel (an opening that was never funded).
    pub fn delete_channel(&mut self, channel_id: ChannelId) {
        self.store.delete_channel(channel_id);
        self.channels.push(channel_id);
    }

    /// Records a named persistence point of this commit.
    pub fn point(&mut self, name: &'static str) {
        if !self.points.contains(&name) {
            self.points.push(name);
        }
    }
}

/// A failed commit: nothing of the batch may be taken as written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersistError {
    /// The node has no store: nothing can be persisted, so nothing that
    /// needs persisting may be sent.
    NoStore,
    /// The store failed (its message).
    Store(String),
}

impl core::fmt::Display for PersistError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoStore => f.write_str("the node has no store"),
            Self::Store(e) => write!(f, "store failed: {e}"),
        }
    }
}

impl std::error::Error for PersistError {}

/// Durable storage of the manager's records.
pub trait Persister: Send + 'static {
    /// Writes the whole batch in one transaction, durably, or nothing.
    fn commit(&mut self, batch: PersistBatch) -> Result<(), PersistError>;

    /// The store, for reads (invoices, payments, settings); `None` when
    /// there is none.
    fn store(&self) -> Option<&fulmen_store::Store> {
        None
    }
}

/// No store: any non-empty batch fails (and its messages are dropped). An
/// empty batch succeeds. For tests of the manager's ordering.
#[derive(Debug, Default)]
pub struct NoStore;

impl Persister for NoStore {
    fn commit(&mut self, batch: PersistBatch) -> Result<(), PersistError> {
        if batch.is_empty() {
            Ok(())
        } else {
            Err(PersistError::NoStore)
        }
    }
}

/// The node's store as the manager's persister: each [`PersistBatch`] is
/// one `fulmen_store::Store::commit`, one transaction.
#[derive(Debug)]
pub struct StorePersister {
    store: fulmen_store::Store,
}

impl StorePersister {
    /// Persists into `store`.
    pub fn new(store: fulmen_store::Store) -> Self {
        Self { store }
    }
}

impl Persister for StorePersister {
    fn commit(&mut self, batch: PersistBatch) -> Result<(), PersistError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.store
            .commit(batch.store)
            .map_err(|e| PersistError::Store(e.to_string()))
    }

    fn store(&self) -> Option<&fulmen_store::Store> {
        Some(&self.store)
    }
}
