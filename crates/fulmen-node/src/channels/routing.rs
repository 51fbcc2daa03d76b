//! Peers and their messages: connection and disconnection (channels resume
//! with `channel_reestablish` or, still opening, are forgotten), BOLT 2
//! messages routed to their channel by (temporary) id and peer, `error`s.

use fulmen_channel::ChannelMessage;
use fulmen_types::{ChannelId, Features, NodeId};
use fulmen_wire::{ErrorMessage, Message};

use super::manager::ChannelManager;
use super::{channel_id_of, Broadcaster, Outbox, Outgoing, Persister, Tick};
use crate::events::NodeEvent;

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    pub(super) fn on_peer_connected(
        &mut self,
        tick: &mut Tick,
        node_id: NodeId,
        features: Features,
    ) {
        if self.peers.contains_key(&node_id) {
            self.on_peer_disconnected(tick, node_id);
        }
        self.peers.insert(node_id, features);
        for id in self.channel_ids_of(&node_id) {
            self.drive(tick, id, |c, ctx| c.peer_reconnected(ctx));
        }
    }

    pub(super) fn on_peer_disconnected(&mut self, tick: &mut Tick, node_id: NodeId) {
        self.peers.remove(&node_id);
        self.reset_announcement_sigs(&node_id);
        for id in self.channel_ids_of(&node_id) {
            if let Some(out) = self.call(&id, |c, _| c.peer_disconnected()) {
                self.apply(tick, id, out);
            }
        }
        self.drain_events(tick);
    }

    pub(super) fn on_peer_message(&mut self, tick: &mut Tick, node_id: NodeId, msg: Message) {
        let msg = match msg {
            Message::OpenChannel(open) => return self.on_open_channel(tick, node_id, open),
            Message::AnnouncementSignatures(sigs) => {
                return self.on_announcement_signatures(tick, node_id, sigs)
            }
            other => other,
        };
        let Some(channel_id) = channel_id_of(&msg) else {
            return;
        };
        if !self.is_peer_channel(&channel_id, &node_id) {
            // BOLT 1: SHOULD answer messages about unknown channels with
            // an `error` for that channel.
            tick.messages.push(Outgoing {
                node_id,
                channel: None,
                msg: Message::Error(ErrorMessage {
                    channel_id,
                    data: b"unknown channel".to_vec(),
                    unknown_tlvs: Vec::new(),
                }),
            });
            return;
        }
        let Some(cm) = ChannelMessage::from_message(msg) else {
            return;
        };
        let reestablish = matches!(cm, ChannelMessage::ChannelReestablish(_));
        self.drive(tick, channel_id, |c, ctx| c.handle_message(cm, ctx));
        if reestablish && self.link_up(&channel_id) {
            self.on_channel_usable(tick, channel_id);
            self.emit_after(
                tick,
                NodeEvent::ChannelReestablished {
                    channel_id,
                    node_id,
                },
            );
        }
    }

    /// Whether a funded channel's link is up (reestablished).
    pub(super) fn link_up(&self, id: &ChannelId) -> bool {
        self.channels
            .get(id)
            .and_then(|s| s.chan.established())
            .is_some_and(|e| e.link == fulmen_channel::state::Link::Connected)
    }

    pub(super) fn on_peer_error(&mut self, tick: &mut Tick, node_id: NodeId, error: ErrorMessage) {
        let text = error.printable_data().map(str::to_owned);
        let ids = if error.is_all_channels() {
            self.channel_ids_of(&node_id)
        } else if self.is_peer_channel(&error.channel_id, &node_id) {
            vec![error.channel_id]
        } else {
            // BOLT 1: ignore an error about an unknown channel.
            tracing::debug!(peer = %node_id, channel = %error.channel_id, "error for no channel of ours");
            return;
        };
        for id in ids {
            if let Some(slot) = self.channels.get_mut(&id) {
                slot.peer_error.clone_from(&text);
            }
            let msg = ChannelMessage::Error(ErrorMessage {
                channel_id: id,
                data: error.data.clone(),
                unknown_tlvs: Vec::new(),
            });
            self.drive(tick, id, |c, ctx| c.handle_message(msg, ctx));
        }
    }
}
