//! Peer connections over real TCP on 127.0.0.1: two nodes connecting,
//! ping/pong, and hostile peers being disconnected while the node runs on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::Duration;

use bitcoin::Network;
use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use fulmen_node::features::{chain_hash, our_init, InitError};
use fulmen_node::{ConnectTarget, DisconnectReason, NodeEvent, PeerConfig};
use fulmen_types::{ChannelId, Feature, FeatureError, Features};
use fulmen_wire::{Message, Ping, WarningMessage, WireError, WireFeatures};
use support::*;

fn target(node: &TestNode) -> ConnectTarget {
    format!("{}@{}", node.id(), node.addr()).parse().unwrap()
}

/// Checks the node still serves new peers after a hostile one.
async fn still_serves(node: &TestNode) {
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    peer.send(&Message::Ping(Ping {
        num_pong_bytes: 4,
        ignored: vec![],
        unknown_tlvs: vec![],
    }))
    .await;
    let pong = peer.recv_non_ping().await.expect("pong");
    assert!(matches!(pong, Message::Pong(p) if p.ignored == vec![0; 4]));
    assert!(node.node.info().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_connect_ping_pong_and_list_each_other() {
    let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
    let mut a = start_node(Some(chain.clone()), fast_peers()).await;
    let mut b = start_node(Some(chain), fast_peers()).await;

    a.node.connect(&target(&b)).await.expect("connects");
    // Connecting again is a no-op.
    a.node
        .connect(&target(&b))
        .await
        .expect("already connected");

    let b_id = b.id();
    let a_id = a.id();
    wait_event(&mut b.events, |e| match e {
        NodeEvent::PeerConnected {
            node_id, inbound, ..
        } if *node_id == a_id => {
            assert!(inbound);
            Some(())
        }
        _ => None,
    })
    .await;
    // Both sides ping after 300 ms of silence and get their pongs.
    let rtt = wait_event(&mut a.events, |e| match e {
        NodeEvent::PongReceived {
            node_id,
            round_trip,
        } if *node_id == b_id => Some(*round_trip),
        _ => None,
    })
    .await;
    assert!(rtt < Duration::from_secs(5));
    wait_event(&mut b.events, |e| match e {
        NodeEvent::PongReceived { node_id, .. } if *node_id == a_id => Some(()),
        _ => None,
    })
    .await;

    let a_peers = a.node.list_peers();
    assert_eq!(a_peers.len(), 1);
    assert_eq!(a_peers[0].node_id, b_id);
    assert!(!a_peers[0].inbound);
    assert!(a_peers[0].features.requires(Feature::StaticRemoteKey));
    assert!(a_peers[0].last_round_trip.is_some());
    let b_peers = b.node.list_peers();
    assert_eq!(b_peers.len(), 1);
    assert_eq!(b_peers[0].node_id, a_id);
    assert!(b_peers[0].inbound);
    assert_eq!(a.node.info().await.unwrap().num_peers, 1);

    // Cannot connect to ourselves.
    assert!(a.node.connect(&target(&a)).await.is_err());

    // Stopping b disconnects a's side.
    b.stop().await;
    let reason = disconnect_reason(&mut a.events, Some(b_id)).await;
    assert!(
        matches!(
            reason,
            DisconnectReason::RemoteClosed | DisconnectReason::Io(_)
        ),
        "{reason:?}"
    );
    assert!(a.node.list_peers().is_empty());
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_the_handshake_disconnects() {
    let mut node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    let peer_id = peer.node_id();
    wait_event(&mut node.events, |e| {
        matches!(e, NodeEvent::PeerConnected { node_id, .. } if *node_id == peer_id).then_some(())
    })
    .await;
    use tokio::io::AsyncWriteExt;
    peer.stream.write_all(&[0x55; 100]).await.unwrap();
    let reason = disconnect_reason(&mut node.events, Some(peer_id)).await;
    assert!(
        matches!(reason, DisconnectReason::Transport(_)),
        "{reason:?}"
    );
    peer.until_closed().await;
    assert!(node.node.list_peers().is_empty());
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_handshake_disconnects() {
    let mut node = start_node(None, fast_peers()).await;
    let mut stream = tokio::net::TcpStream::connect(node.addr()).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(&[7u8; 50]).await.unwrap();
    let reason = disconnect_reason(&mut node.events, None).await;
    assert!(
        matches!(reason, DisconnectReason::Handshake(_)),
        "{reason:?}"
    );
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "closed without a reply");
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_even_message_disconnects_unknown_odd_is_ignored() {
    let mut node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    let peer_id = peer.node_id();
    // Odd: ignored; the ping after it is still answered.
    peer.send_raw(&[0x80, 0x01, 1, 2, 3]).await;
    peer.send(&Message::Ping(Ping {
        num_pong_bytes: 3,
        ignored: vec![0; 10],
        unknown_tlvs: vec![],
    }))
    .await;
    assert!(matches!(peer.recv_non_ping().await, Some(Message::Pong(p)) if p.ignored.len() == 3));
    // Even: warning, then closed.
    peer.send_raw(&[0x80, 0x00, 1, 2, 3]).await;
    let reason = disconnect_reason(&mut node.events, Some(peer_id)).await;
    assert_eq!(
        reason,
        DisconnectReason::Wire(WireError::UnknownEvenMessage(0x8000))
    );
    let last = peer.until_closed().await;
    assert!(
        last.iter().any(|m| matches!(m, Message::Warning(_))),
        "{last:?}"
    );
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_with_an_unknown_required_feature_is_refused() {
    let mut node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::handshake(node.addr(), node.id()).await;
    assert!(matches!(peer.recv().await, Some(Message::Init(_))));
    let mut init = our_init(Network::Regtest, None);
    let mut features = init.features.features().clone();
    features.set_bit(200);
    init.features = WireFeatures::new(features);
    peer.send_init(init).await;
    let reason = disconnect_reason(&mut node.events, Some(peer.node_id())).await;
    assert_eq!(
        reason,
        DisconnectReason::Init(InitError::Features(FeatureError::UnknownRequiredBit(200)))
    );
    // A warning (not an error: no channel is failed), then the close.
    let last = peer.until_closed().await;
    assert!(
        matches!(last.as_slice(), [Message::Warning(WarningMessage { channel_id, .. })] if *channel_id == ChannelId([0; 32])),
        "{last:?}"
    );
    assert!(node.node.list_peers().is_empty());
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_for_another_chain_or_missing_dependency_is_refused() {
    let mut node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::handshake(node.addr(), node.id()).await;
    peer.recv().await;
    let mut init = our_init(Network::Regtest, None);
    init.networks = Some(vec![chain_hash(Network::Bitcoin)]);
    peer.send_init(init).await;
    assert_eq!(
        disconnect_reason(&mut node.events, Some(peer.node_id())).await,
        DisconnectReason::Init(InitError::NoCommonNetwork)
    );

    let mut peer = RawPeer::handshake(node.addr(), node.id()).await;
    peer.recv().await;
    let mut init = our_init(Network::Regtest, None);
    init.features = WireFeatures::new(Features::empty().with_optional(Feature::BasicMpp));
    peer.send_init(init).await;
    assert!(matches!(
        disconnect_reason(&mut node.events, Some(peer.node_id())).await,
        DisconnectReason::Init(InitError::Features(FeatureError::MissingDependency { .. }))
    ));

    // A first message that is not init.
    let mut peer = RawPeer::handshake(node.addr(), node.id()).await;
    peer.recv().await;
    peer.send(&Message::Ping(Ping {
        num_pong_bytes: 1,
        ignored: vec![],
        unknown_tlvs: vec![],
    }))
    .await;
    assert_eq!(
        disconnect_reason(&mut node.events, Some(peer.node_id())).await,
        DisconnectReason::Init(InitError::NotInit(18))
    );
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_within_limits() {
    let node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    let ping = |n| {
        Message::Ping(Ping {
            num_pong_bytes: n,
            ignored: vec![],
            unknown_tlvs: vec![],
        })
    };
    // 65532 and above: ignored. The next answer is for the ping after it.
    peer.send(&ping(65532)).await;
    peer.send(&ping(65531)).await;
    assert!(
        matches!(peer.recv_non_ping().await, Some(Message::Pong(p)) if p.ignored.len() == 65531 && p.ignored.iter().all(|b| *b == 0))
    );
    peer.send(&ping(u16::MAX)).await;
    peer.send(&ping(0)).await;
    assert!(matches!(peer.recv_non_ping().await, Some(Message::Pong(p)) if p.ignored.is_empty()));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_messages_for_unknown_channels_get_an_error() {
    let node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    let id = ChannelId([0x42; 32]);
    peer.send(&Message::Shutdown(fulmen_wire::Shutdown {
        channel_id: id,
        scriptpubkey: bitcoin::ScriptBuf::new(),
        unknown_tlvs: vec![],
    }))
    .await;
    match peer.recv_non_ping().await {
        Some(Message::Error(e)) => {
            assert_eq!(e.channel_id, id);
            assert_eq!(e.printable_data(), Some("unknown channel"));
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // The connection stays up.
    assert_eq!(node.node.list_peers().len(), 1);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_pings_is_dropped() {
    let peers = PeerConfig {
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(300),
        ..fast_peers()
    };
    let mut node = start_node(None, peers).await;
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    assert!(matches!(peer.recv().await, Some(Message::Ping(_))));
    assert_eq!(
        disconnect_reason(&mut node.events, Some(peer.node_id())).await,
        DisconnectReason::PingTimeout
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_time_out_and_inbound_is_limited() {
    let peers = PeerConfig {
        setup_timeout: Duration::from_millis(500),
        max_inbound: 1,
        ..fast_peers()
    };
    let mut node = start_node(None, peers).await;
    // Holds the only inbound slot without saying anything.
    let _silent = tokio::net::TcpStream::connect(node.addr()).await.unwrap();
    let _refused = tokio::net::TcpStream::connect(node.addr()).await.unwrap();
    assert_eq!(
        disconnect_reason(&mut node.events, None).await,
        DisconnectReason::TooManyConnections
    );
    assert_eq!(
        disconnect_reason(&mut node.events, None).await,
        DisconnectReason::SetupTimeout
    );
    // The slot is free again.
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_from_the_same_node_replaces_the_old_one() {
    let mut node = start_node(None, fast_peers()).await;
    let mut first = RawPeer::connect(node.addr(), node.id()).await;
    let id = first.node_id();
    wait_event(&mut node.events, |e| {
        matches!(e, NodeEvent::PeerConnected { node_id, .. } if *node_id == id).then_some(())
    })
    .await;
    let key = first.key;
    let mut second = RawPeer::handshake_with(node.addr(), node.id(), key).await;
    assert!(matches!(second.recv().await, Some(Message::Init(_))));
    second.send_init(our_init(Network::Regtest, None)).await;
    assert_eq!(
        disconnect_reason(&mut node.events, Some(id)).await,
        DisconnectReason::Replaced
    );
    first.until_closed().await;
    // The new connection is the registered one and works.
    assert_eq!(node.node.list_peers().len(), 1);
    second
        .send(&Message::Ping(Ping {
            num_pong_bytes: 2,
            ignored: vec![],
            unknown_tlvs: vec![],
        }))
        .await;
    assert!(matches!(
        second.recv_non_ping().await,
        Some(Message::Pong(_))
    ));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_and_errors_are_reported_and_the_connection_stays() {
    let mut node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    let id = peer.node_id();
    peer.send(&Message::Warning(WarningMessage {
        channel_id: ChannelId([0; 32]),
        data: b"careful".to_vec(),
        unknown_tlvs: vec![],
    }))
    .await;
    let text = wait_event(&mut node.events, |e| match e {
        NodeEvent::WarningReceived { node_id, text, .. } if *node_id == id => Some(text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(text.as_deref(), Some("careful"));
    // Not printable: reported without text.
    peer.send(&Message::Error(fulmen_wire::ErrorMessage {
        channel_id: ChannelId([1; 32]),
        data: vec![0, 1, 2, 0xff],
        unknown_tlvs: vec![],
    }))
    .await;
    let (channel, text) = wait_event(&mut node.events, |e| match e {
        NodeEvent::ErrorReceived {
            node_id,
            channel_id,
            text,
        } if *node_id == id => Some((*channel_id, text.clone())),
        _ => None,
    })
    .await;
    assert_eq!(channel, ChannelId([1; 32]));
    assert_eq!(text, None);
    assert!(node.node.peers().is_connected(&id));
    still_serves(&node).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connects_to_one_peer_share_one_connection() {
    let a = start_node(None, fast_peers()).await;
    let mut b = start_node(None, fast_peers()).await;
    let target = ConnectTarget {
        node_id: b.id(),
        address: b.addr().to_string(),
    };
    let (x, y, z) = tokio::join!(
        a.node.connect(&target),
        a.node.connect(&target),
        a.node.connect(&target)
    );
    assert!(x.is_ok() && y.is_ok() && z.is_ok());
    wait_event(&mut b.events, |e| {
        matches!(e, NodeEvent::PeerConnected { .. }).then_some(())
    })
    .await;
    // No second connection replaced the first.
    assert_eq!(b.node.list_peers().len(), 1);
    while let Ok(e) = b.events.try_recv() {
        assert!(
            !matches!(
                e,
                NodeEvent::PeerConnected { .. } | NodeEvent::PeerDisconnected { .. }
            ),
            "{e:?}"
        );
    }
    a.stop().await;
    b.stop().await;
}

/// A `channel_announcement` whose signatures are valid signatures of the
/// wrong message, for a funding output that does not exist.
fn bogus_announcement(i: u32) -> fulmen_wire::ChannelAnnouncement {
    use bitcoin::secp256k1::{Message as Digest, PublicKey, Secp256k1, SecretKey};
    let secp = Secp256k1::new();
    let key = |b: u8| SecretKey::from_slice(&[b; 32]).unwrap();
    let sig = secp.sign_ecdsa(&Digest::from_digest([3; 32]), &key(9));
    let (n1, n2) = {
        let x = fulmen_types::NodeId::from_pubkey(&PublicKey::from_secret_key(&secp, &key(1)));
        let y = fulmen_types::NodeId::from_pubkey(&PublicKey::from_secret_key(&secp, &key(2)));
        if x.0 < y.0 {
            (x, y)
        } else {
            (y, x)
        }
    };
    fulmen_wire::ChannelAnnouncement {
        node_signature_1: sig,
        node_signature_2: sig,
        bitcoin_signature_1: sig,
        bitcoin_signature_2: sig,
        features: WireFeatures::default(),
        chain_hash: chain_hash(Network::Regtest),
        short_channel_id: fulmen_types::ShortChannelId::new(1, i, 0).unwrap(),
        node_id_1: n1,
        node_id_2: n2,
        bitcoin_key_1: PublicKey::from_secret_key(&secp, &key(3)),
        bitcoin_key_2: PublicKey::from_secret_key(&secp, &key(4)),
        extension: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_flooding_invalid_gossip_is_disconnected_and_the_node_serves_on() {
    let mut node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    // A few invalid announcements are dropped; the connection stays.
    for i in 0..10 {
        peer.send(&Message::ChannelAnnouncement(bogus_announcement(i)))
            .await;
    }
    peer.send(&Message::Ping(Ping {
        num_pong_bytes: 2,
        ignored: vec![],
        unknown_tlvs: vec![],
    }))
    .await;
    assert!(matches!(peer.recv_non_ping().await, Some(Message::Pong(_))));
    assert_eq!(node.node.network_graph().read().unwrap().num_channels(), 0);
    // A flood past the limit (100) costs the connection.
    for i in 10..200 {
        if !peer
            .try_send(&Message::ChannelAnnouncement(bogus_announcement(i)))
            .await
        {
            break;
        }
    }
    disconnect_reason(&mut node.events, Some(peer.node_id())).await;
    peer.until_closed().await;
    assert_eq!(node.node.network_graph().read().unwrap().num_channels(), 0);
    still_serves(&node).await;
    node.stop().await;
}

/// BOLT 7 initial sync by range queries: the node asks its first peer
/// with `gossip_queries` for the channels of every block (with update
/// timestamps) and for gossip from now on only; it then asks for the
/// channels the reply lists that it lacks, and stops once
/// `reply_short_channel_ids_end` answered. A second peer is not asked for
/// ranges and gets a filter for everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_syncs_its_graph_from_its_first_peer_by_range_queries() {
    use fulmen_types::ShortChannelId;
    use fulmen_wire::{ReplyChannelRange, ReplyShortChannelIdsEnd};

    let node = start_node(None, fast_peers()).await;
    let mut peer = RawPeer::connect(node.addr(), node.id()).await;
    let (mut query, mut filter) = (None, None);
    while query.is_none() || filter.is_none() {
        match peer.recv_any().await.unwrap() {
            Message::QueryChannelRange(q) => query = Some(q),
            Message::GossipTimestampFilter(f) => filter = Some(f),
            Message::Ping(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let (query, filter) = (query.unwrap(), filter.unwrap());
    assert_eq!(query.chain_hash, chain_hash(Network::Regtest));
    assert_eq!(
        (query.first_blocknum, query.number_of_blocks),
        (0, u32::MAX)
    );
    assert_eq!(query.query_option, Some(1), "timestamps asked for");
    assert!(filter.first_timestamp > 1_700_000_000, "{filter:?}");

    let wanted = vec![ShortChannelId(700 << 40), ShortChannelId(701 << 40)];
    let reply = |first: u32, number: u32, scids: Vec<ShortChannelId>| {
        Message::ReplyChannelRange(ReplyChannelRange {
            chain_hash: query.chain_hash,
            first_blocknum: first,
            number_of_blocks: number,
            sync_complete: 1,
            short_channel_ids: scids,
            timestamps: None,
            checksums: None,
            unknown_tlvs: Vec::new(),
        })
    };
    peer.send(&reply(0, 701, vec![wanted[0]])).await;
    peer.send(&reply(701, u32::MAX - 701, vec![wanted[1]]))
        .await;
    let asked = loop {
        match peer.recv_any().await.unwrap() {
            Message::QueryShortChannelIds(q) => break q,
            Message::Ping(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(asked.short_channel_ids, wanted);
    peer.send(&Message::ReplyShortChannelIdsEnd(ReplyShortChannelIdsEnd {
        chain_hash: query.chain_hash,
        full_information: 1,
        unknown_tlvs: Vec::new(),
    }))
    .await;
    // Nothing more is asked: the next answer is the pong.
    peer.send(&Message::Ping(Ping {
        num_pong_bytes: 1,
        ignored: vec![],
        unknown_tlvs: vec![],
    }))
    .await;
    loop {
        match peer.recv_any().await.unwrap() {
            Message::Pong(_) => break,
            Message::Ping(_) => {}
            other => panic!("{other:?}"),
        }
    }

    let mut second = RawPeer::connect(node.addr(), node.id()).await;
    loop {
        match second.recv_any().await.unwrap() {
            Message::GossipTimestampFilter(f) => {
                assert_eq!(f.first_timestamp, 0);
                break;
            }
            Message::Ping(_) => {}
            other => panic!("{other:?}"),
        }
    }
    node.stop().await;
}
