//! End to end: the `fulmen node` daemon and the client commands, as
//! separate processes talking JSON-RPC over TCP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_fulmen");
const WAIT: Duration = Duration::from_secs(60);
const COIN: u64 = 100_000_000;

/// Runs `fulmen ARGS` and returns its output.
fn fulmen(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs")
}

/// Runs a client command against `datadir` and parses its stdout.
fn client(datadir: &Path, args: &[&str]) -> (bool, Value) {
    let mut all = vec!["--datadir", datadir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = fulmen(&all);
    let text = String::from_utf8(out.stdout).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text:?}, stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}

struct Daemon {
    child: Option<Child>,
    ready: Value,
}

impl Daemon {
    fn start(datadir: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args([
                "node",
                "--datadir",
                datadir.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--rpc-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawns");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(WAIT).expect("the daemon reports it runs");
        let ready: Value = serde_json::from_str(&line).expect("a JSON line");
        Self {
            child: Some(child),
            ready,
        }
    }

    /// Waits for the process to exit; its success.
    fn wait_exit(mut self) -> bool {
        let mut child = self.child.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().map(|s| s.success()).unwrap_or(false));
        });
        rx.recv_timeout(WAIT).expect("the daemon exits in time")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn daemon_and_client_commands() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("node");
    let daemon = Daemon::start(&datadir);
    let node_id = daemon.ready["node_id"].as_str().unwrap().to_owned();
    assert_eq!(daemon.ready["network"], "regtest");
    assert!(datadir.join("seed").exists());
    assert!(datadir.join("rpc.cookie").exists());

    let (ok, info) = client(&datadir, &["getinfo"]);
    assert!(ok, "{info}");
    assert_eq!(info["node_id"], node_id);
    assert_eq!(info["block_height"], 0);
    assert_eq!(info["num_peers"], 0);
    assert_eq!(info["num_channels"], 0);
    assert_eq!(info["network"], "regtest");

    // Options may also follow the command; --rpc overrides rpc.address.
    let rpc = daemon.ready["rpc"].as_str().unwrap();
    let out = fulmen(&[
        "getinfo",
        "--datadir",
        datadir.to_str().unwrap(),
        "--rpc",
        rpc,
    ]);
    assert!(out.status.success());

    let (ok, address) = client(&datadir, &["newaddress"]);
    assert!(ok);
    let address = address["address"].as_str().unwrap().to_owned();
    assert!(address.starts_with("bcrt1"), "{address}");

    let (ok, mined) = client(&datadir, &["mine", "101", "--address", &address]);
    assert!(ok, "{mined}");
    assert_eq!(mined["height"], 101);
    assert_eq!(mined["block_hashes"].as_array().unwrap().len(), 101);

    let (ok, balance) = client(&datadir, &["walletbalance"]);
    assert!(ok);
    // Coinbases count from their 100th confirmation: heights 1 and 2 at tip
    // 101 (see fulmen-node's rpc tests); 50 BTC each on regtest.
    assert_eq!(balance["confirmed_sat"], 2 * 50 * COIN);
    assert_eq!(balance["immature_sat"], 99 * 50 * COIN);
    assert_eq!(balance["unconfirmed_sat"], 0);

    let (ok, peers) = client(&datadir, &["listpeers"]);
    assert!(ok);
    assert_eq!(peers["peers"], serde_json::json!([]));

    let invoice = "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql";
    let (ok, decoded) = client(&datadir, &["decode", invoice]);
    assert!(ok);
    assert_eq!(
        decoded["description"],
        "Please consider supporting this project"
    );

    // Failures: non-zero exit, a JSON error on stdout.
    let (ok, err) = client(&datadir, &["listchannels"]);
    assert!(!ok);
    assert_eq!(
        err["error"]["message"],
        "listchannels is not yet implemented"
    );
    let (ok, err) = client(&datadir, &["connect", "not-a-target"]);
    assert!(!ok);
    assert!(err["error"]["code"].is_i64(), "{err}");

    let (ok, stopped) = client(&datadir, &["stop"]);
    assert!(ok, "{stopped}");
    assert!(daemon.wait_exit(), "the daemon exits with success");
    assert!(!datadir.join("rpc.cookie").exists());
    assert!(!datadir.join("rpc.address").exists());

    // No daemon: a JSON error and a failure status.
    let (ok, err) = client(&datadir, &["getinfo"]);
    assert!(!ok);
    assert!(err["error"]["message"].is_string(), "{err}");

    // Restarting keeps the identity and the chain.
    let daemon = Daemon::start(&datadir);
    assert_eq!(daemon.ready["node_id"], node_id.as_str());
    let (_, info) = client(&datadir, &["getinfo"]);
    assert_eq!(info["block_height"], 101);
    let (ok, _) = client(&datadir, &["stop"]);
    assert!(ok);
    assert!(daemon.wait_exit());
}

#[test]
fn help_lists_every_command() {
    let out = fulmen(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in [
        "demo",
        "chain",
        "node",
        "getinfo",
        "newaddress",
        "walletbalance",
        "connect",
        "listpeers",
        "stop",
        "decode",
        "mine",
        "openchannel",
        "listchannels",
        "closechannel",
        "invoice",
        "pay",
        "listinvoices",
        "listpayments",
        "listforwards",
    ] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
    assert!(fulmen(&["node", "--help"]).status.success());
    assert!(fulmen(&["chain", "--help"]).status.success());
}
