//! The funding-and-spend flow against bcoin regtest (a full node in JavaScript standing in for
//! bitcoind), through `RpcChainClient`. bcoin is installed by `scripts/test-all` (`npm ci` in
//! `scripts/bcoin`); without it this test fails and says so.
//!
//! bcoin's quirks met here: segwit and CSV activate only after 432 regtest blocks (mined first);
//! its bech32 prefix is `rb`, so the mining address is built from the script with that HRP;
//! `sendrawtransaction` relays without reporting rejections (the client checks the mempool);
//! `estimatesmartfee` answers `{"fee": -1}` (the client's floor applies).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod rpc_common;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fulmen_chain::rpc::{Credentials, RpcChainClient};
use fulmen_chain::ChainSource;
use rpc_common::{bcoin_address, client, funding_and_spend, Backend, KeyWallet, Rejections};
use serde_json::json;

/// A bcoin regtest node in memory, killed on drop.
struct Bcoin {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Bcoin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bcoin_bin() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bcoin");
    let bin = root.join("node_modules/bcoin/bin/node");
    assert!(
        bin.exists(),
        "bcoin is not installed at {}: run `npm ci` in scripts/bcoin (scripts/test-all does this)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const API_KEY: &str = "fulmen-test-key";

impl Bcoin {
    fn start() -> Self {
        let bin = bcoin_bin();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("bcoin.log");
        let child = Command::new("node")
            .arg(&bin)
            .args([
                "--network=regtest",
                "--memory=true",
                "--workers=false",
                "--listen=false",
                "--no-wallet=true",
                "--http-host=127.0.0.1",
                &format!("--http-port={port}"),
                &format!("--api-key={API_KEY}"),
                &format!("--prefix={}", dir.path().display()),
                "--log-level=warning",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("cannot run `node` (Node.js is needed for the bcoin test)");
        let node = Bcoin {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        };
        node.wait_ready();
        node
    }

    fn credentials() -> Credentials {
        Credentials::new("x", API_KEY)
    }

    /// Polls `getblockchaininfo` until bcoin answers (at most 60 s).
    fn wait_ready(&self) {
        let mut config = fulmen_chain::rpc::RpcClientConfig::new(self.addr, Self::credentials());
        config.max_attempts = 1;
        config.timeout = Duration::from_secs(2);
        let probe = RpcChainClient::new(config);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if probe.call("getblockchaininfo", json!([])).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bcoin did not answer within 60 s; its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn funding_and_spend_flow_against_bcoin() {
    let node = Bcoin::start();
    let c = client(node.addr, Bcoin::credentials());
    let info = c.call("getblockchaininfo", json!([])).unwrap();
    assert_eq!(info["chain"], "regtest");
    let wallet = KeyWallet::new(0x31);
    funding_and_spend(
        &Backend {
            client: &c,
            address: bcoin_address(&wallet.spk),
            // Segwit and CSV are active from height 432 on bcoin's regtest.
            pre_mine: 432,
            rejections: Rejections::Untyped,
            reorg: true,
        },
        &wallet,
    );
    // bcoin has no fee data on a fresh regtest chain: the floor applies.
    assert_eq!(c.estimate_feerate(2).unwrap(), c.config().fee_floor);
}
