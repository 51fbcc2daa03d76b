//! `fulmen node`: the node daemon.
//!
//! Starts a [`fulmen_node::Node`] from the data directory (creating the seed
//! on the first start, from the operating system's entropy), prints one JSON
//! line on stdout once it runs (`{"node_id", "listen", "rpc", "network",
//! "chain_rpc"}`), logs to stderr (`RUST_LOG` filters, default `info`), and
//! runs until the `stop` RPC or Ctrl-C.
//!
//! With `--chain-rpc-listen ADDR --chain-rpc-password P` a node on its own
//! embedded chain also serves that chain over the Bitcoin Core compatible
//! JSON-RPC, so that a second node can follow it with
//! `--bitcoind-rpc http://fulmen:P@ADDR` (two nodes, one regtest chain,
//! without bitcoind).
//!
//! Test hook: `FULMEN_CRASH_AT=<point>[:<n>]` in the environment aborts the
//! daemon right after a named commit (see `fulmen_node::channels::crash`);
//! for crash tests only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bitcoin::Network;
use fulmen_chain::rpc::{Credentials, ServerConfig};
use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use fulmen_node::{BitcoindUrl, ChainConfig, Node, NodeConfig, OsEntropy};

use crate::client::GlobalOpts;

/// Arguments of `fulmen node`.
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// Where to accept peer connections (`none`: outbound only).
    #[arg(long, default_value = "127.0.0.1:9735")]
    pub listen: String,
    /// Where to serve the JSON-RPC (loopback unless --rpc-allow-remote).
    #[arg(long, default_value = "127.0.0.1:9736")]
    pub rpc_listen: SocketAddr,
    /// Allow --rpc-listen on a non-loopback address (the cookie then travels
    /// over the network in clear text).
    #[arg(long)]
    pub rpc_allow_remote: bool,
    /// A bitcoind-compatible node's JSON-RPC, http://USER:PASS@HOST:PORT;
    /// without it the node runs its own embedded regtest chain in DATADIR/chain.
    #[arg(long)]
    pub bitcoind_rpc: Option<String>,
    /// bitcoin (alias mainnet), testnet, testnet4, signet or regtest.
    #[arg(long, default_value = "regtest")]
    pub network: String,
    /// The node's alias (at most 32 bytes).
    #[arg(long, default_value = "fulmen")]
    pub alias: String,
    /// Also serve the embedded chain over a Bitcoin Core compatible
    /// JSON-RPC here (for other nodes' --bitcoind-rpc); needs
    /// --chain-rpc-password.
    #[arg(long, requires = "chain_rpc_password")]
    pub chain_rpc_listen: Option<SocketAddr>,
    /// The user of --chain-rpc-listen.
    #[arg(long, default_value = "fulmen")]
    pub chain_rpc_user: String,
    /// The password of --chain-rpc-listen.
    #[arg(long)]
    pub chain_rpc_password: Option<String>,
}

fn parse_network(s: &str) -> Result<Network, String> {
    match s {
        "mainnet" => Ok(Network::Bitcoin),
        other => other
            .parse()
            .map_err(|_| format!("unknown network {other:?}")),
    }
}

/// The data directory: `--datadir`, else `~/.fulmen`.
pub fn datadir(opts: &GlobalOpts) -> Result<PathBuf, String> {
    if let Some(d) = &opts.datadir {
        return Ok(d.clone());
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".fulmen"))
        .ok_or_else(|| "no --datadir and no HOME to default to ~/.fulmen".to_owned())
}

fn config(args: &NodeArgs, opts: &GlobalOpts) -> Result<NodeConfig, String> {
    let network = parse_network(&args.network)?;
    let mut config = NodeConfig::regtest(datadir(opts)?);
    config.network = network;
    config.alias = args.alias.clone();
    config.listen = match args.listen.as_str() {
        "none" => None,
        text => Some(
            text.parse()
                .map_err(|_| format!("--listen: not an IP:PORT address: {text}"))?,
        ),
    };
    if !args.rpc_listen.ip().is_loopback() && !args.rpc_allow_remote {
        return Err(
            "--rpc-listen is not a loopback address: add --rpc-allow-remote to serve the RPC beyond this machine".into(),
        );
    }
    config.rpc_listen = Some(args.rpc_listen);
    if args.chain_rpc_listen.is_some() && args.bitcoind_rpc.is_some() {
        return Err("--chain-rpc-listen serves the embedded chain: not with --bitcoind-rpc".into());
    }
    if args
        .chain_rpc_listen
        .is_some_and(|a| !a.ip().is_loopback() && !args.rpc_allow_remote)
    {
        return Err("--chain-rpc-listen is not a loopback address: add --rpc-allow-remote".into());
    }
    config.chain = match &args.bitcoind_rpc {
        None => ChainConfig::EmbeddedInDatadir,
        Some(url) => {
            let url: BitcoindUrl = url.parse().map_err(|e| format!("--bitcoind-rpc: {e}"))?;
            ChainConfig::External(
                url.chain_source()
                    .map_err(|e| format!("--bitcoind-rpc: {e}"))?,
            )
        }
    };
    Ok(config)
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the daemon until it is stopped.
pub fn run(args: NodeArgs, opts: &GlobalOpts) -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let config = config(&args, opts)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fulmen")
        .build()?;
    runtime.block_on(async move {
        let mut config = config;
        let served = match args.chain_rpc_listen {
            Some(addr) => {
                // Open the embedded chain here so that the node and the
                // chain server share it.
                let dir = config.datadir.join(fulmen_node::datadir::CHAIN_DIR);
                std::fs::create_dir_all(&dir)?;
                let chain = EmbeddedChain::open(&dir, EmbeddedConfig::default())?;
                config.chain = ChainConfig::Embedded(chain.clone());
                let listener = tokio::net::TcpListener::bind(addr).await?;
                let password = args.chain_rpc_password.clone().unwrap_or_default();
                Some((
                    chain,
                    listener,
                    Credentials::new(args.chain_rpc_user.clone(), password),
                ))
            }
            None => None,
        };
        let node = Node::start(config, Arc::new(OsEntropy)).await?;
        let mut chain_rpc = None;
        if let Some((chain, listener, credentials)) = served {
            chain_rpc = Some(listener.local_addr()?);
            let n = node.clone();
            tokio::spawn(fulmen_chain::rpc::serve(
                listener,
                chain,
                ServerConfig::new(credentials),
                async move { n.stopping().await },
            ));
        }
        let ready = serde_json::json!({
            "node_id": node.node_id().to_string(),
            "network": node.network().to_string(),
            "listen": node.listen_addr().map(|a| a.to_string()),
            "rpc": node.rpc_addr().map(|a| a.to_string()),
            "chain_rpc": chain_rpc.map(|a| a.to_string()),
        });
        println!("{ready}");
        tokio::select! {
            () = node.stopping() => {}
            signal = tokio::signal::ctrl_c() => {
                if let Err(e) = signal {
                    tracing::warn!(error = %e, "cannot listen for ctrl-c");
                    node.stopping().await;
                }
                node.stop();
            }
        }
        node.wait_stopped().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> NodeArgs {
        NodeArgs {
            listen: "127.0.0.1:0".into(),
            rpc_listen: "127.0.0.1:0".parse().unwrap(),
            rpc_allow_remote: false,
            bitcoind_rpc: None,
            network: "regtest".into(),
            alias: "a".into(),
            chain_rpc_listen: None,
            chain_rpc_user: "fulmen".into(),
            chain_rpc_password: None,
        }
    }

    fn opts() -> GlobalOpts {
        GlobalOpts {
            datadir: Some("/tmp/x".into()),
            rpc: None,
        }
    }

    #[test]
    fn configs() {
        let c = config(&args(), &opts()).unwrap();
        assert_eq!(c.network, Network::Regtest);
        assert!(matches!(c.chain, ChainConfig::EmbeddedInDatadir));
        assert_eq!(c.datadir, PathBuf::from("/tmp/x"));

        let mut a = args();
        a.listen = "none".into();
        a.network = "mainnet".into();
        a.bitcoind_rpc = Some("http://u:p@127.0.0.1:8332".into());
        let c = config(&a, &opts()).unwrap();
        assert_eq!(c.listen, None);
        assert_eq!(c.network, Network::Bitcoin);
        assert!(matches!(c.chain, ChainConfig::External(_)));

        let mut a = args();
        a.rpc_listen = "0.0.0.0:9736".parse().unwrap();
        assert!(config(&a, &opts()).is_err());
        a.rpc_allow_remote = true;
        assert!(config(&a, &opts()).is_ok());

        let mut a = args();
        a.bitcoind_rpc = Some("127.0.0.1:8332".into());
        assert!(config(&a, &opts()).is_err());
        let mut a = args();
        a.network = "moonnet".into();
        assert!(config(&a, &opts()).is_err());
        let mut a = args();
        a.listen = "localhost".into();
        assert!(config(&a, &opts()).is_err());
        let mut a = args();
        a.chain_rpc_listen = Some("127.0.0.1:0".parse().unwrap());
        a.chain_rpc_password = Some("p".into());
        assert!(config(&a, &opts()).is_ok());
        a.bitcoind_rpc = Some("http://u:p@127.0.0.1:8332".into());
        assert!(config(&a, &opts()).is_err());
        let mut a = args();
        a.chain_rpc_listen = Some("0.0.0.0:1".parse().unwrap());
        assert!(config(&a, &opts()).is_err());
    }
}
