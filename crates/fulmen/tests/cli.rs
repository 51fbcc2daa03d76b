//! End to end: the `fulmen node` daemon and the client commands, as
//! separate processes talking JSON-RPC over TCP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;

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

    let (ok, channels) = client(&datadir, &["listchannels"]);
    assert!(ok);
    assert_eq!(channels["channels"], serde_json::json!([]));

    // Failures: non-zero exit, a JSON error on stdout.
    let (ok, err) = client(&datadir, &["openchannel", &node_id, "100000"]);
    assert!(!ok);
    assert_eq!(err["error"]["message"], "peer not connected");
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
        "keysend",
    ] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
    assert!(fulmen(&["node", "--help"]).status.success());
    assert!(fulmen(&["chain", "--help"]).status.success());
}
