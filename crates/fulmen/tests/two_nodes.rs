//! Two `fulmen node` processes driven only through the command line, as a
//! new user would: the first node serves its embedded chain, the second
//! follows it with `--bitcoind-rpc`; connect, open a channel, mine, pay 100
//! invoices (and a keysend), close cooperatively, and find the balances in
//! both wallets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;

const INVOICES: u64 = 100;
const INVOICE_MSAT: u64 = 100_000;

#[test]
fn two_daemons_open_pay_100_invoices_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    let a = Daemon::start_with(
        &da,
        &[
            "--chain-rpc-listen",
            "127.0.0.1:0",
            "--chain-rpc-password",
            "secret",
        ],
        &[],
    );
    let chain_rpc = a.ready["chain_rpc"].as_str().unwrap().to_owned();
    let b = Daemon::start_with(
        &db,
        &[
            "--bitcoind-rpc",
            &format!("http://fulmen:secret@{chain_rpc}"),
        ],
        &[],
    );
    let burn = burn_address();

    // Coins for A: one coinbase, matured by 100 blocks paid elsewhere.
    let address = ok(&da, &["newaddress"])["address"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&da, &["mine", "1", "--address", &address]);
    ok(&da, &["mine", "100", "--address", &burn]);
    assert_eq!(ok(&da, &["walletbalance"])["confirmed_sat"], 50 * COIN);
    wait_until("B to follow the chain", || {
        (ok(&db, &["getinfo"])["block_height"] == 101).then_some(())
    });

    ok(&da, &["connect", &b.target()]);
    assert_eq!(ok(&db, &["listpeers"])["peers"][0]["id"], a.node_id());
    let opened = ok(&da, &["openchannel", &b.node_id(), "1000000"]);
    let id = opened["channel_id"].as_str().unwrap().to_owned();
    assert_eq!(channel(&da, &id).unwrap()["state"], "opening");
    ok(&da, &["mine", "3", "--address", &burn]);
    let info = wait_normal(&da, &id);
    assert_eq!(info["capacity_sat"], 1_000_000);
    assert_eq!(info["local_balance_msat"], 1_000_000_000u64);
    assert_eq!(info["peer_id"], b.node_id());
    assert!(info["short_channel_id"].is_string(), "{info}");
    wait_normal(&db, &id);
    assert_eq!(ok(&da, &["getinfo"])["num_channels"], 1);

    for i in 0..INVOICES {
        let label = format!("invoice-{i}");
        let invoice = ok(
            &db,
            &["invoice", &INVOICE_MSAT.to_string(), &label, "coffee"],
        );
        let bolt11 = invoice["bolt11"].as_str().unwrap();
        let paid = ok(&da, &["pay", bolt11]);
        assert_eq!(paid["status"], "complete", "{paid}");
        assert_eq!(paid["payment_hash"], invoice["payment_hash"]);
        assert_eq!(paid["fee_msat"], 0);
        assert!(paid["payment_preimage"].is_string());
    }
    let keysend = ok(&da, &["keysend", &b.node_id(), "5000"]);
    assert_eq!(keysend["status"], "complete", "{keysend}");
    let paid_in = INVOICES * INVOICE_MSAT + 5_000;

    let invoices = ok(&db, &["listinvoices"]);
    let invoices = invoices["invoices"].as_array().unwrap();
    assert_eq!(invoices.len() as u64, INVOICES + 1);
    assert!(invoices.iter().all(|i| i["status"] == "paid"));
    let payments = ok(&da, &["listpayments"]);
    let payments = payments["payments"].as_array().unwrap();
    assert_eq!(payments.len() as u64, INVOICES + 1);
    assert!(payments.iter().all(|p| p["status"] == "complete"));
    let info = wait_normal(&da, &id);
    assert_eq!(info["remote_balance_msat"], paid_in);
    wait_normal(&db, &id);

    // Close cooperatively; both balances land in the wallets.
    let a_before = ok(&da, &["walletbalance"])["confirmed_sat"]
        .as_u64()
        .unwrap();
    let closed = ok(&da, &["closechannel", &id]);
    assert_eq!(closed["type"], "mutual");
    assert!(closed["txid"].is_string());
    ok(&da, &["mine", "1", "--address", &burn]);
    let b_sat = paid_in / 1000;
    wait_until("B's share in its wallet", || {
        (ok(&db, &["walletbalance"])["confirmed_sat"] == b_sat).then_some(())
    });
    let a_after = wait_until("A's share in its wallet", || {
        let sat = ok(&da, &["walletbalance"])["confirmed_sat"].as_u64()?;
        (sat > a_before).then_some(sat)
    });
    // A gets its balance back minus the closing fee (it funded).
    let a_share = 1_000_000 - b_sat;
    assert!(
        a_after <= a_before + a_share && a_after > a_before + a_share - 10_000,
        "A: {a_before} -> {a_after}, share {a_share}"
    );
    // Over the whole run A lost B's share and two transaction fees.
    assert!(a_after < 50 * COIN - b_sat && a_after > 50 * COIN - b_sat - 50_000);
    wait_until("the channel closed on both sides", || {
        let a_state = channel(&da, &id)?["state"].clone();
        let b_state = channel(&db, &id)?["state"].clone();
        (a_state == "closed" && b_state == "closed").then_some(())
    });

    assert!(ok(&db, &["stop"])["status"] == "stopping");
    assert!(b.wait_exit());
    assert!(ok(&da, &["stop"])["status"] == "stopping");
    assert!(a.wait_exit());
}
