//! Loading the graph back from stored gossip: the encoded messages a node
//! persisted when it accepted them (type prefix included, as
//! [`WireMessage::encode_message`] writes them) go into the graph through
//! the trusted insertions, without checking any signature again.
//!
//! A `channel_announcement` is not decoded in full: decoding would parse
//! the two funding keys as curve points (~10 µs each). Only the fields the
//! graph keeps are read (node ids, short channel id, the raw key bytes for
//! [`funding_keys_hash`]), with bounds checks; a malformed record is an
//! error, never a panic.

use fulmen_types::{NodeId, Sat, ShortChannelId};
use fulmen_wire::{ChannelUpdate, NodeAnnouncement, WireMessage};

use crate::error::GossipError;
use crate::graph::{funding_keys_hash, message_fingerprint, DirectedPolicy, NetworkGraph};

/// `channel_announcement`'s message type.
const CHANNEL_ANNOUNCEMENT: u16 = 256;
/// `node_announcement`'s message type.
const NODE_ANNOUNCEMENT: u16 = 257;
/// `channel_update`'s message type.
const CHANNEL_UPDATE: u16 = 258;
/// Type (2) and signature (64) before a `channel_update`'s or
/// `node_announcement`'s signed bytes.
const SIGNED_FROM: usize = 66;

/// What [`parse_channel_announcement`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncementSummary {
    /// The channel.
    pub short_channel_id: ShortChannelId,
    /// The lesser node id.
    pub node_id_1: NodeId,
    /// The greater node id.
    pub node_id_2: NodeId,
    /// [`funding_keys_hash`] of the two funding keys.
    pub keys_hash: u64,
}

fn truncated() -> GossipError {
    GossipError::Malformed {
        expected: CHANNEL_ANNOUNCEMENT,
        error: None,
    }
}

fn check_type(bytes: &[u8], expected: u16) -> Result<(), GossipError> {
    if message_type(bytes) == Some(expected) {
        Ok(())
    } else {
        Err(GossipError::Malformed {
            expected,
            error: None,
        })
    }
}

fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], GossipError> {
    let end = at.checked_add(n).ok_or_else(truncated)?;
    let out = bytes.get(*at..end).ok_or_else(truncated)?;
    *at = end;
    Ok(out)
}

fn array<const N: usize>(bytes: &[u8], at: &mut usize) -> Result<[u8; N], GossipError> {
    let mut out = [0u8; N];
    out.copy_from_slice(take(bytes, at, N)?);
    Ok(out)
}

fn message_type(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

/// Reads the short channel id, node ids and funding-key fingerprint of an
/// encoded `channel_announcement` (type prefix included) for `chain`.
pub fn parse_channel_announcement(
    bytes: &[u8],
    chain: bitcoin::constants::ChainHash,
) -> Result<AnnouncementSummary, GossipError> {
    check_type(bytes, CHANNEL_ANNOUNCEMENT)?;
    let mut at = 2 + 4 * 64;
    let flen: [u8; 2] = array(bytes, &mut at)?;
    take(bytes, &mut at, usize::from(u16::from_be_bytes(flen)))?;
    let got = bitcoin::constants::ChainHash::from(array::<32>(bytes, &mut at)?);
    if got != chain {
        return Err(GossipError::WrongChain(got));
    }
    let scid = ShortChannelId(u64::from_be_bytes(array(bytes, &mut at)?));
    let node_id_1 = NodeId(array(bytes, &mut at)?);
    let node_id_2 = NodeId(array(bytes, &mut at)?);
    let k1: [u8; 33] = array(bytes, &mut at)?;
    let k2: [u8; 33] = array(bytes, &mut at)?;
    Ok(AnnouncementSummary {
        short_channel_id: scid,
        node_id_1,
        node_id_2,
        keys_hash: funding_keys_hash(&k1, &k2),
    })
}

impl NetworkGraph {
    /// Adds a stored `channel_announcement` (encoded, type prefix included)
    /// with the capacity and time recorded with it; its short channel id.
    /// A channel already known is left as it is.
    pub fn load_channel_announcement(
        &mut self,
        bytes: &[u8],
        capacity: Sat,
        added_at: u64,
    ) -> Result<ShortChannelId, GossipError> {
        let a = parse_channel_announcement(bytes, self.chain())?;
        if a.node_id_1 >= a.node_id_2 {
            return Err(GossipError::NodeIdsNotOrdered);
        }
        self.insert_channel_trusted(
            a.short_channel_id,
            a.node_id_1,
            a.node_id_2,
            capacity,
            a.keys_hash,
            added_at,
        );
        Ok(a.short_channel_id)
    }

    /// Applies a stored `channel_update` (encoded, type prefix included) to
    /// its channel, which must be loaded first
    /// ([`GossipError::UnknownChannel`]).
    pub fn load_channel_update(&mut self, bytes: &[u8]) -> Result<(), GossipError> {
        check_type(bytes, CHANNEL_UPDATE)?;
        let upd =
            ChannelUpdate::decode_payload(bytes.get(2..).unwrap_or_default()).map_err(|e| {
                GossipError::Malformed {
                    expected: CHANNEL_UPDATE,
                    error: Some(e),
                }
            })?;
        if upd.chain_hash != self.chain() {
            return Err(GossipError::WrongChain(upd.chain_hash));
        }
        let fingerprint = message_fingerprint(bytes.get(SIGNED_FROM..).unwrap_or_default());
        if self.insert_update_trusted(
            upd.short_channel_id,
            upd.direction(),
            DirectedPolicy::from_update(&upd),
            fingerprint,
        ) {
            Ok(())
        } else {
            Err(GossipError::UnknownChannel(upd.short_channel_id))
        }
    }

    /// Records a stored `node_announcement` (encoded, type prefix included);
    /// its node must have a loaded channel ([`GossipError::UnknownNode`]).
    pub fn load_node_announcement(&mut self, bytes: &[u8]) -> Result<NodeId, GossipError> {
        check_type(bytes, NODE_ANNOUNCEMENT)?;
        let ann =
            NodeAnnouncement::decode_payload(bytes.get(2..).unwrap_or_default()).map_err(|e| {
                GossipError::Malformed {
                    expected: NODE_ANNOUNCEMENT,
                    error: Some(e),
                }
            })?;
        if self.insert_node_trusted(&ann) {
            Ok(ann.node_id)
        } else {
            Err(GossipError::UnknownNode(ann.node_id))
        }
    }
}
