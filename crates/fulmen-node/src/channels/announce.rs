//! Our side of BOLT 7 for our own channels: the `channel_update` carrying
//! our forwarding policy (sent to the peer once the channel is ready, put
//! in failure messages, relayed with the announcement), and, for channels
//! opened with the announce bit, the `announcement_signatures` exchange at
//! 6 confirmations that makes the `channel_announcement`.
//!
//! Announcements reveal no channel state: they are handed to the gossip
//! thread ([`crate::gossip`]) once the tick is committed, which validates
//! them like any other, adds them to the graph and relays them.

use bitcoin::constants::ChainHash;
use fulmen_channel::Channel;
use fulmen_graph::sign::{channel_announcement_digest, sign_channel_update, sign_digest};
use fulmen_types::{ChannelId, Msat, NodeId};
use fulmen_wire::{
    AnnouncementSignatures, ChannelAnnouncement, ChannelUpdate, Message, WireFeatures, WireMessage,
};

use super::manager::{after, ChannelManager};
use super::{Broadcaster, Outbox, Outgoing, Persister, Tick};
use crate::gossip::GossipInput;

/// Confirmations before a channel is announced (BOLT 7).
pub const ANNOUNCEMENT_DEPTH: u32 = 6;

/// `channel_update` `message_flags`: `htlc_maximum_msat` is present.
const MSG_FLAG_HTLC_MAX: u8 = 1;
/// `channel_update` `channel_flags`: the direction is disabled.
const CHAN_FLAG_DISABLED: u8 = 2;

/// Where a channel's announcement stands (in memory: after a restart the
/// signatures are exchanged again, as BOLT 2 asks on reconnection).
#[derive(Debug, Clone, Default)]
pub(crate) struct AnnouncementState {
    /// We sent our `announcement_signatures` on the current connection.
    pub(crate) sigs_sent: bool,
    /// The peer's, once received and checked.
    pub(crate) remote: Option<AnnouncementSignatures>,
    /// The full announcement was handed to the gossip thread.
    pub(crate) announced: bool,
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Our node id.
    pub(super) fn our_node_id(&self) -> NodeId {
        self.our_id
    }

    /// A valid signature to fill fields that are signed later.
    fn placeholder_signature(&self) -> bitcoin::secp256k1::ecdsa::Signature {
        let msg = bitcoin::secp256k1::Message::from_digest([1; 32]);
        self.secp.sign_ecdsa(&msg, &self.svc.node_secret)
    }

    fn chain_hash(&self) -> ChainHash {
        ChainHash::using_genesis_block(self.svc.network)
    }

    /// A freshly signed `channel_update` for our direction of a channel in
    /// normal operation (`None` for other phases). Disabled while the peer
    /// is away or the channel is closing.
    pub(super) fn our_channel_update(&mut self, id: &ChannelId) -> Option<ChannelUpdate> {
        let ours = self.our_node_id();
        let slot = self.channels.get(id)?;
        let est = slot.chan.established()?;
        let scid = if est.core.announce {
            est.short_channel_id?
        } else {
            est.core.local_alias
        };
        let usable = matches!(slot.chan, Channel::Normal(_)) && self.peers.contains_key(&slot.peer);
        let direction = u8::from(ours.0 > slot.peer.0);
        let capacity = Msat(est.core.funding.0.saturating_mul(1000));
        let htlc_maximum = capacity.min(est.core.remote_params.max_htlc_value_in_flight);
        let policy = self.svc.config.forwarding;
        let last = self.update_stamps.get(id).copied().unwrap_or(0);
        let timestamp = u32::try_from(self.now)
            .unwrap_or(u32::MAX)
            .max(last.saturating_add(1));
        self.update_stamps.insert(*id, timestamp);
        let mut update = ChannelUpdate {
            signature: self.placeholder_signature(),
            chain_hash: self.chain_hash(),
            short_channel_id: scid,
            timestamp,
            message_flags: MSG_FLAG_HTLC_MAX,
            channel_flags: direction | if usable { 0 } else { CHAN_FLAG_DISABLED },
            cltv_expiry_delta: policy.cltv_expiry_delta,
            htlc_minimum: policy.htlc_minimum,
            fee_base_msat: policy.fee_base_msat,
            fee_proportional_millionths: policy.fee_proportional_millionths,
            htlc_maximum,
            extension: Vec::new(),
        };
        sign_channel_update(&self.secp, &self.svc.node_secret, &mut update);
        Some(update)
    }

    /// Our `channel_update` as failure messages carry it (with its type);
    /// empty when the channel has none.
    pub(super) fn channel_update_bytes(&mut self, id: &ChannelId) -> Vec<u8> {
        self.our_channel_update(id)
            .and_then(|u| u.encode_message().ok())
            .unwrap_or_default()
    }

    /// The channel is ready or reestablished: tell the peer our policy
    /// (BOLT 7: so that it can route to us over a channel not announced
    /// yet), and announce it if it is deep enough.
    pub(super) fn on_channel_usable(&mut self, tick: &mut Tick, id: ChannelId) {
        let Some(peer) = self.channels.get(&id).map(|s| s.peer) else {
            return;
        };
        if let Some(update) = self.our_channel_update(&id) {
            tick.messages.push(Outgoing {
                node_id: peer,
                channel: None,
                msg: Message::ChannelUpdate(update.clone()),
            });
            let announced = self
                .channels
                .get(&id)
                .is_some_and(|s| s.announcement.announced);
            if announced {
                self.to_gossip_after(tick, GossipInput::LocalUpdate(update));
            }
        }
        self.maybe_announce(tick, id);
    }

    /// Sends our `announcement_signatures` once the channel is deep
    /// enough, and builds the announcement once the peer's have come.
    pub(super) fn maybe_announce(&mut self, tick: &mut Tick, id: ChannelId) {
        let Some(state) = self.channels.get(&id).map(|s| &s.announcement) else {
            return;
        };
        if state.announced || (state.sigs_sent && state.remote.is_none()) {
            return;
        }
        let Some(unsigned) = self.unsigned_announcement(&id) else {
            return;
        };
        let digest = channel_announcement_digest(&unsigned);
        let Some(slot) = self.channels.get(&id) else {
            return;
        };
        let peer = slot.peer;
        let node_sig = sign_digest(&self.secp, &self.svc.node_secret, &digest);
        let bitcoin_sig = sign_digest(&self.secp, slot.secrets.funding_secret(), &digest);
        let state = slot.announcement.clone();
        if !state.sigs_sent && self.peers.contains_key(&peer) {
            tick.messages.push(Outgoing {
                node_id: peer,
                channel: None,
                msg: Message::AnnouncementSignatures(AnnouncementSignatures {
                    channel_id: id,
                    short_channel_id: unsigned.short_channel_id,
                    node_signature: node_sig,
                    bitcoin_signature: bitcoin_sig,
                    unknown_tlvs: Vec::new(),
                }),
            });
            if let Some(slot) = self.channels.get_mut(&id) {
                slot.announcement.sigs_sent = true;
            }
        }
        let Some(remote) = state.remote else {
            return;
        };
        if state.announced {
            return;
        }
        let ours_first = unsigned.node_id_1 == self.our_node_id();
        let mut ann = unsigned;
        if ours_first {
            ann.node_signature_1 = node_sig;
            ann.bitcoin_signature_1 = bitcoin_sig;
            ann.node_signature_2 = remote.node_signature;
            ann.bitcoin_signature_2 = remote.bitcoin_signature;
        } else {
            ann.node_signature_1 = remote.node_signature;
            ann.bitcoin_signature_1 = remote.bitcoin_signature;
            ann.node_signature_2 = node_sig;
            ann.bitcoin_signature_2 = bitcoin_sig;
        }
        let Some(update) = self.our_channel_update(&id) else {
            return;
        };
        if let Some(slot) = self.channels.get_mut(&id) {
            slot.announcement.announced = true;
        }
        tracing::info!(channel = %id, scid = %ann.short_channel_id, "channel announced");
        self.to_gossip_after(
            tick,
            GossipInput::LocalChannel {
                announcement: Box::new(ann),
                update,
            },
        );
    }

    /// The peer's `announcement_signatures`: checked against the
    /// announcement we would sign, kept, and the announcement built if we
    /// are deep enough too.
    pub(super) fn on_announcement_signatures(
        &mut self,
        tick: &mut Tick,
        peer: NodeId,
        sigs: AnnouncementSignatures,
    ) {
        let id = sigs.channel_id;
        if !self.is_peer_channel(&id, &peer) {
            return;
        }
        let Some(unsigned) = self.unsigned_announcement(&id) else {
            // Not deep enough on our side yet (or a private channel): keep
            // them for when it is.
            if let Some(slot) = self.channels.get_mut(&id) {
                if slot.chan.established().is_some_and(|e| e.core.announce) {
                    slot.announcement.remote = Some(sigs);
                }
            }
            return;
        };
        if !self.remote_sigs_valid(&id, &unsigned, &sigs) {
            tracing::warn!(channel = %id, %peer, "invalid announcement_signatures ignored");
            return;
        }
        if let Some(slot) = self.channels.get_mut(&id) {
            slot.announcement.remote = Some(sigs);
        }
        self.maybe_announce(tick, id);
    }

    fn remote_sigs_valid(
        &self,
        id: &ChannelId,
        unsigned: &ChannelAnnouncement,
        sigs: &AnnouncementSignatures,
    ) -> bool {
        let Some(slot) = self.channels.get(id) else {
            return false;
        };
        let Some(est) = slot.chan.established() else {
            return false;
        };
        if sigs.short_channel_id != unsigned.short_channel_id {
            return false;
        }
        let digest = channel_announcement_digest(unsigned);
        let Ok(node_key) = slot.peer.to_pubkey() else {
            return false;
        };
        self.secp
            .verify_ecdsa(&digest, &sigs.node_signature, &node_key)
            .is_ok()
            && self
                .secp
                .verify_ecdsa(
                    &digest,
                    &sigs.bitcoin_signature,
                    &est.core.remote_keys.funding_pubkey,
                )
                .is_ok()
    }

    /// The announcement both sides sign, if the channel is public, in
    /// normal operation and 6 blocks deep.
    fn unsigned_announcement(&self, id: &ChannelId) -> Option<ChannelAnnouncement> {
        let slot = self.channels.get(id)?;
        if !matches!(slot.chan, Channel::Normal(_)) {
            return None;
        }
        let est = slot.chan.established()?;
        if !est.core.announce {
            return None;
        }
        let scid = est.short_channel_id?;
        let depth = self.height.checked_sub(scid.block())?.saturating_add(1);
        if depth < ANNOUNCEMENT_DEPTH {
            return None;
        }
        let ours = self.our_node_id();
        let our_key = est.core.local_keys.funding_pubkey;
        let their_key = est.core.remote_keys.funding_pubkey;
        let (node_id_1, node_id_2, bitcoin_key_1, bitcoin_key_2) = if ours.0 < slot.peer.0 {
            (ours, slot.peer, our_key, their_key)
        } else {
            (slot.peer, ours, their_key, our_key)
        };
        Some(ChannelAnnouncement {
            node_signature_1: self.placeholder_signature(),
            node_signature_2: self.placeholder_signature(),
            bitcoin_signature_1: self.placeholder_signature(),
            bitcoin_signature_2: self.placeholder_signature(),
            features: WireFeatures::default(),
            chain_hash: self.chain_hash(),
            short_channel_id: scid,
            node_id_1,
            node_id_2,
            bitcoin_key_1,
            bitcoin_key_2,
            extension: Vec::new(),
        })
    }

    /// The peer went away: announcement signatures go again on the next
    /// connection.
    pub(super) fn reset_announcement_sigs(&mut self, peer: &NodeId) {
        for slot in self.channels.values_mut().filter(|s| s.peer == *peer) {
            slot.announcement.sigs_sent = false;
        }
    }

    /// Hands `input` to the gossip thread once the tick is committed.
    pub(super) fn to_gossip_after(&self, tick: &mut Tick, input: GossipInput) {
        let gossip = self.svc.gossip.clone();
        after(tick, move |ok| {
            if ok {
                gossip.send(input);
            }
        });
    }
}
