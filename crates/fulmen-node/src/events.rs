//! What the node reports as it runs: peer connections and disconnections
//! (with the reason), liveness, peer warnings and errors, chain progress.
//!
//! Subscribe with [`crate::Node::subscribe`]; tests wait on these instead of
//! sleeping. Events are broadcast: a slow subscriber misses old ones
//! (`RecvError::Lagged`), it never slows the node down.

use core::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use bitcoin::Txid;
use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage, ShortChannelId};
use fulmen_wire::WireError;

use crate::features::InitError;

/// Something that happened in the node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NodeEvent {
    /// A peer completed the handshake and the `init` exchange.
    PeerConnected {
        /// The peer.
        node_id: NodeId,
        /// Its address.
        addr: SocketAddr,
        /// Whether it connected to us.
        inbound: bool,
    },
    /// A connection ended (before or after `init`).
    PeerDisconnected {
        /// The peer, if the handshake authenticated it.
        node_id: Option<NodeId>,
        /// Its address.
        addr: SocketAddr,
        /// Why.
        reason: DisconnectReason,
    },
    /// A `pong` answered our `ping`.
    PongReceived {
        /// The peer.
        node_id: NodeId,
        /// Time from our `ping` to its `pong`.
        round_trip: Duration,
    },
    /// The peer sent a `warning`.
    WarningReceived {
        /// The peer.
        node_id: NodeId,
        /// The channel it is about (all zeros: the connection).
        channel_id: ChannelId,
        /// Its text, if printable ASCII.
        text: Option<String>,
    },
    /// The peer sent an `error`.
    ErrorReceived {
        /// The peer.
        node_id: NodeId,
        /// The channel it is about (all zeros: every channel).
        channel_id: ChannelId,
        /// Its text, if printable ASCII.
        text: Option<String>,
    },
    /// The chain follower has applied every block up to this height.
    ChainSynced {
        /// The height of the follower's tip.
        height: u32,
    },
    /// A channel's funding is deep enough and `channel_ready` was
    /// exchanged both ways: it carries payments.
    ChannelReady {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        node_id: NodeId,
        /// The funding output's short channel id.
        short_channel_id: ShortChannelId,
    },
    /// A channel resumed after a reconnection (`channel_reestablish`
    /// exchanged): it carries payments again.
    ChannelReestablished {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        node_id: NodeId,
    },
    /// A channel closed (a closing or commitment transaction broadcast) or
    /// was abandoned before funding.
    ChannelClosed {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        node_id: NodeId,
        /// The transaction broadcast, if any.
        txid: Option<Txid>,
    },
    /// An invoice (or a keysend) was paid: the fulfill is committed.
    PaymentReceived {
        /// The payment hash.
        payment_hash: PaymentHash,
        /// What the HTLC carried.
        amount: Msat,
        /// Whether it was a keysend (no invoice).
        keysend: bool,
    },
    /// One of our payments completed (the preimage is stored).
    PaymentSent {
        /// The payment hash.
        payment_hash: PaymentHash,
        /// What the payee received.
        amount: Msat,
    },
    /// A channel's last HTLC is gone from both commitments (committed):
    /// its balances are final until the next payment.
    ChannelSettled {
        /// The channel.
        channel_id: ChannelId,
    },
    /// We offered an HTLC downstream for one that came in (committed).
    HtlcForwarded {
        /// The payment hash.
        payment_hash: PaymentHash,
        /// The incoming channel.
        in_channel: ChannelId,
        /// The outgoing channel.
        out_channel: ChannelId,
        /// The incoming HTLC's amount.
        in_amount: Msat,
        /// The outgoing HTLC's amount (the difference is our fee).
        out_amount: Msat,
        /// The incoming HTLC's expiry.
        in_cltv_expiry: u32,
        /// The outgoing HTLC's expiry.
        out_cltv_expiry: u32,
    },
    /// Downstream fulfilled a forward; we settled upstream with the
    /// preimage (committed).
    ForwardSettled {
        /// The payment hash.
        payment_hash: PaymentHash,
        /// The incoming channel.
        in_channel: ChannelId,
        /// The outgoing channel.
        out_channel: ChannelId,
        /// The preimage (`Debug` redacts it).
        preimage: PaymentPreimage,
    },
    /// Downstream failed a forward; we failed upstream (committed).
    ForwardFailed {
        /// The payment hash.
        payment_hash: PaymentHash,
        /// The incoming channel.
        in_channel: ChannelId,
        /// The outgoing channel.
        out_channel: ChannelId,
    },
    /// The network graph took new gossip (sent at most once per gossip
    /// flush interval).
    GraphChanged {
        /// Channels in the graph.
        channels: usize,
        /// Nodes in the graph.
        nodes: usize,
    },
    /// One of our payments failed.
    PaymentFailed {
        /// The payment hash.
        payment_hash: PaymentHash,
        /// The BOLT 4 failure name.
        failure: &'static str,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The BOLT 8 handshake failed (bad act, bad MAC, bad key).
    Handshake(fulmen_noise::Error),
    /// The handshake or `init` did not complete in time.
    SetupTimeout,
    /// The peer's `init` was refused.
    Init(InitError),
    /// A transport frame failed authentication (garbage or tampering).
    Transport(fulmen_noise::Error),
    /// A message could not be decoded and BOLT 1 says to close (unknown even
    /// type, malformed known message).
    Wire(WireError),
    /// No `pong` came back in time.
    PingTimeout,
    /// The peer closed the connection.
    RemoteClosed,
    /// A socket error.
    Io(std::io::ErrorKind),
    /// The peer connected again; this older connection was dropped.
    Replaced,
    /// The peer does not read fast enough: its outbound queue is full.
    SlowPeer,
    /// Too many inbound connections.
    TooManyConnections,
    /// No random key for the handshake.
    Entropy,
    /// The node is stopping.
    Shutdown,
    /// A channel sent the peer a `warning` about a message it refused
    /// (BOLT 2: the connection is closed; the channel stays open).
    ChannelWarning,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handshake(e) => write!(f, "handshake failed: {e}"),
            Self::SetupTimeout => f.write_str("handshake or init timed out"),
            Self::Init(e) => write!(f, "init refused: {e}"),
            Self::Transport(e) => write!(f, "transport failed: {e}"),
            Self::Wire(e) => write!(f, "bad message: {e}"),
            Self::PingTimeout => f.write_str("no pong in time"),
            Self::RemoteClosed => f.write_str("peer closed the connection"),
            Self::Io(kind) => write!(f, "socket error: {kind}"),
            Self::Replaced => f.write_str("replaced by a newer connection"),
            Self::SlowPeer => f.write_str("peer too slow: outbound queue full"),
            Self::TooManyConnections => f.write_str("too many inbound connections"),
            Self::Entropy => f.write_str("no entropy for the handshake"),
            Self::Shutdown => f.write_str("node stopping"),
            Self::ChannelWarning => f.write_str("channel protocol violation (warning sent)"),
        }
    }
}
