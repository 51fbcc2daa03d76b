//! How a node is started: [`NodeConfig`] and its parts.

use core::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::Network;
use fulmen_chain::rpc::{Credentials, RpcChainClient, RpcClientConfig};
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
    /// disconnected (8,192: a tick may send hundreds of HTLCs at once).
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
            outbound_queue: 8192,
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
    /// Channel policy, unfunded-channel caps and invoice defaults.
    pub channels: crate::channels::ChannelsConfig,
    /// How often the node tries to reconnect to peers it has channels with
    /// (and an address for) when they are not connected (10 s; also once
    /// at start).
    pub reconnect_interval: Duration,
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
            channels: crate::channels::ChannelsConfig::default(),
            reconnect_interval: Duration::from_secs(10),
        }
    }
}

/// The longest alias (BOLT 7 `node_announcement`: 32 bytes).
pub const MAX_ALIAS_LEN: usize = 32;

/// `--bitcoind-rpc http://USER:PASS@HOST:PORT`: where a bitcoind-compatible
/// node's JSON-RPC is. User and password may be percent-encoded. `Debug`
/// hides the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitcoindUrl {
    /// `HOST:PORT`.
    pub address: String,
    /// User and password.
    pub credentials: Credentials,
}

/// Why a `--bitcoind-rpc` URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BitcoindUrlError {
    /// Not `http://USER:PASS@HOST:PORT` (only plain http is supported: keep
    /// the node local or tunnel it).
    Format,
    /// A `%` escape is malformed or the result is not UTF-8.
    Escape,
    /// `HOST:PORT` does not resolve.
    Resolve,
}

impl fmt::Display for BitcoindUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format => f.write_str("expected http://USER:PASS@HOST:PORT"),
            Self::Escape => f.write_str("bad percent escape in user or password"),
            Self::Resolve => f.write_str("the bitcoind address does not resolve"),
        }
    }
}

impl std::error::Error for BitcoindUrlError {}

fn percent_decode(s: &str) -> Result<String, BitcoindUrlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(BitcoindUrlError::Escape)?;
            let hex = core::str::from_utf8(hex).map_err(|_| BitcoindUrlError::Escape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| BitcoindUrlError::Escape)?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| BitcoindUrlError::Escape)
}

impl core::str::FromStr for BitcoindUrl {
    type Err = BitcoindUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .trim()
            .strip_prefix("http://")
            .ok_or(BitcoindUrlError::Format)?;
        let rest = rest.trim_end_matches('/');
        let (userinfo, address) = rest.rsplit_once('@').ok_or(BitcoindUrlError::Format)?;
        let (user, password) = userinfo.split_once(':').ok_or(BitcoindUrlError::Format)?;
        let (host, port) = address.rsplit_once(':').ok_or(BitcoindUrlError::Format)?;
        if host.is_empty() || port.parse::<u16>().is_err() || address.contains('/') {
            return Err(BitcoindUrlError::Format);
        }
        Ok(Self {
            address: address.to_owned(),
            credentials: Credentials::new(percent_decode(user)?, percent_decode(password)?),
        })
    }
}

impl BitcoindUrl {
    /// The JSON-RPC chain client for this node (resolves the address;
    /// connects lazily).
    pub fn chain_source(&self) -> Result<Arc<dyn ChainSource>, BitcoindUrlError> {
        use std::net::ToSocketAddrs;
        let addr = self
            .address
            .to_socket_addrs()
            .map_err(|_| BitcoindUrlError::Resolve)?
            .next()
            .ok_or(BitcoindUrlError::Resolve)?;
        let config = RpcClientConfig::new(addr, self.credentials.clone());
        Ok(Arc::new(RpcChainClient::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitcoind_urls() {
        let u: BitcoindUrl = "http://alice:s%40cret%3A@127.0.0.1:18443/".parse().unwrap();
        assert_eq!(u.address, "127.0.0.1:18443");
        assert_eq!(u.credentials, Credentials::new("alice", "s@cret:"));
        assert!(!format!("{u:?}").contains("cret"));
        let u: BitcoindUrl = "http://x:p@w@localhost:48332".parse().unwrap();
        assert_eq!(u.credentials.password, "p@w");
        assert_eq!(u.address, "localhost:48332");
        for bad in [
            "127.0.0.1:18443",
            "https://a:b@h:1",
            "http://h:1",
            "http://ab@h:1",
            "http://a:b@h",
            "http://a:b@:1",
            "http://a:b@h:99999",
            "http://a:b@h:1/wallet/x",
        ] {
            assert_eq!(
                bad.parse::<BitcoindUrl>(),
                Err(BitcoindUrlError::Format),
                "{bad}"
            );
        }
        assert_eq!(
            "http://a%zz:b@h:1".parse::<BitcoindUrl>(),
            Err(BitcoindUrlError::Escape)
        );
        assert_eq!(
            "http://a%ff:b@h:1".parse::<BitcoindUrl>(),
            Err(BitcoindUrlError::Escape)
        );
        assert!("http://a:b@127.0.0.1:1"
            .parse::<BitcoindUrl>()
            .unwrap()
            .chain_source()
            .is_ok());
    }
}
