//! The network graph: announced channels and nodes and their latest
//! policies — what routing and gossip validation need, and nothing else.
//!
//! # Driving it
//!
//! * [`NetworkGraph::add_channel`] with a `channel_announcement` whose
//!   funding output the caller has found unspent on chain (script from
//!   [`crate::validate::funding_script`], amount = `capacity`).
//! * [`NetworkGraph::apply_channel_update`] and
//!   [`NetworkGraph::apply_node_announcement`] for the other gossip.
//!   [`UpdateOutcome::Applied`] means "new: store it and queue it for
//!   relay"; [`UpdateOutcome::Duplicate`] and every [`GossipError`] mean "do
//!   not relay" (the error's `reaction` says what to do with the peer).
//! * [`NetworkGraph::remove_channel`] when the funding output is spent,
//!   [`NetworkGraph::prune_stale`] (or [`NetworkGraph::prune_stale_ids`])
//!   now and then.
//! * [`NetworkGraph::scids_in_range`] answers `query_channel_range`.
//!
//! # What is kept, and where the signed messages go
//!
//! The graph keeps no signature and no encoded message. Per channel: the
//! short channel id, the two node indices, the capacity, when it was added,
//! a 64-bit fingerprint of the two funding keys (to tell a duplicate
//! announcement from a conflicting one without keeping the keys), and for
//! each direction the [`DirectedPolicy`] plus a 32-bit fingerprint of the
//! update's signed bytes (to tell a duplicate from a conflicting update of
//! the same timestamp). Per node: its id, its channels, whether it requires
//! unknown features, and (if announced) alias, colour, addresses, features,
//! timestamp and a fingerprint.
//!
//! The signed messages a node relays and answers queries with are the
//! caller's to persist (the node keeps them in its gossip store) and to
//! load back at start with the trusted insertions
//! ([`NetworkGraph::insert_channel_trusted`],
//! [`NetworkGraph::insert_update_trusted`],
//! [`NetworkGraph::insert_node_trusted`], or the byte-level loaders in
//! [`crate::stored`]), which check no signature.
//!
//! Fingerprints are SipHash-2-4 with fixed keys: not collision resistant
//! against a chosen input, but a collision can only make a conflicting
//! message look like a duplicate, and both are dropped without relay.
//!
//! # Memory
//!
//! [`NetworkGraph::approx_memory_bytes`] counts every table, index and
//! boxed node announcement. On the synthetic mainnet-sized graph
//! (`crate::synthetic`, 15,000 nodes and 60,000 channels, both directions
//! updated but for 2% of directions, every node announced) it is 12.9 MB,
//! 214 bytes per channel with the nodes and indexes (the `route` benchmark
//! prints it).

use std::collections::{BTreeMap, HashMap};

use bitcoin::constants::ChainHash;
use bitcoin::hashes::siphash24;
use bitcoin::secp256k1::{Secp256k1, Verification};
use fulmen_types::{Features, Msat, NodeId, Sat, ShortChannelId};
use fulmen_wire::{ChannelAnnouncement, ChannelUpdate, NetAddress, NodeAnnouncement, WireMessage};

use crate::error::GossipError;
use crate::sign::{channel_update_signed_bytes, node_announcement_signed_bytes};
use crate::validate::{
    verify_channel_announcement, verify_channel_update, verify_node_announcement,
};

/// Two weeks (BOLT 7): older `channel_update`s are stale.
pub const STALE_AFTER_SECS: u64 = 1_209_600;

/// How far in the future a timestamp may be: one day.
pub const MAX_FUTURE_SECS: u64 = 86_400;

/// One direction's forwarding policy, from its latest `channel_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirectedPolicy {
    /// The update's timestamp.
    pub timestamp: u32,
    /// The `disable` bit.
    pub disabled: bool,
    /// Blocks the forwarding node subtracts from the incoming `cltv_expiry`.
    pub cltv_expiry_delta: u16,
    /// The smallest HTLC it forwards.
    pub htlc_minimum: Msat,
    /// The largest HTLC it forwards.
    pub htlc_maximum: Msat,
    /// Fixed fee per HTLC.
    pub fee_base_msat: u32,
    /// Proportional fee, per million of the forwarded amount.
    pub fee_proportional_millionths: u32,
}

impl DirectedPolicy {
    /// The policy a `channel_update` sets.
    pub fn from_update(u: &ChannelUpdate) -> Self {
        Self {
            timestamp: u.timestamp,
            disabled: u.is_disabled(),
            cltv_expiry_delta: u.cltv_expiry_delta,
            htlc_minimum: u.htlc_minimum,
            htlc_maximum: u.htlc_maximum,
            fee_base_msat: u.fee_base_msat,
            fee_proportional_millionths: u.fee_proportional_millionths,
        }
    }

    /// The fee for forwarding `amount_to_forward` (BOLT 7 "HTLC Fees"):
    /// `fee_base_msat + amount * fee_proportional_millionths / 1_000_000`,
    /// rounded down; `None` on overflow.
    pub fn fee_for(&self, amount_to_forward: Msat) -> Option<Msat> {
        fee_for(
            self.fee_base_msat,
            self.fee_proportional_millionths,
            amount_to_forward,
        )
    }
}

/// `base + amount * ppm / 1_000_000`, rounded down; `None` on overflow.
pub(crate) fn fee_for(base: u32, ppm: u32, amount: Msat) -> Option<Msat> {
    let prop = u128::from(amount.0) * u128::from(ppm) / 1_000_000;
    let prop = u64::try_from(prop).ok()?;
    prop.checked_add(u64::from(base)).map(Msat)
}

/// What applying a `channel_update` or `node_announcement` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateOutcome {
    /// It was newer and is now stored: relay it.
    Applied,
    /// The same content with the same timestamp was already stored: do not
    /// relay it.
    Duplicate,
}

/// A copy of what the graph knows about one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelView {
    /// The channel.
    pub short_channel_id: ShortChannelId,
    /// The lesser node id.
    pub node_1: NodeId,
    /// The greater node id.
    pub node_2: NodeId,
    /// The funding output's amount.
    pub capacity: Sat,
    /// `node_1`'s policy for forwarding to `node_2` (direction 0).
    pub one_to_two: Option<DirectedPolicy>,
    /// `node_2`'s policy for forwarding to `node_1` (direction 1).
    pub two_to_one: Option<DirectedPolicy>,
}

/// A copy of what the graph knows about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// The node.
    pub node_id: NodeId,
    /// The alias bytes (untrusted: sanitise before display), if announced.
    pub alias: Option<[u8; 32]>,
    /// The announced colour.
    pub rgb_color: Option<[u8; 3]>,
    /// Announced addresses.
    pub addresses: Vec<NetAddress>,
    /// Announced node features (empty if not announced).
    pub features: Features,
    /// The `node_announcement` timestamp.
    pub timestamp: Option<u32>,
    /// How many channels of the graph it has.
    pub num_channels: usize,
}

impl NodeView {
    /// The alias as text: up to the first zero byte, invalid UTF-8 replaced.
    pub fn alias_lossy(&self) -> Option<String> {
        self.alias.map(|a| {
            let end = a.iter().position(|b| *b == 0).unwrap_or(a.len());
            String::from_utf8_lossy(a.get(..end).unwrap_or_default()).into_owned()
        })
    }
}

/// Fixed SipHash keys of the graph's fingerprints (see the module doc).
const FP_K0: u64 = 0x6675_6c6d_656e_2d67;
const FP_K1: u64 = 0x7261_7068_2d66_7031;

/// The 64-bit fingerprint of a channel's two funding keys (compressed
/// serializations, `bitcoin_key_1` then `bitcoin_key_2`) that
/// [`NetworkGraph::insert_channel_trusted`] takes.
pub fn funding_keys_hash(bitcoin_key_1: &[u8; 33], bitcoin_key_2: &[u8; 33]) -> u64 {
    let mut bytes = [0u8; 66];
    for (d, s) in bytes
        .iter_mut()
        .zip(bitcoin_key_1.iter().chain(bitcoin_key_2.iter()))
    {
        *d = *s;
    }
    siphash24::Hash::hash_to_u64_with_keys(FP_K0, FP_K1, &bytes)
}

/// The 32-bit fingerprint of a `channel_update`'s or `node_announcement`'s
/// signed bytes (everything after its signature, as encoded on the wire)
/// that the trusted insertions take.
pub fn message_fingerprint(signed_bytes: &[u8]) -> u32 {
    let h = siphash24::Hash::hash_to_u64_with_keys(FP_K0, FP_K1, signed_bytes);
    (h >> 32) as u32 ^ (h as u32)
}

/// What the graph keeps of an announced node.
#[derive(Debug, Clone)]
struct NodeInfo {
    timestamp: u32,
    fingerprint: u32,
    alias: [u8; 32],
    rgb_color: [u8; 3],
    addresses: Box<[NetAddress]>,
    features: Features,
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelEntry {
    pub(crate) scid: ShortChannelId,
    /// Indices into the node table: `[node_1, node_2]`.
    pub(crate) nodes: [u32; 2],
    pub(crate) capacity: Sat,
    keys_hash: u64,
    /// Unix seconds (u32 lasts until 2106).
    added_at: u32,
    /// Fingerprints of the two directions' updates.
    fingerprints: [u32; 2],
    /// `[one_to_two, two_to_one]`.
    pub(crate) dirs: [Option<DirectedPolicy>; 2],
}

#[derive(Debug, Clone)]
pub(crate) struct NodeEntry {
    pub(crate) id: NodeId,
    /// Indices into the channel table.
    pub(crate) channels: Vec<u32>,
    /// The announced features require an unknown even bit (BOLT 7: do not
    /// route through the node).
    pub(crate) requires_unknown: bool,
    info: Option<Box<NodeInfo>>,
}

/// The network graph. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct NetworkGraph {
    chain: ChainHash,
    channels: Vec<Option<ChannelEntry>>,
    free_channels: Vec<u32>,
    by_scid: BTreeMap<ShortChannelId, u32>,
    nodes: Vec<Option<NodeEntry>>,
    free_nodes: Vec<u32>,
    node_index: HashMap<NodeId, u32>,
}

fn idx(i: u32) -> usize {
    i as usize
}

fn to_u32_secs(t: u64) -> u32 {
    u32::try_from(t).unwrap_or(u32::MAX)
}

impl NetworkGraph {
    /// An empty graph for `chain`; gossip for other chains is refused.
    pub fn new(chain: ChainHash) -> Self {
        Self {
            chain,
            channels: Vec::new(),
            free_channels: Vec::new(),
            by_scid: BTreeMap::new(),
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            node_index: HashMap::new(),
        }
    }

    /// The chain this graph is for.
    pub fn chain(&self) -> ChainHash {
        self.chain
    }

    /// Number of channels.
    pub fn num_channels(&self) -> usize {
        self.by_scid.len()
    }

    /// Number of nodes (every node has at least one channel).
    pub fn num_nodes(&self) -> usize {
        self.node_index.len()
    }

    pub(crate) fn node_slot(&self, id: &NodeId) -> Option<u32> {
        self.node_index.get(id).copied()
    }

    pub(crate) fn node_entry(&self, i: u32) -> Option<&NodeEntry> {
        self.nodes.get(idx(i)).and_then(Option::as_ref)
    }

    pub(crate) fn channel_entry(&self, i: u32) -> Option<&ChannelEntry> {
        self.channels.get(idx(i)).and_then(Option::as_ref)
    }

    pub(crate) fn node_slots(&self) -> usize {
        self.nodes.len()
    }

    fn channel_slot(&self, scid: ShortChannelId) -> Option<(u32, &ChannelEntry)> {
        let i = *self.by_scid.get(&scid)?;
        Some((i, self.channel_entry(i)?))
    }

    fn node_id_at(&self, i: u32) -> Option<NodeId> {
        self.node_entry(i).map(|n| n.id)
    }

    /// Validates a `channel_announcement` (chain, node order, features, the
    /// four signatures) and adds the channel. `Ok(false)` if a channel with
    /// this short channel id, these node ids and these funding keys is
    /// already known (do not relay); the same id with different nodes or
    /// keys is [`GossipError::ConflictingAnnouncement`].
    ///
    /// The caller has already checked the funding output on chain: the
    /// script is [`crate::validate::funding_script`] of the two bitcoin
    /// keys, its amount is `capacity`, and it is unspent. `now` is recorded
    /// so that [`NetworkGraph::prune_stale`] can drop a channel that never
    /// gets a `channel_update`.
    pub fn add_channel<C: Verification>(
        &mut self,
        secp: &Secp256k1<C>,
        ann: &ChannelAnnouncement,
        capacity: Sat,
        now: u64,
    ) -> Result<bool, GossipError> {
        if ann.chain_hash != self.chain {
            return Err(GossipError::WrongChain(ann.chain_hash));
        }
        let keys_hash = funding_keys_hash(
            &ann.bitcoin_key_1.serialize(),
            &ann.bitcoin_key_2.serialize(),
        );
        if let Some((_, c)) = self.channel_slot(ann.short_channel_id) {
            let same = self.node_id_at(c.nodes[0]) == Some(ann.node_id_1)
                && self.node_id_at(c.nodes[1]) == Some(ann.node_id_2)
                && c.keys_hash == keys_hash;
            return if same {
                Ok(false)
            } else {
                Err(GossipError::ConflictingAnnouncement(ann.short_channel_id))
            };
        }
        verify_channel_announcement(secp, ann, self.chain)?;
        ann.encode_message().map_err(GossipError::Encode)?;
        Ok(self.insert_channel_trusted(
            ann.short_channel_id,
            ann.node_id_1,
            ann.node_id_2,
            capacity,
            keys_hash,
            now,
        ))
    }

    /// Adds a channel whose announcement was validated before (loading
    /// from the node's store): no check beyond "not known yet" (`false`,
    /// nothing changed, if the short channel id is). `keys_hash` is
    /// [`funding_keys_hash`] of the two funding keys; `added_at` is when it
    /// was first added (unix seconds).
    pub fn insert_channel_trusted(
        &mut self,
        scid: ShortChannelId,
        node_1: NodeId,
        node_2: NodeId,
        capacity: Sat,
        keys_hash: u64,
        added_at: u64,
    ) -> bool {
        if self.by_scid.contains_key(&scid) || node_1 == node_2 {
            return false;
        }
        let n1 = self.node_or_insert(node_1);
        let n2 = self.node_or_insert(node_2);
        let entry = ChannelEntry {
            scid,
            nodes: [n1, n2],
            capacity,
            keys_hash,
            added_at: to_u32_secs(added_at),
            fingerprints: [0; 2],
            dirs: [None, None],
        };
        let slot = match self.free_channels.pop() {
            Some(s) => {
                if let Some(e) = self.channels.get_mut(idx(s)) {
                    *e = Some(entry);
                }
                s
            }
            None => {
                let s = u32::try_from(self.channels.len()).unwrap_or(u32::MAX);
                self.channels.push(Some(entry));
                s
            }
        };
        self.by_scid.insert(scid, slot);
        for n in [n1, n2] {
            if let Some(Some(node)) = self.nodes.get_mut(idx(n)) {
                node.channels.push(slot);
            }
        }
        true
    }

    fn node_or_insert(&mut self, id: NodeId) -> u32 {
        if let Some(i) = self.node_slot(&id) {
            return i;
        }
        let entry = NodeEntry {
            id,
            channels: Vec::new(),
            requires_unknown: false,
            info: None,
        };
        let slot = match self.free_nodes.pop() {
            Some(s) => {
                if let Some(e) = self.nodes.get_mut(idx(s)) {
                    *e = Some(entry);
                }
                s
            }
            None => {
                let s = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
                self.nodes.push(Some(entry));
                s
            }
        };
        self.node_index.insert(id, slot);
        slot
    }

    /// Validates and applies a `channel_update`, in this order: chain;
    /// channel known ([`GossipError::UnknownChannel`]); timestamp at most two
    /// weeks old and at most a day ahead of `now`; newer than the stored one
    /// (equal with the same content is [`UpdateOutcome::Duplicate`], equal
    /// with other content [`GossipError::ConflictingUpdate`], older
    /// [`GossipError::StaleUpdate`]); `htlc_maximum` within the capacity;
    /// signature by `node_id_1` for direction 0, `node_id_2` for 1.
    pub fn apply_channel_update<C: Verification>(
        &mut self,
        secp: &Secp256k1<C>,
        upd: &ChannelUpdate,
        now: u64,
    ) -> Result<UpdateOutcome, GossipError> {
        if upd.chain_hash != self.chain {
            return Err(GossipError::WrongChain(upd.chain_hash));
        }
        let (_, c) = self
            .channel_slot(upd.short_channel_id)
            .ok_or(GossipError::UnknownChannel(upd.short_channel_id))?;
        let ts = u64::from(upd.timestamp);
        if ts.saturating_add(STALE_AFTER_SECS) < now {
            return Err(GossipError::TimestampTooOld {
                timestamp: upd.timestamp,
            });
        }
        if ts > now.saturating_add(MAX_FUTURE_SECS) {
            return Err(GossipError::TimestampInFuture {
                timestamp: upd.timestamp,
            });
        }
        let dir = usize::from(upd.direction());
        let fingerprint = message_fingerprint(&channel_update_signed_bytes(upd));
        if let Some(Some(old)) = c.dirs.get(dir) {
            if upd.timestamp < old.timestamp {
                return Err(GossipError::StaleUpdate {
                    stored: old.timestamp,
                    received: upd.timestamp,
                });
            }
            if upd.timestamp == old.timestamp {
                let same = DirectedPolicy::from_update(upd) == *old
                    && c.fingerprints.get(dir) == Some(&fingerprint);
                return if same {
                    Ok(UpdateOutcome::Duplicate)
                } else {
                    Err(GossipError::ConflictingUpdate {
                        timestamp: upd.timestamp,
                    })
                };
            }
        }
        if c.capacity
            .checked_to_msat()
            .is_none_or(|cap| upd.htlc_maximum > cap)
        {
            return Err(GossipError::HtlcMaximumAboveCapacity);
        }
        let signer_slot = c.nodes.get(dir).copied().unwrap_or_default();
        let signer = self
            .node_id_at(signer_slot)
            .ok_or(GossipError::InvalidKey)?;
        verify_channel_update(secp, upd, &signer)?;
        upd.encode_message().map_err(GossipError::Encode)?;
        self.insert_update_trusted(
            upd.short_channel_id,
            upd.direction(),
            DirectedPolicy::from_update(upd),
            fingerprint,
        );
        Ok(UpdateOutcome::Applied)
    }

    /// Sets one direction's policy from an update validated before (loading
    /// from the node's store): no signature, timestamp or limit check.
    /// `direction` is the update's direction bit (0: `node_1` forwards to
    /// `node_2`); `fingerprint` is [`message_fingerprint`] of its signed
    /// bytes. `false` if the channel is unknown.
    pub fn insert_update_trusted(
        &mut self,
        scid: ShortChannelId,
        direction: u8,
        policy: DirectedPolicy,
        fingerprint: u32,
    ) -> bool {
        let Some(slot) = self.by_scid.get(&scid).copied() else {
            return false;
        };
        let dir = usize::from(direction & 1);
        match self.channels.get_mut(idx(slot)) {
            Some(Some(c)) => {
                if let Some(d) = c.dirs.get_mut(dir) {
                    *d = Some(policy);
                }
                if let Some(f) = c.fingerprints.get_mut(dir) {
                    *f = fingerprint;
                }
                true
            }
            _ => false,
        }
    }

    /// Validates and applies a `node_announcement`: the node must have a
    /// channel ([`GossipError::UnknownNode`]), the timestamp must be at most
    /// a day ahead of `now` and newer than the stored one (equal with the
    /// same content is [`UpdateOutcome::Duplicate`]), and the signature
    /// valid. Alias, colour, addresses and features are kept (not the
    /// signature).
    pub fn apply_node_announcement<C: Verification>(
        &mut self,
        secp: &Secp256k1<C>,
        ann: &NodeAnnouncement,
        now: u64,
    ) -> Result<UpdateOutcome, GossipError> {
        let slot = self
            .node_slot(&ann.node_id)
            .ok_or(GossipError::UnknownNode(ann.node_id))?;
        if u64::from(ann.timestamp) > now.saturating_add(MAX_FUTURE_SECS) {
            return Err(GossipError::TimestampInFuture {
                timestamp: ann.timestamp,
            });
        }
        let fingerprint = message_fingerprint(&node_announcement_signed_bytes(ann));
        if let Some(old) = self.node_entry(slot).and_then(|n| n.info.as_deref()) {
            if ann.timestamp < old.timestamp {
                return Err(GossipError::StaleUpdate {
                    stored: old.timestamp,
                    received: ann.timestamp,
                });
            }
            if ann.timestamp == old.timestamp {
                return if fingerprint == old.fingerprint {
                    Ok(UpdateOutcome::Duplicate)
                } else {
                    Err(GossipError::ConflictingUpdate {
                        timestamp: ann.timestamp,
                    })
                };
            }
        }
        verify_node_announcement(secp, ann)?;
        ann.encode_message().map_err(GossipError::Encode)?;
        self.insert_node_trusted(ann);
        Ok(UpdateOutcome::Applied)
    }

    /// Records a node's announcement validated before (loading from the
    /// node's store): no signature or timestamp check. `false` if the node
    /// has no channel in the graph.
    pub fn insert_node_trusted(&mut self, ann: &NodeAnnouncement) -> bool {
        let Some(slot) = self.node_slot(&ann.node_id) else {
            return false;
        };
        let features = ann.features.features();
        let info = NodeInfo {
            timestamp: ann.timestamp,
            fingerprint: message_fingerprint(&node_announcement_signed_bytes(ann)),
            alias: ann.alias,
            rgb_color: ann.rgb_color,
            addresses: ann.addresses.clone().into_boxed_slice(),
            features: features.clone(),
        };
        match self.nodes.get_mut(idx(slot)) {
            Some(Some(node)) => {
                node.requires_unknown = features.requires_unknown_bits();
                node.info = Some(Box::new(info));
                true
            }
            _ => false,
        }
    }

    /// Removes a channel (its funding output was spent). Nodes left without
    /// a channel are dropped with their announcement. `false` if unknown.
    pub fn remove_channel(&mut self, scid: ShortChannelId) -> bool {
        let Some(slot) = self.by_scid.remove(&scid) else {
            return false;
        };
        let Some(entry) = self.channels.get_mut(idx(slot)).and_then(Option::take) else {
            return false;
        };
        self.free_channels.push(slot);
        for n in entry.nodes {
            let empty = match self.nodes.get_mut(idx(n)) {
                Some(Some(node)) => {
                    if let Some(p) = node.channels.iter().position(|c| *c == slot) {
                        node.channels.swap_remove(p);
                    }
                    node.channels.is_empty()
                }
                _ => false,
            };
            if empty {
                if let Some(node) = self.nodes.get_mut(idx(n)).and_then(Option::take) {
                    self.node_index.remove(&node.id);
                    self.free_nodes.push(n);
                }
            }
        }
        true
    }

    /// Removes stale channels and returns how many. A channel is stale when
    /// none of its directions has a `channel_update` younger than two weeks,
    /// and it has some update or was added more than two weeks ago (so a
    /// fresh announcement waits two weeks for its first update).
    ///
    /// BOLT 7 also allows pruning when only one direction is stale; Fulmen
    /// keeps such a channel (the fresh direction is still usable).
    pub fn prune_stale(&mut self, now: u64) -> usize {
        self.prune_stale_ids(now).len()
    }

    /// [`NetworkGraph::prune_stale`], returning the removed channels' ids
    /// (to delete them from a store too).
    pub fn prune_stale_ids(&mut self, now: u64) -> Vec<ShortChannelId> {
        let stale = |t: u64| t.saturating_add(STALE_AFTER_SECS) < now;
        let doomed: Vec<ShortChannelId> = self
            .channels
            .iter()
            .flatten()
            .filter(|c| {
                let mut updates = c.dirs.iter().flatten().peekable();
                if updates.peek().is_none() {
                    stale(u64::from(c.added_at))
                } else {
                    updates.all(|d| stale(u64::from(d.timestamp)))
                }
            })
            .map(|c| c.scid)
            .collect();
        doomed
            .into_iter()
            .filter(|s| self.remove_channel(*s))
            .collect()
    }

    /// What the graph knows about a channel.
    pub fn channel(&self, scid: ShortChannelId) -> Option<ChannelView> {
        let (_, c) = self.channel_slot(scid)?;
        let [d0, d1] = c.dirs;
        Some(ChannelView {
            short_channel_id: c.scid,
            node_1: self.node_id_at(c.nodes[0])?,
            node_2: self.node_id_at(c.nodes[1])?,
            capacity: c.capacity,
            one_to_two: d0,
            two_to_one: d1,
        })
    }

    /// Every channel's short channel id, in no particular order.
    pub fn channel_ids(&self) -> impl Iterator<Item = ShortChannelId> + '_ {
        self.channels.iter().flatten().map(|c| c.scid)
    }

    /// What the graph knows about a node.
    pub fn node(&self, id: &NodeId) -> Option<NodeView> {
        let n = self.node_entry(self.node_slot(id)?)?;
        let a = n.info.as_deref();
        Some(NodeView {
            node_id: n.id,
            alias: a.map(|a| a.alias),
            rgb_color: a.map(|a| a.rgb_color),
            addresses: a.map(|a| a.addresses.to_vec()).unwrap_or_default(),
            features: a.map(|a| a.features.clone()).unwrap_or_default(),
            timestamp: a.map(|a| a.timestamp),
            num_channels: n.channels.len(),
        })
    }

    /// Whether a node has a channel with at least one `channel_update` (so
    /// a peer given the channel's gossip can accept its
    /// `node_announcement`).
    pub fn node_has_updated_channel(&self, id: &NodeId) -> bool {
        self.node_slot(id)
            .and_then(|i| self.node_entry(i))
            .is_some_and(|n| {
                n.channels.iter().any(|c| {
                    self.channel_entry(*c)
                        .is_some_and(|c| c.dirs.iter().any(Option::is_some))
                })
            })
    }

    /// The channels of a node (none if unknown).
    pub fn channels_of<'a>(&'a self, node: &NodeId) -> impl Iterator<Item = ShortChannelId> + 'a {
        self.node_slot(node)
            .and_then(|i| self.node_entry(i))
            .into_iter()
            .flat_map(|n| n.channels.iter())
            .filter_map(|c| self.channel_entry(*c).map(|c| c.scid))
    }

    /// The short channel ids of channels funded in blocks
    /// `first_block .. first_block + num_blocks`, sorted (for
    /// `reply_channel_range`).
    pub fn scids_in_range(&self, first_block: u32, num_blocks: u32) -> Vec<ShortChannelId> {
        const BLOCKS: u64 = 1 << 24; // a short channel id's block is 24 bits
        let first = u64::from(first_block);
        if first >= BLOCKS {
            return Vec::new();
        }
        let lo = ShortChannelId(first << 40);
        let end = first + u64::from(num_blocks);
        let found: Vec<ShortChannelId> = if end >= BLOCKS {
            self.by_scid.range(lo..).map(|(s, _)| *s).collect()
        } else {
            self.by_scid
                .range(lo..ShortChannelId(end << 40))
                .map(|(s, _)| *s)
                .collect()
        };
        found
    }

    /// Frees spare capacity of the tables (after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        self.channels.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.node_index.shrink_to_fit();
        for n in self.nodes.iter_mut().flatten() {
            n.channels.shrink_to_fit();
        }
    }

    /// An estimate of the heap and inline memory the graph uses, in bytes:
    /// the channel and node tables at their capacity, each node's channel
    /// list, the boxed node announcements with their addresses and
    /// features, the short-channel-id B-tree (leaves about 2/3 full) and
    /// the node-id hash map (its buckets and control bytes).
    pub fn approx_memory_bytes(&self) -> usize {
        use core::mem::size_of;
        let mut total = size_of::<Self>();
        total += self.channels.capacity() * size_of::<Option<ChannelEntry>>();
        total += (self.free_channels.capacity() + self.free_nodes.capacity()) * size_of::<u32>();
        // B-tree: 11 keys and values per node plus a parent pointer and
        // lengths, about 2/3 full; internal nodes add about 1/11.
        let btree_node = 11 * (size_of::<ShortChannelId>() + size_of::<u32>()) + 16;
        total += self.by_scid.len() * btree_node * 3 / (2 * 11) * 12 / 11;
        // Hash map: buckets are a power of two at most 7/8 full, one
        // control byte each.
        let buckets = (self.node_index.capacity() * 8 / 7).next_power_of_two();
        total += buckets * (size_of::<(NodeId, u32)>() + 1);
        total += self.nodes.capacity() * size_of::<Option<NodeEntry>>();
        for n in self.nodes.iter().flatten() {
            total += n.channels.capacity() * size_of::<u32>();
            if let Some(a) = &n.info {
                total += size_of::<NodeInfo>()
                    + a.addresses.len() * size_of::<NetAddress>()
                    + a.features.to_wire().len();
            }
        }
        total
    }
}
