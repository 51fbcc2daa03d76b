//! Peer connections: the listener, outbound connects, and one task per
//! connection running the BOLT 8 transport, the `init` exchange and the
//! BOLT 1 control messages.
//!
//! # One connection
//!
//! 1. TCP accepted (within the `max_inbound` limit) or connected.
//! 2. BOLT 8 handshake with a fresh ephemeral key from the node's entropy
//!    source, then our `init` and the peer's, checked by
//!    [`crate::features::check_peer_init`]; all within `setup_timeout`.
//! 3. The peer is registered (a newer connection from the same node
//!    replaces the older one) and the channel manager is told.
//! 4. A writer task drains the peer's bounded outbound queue through the
//!    [`fulmen_noise::Encryptor`]; the reader feeds a
//!    [`fulmen_noise::MessageDecoder`] and handles each message (see
//!    `session`). A full queue means a peer that does not read: it is
//!    disconnected rather than buffered without bound.
//!
//! Message sizes are bounded by the transport (65535 bytes after an
//! authenticated length); nothing a peer sends can make the node panic.

mod handshake;
pub mod liveness;
mod session;

use core::fmt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{PublicKey, SecretKey};
use bitcoin::Network;
use fulmen_noise::{Encryptor, MessageDecoder};
use fulmen_types::{Features, NodeId};
use fulmen_wire::Message;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

use crate::channels::{CmInput, Outbox};
use crate::config::PeerConfig;
use crate::entropy::{self, EntropySource};
use crate::events::{DisconnectReason, NodeEvent};
use crate::features::{check_peer_init, our_init, InitError};
use crate::tasks::TaskTracker;

/// A connected peer, as `listpeers` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's node id.
    pub node_id: NodeId,
    /// Its address.
    pub addr: SocketAddr,
    /// Whether it connected to us.
    pub inbound: bool,
    /// Its combined `init` features.
    pub features: Features,
    /// How long it has been connected.
    pub connected_for: Duration,
    /// The round trip of the last answered ping, if any.
    pub last_round_trip: Option<Duration>,
}

/// `PUBKEY@HOST:PORT`, the target of `connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTarget {
    /// The peer's node id.
    pub node_id: NodeId,
    /// `HOST:PORT` (a name is resolved when connecting).
    pub address: String,
}

/// Why `PUBKEY@HOST:PORT` could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseTargetError {
    /// No `@`.
    MissingAt,
    /// The part before `@` is not a public key.
    BadNodeId,
    /// The part after `@` is not `HOST:PORT`.
    BadAddress,
}

impl fmt::Display for ParseTargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingAt => f.write_str("expected PUBKEY@HOST:PORT"),
            Self::BadNodeId => f.write_str("the node id is not a valid public key"),
            Self::BadAddress => f.write_str("expected HOST:PORT after @"),
        }
    }
}

impl std::error::Error for ParseTargetError {}

impl FromStr for ConnectTarget {
    type Err = ParseTargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, address) = s
            .trim()
            .split_once('@')
            .ok_or(ParseTargetError::MissingAt)?;
        let node_id = NodeId::from_str(id).map_err(|_| ParseTargetError::BadNodeId)?;
        let (host, port) = address
            .rsplit_once(':')
            .ok_or(ParseTargetError::BadAddress)?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(ParseTargetError::BadAddress);
        }
        Ok(Self {
            node_id,
            address: address.to_owned(),
        })
    }
}

/// Why `connect` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// The target is this node.
    SelfConnect,
    /// The address did not resolve.
    Resolve(String),
    /// The TCP connection failed or timed out.
    Tcp(String),
    /// The connection was set up but then ended (handshake, `init`).
    Failed(DisconnectReason),
    /// The node is stopping.
    Shutdown,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SelfConnect => f.write_str("cannot connect to ourselves"),
            Self::Resolve(e) => write!(f, "cannot resolve address: {e}"),
            Self::Tcp(e) => write!(f, "cannot connect: {e}"),
            Self::Failed(r) => write!(f, "connection failed: {r}"),
            Self::Shutdown => f.write_str("node stopping"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Which side opened the connection.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Inbound,
    Outbound(PublicKey),
}

struct PeerEntry {
    conn_id: u64,
    addr: SocketAddr,
    inbound: bool,
    features: Features,
    since: Instant,
    queue: mpsc::Sender<Message>,
    kill: Option<oneshot::Sender<DisconnectReason>>,
    stats: Arc<Mutex<PeerStats>>,
}

#[derive(Debug, Default)]
pub(crate) struct PeerStats {
    pub(crate) last_round_trip: Option<Duration>,
}

pub(crate) struct Shared {
    node_secret: SecretKey,
    node_id: NodeId,
    network: Network,
    chain: ChainHash,
    pub(crate) config: PeerConfig,
    entropy: Arc<dyn EntropySource>,
    peers: Mutex<HashMap<NodeId, PeerEntry>>,
    inbound_slots: Arc<Semaphore>,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) to_cm: mpsc::Sender<CmInput>,
    /// Where gossip messages go.
    pub(crate) gossip: crate::gossip::GossipHandle,
    pub(crate) shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
    next_conn: AtomicU64,
    /// Outbound connects in progress, by peer: a second `connect` to the
    /// same peer waits for the first instead of racing it (a new connection
    /// would replace the first and restart channel reestablishment).
    connecting: Mutex<HashMap<NodeId, ConnectWaiter>>,
}

/// Where a second `connect` learns how the first one ended.
type ConnectWaiter = watch::Receiver<Option<Result<(), ConnectError>>>;

/// The node's peers: a cheap handle shared by the listener, the connection
/// tasks, the channel manager (as its [`Outbox`]) and the RPC.
#[derive(Clone)]
pub struct PeerManager {
    shared: Arc<Shared>,
}

impl fmt::Debug for PeerManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerManager")
            .field("node_id", &self.shared.node_id)
            .finish_non_exhaustive()
    }
}

/// What [`PeerManager::new`] needs.
pub(crate) struct PeerManagerParts {
    pub(crate) node_secret: SecretKey,
    pub(crate) network: Network,
    pub(crate) config: PeerConfig,
    pub(crate) entropy: Arc<dyn EntropySource>,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) to_cm: mpsc::Sender<CmInput>,
    pub(crate) gossip: crate::gossip::GossipHandle,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) tasks: TaskTracker,
}

impl PeerManager {
    pub(crate) fn new(parts: PeerManagerParts) -> Self {
        let secp = bitcoin::secp256k1::Secp256k1::signing_only();
        let node_id = NodeId::from_pubkey(&PublicKey::from_secret_key(&secp, &parts.node_secret));
        Self {
            shared: Arc::new(Shared {
                node_secret: parts.node_secret,
                node_id,
                network: parts.network,
                chain: crate::features::chain_hash(parts.network),
                inbound_slots: Arc::new(Semaphore::new(parts.config.max_inbound)),
                config: parts.config,
                entropy: parts.entropy,
                peers: Mutex::new(HashMap::new()),
                events: parts.events,
                to_cm: parts.to_cm,
                gossip: parts.gossip,
                shutdown: parts.shutdown,
                tasks: parts.tasks,
                next_conn: AtomicU64::new(0),
                connecting: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn peers(&self) -> MutexGuard<'_, HashMap<NodeId, PeerEntry>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every update is a single insert or remove), so keep going.
        self.shared
            .peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The connected peers.
    pub fn list(&self) -> Vec<PeerInfo> {
        let mut list: Vec<PeerInfo> = self
            .peers()
            .iter()
            .map(|(id, e)| PeerInfo {
                node_id: *id,
                addr: e.addr,
                inbound: e.inbound,
                features: e.features.clone(),
                connected_for: e.since.elapsed(),
                last_round_trip: e.stats.lock().map(|s| s.last_round_trip).unwrap_or(None),
            })
            .collect();
        list.sort_by_key(|p| p.node_id);
        list
    }

    /// How many peers are connected.
    pub fn count(&self) -> usize {
        self.peers().len()
    }

    /// Whether `node_id` is connected.
    pub fn is_connected(&self, node_id: &NodeId) -> bool {
        self.peers().contains_key(node_id)
    }

    /// Closes the connection to `node_id`, if any.
    pub fn disconnect(&self, node_id: &NodeId, reason: DisconnectReason) -> bool {
        let kill = self.peers().get_mut(node_id).and_then(|e| e.kill.take());
        match kill {
            Some(k) => {
                let _ = k.send(reason);
                true
            }
            None => false,
        }
    }

    /// Accepts inbound connections on `listener` until the node stops.
    pub(crate) fn spawn_listener(&self, listener: TcpListener) {
        let this = self.clone();
        self.shared.tasks.spawn(async move {
            let mut shutdown = this.shared.shutdown.clone();
            loop {
                tokio::select! {
                    () = crate::tasks::stopped(&mut shutdown) => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, addr)) => this.on_accept(stream, addr),
                        Err(e) => {
                            // E.g. out of file descriptors: back off briefly.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    },
                }
            }
        });
    }

    fn on_accept(&self, stream: TcpStream, addr: SocketAddr) {
        match self.shared.inbound_slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let this = self.clone();
                self.shared.tasks.spawn(async move {
                    this.run_connection(stream, addr, Direction::Inbound, None, Some(permit))
                        .await;
                });
            }
            Err(_) => {
                tracing::debug!(%addr, "inbound connection refused: too many");
                drop(stream);
                let _ = self.shared.events.send(NodeEvent::PeerDisconnected {
                    node_id: None,
                    addr,
                    reason: DisconnectReason::TooManyConnections,
                });
            }
        }
    }

    /// Connects to `target` and returns once the `init` exchange is done
    /// (at once if the peer is already connected).
    pub async fn connect(&self, target: &ConnectTarget) -> Result<(), ConnectError> {
        if target.node_id == self.shared.node_id {
            return Err(ConnectError::SelfConnect);
        }
        if self.is_connected(&target.node_id) {
            return Ok(());
        }
        if *self.shared.shutdown.borrow() {
            return Err(ConnectError::Shutdown);
        }
        let (done_tx, existing) = {
            let mut connecting = self
                .shared
                .connecting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match connecting.get(&target.node_id) {
                Some(rx) => (None, Some(rx.clone())),
                None => {
                    let (tx, rx) = watch::channel(None);
                    connecting.insert(target.node_id, rx);
                    (Some(tx), None)
                }
            }
        };
        if let Some(mut rx) = existing {
            return match rx.wait_for(Option::is_some).await {
                Ok(result) => result.clone().unwrap_or(Err(ConnectError::Shutdown)),
                Err(_) => Err(ConnectError::Shutdown),
            };
        }
        let result = self.connect_new(target).await;
        self.shared
            .connecting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&target.node_id);
        if let Some(tx) = done_tx {
            let _ = tx.send(Some(result.clone()));
        }
        result
    }

    async fn connect_new(&self, target: &ConnectTarget) -> Result<(), ConnectError> {
        let pubkey = target
            .node_id
            .to_pubkey()
            .map_err(|e| ConnectError::Resolve(e.to_string()))?;
        let timeout = self.shared.config.connect_timeout;
        let addr = tokio::time::timeout(timeout, tokio::net::lookup_host(target.address.as_str()))
            .await
            .map_err(|_| ConnectError::Resolve("timed out".into()))?
            .map_err(|e| ConnectError::Resolve(e.to_string()))?
            .next()
            .ok_or_else(|| ConnectError::Resolve("no address".into()))?;
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ConnectError::Tcp("timed out".into()))?
            .map_err(|e| ConnectError::Tcp(e.to_string()))?;
        let (ready_tx, ready_rx) = oneshot::channel();
        let this = self.clone();
        self.shared.tasks.spawn(async move {
            this.run_connection(
                stream,
                addr,
                Direction::Outbound(pubkey),
                Some(ready_tx),
                None,
            )
            .await;
        });
        match ready_rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(ConnectError::Failed(reason)),
            Err(_) => Err(ConnectError::Shutdown),
        }
    }

    fn emit(&self, event: NodeEvent) {
        let _ = self.shared.events.send(event);
    }

    /// One connection, from TCP to close.
    async fn run_connection(
        self,
        mut stream: TcpStream,
        addr: SocketAddr,
        direction: Direction,
        ready: Option<oneshot::Sender<Result<(), DisconnectReason>>>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let _ = stream.set_nodelay(true);
        let timeout = self.shared.config.setup_timeout;
        let mut shutdown = self.shared.shutdown.clone();
        let setup = tokio::select! {
            () = crate::tasks::stopped(&mut shutdown) => Err((None, DisconnectReason::Shutdown)),
            r = tokio::time::timeout(timeout, self.setup(&mut stream, addr, direction)) => {
                r.unwrap_or_else(|_| {
                    let known = match direction {
                        Direction::Outbound(pk) => Some(NodeId::from_pubkey(&pk)),
                        Direction::Inbound => None,
                    };
                    Err((known, DisconnectReason::SetupTimeout))
                })
            }
        };
        let (node_id, features, encryptor, decoder) = match setup {
            Ok(done) => done,
            Err((node_id, reason)) => {
                tracing::debug!(%addr, peer = ?node_id, %reason, "connection setup failed");
                if let Some(ready) = ready {
                    let _ = ready.send(Err(reason.clone()));
                }
                // Free the inbound slot before anyone hears of the close.
                drop(permit);
                self.emit(NodeEvent::PeerDisconnected {
                    node_id,
                    addr,
                    reason,
                });
                return;
            }
        };
        let inbound = matches!(direction, Direction::Inbound);
        let conn_id = self.shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let (queue_tx, queue_rx) = mpsc::channel(self.shared.config.outbound_queue.max(1));
        let (kill_tx, kill_rx) = oneshot::channel();
        let stats = Arc::new(Mutex::new(PeerStats::default()));
        let replaced = self.peers().insert(
            node_id,
            PeerEntry {
                conn_id,
                addr,
                inbound,
                features: features.clone(),
                since: Instant::now(),
                queue: queue_tx.clone(),
                kill: Some(kill_tx),
                stats: stats.clone(),
            },
        );
        if let Some(mut old) = replaced {
            if let Some(kill) = old.kill.take() {
                let _ = kill.send(DisconnectReason::Replaced);
            }
        }
        tracing::info!(peer = %node_id, %addr, inbound, "peer connected");
        let _ = self
            .shared
            .to_cm
            .send(CmInput::PeerConnected {
                node_id,
                features: features.clone(),
                conn: conn_id,
            })
            .await;
        self.emit(NodeEvent::PeerConnected {
            node_id,
            addr,
            inbound,
        });
        if let Some(ready) = ready {
            let _ = ready.send(Ok(()));
        }

        let reason = session::run(session::SessionParts {
            shared: self.shared.clone(),
            node_id,
            conn_id,
            stream,
            encryptor,
            decoder,
            queue_tx,
            queue_rx,
            kill_rx,
            stats,
            deregister: {
                let this = self.clone();
                Box::new(move || this.deregister(&node_id, conn_id))
            },
        })
        .await;

        tracing::info!(peer = %node_id, %addr, %reason, "peer disconnected");
        drop(permit);
        self.emit(NodeEvent::PeerDisconnected {
            node_id: Some(node_id),
            addr,
            reason,
        });
    }

    /// Removes the entry of connection `conn_id` (not a newer one's);
    /// whether it was there (then the channel manager must be told).
    fn deregister(&self, node_id: &NodeId, conn_id: u64) -> bool {
        let mut peers = self.peers();
        match peers.get(node_id) {
            Some(e) if e.conn_id == conn_id => peers.remove(node_id).is_some(),
            _ => false,
        }
    }

    /// Handshake and `init` exchange.
    async fn setup(
        &self,
        stream: &mut TcpStream,
        addr: SocketAddr,
        direction: Direction,
    ) -> Result<(NodeId, Features, Encryptor, MessageDecoder), (Option<NodeId>, DisconnectReason)>
    {
        let ephemeral = entropy::secret_key(self.shared.entropy.as_ref())
            .map_err(|_| (None, DisconnectReason::Entropy))?;
        let local = self.shared.node_secret;
        let (remote, mut encryptor, decryptor) = match direction {
            Direction::Outbound(remote) => {
                let known = Some(NodeId::from_pubkey(&remote));
                let (e, d) = handshake::initiator(stream, local, remote, ephemeral)
                    .await
                    .map_err(|r| (known, r))?;
                (remote, e, d)
            }
            Direction::Inbound => handshake::responder(stream, local, ephemeral)
                .await
                .map_err(|r| (None, r))?,
        };
        let node_id = NodeId::from_pubkey(&remote);
        let fail = |r| (Some(node_id), r);
        let mut decoder = MessageDecoder::new(decryptor);
        let inbound_from = matches!(direction, Direction::Inbound).then_some(addr);
        let init = Message::Init(our_init(self.shared.network, inbound_from));
        handshake::send_message(stream, &mut encryptor, &init)
            .await
            .map_err(fail)?;
        let first = handshake::read_message(stream, &mut decoder)
            .await
            .map_err(fail)?;
        let checked = match Message::decode(&first) {
            Ok(Message::Init(init)) => check_peer_init(&init, self.shared.chain),
            Ok(other) => Err(InitError::NotInit(other.msg_type())),
            Err(e) => return Err(fail(DisconnectReason::Wire(e))),
        };
        match checked {
            Ok(features) => Ok((node_id, features, encryptor, decoder)),
            Err(e) => {
                let warning = handshake::connection_warning(&e.to_string());
                let _ = handshake::send_message(stream, &mut encryptor, &warning).await;
                Err(fail(DisconnectReason::Init(e)))
            }
        }
    }
}

impl Outbox for PeerManager {
    fn send(&self, node_id: &NodeId, msg: Message) -> bool {
        let mut peers = self.peers();
        let Some(entry) = peers.get_mut(node_id) else {
            return false;
        };
        match entry.queue.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if let Some(kill) = entry.kill.take() {
                    let _ = kill.send(DisconnectReason::SlowPeer);
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn disconnect(&self, node_id: &NodeId) {
        PeerManager::disconnect(self, node_id, DisconnectReason::ChannelWarning);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_targets() {
        let id = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";
        let t: ConnectTarget = format!("{id}@127.0.0.1:9735").parse().unwrap();
        assert_eq!(t.node_id.to_string(), id);
        assert_eq!(t.address, "127.0.0.1:9735");
        let t: ConnectTarget = format!("{id}@[::1]:9735").parse().unwrap();
        assert_eq!(t.address, "[::1]:9735");
        let t: ConnectTarget = format!("{id}@example.com:1").parse().unwrap();
        assert_eq!(t.address, "example.com:1");
        assert_eq!(
            "127.0.0.1:9735".parse::<ConnectTarget>(),
            Err(ParseTargetError::MissingAt)
        );
        assert_eq!(
            "02aa@127.0.0.1:9735".parse::<ConnectTarget>(),
            Err(ParseTargetError::BadNodeId)
        );
        for bad in ["", "host", ":9735", "host:port", "host:70000"] {
            assert_eq!(
                format!("{id}@{bad}").parse::<ConnectTarget>(),
                Err(ParseTargetError::BadAddress),
                "{bad}"
            );
        }
    }
}
