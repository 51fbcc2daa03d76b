//! The channel manager: ONE thread owning every channel of the node.
//!
//! # The tick (persist before you reveal)
//!
//! The manager waits for an input ([`CmInput`]: a peer connected or
//! disconnected, a channel message, a block, a command), then drains every
//! further input already queued (up to [`MAX_INPUTS_PER_TICK`]), and handles
//! them all into one [`Tick`]: the channel states to write, the messages to
//! send, the transactions to broadcast. Then, in this order:
//!
//! 1. every changed channel state is committed in ONE [`Persister::commit`]
//!    (one SQLite transaction, one fsync, for all channels of the tick);
//! 2. only if that succeeded are the tick's messages handed to the peers'
//!    queues ([`Outbox`]) and its transactions to the chain;
//! 3. if it failed, the messages and broadcasts of the channels in the
//!    batch are dropped and those channels are stopped (not closed); the
//!    other outputs still go.
//!
//! So no message can leave before the state it reveals is durable: the
//! ordering is the structure of [`ChannelManager::finish_tick`], not a rule
//! each handler has to remember.
//!
//! # Phase 1
//!
//! There are no channels yet (fulmen-channel and fulmen-store are being
//! written). The manager already answers like a node without channels:
//! every BOLT 2 message gets an `error` for its (temporary) channel id
//! (BOLT 1: SHOULD send `error` for messages about unknown channels), and
//! `open_channel` is declined that way. The seams for phase 2:
//!
//! * `channels: HashMap<ChannelId, fulmen_channel::Channel>` in
//!   [`ChannelManager`], loaded from `Store::load_channels` at start;
//! * [`CmInput::PeerMessage`] → `Channel::handle_message`, whose `Outputs`
//!   go into the [`Tick`] (`persist` → [`PersistBatch::channels`]);
//! * [`CmInput::BlockConnected`] → `Channel::handle_block`;
//! * `sign_if_needed` on every channel once per tick, before step 1;
//! * [`Persister`] is already [`StorePersister`] over the node's
//!   `fulmen_store::Store` (phase 1 never gives it anything to write);
//! * [`CmCommand`] grows `OpenChannel`, `CloseChannel`, `AddHtlc`, ….

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bitcoin::{Block, BlockHash, Transaction};
use fulmen_types::{ChannelId, Features, NodeId};
use fulmen_wire::{ErrorMessage, Message};
use tokio::sync::{mpsc, oneshot};

use crate::tasks::TaskGuard;

/// Most inputs handled in one tick (bounds latency under load).
pub const MAX_INPUTS_PER_TICK: usize = 256;

/// An input of the channel manager.
#[derive(Debug)]
#[non_exhaustive]
pub enum CmInput {
    /// A peer finished `init`. May come again without a
    /// [`CmInput::PeerDisconnected`] in between when a new connection
    /// replaces an older one: treat it as a disconnection plus a connection
    /// (channels then send `channel_reestablish`).
    PeerConnected {
        /// The peer.
        node_id: NodeId,
        /// Its combined `init` features.
        features: Features,
    },
    /// The peer's connection ended.
    PeerDisconnected {
        /// The peer.
        node_id: NodeId,
    },
    /// A BOLT 2 message from the peer.
    PeerMessage {
        /// The peer.
        node_id: NodeId,
        /// The message (boxed: messages are large).
        msg: Box<Message>,
    },
    /// The peer sent `error` (all-zero id: about every channel with it).
    PeerError {
        /// The peer.
        node_id: NodeId,
        /// The message.
        error: ErrorMessage,
    },
    /// A channel message from the peer was malformed in a way that fails
    /// the channel (an invalid point or signature, BOLT 2); the connection
    /// is being closed.
    FailChannel {
        /// The peer.
        node_id: NodeId,
        /// The channel, read from the raw message if it was long enough.
        channel_id: Option<ChannelId>,
    },
    /// A block joined the active chain.
    BlockConnected {
        /// Its height.
        height: u32,
        /// The block.
        block: Arc<Block>,
    },
    /// A block left the active chain (reorg).
    BlockDisconnected {
        /// Its height.
        height: u32,
        /// Its hash.
        hash: BlockHash,
    },
    /// A request from the RPC or the node API.
    Command(CmCommand),
    /// Stop after this tick.
    Shutdown,
}

/// A request to the channel manager, with where to answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum CmCommand {
    /// How many channels there are.
    NumChannels(oneshot::Sender<usize>),
}

/// Where the manager's messages go: the peers' outbound queues.
pub trait Outbox: Send + Sync + 'static {
    /// Queues `msg` for `node_id`; `false` if the peer is not connected (or
    /// too slow, and now being disconnected).
    fn send(&self, node_id: &NodeId, msg: Message) -> bool;
}

/// Where the manager's transactions go (the chain, plus the on-chain
/// wallet's mempool view for our own transactions).
pub trait Broadcaster: Send + Sync + 'static {
    /// Broadcasts `tx`; failures are logged by the implementation (the
    /// channel retries at the next block).
    fn broadcast(&self, tx: &Transaction);
}

/// One channel's serialized state to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelWrite {
    /// The channel.
    pub channel_id: ChannelId,
    /// Its peer.
    pub peer_id: NodeId,
    /// `Channel::encode_state`.
    pub state: Vec<u8>,
}

/// Everything to commit in one transaction at the end of a tick.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistBatch {
    /// Changed channel states.
    pub channels: Vec<ChannelWrite>,
}

impl PersistBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }
}

/// A failed commit: nothing of the batch may be taken as written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersistError {
    /// The node has no store (phase 1): nothing can be persisted, so
    /// nothing that needs persisting may be sent.
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

/// Durable storage of channel states (the seam for `fulmen_store::Store`).
pub trait Persister: Send + 'static {
    /// Writes the whole batch in one transaction, durably, or nothing.
    fn commit(&mut self, batch: &PersistBatch) -> Result<(), PersistError>;
}

/// The phase-1 persister: there is no store, so any non-empty batch fails
/// (and its messages are dropped). An empty batch succeeds.
#[derive(Debug, Default)]
pub struct NoStore;

impl Persister for NoStore {
    fn commit(&mut self, batch: &PersistBatch) -> Result<(), PersistError> {
        if batch.is_empty() {
            Ok(())
        } else {
            Err(PersistError::NoStore)
        }
    }
}

/// The node's store as the manager's persister: each [`PersistBatch`]
/// becomes one `fulmen_store::Batch`, committed in one transaction.
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
    fn commit(&mut self, batch: &PersistBatch) -> Result<(), PersistError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = crate::chain::unix_now();
        let mut out = fulmen_store::Batch::new();
        for c in &batch.channels {
            out.put_channel(c.channel_id, c.peer_id, c.state.clone(), now);
        }
        self.store
            .commit(out)
            .map_err(|e| PersistError::Store(e.to_string()))
    }
}

/// A message to send at the end of the tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The peer.
    pub node_id: NodeId,
    /// The channel whose state the message depends on (dropped if that
    /// channel's write fails); `None` for messages about no stored state.
    pub channel: Option<ChannelId>,
    /// The message.
    pub msg: Message,
}

/// What one tick produced.
#[derive(Debug, Default)]
pub struct Tick {
    /// States to commit first.
    pub batch: PersistBatch,
    /// Messages to send after the commit.
    pub messages: Vec<Outgoing>,
    /// Transactions to broadcast after the commit, with their channel.
    pub broadcasts: Vec<(Option<ChannelId>, Transaction)>,
}

/// The channel manager (see the module documentation).
pub struct ChannelManager<P: Persister, O: Outbox, B: Broadcaster> {
    persister: P,
    outbox: Arc<O>,
    broadcaster: Arc<B>,
    /// Connected peers and their features.
    peers: HashMap<NodeId, Features>,
    /// Channels stopped after a failed write: no more outputs until restart.
    stopped: HashSet<ChannelId>,
    /// The best block height seen.
    height: u32,
}

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// A manager with no channels.
    pub fn new(persister: P, outbox: Arc<O>, broadcaster: Arc<B>) -> Self {
        Self {
            persister,
            outbox,
            broadcaster,
            peers: HashMap::new(),
            stopped: HashSet::new(),
            height: 0,
        }
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
                while let Some(first) = inputs.blocking_recv() {
                    let mut tick = Tick::default();
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
                tracing::debug!("channel manager stopped");
                drop(guard);
            })
            .map(|_| ())
    }

    /// Handles one input into `tick`; `true` to stop.
    pub fn handle(&mut self, input: CmInput, tick: &mut Tick) -> bool {
        match input {
            CmInput::PeerConnected { node_id, features } => {
                self.peers.insert(node_id, features);
            }
            CmInput::PeerDisconnected { node_id } => {
                self.peers.remove(&node_id);
            }
            CmInput::PeerMessage { node_id, msg } => self.on_peer_message(node_id, &msg, tick),
            CmInput::PeerError { node_id, error } => {
                // No channels: BOLT 1 says to ignore an error about an
                // unknown channel; one about all channels fails none.
                tracing::debug!(peer = %node_id, channel = %error.channel_id, "error for no channel of ours");
            }
            CmInput::FailChannel {
                node_id,
                channel_id,
            } => {
                tracing::debug!(peer = %node_id, channel = ?channel_id, "malformed message for no channel of ours");
            }
            CmInput::BlockConnected { height, .. } => self.height = height,
            CmInput::BlockDisconnected { height, .. } => {
                self.height = height.saturating_sub(1);
            }
            CmInput::Command(CmCommand::NumChannels(reply)) => {
                let _ = reply.send(0);
            }
            CmInput::Shutdown => return true,
        }
        false
    }

    fn on_peer_message(&mut self, node_id: NodeId, msg: &Message, tick: &mut Tick) {
        let Some(channel_id) = channel_id_of(msg) else {
            return;
        };
        let text: &[u8] = match msg {
            Message::OpenChannel(_) => b"fulmen does not accept channels yet",
            _ => b"unknown channel",
        };
        tick.messages.push(Outgoing {
            node_id,
            channel: None,
            msg: Message::Error(ErrorMessage {
                channel_id,
                data: text.to_vec(),
                unknown_tlvs: Vec::new(),
            }),
        });
    }

    /// Commits the tick's states, then (only then) sends its messages and
    /// broadcasts (see the module documentation).
    pub fn finish_tick(&mut self, tick: Tick) {
        let failed: HashSet<ChannelId> = match self.persister.commit(&tick.batch) {
            Ok(()) => HashSet::new(),
            Err(e) => {
                let ids: HashSet<ChannelId> =
                    tick.batch.channels.iter().map(|c| c.channel_id).collect();
                tracing::error!(error = %e, channels = ids.len(), "commit failed: stopping the channels of this batch");
                self.stopped.extend(ids.iter().copied());
                ids
            }
        };
        let blocked = |c: &Option<ChannelId>| {
            c.is_some_and(|id| failed.contains(&id) || self.stopped.contains(&id))
        };
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
    }

    /// The best block height seen.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Whether the peer is connected (as far as the manager knows).
    pub fn is_connected(&self, node_id: &NodeId) -> bool {
        self.peers.contains_key(node_id)
    }
}

/// The (temporary) channel id a BOLT 2 message is about; `None` for other
/// messages.
pub fn channel_id_of(msg: &Message) -> Option<ChannelId> {
    Some(match msg {
        Message::OpenChannel(m) => m.temporary_channel_id,
        Message::AcceptChannel(m) => m.temporary_channel_id,
        Message::FundingCreated(m) => m.temporary_channel_id,
        Message::FundingSigned(m) => m.channel_id,
        Message::ChannelReady(m) => m.channel_id,
        Message::Shutdown(m) => m.channel_id,
        Message::ClosingSigned(m) => m.channel_id,
        Message::UpdateAddHtlc(m) => m.channel_id,
        Message::UpdateFulfillHtlc(m) => m.channel_id,
        Message::UpdateFailHtlc(m) => m.channel_id,
        Message::UpdateFailMalformedHtlc(m) => m.channel_id,
        Message::CommitmentSigned(m) => m.channel_id,
        Message::RevokeAndAck(m) => m.channel_id,
        Message::UpdateFee(m) => m.channel_id,
        Message::ChannelReestablish(m) => m.channel_id,
        _ => return None,
    })
}

/// The channel id in the raw bytes of a BOLT 2 message (type 32–255) that
/// failed to decode: `open_channel` has it after the chain hash, the others
/// first.
pub fn raw_channel_id(bytes: &[u8]) -> Option<ChannelId> {
    let ty = u16::from_be_bytes(*bytes.first_chunk::<2>()?);
    if !(32..=255).contains(&ty) {
        return None;
    }
    let start = if ty == 32 { 2 + 32 } else { 2 };
    let id = bytes.get(start..start + 32)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(id);
    Some(ChannelId(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);
    impl Log {
        fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    struct RecPersister(Arc<Log>, bool);
    impl Persister for RecPersister {
        fn commit(&mut self, batch: &PersistBatch) -> Result<(), PersistError> {
            self.0.push(format!("commit {}", batch.channels.len()));
            if self.1 {
                Ok(())
            } else {
                Err(PersistError::Store("disk full".into()))
            }
        }
    }
    struct RecOutbox(Arc<Log>);
    impl Outbox for RecOutbox {
        fn send(&self, _: &NodeId, msg: Message) -> bool {
            self.0.push(format!("send {}", msg.msg_type()));
            true
        }
    }
    struct RecBroadcast(Arc<Log>);
    impl Broadcaster for RecBroadcast {
        fn broadcast(&self, _: &Transaction) {
            self.0.push("broadcast".into());
        }
    }

    fn manager(log: &Arc<Log>, ok: bool) -> ChannelManager<RecPersister, RecOutbox, RecBroadcast> {
        ChannelManager::new(
            RecPersister(log.clone(), ok),
            Arc::new(RecOutbox(log.clone())),
            Arc::new(RecBroadcast(log.clone())),
        )
    }

    fn tx() -> Transaction {
        Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![],
            output: vec![],
        }
    }

    fn tick_touching(id: ChannelId) -> Tick {
        let peer = NodeId([2; 33]);
        let ping = Message::Ping(fulmen_wire::Ping {
            num_pong_bytes: 0,
            ignored: vec![],
            unknown_tlvs: vec![],
        });
        Tick {
            batch: PersistBatch {
                channels: vec![ChannelWrite {
                    channel_id: id,
                    peer_id: peer,
                    state: vec![1, 2, 3],
                }],
            },
            messages: vec![
                Outgoing {
                    node_id: peer,
                    channel: Some(id),
                    msg: ping.clone(),
                },
                Outgoing {
                    node_id: peer,
                    channel: None,
                    msg: ping,
                },
            ],
            broadcasts: vec![(Some(id), tx())],
        }
    }

    #[test]
    fn commit_happens_before_any_send() {
        let log = Arc::new(Log::default());
        let mut cm = manager(&log, true);
        cm.finish_tick(tick_touching(ChannelId([1; 32])));
        assert_eq!(
            log.take(),
            vec!["commit 1", "send 18", "send 18", "broadcast"]
        );
    }

    #[test]
    fn failed_commit_drops_the_channel_outputs_and_stops_it() {
        let log = Arc::new(Log::default());
        let mut cm = manager(&log, false);
        let id = ChannelId([1; 32]);
        cm.finish_tick(tick_touching(id));
        // Only the message about no stored state went out.
        assert_eq!(log.take(), vec!["commit 1", "send 18"]);
        // The channel stays stopped even when a later commit succeeds.
        cm.persister.1 = true;
        let mut later = tick_touching(ChannelId([9; 32]));
        later.messages.push(Outgoing {
            node_id: NodeId([2; 33]),
            channel: Some(id),
            msg: Message::Unknown {
                ty: 99,
                payload: vec![],
            },
        });
        cm.finish_tick(later);
        assert_eq!(
            log.take(),
            vec!["commit 1", "send 18", "send 18", "broadcast"]
        );
    }

    #[test]
    fn no_store_refuses_any_write() {
        assert_eq!(NoStore.commit(&PersistBatch::default()), Ok(()));
        assert_eq!(
            NoStore.commit(&tick_touching(ChannelId([1; 32])).batch),
            Err(PersistError::NoStore)
        );
    }

    #[test]
    fn channel_messages_are_answered_with_an_error_for_their_id() {
        let log = Arc::new(Log::default());
        let mut cm = manager(&log, true);
        let mut tick = Tick::default();
        let peer = NodeId([3; 33]);
        let shutdown = Message::Shutdown(fulmen_wire::Shutdown {
            channel_id: ChannelId([5; 32]),
            scriptpubkey: bitcoin::ScriptBuf::new(),
            unknown_tlvs: vec![],
        });
        cm.handle(
            CmInput::PeerMessage {
                node_id: peer,
                msg: Box::new(shutdown),
            },
            &mut tick,
        );
        let [Outgoing {
            node_id,
            channel: None,
            msg: Message::Error(e),
        }] = tick.messages.as_slice()
        else {
            panic!("expected one error, got {:?}", tick.messages);
        };
        assert_eq!(*node_id, peer);
        assert_eq!(e.channel_id, ChannelId([5; 32]));
        assert!(cm.handle(CmInput::Shutdown, &mut tick));
    }

    #[test]
    fn store_persister_writes_the_batch_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.sqlite");
        let mut p = StorePersister::new(fulmen_store::Store::open(&path).unwrap());
        assert_eq!(p.commit(&PersistBatch::default()), Ok(()));
        let batch = tick_touching(ChannelId([7; 32])).batch;
        assert_eq!(p.commit(&batch), Ok(()));
        drop(p);
        let store = fulmen_store::Store::open(&path).unwrap();
        let channels = store.load_channels().unwrap();
        assert_eq!(channels.len(), 1);
        assert_eq!(channels[0].channel_id, ChannelId([7; 32]));
        assert_eq!(channels[0].state, vec![1, 2, 3]);
    }

    #[test]
    fn raw_channel_ids() {
        let mut open = vec![0, 32];
        open.extend([0xaa; 32]);
        open.extend([0xbb; 32]);
        assert_eq!(raw_channel_id(&open), Some(ChannelId([0xbb; 32])));
        let mut add = vec![0, 128];
        add.extend([0xcc; 32]);
        assert_eq!(raw_channel_id(&add), Some(ChannelId([0xcc; 32])));
        assert_eq!(raw_channel_id(&add[..20]), None);
        assert_eq!(raw_channel_id(&[1, 2]), None);
        assert_eq!(raw_channel_id(&[0]), None);
        assert_eq!(raw_channel_id(&[0, 18, 0, 0]), None);
    }
}
