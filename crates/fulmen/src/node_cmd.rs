//! `fulmen node`: the node daemon.
//!
//! Starts a [`fulmen_node::Node`] from the data directory (creating the seed
//! on the first start, from the operating system's entropy), prints one JSON
//! line on stdout once it runs (`{"node_id", "listen", "rpc", "network"}`),
//! logs to stderr (`RUST_LOG` filters, default `info`), and runs until the
//! `stop` RPC or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bitcoin::Network;
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
        let node = Node::start(config, Arc::new(OsEntropy)).await?;
        let ready = serde_json::json!({
            "node_id": node.node_id().to_string(),
            "network": node.network().to_string(),
            "listen": node.listen_addr().map(|a| a.to_string()),
            "rpc": node.rpc_addr().map(|a| a.to_string()),
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
    }
}
