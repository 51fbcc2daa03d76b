//! How a node is started: [`NodeConfig`] and its parts.

use core::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::Network;
use fulmen_chain::{ChainSource, EmbeddedChain};

/// Where the node's chain comes from.
#[derive(Clone)]
#[non_exhaustive]
pub enum ChainConfig {
    /// An embedded regtest chain stored in the datadir's `chain/` (regtest
    /// only). `mine` is available.
    EmbeddedInDatadir,
    /// An embedded chain the caller made, e.g. one in-memory chain shared by
    /// several nodes of a test. `mine` is available.
    Embedded(EmbeddedChain),
    /// Any other chain source (e.g. the bitcoind JSON-RPC client). `mine` is
    /// not available.
    External(Arc<dyn ChainSource>),
}

impl fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmbeddedInDatadir => f.write_str("EmbeddedInDatadir"),
            Self::Embedded(_) => f.write_str("Embedded(..)"),
            Self::External(_) => f.write_str("External(..)"),
        }
    }
}

/// Limits and timers of peer connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerConfig {
    /// Send a `ping` when nothing was received for this long (30 s).
    pub ping_interval: Duration,
    /// Close the connection if the `pong` does not come within this time
    /// (30 s).
    pub pong_timeout: Duration,
    /// Time allowed for the BOLT 8 handshake plus the `init` exchange (10 s).
    pub setup_timeout: Duration,
    /// Time allowed to open an outbound TCP connection (10 s).
    pub connect_timeout: Duration,
    /// Most inbound connections at once, handshaking ones included (64).
    pub max_inbound: usize,
    /// Messages queued for one peer before it counts as too slow and is
    /// disconnected (1,024).
    pub outbound_queue: usize,
    /// Most `ping`s answered per `ping_interval`; more are ignored (flood
    /// guard; 10).
    pub max_pings_per_interval: u32,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(30),
            setup_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_inbound: 64,
            outbound_queue: 1024,
            max_pings_per_interval: 10,
        }
    }
}

/// Everything [`crate::Node::start`] needs besides entropy.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The data directory (created if missing; see [`crate::datadir`]).
    pub datadir: PathBuf,
    /// The Bitcoin network.
    pub network: Network,
    /// The chain source.
    pub chain: ChainConfig,
    /// Where to accept peer connections (`None`: outbound only). Port 0
    /// picks a free port; [`crate::Node::listen_addr`] tells which.
    pub listen: Option<SocketAddr>,
    /// Where to serve the JSON-RPC (`None`: no RPC server). Port 0 picks a
    /// free port; the address is written to `rpc.address` in the datadir.
    pub rpc_listen: Option<SocketAddr>,
    /// The node's alias (at most 32 bytes, as in `node_announcement`).
    pub alias: String,
    /// Peer limits and timers.
    pub peer: PeerConfig,
    /// How often the chain follower polls the chain source when idle (1 s).
    pub chain_poll_interval: Duration,
}

impl NodeConfig {
    /// A regtest node on the embedded chain in `datadir`, listening for
    /// peers and RPC on free loopback ports.
    pub fn regtest(datadir: impl Into<PathBuf>) -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            datadir: datadir.into(),
            network: Network::Regtest,
            chain: ChainConfig::EmbeddedInDatadir,
            listen: Some(loopback),
            rpc_listen: Some(loopback),
            alias: String::from("fulmen"),
            peer: PeerConfig::default(),
            chain_poll_interval: Duration::from_secs(1),
        }
    }
}

/// The longest alias (BOLT 7 `node_announcement`: 32 bytes).
pub const MAX_ALIAS_LEN: usize = 32;
