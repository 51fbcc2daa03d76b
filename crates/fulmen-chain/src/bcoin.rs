//! A bcoin regtest node for tests against a real full node (feature
//! `bcoin`). bcoin (JavaScript, from npm) stands in for bitcoind: it
//! validates transactions and blocks with its own script interpreter and
//! answers Bitcoin Core's JSON-RPC calls.
//!
//! `scripts/test-all` installs it (`npm ci` in `scripts/bcoin`);
//! [`Bcoin::start`] runs it in memory on a free loopback port and the
//! process is killed when the handle drops.
//!
//! bcoin's regtest differs from Core's: segwit and CSV activate only at
//! height [`SEGWIT_HEIGHT`], its bech32 prefix is `rb`
//! ([`Bcoin::address`]), `sendrawtransaction` does not report rejections,
//! and `estimatesmartfee` has no data on a fresh chain.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoin::bech32::{segwit, Fe32, Hrp};
use bitcoin::Script;
use serde_json::json;

use crate::rpc::{Credentials, RpcChainClient, RpcClientConfig};

/// The height from which segwit and CSV rules apply on bcoin's regtest.
pub const SEGWIT_HEIGHT: u32 = 432;

/// The API key of the test node.
const API_KEY: &str = "fulmen-test-key";

/// Why bcoin could not be started.
#[derive(Debug)]
pub enum BcoinError {
    /// `scripts/bcoin/node_modules` has no bcoin (run `npm ci` there).
    NotInstalled(PathBuf),
    /// `node` could not be run, or no free port was found.
    Io(std::io::Error),
    /// bcoin did not answer within a minute; its log.
    NotReady(String),
}

impl core::fmt::Display for BcoinError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotInstalled(p) => write!(
                f,
                "bcoin is not installed at {}: run `npm ci` in scripts/bcoin (scripts/test-all does this)",
                p.display()
            ),
            Self::Io(e) => write!(f, "cannot run bcoin (Node.js is needed): {e}"),
            Self::NotReady(log) => write!(f, "bcoin did not answer within 60 s; its log:\n{log}"),
        }
    }
}

impl std::error::Error for BcoinError {}

/// A bcoin regtest node in memory, killed on drop.
pub struct Bcoin {
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
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/bcoin/node_modules/bcoin/bin/node")
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Bcoin {
    /// Starts bcoin (regtest, in memory, no wallet, no P2P) and waits
    /// until its RPC answers.
    pub fn start() -> Result<Self, BcoinError> {
        let bin = bcoin_bin();
        if !bin.exists() {
            return Err(BcoinError::NotInstalled(bin));
        }
        let dir = tempfile::tempdir().map_err(BcoinError::Io)?;
        let port = free_port().map_err(BcoinError::Io)?;
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
            .stderr(std::fs::File::create(&log).map_err(BcoinError::Io)?)
            .spawn()
            .map_err(BcoinError::Io)?;
        let node = Bcoin {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        };
        node.wait_ready()?;
        Ok(node)
    }

    /// Where its RPC listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its RPC credentials (any user, the API key as password).
    pub fn credentials() -> Credentials {
        Credentials::new("x", API_KEY)
    }

    /// Its RPC URL with the credentials (`--bitcoind-rpc`).
    pub fn url(&self) -> String {
        format!("http://x:{API_KEY}@{}", self.addr)
    }

    /// The bcoin regtest address (`rb1…`) of a segwit v0 script.
    pub fn address(script_pubkey: &Script) -> Option<String> {
        let program = script_pubkey.as_bytes().get(2..)?;
        let hrp = Hrp::parse("rb").ok()?;
        segwit::encode(hrp, Fe32::Q, program).ok()
    }

    /// Polls `getblockchaininfo` until bcoin answers (at most 60 s).
    fn wait_ready(&self) -> Result<(), BcoinError> {
        let mut config = RpcClientConfig::new(self.addr, Self::credentials());
        config.max_attempts = 1;
        config.timeout = Duration::from_secs(2);
        let probe = RpcChainClient::new(config);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if probe.call("getblockchaininfo", json!([])).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(BcoinError::NotReady(
                    std::fs::read_to_string(&self.log).unwrap_or_default(),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
