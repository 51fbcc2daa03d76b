//! The manager thread: routing inputs to channels, applying their outputs
//! and events, and the tick (see the module documentation of
//! [`super`]).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bitcoin::secp256k1::{All, Secp256k1, SecretKey};
use bitcoin::{Network, ScriptBuf, Transaction, Txid};
use fulmen_channel::{Channel, ChannelError, ChannelEvent, Ctx, Outputs};
use fulmen_types::{ChannelId, Features, NodeId, PaymentHash, Sat};
use fulmen_wallet::keys::KeyTree;
use fulmen_wire::{Message, WarningMessage};
use tokio::sync::{broadcast, mpsc};

use super::crash::CrashHook;
use super::payments::OutgoingHtlc;
use super::persist::Persister;
use super::slot::{ChannelsConfig, Slot, WalletSecrets};
use super::{AfterCommit, Broadcaster, CmInput, Outbox, Outgoing, Tick, MAX_INPUTS_PER_TICK};
use crate::entropy::EntropySource;
use crate::error::NodeError;
use crate::events::NodeEvent;
use crate::gossip::GossipInput;
use crate::tasks::TaskGuard;

/// The store setting holding the next channel key index (u32, big endian).
pub const KEY_INDEX_KEY: &str = "next_channel_key_index";
/// The store setting holding the height of the last block given to the
/// channels (u32, big endian).
pub const CHANNELS_HEIGHT_KEY: &str = "channels_height";

/// The on-chain wallet as the manager needs it.
pub trait FundingWallet: Send + Sync + 'static {
    /// Builds and signs (does not broadcast) a transaction paying `amount`
    /// to `script` at `feerate_per_kw`, reserving its coins; returns it and
    /// the index of the paying output.
    fn build_funding(
        &self,
        script: ScriptBuf,
        amount: Sat,
        feerate_per_kw: u32,
        aux_rand: [u8; 32],
    ) -> Result<(Transaction, u32), String>;
    /// Releases the coins of a funding transaction that will never be
    /// broadcast.
    fn release_funding(&self, txid: Txid);
    /// A fresh script of the wallet (where a closed channel pays us).
    fn new_script(&self) -> Result<ScriptBuf, String>;
    /// Adds wallet inputs (and change) paying the fee of zero-fee HTLC
    /// transactions of an anchor channel, aggregated in `template`, at
    /// `feerate_per_kw`, signing them; reserves their coins. Input `i`
    /// (spending `prevs[i].0`, its witness weighing at most `prevs[i].1`)
    /// and output `i` of the template stay at index `i`, unsigned.
    fn fund_htlc_tx(
        &self,
        template: &Transaction,
        prevs: &[(bitcoin::TxOut, u64)],
        feerate_per_kw: u32,
        aux_rand: [u8; 32],
    ) -> Result<Transaction, String>;
    /// Builds a child spending our anchor output of an unconfirmed
    /// commitment (input 0, left unsigned) with wallet coins (signed) and
    /// change, so that the commitment and the child together pay
    /// `bump.feerate_per_kw`; reserves its coins.
    fn fund_anchor_child(
        &self,
        bump: &super::AnchorBump,
        aux_rand: [u8; 32],
    ) -> Result<Transaction, String>;
}

/// What the manager needs from the node besides the store, the peers and
/// the chain.
pub struct CmServices {
    /// The network.
    pub network: Network,
    /// Derives every channel's keys.
    pub key_tree: KeyTree,
    /// The node's identity secret (peels onions, signs invoices).
    pub node_secret: SecretKey,
    /// Randomness (temporary ids, aliases, onion session keys, preimages).
    pub entropy: Arc<dyn EntropySource>,
    /// Funding transactions and close scripts.
    pub wallet: Arc<dyn FundingWallet>,
    /// Where node events go.
    pub events: broadcast::Sender<NodeEvent>,
    /// The policy.
    pub config: ChannelsConfig,
    /// The gossip thread (our announcements go there) and the graph it
    /// keeps (payments find routes in it).
    pub gossip: crate::gossip::GossipHandle,
}

/// Work carried through one tick.
#[derive(Default)]
pub(super) struct Work {
    /// Events to handle, with the channel that emitted them.
    pub(super) events: VecDeque<(ChannelId, ChannelEvent)>,
    /// Channels whose state changed (encode and write them).
    pub(super) dirty: BTreeSet<ChannelId>,
    /// Channels that had activity (sign their updates).
    pub(super) touched: BTreeSet<ChannelId>,
    /// Temporary ids replaced by funding ids during the tick.
    pub(super) rekeyed: HashMap<ChannelId, ChannelId>,
    /// Unstored channels to forget at the end of the tick.
    pub(super) forget: BTreeSet<ChannelId>,
    /// Invoices paid in this tick (dropped from the cache after it).
    pub(super) paid: Vec<PaymentHash>,
    /// A preimage became known while channels are resolved on chain:
    /// spend what it unlocks at the end of this tick, not at the next block.
    pub(super) claim_now: bool,
    /// We force-closed a channel: bump its commitment at the end of the
    /// tick if it pays too little.
    pub(super) bump_now: bool,
    /// Labels and hashes of invoices added in this tick.
    pub(super) labels: HashSet<String>,
    pub(super) added: Vec<PaymentHash>,
}

/// The channel manager (see the module documentation of [`super`]).
pub struct ChannelManager<P: Persister, O: Outbox, B: Broadcaster> {
    pub(super) persister: P,
    pub(super) outbox: Arc<O>,
    pub(super) broadcaster: Arc<B>,
    pub(super) svc: CmServices,
    pub(super) secp: Secp256k1<All>,
    /// Our node id (from `svc.node_secret`, derived once).
    pub(super) our_id: NodeId,
    /// Connected peers and their features.
    pub(super) peers: HashMap<NodeId, Features>,
    /// Each connected peer's current connection: inputs from an older
    /// (replaced) connection are dropped, so that its last messages cannot
    /// reach channels already resuming on the new one.
    pub(super) conns: HashMap<NodeId, u64>,
    /// Channels stopped after a failed write: no more outputs until restart.
    pub(super) stopped: HashSet<ChannelId>,
    /// The best block height seen.
    pub(super) height: u32,
    /// The chain's feerate estimate, sat/kw.
    pub(super) feerate: u32,
    /// Unix time of the tick.
    pub(super) now: u64,
    /// Every channel, by (temporary, while opening) id.
    pub(super) channels: HashMap<ChannelId, Slot>,
    /// The next channel key index to hand out.
    pub(super) next_key_index: u32,
    /// Our HTLCs in flight that belong to payments, by (channel, HTLC id).
    pub(super) outgoing: HashMap<(ChannelId, u64), OutgoingHtlc>,
    /// Payment hashes with an HTLC in flight.
    pub(super) paying: HashSet<PaymentHash>,
    /// Unpaid invoices, by payment hash.
    pub(super) invoices: HashMap<PaymentHash, fulmen_store::Invoice>,
    /// Where peers can be reached (from outbound connects).
    pub(super) addresses: HashMap<NodeId, String>,
    /// Payments being tried, by hash (route exclusions, attempts).
    pub(super) attempts: super::route::AttemptMap,
    /// What past attempts taught about channels' liquidity.
    pub(super) scorer: fulmen_graph::scorer::ProbabilisticScorer,
    /// Multi-part payments being received.
    pub(super) mpp_sets: super::mpp::PartSets,
    /// Forwards in flight, by our outgoing (channel, HTLC id).
    pub(super) forwards: HashMap<(ChannelId, u64), super::forward::ForwardLink>,
    /// Incoming HTLCs forwarded and not yet resolved downstream.
    pub(super) forwarded_in: HashSet<(ChannelId, u64)>,
    /// The timestamp of our last `channel_update` per channel (each new one
    /// must be later).
    pub(super) update_stamps: HashMap<ChannelId, u32>,
    /// Channels whose funding output is spent, and what is left to claim
    /// (in memory only; see [`super::onchain`]).
    pub(super) onchain: super::onchain::Watches,
    /// Preimages kept this run for on-chain claims of incoming HTLCs
    /// (also in the store, read from there after a restart).
    pub(super) onchain_preimages: Vec<fulmen_types::PaymentPreimage>,
    /// CPFP children of our unconfirmed commitments (see [`super::bump`]).
    pub(super) bumps: HashMap<ChannelId, super::bump::Bump>,
    pub(super) work: Work,
    crash: Option<CrashHook>,
}

/// The lowest feerate we use (BOLT: the relay floor, 253 sat/kw).
pub const MIN_FEERATE_PER_KW: u32 = 253;

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// A manager resuming what the persister's store holds (stored open
    /// channels, the key index, unpaid invoices, payments in flight). A
    /// stored channel that does not decode stops the start: the node must
    /// not run without it.
    pub fn new(
        persister: P,
        outbox: Arc<O>,
        broadcaster: Arc<B>,
        svc: CmServices,
    ) -> Result<Self, NodeError> {
        let secp = Secp256k1::new();
        let our_id = NodeId::from_pubkey(&bitcoin::secp256k1::PublicKey::from_secret_key(
            &secp,
            &svc.node_secret,
        ));
        let mut cm = Self {
            persister,
            outbox,
            broadcaster,
            svc,
            secp,
            our_id,
            peers: HashMap::new(),
            conns: HashMap::new(),
            stopped: HashSet::new(),
            height: 0,
            feerate: MIN_FEERATE_PER_KW,
            now: crate::chain::unix_now(),
            channels: HashMap::new(),
            next_key_index: 0,
            outgoing: HashMap::new(),
            paying: HashSet::new(),
            invoices: HashMap::new(),
            addresses: HashMap::new(),
            attempts: HashMap::new(),
            scorer: fulmen_graph::scorer::ProbabilisticScorer::new(
                fulmen_graph::scorer::ScorerParams::default(),
            ),
            mpp_sets: HashMap::new(),
            forwards: HashMap::new(),
            forwarded_in: HashSet::new(),
            update_stamps: HashMap::new(),
            onchain: HashMap::new(),
            onchain_preimages: Vec::new(),
            bumps: HashMap::new(),
            work: Work::default(),
            crash: CrashHook::from_env(),
        };
        cm.load()?;
        Ok(cm)
    }

    fn load(&mut self) -> Result<(), NodeError> {
        let Some(store) = self.persister.store() else {
            return Ok(());
        };
        let stored = store
            .load_channels_with_status(fulmen_store::ChannelStatus::Open)
            .map_err(NodeError::Store)?;
        let key_index = read_u32(store.get_kv(KEY_INDEX_KEY).map_err(NodeError::Store)?);
        self.height = read_u32(
            store
                .get_kv(CHANNELS_HEIGHT_KEY)
                .map_err(NodeError::Store)?,
        );
        let unpaid = store
            .list_invoices(Some(fulmen_store::InvoiceStatus::Unpaid))
            .map_err(NodeError::Store)?;
        let parts = store
            .payment_parts_with_status(fulmen_store::PartStatus::InFlight)
            .map_err(NodeError::Store)?;
        let peers = store.list_peers().map_err(NodeError::Store)?;
        let forwards = store
            .list_forwards(Some(fulmen_store::ForwardStatus::Offered))
            .map_err(NodeError::Store)?;
        self.next_key_index = key_index;
        for peer in peers {
            self.addresses.insert(peer.node_id, peer.address);
        }
        for row in stored {
            let chan = Channel::decode_state(&row.state).map_err(|e| {
                NodeError::Channels(format!("channel {} does not decode: {e}", row.channel_id))
            })?;
            let secrets = self.derive_secrets(chan.key_index())?;
            let mut slot = Slot::new(row.peer_id, chan, secrets);
            slot.stored = true;
            tracing::info!(channel = %row.channel_id, peer = %row.peer_id, phase = slot.chan.phase(), "channel loaded");
            self.channels.insert(row.channel_id, slot);
        }
        for inv in unpaid.into_iter().filter(|i| i.expires_at >= self.now) {
            self.invoices.insert(inv.payment_hash, inv);
        }
        self.resume_payments(parts);
        self.resume_forwards(forwards);
        Ok(())
    }

    /// The secrets of key index `index`.
    pub(super) fn derive_secrets(
        &self,
        index: u64,
    ) -> Result<Box<dyn fulmen_channel::ChannelSecrets + Send>, NodeError> {
        let index =
            u32::try_from(index).map_err(|_| NodeError::Channels("key index too large".into()))?;
        let keys = self
            .svc
            .key_tree
            .channel_keys(&self.secp, index)
            .map_err(NodeError::Keys)?;
        Ok(Box::new(WalletSecrets(keys)))
    }

    /// The height of the last block the channels saw (from the store at
    /// start: blocks after it are replayed).
    pub fn channels_height(&self) -> u32 {
        self.height
    }

    /// Whether a stored channel still waits for its funding to confirm
    /// (then blocks since [`Self::channels_height`] must be replayed).
    pub fn awaits_funding(&self) -> bool {
        self.channels
            .values()
            .any(|s| matches!(s.chan, Channel::AwaitingFunding(_)))
    }

    /// Runs on its own thread until [`CmInput::Shutdown`] or every sender is
    /// gone.
    pub(crate) fn spawn(
        self,
        mut inputs: mpsc::Receiver<CmInput>,
        guard: TaskGuard,
    ) -> std::io::Result<()>
    where
        P: 'static,
    {
        std::thread::Builder::new()
            .name("fulmen-channels".into())
            .spawn(move || {
                let mut cm = self;
                // Resume what a restart interrupted: unresolved incoming
                // HTLCs, unconfirmed funding transactions.
                let mut tick = Tick::default();
                cm.resolve_pending_incoming(&mut tick);
                cm.rebroadcast_funding(&mut tick);
                cm.onchain_rescan(&mut tick);
                cm.finish_tick(tick);
                while let Some(first) = inputs.blocking_recv() {
                    let mut tick = Tick::default();
                    cm.now = crate::chain::unix_now();
                    let mut stop = cm.handle(first, &mut tick);
                    let mut n = 1;
                    while !stop && n < MAX_INPUTS_PER_TICK {
                        match inputs.try_recv() {
                            Ok(input) => stop = cm.handle(input, &mut tick),
                            Err(_) => break,
                        }
                        n += 1;
                    }
                    cm.finish_tick(tick);
                    if stop {
                        break;
                    }
                }
                cm.fail_waiters();
                cm.svc.gossip.send(crate::gossip::GossipInput::Stop);
                // The store closes here, before the node counts this
                // thread as stopped (a copy of the datadir taken after
                // `wait_stopped` must not race SQLite's last cleanup).
                drop(cm);
                tracing::debug!("channel manager stopped");
                drop(guard);
            })
            .map(|_| ())
    }

    /// Handles one input into `tick`; `true` to stop.
    pub fn handle(&mut self, input: CmInput, tick: &mut Tick) -> bool {
        match input {
            CmInput::PeerConnected {
                node_id,
                features,
                conn,
            } => {
                self.svc.gossip.send(GossipInput::PeerConnected {
                    node_id,
                    features: features.clone(),
                });
                self.on_peer_connected(tick, node_id, features);
                self.conns.insert(node_id, conn);
            }
            CmInput::PeerDisconnected { node_id, conn } => {
                if self.is_current(&node_id, conn) {
                    self.conns.remove(&node_id);
                    self.svc
                        .gossip
                        .send(GossipInput::PeerDisconnected { node_id });
                    self.on_peer_disconnected(tick, node_id);
                }
            }
            CmInput::PeerMessage { node_id, conn, msg } => {
                if self.is_current(&node_id, conn) {
                    self.on_peer_message(tick, node_id, *msg);
                }
            }
            CmInput::PeerError {
                node_id,
                conn,
                error,
            } => {
                if self.is_current(&node_id, conn) {
                    self.on_peer_error(tick, node_id, error);
                }
            }
            CmInput::FailChannel {
                node_id,
                conn,
                channel_id,
            } => {
                let ours = channel_id.filter(|id| self.is_peer_channel(id, &node_id));
                if let (Some(id), true) = (ours, self.is_current(&node_id, conn)) {
                    tracing::warn!(peer = %node_id, channel = %id, "malformed channel message: failing the channel");
                    self.force_close(tick, id);
                }
            }
            CmInput::BlockConnected { height, block } => {
                self.on_block(tick, height, &block);
                self.svc
                    .gossip
                    .send(GossipInput::BlockConnected { height, block });
            }
            CmInput::BlockDisconnected { height, hash } => {
                tracing::warn!(height, %hash, "block disconnected: channels keep their confirmations");
                self.height = height.saturating_sub(1);
                // Spends seen in that block may be gone: rebuild the
                // on-chain watches from the active chain.
                self.onchain_rescan(tick);
            }
            CmInput::Feerate { per_kw } => {
                self.set_feerate(per_kw);
                self.update_fees(tick);
            }
            CmInput::Command(cmd) => self.on_command(tick, cmd),
            CmInput::Timer => self.expire_part_sets(tick),
            CmInput::Shutdown => return true,
        }
        self.drain_events(tick);
        if core::mem::take(&mut self.work.claim_now) {
            self.sweep_ready(tick);
        }
        if core::mem::take(&mut self.work.bump_now) {
            self.bump_commitments(tick, false);
        }
        false
    }

    /// Whether `conn` is the peer's current connection.
    fn is_current(&self, peer: &NodeId, conn: u64) -> bool {
        self.conns.get(peer) == Some(&conn)
    }

    pub(super) fn is_peer_channel(&self, id: &ChannelId, peer: &NodeId) -> bool {
        self.channels.get(id).is_some_and(|s| s.peer == *peer)
    }

    pub(super) fn channel_ids_of(&self, peer: &NodeId) -> Vec<ChannelId> {
        let mut ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, s)| s.peer == *peer)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }

    /// Runs `f` on a channel with its context.
    pub(super) fn call<R>(
        &mut self,
        id: &ChannelId,
        f: impl FnOnce(&mut Channel, &Ctx<'_>) -> R,
    ) -> Option<R> {
        let slot = self.channels.get_mut(id)?;
        let ctx = Ctx {
            now: self.now,
            height: self.height,
            secp: &self.secp,
            secrets: slot.secrets.as_ref(),
            config: &self.svc.config.channel,
            feerate_per_kw: self.feerate,
        };
        Some(f(&mut slot.chan, &ctx))
    }

    /// Runs a channel call that reacts to the peer: applies its outputs,
    /// or its error's reaction. `false` if the channel is unknown or
    /// stopped.
    pub(super) fn drive(
        &mut self,
        tick: &mut Tick,
        id: ChannelId,
        f: impl FnOnce(&mut Channel, &Ctx<'_>) -> Result<Outputs, ChannelError>,
    ) -> bool {
        if self.stopped.contains(&id) {
            return false;
        }
        match self.call(&id, f) {
            None => false,
            Some(Ok(out)) => {
                self.apply(tick, id, out);
                true
            }
            Some(Err(e)) => {
                self.on_channel_error(tick, id, e);
                true
            }
        }
    }

    /// Takes a channel call's outputs into the tick.
    pub(super) fn apply(&mut self, tick: &mut Tick, id: ChannelId, out: Outputs) {
        let Some(slot) = self.channels.get_mut(&id) else {
            return;
        };
        let peer = slot.peer;
        self.work.touched.insert(id);
        if out.persist {
            self.work.dirty.insert(id);
        }
        for msg in out.messages {
            tick.messages.push(Outgoing {
                node_id: peer,
                channel: Some(id),
                msg,
            });
        }
        for tx in out.broadcasts {
            if slot.reserved_funding == Some(tx.compute_txid()) {
                slot.reserved_funding = None;
                if let Some(reply) = slot.open_reply.take() {
                    let opened = super::OpenedChannel {
                        channel_id: id,
                        funding_txid: tx.compute_txid(),
                        funding_output_index: slot
                            .chan
                            .established()
                            .map_or(0, |e| e.core.funding_outpoint.vout),
                    };
                    after(tick, move |ok| {
                        let _ = reply.send(if ok {
                            Ok(opened)
                        } else {
                            Err(super::CmError::Stopped)
                        });
                    });
                }
            }
            tick.broadcasts.push((Some(id), tx));
        }
        for e in out.events {
            self.work.events.push_back((id, e));
        }
    }

    /// Takes the outputs of a node-initiated channel call (fulfil, fail)
    /// into the tick; logs `what` if the channel refused it or is gone.
    pub(super) fn apply_call<E: core::fmt::Display>(
        &mut self,
        tick: &mut Tick,
        id: ChannelId,
        result: Option<Result<Outputs, E>>,
        what: &'static str,
    ) {
        match result {
            Some(Ok(out)) => self.apply(tick, id, out),
            Some(Err(e)) => tracing::warn!(channel = %id, error = %e, "cannot {what}"),
            None => tracing::warn!(channel = %id, "cannot {what}: the channel is gone"),
        }
    }

    /// How a refused peer message or block is answered (BOLT 1/2).
    pub(super) fn on_channel_error(&mut self, tick: &mut Tick, id: ChannelId, e: ChannelError) {
        let Some(peer) = self.channels.get(&id).map(|s| s.peer) else {
            return;
        };
        match e {
            ChannelError::Ignore(v) => {
                tracing::debug!(channel = %id, peer = %peer, reason = %v, "message ignored");
            }
            ChannelError::Warn(v) => {
                tracing::warn!(channel = %id, peer = %peer, reason = %v, "sending warning and disconnecting");
                tick.messages.push(Outgoing {
                    node_id: peer,
                    channel: None,
                    msg: Message::Warning(WarningMessage {
                        channel_id: id,
                        data: v.to_string().into_bytes(),
                        unknown_tlvs: Vec::new(),
                    }),
                });
                tick.disconnects.push(peer);
            }
            ChannelError::Close(v) => {
                tracing::warn!(channel = %id, peer = %peer, reason = %v, "failing the channel");
                self.force_close(tick, id);
            }
            _ => tracing::warn!(channel = %id, error = %e, "channel error"),
        }
    }

    /// Fails a channel: `error` to the peer, our commitment to the chain.
    pub(super) fn force_close(&mut self, tick: &mut Tick, id: ChannelId) {
        match self.call(&id, |c, ctx| c.force_close(ctx)) {
            Some(Ok(out)) => self.apply(tick, id, out),
            Some(Err(e)) => tracing::error!(channel = %id, error = %e, "cannot force-close"),
            None => {}
        }
    }

    fn on_block(&mut self, tick: &mut Tick, height: u32, block: &bitcoin::Block) {
        self.height = height;
        let mut ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        ids.sort();
        for id in ids {
            self.drive(tick, id, |c, ctx| {
                c.handle_block(height, &block.txdata, ctx)
            });
        }
        self.close_confirmations(tick, block);
        self.onchain_block(tick, height, block);
        self.bump_commitments(tick, true);
        let mut ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        ids.sort();
        for id in ids {
            self.maybe_announce(tick, id);
        }
        if height % 6 == 0 {
            self.rebroadcast_funding(tick);
            let now = self.now;
            self.invoices.retain(|_, i| {
                i.status != fulmen_store::InvoiceStatus::Unpaid || i.expires_at >= now
            });
        }
        tick.batch
            .store
            .set_kv(CHANNELS_HEIGHT_KEY, height.to_be_bytes().to_vec());
    }

    /// Handles queued channel events until none is left.
    pub(super) fn drain_events(&mut self, tick: &mut Tick) {
        while let Some((id, event)) = self.work.events.pop_front() {
            let id = self.work.rekeyed.get(&id).copied().unwrap_or(id);
            self.on_event(tick, id, event);
        }
    }

    fn on_event(&mut self, tick: &mut Tick, id: ChannelId, event: ChannelEvent) {
        match event {
            ChannelEvent::FundingNeeded {
                amount,
                script_pubkey,
                ..
            } => self.build_funding(tick, id, amount, script_pubkey),
            ChannelEvent::ChannelIdAssigned {
                temporary_channel_id,
                channel_id,
            } => self.rekey(tick, temporary_channel_id, channel_id),
            ChannelEvent::ChannelReady {
                short_channel_id, ..
            } => {
                let node_id = self.channels.get(&id).map(|s| s.peer);
                tracing::info!(channel = %id, scid = %short_channel_id, "channel ready");
                self.on_channel_usable(tick, id);
                if let Some(node_id) = node_id {
                    let events = self.svc.events.clone();
                    after(tick, move |ok| {
                        if ok {
                            let _ = events.send(NodeEvent::ChannelReady {
                                channel_id: id,
                                node_id,
                                short_channel_id,
                            });
                        }
                    });
                }
            }
            ChannelEvent::HtlcAdded(htlc) => self.on_htlc_added(tick, id, htlc),
            ChannelEvent::HtlcFulfilled { id: htlc, preimage }
                if !self.on_forward_fulfilled(tick, id, htlc, preimage) =>
            {
                self.on_htlc_fulfilled(tick, id, htlc, preimage);
            }
            ChannelEvent::HtlcFailed { id: htlc, failure }
                if !self.on_forward_failed(tick, id, htlc, &failure) =>
            {
                self.on_htlc_failed(tick, id, htlc, failure);
            }
            ChannelEvent::RevokedRemoteCommitment(record) => {
                tick.batch
                    .store
                    .add_revoked_commitment(super::revoked::to_store(&record));
            }
            ChannelEvent::ChannelClosed { reason, .. } => self.on_closed(tick, id, reason),
            _ => {}
        }
    }

    /// The channel's permanent id is known: re-key its entry.
    fn rekey(&mut self, tick: &mut Tick, temporary: ChannelId, real: ChannelId) {
        if temporary == real || self.channels.contains_key(&real) {
            if temporary != real {
                tracing::error!(channel = %real, "funding-derived id already in use: abandoning");
                self.force_close(tick, temporary);
            }
            return;
        }
        let Some(slot) = self.channels.remove(&temporary) else {
            return;
        };
        self.channels.insert(real, slot);
        self.work.rekeyed.insert(temporary, real);
        for set in [&mut self.work.dirty, &mut self.work.touched] {
            if set.remove(&temporary) {
                set.insert(real);
            }
        }
        for out in &mut tick.messages {
            if out.channel == Some(temporary) {
                out.channel = Some(real);
            }
        }
        for (channel, _) in &mut tick.broadcasts {
            if *channel == Some(temporary) {
                *channel = Some(real);
            }
        }
    }

    /// End of tick, before the commit: sign every changed channel's
    /// updates (one `commitment_signed` each, covering the whole tick),
    /// handle what that causes, encode each changed state once.
    fn settle(&mut self, tick: &mut Tick) {
        self.drain_events(tick);
        for _ in 0..8 {
            let touched = core::mem::take(&mut self.work.touched);
            if touched.is_empty() {
                break;
            }
            for id in touched {
                self.drive(tick, id, |c, ctx| c.sign_if_needed(ctx));
            }
            self.drain_events(tick);
            // Signing alone touches channels again: only new activity
            // (events that added updates) needs another round.
            self.work.touched.retain(|id| {
                self.channels
                    .get(id)
                    .and_then(|s| s.chan.established())
                    .is_some_and(|e| e.ledger.has_changes_to_sign(fulmen_script::Side::Local))
            });
        }
        self.work.touched.clear();
        let now = self.now;
        for id in core::mem::take(&mut self.work.dirty) {
            if self.stopped.contains(&id) {
                continue;
            }
            let Some(slot) = self.channels.get_mut(&id) else {
                continue;
            };
            if !slot.persistable() {
                continue;
            }
            tick.batch
                .put_channel(id, slot.peer, slot.chan.encode_state(), now);
            let htlcs = slot
                .chan
                .established()
                .map_or(0, |e| e.ledger.htlcs().count());
            if htlcs == 0 && slot.busy {
                let event = NodeEvent::ChannelSettled { channel_id: id };
                let events = self.svc.events.clone();
                after(tick, move |ok| {
                    if ok {
                        let _ = events.send(event);
                    }
                });
            }
            slot.busy = htlcs > 0;
            if matches!(slot.chan, Channel::Closed(_)) {
                tick.batch.close_channel(id, now);
            }
            slot.stored = true;
        }
    }

    /// Commits the tick's records, then (only then) sends its messages and
    /// broadcasts and answers its commands (see the module documentation of
    /// [`super`]).
    pub fn finish_tick(&mut self, mut tick: Tick) {
        self.settle(&mut tick);
        let batch = core::mem::take(&mut tick.batch);
        let ids = batch.channels.clone();
        let points = batch.points.clone();
        let wrote = !batch.is_empty();
        let ok = match self.persister.commit(batch) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, channels = ids.len(), "commit failed: stopping the channels of this batch");
                self.stopped.extend(ids.iter().copied());
                self.fail_payment_waiters(&ids);
                false
            }
        };
        if ok && wrote {
            if let Some(hook) = self.crash.as_mut() {
                if hook.hits(&points, &tick.messages) {
                    super::crash::crash_now(&points);
                }
            }
        }
        let stopped = &self.stopped;
        let blocked = |c: &Option<ChannelId>| c.is_some_and(|id| !ok || stopped.contains(&id));
        for out in tick.messages {
            if blocked(&out.channel) {
                continue;
            }
            if !self.outbox.send(&out.node_id, out.msg) {
                tracing::debug!(peer = %out.node_id, "peer gone: message dropped");
            }
        }
        for (channel, tx) in tick.broadcasts {
            if !blocked(&channel) {
                self.broadcaster.broadcast(&tx);
            }
        }
        for peer in tick.disconnects {
            self.outbox.disconnect(&peer);
        }
        for f in tick.after_commit {
            f(ok);
        }
        for id in core::mem::take(&mut self.work.forget) {
            if self.channels.get(&id).is_some_and(|s| !s.stored) {
                self.channels.remove(&id);
            }
        }
        self.work.rekeyed.clear();
        self.work.labels.clear();
        for hash in core::mem::take(&mut self.work.added) {
            if !ok {
                self.invoices.remove(&hash);
            }
        }
        for hash in core::mem::take(&mut self.work.paid) {
            if self
                .invoices
                .get(&hash)
                .is_some_and(|i| i.status != fulmen_store::InvoiceStatus::Unpaid)
            {
                self.invoices.remove(&hash);
            }
        }
    }

    /// The node is stopping: every waiting caller gets an error.
    fn fail_waiters(&mut self) {
        for slot in self.channels.values_mut() {
            if let Some(reply) = slot.open_reply.take() {
                let _ = reply.send(Err(super::CmError::Stopped));
            }
            for reply in slot.close_replies.drain(..) {
                let _ = reply.send(Err(super::CmError::Stopped));
            }
        }
        for state in self.attempts.values_mut() {
            for reply in state.waiters.drain(..) {
                let _ = reply.send(Err(super::CmError::Stopped));
            }
        }
    }

    /// Sets the chain's feerate estimate (sat/kw, raised to the 253
    /// floor), as [`CmInput::Feerate`] does once running.
    pub fn set_feerate(&mut self, per_kw: u32) {
        self.feerate = per_kw.max(MIN_FEERATE_PER_KW);
    }

    /// The best block height seen.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Whether the peer is connected (as far as the manager knows).
    pub fn is_connected(&self, node_id: &NodeId) -> bool {
        self.peers.contains_key(node_id)
    }

    /// Emits a node event once the tick is committed.
    pub(super) fn emit_after(&self, tick: &mut Tick, event: NodeEvent) {
        let events = self.svc.events.clone();
        after(tick, move |ok| {
            if ok {
                let _ = events.send(event);
            }
        });
    }
}

/// Queues `f` to run after the tick's commit.
pub(super) fn after(tick: &mut Tick, f: impl FnOnce(bool) + Send + 'static) {
    let f: AfterCommit = Box::new(f);
    tick.after_commit.push(f);
}

fn read_u32(v: Option<Vec<u8>>) -> u32 {
    v.and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
        .map_or(0, u32::from_be_bytes)
}
