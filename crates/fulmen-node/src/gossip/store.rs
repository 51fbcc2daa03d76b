//! The gossip thread's own store: `gossip.sqlite` in the datadir.
//!
//! # Design
//!
//! The channel manager's `node.sqlite` is opened with an exclusive lock by
//! its thread, so the gossip thread cannot share it; and gossip is not
//! money state, so it should not share that store's commits either. The
//! gossip thread therefore opens a second [`fulmen_store::Store`] on
//! `gossip.sqlite` (same schema, only its `gossip` and `kv` tables used),
//! exclusively, owned by that thread alone.
//!
//! * Writes: every accepted message, channel removal and block height goes
//!   into a pending [`Batch`], committed in one transaction at each flush
//!   (every [`super::GossipConfig::flush_interval`], or every 1,000
//!   accepted messages) and before any read. The store keeps its
//!   `synchronous = FULL` (it has no option for less); at most a few
//!   commits per second, that costs little, and a crash loses at most one
//!   flush interval of gossip, which peers send again.
//! * The funding outpoint and capacity of each channel are stored with its
//!   `channel_announcement` row, so loading needs no chain lookups.
//!   Channels closed while the node was down are found by replaying the
//!   blocks since the stored `gossip_height` (at most 2,016; older closes
//!   are left to the two-week staleness pruning).
//! * Loading: every row into the graph with the trusted insertions
//!   ([`NetworkGraph::load_channel_announcement`] and friends; no
//!   signature is checked again). Rows that no longer load are deleted.
//! * A `gossip.sqlite` that cannot be opened (newer schema, corrupt) is
//!   moved aside to `gossip.sqlite.bad` and a fresh one created; if that
//!   fails too the node runs without gossip persistence (the graph is then
//!   learnt from peers, and sync requests are answered with nothing).

use std::collections::HashMap;
use std::path::Path;

use bitcoin::hashes::Hash;
use bitcoin::{Block, OutPoint, Txid};
use fulmen_chain::ChainSource;
use fulmen_graph::NetworkGraph;
use fulmen_store::{Batch, ChannelFunding, GossipKey, GossipRow, Store, StoreError};
use fulmen_types::{NodeId, Sat, ShortChannelId};
use fulmen_wire::{ChannelAnnouncement, ChannelUpdate, NodeAnnouncement, WireMessage};

/// The `kv` key of the last block height the gossip thread has seen.
const HEIGHT_KEY: &str = "gossip_height";
/// The most blocks replayed at start to find channels closed meanwhile.
const MAX_REPLAY: u32 = 2016;

/// The gossip store and the writes not committed yet.
pub(crate) struct GossipStore {
    store: Option<Store>,
    pending: Batch,
}

impl core::fmt::Debug for GossipStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GossipStore")
            .field("open", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

/// What [`load`] gives the thread.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The graph as stored (closed and stale channels removed).
    pub(crate) graph: NetworkGraph,
    /// Funding outpoints of the graph's channels.
    pub(crate) funding: HashMap<OutPoint, ShortChannelId>,
    /// The store, for the thread.
    pub(crate) store: GossipStore,
}

impl GossipStore {
    /// A store that keeps nothing (tests, or `gossip.sqlite` unusable).
    pub(crate) fn none() -> Self {
        Self {
            store: None,
            pending: Batch::new(),
        }
    }

    pub(crate) fn put_channel(
        &mut self,
        ann: &ChannelAnnouncement,
        outpoint: OutPoint,
        capacity: Sat,
        now: u64,
    ) {
        if self.store.is_none() {
            return;
        }
        if let Ok(bytes) = ann.encode_message() {
            let funding = ChannelFunding {
                capacity_sat: capacity.0,
                txid: outpoint.txid.to_byte_array(),
                vout: outpoint.vout,
            };
            self.pending
                .put_gossip_channel(ann.short_channel_id, funding, now, bytes);
        }
    }

    pub(crate) fn put_update(&mut self, upd: &ChannelUpdate) {
        if self.store.is_none() {
            return;
        }
        if let Ok(bytes) = upd.encode_message() {
            self.pending.put_gossip_update(
                upd.short_channel_id,
                upd.direction(),
                u64::from(upd.timestamp),
                bytes,
            );
        }
    }

    pub(crate) fn put_node(&mut self, ann: &NodeAnnouncement) {
        if self.store.is_none() {
            return;
        }
        if let Ok(bytes) = ann.encode_message() {
            self.pending
                .put_gossip_node(ann.node_id, u64::from(ann.timestamp), bytes);
        }
    }

    /// Deletes a channel the graph dropped, and the announcements of its
    /// nodes that left the graph with it.
    pub(crate) fn delete_channel(
        &mut self,
        graph: &NetworkGraph,
        scid: ShortChannelId,
        nodes: &[NodeId],
    ) {
        if self.store.is_none() {
            return;
        }
        self.pending.delete_gossip_channel(scid);
        for n in nodes {
            if graph.node(n).is_none() {
                self.pending.delete_gossip_node(*n);
            }
        }
    }

    pub(crate) fn set_height(&mut self, height: u32) {
        if self.store.is_some() {
            self.pending
                .set_kv(HEIGHT_KEY, height.to_be_bytes().to_vec());
        }
    }

    /// Commits what is pending (one transaction). A failure is logged and
    /// the writes dropped: the graph in memory stays right, and peers will
    /// send the lost gossip again.
    pub(crate) fn commit(&mut self) {
        let batch = core::mem::take(&mut self.pending);
        if let Some(store) = &mut self.store {
            if let Err(e) = store.commit(batch) {
                tracing::warn!(error = %e, "gossip store commit failed: writes dropped");
            }
        }
    }

    fn read<T: Default>(&mut self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> T {
        self.commit();
        match &self.store {
            Some(store) => f(store).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "gossip store read failed");
                T::default()
            }),
            None => T::default(),
        }
    }

    /// [`Store::gossip_in_range`], after committing what is pending.
    pub(crate) fn in_range(&mut self, first: u64, end: u64) -> Vec<GossipRow> {
        self.read(|s| s.gossip_in_range(first, end))
    }

    /// [`Store::gossip_for_scids`], after committing what is pending.
    pub(crate) fn for_scids(&mut self, scids: &[ShortChannelId]) -> Vec<GossipRow> {
        self.read(|s| s.gossip_for_scids(scids))
    }

    /// [`Store::gossip_nodes`], after committing what is pending.
    pub(crate) fn nodes(&mut self, ids: &[NodeId]) -> Vec<GossipRow> {
        self.read(|s| s.gossip_nodes(ids))
    }
}

fn open(path: &Path) -> Option<Store> {
    match Store::open(path) {
        Ok(s) => return Some(s),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "gossip store unusable: moving it aside");
        }
    }
    let mut aside = path.as_os_str().to_owned();
    aside.push(".bad");
    if let Err(e) = std::fs::rename(path, &aside) {
        tracing::warn!(error = %e, "cannot move the gossip store aside: gossip is not persisted");
        return None;
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    Store::open(path)
        .map_err(|e| tracing::warn!(error = %e, "gossip store: gossip is not persisted"))
        .ok()
}

/// Removes the channels whose funding outputs `block` spends.
pub(crate) fn remove_spent(
    graph: &mut NetworkGraph,
    funding: &mut HashMap<OutPoint, ShortChannelId>,
    store: &mut GossipStore,
    block: &Block,
) -> Vec<ShortChannelId> {
    let mut spent = Vec::new();
    for tx in &block.txdata {
        for input in &tx.input {
            if let Some(scid) = funding.remove(&input.previous_output) {
                spent.push(scid);
            }
        }
    }
    for scid in &spent {
        remove(graph, store, *scid);
    }
    spent
}

/// Removes a channel from the graph and the store.
pub(crate) fn remove(graph: &mut NetworkGraph, store: &mut GossipStore, scid: ShortChannelId) {
    if let Some(c) = graph.channel(scid) {
        graph.remove_channel(scid);
        store.delete_channel(graph, scid, &[c.node_1, c.node_2]);
    }
}

/// Opens `gossip.sqlite` at `path` and loads the graph for `chain_hash`
/// from it, then drops the channels closed since the stored height (blocks
/// from `chain`) and the stale ones (at `now`).
pub(crate) fn load(
    path: &Path,
    chain_hash: bitcoin::constants::ChainHash,
    chain: &dyn ChainSource,
    now: u64,
) -> Loaded {
    let started = std::time::Instant::now();
    let mut graph = NetworkGraph::new(chain_hash);
    let mut funding = HashMap::new();
    let mut store = GossipStore {
        store: open(path),
        pending: Batch::new(),
    };
    let mut bad = Vec::new();
    if let Some(s) = &store.store {
        let visited = s.visit_gossip(|row| {
            let ok = match row.key {
                GossipKey::ChannelAnnouncement(scid) => {
                    let f = row.funding.unwrap_or(ChannelFunding {
                        capacity_sat: 0,
                        txid: [0; 32],
                        vout: 0,
                    });
                    let loaded = graph.load_channel_announcement(
                        &row.message,
                        Sat(f.capacity_sat),
                        row.timestamp,
                    );
                    if loaded == Ok(scid) {
                        let outpoint = OutPoint {
                            txid: Txid::from_byte_array(f.txid),
                            vout: f.vout,
                        };
                        funding.insert(outpoint, scid);
                        true
                    } else {
                        false
                    }
                }
                GossipKey::ChannelUpdate(..) => graph.load_channel_update(&row.message).is_ok(),
                GossipKey::NodeAnnouncement(_) => {
                    graph.load_node_announcement(&row.message).is_ok()
                }
            };
            if !ok {
                bad.push(row.key);
            }
            true
        });
        if let Err(e) = visited {
            tracing::warn!(error = %e, "gossip store: loading stopped early");
        }
    }
    for key in &bad {
        match key {
            GossipKey::ChannelAnnouncement(scid) | GossipKey::ChannelUpdate(scid, _) => {
                store.pending.delete_gossip_channel(*scid);
            }
            GossipKey::NodeAnnouncement(id) => {
                store.pending.delete_gossip_node(*id);
            }
        }
    }
    let height = store
        .store
        .as_ref()
        .and_then(|s| s.get_kv(HEIGHT_KEY).ok().flatten())
        .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
        .map(u32::from_be_bytes);
    let mut closed = 0usize;
    if let Ok(tip) = chain.tip() {
        if let Some(h) = height {
            let from = h
                .saturating_add(1)
                .max(tip.height.saturating_sub(MAX_REPLAY));
            for at in from..=tip.height {
                match chain.block_at(at) {
                    Ok(Some(block)) => {
                        closed += remove_spent(&mut graph, &mut funding, &mut store, &block).len();
                    }
                    _ => break,
                }
            }
        }
        store.set_height(tip.height);
    }
    let stale = graph.prune_stale_ids(now);
    for scid in &stale {
        store.pending.delete_gossip_channel(*scid);
    }
    funding.retain(|_, scid| graph.channel(*scid).is_some());
    graph.shrink_to_fit();
    store.commit();
    tracing::info!(
        channels = graph.num_channels(),
        nodes = graph.num_nodes(),
        closed,
        stale = stale.len(),
        dropped = bad.len(),
        ms = started.elapsed().as_millis() as u64,
        "network graph loaded from the gossip store"
    );
    Loaded {
        graph,
        funding,
        store,
    }
}
