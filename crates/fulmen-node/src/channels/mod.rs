//! The channel manager: ONE thread owning every channel of the node.
//!
//! # The tick (persist before you reveal)
//!
//! The manager waits for an input ([`CmInput`]: a peer connected or
//! disconnected, a channel message, a block, a command), then drains every
//! further input already queued (up to [`MAX_INPUTS_PER_TICK`]), and handles
//! them all into one [`Tick`]. At the end of the tick every channel that
//! changed signs its pending updates once ([`fulmen_channel::Channel::sign_if_needed`]:
//! many HTLCs per `commitment_signed`), every changed channel state is
//! encoded once, and then, in this order:
//!
//! 1. the channel states, together with the invoice, payment, key-index and
//!    revoked-commitment records of the tick, are committed in ONE
//!    [`Persister::commit`] (one SQLite transaction, one fsync, for all
//!    channels of the tick);
//! 2. only if that succeeded are the tick's messages handed to the peers'
//!    queues ([`Outbox`]), its transactions to the chain, and the answers
//!    to the commands that waited for the tick;
//! 3. if it failed, every message and broadcast that depends on channel
//!    state is dropped and the channels of the batch are stopped (not
//!    closed) until the node restarts.
//!
//! So no message can leave before the state it reveals is durable: the
//! ordering is the structure of [`ChannelManager::finish_tick`], not a rule
//! each handler has to remember. A preimage goes into
//! `update_fulfill_htlc` only after the commit that marks its invoice paid.
//!
//! # What lives where
//!
//! | module | does |
//! | --- | --- |
//! | `manager` | the thread, the tick, applying channel outputs and events |
//! | `routing` | peers connecting and disconnecting, BOLT 2 messages to their channel, `error`s |
//! | `commands` | the RPC and node-API commands |
//! | `open` | `openchannel`, the funding transaction, inbound `open_channel` with the unfunded-channel caps |
//! | `payments` | outgoing payments (BOLT 11 and keysend): attempts, retries, their outcome |
//! | `route` | routes from the graph for our payments, their onions, what failures teach |
//! | `receive` | incoming HTLCs: onion, BOLT 4 final-node checks, invoices and keysend |
//! | `mpp` | multi-part payments received: parts held until complete, or failed on timeout |
//! | `forward` | incoming HTLCs for another node: policy checks, the outgoing HTLC, settling and failing back |
//! | `announce` | our `channel_update`s, `announcement_signatures` and the channel and node announcements they make |
//! | `close` | `closechannel` (mutual or forced), the close transaction confirming |
//! | `bump` | our force-closed commitment until it confirms: rebroadcast, anchor CPFP child |
//! | `fee_update` | the commitment feerate we propose as funder (`update_fee`), following the chain's estimate (anchor channels capped at 10 sat/vB) |
//! | `htlc_txs` | our HTLC transactions on chain: aggregated by lock time and wallet-funded on anchor channels, rebroadcast, funded anew when stale |
//! | `onchain` | funding spends on chain (BOLT 5): sweeps, HTLC transactions, justice, failing back |
//! | `revoked` | the stored record of each revoked commitment of the peer |
//! | `persist` | the [`Persister`] seam and the node's store behind it |
//! | `crash` | the `FULMEN_CRASH_AT` test hook |
//! | `slot` | one channel's entry: its peer, keys and node-side bookkeeping |
//!
//! # Channels in the store
//!
//! A channel is written from the moment it has a funding outpoint (the
//! funder's `funding_created`, the fundee's `funding_signed`); earlier it
//! only lives in memory and is forgotten on disconnection (BOLT 2). At
//! start the node loads every stored channel with status `open` and
//! resumes it with `channel_reestablish` when its peer connects.

mod announce;
mod bump;
mod close;
mod commands;
pub mod crash;
mod fee_update;
mod forward;
mod htlc_txs;
mod manager;
mod mpp;
pub mod onchain;
mod open;
mod payments;
mod persist;
mod receive;
pub mod revoked;
pub mod route;
mod routing;
mod slot;
#[cfg(test)]
mod tests;

use bitcoin::{Block, BlockHash, Transaction, Txid};
use fulmen_types::{ChannelId, Features, Msat, NodeId, Sat};
use fulmen_wire::{ErrorMessage, Message};
use std::sync::Arc;
use tokio::sync::oneshot;

pub use bump::AnchorBump;
pub use manager::{ChannelManager, CmServices, FundingWallet};
pub use payments::{PayRequest, PaymentOutcome, PaymentStatusKind};
pub use persist::{NoStore, PersistBatch, PersistError, Persister, StorePersister};
pub use slot::{ChannelInfo, ChannelsConfig, ForwardingPolicy, OnchainInfo, PendingClaim};

/// Most inputs handled in one tick (bounds latency under load).
pub const MAX_INPUTS_PER_TICK: usize = 512;

/// An input of the channel manager.
#[derive(Debug)]
#[non_exhaustive]
pub enum CmInput {
    /// A peer finished `init`. May come again without a
    /// [`CmInput::PeerDisconnected`] in between when a new connection
    /// replaces an older one: treated as a disconnection plus a connection
    /// (channels then send `channel_reestablish`).
    PeerConnected {
        /// The peer.
        node_id: NodeId,
        /// Its combined `init` features.
        features: Features,
        /// The connection (inputs of older connections are dropped).
        conn: u64,
    },
    /// The peer's connection ended.
    PeerDisconnected {
        /// The peer.
        node_id: NodeId,
        /// The connection.
        conn: u64,
    },
    /// A BOLT 2 message from the peer.
    PeerMessage {
        /// The peer.
        node_id: NodeId,
        /// The connection it came on.
        conn: u64,
        /// The message (boxed: messages are large).
        msg: Box<Message>,
    },
    /// The peer sent `error` (all-zero id: about every channel with it).
    PeerError {
        /// The peer.
        node_id: NodeId,
        /// The connection it came on.
        conn: u64,
        /// The message.
        error: ErrorMessage,
    },
    /// A channel message from the peer was malformed in a way that fails
    /// the channel (an invalid point or signature, BOLT 2); the connection
    /// is being closed.
    FailChannel {
        /// The peer.
        node_id: NodeId,
        /// The connection it came on.
        conn: u64,
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
    /// The chain's current feerate estimate, sat per 1000 weight (for new
    /// channels, funding transactions and mutual-close fees).
    Feerate {
        /// sat/kw.
        per_kw: u32,
    },
    /// A request from the RPC or the node API.
    Command(CmCommand),
    /// The clock moved (sent every second): timeouts (multi-part sets,
    /// payments) are checked.
    Timer,
    /// Stop after this tick.
    Shutdown,
}

/// A request to the channel manager, with where to answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum CmCommand {
    /// How many channels there are (closed ones excluded).
    NumChannels(oneshot::Sender<usize>),
    /// The feerate the manager uses (the chain's estimate), sat/kw.
    Feerate(oneshot::Sender<u32>),
    /// Open a channel we fund; answered once the funding transaction is
    /// broadcast (after `funding_signed` was received and persisted).
    OpenChannel {
        /// The peer (must be connected).
        peer: NodeId,
        /// The capacity.
        funding: Sat,
        /// Given to the peer at opening.
        push: Msat,
        /// Announce the channel (false: private).
        announce: bool,
        /// The answer.
        reply: oneshot::Sender<Result<OpenedChannel, CmError>>,
    },
    /// Every channel.
    ListChannels(oneshot::Sender<Vec<ChannelInfo>>),
    /// Close a channel; answered once the closing (or, with `force`, our
    /// commitment) transaction is broadcast.
    CloseChannel {
        /// The channel.
        channel_id: ChannelId,
        /// Unilateral close.
        force: bool,
        /// The answer: the broadcast transaction's id.
        reply: oneshot::Sender<Result<Txid, CmError>>,
    },
    /// Store a new invoice (its preimage included).
    AddInvoice {
        /// The record.
        invoice: Box<fulmen_store::Invoice>,
        /// The answer, once committed.
        reply: oneshot::Sender<Result<(), CmError>>,
    },
    /// Pay over routes from the graph (or over `route` only); answered
    /// with the outcome.
    Pay {
        /// What to pay.
        request: Box<PayRequest>,
        /// Exactly this route, tried once (`sendtoroute`).
        route: Option<Box<fulmen_graph::router::Route>>,
        /// The answer.
        reply: oneshot::Sender<Result<PaymentOutcome, CmError>>,
    },
    /// Every invoice, oldest first.
    ListInvoices(oneshot::Sender<Result<Vec<fulmen_store::Invoice>, CmError>>),
    /// Every forward, oldest first.
    ListForwards(oneshot::Sender<Result<Vec<fulmen_store::Forward>, CmError>>),
    /// Every outgoing payment, oldest first.
    ListPayments(oneshot::Sender<Result<Vec<fulmen_store::Payment>, CmError>>),
    /// Remember where a peer can be reached (after an outbound connect).
    RememberPeer {
        /// The peer.
        node_id: NodeId,
        /// `HOST:PORT`.
        address: String,
    },
    /// The peers to reconnect to: disconnected, with a channel that is not
    /// closed, and a known address.
    ReconnectTargets(oneshot::Sender<Vec<crate::peer::ConnectTarget>>),
}

/// What `openchannel` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedChannel {
    /// The channel id (funding-derived).
    pub channel_id: ChannelId,
    /// The funding transaction, broadcast.
    pub funding_txid: Txid,
    /// Its funding output.
    pub funding_output_index: u32,
}

/// Why a command failed. Nothing was sent for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmError {
    /// The peer is not connected.
    PeerNotConnected,
    /// No such channel.
    UnknownChannel,
    /// No usable channel with the payee (direct payments only for now).
    NoChannelToPayee,
    /// No route to the payee (the router's reason).
    NoRoute(String),
    /// The channel refused the request (its reason).
    Channel(String),
    /// The request is invalid (what is wrong).
    Invalid(&'static str),
    /// The invoice was already paid.
    AlreadyPaid,
    /// A payment for this hash is in flight.
    PaymentInProgress,
    /// An invoice with this label or hash exists.
    DuplicateInvoice,
    /// Building the funding transaction failed (the wallet's reason).
    Funding(String),
    /// The peer refused or the channel was abandoned (the peer's text, if
    /// any).
    Abandoned(Option<String>),
    /// The store failed (nothing of the request was written).
    Store(String),
    /// No randomness.
    Entropy,
    /// The channel manager stopped (the node is stopping, or the channel
    /// was stopped after a failed write).
    Stopped,
}

impl core::fmt::Display for CmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::PeerNotConnected => f.write_str("peer not connected"),
            Self::UnknownChannel => f.write_str("unknown channel"),
            Self::NoChannelToPayee => f.write_str("no usable channel with the payee"),
            Self::NoRoute(why) => write!(f, "no route: {why}"),
            Self::Channel(e) => write!(f, "channel refused: {e}"),
            Self::Invalid(what) => f.write_str(what),
            Self::AlreadyPaid => f.write_str("already paid"),
            Self::PaymentInProgress => f.write_str("a payment for this hash is in flight"),
            Self::DuplicateInvoice => f.write_str("an invoice with this label or hash exists"),
            Self::Funding(e) => write!(f, "funding transaction: {e}"),
            Self::Abandoned(Some(text)) => write!(f, "channel abandoned: {text}"),
            Self::Abandoned(None) => f.write_str("channel abandoned"),
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Entropy => f.write_str("no entropy"),
            Self::Stopped => f.write_str("channel manager stopped"),
        }
    }
}

impl std::error::Error for CmError {}

/// Where the manager's messages go: the peers' outbound queues.
pub trait Outbox: Send + Sync + 'static {
    /// Queues `msg` for `node_id`; `false` if the peer is not connected (or
    /// too slow, and now being disconnected).
    fn send(&self, node_id: &NodeId, msg: Message) -> bool;

    /// Closes the connection to `node_id` after what is queued (a channel
    /// sent a `warning`).
    fn disconnect(&self, node_id: &NodeId) {
        let _ = node_id;
    }
}

/// Where the manager's transactions go (the chain, plus the on-chain
/// wallet's mempool view for our own transactions).
pub trait Broadcaster: Send + Sync + 'static {
    /// Broadcasts `tx`; failures are logged by the implementation (the
    /// channel retries at the next block).
    fn broadcast(&self, tx: &Transaction);

    /// The transaction spending `outpoint` in the active chain, with the
    /// height of its block; `None` if the outpoint is unspent, spent only
    /// in the mempool, or the chain cannot say (the default). Blocking;
    /// the manager asks it only when it rebuilds its on-chain watches (at
    /// start and after a disconnected block, see [`onchain`]).
    fn confirmed_spend(&self, outpoint: &bitcoin::OutPoint) -> Option<(Transaction, u32)> {
        let _ = outpoint;
        None
    }
}

/// A message to send at the end of the tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The peer.
    pub node_id: NodeId,
    /// The channel whose state the message depends on (dropped if the
    /// tick's write fails); `None` for messages about no stored state.
    pub channel: Option<ChannelId>,
    /// The message.
    pub msg: Message,
}

/// Run after the tick's commit with its success (answers to commands).
pub type AfterCommit = Box<dyn FnOnce(bool) + Send>;

/// What one tick produced.
#[derive(Default)]
pub struct Tick {
    /// Records to commit first.
    pub batch: PersistBatch,
    /// Messages to send after the commit.
    pub messages: Vec<Outgoing>,
    /// Transactions to broadcast after the commit, with their channel.
    pub broadcasts: Vec<(Option<ChannelId>, Transaction)>,
    /// Peers to disconnect after the messages.
    pub disconnects: Vec<NodeId>,
    /// Answers to give once the commit is done.
    pub after_commit: Vec<AfterCommit>,
}

impl core::fmt::Debug for Tick {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tick")
            .field("batch", &self.batch)
            .field("messages", &self.messages.len())
            .field("broadcasts", &self.broadcasts.len())
            .finish_non_exhaustive()
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
