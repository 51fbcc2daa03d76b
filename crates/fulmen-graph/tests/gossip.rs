//! Gossip signing, validation and the graph's bookkeeping, clause by clause
//! against BOLT 7.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bitcoin::secp256k1::{PublicKey, Secp256k1};
use fulmen_graph::sign::{channel_announcement_digest, sign_digest};
use fulmen_graph::testing::{
    channel_announcement, channel_announcement_with, channel_update, funding_secret,
    node_announcement, node_id, node_secret, policy, scid, test_chain, GraphBuilder, TEST_NOW,
};
use fulmen_graph::validate::{
    verify_channel_announcement, verify_channel_update, verify_node_announcement,
};
use fulmen_graph::{GossipError, NetworkGraph, UpdateOutcome};
use fulmen_types::{Features, Msat, Sat};
use fulmen_wire::{
    ChannelAnnouncement, ChannelUpdate, NodeAnnouncement, Reaction, WireFeatures, WireMessage,
};

const DAY: u64 = 86_400;
const CAP: Sat = Sat(1_000_000);

fn decode<M: WireMessage>(bytes: &[u8]) -> Option<M> {
    M::decode_payload(bytes.get(2..)?).ok()
}

/// Flipping any bit of the signed part of a message breaks its signature
/// (or its decoding).
#[test]
fn tampering_with_any_signed_byte_breaks_verification() {
    let secp = Secp256k1::new();
    let chain = test_chain();
    let mut f = Features::empty();
    f.set_bit(13);
    let ann = channel_announcement_with(
        &secp,
        chain,
        scid(7),
        1,
        2,
        WireFeatures::new(f),
        vec![0xaa, 0xbb],
    );
    assert_eq!(verify_channel_announcement(&secp, &ann, chain), Ok(()));
    let bytes = ann.encode_message().unwrap();
    assert_eq!(decode::<ChannelAnnouncement>(&bytes).as_ref(), Some(&ann));
    for i in 2 + 256..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        if let Some(m) = decode::<ChannelAnnouncement>(&b) {
            assert!(
                verify_channel_announcement(&secp, &m, chain).is_err() || m.chain_hash != chain,
                "byte {i}"
            );
        }
    }

    let mut upd = channel_update(&secp, chain, scid(7), 1, 0, &policy(1000, 10, 40));
    upd.extension = vec![1, 2, 3];
    fulmen_graph::sign::sign_channel_update(&secp, &node_secret(1), &mut upd);
    assert_eq!(verify_channel_update(&secp, &upd, &node_id(1)), Ok(()));
    let bytes = upd.encode_message().unwrap();
    for i in 2 + 64..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x80;
        let m = decode::<ChannelUpdate>(&b).unwrap();
        assert!(
            verify_channel_update(&secp, &m, &node_id(1)).is_err(),
            "byte {i}"
        );
    }

    let node = node_announcement(&secp, 3, 1000, "tamper");
    assert_eq!(verify_node_announcement(&secp, &node), Ok(()));
    let bytes = node.encode_message().unwrap();
    for i in 2 + 64..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        if let Some(m) = decode::<NodeAnnouncement>(&b) {
            assert!(verify_node_announcement(&secp, &m).is_err(), "byte {i}");
        }
    }
}

/// Both parties sign the same digest separately (as with
/// `announcement_signatures`), with node and funding keys.
#[test]
fn channel_announcement_assembled_from_two_halves() {
    let secp = Secp256k1::new();
    let chain = test_chain();
    let s = scid(9);
    let reference = channel_announcement(&secp, chain, s, 4, 5);
    let (one, two) = if node_id(4) < node_id(5) {
        (4, 5)
    } else {
        (5, 4)
    };
    let mut ann = reference.clone();
    let digest = channel_announcement_digest(&ann);
    ann.node_signature_1 = sign_digest(&secp, &node_secret(one), &digest);
    ann.bitcoin_signature_1 = sign_digest(&secp, &funding_secret(s, one), &digest);
    ann.node_signature_2 = sign_digest(&secp, &node_secret(two), &digest);
    ann.bitcoin_signature_2 = sign_digest(&secp, &funding_secret(s, two), &digest);
    assert_eq!(ann, reference); // RFC 6979: deterministic
    assert_eq!(
        ann.bitcoin_key_1,
        PublicKey::from_secret_key(&secp, &funding_secret(s, one))
    );
    assert_eq!(verify_channel_announcement(&secp, &ann, chain), Ok(()));
}

#[test]
fn add_channel_duplicates_conflicts_and_errors() {
    let secp = Secp256k1::new();
    let chain = test_chain();
    let mut g = NetworkGraph::new(chain);
    let ann = channel_announcement(&secp, chain, scid(1), 1, 2);
    assert_eq!(g.add_channel(&secp, &ann, CAP, TEST_NOW), Ok(true));
    assert_eq!(g.add_channel(&secp, &ann, CAP, TEST_NOW), Ok(false));
    let other = channel_announcement(&secp, chain, scid(1), 1, 3);
    let err = g.add_channel(&secp, &other, CAP, TEST_NOW).unwrap_err();
    assert_eq!(err, GossipError::ConflictingAnnouncement(scid(1)));
    assert_eq!(err.reaction(), Reaction::Ignore);

    let mut bad = channel_announcement(&secp, chain, scid(2), 1, 3);
    bad.bitcoin_signature_2 = bad.bitcoin_signature_1;
    let err = g.add_channel(&secp, &bad, CAP, TEST_NOW).unwrap_err();
    assert!(matches!(err, GossipError::BadSignature { .. }));
    assert_eq!(err.reaction(), Reaction::Warn);
    assert_eq!(err.to_string(), "invalid bitcoin_signature_2");

    let mainnet = NetworkGraph::new(bitcoin::constants::ChainHash::BITCOIN);
    let mut mainnet = mainnet;
    assert_eq!(
        mainnet.add_channel(&secp, &ann, CAP, TEST_NOW),
        Err(GossipError::WrongChain(chain))
    );
    assert_eq!(g.num_channels(), 1);
    assert_eq!(g.num_nodes(), 2);
    let view = g.channel(scid(1)).unwrap();
    assert_eq!(view.capacity, CAP);
    assert_eq!((view.node_1, view.node_2), (ann.node_id_1, ann.node_id_2));
    assert_eq!((view.one_to_two, view.two_to_one), (None, None));
    assert_eq!(
        g.channels_of(&node_id(1)).collect::<Vec<_>>(),
        vec![scid(1)]
    );
    assert_eq!(g.channels_of(&node_id(9)).count(), 0);
}

fn one_channel() -> (GraphBuilder, u8) {
    let mut b = GraphBuilder::new();
    b.channel(scid(1), 1, 2, CAP).unwrap();
    let dir = u8::from(node_id(1) > node_id(2));
    (b, dir)
}

#[test]
fn channel_update_ordering() {
    let (mut b, dir) = one_channel();
    let secp = Secp256k1::new();
    let chain = test_chain();
    let now = TEST_NOW;
    let t = now as u32;
    let upd = |ts: u32, base: u32| {
        let mut p = policy(base, 1, 40);
        p.timestamp = ts;
        p.htlc_maximum = Msat(500_000_000);
        channel_update(&secp, chain, scid(1), 1, dir, &p)
    };
    let g = &mut b.graph;
    assert_eq!(
        g.apply_channel_update(&secp, &upd(t, 1), now),
        Ok(UpdateOutcome::Applied)
    );
    // Equal timestamp, same content: duplicate (not relayed).
    assert_eq!(
        g.apply_channel_update(&secp, &upd(t, 1), now),
        Ok(UpdateOutcome::Duplicate)
    );
    // Equal timestamp, other content.
    assert_eq!(
        g.apply_channel_update(&secp, &upd(t, 2), now),
        Err(GossipError::ConflictingUpdate { timestamp: t })
    );
    // Older.
    assert_eq!(
        g.apply_channel_update(&secp, &upd(t - 1, 2), now),
        Err(GossipError::StaleUpdate {
            stored: t,
            received: t - 1
        })
    );
    // Newer.
    assert_eq!(
        g.apply_channel_update(&secp, &upd(t + 10, 3), now),
        Ok(UpdateOutcome::Applied)
    );
    let view = g.channel(scid(1)).unwrap();
    let p = if dir == 0 {
        view.one_to_two
    } else {
        view.two_to_one
    }
    .unwrap();
    assert_eq!((p.timestamp, p.fee_base_msat), (t + 10, 3));
    // More than a day ahead of now, or more than two weeks old.
    let far = (now + DAY + 1) as u32;
    assert_eq!(
        g.apply_channel_update(&secp, &upd(far, 4), now),
        Err(GossipError::TimestampInFuture { timestamp: far })
    );
    assert_eq!(
        g.apply_channel_update(&secp, &upd((now + DAY) as u32, 4), now),
        Ok(UpdateOutcome::Applied)
    );
    let old = (now - 14 * DAY - 1) as u32;
    assert_eq!(
        g.apply_channel_update(&secp, &upd(old, 4), now),
        Err(GossipError::TimestampTooOld { timestamp: old })
    );
}

#[test]
fn channel_update_checks() {
    let (mut b, dir) = one_channel();
    let secp = Secp256k1::new();
    let chain = test_chain();
    let g = &mut b.graph;
    let pol = || {
        let mut p = policy(1, 1, 40);
        p.htlc_maximum = Msat(1000);
        p
    };
    // Signed by the wrong end for its direction bit.
    let wrong = channel_update(&secp, chain, scid(1), 2, dir, &pol());
    let err = g.apply_channel_update(&secp, &wrong, TEST_NOW).unwrap_err();
    assert!(matches!(err, GossipError::BadSignature { .. }));
    assert_eq!(err.reaction(), Reaction::Disconnect);
    // Unknown channel.
    let unknown = channel_update(&secp, chain, scid(2), 1, dir, &pol());
    assert_eq!(
        g.apply_channel_update(&secp, &unknown, TEST_NOW),
        Err(GossipError::UnknownChannel(scid(2)))
    );
    // htlc_maximum above the capacity.
    let mut p = policy(1, 1, 40);
    p.htlc_maximum = Msat(CAP.0 * 1000 + 1);
    let big = channel_update(&secp, chain, scid(1), 1, dir, &p);
    assert_eq!(
        g.apply_channel_update(&secp, &big, TEST_NOW),
        Err(GossipError::HtlcMaximumAboveCapacity)
    );
    // Another chain.
    let mut other = channel_update(&secp, chain, scid(1), 1, dir, &pol());
    other.chain_hash = bitcoin::constants::ChainHash::BITCOIN;
    assert!(matches!(
        g.apply_channel_update(&secp, &other, TEST_NOW),
        Err(GossipError::WrongChain(_))
    ));
    // The other end's update goes to the other direction.
    p.htlc_maximum = Msat(1000);
    let back = channel_update(&secp, chain, scid(1), 2, 1 - dir, &p);
    assert_eq!(
        g.apply_channel_update(&secp, &back, TEST_NOW),
        Ok(UpdateOutcome::Applied)
    );
    let v = g.channel(scid(1)).unwrap();
    let [mine, theirs] = if dir == 0 {
        [v.one_to_two, v.two_to_one]
    } else {
        [v.two_to_one, v.one_to_two]
    };
    assert_eq!(mine, None);
    assert_eq!(theirs.unwrap().htlc_maximum, Msat(1000));
}

#[test]
fn node_announcements() {
    let (mut b, _) = one_channel();
    let secp = Secp256k1::new();
    let g = &mut b.graph;
    let t = TEST_NOW as u32;
    let stranger = node_announcement(&secp, 3, t, "three");
    assert_eq!(
        g.apply_node_announcement(&secp, &stranger, TEST_NOW),
        Err(GossipError::UnknownNode(node_id(3)))
    );
    let ann = node_announcement(&secp, 1, t, "one");
    assert_eq!(
        g.apply_node_announcement(&secp, &ann, TEST_NOW),
        Ok(UpdateOutcome::Applied)
    );
    assert_eq!(
        g.apply_node_announcement(&secp, &ann, TEST_NOW),
        Ok(UpdateOutcome::Duplicate)
    );
    let older = node_announcement(&secp, 1, t - 1, "one");
    assert!(matches!(
        g.apply_node_announcement(&secp, &older, TEST_NOW),
        Err(GossipError::StaleUpdate { .. })
    ));
    let same_time = node_announcement(&secp, 1, t, "uno");
    assert_eq!(
        g.apply_node_announcement(&secp, &same_time, TEST_NOW),
        Err(GossipError::ConflictingUpdate { timestamp: t })
    );
    let future = node_announcement(&secp, 1, t + 2 * DAY as u32, "one");
    assert!(matches!(
        g.apply_node_announcement(&secp, &future, TEST_NOW),
        Err(GossipError::TimestampInFuture { .. })
    ));
    let mut forged = node_announcement(&secp, 1, t + 5, "one");
    forged.alias[0] = b'X';
    assert!(matches!(
        g.apply_node_announcement(&secp, &forged, TEST_NOW),
        Err(GossipError::BadSignature { .. })
    ));
    let newer = node_announcement(&secp, 1, t + 5, "newer");
    assert_eq!(
        g.apply_node_announcement(&secp, &newer, TEST_NOW),
        Ok(UpdateOutcome::Applied)
    );
    let view = g.node(&node_id(1)).unwrap();
    assert_eq!(view.alias_lossy().as_deref(), Some("newer"));
    assert_eq!(view.timestamp, Some(t + 5));
    assert_eq!(view.addresses, newer.addresses);
    assert_eq!(view.num_channels, 1);
    assert_eq!(g.node(&node_id(2)).unwrap().alias, None);
}

#[test]
fn remove_channel_drops_orphan_nodes() {
    let mut b = GraphBuilder::new();
    b.channel(scid(1), 1, 2, CAP).unwrap();
    b.channel(scid(2), 2, 3, CAP).unwrap();
    let secp = Secp256k1::new();
    let ann = node_announcement(&secp, 1, TEST_NOW as u32, "one");
    b.graph
        .apply_node_announcement(&secp, &ann, TEST_NOW)
        .unwrap();
    assert_eq!(b.graph.num_nodes(), 3);
    assert!(b.graph.remove_channel(scid(1)));
    assert!(!b.graph.remove_channel(scid(1)));
    assert_eq!(b.graph.num_nodes(), 2);
    assert!(b.graph.node(&node_id(1)).is_none());
    assert_eq!(b.graph.node(&node_id(2)).unwrap().num_channels, 1);
    // Slots are reused.
    b.channel(scid(3), 1, 4, CAP).unwrap();
    assert_eq!(b.graph.num_channels(), 2);
    assert_eq!(b.graph.num_nodes(), 4);
    assert!(b.graph.node(&node_id(1)).unwrap().alias.is_none());
}

#[test]
fn prune_stale_channels() {
    let mut b = GraphBuilder::new();
    let t = TEST_NOW as u32;
    let old = |p: fulmen_graph::DirectedPolicy| fulmen_graph::DirectedPolicy {
        timestamp: t - 10 * DAY as u32,
        ..p
    };
    // 1: both directions updated long ago.
    b.both_ways(scid(1), 1, 2, CAP, old(policy(1, 1, 6)))
        .unwrap();
    // 2: one direction fresh, one old: kept.
    b.channel(scid(2), 2, 3, CAP).unwrap();
    b.policy(scid(2), 2, 3, old(policy(1, 1, 6))).unwrap();
    b.policy(scid(2), 3, 2, policy(1, 1, 6)).unwrap();
    // 3: never updated (added at TEST_NOW).
    b.channel(scid(3), 3, 4, CAP).unwrap();
    // 4: only one old direction.
    b.channel(scid(4), 4, 5, CAP).unwrap();
    b.policy(scid(4), 4, 5, old(policy(1, 1, 6))).unwrap();

    assert_eq!(b.graph.prune_stale(TEST_NOW), 0);
    // Five days later the 10-day-old updates are 15 days old.
    let later = TEST_NOW + 5 * DAY;
    assert_eq!(b.graph.prune_stale(later), 2);
    assert!(b.graph.channel(scid(1)).is_none());
    assert!(b.graph.channel(scid(4)).is_none());
    assert!(b.graph.channel(scid(2)).is_some());
    assert!(b.graph.channel(scid(3)).is_some());
    assert!(b.graph.node(&node_id(1)).is_none());
    // Two weeks after it was added the silent channel goes too, and so does
    // scid(2), whose fresh direction is now two weeks old.
    assert_eq!(b.graph.prune_stale(TEST_NOW + 14 * DAY), 0);
    assert_eq!(b.graph.prune_stale(TEST_NOW + 14 * DAY + 1), 2);
    assert_eq!(b.graph.num_channels(), 0);
    assert_eq!(b.graph.num_nodes(), 0);
}

/// A graph loaded back from the encoded messages (trusted insertion, no
/// signature check) equals the graph the messages built, and still tells
/// duplicates from conflicts.
#[test]
fn loading_from_stored_messages_gives_the_same_graph() {
    let mut b = GraphBuilder::new();
    let secp = Secp256k1::new();
    let chain = test_chain();
    let t = TEST_NOW as u32;
    // A channel with features and extension bytes, to check they are skipped.
    let odd = channel_announcement_with(
        &secp,
        chain,
        scid(5),
        1,
        2,
        WireFeatures::from_wire(&[0, 2]),
        vec![7, 7],
    );
    assert!(b.graph.add_channel(&secp, &odd, CAP, TEST_NOW).unwrap());
    let dir = u8::from(node_id(1) > node_id(2));
    let mut p = policy(10, 10, 40);
    p.timestamp = t - 100;
    p.htlc_maximum = Msat(1000);
    let mut u1 = channel_update(&secp, chain, scid(5), 1, dir, &p);
    u1.extension = vec![1, 2];
    fulmen_graph::sign::sign_channel_update(&secp, &node_secret(1), &mut u1);
    b.graph.apply_channel_update(&secp, &u1, TEST_NOW).unwrap();
    let plain = channel_announcement(&secp, chain, scid(3), 2, 3);
    assert!(b.graph.add_channel(&secp, &plain, CAP, TEST_NOW).unwrap());
    let n1 = node_announcement(&secp, 1, t - 50, "one");
    b.graph
        .apply_node_announcement(&secp, &n1, TEST_NOW)
        .unwrap();

    let mut g = NetworkGraph::new(chain);
    for ann in [&odd, &plain] {
        let bytes = ann.encode_message().unwrap();
        assert_eq!(
            g.load_channel_announcement(&bytes, CAP, TEST_NOW),
            Ok(ann.short_channel_id)
        );
    }
    g.load_channel_update(&u1.encode_message().unwrap())
        .unwrap();
    assert_eq!(
        g.load_node_announcement(&n1.encode_message().unwrap()),
        Ok(node_id(1))
    );
    for s in [scid(3), scid(5)] {
        assert_eq!(g.channel(s), b.graph.channel(s));
    }
    assert_eq!(g.node(&node_id(1)), b.graph.node(&node_id(1)));
    assert_eq!(g.num_nodes(), 3);

    // Duplicates and conflicts are recognised from the fingerprints.
    assert_eq!(g.add_channel(&secp, &odd, CAP, TEST_NOW), Ok(false));
    let conflicting = channel_announcement(&secp, chain, scid(3), 2, 4);
    assert_eq!(
        g.add_channel(&secp, &conflicting, CAP, TEST_NOW),
        Err(GossipError::ConflictingAnnouncement(scid(3)))
    );
    assert_eq!(
        g.apply_channel_update(&secp, &u1, TEST_NOW),
        Ok(UpdateOutcome::Duplicate)
    );
    let mut other_ext = u1.clone();
    other_ext.extension = vec![3];
    fulmen_graph::sign::sign_channel_update(&secp, &node_secret(1), &mut other_ext);
    assert_eq!(
        g.apply_channel_update(&secp, &other_ext, TEST_NOW),
        Err(GossipError::ConflictingUpdate { timestamp: t - 100 })
    );
    assert_eq!(
        g.apply_node_announcement(&secp, &n1, TEST_NOW),
        Ok(UpdateOutcome::Duplicate)
    );

    // Malformed or out-of-order records are errors, not panics.
    let bytes = odd.encode_message().unwrap();
    for cut in [0, 1, 2, 100, 300, bytes.len() - 3] {
        assert!(g.load_channel_announcement(&bytes[..cut], CAP, 0).is_err());
    }
    assert!(g
        .load_channel_announcement(&u1.encode_message().unwrap(), CAP, 0)
        .is_err());
    let orphan = channel_update(&secp, chain, scid(9), 1, dir, &p);
    assert_eq!(
        g.load_channel_update(&orphan.encode_message().unwrap()),
        Err(GossipError::UnknownChannel(scid(9)))
    );
    let n7 = node_announcement(&secp, 7, t, "seven");
    assert_eq!(
        g.load_node_announcement(&n7.encode_message().unwrap()),
        Err(GossipError::UnknownNode(node_id(7)))
    );
}

#[test]
fn scids_in_range_and_memory() {
    let mut b = GraphBuilder::new();
    for s in [3, 5, 8] {
        b.channel(scid(s), s, s + 1, CAP).unwrap();
    }
    assert_eq!(
        b.graph.scids_in_range(0, 1 << 24),
        vec![scid(3), scid(5), scid(8)]
    );
    assert_eq!(b.graph.scids_in_range(4, 2), vec![scid(5)]);
    assert_eq!(b.graph.scids_in_range(4, u32::MAX), vec![scid(5), scid(8)]);
    assert!(b.graph.scids_in_range(6, 2).is_empty());
    assert!(b.graph.scids_in_range(1 << 24, u32::MAX).is_empty());
    assert!(b.graph.approx_memory_bytes() > 3 * 100);
}

/// A graph shaped like mainnet (four channels per node, every channel
/// updated both ways, every node announced) keeps under 250 bytes per
/// channel, nodes and indexes included: no signed message is kept.
#[test]
fn memory_per_channel_is_bounded() {
    let mut b = GraphBuilder::new();
    let secp = Secp256k1::new();
    let nodes = 250u32;
    for i in 0..4 * nodes {
        let a = i % nodes;
        let c = (a + 1 + (i / nodes) * 37) % nodes;
        b.both_ways(scid(i + 1), a, c, CAP, policy(1, 1, 6))
            .unwrap();
    }
    for n in 0..nodes {
        let ann = node_announcement(&secp, n, TEST_NOW as u32, "a node");
        b.graph
            .apply_node_announcement(&secp, &ann, TEST_NOW)
            .unwrap();
    }
    b.graph.shrink_to_fit();
    let per_channel = b.graph.approx_memory_bytes() / (4 * nodes as usize);
    eprintln!("{per_channel} bytes per channel");
    assert!(per_channel < 250, "{per_channel} bytes per channel");
}
