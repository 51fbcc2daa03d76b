//! The node's error type.

use core::fmt;

use fulmen_chain::{BroadcastError, ChainError, MineError};
use fulmen_store::StoreError;
use fulmen_wallet::keys::DeriveError;
use fulmen_wallet::onchain::OnchainError;

use crate::datadir::DataDirError;
use crate::entropy::EntropyError;
use crate::peer::ConnectError;

/// Why a node operation failed. At start, every variant is fatal: the node
/// does not run.
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// The data directory (seed, cookie, address files).
    DataDir(DataDirError),
    /// Key derivation from the seed.
    Keys(DeriveError),
    /// The node's store. [`StoreError::Locked`]: another node runs on this
    /// data directory.
    Store(StoreError),
    /// The on-chain wallet (its database).
    Wallet(OnchainError),
    /// The chain source.
    Chain(ChainError),
    /// Broadcasting a transaction.
    Broadcast(BroadcastError),
    /// Mining on the embedded chain.
    Mine(MineError),
    /// No entropy.
    Entropy(EntropyError),
    /// Binding or serving a socket.
    Io(std::io::Error),
    /// Connecting to a peer.
    Connect(ConnectError),
    /// The configuration is not usable (what is wrong).
    Config(&'static str),
    /// `mine` needs the embedded chain.
    NotEmbedded,
    /// A lock was poisoned by a panicking thread: state cannot be trusted;
    /// stop the node.
    Poisoned,
    /// A background task died or the node is stopping.
    TaskFailed,
    /// A stored channel could not be resumed (what is wrong): the node does
    /// not start without it.
    Channels(String),
    /// The channel manager refused a command.
    Command(crate::channels::CmError),
    /// An invoice could not be made or read.
    Invoice(fulmen_onion::InvoiceError),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DataDir(e) => write!(f, "data directory: {e}"),
            Self::Keys(e) => write!(f, "key derivation: {e}"),
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Wallet(e) => write!(f, "wallet: {e}"),
            Self::Chain(e) => write!(f, "chain: {e}"),
            Self::Broadcast(e) => write!(f, "broadcast: {e}"),
            Self::Mine(e) => write!(f, "mining: {e}"),
            Self::Entropy(e) => write!(f, "{e}"),
            Self::Io(e) => write!(f, "{e}"),
            Self::Connect(e) => write!(f, "{e}"),
            Self::Config(what) => write!(f, "configuration: {what}"),
            Self::NotEmbedded => {
                f.write_str("mining is only available with the embedded regtest chain")
            }
            Self::Poisoned => f.write_str("internal state poisoned by a panic"),
            Self::TaskFailed => f.write_str("background task failed or node stopping"),
            Self::Channels(e) => write!(f, "channels: {e}"),
            Self::Command(e) => write!(f, "{e}"),
            Self::Invoice(e) => write!(f, "invoice: {e}"),
        }
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::DataDir(e) => Some(e),
            Self::Wallet(e) => Some(e),
            Self::Store(e) => Some(e),
            Self::Chain(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Connect(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DataDirError> for NodeError {
    fn from(e: DataDirError) -> Self {
        Self::DataDir(e)
    }
}

impl From<OnchainError> for NodeError {
    fn from(e: OnchainError) -> Self {
        Self::Wallet(e)
    }
}

impl From<ChainError> for NodeError {
    fn from(e: ChainError) -> Self {
        Self::Chain(e)
    }
}

impl From<crate::channels::CmError> for NodeError {
    fn from(e: crate::channels::CmError) -> Self {
        Self::Command(e)
    }
}

impl From<ConnectError> for NodeError {
    fn from(e: ConnectError) -> Self {
        Self::Connect(e)
    }
}
