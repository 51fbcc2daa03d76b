//! The network graph: announced channels and nodes, their latest policies,
//! and the signed gossip needed to pass them on.
//!
//! # Driving it
//!
//! * [`NetworkGraph::add_channel`] with a `channel_announcement` whose
//!   funding output the caller has found unspent on chain (script from
//!   [`crate::validate::funding_script`], amount = `capacity`).
//! * [`NetworkGraph::apply_channel_update`] and
//!   [`NetworkGraph::apply_node_announcement`] for the other gossip.
//!   [`UpdateOutcome::Applied`] means "new: queue it for relay";
//!   [`UpdateOutcome::Duplicate`] and every [`GossipError`] mean "do not
//!   relay" (the error's `reaction` says what to do with the peer).
//! * [`NetworkGraph::remove_channel`] when the funding output is spent,
//!   [`NetworkGraph::prune_stale`] now and then.
//! * [`NetworkGraph::gossip_messages`], [`NetworkGraph::gossip_since`],
//!   [`NetworkGraph::scids_in_range`] and
//!   [`NetworkGraph::messages_for_scids`] answer peers' sync and queries.
//!
//! # Memory
//!
//! The target is a mainnet graph (~15,000 nodes, ~60,000 channels). What
//! routing reads (node indices, capacity, two [`DirectedPolicy`]) is kept
//! inline in one slot per channel. To re-send gossip, the signed messages are
//! kept in parts rather than as encoded bytes: the four announcement
//! signatures and the two funding keys (33 bytes each, not secp's 64-byte
//! internal form); the chain hash, short channel id and node ids are not
//! repeated; features and extension are boxed only when non-empty; a
//! `channel_update` keeps its signature, flags and extension next to its
//! policy. Messages are re-encoded when sent (the wire codec round-trips
//! exactly, so the signatures still verify; a test checks the bytes).
//!
//! Measured with [`NetworkGraph::approx_memory_bytes`] on a mainnet-shaped
//! graph (four channels per node, both directions updated, every node
//! announced): ~750 bytes per channel, nodes included, i.e. ~45 MB for
//! 60,000 channels. That is above the 25 MB target: 384 bytes per channel
//! are the six signatures a relaying node must keep, and no encoding can
//! shrink them. Meeting the target needs a routing-only graph that keeps no
//! signatures (the routing data is ~120 bytes per channel); it does not
//! exist yet.

use std::collections::{BTreeMap, HashMap, HashSet};

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{PublicKey, Secp256k1, Verification};
use fulmen_types::{Features, Msat, NodeId, Sat, ShortChannelId};
use fulmen_wire::{
    ChannelAnnouncement, ChannelUpdate, NetAddress, NodeAnnouncement, WireFeatures, WireMessage,
};

use crate::error::GossipError;
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

/// Features and extension of a `channel_announcement`, when not empty.
#[derive(Debug, Clone)]
struct AnnouncementTail {
    features: WireFeatures,
    extension: Vec<u8>,
}

/// The parts of a `channel_announcement` not stored elsewhere.
#[derive(Debug, Clone)]
struct AnnouncementParts {
    signatures: [Signature; 4],
    bitcoin_keys: [[u8; 33]; 2],
    tail: Option<Box<AnnouncementTail>>,
}

/// One direction's latest `channel_update`.
#[derive(Debug, Clone)]
pub(crate) struct Direction {
    pub(crate) policy: DirectedPolicy,
    message_flags: u8,
    channel_flags: u8,
    signature: Signature,
    extension: Box<[u8]>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelEntry {
    pub(crate) scid: ShortChannelId,
    /// Indices into the node table: `[node_1, node_2]`.
    pub(crate) nodes: [u32; 2],
    pub(crate) capacity: Sat,
    added_at: u64,
    pub(crate) dirs: [Option<Direction>; 2],
    announcement: Box<AnnouncementParts>,
}

#[derive(Debug, Clone)]
pub(crate) struct NodeEntry {
    pub(crate) id: NodeId,
    /// Indices into the channel table.
    pub(crate) channels: Vec<u32>,
    announcement: Option<Box<NodeAnnouncement>>,
    /// The announced features require an unknown even bit (BOLT 7: do not
    /// route through the node).
    pub(crate) requires_unknown: bool,
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
        if let Some((_, c)) = self.channel_slot(ann.short_channel_id) {
            let same = self.node_id_at(c.nodes[0]) == Some(ann.node_id_1)
                && self.node_id_at(c.nodes[1]) == Some(ann.node_id_2)
                && c.announcement.bitcoin_keys
                    == [ann.bitcoin_key_1.serialize(), ann.bitcoin_key_2.serialize()];
            return if same {
                Ok(false)
            } else {
                Err(GossipError::ConflictingAnnouncement(ann.short_channel_id))
            };
        }
        verify_channel_announcement(secp, ann, self.chain)?;
        ann.encode_message().map_err(GossipError::Encode)?;

        let tail = (!ann.features.to_wire().is_empty() || !ann.extension.is_empty()).then(|| {
            Box::new(AnnouncementTail {
                features: ann.features.clone(),
                extension: ann.extension.clone(),
            })
        });
        let n1 = self.node_or_insert(ann.node_id_1);
        let n2 = self.node_or_insert(ann.node_id_2);
        let entry = ChannelEntry {
            scid: ann.short_channel_id,
            nodes: [n1, n2],
            capacity,
            added_at: now,
            dirs: [None, None],
            announcement: Box::new(AnnouncementParts {
                signatures: [
                    ann.node_signature_1,
                    ann.node_signature_2,
                    ann.bitcoin_signature_1,
                    ann.bitcoin_signature_2,
                ],
                bitcoin_keys: [ann.bitcoin_key_1.serialize(), ann.bitcoin_key_2.serialize()],
                tail,
            }),
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
        self.by_scid.insert(ann.short_channel_id, slot);
        for n in [n1, n2] {
            if let Some(Some(node)) = self.nodes.get_mut(idx(n)) {
                node.channels.push(slot);
            }
        }
        Ok(true)
    }

    fn node_or_insert(&mut self, id: NodeId) -> u32 {
        if let Some(i) = self.node_index.get(&id) {
            return *i;
        }
        let entry = NodeEntry {
            id,
            channels: Vec::new(),
            announcement: None,
            requires_unknown: false,
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
        let (slot, c) = self
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
        if let Some(Some(old)) = c.dirs.get(dir) {
            if upd.timestamp < old.policy.timestamp {
                return Err(GossipError::StaleUpdate {
                    stored: old.policy.timestamp,
                    received: upd.timestamp,
                });
            }
            if upd.timestamp == old.policy.timestamp {
                let same = DirectedPolicy::from_update(upd) == old.policy
                    && upd.message_flags == old.message_flags
                    && upd.channel_flags == old.channel_flags
                    && *upd.extension == *old.extension;
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
        let new = Direction {
            policy: DirectedPolicy::from_update(upd),
            message_flags: upd.message_flags,
            channel_flags: upd.channel_flags,
            signature: upd.signature,
            extension: upd.extension.clone().into_boxed_slice(),
        };
        if let Some(Some(c)) = self.channels.get_mut(idx(slot)) {
            if let Some(d) = c.dirs.get_mut(dir) {
                *d = Some(new);
            }
        }
        Ok(UpdateOutcome::Applied)
    }

    /// Validates and applies a `node_announcement`: the node must have a
    /// channel ([`GossipError::UnknownNode`]), the timestamp must be at most
    /// a day ahead of `now` and newer than the stored one (equal with the
    /// same content is [`UpdateOutcome::Duplicate`]), and the signature
    /// valid. Alias, colour, addresses, features and the signature are kept.
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
        if let Some(old) = self
            .node_entry(slot)
            .and_then(|n| n.announcement.as_deref())
        {
            if ann.timestamp < old.timestamp {
                return Err(GossipError::StaleUpdate {
                    stored: old.timestamp,
                    received: ann.timestamp,
                });
            }
            if ann.timestamp == old.timestamp {
                let same = NodeAnnouncement {
                    signature: old.signature,
                    ..ann.clone()
                } == *old;
                return if same {
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
        if let Some(Some(node)) = self.nodes.get_mut(idx(slot)) {
            node.requires_unknown = ann.features.features().requires_unknown_bits();
            node.announcement = Some(Box::new(ann.clone()));
        }
        Ok(UpdateOutcome::Applied)
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
        let stale = |t: u64| t.saturating_add(STALE_AFTER_SECS) < now;
        let doomed: Vec<ShortChannelId> = self
            .channels
            .iter()
            .flatten()
            .filter(|c| {
                let mut updates = c.dirs.iter().flatten().peekable();
                if updates.peek().is_none() {
                    stale(c.added_at)
                } else {
                    updates.all(|d| stale(u64::from(d.policy.timestamp)))
                }
            })
            .map(|c| c.scid)
            .collect();
        doomed.iter().filter(|s| self.remove_channel(**s)).count()
    }

    /// What the graph knows about a channel.
    pub fn channel(&self, scid: ShortChannelId) -> Option<ChannelView> {
        let (_, c) = self.channel_slot(scid)?;
        let [d0, d1] = &c.dirs;
        Some(ChannelView {
            short_channel_id: c.scid,
            node_1: self.node_id_at(c.nodes[0])?,
            node_2: self.node_id_at(c.nodes[1])?,
            capacity: c.capacity,
            one_to_two: d0.as_ref().map(|d| d.policy),
            two_to_one: d1.as_ref().map(|d| d.policy),
        })
    }

    /// Every channel's short channel id, in no particular order.
    pub fn channel_ids(&self) -> impl Iterator<Item = ShortChannelId> + '_ {
        self.channels.iter().flatten().map(|c| c.scid)
    }

    /// What the graph knows about a node.
    pub fn node(&self, id: &NodeId) -> Option<NodeView> {
        let n = self.node_entry(self.node_slot(id)?)?;
        let a = n.announcement.as_deref();
        Some(NodeView {
            node_id: n.id,
            alias: a.map(|a| a.alias),
            rgb_color: a.map(|a| a.rgb_color),
            addresses: a.map(|a| a.addresses.clone()).unwrap_or_default(),
            features: a.map(|a| a.features.features().clone()).unwrap_or_default(),
            timestamp: a.map(|a| a.timestamp),
            num_channels: n.channels.len(),
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

    fn encode_announcement(&self, c: &ChannelEntry) -> Option<Vec<u8>> {
        let a = &c.announcement;
        let [s1, s2, b1, b2] = a.signatures;
        let [k1, k2] = &a.bitcoin_keys;
        let (features, extension) = match &a.tail {
            Some(t) => (t.features.clone(), t.extension.clone()),
            None => (WireFeatures::default(), Vec::new()),
        };
        ChannelAnnouncement {
            node_signature_1: s1,
            node_signature_2: s2,
            bitcoin_signature_1: b1,
            bitcoin_signature_2: b2,
            features,
            chain_hash: self.chain,
            short_channel_id: c.scid,
            node_id_1: self.node_id_at(c.nodes[0])?,
            node_id_2: self.node_id_at(c.nodes[1])?,
            bitcoin_key_1: PublicKey::from_slice(k1).ok()?,
            bitcoin_key_2: PublicKey::from_slice(k2).ok()?,
            extension,
        }
        .encode_message()
        .ok()
    }

    fn encode_update(&self, c: &ChannelEntry, d: &Direction) -> Option<Vec<u8>> {
        let p = &d.policy;
        ChannelUpdate {
            signature: d.signature,
            chain_hash: self.chain,
            short_channel_id: c.scid,
            timestamp: p.timestamp,
            message_flags: d.message_flags,
            channel_flags: d.channel_flags,
            cltv_expiry_delta: p.cltv_expiry_delta,
            htlc_minimum: p.htlc_minimum,
            fee_base_msat: p.fee_base_msat,
            fee_proportional_millionths: p.fee_proportional_millionths,
            htlc_maximum: p.htlc_maximum,
            extension: d.extension.to_vec(),
        }
        .encode_message()
        .ok()
    }

    fn encode_node(&self, n: u32) -> Option<(u32, Vec<u8>)> {
        let a = self.node_entry(n)?.announcement.as_deref()?;
        Some((a.timestamp, a.encode_message().ok()?))
    }

    /// Every stored message, encoded, for an initial sync: for each channel
    /// in short channel id order that has at least one `channel_update`, its
    /// `channel_announcement`, then its updates, then the
    /// `node_announcement`s of its nodes not sent yet. A channel with no
    /// update is not sent (BOLT 7), nor is a node none of whose channels is.
    pub fn gossip_messages(&self) -> Vec<Vec<u8>> {
        self.gossip_between(0, u64::MAX)
    }

    /// The messages a `gossip_timestamp_filter` asks for: those with
    /// `first_timestamp <= timestamp < first_timestamp + range`, where a
    /// `channel_announcement` takes the timestamp of either of its updates
    /// (it is sent if either is in range, before them). A `node_announcement`
    /// in range follows the first announcement sent that names its node, or
    /// comes at the end if none is, and only if one of the node's channels
    /// has an update (so the peer can have its announcement).
    pub fn gossip_since(&self, first_timestamp: u32, range: u32) -> Vec<Vec<u8>> {
        let lo = u64::from(first_timestamp);
        self.gossip_between(lo, lo + u64::from(range))
    }

    fn gossip_between(&self, lo: u64, hi: u64) -> Vec<Vec<u8>> {
        let in_range = |t: u32| (lo..hi).contains(&u64::from(t));
        let mut out = Vec::new();
        let mut nodes_sent = HashSet::new();
        for slot in self.by_scid.values() {
            let Some(c) = self.channel_entry(*slot) else {
                continue;
            };
            if !c
                .dirs
                .iter()
                .flatten()
                .any(|d| in_range(d.policy.timestamp))
            {
                continue;
            }
            let Some(ann) = self.encode_announcement(c) else {
                continue;
            };
            out.push(ann);
            for d in c.dirs.iter().flatten() {
                if in_range(d.policy.timestamp) {
                    out.extend(self.encode_update(c, d));
                }
            }
            for n in c.nodes {
                if let Some((t, bytes)) = self.encode_node(n) {
                    if in_range(t) && nodes_sent.insert(n) {
                        out.push(bytes);
                    }
                }
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(n) = n else { continue };
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let announced = n.channels.iter().any(|c| {
                self.channel_entry(*c)
                    .is_some_and(|c| c.dirs.iter().any(Option::is_some))
            });
            if announced && !nodes_sent.contains(&i) {
                if let Some((t, bytes)) = self.encode_node(i) {
                    if in_range(t) {
                        out.push(bytes);
                    }
                }
            }
        }
        out
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

    /// The reply to `query_short_channel_ids`: for each known id in order,
    /// its `channel_announcement`, its `channel_update`s, and the
    /// `node_announcement`s of its nodes, each node at most once.
    pub fn messages_for_scids(&self, scids: &[ShortChannelId]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut nodes_sent = HashSet::new();
        for scid in scids {
            let Some((_, c)) = self.channel_slot(*scid) else {
                continue;
            };
            let Some(ann) = self.encode_announcement(c) else {
                continue;
            };
            out.push(ann);
            for d in c.dirs.iter().flatten() {
                out.extend(self.encode_update(c, d));
            }
            for n in c.nodes {
                if nodes_sent.insert(n) {
                    out.extend(self.encode_node(n).map(|(_, b)| b));
                }
            }
        }
        out
    }

    /// An estimate of the heap and inline memory the graph uses, in bytes.
    pub fn approx_memory_bytes(&self) -> usize {
        use core::mem::size_of;
        let mut total = size_of::<Self>();
        total += self.channels.capacity() * size_of::<Option<ChannelEntry>>();
        total += (self.free_channels.capacity() + self.free_nodes.capacity()) * size_of::<u32>();
        // B-tree leaves hold up to 11 entries and are about 2/3 full.
        total += self.by_scid.len() * (size_of::<ShortChannelId>() + size_of::<u32>()) * 3 / 2;
        // Hash map: one control byte per bucket, buckets 8/7 of the length.
        total += self.node_index.capacity() * (size_of::<(NodeId, u32)>() + 1) * 8 / 7;
        for c in self.channels.iter().flatten() {
            total += size_of::<AnnouncementParts>();
            if let Some(t) = &c.announcement.tail {
                total += size_of::<AnnouncementTail>()
                    + t.features.to_wire().len()
                    + t.extension.capacity();
            }
            total += c
                .dirs
                .iter()
                .flatten()
                .map(|d| d.extension.len())
                .sum::<usize>();
        }
        total += self.nodes.capacity() * size_of::<Option<NodeEntry>>();
        for n in self.nodes.iter().flatten() {
            total += n.channels.capacity() * size_of::<u32>();
            if let Some(a) = &n.announcement {
                total += size_of::<NodeAnnouncement>()
                    + a.addresses.capacity() * size_of::<NetAddress>()
                    + a.extension.capacity()
                    + a.features.to_wire().len();
            }
        }
        total
    }
}
