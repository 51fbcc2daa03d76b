//! `fulmen chain`: the embedded regtest chain as a standalone JSON-RPC server.

use std::path::PathBuf;

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

/// Runs the chain server until interrupted.
pub fn run(_args: ChainArgs) -> Result<(), Box<dyn std::error::Error>> {
    Err("the chain server is not implemented yet".into())
}
