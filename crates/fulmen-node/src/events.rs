//! What the node reports as it runs: peer connections and disconnections
//! (with the reason), liveness, peer warnings and errors, chain progress.
//!
//! Subscribe with [`crate::Node::subscribe`]; tests wait on these instead of
//! sleeping. Events are broadcast: a slow subscriber misses old ones
//! (`RecvError::Lagged`), it never slows the node down.

use core::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use fulmen_types::{ChannelId, NodeId};
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
        }
    }
}
