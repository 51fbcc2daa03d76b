//! The gossip thread: BOLT 7 messages from peers and our own announcements
//! go into the network graph ([`fulmen_graph::NetworkGraph`]) once valid,
//! and out again to the other peers.
//!
//! | input | does |
//! | --- | --- |
//! | `channel_announcement` | the four signatures ([`NetworkGraph::add_channel`]), then the funding output on chain: the block at the short channel id's height, its transaction and output, paying the 2-of-2 of the two `bitcoin_key`s, still unspent; its value is the capacity |
//! | `channel_update`, `node_announcement` | signature, newer timestamp, known channel/node (the graph's checks); a peer's `channel_update`s rate-limited per channel direction ([`GossipConfig::update_burst`]) |
//! | `gossip_timestamp_filter` | the peer wants gossip: what the gossip store holds in its range is sent, and later relays |
//! | `query_channel_range` / `query_short_channel_ids` | answered from the graph (ids) and the gossip store (messages; uncompressed encoding) |
//! | a peer connects | if it supports `gossip_queries`: the first such peer of the run syncs us by range queries ([`sync`]) and gets a `gossip_timestamp_filter` from now on; the others a filter for everything; a peer without `gossip_queries` gets our whole graph and every relay |
//! | `reply_channel_range` / `reply_short_channel_ids_end` | from the peer we sync with: the channels we lack or hold older updates of are asked for, one query at a time |
//! | a block | channels whose funding output it spends leave the graph; stale channels are pruned every 144 blocks |
//!
//! Accepted messages are relayed in a batch every
//! [`GossipConfig::flush_interval`] (staggered broadcast), never back to
//! the peer they came from. Invalid messages are dropped with a log line and
//! count against the peer; one past [`GossipConfig::max_bad_per_peer`] is
//! disconnected. The input queue is bounded: a flood is dropped, never
//! buffered without bound.
//!
//! The graph is shared with the channel manager (read-only there) to find
//! routes. It keeps only what routing and validation need; the signed
//! messages are in the thread's own gossip store (`gossip.sqlite`, see
//! [`store`] for the design), written once per flush, read to answer sync
//! requests, and loaded back into the graph at start.

mod limit;
mod store;
mod sync;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use bitcoin::{Block, Network, OutPoint};
use fulmen_chain::ChainSource;
use fulmen_graph::sign::sign_node_announcement;
use fulmen_graph::validate::funding_script;
use fulmen_graph::{NetworkGraph, UpdateOutcome};
use fulmen_store::GossipRow;
use fulmen_types::{Feature, Features, NodeId, Sat, ShortChannelId};
use fulmen_wire::{
    ChannelAnnouncement, ChannelUpdate, GossipTimestampFilter, Message, NetAddress,
    NodeAnnouncement, QueryChannelRange, QueryShortChannelIds, ReplyChannelRange,
    ReplyShortChannelIdsEnd, WireFeatures,
};

use crate::channels::Outbox;
use crate::tasks::TaskGuard;

/// What the gossip thread handles.
#[derive(Debug)]
#[non_exhaustive]
pub enum GossipInput {
    /// A gossip message from a peer.
    PeerMessage {
        /// The peer.
        node_id: NodeId,
        /// The message.
        msg: Box<Message>,
    },
    /// A peer finished `init`.
    PeerConnected {
        /// The peer.
        node_id: NodeId,
        /// Its features.
        features: Features,
    },
    /// A peer went away.
    PeerDisconnected {
        /// The peer.
        node_id: NodeId,
    },
    /// One of our channels is announced: both signatures are in.
    LocalChannel {
        /// The announcement.
        announcement: Box<ChannelAnnouncement>,
        /// Our `channel_update` for it.
        update: ChannelUpdate,
    },
    /// A new `channel_update` of ours for an announced channel.
    LocalUpdate(ChannelUpdate),
    /// A `channel_update` carried by a payment failure (applied like a
    /// peer's, not relayed by itself beyond what the graph accepts).
    FailureUpdate(ChannelUpdate),
    /// A block joined the chain.
    BlockConnected {
        /// Its height.
        height: u32,
        /// The block.
        block: Arc<Block>,
    },
    /// Stop the thread.
    Stop,
}

/// Where the gossip thread's inputs go, and the graph it keeps. Cheap to
/// clone.
#[derive(Clone)]
pub struct GossipHandle {
    tx: Option<SyncSender<GossipInput>>,
    graph: Arc<RwLock<NetworkGraph>>,
}

impl core::fmt::Debug for GossipHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GossipHandle")
            .field("running", &self.tx.is_some())
            .finish_non_exhaustive()
    }
}

impl GossipHandle {
    /// A handle and the receiver the thread will drain ([`spawn`]).
    pub fn new(network: Network, queue: usize) -> (Self, Receiver<GossipInput>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(queue);
        let graph = NetworkGraph::new(ChainHash::using_genesis_block(network));
        (
            Self {
                tx: Some(tx),
                graph: Arc::new(RwLock::new(graph)),
            },
            rx,
        )
    }

    /// A handle with no thread behind it (inputs are dropped; the graph
    /// stays empty): for channel-manager tests.
    pub fn detached(network: Network) -> Self {
        let graph = NetworkGraph::new(ChainHash::using_genesis_block(network));
        Self {
            tx: None,
            graph: Arc::new(RwLock::new(graph)),
        }
    }

    /// Queues `input`; `false` if the queue is full (the input is dropped)
    /// or the thread is gone.
    pub fn send(&self, input: GossipInput) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        match tx.try_send(input) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::debug!("gossip queue full: input dropped");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// The network graph.
    pub fn graph(&self) -> &Arc<RwLock<NetworkGraph>> {
        &self.graph
    }
}

/// Timers and limits of the gossip thread.
#[derive(Debug, Clone, Copy)]
pub struct GossipConfig {
    /// How often accepted messages are relayed (staggered broadcast).
    pub flush_interval: Duration,
    /// Invalid messages a peer may send before it is disconnected.
    pub max_bad_per_peer: u32,
    /// `channel_update`s of one channel direction taken at once (10)...
    pub update_burst: u32,
    /// ... then one more every this many seconds (300); more are dropped.
    pub update_refill_secs: u64,
}

impl Default for GossipConfig {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_millis(250),
            max_bad_per_peer: 100,
            update_burst: 10,
            update_refill_secs: 300,
        }
    }
}

/// What the thread needs.
pub struct GossipParts {
    /// The network.
    pub network: Network,
    /// Signs our `node_announcement`.
    pub node_secret: SecretKey,
    /// Our alias.
    pub alias: String,
    /// Where we listen (announced).
    pub addresses: Vec<SocketAddr>,
    /// The chain (funding outputs of announced channels).
    pub chain: Arc<dyn ChainSource>,
    /// Where messages to peers go.
    pub outbox: Arc<dyn Outbox>,
    /// Timers and limits.
    pub config: GossipConfig,
    /// Where [`crate::NodeEvent::GraphChanged`] goes.
    pub events: tokio::sync::broadcast::Sender<crate::NodeEvent>,
    /// The gossip store's file (`gossip.sqlite` in the datadir); `None`:
    /// gossip is not persisted.
    pub store_path: Option<PathBuf>,
}

/// What [`load`] read from the gossip store, for [`spawn`].
#[derive(Debug)]
pub struct LoadedGossip(store::Loaded);

/// Opens the gossip store at `path` (created if absent) and loads the
/// network graph from it; blocking (≤ ~300 ms for a mainnet graph). With
/// no path, an empty graph and no persistence.
pub fn load(
    path: Option<&std::path::Path>,
    network: Network,
    chain: &dyn ChainSource,
) -> LoadedGossip {
    let chain_hash = ChainHash::using_genesis_block(network);
    LoadedGossip(match path {
        Some(p) => store::load(p, chain_hash, chain, crate::chain::unix_now()),
        None => store::Loaded {
            graph: NetworkGraph::new(chain_hash),
            funding: HashMap::new(),
            store: store::GossipStore::none(),
        },
    })
}

/// Starts the gossip thread on `rx` (from [`GossipHandle::new`]) with the
/// graph `loaded` from the gossip store, which replaces the handle's.
pub(crate) fn spawn(
    handle: &GossipHandle,
    rx: Receiver<GossipInput>,
    parts: GossipParts,
    loaded: LoadedGossip,
    guard: TaskGuard,
) -> std::io::Result<()> {
    let secp = Secp256k1::new();
    let our_id = NodeId::from_pubkey(&PublicKey::from_secret_key(&secp, &parts.node_secret));
    let store::Loaded {
        graph,
        funding,
        store,
    } = loaded.0;
    if let Ok(mut g) = handle.graph.write() {
        *g = graph;
    }
    let limiter =
        limit::UpdateLimiter::new(parts.config.update_burst, parts.config.update_refill_secs);
    let mut gossip = Gossip {
        graph: handle.graph.clone(),
        secp,
        our_id,
        parts,
        peers: HashMap::new(),
        pending: Vec::new(),
        funding,
        store,
        local: HashSet::new(),
        node_stamp: 0,
        limiter,
        sync: None,
        synced: false,
    };
    std::thread::Builder::new()
        .name("fulmen-gossip".into())
        .spawn(move || {
            let flush = gossip.parts.config.flush_interval;
            loop {
                match rx.recv_timeout(flush) {
                    Ok(GossipInput::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                    Ok(input) => gossip.handle(input),
                    Err(RecvTimeoutError::Timeout) => gossip.flush(),
                }
                if gossip.pending.len() >= 1000 {
                    gossip.flush();
                }
            }
            gossip.store.commit();
            // Its store closes before the thread counts as stopped.
            drop(gossip);
            drop(rx);
            tracing::debug!("gossip thread stopped");
            drop(guard);
        })
        .map(|_| ())
}

#[derive(Debug, Default)]
struct PeerState {
    /// It asked for gossip (or cannot ask: no `gossip_queries`).
    wants: bool,
    /// Its `gossip_timestamp_filter`.
    filter: Option<(u32, u32)>,
    /// Invalid messages it sent.
    bad: u32,
}

struct Gossip {
    graph: Arc<RwLock<NetworkGraph>>,
    secp: Secp256k1<All>,
    our_id: NodeId,
    parts: GossipParts,
    peers: HashMap<NodeId, PeerState>,
    /// Accepted messages to relay, with the peer they came from.
    pending: Vec<(Option<NodeId>, Message)>,
    /// Funding outpoints of the graph's channels (spends remove them).
    funding: HashMap<OutPoint, ShortChannelId>,
    /// The signed messages, persisted.
    store: store::GossipStore,
    /// Our own announced channels.
    local: HashSet<ShortChannelId>,
    /// The timestamp of our last `node_announcement`.
    node_stamp: u32,
    /// Peers' `channel_update`s per channel direction.
    limiter: limit::UpdateLimiter,
    /// Our range sync in progress, if any.
    sync: Option<sync::RangeSync>,
    /// A range sync ran to its end in this run.
    synced: bool,
}

impl Gossip {
    fn now(&self) -> u64 {
        crate::chain::unix_now()
    }

    fn chain_hash(&self) -> ChainHash {
        ChainHash::using_genesis_block(self.parts.network)
    }

    fn handle(&mut self, input: GossipInput) {
        match input {
            GossipInput::PeerMessage { node_id, msg } => self.on_message(node_id, *msg),
            GossipInput::PeerConnected { node_id, features } => {
                let queries = features.supports(Feature::GossipQueries);
                // Its filter may have come first (messages and connections
                // reach this thread by different roads).
                let state = self.peers.entry(node_id).or_default();
                state.wants |= !queries;
                if queries {
                    // The first such peer syncs us by range queries and
                    // sends only what is new; the others everything.
                    let first_timestamp = if self.sync.is_none() && !self.synced {
                        let (sync, query) =
                            sync::RangeSync::start(node_id, self.chain_hash(), self.now());
                        tracing::info!(peer = %node_id, "gossip sync by range queries");
                        self.sync = Some(sync);
                        self.send(&node_id, query);
                        u32::try_from(self.now()).unwrap_or(u32::MAX)
                    } else {
                        0
                    };
                    self.send_filter(&node_id, first_timestamp);
                } else {
                    self.dump(&node_id, 0, u32::MAX);
                }
            }
            GossipInput::PeerDisconnected { node_id } => {
                self.peers.remove(&node_id);
                if self.sync.as_ref().is_some_and(|s| s.peer() == node_id) {
                    tracing::info!(peer = %node_id, "gossip sync peer gone: the next peer syncs us");
                    self.sync = None;
                }
            }
            GossipInput::LocalChannel {
                announcement,
                update,
            } => {
                let scid = announcement.short_channel_id;
                if self.on_channel_announcement(None, &announcement) {
                    self.local.insert(scid);
                    self.on_channel_update(None, &update);
                    self.announce_node();
                }
            }
            GossipInput::LocalUpdate(update) | GossipInput::FailureUpdate(update) => {
                self.on_channel_update(None, &update);
            }
            GossipInput::BlockConnected { height, block } => self.on_block(height, &block),
            GossipInput::Stop => {}
        }
    }

    fn on_message(&mut self, peer: NodeId, msg: Message) {
        match msg {
            Message::ChannelAnnouncement(ann) => {
                let known = self
                    .graph
                    .read()
                    .is_ok_and(|g| g.channel(ann.short_channel_id).is_some());
                if !known && !self.on_channel_announcement(Some(peer), &ann) {
                    self.penalise(&peer);
                }
            }
            Message::ChannelUpdate(upd) if !self.on_channel_update(Some(peer), &upd) => {
                self.penalise(&peer);
            }
            Message::NodeAnnouncement(ann) if !self.on_node_announcement(Some(peer), &ann) => {
                self.penalise(&peer);
            }
            Message::GossipTimestampFilter(f) => {
                if f.chain_hash != self.chain_hash() {
                    return;
                }
                let state = self.peers.entry(peer).or_default();
                state.wants = true;
                state.filter = Some((f.first_timestamp, f.timestamp_range));
                self.dump(&peer, f.first_timestamp, f.timestamp_range);
            }
            Message::QueryChannelRange(q) => self.on_query_channel_range(peer, &q),
            Message::QueryShortChannelIds(q) => self.on_query_scids(peer, &q),
            Message::ReplyChannelRange(r) => self.on_reply_channel_range(peer, &r),
            Message::ReplyShortChannelIdsEnd(_) => self.on_reply_scids_end(peer),
            _ => {}
        }
    }

    /// Validates and adds a channel; `true` if it is (now) in the graph.
    fn on_channel_announcement(&mut self, from: Option<NodeId>, ann: &ChannelAnnouncement) -> bool {
        let Some((outpoint, capacity)) = self.funding_output(ann) else {
            tracing::debug!(scid = %ann.short_channel_id, peer = ?from, "channel_announcement without its funding output on chain: dropped");
            return false;
        };
        let now = self.now();
        let added = match self.graph.write() {
            Ok(mut g) => g.add_channel(&self.secp, ann, capacity, now),
            Err(_) => return false,
        };
        match added {
            Ok(true) => {
                self.funding.insert(outpoint, ann.short_channel_id);
                self.store.put_channel(ann, outpoint, capacity, now);
                self.pending
                    .push((from, Message::ChannelAnnouncement(ann.clone())));
                true
            }
            Ok(false) => true,
            Err(e) => {
                tracing::debug!(scid = %ann.short_channel_id, peer = ?from, error = %e, "channel_announcement dropped");
                false
            }
        }
    }

    /// The funding output a `channel_announcement` names, if it is on chain
    /// with the right script and unspent: its outpoint and value.
    fn funding_output(&self, ann: &ChannelAnnouncement) -> Option<(OutPoint, Sat)> {
        let scid = ann.short_channel_id;
        let block = self.parts.chain.block_at(scid.block()).ok()??;
        let tx = block.txdata.get(usize::try_from(scid.tx_index()).ok()?)?;
        let vout = u32::from(scid.output());
        let out = tx.output.get(usize::try_from(vout).ok()?)?;
        if out.script_pubkey != funding_script(&ann.bitcoin_key_1, &ann.bitcoin_key_2) {
            return None;
        }
        let outpoint = OutPoint {
            txid: tx.compute_txid(),
            vout,
        };
        self.parts.chain.get_tx_out(&outpoint).ok()??;
        Some((outpoint, Sat(out.value.to_sat())))
    }

    /// `true` unless the update is invalid (stale or duplicate ones are
    /// not the peer's fault).
    fn on_channel_update(&mut self, from: Option<NodeId>, upd: &ChannelUpdate) -> bool {
        let now = self.now();
        if from.is_some()
            && !self
                .limiter
                .allow(upd.short_channel_id, upd.direction(), now)
        {
            tracing::debug!(scid = %upd.short_channel_id, peer = ?from, "channel_update over the rate limit: dropped");
            return true;
        }
        let outcome = match self.graph.write() {
            Ok(mut g) => g.apply_channel_update(&self.secp, upd, now),
            Err(_) => return true,
        };
        match outcome {
            Ok(UpdateOutcome::Applied) => {
                self.store.put_update(upd);
                self.pending
                    .push((from, Message::ChannelUpdate(upd.clone())));
                true
            }
            Ok(_) => true,
            Err(e) if e.reaction() == fulmen_wire::Reaction::Ignore => true,
            Err(e) => {
                tracing::debug!(scid = %upd.short_channel_id, peer = ?from, error = %e, "channel_update dropped");
                false
            }
        }
    }

    fn on_node_announcement(&mut self, from: Option<NodeId>, ann: &NodeAnnouncement) -> bool {
        let now = self.now();
        let outcome = match self.graph.write() {
            Ok(mut g) => g.apply_node_announcement(&self.secp, ann, now),
            Err(_) => return true,
        };
        match outcome {
            Ok(UpdateOutcome::Applied) => {
                self.store.put_node(ann);
                self.pending
                    .push((from, Message::NodeAnnouncement(ann.clone())));
                true
            }
            Ok(_) => true,
            Err(e) if e.reaction() == fulmen_wire::Reaction::Ignore => true,
            Err(e) => {
                tracing::debug!(node = %ann.node_id, peer = ?from, error = %e, "node_announcement dropped");
                false
            }
        }
    }

    /// Signs and applies our `node_announcement` (we have a public channel).
    fn announce_node(&mut self) {
        let now = u32::try_from(self.now()).unwrap_or(u32::MAX);
        self.node_stamp = now.max(self.node_stamp.saturating_add(1));
        let mut alias = [0u8; 32];
        for (dst, src) in alias.iter_mut().zip(self.parts.alias.as_bytes()) {
            *dst = *src;
        }
        let addresses = self
            .parts
            .addresses
            .iter()
            .map(|a| match a {
                SocketAddr::V4(v4) => NetAddress::Ipv4 {
                    addr: *v4.ip(),
                    port: v4.port(),
                },
                SocketAddr::V6(v6) => NetAddress::Ipv6 {
                    addr: *v6.ip(),
                    port: v6.port(),
                },
            })
            .collect();
        let mut ann = NodeAnnouncement {
            signature: self.secp.sign_ecdsa(
                &bitcoin::secp256k1::Message::from_digest([1; 32]),
                &self.parts.node_secret,
            ),
            features: WireFeatures::new(crate::features::our_init_features()),
            timestamp: self.node_stamp,
            node_id: self.our_id,
            rgb_color: [0xf5, 0xa6, 0x23],
            alias,
            addresses,
            extension: Vec::new(),
        };
        sign_node_announcement(&self.secp, &self.parts.node_secret, &mut ann);
        self.on_node_announcement(None, &ann);
    }

    fn on_block(&mut self, height: u32, block: &Block) {
        self.limiter.forget_idle(self.now());
        let mut spent = Vec::new();
        if let Ok(mut g) = self.graph.write() {
            spent = store::remove_spent(&mut g, &mut self.funding, &mut self.store, block);
            for scid in &spent {
                self.local.remove(scid);
            }
            if height % 144 == 0 {
                let stale = g.prune_stale_ids(crate::chain::unix_now());
                for scid in &stale {
                    // Its nodes' announcements, if they left the graph, are
                    // dropped from the store at the next load.
                    self.store.delete_channel(&g, *scid, &[]);
                }
                self.funding.retain(|_, scid| !stale.contains(scid));
                if !stale.is_empty() {
                    tracing::info!(pruned = stale.len(), "stale channels pruned from the graph");
                }
            }
        }
        self.store.set_height(height);
        if !spent.is_empty() {
            tracing::debug!(
                closed = spent.len(),
                height,
                "closed channels left the graph"
            );
        }
    }

    fn on_query_channel_range(&mut self, peer: NodeId, q: &QueryChannelRange) {
        if q.chain_hash != self.chain_hash() {
            return;
        }
        let scids = self
            .graph
            .read()
            .map(|g| g.scids_in_range(q.first_blocknum, q.number_of_blocks))
            .unwrap_or_default();
        // At most 8,000 ids per reply keeps each under 65,535 bytes.
        let chunks: Vec<&[ShortChannelId]> = if scids.is_empty() {
            vec![&[]]
        } else {
            scids.chunks(8000).collect()
        };
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.into_iter().enumerate() {
            let (first, number) = if i == 0 && i == last {
                (q.first_blocknum, q.number_of_blocks)
            } else {
                let first = if i == 0 {
                    q.first_blocknum
                } else {
                    chunk.first().map_or(q.first_blocknum, |s| s.block())
                };
                let end = if i == last {
                    q.first_blocknum.saturating_add(q.number_of_blocks)
                } else {
                    chunk.last().map_or(first, |s| s.block()).saturating_add(1)
                };
                (first, end.saturating_sub(first))
            };
            self.send(
                &peer,
                Message::ReplyChannelRange(ReplyChannelRange {
                    chain_hash: q.chain_hash,
                    first_blocknum: first,
                    number_of_blocks: number,
                    sync_complete: 1,
                    short_channel_ids: chunk.to_vec(),
                    timestamps: None,
                    checksums: None,
                    unknown_tlvs: Vec::new(),
                }),
            );
        }
    }

    fn on_query_scids(&mut self, peer: NodeId, q: &QueryShortChannelIds) {
        if q.chain_hash != self.chain_hash() {
            return;
        }
        let rows = self.store.for_scids(&q.short_channel_ids);
        let mut nodes: Vec<NodeId> = Vec::new();
        if let Ok(g) = self.graph.read() {
            for scid in &q.short_channel_ids {
                if let Some(c) = g.channel(*scid) {
                    for n in [c.node_1, c.node_2] {
                        if !nodes.contains(&n) {
                            nodes.push(n);
                        }
                    }
                }
            }
        }
        let node_rows = self.store.nodes(&nodes);
        self.send_rows(&peer, rows.into_iter().chain(node_rows));
        self.send(
            &peer,
            Message::ReplyShortChannelIdsEnd(ReplyShortChannelIdsEnd {
                chain_hash: q.chain_hash,
                full_information: 1,
                unknown_tlvs: Vec::new(),
            }),
        );
    }

    /// A reply to our `query_channel_range`: the channels we lack, or
    /// whose updates the peer has newer, are asked for. From any other
    /// peer: ignored.
    fn on_reply_channel_range(&mut self, peer: NodeId, r: &ReplyChannelRange) {
        let graph = self.graph.clone();
        let Some(sync) = self.sync_with(peer) else {
            tracing::trace!(%peer, "unsolicited reply_channel_range ignored");
            return;
        };
        let Ok(g) = graph.read() else {
            return;
        };
        let next = sync.on_reply_range(r, |scid, stamps| match g.channel(scid) {
            None => true,
            Some(c) => stamps.is_some_and(|t| {
                let ours = |p: Option<u32>| p.unwrap_or(0);
                t.node_1 > ours(c.one_to_two.as_ref().map(|p| p.timestamp))
                    || t.node_2 > ours(c.two_to_one.as_ref().map(|p| p.timestamp))
            }),
        });
        drop(g);
        if let Some(query) = next {
            self.send(&peer, query);
        }
        self.sync_progress();
    }

    /// The end of the answer to our `query_short_channel_ids`: the next
    /// one, if any is left.
    fn on_reply_scids_end(&mut self, peer: NodeId) {
        let Some(sync) = self.sync_with(peer) else {
            return;
        };
        if let Some(query) = sync.on_reply_end() {
            self.send(&peer, query);
        }
        self.sync_progress();
    }

    /// Gives up a sync the peer left unanswered: it is asked for
    /// everything by timestamp filter instead.
    fn check_sync_stall(&mut self) {
        let now = self.now();
        let Some(peer) = self
            .sync
            .as_ref()
            .filter(|s| s.stalled(now))
            .map(|s| s.peer())
        else {
            return;
        };
        tracing::warn!(%peer, "gossip sync by range queries stalled: asking for everything instead");
        self.sync = None;
        self.synced = true;
        self.send_filter(&peer, 0);
    }

    /// Asks `peer` for the gossip from `first_timestamp` on.
    fn send_filter(&self, peer: &NodeId, first_timestamp: u32) {
        self.send(
            peer,
            Message::GossipTimestampFilter(GossipTimestampFilter {
                chain_hash: self.chain_hash(),
                first_timestamp,
                timestamp_range: u32::MAX,
                unknown_tlvs: Vec::new(),
            }),
        );
    }

    /// Our sync, if it is with `peer`, which was just heard from.
    fn sync_with(&mut self, peer: NodeId) -> Option<&mut sync::RangeSync> {
        let now = self.now();
        let sync = self.sync.as_mut().filter(|s| s.peer() == peer)?;
        sync.heard(now);
        Some(sync)
    }

    /// Ends the sync once everything was asked for and answered.
    fn sync_progress(&mut self) {
        if let Some(s) = self.sync.as_ref().filter(|s| s.finished()) {
            tracing::info!(peer = %s.peer(), channels = s.asked(), "gossip sync by range queries done");
            self.sync = None;
            self.synced = true;
        }
    }

    /// Sends the stored gossip in `[first, first + range)` to a peer: each
    /// channel with an update in range (announcement, then those updates),
    /// then the node announcements in range of nodes with an updated
    /// channel (so the peer can accept them).
    fn dump(&mut self, peer: &NodeId, first: u32, range: u32) {
        let lo = u64::from(first);
        let mut rows = self.store.in_range(lo, lo + u64::from(range));
        if let Ok(g) = self.graph.read() {
            rows.retain(|r| match r.key {
                fulmen_store::GossipKey::NodeAnnouncement(id) => g.node_has_updated_channel(&id),
                _ => true,
            });
        }
        self.send_rows(peer, rows);
    }

    fn send_rows(&self, peer: &NodeId, rows: impl IntoIterator<Item = GossipRow>) {
        for row in rows {
            match Message::decode(&row.message) {
                Ok(msg) => self.send(peer, msg),
                Err(e) => {
                    tracing::warn!(key = ?row.key, error = %e, "stored gossip does not decode: not sent");
                }
            }
        }
    }

    /// Relays what was accepted since the last flush.
    fn flush(&mut self) {
        self.check_sync_stall();
        self.store.commit();
        if self.pending.is_empty() {
            return;
        }
        let pending = core::mem::take(&mut self.pending);
        if let Ok(g) = self.graph.read() {
            let _ = self.parts.events.send(crate::NodeEvent::GraphChanged {
                channels: g.num_channels(),
                nodes: g.num_nodes(),
            });
        }
        let targets: Vec<(NodeId, Option<(u32, u32)>)> = self
            .peers
            .iter()
            .filter(|(_, s)| s.wants)
            .map(|(id, s)| (*id, s.filter))
            .collect();
        for (origin, msg) in &pending {
            let stamp = match msg {
                Message::ChannelUpdate(u) => Some(u.timestamp),
                Message::NodeAnnouncement(n) => Some(n.timestamp),
                _ => None,
            };
            for (peer, filter) in &targets {
                if Some(*peer) == *origin {
                    continue;
                }
                let in_range = match (filter, stamp) {
                    (Some((first, range)), Some(t)) => {
                        t >= *first && u64::from(t) < u64::from(*first) + u64::from(*range)
                    }
                    _ => true,
                };
                if in_range {
                    self.parts.outbox.send(peer, msg.clone());
                }
            }
        }
    }

    fn send(&self, peer: &NodeId, msg: Message) {
        if !self.parts.outbox.send(peer, msg) {
            tracing::trace!(%peer, "gossip for a peer that is gone");
        }
    }

    fn penalise(&mut self, peer: &NodeId) {
        let max = self.parts.config.max_bad_per_peer;
        if let Some(state) = self.peers.get_mut(peer) {
            state.bad = state.bad.saturating_add(1);
            if state.bad > max {
                tracing::warn!(%peer, bad = state.bad, "too many invalid gossip messages: disconnecting");
                state.bad = 0;
                self.parts.outbox.disconnect(peer);
            }
        }
    }
}
