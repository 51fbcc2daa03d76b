//! What the two-node scenarios of `fulmen demo` (`breach`, `force-close`)
//! share: real nodes started in one process on one embedded regtest chain,
//! stopped and restarted in their data directories, waited on by polling
//! the chain and their own state, with a timeout on every wait.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network, OutPoint, Transaction, Txid};
use fulmen_chain::{ChainSource, EmbeddedChain, TxStatus};
use fulmen_channel::ChannelConfig;
use fulmen_node::{
    ChannelInfo, ChannelsConfig, ConnectTarget, Node, NodeConfig, NodeEvent, OsEntropy,
    PaymentStatusKind,
};
use fulmen_types::{ChannelId, Msat};
use tokio::sync::broadcast;

use crate::demo::DemoResult;

/// The longest the demo waits for any one thing.
pub(crate) const WAIT: Duration = Duration::from_secs(60);
/// One bitcoin in satoshis.
pub(crate) const COIN: u64 = 100_000_000;

/// One running node of a two-node scenario.
pub(crate) struct Peer {
    pub(crate) name: &'static str,
    pub(crate) node: Node,
    pub(crate) events: broadcast::Receiver<NodeEvent>,
    pub(crate) dir: PathBuf,
}

/// The settings of the demo's nodes besides their directory and chain.
#[derive(Clone)]
pub(crate) struct Settings {
    /// The channel policy (`to_self_delay`, anchors or not).
    pub(crate) channel: ChannelConfig,
    /// Seconds a part of a multi-part payment is held for the rest.
    pub(crate) mpp_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            channel: ChannelConfig::default(),
            mpp_timeout_secs: ChannelsConfig::default().mpp_timeout_secs,
        }
    }
}

/// Starts (or restarts, when `dir` holds its data) the node `name`.
pub(crate) async fn start(
    name: &'static str,
    dir: PathBuf,
    chain: &EmbeddedChain,
    settings: &Settings,
) -> DemoResult<Peer> {
    let mut config = NodeConfig::regtest(&dir);
    config.chain = fulmen_node::ChainConfig::Embedded(chain.clone());
    config.alias = name.to_owned();
    config.rpc_listen = None;
    config.chain_poll_interval = Duration::from_millis(50);
    config.channels = ChannelsConfig {
        channel: settings.channel.clone(),
        mpp_timeout_secs: settings.mpp_timeout_secs,
        ..ChannelsConfig::default()
    };
    let node = Node::start(config, Arc::new(OsEntropy)).await?;
    let events = node.subscribe();
    Ok(Peer {
        name,
        node,
        events,
        dir,
    })
}

/// Stops a node and waits until its stores are closed.
pub(crate) async fn stop(p: Peer) -> PathBuf {
    p.node.stop();
    let _ = tokio::time::timeout(WAIT, p.node.clone().wait_stopped()).await;
    p.dir
}

/// A fresh directory for the scenario's nodes under the system's temp dir.
pub(crate) fn base_dir(scenario: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!("fulmen-demo-{scenario}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    base
}

/// Where coins mined for nobody go (so the nodes' wallets show only what
/// the channel gave them).
pub(crate) fn burn_address() -> DemoResult<Address> {
    let secp = Secp256k1::new();
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[0x5a; 32])?);
    Ok(Address::p2wpkh(&CompressedPublicKey(pk), Network::Regtest))
}

/// Mines `blocks` to the burn address.
pub(crate) async fn mine(p: &Peer, blocks: u32) -> DemoResult<()> {
    p.node.mine(blocks, Some(burn_address()?)).await?;
    Ok(())
}

/// Polls `f` until it returns `Some`, for at most [`WAIT`].
pub(crate) async fn until<T, F: Future<Output = DemoResult<Option<T>>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> DemoResult<T> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(t) = f().await? {
            return Ok(t);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out waiting until {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The node's confirmed wallet balance in sat.
pub(crate) async fn confirmed(p: &Peer) -> DemoResult<u64> {
    Ok(p.node.wallet_balance().await?.confirmed.0)
}

/// Waits until the node's confirmed wallet balance is `sat`.
pub(crate) async fn wait_balance(p: &Peer, sat: u64) -> DemoResult<()> {
    until(&format!("{} holds {sat} sat", p.name), || async {
        Ok((confirmed(p).await? == sat).then_some(()))
    })
    .await
}

/// Waits until the node's follower reached `height`.
pub(crate) async fn wait_height(p: &Peer, height: u32) -> DemoResult<()> {
    p.node.wait_for_height(height, WAIT).await?;
    Ok(())
}

/// The next event of `p`, within [`WAIT`].
pub(crate) async fn next_event(p: &mut Peer) -> DemoResult<NodeEvent> {
    loop {
        match tokio::time::timeout(WAIT, p.events.recv()).await {
            Ok(Ok(e)) => return Ok(e),
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(format!("{}: timed out waiting for an event", p.name).into()),
        }
    }
}

/// Waits for `ChannelReady` (or, with `reestablished`, for
/// `ChannelReestablished`) of channel `id`.
pub(crate) async fn wait_channel(
    p: &mut Peer,
    id: ChannelId,
    reestablished: bool,
) -> DemoResult<()> {
    loop {
        match next_event(p).await? {
            NodeEvent::ChannelReady { channel_id, .. } if !reestablished && channel_id == id => {
                return Ok(())
            }
            NodeEvent::ChannelReestablished { channel_id, .. }
                if reestablished && channel_id == id =>
            {
                return Ok(())
            }
            _ => {}
        }
    }
}

/// `p`'s view of channel `id`.
pub(crate) async fn channel(p: &Peer, id: ChannelId) -> DemoResult<ChannelInfo> {
    Ok(p.node
        .list_channels()
        .await?
        .into_iter()
        .find(|c| c.channel_id == id)
        .ok_or("channel missing")?)
}

/// Waits until both sides count `n` HTLCs on channel `id`.
pub(crate) async fn wait_htlcs(a: &Peer, b: &Peer, id: ChannelId, n: usize) -> DemoResult<()> {
    until(&format!("{n} HTLC(s) on the channel"), || async {
        Ok((channel(a, id).await?.htlcs == n && channel(b, id).await?.htlcs == n).then_some(()))
    })
    .await
}

/// `payer` pays an invoice of `payee` for `msat`.
pub(crate) async fn pay(payer: &Peer, payee: &Peer, msat: u64, label: &str) -> DemoResult<()> {
    let inv = payee
        .node
        .create_invoice(Some(Msat(msat)), label, label)
        .await?;
    let out = payer.node.pay_invoice(&inv.bolt11, None).await?;
    if out.status != PaymentStatusKind::Complete {
        return Err(format!("the payment failed: {:?}", out.failure).into());
    }
    Ok(())
}

/// How `a` reaches `b`.
pub(crate) fn target(b: &Peer) -> DemoResult<ConnectTarget> {
    Ok(ConnectTarget {
        node_id: b.node.node_id(),
        address: b.node.listen_addr().ok_or("no listen address")?.to_string(),
    })
}

/// The transaction spending `outpoint` (mempool or chain), once there is one.
pub(crate) async fn spender(chain: &EmbeddedChain, outpoint: OutPoint) -> DemoResult<Transaction> {
    until(&format!("{outpoint} is spent"), || async {
        Ok(chain.spending_tx(&outpoint)?.map(|s| s.tx))
    })
    .await
}

/// The height of the block confirming `txid`, once it is confirmed.
pub(crate) async fn confirmed_at(chain: &EmbeddedChain, txid: Txid) -> DemoResult<u32> {
    until(&format!("{txid} confirms"), || async {
        Ok(match chain.tx_status(&txid)? {
            TxStatus::Confirmed { block, .. } => Some(block.height),
            _ => None,
        })
    })
    .await
}

/// Transaction `txid` from the tip block.
pub(crate) fn tip_tx(chain: &EmbeddedChain, txid: Txid) -> DemoResult<Transaction> {
    let tip = chain.tip()?.height;
    Ok(chain
        .block_at(tip)?
        .ok_or("no tip block")?
        .txdata
        .into_iter()
        .find(|t| t.compute_txid() == txid)
        .ok_or("the transaction is not in the tip block")?)
}

/// The sum of a transaction's outputs in sat.
pub(crate) fn out_sat(tx: &Transaction) -> u64 {
    tx.output.iter().map(|o| o.value.to_sat()).sum()
}

/// `sat` as `x.yyyyyyyy BTC`.
pub(crate) fn sat_btc(sat: u64) -> String {
    format!("{}.{:08} BTC", sat / COIN, sat % COIN)
}

/// Copies a stopped node's data directory, again from the start when a
/// file vanishes mid-copy (SQLite may remove its `-wal` file late).
pub(crate) fn copy_dir(from: &Path, to: &Path) -> DemoResult<()> {
    for _ in 0..50 {
        let _ = std::fs::remove_dir_all(to);
        match try_copy_dir(from, to) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err("the data directory kept changing while it was copied".into())
}

fn try_copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            try_copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}
