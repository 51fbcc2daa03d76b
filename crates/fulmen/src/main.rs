//! The `fulmen` binary: daemon, embedded chain server, demo and client
//! commands in one executable (like `ipfs daemon` / `ipfs id`).
//!
//! Each subcommand lives in its own module; client commands print JSON on
//! stdout and exit non-zero with a JSON error on failure.

#![forbid(unsafe_code)]

mod chain_cmd;
mod client;
mod demo;
mod demo_breach;
mod demo_force;
mod demo_line;
mod demo_pair;
mod node_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command-line interface of the Fulmen Lightning node.
#[derive(Parser, Debug)]
#[command(name = "fulmen", version, about = "Fulmen: a Lightning Network node")]
struct Cli {
    #[command(flatten)]
    global: client::GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the seed scenarios on an embedded chain in one process and prints what happens.
    Demo(demo::DemoArgs),
    /// Serves the embedded regtest chain over a Bitcoin Core compatible JSON-RPC.
    Chain(chain_cmd::ChainArgs),
    /// Runs the node daemon (without --bitcoind-rpc, on its own embedded regtest chain).
    Node(node_cmd::NodeArgs),
    #[command(flatten)]
    Client(client::ClientCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Chain(args) => chain_cmd::run(args),
        Command::Node(args) => node_cmd::run(args, &cli.global),
        Command::Client(cmd) => return client::run(cmd, &cli.global),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let err = serde_json::json!({ "error": e.to_string() });
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
