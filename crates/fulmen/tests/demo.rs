//! `fulmen demo` runs and reports the seeds' hop amounts and expiries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

#[test]
fn wire_demo_reports_each_hop_fee_and_expiry() {
    let out = Command::new(env!("CARGO_BIN_EXE_fulmen"))
        .args(["demo", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["scenario"], "wire");
    let hops: Vec<&serde_json::Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["data"]["fee_msat"].is_u64())
        .collect();
    // Bob, Carol and Diana each forward for a flat 0.001 BTC and 40 blocks.
    let names: Vec<&str> = hops
        .iter()
        .map(|h| h["data"]["node"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bob", "Carol", "Diana"]);
    let outs: Vec<u64> = hops
        .iter()
        .map(|h| h["data"]["out_msat"].as_u64().unwrap())
        .collect();
    assert_eq!(outs, [100_200_000_000, 100_100_000_000, 100_000_000_000]);
    for h in &hops {
        assert_eq!(h["data"]["fee_msat"], 100_000_000);
        let (i, o) = (
            h["data"]["in_cltv"].as_u64().unwrap(),
            h["data"]["out_cltv"].as_u64().unwrap(),
        );
        assert_eq!(i - o, 40);
    }
    let final_hop = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["data"]["secret_ok"].is_boolean())
        .unwrap();
    assert_eq!(final_hop["data"]["secret_ok"], true);
    assert_eq!(final_hop["data"]["amount_msat"], 100_000_000_000u64);
}

#[test]
fn unknown_scenario_fails_with_json_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_fulmen"))
        .args(["demo", "--scenario", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(err["error"].as_str().unwrap().contains("unknown scenario"));
}
