//! Builders of correctly signed gossip and of small graphs, for tests (this
//! crate's and other crates'; enable the `test-utils` feature).
//!
//! Keys are deterministic: node `i`'s secret is 32 bytes of `0x01` with `i`
//! written big-endian into the last four; a channel's funding secrets are
//! derived the same way from its short channel id. Everything is signed for
//! real, so graphs built here go through the same validation as gossip.

use bitcoin::constants::ChainHash;
use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::{All, PublicKey, Secp256k1, SecretKey};
use bitcoin::Network;
use fulmen_types::{Msat, NodeId, Sat, ShortChannelId};
use fulmen_wire::{ChannelAnnouncement, ChannelUpdate, NodeAnnouncement, WireFeatures};

use crate::error::GossipError;
use crate::graph::{DirectedPolicy, NetworkGraph};
use crate::sign::{
    channel_announcement_digest, sign_channel_update, sign_digest, sign_node_announcement,
};

/// The `now` the builders use (unix seconds, November 2023).
pub const TEST_NOW: u64 = 1_700_000_000;

/// The chain the builders use: regtest.
pub fn test_chain() -> ChainHash {
    ChainHash::using_genesis_block(Network::Regtest)
}

#[allow(clippy::expect_used)] // bytes valid by construction: see below
fn secret_from(bytes: [u8; 32]) -> SecretKey {
    // Callers pass either 0x01.. with a 4-byte suffix (far below the curve
    // order) or a SHA256 output (invalid with probability ~2^-128, and the
    // inputs here are fixed).
    SecretKey::from_slice(&bytes).expect("valid test secret")
}

/// Node `i`'s secret key.
pub fn node_secret(i: u32) -> SecretKey {
    let mut bytes = [1u8; 32];
    for (d, s) in bytes.iter_mut().rev().zip(i.to_le_bytes()) {
        *d = s;
    }
    secret_from(bytes)
}

/// Node `i`'s id.
pub fn node_id(i: u32) -> NodeId {
    NodeId::from_pubkey(&PublicKey::from_secret_key(
        &Secp256k1::signing_only(),
        &node_secret(i),
    ))
}

/// Node `node`'s funding secret for channel `scid`.
pub fn funding_secret(scid: ShortChannelId, node: u32) -> SecretKey {
    let mut pre = Vec::with_capacity(20);
    pre.extend_from_slice(b"fund");
    pre.extend_from_slice(&scid.0.to_be_bytes());
    pre.extend_from_slice(&node.to_be_bytes());
    secret_from(sha256::Hash::hash(&pre).to_byte_array())
}

/// A test short channel id: block `n`, transaction 1, output 0.
pub fn scid(n: u32) -> ShortChannelId {
    ShortChannelId((u64::from(n & 0xff_ffff) << 40) | (1 << 16))
}

/// A policy with the given fees and delta, enabled, `htlc_minimum` 1 msat,
/// `htlc_maximum` 10 BTC, timestamp [`TEST_NOW`].
pub fn policy(
    fee_base_msat: u32,
    fee_proportional_millionths: u32,
    cltv_expiry_delta: u16,
) -> DirectedPolicy {
    DirectedPolicy {
        timestamp: TEST_NOW as u32,
        disabled: false,
        cltv_expiry_delta,
        htlc_minimum: Msat(1),
        htlc_maximum: Msat(1_000_000_000_000),
        fee_base_msat,
        fee_proportional_millionths,
    }
}

/// A fully signed `channel_announcement` between nodes `a` and `b` (in
/// either order), no features, no extension.
pub fn channel_announcement(
    secp: &Secp256k1<All>,
    chain: ChainHash,
    scid: ShortChannelId,
    a: u32,
    b: u32,
) -> ChannelAnnouncement {
    channel_announcement_with(secp, chain, scid, a, b, WireFeatures::default(), Vec::new())
}

/// [`channel_announcement`] with features and extension bytes.
pub fn channel_announcement_with(
    secp: &Secp256k1<All>,
    chain: ChainHash,
    scid: ShortChannelId,
    a: u32,
    b: u32,
    features: WireFeatures,
    extension: Vec<u8>,
) -> ChannelAnnouncement {
    let (one, two) = if node_id(a) < node_id(b) {
        (a, b)
    } else {
        (b, a)
    };
    let (f1, f2) = (funding_secret(scid, one), funding_secret(scid, two));
    let placeholder = sign_digest(
        secp,
        &f1,
        &bitcoin::secp256k1::Message::from_digest([0; 32]),
    );
    let mut msg = ChannelAnnouncement {
        node_signature_1: placeholder,
        node_signature_2: placeholder,
        bitcoin_signature_1: placeholder,
        bitcoin_signature_2: placeholder,
        features,
        chain_hash: chain,
        short_channel_id: scid,
        node_id_1: node_id(one),
        node_id_2: node_id(two),
        bitcoin_key_1: PublicKey::from_secret_key(secp, &f1),
        bitcoin_key_2: PublicKey::from_secret_key(secp, &f2),
        extension,
    };
    let digest = channel_announcement_digest(&msg);
    msg.node_signature_1 = sign_digest(secp, &node_secret(one), &digest);
    msg.node_signature_2 = sign_digest(secp, &node_secret(two), &digest);
    msg.bitcoin_signature_1 = sign_digest(secp, &f1, &digest);
    msg.bitcoin_signature_2 = sign_digest(secp, &f2, &digest);
    msg
}

/// A `channel_update` carrying `policy`, signed by node `from`, with the
/// given direction bit.
pub fn channel_update(
    secp: &Secp256k1<All>,
    chain: ChainHash,
    scid: ShortChannelId,
    from: u32,
    direction: u8,
    policy: &DirectedPolicy,
) -> ChannelUpdate {
    let placeholder = sign_digest(
        secp,
        &node_secret(from),
        &bitcoin::secp256k1::Message::from_digest([0; 32]),
    );
    let mut msg = ChannelUpdate {
        signature: placeholder,
        chain_hash: chain,
        short_channel_id: scid,
        timestamp: policy.timestamp,
        message_flags: 1,
        channel_flags: (direction & 1) | if policy.disabled { 2 } else { 0 },
        cltv_expiry_delta: policy.cltv_expiry_delta,
        htlc_minimum: policy.htlc_minimum,
        fee_base_msat: policy.fee_base_msat,
        fee_proportional_millionths: policy.fee_proportional_millionths,
        htlc_maximum: policy.htlc_maximum,
        extension: Vec::new(),
    };
    sign_channel_update(secp, &node_secret(from), &mut msg);
    msg
}

/// A signed `node_announcement` for node `i` with one IPv4 address.
pub fn node_announcement(
    secp: &Secp256k1<All>,
    i: u32,
    timestamp: u32,
    alias: &str,
) -> NodeAnnouncement {
    let mut alias_bytes = [0u8; 32];
    for (d, s) in alias_bytes.iter_mut().zip(alias.bytes()) {
        *d = s;
    }
    let mut msg = NodeAnnouncement {
        signature: sign_digest(
            secp,
            &node_secret(i),
            &bitcoin::secp256k1::Message::from_digest([0; 32]),
        ),
        features: WireFeatures::default(),
        timestamp,
        node_id: node_id(i),
        rgb_color: [1, 2, 3],
        alias: alias_bytes,
        addresses: vec![fulmen_wire::NetAddress::Ipv4 {
            addr: std::net::Ipv4Addr::new(10, 0, 0, (i & 0xff) as u8),
            port: 9735,
        }],
        extension: Vec::new(),
    };
    sign_node_announcement(secp, &node_secret(i), &mut msg);
    msg
}

/// Builds a [`NetworkGraph`] on [`test_chain`] from real signed gossip,
/// at time [`TEST_NOW`].
pub struct GraphBuilder {
    /// The graph built so far.
    pub graph: NetworkGraph,
    /// The context used to sign and verify.
    pub secp: Secp256k1<All>,
}

impl Default for GraphBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        Self {
            graph: NetworkGraph::new(test_chain()),
            secp: Secp256k1::new(),
        }
    }

    /// Announces channel `scid` between nodes `a` and `b`.
    pub fn channel(
        &mut self,
        scid: ShortChannelId,
        a: u32,
        b: u32,
        capacity: Sat,
    ) -> Result<(), GossipError> {
        let ann = channel_announcement(&self.secp, test_chain(), scid, a, b);
        self.graph
            .add_channel(&self.secp, &ann, capacity, TEST_NOW)
            .map(|_| ())
    }

    /// Sets node `from`'s policy on channel `scid` (whose other end is
    /// `to`) with a signed `channel_update`. An `htlc_maximum` above the
    /// capacity is lowered to it.
    pub fn policy(
        &mut self,
        scid: ShortChannelId,
        from: u32,
        to: u32,
        mut policy: DirectedPolicy,
    ) -> Result<(), GossipError> {
        if let Some(cap) = self
            .graph
            .channel(scid)
            .and_then(|c| c.capacity.checked_to_msat())
        {
            policy.htlc_maximum = policy.htlc_maximum.min(cap);
        }
        let direction = u8::from(node_id(from) > node_id(to));
        let upd = channel_update(&self.secp, test_chain(), scid, from, direction, &policy);
        self.graph
            .apply_channel_update(&self.secp, &upd, TEST_NOW)
            .map(|_| ())
    }

    /// A channel with the same policy in both directions.
    pub fn both_ways(
        &mut self,
        scid: ShortChannelId,
        a: u32,
        b: u32,
        capacity: Sat,
        p: DirectedPolicy,
    ) -> Result<(), GossipError> {
        self.channel(scid, a, b, capacity)?;
        self.policy(scid, a, b, p)?;
        self.policy(scid, b, a, p)
    }
}
