//! BOLT 7 gossip: `channel_announcement`, `node_announcement`,
//! `channel_update`, `announcement_signatures`.
//!
//! The three signed gossip messages keep whatever follows their last field as
//! raw `extension` bytes instead of parsing it as a TLV stream: their
//! signatures cover those bytes ("including unknown fields"), a relaying node
//! must pass them on unchanged, and BOLT 1 lets a receiver ignore an
//! extension. Disconnecting a peer over a third party's extension would be
//! wrong.

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use fulmen_types::{ChannelId, Msat, NodeId, ShortChannelId};

use crate::address::NetAddress;
use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::tlv::{self, RawTlv};
use crate::types::{read_extension, WireFeatures, WireMessage};

/// `channel_announcement` (type 256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelAnnouncement {
    /// `node_signature_1`.
    pub node_signature_1: Signature,
    /// `node_signature_2`.
    pub node_signature_2: Signature,
    /// `bitcoin_signature_1`.
    pub bitcoin_signature_1: Signature,
    /// `bitcoin_signature_2`.
    pub bitcoin_signature_2: Signature,
    /// Channel features.
    pub features: WireFeatures,
    /// The chain.
    pub chain_hash: ChainHash,
    /// The funding output.
    pub short_channel_id: ShortChannelId,
    /// The lesser node id.
    pub node_id_1: NodeId,
    /// The greater node id.
    pub node_id_2: NodeId,
    /// `node_id_1`'s funding key.
    pub bitcoin_key_1: PublicKey,
    /// `node_id_2`'s funding key.
    pub bitcoin_key_2: PublicKey,
    /// Bytes after the last field (signed; kept verbatim).
    pub extension: Vec<u8>,
}

impl WireMessage for ChannelAnnouncement {
    const TYPE: u16 = 256;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            node_signature_1: r.read_signature()?,
            node_signature_2: r.read_signature()?,
            bitcoin_signature_1: r.read_signature()?,
            bitcoin_signature_2: r.read_signature()?,
            features: WireFeatures::from_wire(r.read_u16_prefixed()?),
            chain_hash: r.read_chain_hash()?,
            short_channel_id: r.read_short_channel_id()?,
            node_id_1: r.read_node_id()?,
            node_id_2: r.read_node_id()?,
            bitcoin_key_1: r.read_point()?,
            bitcoin_key_2: r.read_point()?,
            extension: r.read_rest().to_vec(),
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_signature(&self.node_signature_1);
        w.write_signature(&self.node_signature_2);
        w.write_signature(&self.bitcoin_signature_1);
        w.write_signature(&self.bitcoin_signature_2);
        w.write_u16_prefixed(&self.features.to_wire())?;
        w.write_chain_hash(&self.chain_hash);
        w.write_u64(self.short_channel_id.0);
        w.write_node_id(&self.node_id_1);
        w.write_node_id(&self.node_id_2);
        w.write_point(&self.bitcoin_key_1);
        w.write_point(&self.bitcoin_key_2);
        w.write_bytes(&self.extension);
        Ok(())
    }
}

/// `node_announcement` (type 257).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAnnouncement {
    /// Signature by `node_id` of the double-SHA256 of everything after it.
    pub signature: Signature,
    /// Node features.
    pub features: WireFeatures,
    /// Orders announcements from the same node.
    pub timestamp: u32,
    /// The node.
    pub node_id: NodeId,
    /// Red, green, blue.
    pub rgb_color: [u8; 3],
    /// The alias: UTF-8, zero-padded (untrusted: sanitize before display).
    pub alias: [u8; 32],
    /// Address descriptors; parsing stops at the first unknown type, which is
    /// kept (with the bytes after it) as the last, [`NetAddress::Unknown`].
    pub addresses: Vec<NetAddress>,
    /// Bytes after the last field (signed; kept verbatim).
    pub extension: Vec<u8>,
}

impl WireMessage for NodeAnnouncement {
    const TYPE: u16 = 257;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            signature: r.read_signature()?,
            features: WireFeatures::from_wire(r.read_u16_prefixed()?),
            timestamp: r.read_u32()?,
            node_id: r.read_node_id()?,
            rgb_color: r.read_array()?,
            alias: r.read_array()?,
            addresses: NetAddress::read_list(r.read_u16_prefixed()?)?,
            extension: r.read_rest().to_vec(),
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_signature(&self.signature);
        w.write_u16_prefixed(&self.features.to_wire())?;
        w.write_u32(self.timestamp);
        w.write_node_id(&self.node_id);
        w.write_bytes(&self.rgb_color);
        w.write_bytes(&self.alias);
        w.write_u16_prefixed(&NetAddress::write_list(&self.addresses))?;
        w.write_bytes(&self.extension);
        Ok(())
    }
}

/// `channel_update` (type 258).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelUpdate {
    /// Signature by the originating node of everything after it.
    pub signature: Signature,
    /// The chain.
    pub chain_hash: ChainHash,
    /// The channel.
    pub short_channel_id: ShortChannelId,
    /// Orders updates for the same channel direction.
    pub timestamp: u32,
    /// `message_flags` (bit 0 `must_be_one`, bit 1 `dont_forward`).
    pub message_flags: u8,
    /// `channel_flags` (bit 0 `direction`, bit 1 `disable`).
    pub channel_flags: u8,
    /// `cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
    /// `htlc_minimum_msat`.
    pub htlc_minimum: Msat,
    /// `fee_base_msat`.
    pub fee_base_msat: u32,
    /// `fee_proportional_millionths`.
    pub fee_proportional_millionths: u32,
    /// `htlc_maximum_msat`.
    pub htlc_maximum: Msat,
    /// Bytes after the last field (signed; kept verbatim).
    pub extension: Vec<u8>,
}

impl ChannelUpdate {
    /// The `direction` bit: 0 if from `node_id_1`, 1 if from `node_id_2`.
    pub fn direction(&self) -> u8 {
        self.channel_flags & 1
    }

    /// Whether the `disable` bit is set.
    pub fn is_disabled(&self) -> bool {
        self.channel_flags & 2 != 0
    }

    /// Whether the `dont_forward` bit is set.
    pub fn dont_forward(&self) -> bool {
        self.message_flags & 2 != 0
    }
}

impl WireMessage for ChannelUpdate {
    const TYPE: u16 = 258;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            signature: r.read_signature()?,
            chain_hash: r.read_chain_hash()?,
            short_channel_id: r.read_short_channel_id()?,
            timestamp: r.read_u32()?,
            message_flags: r.read_u8()?,
            channel_flags: r.read_u8()?,
            cltv_expiry_delta: r.read_u16()?,
            htlc_minimum: Msat(r.read_u64()?),
            fee_base_msat: r.read_u32()?,
            fee_proportional_millionths: r.read_u32()?,
            htlc_maximum: Msat(r.read_u64()?),
            extension: r.read_rest().to_vec(),
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_signature(&self.signature);
        w.write_chain_hash(&self.chain_hash);
        w.write_u64(self.short_channel_id.0);
        w.write_u32(self.timestamp);
        w.write_u8(self.message_flags);
        w.write_u8(self.channel_flags);
        w.write_u16(self.cltv_expiry_delta);
        w.write_u64(self.htlc_minimum.0);
        w.write_u32(self.fee_base_msat);
        w.write_u32(self.fee_proportional_millionths);
        w.write_u64(self.htlc_maximum.0);
        w.write_bytes(&self.extension);
        Ok(())
    }
}

/// `announcement_signatures` (type 259): a channel peer's half of a
/// `channel_announcement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementSignatures {
    /// The channel.
    pub channel_id: ChannelId,
    /// Its short channel id.
    pub short_channel_id: ShortChannelId,
    /// Signature with the node key.
    pub node_signature: Signature,
    /// Signature with the funding key.
    pub bitcoin_signature: Signature,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for AnnouncementSignatures {
    const TYPE: u16 = 259;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            channel_id: r.read_channel_id()?,
            short_channel_id: r.read_short_channel_id()?,
            node_signature: r.read_signature()?,
            bitcoin_signature: r.read_signature()?,
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u64(self.short_channel_id.0);
        w.write_signature(&self.node_signature);
        w.write_signature(&self.bitcoin_signature);
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}
