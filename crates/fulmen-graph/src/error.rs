//! Why a gossip message was not accepted, and what to do with the peer.
//!
//! In every case the message itself is dropped: it is neither stored nor
//! relayed. [`GossipError::reaction`] says what else BOLT 7 asks for.

use core::fmt;

use bitcoin::constants::ChainHash;
use fulmen_types::{NodeId, ShortChannelId};
use fulmen_wire::{Reaction, WireError};

/// Which signature of a gossip message failed to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureKind {
    /// `channel_announcement.node_signature_1`.
    Node1,
    /// `channel_announcement.node_signature_2`.
    Node2,
    /// `channel_announcement.bitcoin_signature_1`.
    Bitcoin1,
    /// `channel_announcement.bitcoin_signature_2`.
    Bitcoin2,
    /// `channel_update.signature`.
    ChannelUpdate,
    /// `node_announcement.signature`.
    NodeAnnouncement,
}

impl fmt::Display for SignatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Node1 => "node_signature_1",
            Self::Node2 => "node_signature_2",
            Self::Bitcoin1 => "bitcoin_signature_1",
            Self::Bitcoin2 => "bitcoin_signature_2",
            Self::ChannelUpdate => "channel_update signature",
            Self::NodeAnnouncement => "node_announcement signature",
        })
    }
}

/// A gossip message refused by validation or by the graph. The caller drops
/// the message (does not store or relay it) and treats the peer as
/// [`GossipError::reaction`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GossipError {
    /// The message is for another chain (BOLT 7: MUST ignore).
    WrongChain(ChainHash),
    /// A signature does not verify (or is not low-S) against its key.
    BadSignature {
        /// Which signature.
        which: SignatureKind,
    },
    /// A node id is not a valid public key.
    InvalidKey,
    /// `node_id_1` is not strictly less than `node_id_2`.
    NodeIdsNotOrdered,
    /// The channel features set an even bit this node does not know (BOLT 7:
    /// MUST NOT route through the channel; Fulmen does not store it).
    RequiresUnknownFeatures {
        /// The lowest such bit.
        bit: usize,
    },
    /// A `channel_update` for a channel not in the graph.
    UnknownChannel(ShortChannelId),
    /// A `node_announcement` for a node with no channel in the graph.
    UnknownNode(NodeId),
    /// A different `channel_announcement` for a short channel id already
    /// announced with other node ids or funding keys (BOLT 7: keys have
    /// leaked; the caller MAY blacklist both sets of nodes).
    ConflictingAnnouncement(ShortChannelId),
    /// The timestamp is older than the one stored for the same channel
    /// direction or node (BOLT 7: SHOULD ignore).
    StaleUpdate {
        /// The stored timestamp.
        stored: u32,
        /// The timestamp received.
        received: u32,
    },
    /// Same timestamp as the stored `channel_update` or `node_announcement`,
    /// different content (BOLT 7: MAY blacklist the node).
    ConflictingUpdate {
        /// The timestamp both carry.
        timestamp: u32,
    },
    /// A `channel_update` timestamp more than two weeks in the past.
    TimestampTooOld {
        /// The timestamp received.
        timestamp: u32,
    },
    /// A timestamp more than a day in the future.
    TimestampInFuture {
        /// The timestamp received.
        timestamp: u32,
    },
    /// `htlc_maximum_msat` exceeds the channel capacity (BOLT 7: MAY
    /// blacklist, SHOULD ignore the channel for routing).
    HtlcMaximumAboveCapacity,
    /// A `node_announcement` with more than one DNS hostname (BOLT 7: MUST
    /// NOT forward it).
    MultipleDnsHostnames,
    /// The message does not fit in 65535 bytes, so it cannot be relayed.
    Encode(WireError),
    /// A stored message (loaded back with [`crate::stored`]) is not the
    /// expected message type or does not decode.
    Malformed {
        /// The message type expected.
        expected: u16,
        /// Why it does not decode (`None`: wrong type or too short).
        error: Option<WireError>,
    },
}

impl GossipError {
    /// What to do with the peer that sent the message, beyond dropping it.
    ///
    /// * Invalid signatures and keys and unordered node ids: BOLT 7 says
    ///   SHOULD send a `warning` (for `channel_update`: and close the
    ///   connection) — [`Reaction::Warn`], or [`Reaction::Disconnect`] for
    ///   a bad `channel_update` signature.
    /// * Everything else is gossip that is merely useless, stale or from
    ///   another chain; peers relay such messages in good faith, so
    ///   [`Reaction::Ignore`].
    pub fn reaction(&self) -> Reaction {
        match self {
            Self::BadSignature {
                which: SignatureKind::ChannelUpdate,
            } => Reaction::Disconnect,
            Self::BadSignature { .. } | Self::InvalidKey | Self::NodeIdsNotOrdered => {
                Reaction::Warn
            }
            _ => Reaction::Ignore,
        }
    }
}

impl fmt::Display for GossipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongChain(c) => write!(f, "gossip for unknown chain {c}"),
            Self::BadSignature { which } => write!(f, "invalid {which}"),
            Self::InvalidKey => f.write_str("invalid public key"),
            Self::NodeIdsNotOrdered => f.write_str("node_id_1 is not less than node_id_2"),
            Self::RequiresUnknownFeatures { bit } => {
                write!(f, "channel requires unknown feature bit {bit}")
            }
            Self::UnknownChannel(scid) => write!(f, "unknown channel {scid}"),
            Self::UnknownNode(id) => write!(f, "node {id} has no known channel"),
            Self::ConflictingAnnouncement(scid) => {
                write!(f, "conflicting channel_announcement for {scid}")
            }
            Self::StaleUpdate { stored, received } => {
                write!(f, "stale timestamp {received} (have {stored})")
            }
            Self::ConflictingUpdate { timestamp } => {
                write!(f, "different content with the same timestamp {timestamp}")
            }
            Self::TimestampTooOld { timestamp } => {
                write!(f, "timestamp {timestamp} is more than two weeks old")
            }
            Self::TimestampInFuture { timestamp } => {
                write!(f, "timestamp {timestamp} is too far in the future")
            }
            Self::HtlcMaximumAboveCapacity => {
                f.write_str("htlc_maximum_msat exceeds the channel capacity")
            }
            Self::MultipleDnsHostnames => f.write_str("more than one dns hostname"),
            Self::Encode(e) => write!(f, "cannot encode gossip: {e}"),
            Self::Malformed { expected, error } => match error {
                Some(e) => write!(f, "stored message of type {expected} does not decode: {e}"),
                None => write!(
                    f,
                    "stored message is not a whole message of type {expected}"
                ),
            },
        }
    }
}

impl std::error::Error for GossipError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Encode(e) | Self::Malformed { error: Some(e), .. } => Some(e),
            _ => None,
        }
    }
}
