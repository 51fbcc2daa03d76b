//! Helpers of the node's integration tests: nodes on a shared in-memory
//! chain in temporary directories, a raw BOLT 8 peer driven by hand, and
//! waiting on events with timeouts (never fixed sleeps).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::Network;
use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use fulmen_node::entropy::secret_key;
use fulmen_node::features::our_init;
use fulmen_node::{ChainConfig, Node, NodeConfig, NodeEvent, OsEntropy, PeerConfig};
use fulmen_noise::{Encryptor, InitiatorHandshake, MessageDecoder, ACT_TWO_LEN};
use fulmen_types::NodeId;
use fulmen_wire::{Init, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;

mod flow;
mod onchain;
#[allow(unused_imports)] // not every test file uses them
pub use flow::*;
#[allow(unused_imports)]
pub use onchain::*;

/// The longest any test waits for something.
pub const WAIT: Duration = Duration::from_secs(20);

/// A node and its temporary directory (removed on drop).
pub struct TestNode {
    pub node: Node,
    pub dir: tempfile::TempDir,
    pub events: broadcast::Receiver<NodeEvent>,
}

impl TestNode {
    pub fn addr(&self) -> SocketAddr {
        self.node.listen_addr().unwrap()
    }

    pub fn id(&self) -> NodeId {
        self.node.node_id()
    }

    pub async fn stop(self) {
        self.node.stop();
        tokio::time::timeout(WAIT, self.node.clone().wait_stopped())
            .await
            .expect("node stops in time");
    }

    /// Stops the node and keeps its data directory (to restart it).
    pub async fn stop_keep(self) -> tempfile::TempDir {
        self.node.stop();
        tokio::time::timeout(WAIT, self.node.clone().wait_stopped())
            .await
            .expect("node stops in time");
        self.dir
    }
}

/// Starts a node in an existing data directory.
pub async fn start_in(
    dir: tempfile::TempDir,
    config_fn: impl FnOnce(&std::path::Path) -> NodeConfig,
) -> TestNode {
    init_logs();
    let node = Node::start(config_fn(dir.path()), Arc::new(OsEntropy))
        .await
        .expect("node restarts");
    let events = node.subscribe();
    TestNode { node, dir, events }
}

/// Fast peer timers for tests.
pub fn fast_peers() -> PeerConfig {
    PeerConfig {
        ping_interval: Duration::from_millis(300),
        pong_timeout: Duration::from_secs(5),
        setup_timeout: Duration::from_secs(5),
        ..PeerConfig::default()
    }
}

/// A config on `chain` (or a fresh in-memory chain), loopback ports.
pub fn config(dir: &std::path::Path, chain: Option<EmbeddedChain>, peer: PeerConfig) -> NodeConfig {
    let mut config = NodeConfig::regtest(dir);
    config.chain = ChainConfig::Embedded(
        chain.unwrap_or_else(|| EmbeddedChain::in_memory(EmbeddedConfig::default())),
    );
    config.peer = peer;
    config.chain_poll_interval = Duration::from_millis(100);
    config
}

/// Logs to the test's output when `RUST_LOG` is set (once per process).
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

pub async fn start_with(config_fn: impl FnOnce(&std::path::Path) -> NodeConfig) -> TestNode {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(config_fn(dir.path()), Arc::new(OsEntropy))
        .await
        .expect("node starts");
    let events = node.subscribe();
    TestNode { node, dir, events }
}

pub async fn start_node(chain: Option<EmbeddedChain>, peer: PeerConfig) -> TestNode {
    start_with(|dir| config(dir, chain, peer)).await
}

/// Waits for the first event matching `pred`.
pub async fn wait_event<T>(
    events: &mut broadcast::Receiver<NodeEvent>,
    mut pred: impl FnMut(&NodeEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(e) => {
                    if let Some(t) = pred(&e) {
                        return t;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await
    .expect("event in time")
}

/// A peer speaking BOLT 8 by hand.
pub struct RawPeer {
    pub key: SecretKey,
    pub stream: TcpStream,
    pub encryptor: Encryptor,
    pub decoder: MessageDecoder,
}

impl RawPeer {
    /// Connects and completes the handshake only.
    pub async fn handshake(addr: SocketAddr, node: NodeId) -> Self {
        Self::handshake_with(addr, node, secret_key(&OsEntropy).unwrap()).await
    }

    pub async fn handshake_with(addr: SocketAddr, node: NodeId, key: SecretKey) -> Self {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let ephemeral = secret_key(&OsEntropy).unwrap();
        let (hs, act_one) = InitiatorHandshake::new(key, node.to_pubkey().unwrap(), ephemeral);
        stream.write_all(&act_one).await.unwrap();
        let mut act_two = [0u8; ACT_TWO_LEN];
        stream.read_exact(&mut act_two).await.unwrap();
        let (act_three, transport) = hs.process_act_two(&act_two).unwrap();
        stream.write_all(&act_three).await.unwrap();
        let (encryptor, decryptor) = transport.split();
        Self {
            key,
            stream,
            encryptor,
            decoder: MessageDecoder::new(decryptor),
        }
    }

    /// Handshake, then `init` both ways (ours is a Fulmen `init`).
    pub async fn connect(addr: SocketAddr, node: NodeId) -> Self {
        let mut peer = Self::handshake(addr, node).await;
        let theirs = peer.recv().await.expect("node sends init");
        assert!(matches!(theirs, Message::Init(_)), "{theirs:?}");
        peer.send(&Message::Init(our_init(Network::Regtest, None)))
            .await;
        peer
    }

    pub fn node_id(&self) -> NodeId {
        NodeId::from_pubkey(&PublicKey::from_secret_key(&Secp256k1::new(), &self.key))
    }

    pub async fn send_raw(&mut self, plain: &[u8]) {
        let wire = self.encryptor.encrypt(plain).unwrap();
        self.stream.write_all(&wire).await.unwrap();
    }

    pub async fn send(&mut self, msg: &Message) {
        self.send_raw(&msg.encode().unwrap()).await;
    }

    /// Sends `msg`; `false` once the node has closed the connection.
    pub async fn try_send(&mut self, msg: &Message) -> bool {
        let wire = self.encryptor.encrypt(&msg.encode().unwrap()).unwrap();
        self.stream.write_all(&wire).await.is_ok()
    }

    pub async fn send_init(&mut self, init: Init) {
        self.send(&Message::Init(init)).await;
    }

    /// The next message that is not gossip (the node asks every peer that
    /// supports `gossip_queries` for gossip right after `init`, and its
    /// first such peer for the channels it has by range queries; these
    /// tests look at other things), or `None` once the node closed the
    /// connection.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            match self.recv_any().await? {
                Message::GossipTimestampFilter(_)
                | Message::QueryChannelRange(_)
                | Message::QueryShortChannelIds(_)
                | Message::ChannelAnnouncement(_)
                | Message::ChannelUpdate(_)
                | Message::NodeAnnouncement(_) => continue,
                other => return Some(other),
            }
        }
    }

    /// The next message, gossip included.
    pub async fn recv_any(&mut self) -> Option<Message> {
        let mut buf = vec![0u8; 65536];
        loop {
            if let Some(bytes) = self.decoder.next_message().unwrap() {
                return Some(Message::decode(&bytes).unwrap());
            }
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("node answers or closes in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.decoder.feed(&buf[..n]);
        }
    }

    /// The next message that is not a `ping` (pings are not answered).
    pub async fn recv_non_ping(&mut self) -> Option<Message> {
        loop {
            match self.recv().await? {
                Message::Ping(_) => continue,
                other => return Some(other),
            }
        }
    }

    /// Reads until the node closes the connection; returns what it sent.
    pub async fn until_closed(&mut self) -> Vec<Message> {
        let mut seen = Vec::new();
        while let Some(m) = self.recv().await {
            seen.push(m);
        }
        seen
    }
}

/// The reason of the next disconnection of `peer` reported by the node.
pub async fn disconnect_reason(
    events: &mut broadcast::Receiver<NodeEvent>,
    peer: Option<NodeId>,
) -> fulmen_node::DisconnectReason {
    wait_event(events, |e| match e {
        NodeEvent::PeerDisconnected {
            node_id, reason, ..
        } if peer.is_none() || *node_id == peer => Some(reason.clone()),
        _ => None,
    })
    .await
}
