//! The client commands: `fulmen getinfo`, `newaddress`, … Each is one
//! JSON-RPC call to the node of `--datadir` (cookie from `rpc.cookie`,
//! address from `--rpc` or `rpc.address`). The result is printed as JSON on
//! stdout; a failure prints `{"error": {"code", "message"}}` on stdout and
//! exits with status 1.

use std::path::PathBuf;
use std::process::ExitCode;

use fulmen_node::{ClientError, DataDir, RpcClient};
use serde_json::{json, Value};

/// Options shared by every command (also accepted after the command name).
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalOpts {
    /// The node's data directory [default: ~/.fulmen].
    #[arg(long, global = true)]
    pub datadir: Option<PathBuf>,
    /// The node's RPC address HOST:PORT [default: read from DATADIR/rpc.address].
    #[arg(long, global = true)]
    pub rpc: Option<String>,
}

/// The client commands.
#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// The node's id, alias, peers, channels, block height and network.
    Getinfo,
    /// A new on-chain receive address.
    Newaddress,
    /// The on-chain balance: confirmed, unconfirmed and immature satoshis.
    Walletbalance,
    /// Connects to a peer.
    Connect {
        /// PUBKEY@HOST:PORT.
        target: String,
    },
    /// The connected peers.
    Listpeers,
    /// Stops the node.
    Stop,
    /// Decodes a BOLT 11 invoice.
    Decode {
        /// The invoice.
        invoice: String,
    },
    /// Mines blocks on the node's embedded chain (regtest only; for demos
    /// and tests).
    Mine {
        /// How many blocks.
        blocks: u32,
        /// Pay the coinbases to this address [default: a new wallet address].
        #[arg(long)]
        address: Option<String>,
    },
    /// Opens a channel we fund with a connected peer; returns once the
    /// funding transaction is broadcast (mine `minimum_depth` blocks, 3 by
    /// default, for it to become `normal`).
    Openchannel {
        /// The peer's node id.
        node_id: String,
        /// Channel capacity in satoshis.
        amount_sat: u64,
        /// Amount given to the peer at opening, msat.
        #[arg(long)]
        push_msat: Option<u64>,
        /// Do not announce the channel.
        #[arg(long)]
        private: bool,
    },
    /// The channels: id, short channel id, peer, state, capacity, balances.
    Listchannels,
    /// Closes a channel: cooperatively, or unilaterally with --force;
    /// returns the txid once broadcast.
    Closechannel {
        /// The channel id.
        channel_id: String,
        /// Unilateral close.
        #[arg(long)]
        force: bool,
    },
    /// Creates a BOLT 11 invoice (AMOUNT_MSAT 0: any amount).
    Invoice {
        /// The amount in msat.
        amount_msat: u64,
        /// A unique label.
        label: String,
        /// The description.
        description: String,
    },
    /// Pays a BOLT 11 invoice over a direct channel with its payee; waits
    /// for the outcome (`status`: `complete` or `failed`).
    Pay {
        /// The invoice.
        bolt11: String,
        /// The amount, for invoices without one.
        #[arg(long)]
        amount_msat: Option<u64>,
    },
    /// Invoices (and keysend payments received).
    Listinvoices,
    /// Outgoing payments.
    Listpayments,
    /// Forwarded payments (none: Fulmen does not forward yet).
    Listforwards,
    /// Pays a direct peer without an invoice (keysend, TLV 5482373484 with
    /// a fresh preimage); waits for the outcome like `pay`.
    Keysend {
        /// The peer's node id.
        node_id: String,
        /// The amount in msat.
        amount_msat: u64,
    },
}

impl ClientCommand {
    /// The RPC method and its (named) parameters.
    pub fn request(&self) -> (&'static str, Value) {
        match self {
            Self::Getinfo => ("getinfo", json!({})),
            Self::Newaddress => ("newaddress", json!({})),
            Self::Walletbalance => ("walletbalance", json!({})),
            Self::Connect { target } => ("connect", json!({ "id": target })),
            Self::Listpeers => ("listpeers", json!({})),
            Self::Stop => ("stop", json!({})),
            Self::Decode { invoice } => ("decode", json!({ "invoice": invoice })),
            Self::Mine { blocks, address } => {
                ("mine", json!({ "blocks": blocks, "address": address }))
            }
            Self::Openchannel {
                node_id,
                amount_sat,
                push_msat,
                private,
            } => (
                "openchannel",
                json!({ "id": node_id, "amount_sat": amount_sat, "push_msat": push_msat, "private": private }),
            ),
            Self::Listchannels => ("listchannels", json!({})),
            Self::Closechannel { channel_id, force } => (
                "closechannel",
                json!({ "channel_id": channel_id, "force": force }),
            ),
            Self::Invoice {
                amount_msat,
                label,
                description,
            } => (
                "invoice",
                json!({ "amount_msat": amount_msat, "label": label, "description": description }),
            ),
            Self::Pay {
                bolt11,
                amount_msat,
            } => (
                "pay",
                json!({ "bolt11": bolt11, "amount_msat": amount_msat }),
            ),
            Self::Listinvoices => ("listinvoices", json!({})),
            Self::Listpayments => ("listpayments", json!({})),
            Self::Listforwards => ("listforwards", json!({})),
            Self::Keysend {
                node_id,
                amount_msat,
            } => (
                "keysend",
                json!({ "id": node_id, "amount_msat": amount_msat }),
            ),
        }
    }
}

fn error_json(code: Option<i64>, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

async fn call(cmd: &ClientCommand, opts: &GlobalOpts) -> Result<Value, Value> {
    let datadir = crate::node_cmd::datadir(opts).map_err(|e| error_json(None, &e))?;
    let client = RpcClient::from_datadir(&DataDir::new(datadir), opts.rpc.as_deref())
        .map_err(|e| error_json(None, &e.to_string()))?;
    let (method, params) = cmd.request();
    client.call(method, params).await.map_err(|e| match &e {
        ClientError::Rpc { code, message } => error_json(Some(*code), message),
        other => error_json(None, &other.to_string()),
    })
}

/// Runs a client command: prints its JSON result, or a JSON error and
/// returns failure.
pub fn run(cmd: ClientCommand, opts: &GlobalOpts) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            println!("{}", error_json(None, &e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let (out, code) = match runtime.block_on(call(&cmd, opts)) {
        Ok(result) => (result, ExitCode::SUCCESS),
        Err(error) => (error, ExitCode::FAILURE),
    };
    match serde_json::to_string_pretty(&out) {
        Ok(text) => println!("{text}"),
        Err(_) => println!("{out}"),
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_maps_to_its_method() {
        let (m, p) = ClientCommand::Mine {
            blocks: 3,
            address: None,
        }
        .request();
        assert_eq!(m, "mine");
        assert_eq!(p, json!({"blocks": 3, "address": null}));
        let (m, p) = ClientCommand::Connect {
            target: "x@y:1".into(),
        }
        .request();
        assert_eq!((m, p), ("connect", json!({"id": "x@y:1"})));
        let (m, p) = ClientCommand::Openchannel {
            node_id: "02aa".into(),
            amount_sat: 5,
            push_msat: None,
            private: true,
        }
        .request();
        assert_eq!(m, "openchannel");
        assert_eq!(
            p,
            json!({"id": "02aa", "amount_sat": 5, "push_msat": null, "private": true})
        );
        let (m, p) = ClientCommand::Keysend {
            node_id: "02aa".into(),
            amount_msat: 7,
        }
        .request();
        assert_eq!((m, p), ("keysend", json!({"id": "02aa", "amount_msat": 7})));
        let (m, p) = ClientCommand::Closechannel {
            channel_id: "ab".into(),
            force: true,
        }
        .request();
        assert_eq!(
            (m, p),
            ("closechannel", json!({"channel_id": "ab", "force": true}))
        );
        for (cmd, method) in [
            (ClientCommand::Getinfo, "getinfo"),
            (ClientCommand::Listinvoices, "listinvoices"),
            (ClientCommand::Listforwards, "listforwards"),
            (ClientCommand::Listchannels, "listchannels"),
            (ClientCommand::Listpayments, "listpayments"),
        ] {
            assert_eq!(cmd.request().0, method);
        }
    }
}
