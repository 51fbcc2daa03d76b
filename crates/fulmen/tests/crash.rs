//! Crash tests: a `fulmen node` daemon killed with SIGKILL at
//! each persistence point of an HTLC add and settle, through the
//! `FULMEN_CRASH_AT` test hook, then restarted: the payment completes or
//! fails cleanly, no msat is lost, no channel is force-closed.
//!
//! The payer A pays invoices of the payee B over their channel. For each
//! side, the daemon is restarted with `FULMEN_CRASH_AT=commit:N` for N = 1,
//! 2, … (the N-th commit of any kind after its start, which walks every
//! persistence point of one payment in order) until a payment goes through
//! without reaching the N-th commit; then the named points
//! (`payment_created`, `payment_succeeded`, `invoice_paid`,
//! `send_update_fulfill_htlc`) once more.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

const CAPACITY_MSAT: u64 = 1_000_000_000;
const AMOUNT_MSAT: u64 = 1_234_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    A,
    B,
}

struct Pair {
    _dir: tempfile::TempDir,
    da: PathBuf,
    db: PathBuf,
    a: Option<Daemon>,
    b: Option<Daemon>,
    a_listen: String,
    b_listen: String,
    chain_rpc: String,
    channel: String,
    invoices: u32,
}

impl Pair {
    fn a_args(&self) -> Vec<String> {
        vec![
            "--chain-rpc-listen".into(),
            self.chain_rpc.clone(),
            "--chain-rpc-password".into(),
            "secret".into(),
        ]
    }

    fn b_args(&self) -> Vec<String> {
        vec![
            "--bitcoind-rpc".into(),
            format!("http://fulmen:secret@{}", self.chain_rpc),
        ]
    }

    fn start(&mut self, side: Side, env: &[(&str, &str)]) {
        let (dir, listen, args) = match side {
            Side::A => (self.da.clone(), self.a_listen.clone(), self.a_args()),
            Side::B => (self.db.clone(), self.b_listen.clone(), self.b_args()),
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let d = Daemon::start_on(&dir, &listen, &args, env);
        match side {
            Side::A => self.a = Some(d),
            Side::B => self.b = Some(d),
        }
    }

    fn daemon(&mut self, side: Side) -> &mut Daemon {
        match side {
            Side::A => self.a.as_mut().unwrap(),
            Side::B => self.b.as_mut().unwrap(),
        }
    }

    fn dir(&self, side: Side) -> &PathBuf {
        match side {
            Side::A => &self.da,
            Side::B => &self.db,
        }
    }

    fn stop(&mut self, side: Side) {
        let dir = self.dir(side).clone();
        ok(&dir, &["stop"]);
        let d = match side {
            Side::A => self.a.take().unwrap(),
            Side::B => self.b.take().unwrap(),
        };
        assert!(d.wait_exit());
    }

    fn b_target(&self) -> String {
        format!("{}@{}", self.b.as_ref().unwrap().node_id(), self.b_listen)
    }

    /// A connects to B (again) and both resume the channel.
    fn reconnect(&mut self) {
        let target = self.b_target();
        let da = self.da.clone();
        wait_until("A to connect to B", || {
            client(&da, &["connect", &target]).0.then_some(())
        });
        wait_normal(&self.da, &self.channel);
        wait_normal(&self.db, &self.channel);
    }

    fn balances(&self) -> (u64, u64) {
        let a = wait_normal(&self.da, &self.channel);
        let b = wait_normal(&self.db, &self.channel);
        let a_local = a["local_balance_msat"].as_u64().unwrap();
        let b_local = b["local_balance_msat"].as_u64().unwrap();
        assert_eq!(a_local + b_local, CAPACITY_MSAT, "msat lost: {a} {b}");
        assert_eq!(a["remote_balance_msat"], b_local);
        assert_eq!(b["remote_balance_msat"], a_local);
        (a_local, b_local)
    }
}

fn setup() -> Pair {
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
    let address = ok(&da, &["newaddress"])["address"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&da, &["mine", "1", "--address", &address]);
    ok(&da, &["mine", "100", "--address", &burn]);
    ok(&da, &["connect", &b.target()]);
    let opened = ok(&da, &["openchannel", &b.node_id(), "1000000"]);
    let channel = opened["channel_id"].as_str().unwrap().to_owned();
    ok(&da, &["mine", "3", "--address", &burn]);
    wait_normal(&da, &channel);
    wait_normal(&db, &channel);
    Pair {
        a_listen: a.ready["listen"].as_str().unwrap().to_owned(),
        b_listen: b.ready["listen"].as_str().unwrap().to_owned(),
        a: Some(a),
        b: Some(b),
        _dir: dir,
        da,
        db,
        chain_rpc,
        channel,
        invoices: 0,
    }
}

/// The payment, if the node answers and has it.
fn payment(dir: &std::path::Path, hash: &str) -> Option<Value> {
    let (answered, list) = client(dir, &["listpayments"]);
    if !answered {
        return None;
    }
    list["payments"]
        .as_array()?
        .iter()
        .find(|p| p["payment_hash"] == hash)
        .cloned()
}

fn invoice(dir: &std::path::Path, hash: &str) -> Value {
    ok(dir, &["listinvoices"])["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["payment_hash"] == hash)
        .cloned()
        .expect("invoice listed")
}

/// One payment with `victim` armed to abort at `point`. Returns whether it
/// aborted.
fn crash_case(p: &mut Pair, victim: Side, point: &str) -> bool {
    // The invoice first: creating it is a commit of B's too.
    p.invoices += 1;
    let label = format!("crash-{}", p.invoices);
    let inv = ok(
        &p.db,
        &["invoice", &AMOUNT_MSAT.to_string(), &label, "crash"],
    );
    let hash = inv["payment_hash"].as_str().unwrap().to_owned();
    let bolt11 = inv["bolt11"].as_str().unwrap().to_owned();
    p.stop(victim);
    p.start(victim, &[("FULMEN_CRASH_AT", point)]);
    p.reconnect();
    let (a0, b0) = p.balances();
    let da = p.da.clone();
    let payer = std::thread::spawn(move || client(&da, &["pay", &bolt11]));

    // Either the victim aborts, or the payment completes without it.
    let crashed = wait_until("the victim to abort or the payment to end", || {
        if p.daemon(victim).exited() {
            return Some(true);
        }
        let done = payment(&p.da, &hash).is_some_and(|x| x["status"] != "pending");
        done.then_some(false)
    });
    if crashed {
        let d = match victim {
            Side::A => p.a.take().unwrap(),
            Side::B => p.b.take().unwrap(),
        };
        d.wait_crash();
        p.start(victim, &[]);
        p.reconnect();
    }
    let (ok_pay, answer) = payer.join().unwrap();
    if !crashed || victim == Side::B {
        // The payer's `pay` waited for the outcome, across B's restart.
        assert!(ok_pay, "{point}: {answer}");
    }

    // The outcome is recorded, consistent on both sides, and no msat moved
    // anywhere else.
    let outcome = wait_until("the payment's outcome", || {
        payment(&p.da, &hash).filter(|x| x["status"] != "pending")
    });
    let (a1, b1) = p.balances();
    let inv = invoice(&p.db, &hash);
    match outcome["status"].as_str().unwrap() {
        "complete" => {
            assert_eq!((a1, b1), (a0 - AMOUNT_MSAT, b0 + AMOUNT_MSAT), "{point}");
            assert_eq!(inv["status"], "paid", "{point}");
            assert_eq!(inv["amount_received_msat"], AMOUNT_MSAT);
        }
        "failed" => {
            assert_eq!((a1, b1), (a0, b0), "{point}");
            assert_eq!(inv["status"], "unpaid", "{point}");
        }
        other => panic!("{point}: status {other}"),
    }
    if ok_pay && answer.get("status").is_some() {
        assert_eq!(answer["status"], outcome["status"], "{point}");
    }
    for dir in [&p.da, &p.db] {
        let c = channel(dir, &p.channel).unwrap();
        assert_eq!(c["state"], "normal", "{point}: force-closed? {c}");
    }
    eprintln!(
        "{victim:?} {point}: crashed {crashed}, {}",
        outcome["status"]
    );
    if !crashed {
        // Disarm the hook.
        p.stop(victim);
        p.start(victim, &[]);
        p.reconnect();
    }
    crashed
}

#[test]
fn crashes_at_each_persistence_point_of_a_payment() {
    let mut p = setup();
    let mut points = 0;
    for victim in [Side::B, Side::A] {
        let mut n = 1;
        while crash_case(&mut p, victim, &format!("commit:{n}")) {
            points += 1;
            n += 1;
            assert!(n < 20, "a payment should not take 20 commits");
        }
        assert!(n > 2, "{victim:?}: at least two persistence points");
    }
    for (victim, point) in [
        (Side::A, "payment_created"),
        (Side::A, "send_update_add_htlc"),
        (Side::A, "payment_succeeded"),
        (Side::B, "invoice_paid"),
        (Side::B, "send_update_fulfill_htlc"),
        (Side::B, "send_revoke_and_ack"),
        (Side::A, "send_revoke_and_ack:2"),
    ] {
        assert!(crash_case(&mut p, victim, point), "{point} never reached");
        points += 1;
    }
    eprintln!("{points} crash points survived");
    // A last payment without any hook.
    let inv = ok(&p.db, &["invoice", "1000", "final", "after the crashes"]);
    let paid = ok(&p.da, &["pay", inv["bolt11"].as_str().unwrap()]);
    assert_eq!(paid["status"], "complete");
    p.stop(Side::B);
    p.stop(Side::A);
}
