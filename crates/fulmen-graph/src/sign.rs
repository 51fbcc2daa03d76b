//! The digests the three signed gossip messages commit to, and signing.
//!
//! BOLT 7: each signature covers the double-SHA256 of the message from the
//! byte after its signature(s) to the end, *including* the extension bytes
//! ("any future fields appended to the end"). The 2-byte message type is not
//! covered. The bytes hashed here are exactly the bytes
//! [`WireMessage::encode_message`](fulmen_wire::WireMessage::encode_message)
//! would put on the wire after the signatures (a test checks this), but are
//! written without that method's fallible length checks: a field too long
//! for its `u16` prefix (which no decoded message can have) is hashed with a
//! saturated length, so its digest matches no honest signature.

use bitcoin::hashes::{sha256d, Hash, HashEngine};
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey, Signing};
use fulmen_wire::{ChannelAnnouncement, ChannelUpdate, NetAddress, NodeAnnouncement, Writer};

/// Writes `bytes` behind a `u16` length, saturating a length that does not
/// fit (see the module doc).
fn write_prefixed(w: &mut Writer, bytes: &[u8]) {
    w.write_u16(u16::try_from(bytes.len()).unwrap_or(u16::MAX));
    w.write_bytes(bytes);
}

fn digest_of(bytes: &[u8]) -> Message {
    let mut engine = sha256d::Hash::engine();
    engine.input(bytes);
    Message::from_digest(sha256d::Hash::from_engine(engine).to_byte_array())
}

/// The bytes of a `channel_announcement` after its four signatures.
pub(crate) fn channel_announcement_signed_bytes(msg: &ChannelAnnouncement) -> Vec<u8> {
    let mut w = Writer::with_capacity(174 + msg.extension.len());
    write_prefixed(&mut w, &msg.features.to_wire());
    w.write_chain_hash(&msg.chain_hash);
    w.write_u64(msg.short_channel_id.0);
    w.write_node_id(&msg.node_id_1);
    w.write_node_id(&msg.node_id_2);
    w.write_point(&msg.bitcoin_key_1);
    w.write_point(&msg.bitcoin_key_2);
    w.write_bytes(&msg.extension);
    w.into_bytes()
}

/// The bytes of a `node_announcement` after its signature.
pub(crate) fn node_announcement_signed_bytes(msg: &NodeAnnouncement) -> Vec<u8> {
    let mut w = Writer::with_capacity(80 + msg.extension.len());
    write_prefixed(&mut w, &msg.features.to_wire());
    w.write_u32(msg.timestamp);
    w.write_node_id(&msg.node_id);
    w.write_bytes(&msg.rgb_color);
    w.write_bytes(&msg.alias);
    write_prefixed(&mut w, &NetAddress::write_list(&msg.addresses));
    w.write_bytes(&msg.extension);
    w.into_bytes()
}

/// The bytes of a `channel_update` after its signature.
pub(crate) fn channel_update_signed_bytes(msg: &ChannelUpdate) -> Vec<u8> {
    let mut w = Writer::with_capacity(72 + msg.extension.len());
    w.write_chain_hash(&msg.chain_hash);
    w.write_u64(msg.short_channel_id.0);
    w.write_u32(msg.timestamp);
    w.write_u8(msg.message_flags);
    w.write_u8(msg.channel_flags);
    w.write_u16(msg.cltv_expiry_delta);
    w.write_u64(msg.htlc_minimum.0);
    w.write_u32(msg.fee_base_msat);
    w.write_u32(msg.fee_proportional_millionths);
    w.write_u64(msg.htlc_maximum.0);
    w.write_bytes(&msg.extension);
    w.into_bytes()
}

/// The digest all four signatures of a `channel_announcement` sign: the
/// double-SHA256 of the message from `features` (offset 256 of the payload)
/// to the end, extension included.
pub fn channel_announcement_digest(msg: &ChannelAnnouncement) -> Message {
    digest_of(&channel_announcement_signed_bytes(msg))
}

/// The digest `node_id` signs in a `node_announcement`: everything after
/// `signature`, extension included.
pub fn node_announcement_digest(msg: &NodeAnnouncement) -> Message {
    digest_of(&node_announcement_signed_bytes(msg))
}

/// The digest the originating node signs in a `channel_update`: everything
/// after `signature`, extension included.
pub fn channel_update_digest(msg: &ChannelUpdate) -> Message {
    digest_of(&channel_update_signed_bytes(msg))
}

/// Signs a digest (RFC 6979 nonce, low-S), e.g. one party's node or funding
/// signature of a [`channel_announcement_digest`].
pub fn sign_digest<C: Signing>(
    secp: &Secp256k1<C>,
    key: &SecretKey,
    digest: &Message,
) -> Signature {
    secp.sign_ecdsa(digest, key)
}

/// Sets `msg.signature` to `key`'s signature of [`channel_update_digest`].
/// Every other field must be final.
pub fn sign_channel_update<C: Signing>(
    secp: &Secp256k1<C>,
    key: &SecretKey,
    msg: &mut ChannelUpdate,
) {
    msg.signature = sign_digest(secp, key, &channel_update_digest(msg));
}

/// Sets `msg.signature` to `key`'s signature of [`node_announcement_digest`].
/// Every other field must be final.
pub fn sign_node_announcement<C: Signing>(
    secp: &Secp256k1<C>,
    key: &SecretKey,
    msg: &mut NodeAnnouncement,
) {
    msg.signature = sign_digest(secp, key, &node_announcement_digest(msg));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use bitcoin::constants::ChainHash;
    use bitcoin::Network;
    use fulmen_types::ShortChannelId;
    use fulmen_wire::WireMessage;

    fn dsha(bytes: &[u8]) -> Message {
        Message::from_digest(sha256d::Hash::hash(bytes).to_byte_array())
    }

    #[test]
    fn digests_cover_the_encoded_bytes_after_the_signatures() {
        let secp = Secp256k1::new();
        let chain = ChainHash::using_genesis_block(Network::Regtest);
        let scid = ShortChannelId::new(700_000, 3, 1).unwrap();
        let mut ann = testing::channel_announcement(&secp, chain, scid, 1, 2);
        ann.extension = vec![1, 2, 3];
        let enc = ann.encode_message().unwrap();
        assert_eq!(channel_announcement_digest(&ann), dsha(&enc[2 + 256..]));

        let mut upd = testing::channel_update(&secp, chain, scid, 1, 0, &testing::policy(1, 2, 40));
        upd.extension = vec![9];
        let enc = upd.encode_message().unwrap();
        assert_eq!(channel_update_digest(&upd), dsha(&enc[2 + 64..]));

        let node = testing::node_announcement(&secp, 3, 1_700_000_000, "node three");
        let enc = node.encode_message().unwrap();
        assert_eq!(node_announcement_digest(&node), dsha(&enc[2 + 64..]));
    }
}
