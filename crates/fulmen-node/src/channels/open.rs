//! Opening channels: `openchannel` (we fund), the funding transaction, and
//! a peer's `open_channel` (accepted by default, within the caps on
//! unfunded channels per peer and in total).
//!
//! Funding order (BOLT 2): `open_channel` → `accept_channel` → the wallet
//! builds and signs the funding transaction (reserving its coins, not
//! broadcasting) → `funding_created` → `funding_signed` is received and the
//! channel state with it committed → only then the funding transaction is
//! broadcast and `openchannel` answers.

use bitcoin::ScriptBuf;
use fulmen_channel::{Channel, Ctx, InboundSetup, OutboundSetup};
use fulmen_types::{ChannelId, Msat, NodeId, Sat, ShortChannelId};
use fulmen_wire::{ErrorMessage, Message, OpenChannel};
use tokio::sync::oneshot;

use super::manager::{ChannelManager, KEY_INDEX_KEY};
use super::slot::Slot;
use super::{Broadcaster, CmError, OpenedChannel, Outbox, Outgoing, Persister, Tick};
use crate::entropy::random_bytes;
use crate::features::{chain_hash, our_init_features};

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// Hands out the next channel key index; the new counter is written in
    /// this tick's commit, before any message revealing the keys leaves.
    fn next_key_index(&mut self, tick: &mut Tick) -> Result<u32, CmError> {
        let index = self.next_key_index;
        let next = index
            .checked_add(1)
            .filter(|n| *n < 1 << 31)
            .ok_or(CmError::Invalid("channel key indices exhausted"))?;
        self.next_key_index = next;
        tick.batch
            .store
            .set_kv(KEY_INDEX_KEY, next.to_be_bytes().to_vec());
        Ok(index)
    }

    fn random_alias(&self) -> Result<ShortChannelId, CmError> {
        let bytes = random_bytes::<8>(self.svc.entropy.as_ref()).map_err(|_| CmError::Entropy)?;
        Ok(ShortChannelId(u64::from_be_bytes(*bytes)))
    }

    /// `openchannel`.
    pub(super) fn open_channel(
        &mut self,
        tick: &mut Tick,
        peer: NodeId,
        funding: Sat,
        push: Msat,
        announce: bool,
        reply: oneshot::Sender<Result<OpenedChannel, CmError>>,
    ) {
        match self.start_outbound(tick, peer, funding, push, announce) {
            Ok(id) => {
                if let Some(slot) = self.channels.get_mut(&id) {
                    slot.open_reply = Some(reply);
                }
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn start_outbound(
        &mut self,
        tick: &mut Tick,
        peer: NodeId,
        funding: Sat,
        push: Msat,
        announce: bool,
    ) -> Result<ChannelId, CmError> {
        let their_features = self
            .peers
            .get(&peer)
            .cloned()
            .ok_or(CmError::PeerNotConnected)?;
        let temporary = loop {
            let id = ChannelId(
                *random_bytes::<32>(self.svc.entropy.as_ref()).map_err(|_| CmError::Entropy)?,
            );
            if !self.channels.contains_key(&id) {
                break id;
            }
        };
        let shutdown_script = self.svc.wallet.new_script().map_err(CmError::Funding)?;
        let local_alias = self.random_alias()?;
        let key_index = self.next_key_index(tick)?;
        let secrets = self
            .derive_secrets(u64::from(key_index))
            .map_err(|e| CmError::Channel(e.to_string()))?;
        let setup = OutboundSetup {
            chain_hash: chain_hash(self.svc.network),
            temporary_channel_id: temporary,
            funding,
            push,
            feerate_per_kw: self.feerate,
            announce,
            key_index: u64::from(key_index),
            shutdown_script,
            upfront_shutdown: false,
            local_alias,
            our_features: our_init_features(),
            their_features,
        };
        let ctx = Ctx {
            now: self.now,
            height: self.height,
            secp: &self.secp,
            secrets: secrets.as_ref(),
            config: &self.svc.config.channel,
            feerate_per_kw: self.feerate,
        };
        let (chan, out) =
            Channel::new_outbound(setup, &ctx).map_err(|v| CmError::Channel(v.to_string()))?;
        tracing::info!(peer = %peer, temporary = %temporary, %funding, "opening channel");
        self.channels
            .insert(temporary, Slot::new(peer, chan, secrets));
        self.apply(tick, temporary, out);
        Ok(temporary)
    }

    /// `FundingNeeded`: the wallet builds (and reserves, without
    /// broadcasting) the funding transaction; `funding_created` follows.
    pub(super) fn build_funding(
        &mut self,
        tick: &mut Tick,
        id: ChannelId,
        amount: Sat,
        script: ScriptBuf,
    ) {
        let aux = match random_bytes::<32>(self.svc.entropy.as_ref()) {
            Ok(a) => *a,
            Err(_) => return self.abandon(tick, id, CmError::Entropy),
        };
        let built = self
            .svc
            .wallet
            .build_funding(script, amount, self.feerate, aux);
        let (tx, vout) = match built {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "cannot fund the channel");
                return self.abandon(tick, id, CmError::Funding(e));
            }
        };
        if let Some(slot) = self.channels.get_mut(&id) {
            slot.reserved_funding = Some(tx.compute_txid());
        }
        let done = self.call(&id, |c, ctx| c.funding_tx_built(tx, vout, ctx));
        match done {
            Some(Ok(out)) => self.apply(tick, id, out),
            Some(Err(e)) => self.abandon(tick, id, CmError::Channel(e.to_string())),
            None => {}
        }
    }

    /// Gives up an opening: `error` to the peer, the reservation released,
    /// the caller told why.
    pub(super) fn abandon(&mut self, tick: &mut Tick, id: ChannelId, why: CmError) {
        if let Some(slot) = self.channels.get_mut(&id) {
            if let Some(reply) = slot.open_reply.take() {
                let _ = reply.send(Err(why));
            }
        }
        self.force_close(tick, id);
    }

    /// A peer's `open_channel`: accepted unless the caps on unfunded
    /// channels are reached or the channel's checks refuse it (then an
    /// `error` for its temporary id).
    pub(super) fn on_open_channel(&mut self, tick: &mut Tick, peer: NodeId, open: OpenChannel) {
        let temporary = open.temporary_channel_id;
        let refuse = |tick: &mut Tick, text: &str| {
            tracing::info!(peer = %peer, channel = %temporary, reason = text, "open_channel refused");
            tick.messages.push(Outgoing {
                node_id: peer,
                channel: None,
                msg: Message::Error(ErrorMessage {
                    channel_id: temporary,
                    data: text.as_bytes().to_vec(),
                    unknown_tlvs: Vec::new(),
                }),
            });
        };
        if self.channels.contains_key(&temporary) {
            return refuse(tick, "temporary_channel_id already in use");
        }
        let per_peer = self
            .channels
            .values()
            .filter(|s| s.peer == peer && s.is_unfunded_inbound())
            .count();
        let total = self
            .channels
            .values()
            .filter(|s| s.is_unfunded_inbound())
            .count();
        let cfg = &self.svc.config;
        if per_peer >= cfg.max_unfunded_per_peer {
            return refuse(tick, "too many unfunded channels with this peer");
        }
        if total >= cfg.max_unfunded_total {
            return refuse(tick, "too many unfunded channels");
        }
        let Some(their_features) = self.peers.get(&peer).cloned() else {
            return;
        };
        // The checks first, with the next key index and a placeholder
        // script and alias: a refused `open_channel` costs neither a key
        // index nor a wallet address (flood resistance).
        let candidate = self.next_key_index;
        let Ok(secrets) = self.derive_secrets(u64::from(candidate)) else {
            return refuse(tick, "internal error");
        };
        let setup = |shutdown_script, local_alias| InboundSetup {
            chain_hash: chain_hash(self.svc.network),
            key_index: u64::from(candidate),
            shutdown_script,
            upfront_shutdown: false,
            local_alias,
            our_features: our_init_features(),
            their_features: their_features.clone(),
        };
        let ctx = Ctx {
            now: self.now,
            height: self.height,
            secp: &self.secp,
            secrets: secrets.as_ref(),
            config: &self.svc.config.channel,
            feerate_per_kw: self.feerate,
        };
        let probe = setup(placeholder_script(), ShortChannelId(0));
        if let Err(e) = Channel::new_inbound(&open, probe, &ctx) {
            return refuse(tick, &e.violation().to_string());
        }
        let prepared = (|| {
            let shutdown_script = self.svc.wallet.new_script().map_err(CmError::Funding)?;
            let local_alias = self.random_alias()?;
            Ok::<_, CmError>((shutdown_script, local_alias))
        })();
        let accepted = prepared.and_then(|(script, alias)| {
            Channel::new_inbound(&open, setup(script, alias), &ctx)
                .map_err(|e| CmError::Channel(e.violation().to_string()))
        });
        let (chan, out) = match accepted {
            Ok(a) => a,
            Err(e) => return refuse(tick, &e.to_string()),
        };
        if self.next_key_index(tick).ok() != Some(candidate) {
            return refuse(tick, "internal error");
        }
        tracing::info!(peer = %peer, channel = %temporary, funding = %open.funding, "accepting channel");
        self.channels
            .insert(temporary, Slot::new(peer, chan, secrets));
        self.apply(tick, temporary, out);
    }

    /// Broadcasts again the funding transactions we made that are not
    /// confirmed yet (at start, then every 6 blocks): a broadcast may have
    /// failed, or the transaction left the mempool.
    pub(super) fn rebroadcast_funding(&mut self, tick: &mut Tick) {
        for (id, slot) in &self.channels {
            if let Channel::AwaitingFunding(a) = &slot.chan {
                if let (Some(tx), None) = (&a.funding_tx, a.confirmation) {
                    tick.broadcasts.push((Some(*id), tx.clone()));
                }
            }
        }
    }
}

/// A valid P2WPKH script standing in for our shutdown script while an
/// `open_channel` is checked.
fn placeholder_script() -> ScriptBuf {
    let mut bytes = vec![0x00, 0x14];
    bytes.extend([0u8; 20]);
    ScriptBuf::from_bytes(bytes)
}
