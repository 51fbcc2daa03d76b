//! `fulmen demo` runs and reports the seeds' hop amounts and expiries: the
//! `route` scenario with five real nodes (the seeds' balances exactly), and
//! the `wire` scenario with the protocol pieces alone.
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
        .args(["demo", "--scenario", "wire", "--json"])
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

#[test]
fn route_demo_pays_through_three_forwarders_with_the_seeds_balances() {
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
    assert_eq!(doc["scenario"], "route");
    let btc = 100_000_000_000u64;
    let milli = 100_000_000u64;
    assert_eq!(doc["payment"]["amount_msat"], btc);
    assert_eq!(doc["payment"]["fee_msat"], 3 * milli);
    assert_eq!(
        doc["payment"]["route"],
        serde_json::json!(["Bob", "Carol", "Diana", "Eric"])
    );
    assert_eq!(doc["payment"]["preimage"].as_str().unwrap().len(), 64);
    // The seeds' numbers: before 2 / 2 everywhere; after as the seeds say.
    let expected_after = [
        ("Alice", btc - 3 * milli, "Bob", 3 * btc + 3 * milli),
        ("Bob", btc - 2 * milli, "Carol", 3 * btc + 2 * milli),
        ("Carol", btc - milli, "Diana", 3 * btc + milli),
        ("Diana", btc, "Eric", 3 * btc),
    ];
    let channels = doc["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 4);
    for (ch, (l, la, r, ra)) in channels.iter().zip(expected_after) {
        assert_eq!(ch["between"], serde_json::json!([l, r]));
        assert_eq!(ch["before_msat"][l], 2 * btc);
        assert_eq!(ch["before_msat"][r], 2 * btc);
        assert_eq!(ch["after_msat"][l], la, "{l}");
        assert_eq!(ch["after_msat"][r], ra, "{r}");
    }
    // Each forwarder's HTLC: a flat 0.001 BTC fee and 40 blocks of delta,
    // each expiring earlier than the one before it.
    let hops: Vec<&serde_json::Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["data"]["fee_msat"].is_u64() && s["data"]["next"].is_string())
        .collect();
    let names: Vec<&str> = hops
        .iter()
        .map(|h| h["data"]["node"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bob", "Carol", "Diana"]);
    let mut last_out = u64::MAX;
    for h in &hops {
        assert_eq!(h["data"]["fee_msat"], milli);
        let (i, o) = (
            h["data"]["in_cltv"].as_u64().unwrap(),
            h["data"]["out_cltv"].as_u64().unwrap(),
        );
        assert_eq!(i - o, 40);
        if last_out != u64::MAX {
            assert_eq!(i, last_out, "what one hop offers is what the next receives");
        }
        assert!(o < i);
        last_out = o;
    }
    // The preimage travelled back through Diana, Carol and Bob.
    let back: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["data"]["preimage"].is_string() && s["data"]["node"].is_string())
        .map(|s| s["data"]["node"].as_str().unwrap())
        .collect();
    assert_eq!(back, ["Eric", "Diana", "Carol", "Bob"]);
    // The cooperative close confirmed on chain.
    let close = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["data"]["outputs"].is_array())
        .unwrap();
    assert_eq!(close["data"]["outputs"].as_array().unwrap().len(), 2);
}

fn run_json(scenario: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_fulmen"))
        .args(["demo", "--scenario", scenario, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["scenario"], scenario);
    doc
}

/// What the commitment, anchors and sweeps may cost at most, in sat.
const FEE_BOUND_SAT: u64 = 20_000;
const COIN: u64 = 100_000_000;

/// BOLT 5 "Revoked Transaction Close Handling": Irene publishes her first
/// commitment, revoked since she paid Hitesh 2 BTC; Hitesh's node sweeps
/// all 10 BTC (minus fees) long before her `to_self_delay` runs out.
#[test]
fn breach_demo_sweeps_the_whole_channel_before_the_delay() {
    let doc = run_json("breach");
    let b = &doc["breach"];
    let swept = b["swept_sat"].as_u64().unwrap();
    let fees = b["fees_sat"].as_u64().unwrap();
    assert!(
        swept > 10 * COIN - FEE_BOUND_SAT && swept < 10 * COIN,
        "{swept}"
    );
    assert_eq!(swept + fees, 10 * COIN);
    let margin = b["blocks_before_delay_expired"].as_u64().unwrap();
    let delay = b["to_self_delay"].as_u64().unwrap();
    assert!(margin > 0 && margin >= delay - 3, "{margin} of {delay}");
    assert_ne!(b["revoked_commitment_txid"], b["justice_txid"]);
    assert_eq!(b["justice_txid"].as_str().unwrap().len(), 64);
    // Hitesh 7 / Irene 3 after the payment, 5 / 5 in the copy.
    let msat: Vec<&serde_json::Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["data"].get("msat"))
        .collect();
    let btc = 100_000_000_000u64;
    assert_eq!(msat[0], &serde_json::json!([5 * btc, 5 * btc]));
    assert_eq!(msat[1], &serde_json::json!([7 * btc, 3 * btc]));
}

/// BOLT 5 "Unilateral Close Handling" with two HTLCs in flight: each is
/// claimed on chain by its payee, both payments succeed from the
/// preimages seen on chain, and each side's wallet ends with its balance
/// plus the HTLC it received, within a fee bound.
#[test]
fn force_close_demo_resolves_the_htlcs_and_both_balances_on_chain() {
    let doc = run_json("force-close");
    let f = &doc["force_close"];
    for who in ["judy", "karl"] {
        let got = f[format!("{who}_received_sat")].as_u64().unwrap();
        let expected = f[format!("{who}_expected_sat")].as_u64().unwrap();
        assert!(
            got <= expected && got > expected - FEE_BOUND_SAT,
            "{who}: {got} of {expected}"
        );
    }
    assert_eq!(f["judy_expected_sat"], 15 * COIN / 10);
    assert_eq!(f["karl_expected_sat"], 25 * COIN / 10);
    // Judy's part is claimed by Karl once his set is complete (the rest
    // came over the second channel): her payment succeeded. Karl's part
    // never completed Judy's set: Judy's node does not claim it, it times
    // out back to Karl after its expiry and his payment fails.
    let htlcs = f["htlcs"].as_array().unwrap();
    assert!(
        htlcs[0]["payment"]
            .as_str()
            .unwrap()
            .starts_with("succeeded"),
        "{}",
        htlcs[0]
    );
    assert_eq!(htlcs[1]["payment"], "failed", "{}", htlcs[1]);
    assert!(htlcs[1]["height"].as_u64().unwrap() > htlcs[1]["expiry"].as_u64().unwrap());
    // Karl's listchannels showed what the close left on chain.
    let mut kinds: Vec<&str> = f["pending_after_close"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["anchor", "htlc_success", "htlc_timeout", "to_local"],
        "{f}"
    );
    // The to_local only after the delay.
    let delay = f["to_self_delay"].as_u64().unwrap();
    let at = f["to_local_swept_at"].as_u64().unwrap();
    assert!(at >= f["commitment_height"].as_u64().unwrap() + delay);
}
