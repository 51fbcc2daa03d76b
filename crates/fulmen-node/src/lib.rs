//! The Fulmen node runtime: peer connections (BOLT 8 transport, BOLT 1
//! `init`, ping/pong), the channel manager thread (BOLT 2 channels,
//! payments over direct channels, invoices, keysend), the chain follower
//! that keeps the on-chain wallet and the channels on the chain, and the
//! JSON-RPC server the `fulmen` command line talks to.
//!
//! This crate does I/O (tokio sockets, SQLite, the chain source); the
//! protocol logic lives in the sans-IO crates it drives (`fulmen-noise`,
//! `fulmen-wire`, `fulmen-channel`, `fulmen-onion`).
//!
//! # Driving it
//!
//! ```no_run
//! use std::sync::Arc;
//! use fulmen_node::{Node, NodeConfig, OsEntropy};
//!
//! # async fn run() -> Result<(), fulmen_node::NodeError> {
//! // A regtest node on its own embedded chain, peers and RPC on free ports.
//! let node = Node::start(NodeConfig::regtest("/tmp/fulmen-a"), Arc::new(OsEntropy)).await?;
//! println!("{} listening on {:?}", node.node_id(), node.listen_addr());
//! node.mine(101, None).await?; // regtest only
//! println!("{:?}", node.wallet_balance().await?);
//! // With a peer connected (`node.connect`): open, wait for
//! // `NodeEvent::ChannelReady` (mine 3 blocks), then pay its invoices:
//! // node.open_channel(peer, Sat(1_000_000), Msat(0), false).await?;
//! // node.pay_invoice(&bolt11, None).await?;
//! node.stop();
//! node.wait_stopped().await;
//! # Ok(()) }
//! ```
//!
//! # Tasks
//!
//! | task | module | does |
//! | --- | --- | --- |
//! | listener + one task per connection | [`peer`] | handshake, `init`, ping/pong, hands BOLT 2 messages to the channel manager |
//! | channel manager (a thread) | [`channels`] | owns every channel; per tick: handle inputs, sign once per channel, commit all changed states and records at once, then send |
//! | chain follower | [`chain::follower`] | blocks → wallet and channel manager, reorgs included |
//! | gossip (a thread) | [`gossip`] | BOLT 7: validates and relays announcements, keeps the network graph payments route on |
//! | RPC server | [`rpc`] | JSON-RPC over HTTP with cookie auth |
//!
//! [`Node::stop`] stops them all; [`Node::wait_stopped`] waits for each.
//! What the node reports as it runs comes as [`NodeEvent`]s
//! ([`Node::subscribe`]). Channel and payment operations are in [`api`].
//!
//! # Data directory
//!
//! See [`datadir`]: the `seed` file (mode 0600) holds the BIP39 mnemonic
//! every key comes from; it is created at the first start from the
//! [`EntropySource`] given to [`Node::start`], and never logged.
//!
//! # Features
//!
//! See [`features`] for the BOLT 9 feature bits Fulmen sets and checks.

#![forbid(unsafe_code)]

pub mod api;
pub mod chain;
pub mod channels;
pub mod config;
pub mod datadir;
pub mod entropy;
pub mod error;
pub mod events;
pub mod features;
pub mod gossip;
pub mod node;
pub mod peer;
mod reconnect;
pub mod rpc;
mod tasks;

pub use api::CreatedInvoice;
pub use channels::{
    ChannelInfo, ChannelsConfig, CmError, ForwardingPolicy, OnchainInfo, OpenedChannel, PayRequest,
    PaymentOutcome, PaymentStatusKind, PendingClaim,
};
pub use config::{BitcoindUrl, ChainConfig, NodeConfig, PeerConfig};
pub use datadir::DataDir;
pub use entropy::{EntropyError, EntropySource, OsEntropy};
pub use error::NodeError;
pub use events::{DisconnectReason, NodeEvent};
pub use node::{Node, NodeInfo};
pub use peer::{ConnectTarget, PeerInfo};
pub use rpc::client::{ClientError, RpcClient};
