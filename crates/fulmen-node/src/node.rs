//! [`Node`]: starting, using and stopping a node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::address::NetworkUnchecked;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Address, BlockHash, FeeRate, Network, Txid};
use fulmen_chain::{BlockRef, EmbeddedChain, EmbeddedConfig};
use fulmen_types::{NodeId, Sat};
use fulmen_wallet::keys::{KeyTree, NodeKeys};
use fulmen_wallet::onchain::{Balance, BlockRef as WalletBlockRef, CoinPolicy, OnchainWallet};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot, watch, Notify};

use crate::chain::follower::{wallet_tip, Follower};
use crate::chain::{unix_now, ChainBackend, ChainBroadcaster, WalletHandle};
use crate::channels::{ChannelManager, CmCommand, CmInput, CmServices, StorePersister};
use crate::config::{ChainConfig, NodeConfig, MAX_ALIAS_LEN};
use crate::datadir::DataDir;
use crate::entropy::{random_bytes, EntropySource};
use crate::error::NodeError;
use crate::events::NodeEvent;
use crate::peer::{ConnectTarget, PeerInfo, PeerManager, PeerManagerParts};
use crate::tasks::TaskTracker;

/// Most blocks one `mine` call may ask for.
pub const MAX_MINE_BLOCKS: u32 = 10_000;

/// How long `mine` waits for the follower to apply the mined blocks.
const MINE_SYNC_TIMEOUT: Duration = Duration::from_secs(120);

/// Queue length of the channel manager's inputs.
const CM_QUEUE: usize = 1024;
/// Gossip inputs queued before more are dropped (flood guard).
const GOSSIP_QUEUE: usize = 16_384;

/// What `getinfo` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node id.
    pub node_id: NodeId,
    /// The alias.
    pub alias: String,
    /// Connected peers.
    pub num_peers: usize,
    /// Channels.
    pub num_channels: usize,
    /// Height of the chain the node has applied.
    pub block_height: u32,
    /// The network.
    pub network: Network,
    /// Fulmen's version.
    pub version: &'static str,
    /// Where the node accepts peers.
    pub listen: Option<SocketAddr>,
    /// The feerate the node uses for new commitments and on-chain
    /// claims (the chain's estimate, at least 253), sat/kw.
    pub feerate_per_kw: u32,
}

pub(crate) struct NodeInner {
    pub(crate) node_id: NodeId,
    pub(crate) alias: String,
    pub(crate) network: Network,
    pub(crate) datadir: DataDir,
    /// Signs invoices.
    pub(crate) node_keys: NodeKeys,
    /// Derives channel keys (a copy lives in the channel manager).
    #[allow(dead_code)]
    pub(crate) key_tree: KeyTree,
    /// Channel policy and invoice defaults.
    pub(crate) channels_config: crate::channels::ChannelsConfig,
    pub(crate) entropy: Arc<dyn EntropySource>,
    pub(crate) wallet: WalletHandle,
    pub(crate) chain: ChainBackend,
    pub(crate) broadcaster: ChainBroadcaster,
    pub(crate) gossip: crate::gossip::GossipHandle,
    pub(crate) peers: PeerManager,
    pub(crate) to_cm: mpsc::Sender<CmInput>,
    pub(crate) synced: watch::Receiver<BlockRef>,
    pub(crate) poke: Arc<Notify>,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) tasks: TaskTracker,
    pub(crate) listen_addr: Option<SocketAddr>,
    pub(crate) rpc_addr: Option<SocketAddr>,
}

/// A running node: a cheap handle (clones share the node).
///
/// Start it with [`Node::start`], stop it with [`Node::stop`] and wait for
/// every task to finish with [`Node::wait_stopped`].
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

impl core::fmt::Debug for Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("node_id", &self.inner.node_id)
            .field("network", &self.inner.network)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts a node: loads (or creates, from `entropy`) the seed in the
    /// data directory, opens the chain and the wallet, and starts the
    /// channel manager, the peer listener, the chain follower and the RPC
    /// server. Must be called inside a tokio runtime.
    pub async fn start(
        config: NodeConfig,
        entropy: Arc<dyn EntropySource>,
    ) -> Result<Node, NodeError> {
        if config.alias.len() > MAX_ALIAS_LEN {
            return Err(NodeError::Config("alias longer than 32 bytes"));
        }
        let network = config.network;
        // Blind the signing context before anything signs (a no-op when
        // another node of this process did it first).
        let blinding =
            crate::entropy::random_bytes::<32>(entropy.as_ref()).map_err(NodeError::Entropy)?;
        if !fulmen_types::ec::blind(&blinding) {
            tracing::debug!("signing context already in use: not blinded again");
        }
        let datadir = DataDir::create(&config.datadir)?;
        // First: the store's exclusive lock makes sure no other node runs on
        // this directory before anything in it is touched.
        let store = {
            let path = datadir.store_path();
            blocking(move || fulmen_store::Store::open(path).map_err(NodeError::Store)).await?
        };
        let (key_tree, node_keys, fresh) = {
            let datadir = datadir.clone();
            let entropy = entropy.clone();
            blocking(move || {
                let (mnemonic, fresh) = datadir.load_or_create_seed(entropy.as_ref())?;
                let secp = Secp256k1::new();
                let seed = mnemonic.to_seed("");
                let tree = KeyTree::new(&secp, &seed, network).map_err(NodeError::Keys)?;
                let keys = tree.node_keys(&secp).map_err(NodeError::Keys)?;
                Ok((tree, keys, fresh))
            })
            .await?
        };
        let node_id = node_keys.node_id();
        if fresh {
            tracing::info!(%node_id, path = %datadir.seed_path().display(), "new node: seed written; back it up");
        }

        let chain = open_chain(config.chain.clone(), network, &datadir).await?;
        let wallet = {
            let tree = key_tree.clone();
            let path = datadir.wallet_path();
            let source = chain.source.clone();
            blocking(move || {
                let mut wallet = OnchainWallet::open(&tree, network, path)?;
                if fresh {
                    set_birthday(&mut wallet, source.as_ref())?;
                }
                Ok(WalletHandle::new(wallet))
            })
            .await?
        };
        let start_tip = wallet.with(|w| wallet_tip(w)).await?;

        let (events, _) = broadcast::channel(1024);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let tasks = TaskTracker::default();
        let (to_cm, cm_rx) = mpsc::channel(CM_QUEUE);
        let (gossip, gossip_rx) = crate::gossip::GossipHandle::new(network, GOSSIP_QUEUE);
        let peers = PeerManager::new(PeerManagerParts {
            node_secret: *node_keys.secret_key(),
            network,
            config: config.peer,
            entropy: entropy.clone(),
            events: events.clone(),
            to_cm: to_cm.clone(),
            gossip: gossip.clone(),
            shutdown: shutdown_rx.clone(),
            tasks: tasks.clone(),
        });
        let broadcaster = ChainBroadcaster {
            source: chain.source.clone(),
            wallet: wallet.clone(),
        };
        // The chain's feerate before the manager starts: its first sweeps
        // (at start, for channels closed while we were away) use it.
        let feerate = {
            let source = chain.source.clone();
            blocking(move || match source.estimate_feerate(6) {
                Ok(r) => Ok(Some(u32::try_from(r.to_sat_per_kwu()).unwrap_or(u32::MAX))),
                Err(e) => {
                    tracing::warn!(error = %e, "no feerate estimate at start: using the 253 sat/kw floor until one comes");
                    Ok(None)
                }
            })
            .await?
        };
        let mut cm = ChannelManager::new(
            StorePersister::new(store),
            Arc::new(peers.clone()),
            Arc::new(broadcaster.clone()),
            CmServices {
                network,
                key_tree: key_tree.clone(),
                node_secret: *node_keys.secret_key(),
                entropy: entropy.clone(),
                wallet: Arc::new(wallet.clone()),
                events: events.clone(),
                config: config.channels.clone(),
                gossip: gossip.clone(),
            },
        )?;
        if let Some(per_kw) = feerate {
            cm.set_feerate(per_kw);
        }
        let replay_from = cm.channels_height();
        let replay = cm.awaits_funding() && replay_from > 0 && replay_from < start_tip.height;
        cm.spawn(cm_rx, tasks.guard()).map_err(NodeError::Io)?;
        if replay {
            // Blocks the wallet saw but the channels may not have (a crash
            // between the two): the channels count funding depth on them.
            let source = chain.source.clone();
            let from = replay_from
                .saturating_add(1)
                .max(start_tip.height.saturating_sub(2016));
            let to = start_tip.height;
            let blocks = blocking(move || {
                let mut out = Vec::new();
                for h in from..=to {
                    if let Some(b) = source.block_at(h).map_err(NodeError::Chain)? {
                        out.push((h, b));
                    }
                }
                Ok(out)
            })
            .await?;
            tracing::info!(from, to, "replaying blocks to the channels");
            for (height, block) in blocks {
                let _ = to_cm
                    .send(CmInput::BlockConnected {
                        height,
                        block: Arc::new(block),
                    })
                    .await;
            }
        }

        let listen_addr = match config.listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr).await.map_err(NodeError::Io)?;
                let local = listener.local_addr().map_err(NodeError::Io)?;
                peers.spawn_listener(listener);
                Some(local)
            }
            None => None,
        };
        let loaded_gossip = {
            let path = datadir.gossip_path();
            let source = chain.source.clone();
            blocking(move || Ok(crate::gossip::load(Some(&path), network, source.as_ref()))).await?
        };
        crate::gossip::spawn(
            &gossip,
            gossip_rx,
            crate::gossip::GossipParts {
                network,
                node_secret: *node_keys.secret_key(),
                alias: config.alias.clone(),
                addresses: listen_addr.into_iter().collect(),
                chain: chain.source.clone(),
                outbox: Arc::new(peers.clone()),
                config: crate::gossip::GossipConfig::default(),
                events: events.clone(),
                store_path: Some(datadir.gossip_path()),
            },
            loaded_gossip,
            tasks.guard(),
        )
        .map_err(NodeError::Io)?;
        let rpc_listener = match config.rpc_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(NodeError::Io)?),
            None => None,
        };
        let rpc_addr = match &rpc_listener {
            Some(l) => Some(l.local_addr().map_err(NodeError::Io)?),
            None => None,
        };

        let (synced_tx, synced) = watch::channel(start_tip);
        let poke = Arc::new(Notify::new());
        tasks.spawn(
            Follower {
                chain: chain.clone(),
                wallet: wallet.clone(),
                to_cm: to_cm.clone(),
                synced: synced_tx,
                events: events.clone(),
                poke: poke.clone(),
                shutdown: shutdown_rx.clone(),
                poll: config.chain_poll_interval,
            }
            .run(),
        );

        tasks.spawn(crate::reconnect::clock(to_cm.clone(), shutdown_rx.clone()));
        tasks.spawn(crate::reconnect::run(
            to_cm.clone(),
            peers.clone(),
            shutdown_rx.clone(),
            config.reconnect_interval,
        ));

        let node = Node {
            inner: Arc::new(NodeInner {
                node_id,
                alias: config.alias,
                network,
                datadir,
                node_keys,
                key_tree,
                channels_config: config.channels.clone(),
                entropy,
                wallet,
                chain,
                broadcaster,
                gossip,
                peers,
                to_cm,
                synced,
                poke,
                events,
                shutdown,
                tasks,
                listen_addr,
                rpc_addr,
            }),
        };
        if let (Some(listener), Some(addr)) = (rpc_listener, rpc_addr) {
            if let Err(e) = crate::rpc::server::start(listener, node.clone()) {
                node.stop();
                node.clone().wait_stopped().await;
                return Err(e);
            }
            tracing::info!(rpc = %addr, "RPC server listening");
        }
        tracing::info!(%node_id, %network, listen = ?listen_addr, height = start_tip.height, "node started");
        Ok(node)
    }

    /// The node id.
    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }

    /// The network.
    pub fn network(&self) -> Network {
        self.inner.network
    }

    /// Where peers can connect, if listening.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.inner.listen_addr
    }

    /// Where the RPC server listens, if it runs.
    pub fn rpc_addr(&self) -> Option<SocketAddr> {
        self.inner.rpc_addr
    }

    /// The data directory.
    pub fn datadir(&self) -> &DataDir {
        &self.inner.datadir
    }

    /// Subscribes to the node's events.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    /// The peers.
    pub fn peers(&self) -> &PeerManager {
        &self.inner.peers
    }

    /// Connects to a peer (returns once `init` is exchanged).
    pub async fn connect(&self, target: &ConnectTarget) -> Result<(), NodeError> {
        self.inner.peers.connect(target).await?;
        // Remembered (in the store) so that the node reconnects to peers it
        // has channels with, after a disconnection or a restart.
        let _ = self
            .inner
            .to_cm
            .send(CmInput::Command(CmCommand::RememberPeer {
                node_id: target.node_id,
                address: target.address.clone(),
            }))
            .await;
        Ok(())
    }

    /// The network graph the node routes on (kept by the gossip thread).
    pub fn network_graph(&self) -> Arc<std::sync::RwLock<fulmen_graph::NetworkGraph>> {
        self.inner.gossip.graph().clone()
    }

    /// The connected peers.
    pub fn list_peers(&self) -> Vec<PeerInfo> {
        self.inner.peers.list()
    }

    /// The height of the chain the node has applied.
    pub fn block_height(&self) -> u32 {
        self.inner.synced.borrow().height
    }

    /// The number of channels.
    pub async fn num_channels(&self) -> Result<usize, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .to_cm
            .send(CmInput::Command(CmCommand::NumChannels(tx)))
            .await
            .map_err(|_| NodeError::TaskFailed)?;
        rx.await.map_err(|_| NodeError::TaskFailed)
    }

    /// The feerate the node uses (the chain's estimate), sat/kw.
    pub async fn feerate(&self) -> Result<u32, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .to_cm
            .send(CmInput::Command(CmCommand::Feerate(tx)))
            .await
            .map_err(|_| NodeError::TaskFailed)?;
        rx.await.map_err(|_| NodeError::TaskFailed)
    }

    /// What `getinfo` shows.
    pub async fn info(&self) -> Result<NodeInfo, NodeError> {
        Ok(NodeInfo {
            node_id: self.inner.node_id,
            alias: self.inner.alias.clone(),
            num_peers: self.inner.peers.count(),
            num_channels: self.num_channels().await?,
            block_height: self.block_height(),
            network: self.inner.network,
            version: env!("CARGO_PKG_VERSION"),
            listen: self.inner.listen_addr,
            feerate_per_kw: self.feerate().await?,
        })
    }

    /// A new receive address of the on-chain wallet.
    pub async fn new_address(&self) -> Result<Address, NodeError> {
        let address = self.inner.wallet.with(|w| w.new_address()).await??;
        Ok(address.address)
    }

    /// The on-chain wallet's balance.
    pub async fn wallet_balance(&self) -> Result<Balance, NodeError> {
        self.inner.wallet.with(|w| w.balance()).await
    }

    /// Parses an address and checks it is for this node's network.
    pub fn parse_address(&self, text: &str) -> Result<Address, NodeError> {
        text.parse::<Address<NetworkUnchecked>>()
            .ok()
            .and_then(|a| a.require_network(self.inner.network).ok())
            .ok_or(NodeError::Config("not an address of this network"))
    }

    /// Mines `blocks` blocks on the embedded chain (regtest only), paying
    /// `to` or a new wallet address, and returns once the follower has
    /// applied them.
    pub async fn mine(
        &self,
        blocks: u32,
        to: Option<Address>,
    ) -> Result<Vec<BlockHash>, NodeError> {
        let Some(chain) = self.inner.chain.embedded.clone() else {
            return Err(NodeError::NotEmbedded);
        };
        if blocks == 0 || blocks > MAX_MINE_BLOCKS {
            return Err(NodeError::Config("mine between 1 and 10000 blocks"));
        }
        let to = match to {
            Some(address) => address,
            None => self.new_address().await?,
        };
        let script = to.script_pubkey();
        let time = u32::try_from(unix_now()).unwrap_or(u32::MAX);
        let hashes =
            blocking(move || chain.mine(blocks, &script, time).map_err(NodeError::Mine)).await?;
        let target = self
            .inner
            .chain
            .source
            .tip()
            .map_err(NodeError::Chain)?
            .height;
        self.wait_for_height(target, MINE_SYNC_TIMEOUT).await?;
        Ok(hashes)
    }

    /// Waits until the follower has applied the chain up to `height`.
    pub async fn wait_for_height(&self, height: u32, timeout: Duration) -> Result<(), NodeError> {
        self.inner.poke.notify_one();
        let mut synced = self.inner.synced.clone();
        tokio::time::timeout(timeout, synced.wait_for(|tip| tip.height >= height))
            .await
            .map_err(|_| NodeError::Config("timed out waiting for the chain follower"))?
            .map_err(|_| NodeError::TaskFailed)?;
        Ok(())
    }

    /// Pays `amount` to `address` from the on-chain wallet (confirmed coins,
    /// the chain's feerate for 6 blocks), broadcasts it and records it in the
    /// wallet as unconfirmed.
    pub async fn send_to_address(&self, address: &Address, amount: Sat) -> Result<Txid, NodeError> {
        let source = self.inner.chain.source.clone();
        let fee_rate = blocking(move || match source.estimate_feerate(6) {
            Err(fulmen_chain::ChainError::NoFeeEstimate) => {
                tracing::warn!("no feerate estimate: paying the 253 sat/kw floor");
                Ok(FeeRate::ZERO)
            }
            other => other.map_err(NodeError::Chain),
        })
        .await?
        .max(FeeRate::from_sat_per_kwu(253));
        let aux = random_bytes::<32>(self.inner.entropy.as_ref()).map_err(NodeError::Entropy)?;
        let aux: [u8; 32] = *aux;
        let script = address.script_pubkey();
        let payment = self
            .inner
            .wallet
            .with(move |w| {
                w.build_payment(script, amount, fee_rate, CoinPolicy::ConfirmedOnly, aux)
            })
            .await??;
        self.inner.broadcaster.broadcast(payment.tx).await
    }

    /// Asks every task to stop (returns at once).
    pub fn stop(&self) {
        if !self.inner.shutdown.send_replace(true) {
            tracing::info!("node stopping");
        }
        let _ = self.inner.to_cm.try_send(CmInput::Shutdown);
    }

    /// Whether [`stop`](Self::stop) was called (here or over RPC).
    pub fn is_stopping(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Waits until the node is asked to stop (e.g. by the `stop` RPC).
    pub async fn stopping(&self) {
        let mut rx = self.inner.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Waits until every task has finished after [`stop`](Self::stop), then
    /// removes the RPC cookie and address files.
    pub async fn wait_stopped(self) {
        self.stopping().await;
        // The channel manager may have missed the try_send above if its
        // queue was full: make sure it hears it.
        let _ = self.inner.to_cm.send(CmInput::Shutdown).await;
        self.inner.tasks.wait_idle().await;
        if self.inner.rpc_addr.is_some() {
            self.inner.datadir.remove_rpc_files();
        }
        tracing::info!("node stopped");
    }
}

/// Runs blocking work on the blocking pool.
async fn blocking<R, F>(f: F) -> Result<R, NodeError>
where
    F: FnOnce() -> Result<R, NodeError> + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| NodeError::TaskFailed)?
}

async fn open_chain(
    config: ChainConfig,
    network: Network,
    datadir: &DataDir,
) -> Result<ChainBackend, NodeError> {
    let embedded = |chain: EmbeddedChain| ChainBackend {
        source: Arc::new(chain.clone()),
        embedded: Some(chain),
    };
    match config {
        ChainConfig::EmbeddedInDatadir | ChainConfig::Embedded(_)
            if network != Network::Regtest =>
        {
            Err(NodeError::Config("the embedded chain is regtest only"))
        }
        ChainConfig::EmbeddedInDatadir => {
            let dir = datadir.chain_dir();
            let chain = blocking(move || {
                std::fs::create_dir_all(&dir).map_err(NodeError::Io)?;
                EmbeddedChain::open(&dir, EmbeddedConfig::default()).map_err(NodeError::Chain)
            })
            .await?;
            Ok(embedded(chain))
        }
        ChainConfig::Embedded(chain) => Ok(embedded(chain)),
        ChainConfig::External(source) => {
            // A chain of another network would never connect to the
            // wallet's genesis block: refuse at once.
            let probe = source.clone();
            let genesis =
                blocking(move || probe.block_hash_at(0).map_err(NodeError::Chain)).await?;
            if genesis != Some(bitcoin::constants::genesis_block(network).block_hash()) {
                return Err(NodeError::Config(
                    "the chain source is on another network (genesis block differs)",
                ));
            }
            Ok(ChainBackend {
                source,
                embedded: None,
            })
        }
    }
}

/// A new seed has no history: start the wallet at the chain's current tip
/// instead of scanning from genesis (which on a real chain would take
/// hours). Blocking.
fn set_birthday(
    wallet: &mut OnchainWallet,
    source: &dyn fulmen_chain::ChainSource,
) -> Result<(), NodeError> {
    let tip = source.tip().map_err(NodeError::Chain)?;
    let ours = wallet.tip();
    if tip.height == 0 || ours.height != 0 {
        return Ok(());
    }
    let Some(block) = source.block(&tip.hash).map_err(NodeError::Chain)? else {
        return Ok(());
    };
    wallet.apply_block_connected_to(
        &block,
        tip.height,
        WalletBlockRef {
            height: 0,
            hash: ours.hash,
        },
    )?;
    tracing::info!(
        height = tip.height,
        "wallet starts at the chain tip (new seed)"
    );
    Ok(())
}
