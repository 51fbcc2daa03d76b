//! `fulmen chain`: the embedded regtest chain as a standalone JSON-RPC server.
//!
//! Opens (or creates) the persisted chain in `--datadir`, serves it with
//! `fulmen_chain::rpc::serve` until SIGINT or SIGTERM (or the `stop` RPC), and prints one JSON
//! line on start: `{"rpc_listen": "<addr>", "cookie_file": "<path>" | null}`. Without
//! `--rpc-user`/`--rpc-password` it writes a bitcoind-style `.cookie` file (32 random bytes from
//! the operating system) into the datadir and removes it on exit.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use fulmen_chain::rpc::auth::{remove_cookie, write_cookie};
use fulmen_chain::rpc::{serve, Credentials, ServerConfig};
use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
use fulmen_node::entropy::random_bytes;
use fulmen_node::OsEntropy;

/// Arguments of `fulmen chain`.
#[derive(clap::Args, Debug)]
pub struct ChainArgs {
    /// Address to serve the JSON-RPC on, e.g. 127.0.0.1:18443.
    #[arg(long, default_value = "127.0.0.1:18443")]
    pub rpc_listen: String,
    /// Directory holding the chain's blocks (and the `.cookie` file).
    #[arg(long)]
    pub datadir: PathBuf,
    /// RPC user (with --rpc-password); without them a `.cookie` file is written.
    #[arg(long)]
    pub rpc_user: Option<String>,
    /// RPC password.
    #[arg(long)]
    pub rpc_password: Option<String>,
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves `--rpc-listen` (an address, or `host:port`).
fn listen_addr(s: &str) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    s.to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("--rpc-listen {s}: no address").into())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; stopping on SIGINT only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the chain server until interrupted.
pub fn run(args: ChainArgs) -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    run_until(args, shutdown_signal(), |line| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    })
}

/// Opens the chain, writes the cookie if needed, binds, hands the start line to `ready`, and
/// serves until `shutdown` completes (or a client calls `stop`); then removes the cookie.
fn run_until(
    args: ChainArgs,
    shutdown: impl std::future::Future<Output = ()>,
    ready: impl FnOnce(&serde_json::Value) -> std::io::Result<()>,
) -> Result<(), Box<dyn std::error::Error>> {
    let listen = listen_addr(&args.rpc_listen)?;
    std::fs::create_dir_all(&args.datadir)?;
    let chain = EmbeddedChain::open(&args.datadir, EmbeddedConfig::default())?;
    let (credentials, cookie_file) = match (args.rpc_user, args.rpc_password) {
        (Some(user), Some(password)) => (Credentials::new(user, password), None),
        (None, None) => {
            let secret = random_bytes::<32>(&OsEntropy)?;
            let (path, credentials) = write_cookie(&args.datadir, &secret)?;
            (credentials, Some(path))
        }
        _ => return Err("--rpc-user and --rpc-password must be given together".into()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fulmen-chain")
        .build()?;
    let served: Result<(), Box<dyn std::error::Error>> = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let local = listener.local_addr()?;
        let line = serde_json::json!({
            "rpc_listen": local.to_string(),
            "cookie_file": cookie_file.as_ref().map(|p| p.display().to_string()),
        });
        ready(&line)?;
        tracing::info!(%local, "chain server started");
        serve(listener, chain, ServerConfig::new(credentials), shutdown).await;
        tracing::info!("chain server stopped");
        Ok(())
    });
    if let Some(path) = &cookie_file {
        remove_cookie(path)?;
    }
    served
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulmen_chain::rpc::{RpcChainClient, RpcClientConfig};
    use fulmen_chain::ChainSource;
    use std::sync::mpsc;

    fn args(dir: &std::path::Path, user: Option<&str>, password: Option<&str>) -> ChainArgs {
        ChainArgs {
            rpc_listen: "127.0.0.1:0".into(),
            datadir: dir.to_path_buf(),
            rpc_user: user.map(Into::into),
            rpc_password: password.map(Into::into),
        }
    }

    /// Starts the server on a thread; returns the start line, a stop trigger and the thread.
    fn start(
        a: ChainArgs,
    ) -> (
        serde_json::Value,
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<Result<(), String>>,
    ) {
        let (line_tx, line_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            run_until(
                a,
                async {
                    let _ = stop_rx.await;
                },
                move |line| {
                    let _ = line_tx.send(line.clone());
                    Ok(())
                },
            )
            .map_err(|e| e.to_string())
        });
        let line = line_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        (line, stop_tx, thread)
    }

    #[test]
    fn serves_with_a_cookie_and_removes_it_on_exit() {
        let dir = tempfile::tempdir().unwrap();
        let (line, stop, thread) = start(args(dir.path(), None, None));
        let cookie_path = std::path::PathBuf::from(line["cookie_file"].as_str().unwrap());
        assert_eq!(cookie_path, dir.path().join(".cookie"));
        let addr: SocketAddr = line["rpc_listen"].as_str().unwrap().parse().unwrap();
        let credentials = Credentials::read_cookie(&cookie_path).unwrap();
        assert_eq!(credentials.user, "__cookie__");
        assert_eq!(credentials.password.len(), 64);
        let client = RpcChainClient::new(RpcClientConfig::new(addr, credentials));
        let address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
        client
            .call("generatetoaddress", serde_json::json!([3, address]))
            .unwrap();
        assert_eq!(client.tip().unwrap().height, 3);
        stop.send(()).unwrap();
        thread.join().unwrap().unwrap();
        assert!(!cookie_path.exists());

        // The chain persisted: a restart with a user and password serves the same blocks.
        let (line, stop, thread) = start(args(dir.path(), Some("u"), Some("p")));
        assert!(line["cookie_file"].is_null());
        let addr: SocketAddr = line["rpc_listen"].as_str().unwrap().parse().unwrap();
        let client = RpcChainClient::new(RpcClientConfig::new(addr, Credentials::new("u", "p")));
        assert_eq!(client.tip().unwrap().height, 3);
        // The `stop` RPC ends it too.
        client.call("stop", serde_json::json!([])).unwrap();
        thread.join().unwrap().unwrap();
        drop(stop);
    }

    #[test]
    fn user_without_password_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = run_until(args(dir.path(), Some("u"), None), async {}, |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("together"));
        assert!(listen_addr("not an address").is_err());
        assert!(listen_addr("localhost:0").unwrap().ip().is_loopback());
    }
}
