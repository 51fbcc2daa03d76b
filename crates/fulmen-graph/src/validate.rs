//! Stateless checks of gossip messages: chain, key order, features and
//! signatures; and the funding output script a `channel_announcement` must
//! match on chain.
//!
//! Signatures must be low-S, as libsecp256k1 (and every implementation
//! built on it) requires: a high-S copy of a valid signature, which any relay
//! could produce, is refused rather than stored and passed on to peers that
//! would refuse it.
//!
//! Stateful checks (is the channel known, is the timestamp newer) are in
//! [`crate::graph`].

use bitcoin::blockdata::opcodes::all::OP_CHECKMULTISIG;
use bitcoin::blockdata::script::Builder;
use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, Verification};
use bitcoin::ScriptBuf;
use fulmen_types::{Context, NodeId};
use fulmen_wire::{ChannelAnnouncement, ChannelUpdate, NetAddress, NodeAnnouncement};

use crate::error::{GossipError, SignatureKind};
use crate::sign::{channel_announcement_digest, channel_update_digest, node_announcement_digest};

fn node_key(id: &NodeId) -> Result<PublicKey, GossipError> {
    id.to_pubkey().map_err(|_| GossipError::InvalidKey)
}

fn check_sig<C: Verification>(
    secp: &Secp256k1<C>,
    digest: &Message,
    sig: &Signature,
    key: &PublicKey,
    which: SignatureKind,
) -> Result<(), GossipError> {
    secp.verify_ecdsa(digest, sig, key)
        .map_err(|_| GossipError::BadSignature { which })
}

/// Checks a `channel_announcement`: chain, `node_id_1 < node_id_2`, no
/// unknown even channel feature, and all four signatures (node signatures
/// with the node ids, bitcoin signatures with the funding keys).
///
/// Does not check the funding output: the caller compares
/// [`funding_script`] with the output at `short_channel_id` and checks it
/// is unspent.
pub fn verify_channel_announcement<C: Verification>(
    secp: &Secp256k1<C>,
    msg: &ChannelAnnouncement,
    expected_chain: ChainHash,
) -> Result<(), GossipError> {
    if msg.chain_hash != expected_chain {
        return Err(GossipError::WrongChain(msg.chain_hash));
    }
    if msg.node_id_1 >= msg.node_id_2 {
        return Err(GossipError::NodeIdsNotOrdered);
    }
    let features = msg.features.features();
    if features.requires_unknown_bits_in(Context::ChannelAnnouncement) {
        let bit = features.bits().find(|b| b % 2 == 0).unwrap_or_default();
        return Err(GossipError::RequiresUnknownFeatures { bit });
    }
    let node_1 = node_key(&msg.node_id_1)?;
    let node_2 = node_key(&msg.node_id_2)?;
    let digest = channel_announcement_digest(msg);
    check_sig(
        secp,
        &digest,
        &msg.node_signature_1,
        &node_1,
        SignatureKind::Node1,
    )?;
    check_sig(
        secp,
        &digest,
        &msg.node_signature_2,
        &node_2,
        SignatureKind::Node2,
    )?;
    check_sig(
        secp,
        &digest,
        &msg.bitcoin_signature_1,
        &msg.bitcoin_key_1,
        SignatureKind::Bitcoin1,
    )?;
    check_sig(
        secp,
        &digest,
        &msg.bitcoin_signature_2,
        &msg.bitcoin_key_2,
        SignatureKind::Bitcoin2,
    )
}

/// Checks a `channel_update`'s signature against `signer`, the
/// announcement's `node_id_1` if the direction bit is 0, else `node_id_2`.
/// (Chain, timestamps and limits are checked by the graph.)
pub fn verify_channel_update<C: Verification>(
    secp: &Secp256k1<C>,
    msg: &ChannelUpdate,
    signer: &NodeId,
) -> Result<(), GossipError> {
    let key = node_key(signer)?;
    check_sig(
        secp,
        &channel_update_digest(msg),
        &msg.signature,
        &key,
        SignatureKind::ChannelUpdate,
    )
}

/// Checks a `node_announcement`: `node_id` is a valid key, the signature is
/// its, and at most one DNS hostname is announced. Addresses and alias are
/// already parsed by `fulmen-wire`; unknown even node features are not an
/// error here (BOLT 7: keep the node, but do not route through it — see
/// [`crate::router`]).
pub fn verify_node_announcement<C: Verification>(
    secp: &Secp256k1<C>,
    msg: &NodeAnnouncement,
) -> Result<(), GossipError> {
    let key = node_key(&msg.node_id)?;
    check_sig(
        secp,
        &node_announcement_digest(msg),
        &msg.signature,
        &key,
        SignatureKind::NodeAnnouncement,
    )?;
    let dns = msg
        .addresses
        .iter()
        .filter(|a| matches!(a, NetAddress::Dns { .. }))
        .count();
    if dns > 1 {
        return Err(GossipError::MultipleDnsHostnames);
    }
    Ok(())
}

/// The BOLT 3 funding witness script: `2 <k1> <k2> 2 OP_CHECKMULTISIG`,
/// keys ordered by their compressed serialization.
pub fn funding_witness_script(bitcoin_key_1: &PublicKey, bitcoin_key_2: &PublicKey) -> ScriptBuf {
    let (a, b) = if bitcoin_key_1.serialize() <= bitcoin_key_2.serialize() {
        (bitcoin_key_1, bitcoin_key_2)
    } else {
        (bitcoin_key_2, bitcoin_key_1)
    };
    Builder::new()
        .push_int(2)
        .push_key(&bitcoin::PublicKey::new(*a))
        .push_key(&bitcoin::PublicKey::new(*b))
        .push_int(2)
        .push_opcode(OP_CHECKMULTISIG)
        .into_script()
}

/// The P2WSH `script_pubkey` of the funding output of a channel with these
/// funding keys, to compare with the output found on chain at the
/// announcement's `short_channel_id`.
pub fn funding_script(bitcoin_key_1: &PublicKey, bitcoin_key_2: &PublicKey) -> ScriptBuf {
    ScriptBuf::new_p2wsh(&funding_witness_script(bitcoin_key_1, bitcoin_key_2).wscript_hash())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use bitcoin::Network;
    use fulmen_types::ShortChannelId;
    use fulmen_wire::WireFeatures;

    #[test]
    fn funding_script_matches_bolt3_vector() {
        // BOLT 3 Appendix B/C: local and remote funding keys and the script.
        let local: PublicKey = "023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb"
            .parse()
            .unwrap();
        let remote: PublicKey =
            "030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c1"
                .parse()
                .unwrap();
        let want = "5221023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb21030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c152ae";
        assert_eq!(
            funding_witness_script(&local, &remote).to_hex_string(),
            want
        );
        assert_eq!(
            funding_witness_script(&remote, &local).to_hex_string(),
            want
        );
        let spk = funding_script(&remote, &local);
        assert!(spk.is_p2wsh());
        assert_eq!(spk, funding_script(&local, &remote));
    }

    #[test]
    fn channel_announcement_checks() {
        let secp = Secp256k1::new();
        let chain = ChainHash::using_genesis_block(Network::Regtest);
        let scid = ShortChannelId::new(1000, 1, 0).unwrap();
        let ann = testing::channel_announcement(&secp, chain, scid, 1, 2);
        assert_eq!(verify_channel_announcement(&secp, &ann, chain), Ok(()));
        let mainnet = ChainHash::using_genesis_block(Network::Bitcoin);
        assert_eq!(
            verify_channel_announcement(&secp, &ann, mainnet),
            Err(GossipError::WrongChain(chain))
        );

        let mut swapped = ann.clone();
        core::mem::swap(&mut swapped.node_id_1, &mut swapped.node_id_2);
        assert_eq!(
            verify_channel_announcement(&secp, &swapped, chain),
            Err(GossipError::NodeIdsNotOrdered)
        );
        let mut same = ann.clone();
        same.node_id_2 = same.node_id_1;
        assert_eq!(
            verify_channel_announcement(&secp, &same, chain),
            Err(GossipError::NodeIdsNotOrdered)
        );

        // A node id that is not on the curve (possible when built by hand).
        let mut bad_key = ann.clone();
        bad_key.node_id_2 = NodeId([0xff; 33]);
        assert_eq!(
            verify_channel_announcement(&secp, &bad_key, chain),
            Err(GossipError::InvalidKey)
        );

        // Each signature is checked against its own key: put a signature of
        // the right digest by another key in each slot.
        let other = ann.node_signature_2;
        type Set = fn(&mut ChannelAnnouncement, Signature);
        let cases: [(Set, SignatureKind); 4] = [
            (|m, s| m.node_signature_1 = s, SignatureKind::Node1),
            (|m, s| m.node_signature_2 = s, SignatureKind::Node2),
            (|m, s| m.bitcoin_signature_1 = s, SignatureKind::Bitcoin1),
            (|m, s| m.bitcoin_signature_2 = s, SignatureKind::Bitcoin2),
        ];
        for (i, (set, which)) in cases.into_iter().enumerate() {
            let mut m = ann.clone();
            set(&mut m, if i == 1 { ann.node_signature_1 } else { other });
            assert_eq!(
                verify_channel_announcement(&secp, &m, chain),
                Err(GossipError::BadSignature { which })
            );
        }

        // Unknown even channel feature (channels have no known features).
        let mut feat = ann.clone();
        let mut f = fulmen_types::Features::empty();
        f.set_bit(8);
        feat.features = WireFeatures::new(f);
        assert_eq!(
            verify_channel_announcement(&secp, &feat, chain),
            Err(GossipError::RequiresUnknownFeatures { bit: 8 })
        );
        // An odd bit is fine if signed.
        let mut f = fulmen_types::Features::empty();
        f.set_bit(9);
        let odd = testing::channel_announcement_with(
            &secp,
            chain,
            scid,
            1,
            2,
            WireFeatures::new(f),
            vec![],
        );
        assert_eq!(verify_channel_announcement(&secp, &odd, chain), Ok(()));
    }

    #[test]
    fn update_and_node_announcement_checks() {
        let secp = Secp256k1::new();
        let chain = ChainHash::using_genesis_block(Network::Regtest);
        let scid = ShortChannelId::new(1000, 1, 0).unwrap();
        let upd = testing::channel_update(&secp, chain, scid, 3, 1, &testing::policy(1, 1, 6));
        assert_eq!(
            verify_channel_update(&secp, &upd, &testing::node_id(3)),
            Ok(())
        );
        assert_eq!(
            verify_channel_update(&secp, &upd, &testing::node_id(4)),
            Err(GossipError::BadSignature {
                which: SignatureKind::ChannelUpdate
            })
        );
        assert_eq!(
            verify_channel_update(&secp, &upd, &NodeId([0xff; 33])),
            Err(GossipError::InvalidKey)
        );

        let mut node = testing::node_announcement(&secp, 5, 100, "five");
        assert_eq!(verify_node_announcement(&secp, &node), Ok(()));
        let dns = NetAddress::Dns {
            hostname: fulmen_wire::Hostname::new(b"a.example".to_vec()).unwrap(),
            port: 9735,
        };
        node.addresses = vec![dns.clone(), dns];
        crate::sign::sign_node_announcement(&secp, &testing::node_secret(5), &mut node);
        assert_eq!(
            verify_node_announcement(&secp, &node),
            Err(GossipError::MultipleDnsHostnames)
        );
        node.timestamp += 1;
        assert_eq!(
            verify_node_announcement(&secp, &node),
            Err(GossipError::BadSignature {
                which: SignatureKind::NodeAnnouncement
            })
        );
    }

    #[test]
    fn high_s_signatures_are_refused() {
        let secp = Secp256k1::new();
        let chain = ChainHash::using_genesis_block(Network::Regtest);
        let scid = ShortChannelId::new(1000, 1, 0).unwrap();
        let mut upd = testing::channel_update(&secp, chain, scid, 3, 0, &testing::policy(1, 1, 6));
        // Negate s: n - s.
        let compact = upd.signature.serialize_compact();
        let n: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c,
            0xd0, 0x36, 0x41, 0x41,
        ];
        let mut s = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(n[i]) - i16::from(compact[32 + i]) - borrow;
            borrow = i16::from(d < 0);
            s[i] = (d + 256 * borrow) as u8;
        }
        let mut high = compact;
        high[32..].copy_from_slice(&s);
        upd.signature = Signature::from_compact(&high).unwrap();
        assert_eq!(
            verify_channel_update(&secp, &upd, &testing::node_id(3)),
            Err(GossipError::BadSignature {
                which: SignatureKind::ChannelUpdate
            })
        );
        let mut normal = upd.signature;
        normal.normalize_s();
        upd.signature = normal;
        assert_eq!(
            verify_channel_update(&secp, &upd, &testing::node_id(3)),
            Ok(())
        );
    }
}
