//! Crash durability: a child process commits batches in a loop and is killed
//! with SIGKILL at a random point; after reopening, every batch whose commit
//! returned before the kill is there, and the batch in flight is either all
//! there or not there at all.
//!
//! The child is this test executable re-run with `CHILD_ENV` set, running only
//! `crash_child_process_entry`; it prints `COMMITTED <i>` after each commit
//! returns. (SIGKILL stops the process, not the machine: this checks
//! transaction atomicity and recovery of the WAL left behind mid-write; power
//! loss is covered by `synchronous = FULL`, checked in the store's unit tests.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use fulmen_store::{Batch, RevokedCommitment, Store};
use fulmen_types::ChannelId;

const CHILD_ENV: &str = "FULMEN_STORE_CRASH_CHILD_DB";
const SEED_ENV: &str = "FULMEN_STORE_CRASH_SEED";
const CHANNELS: u64 = 8;
const ROUNDS: usize = 16;

fn state(i: u64) -> Vec<u8> {
    let mut s = Vec::with_capacity(2048);
    while s.len() < 2048 {
        s.extend_from_slice(&i.to_be_bytes());
    }
    s
}

fn chan(i: u64) -> ChannelId {
    channel_id((i % CHANNELS) as u8)
}

fn revoked_for(i: u64) -> RevokedCommitment {
    let mut txid = [0xc0; 32];
    txid[..8].copy_from_slice(&i.to_be_bytes());
    RevokedCommitment {
        channel_id: chan(i),
        commitment_number: i,
        txid,
        record: i.to_le_bytes().repeat(8),
    }
}

/// Batch `i`: a channel state, a revoked commitment, an invoice and the
/// counter — four tables, so a torn batch would show.
fn batch_for(i: u64) -> Batch {
    let mut inv = invoice(i);
    inv.label = format!("crash-{i}");
    let mut b = Batch::new();
    b.put_channel(chan(i), peer_id(1), state(i), i)
        .add_revoked_commitment(revoked_for(i))
        .insert_invoice(inv)
        .set_kv("counter", i.to_be_bytes().to_vec());
    b
}

fn counter(store: &Store) -> u64 {
    store
        .get_kv("counter")
        .unwrap()
        .map(|v| u64::from_be_bytes(v.try_into().unwrap()))
        .unwrap_or(0)
}

/// Not a test on its own: the body of the child process.
#[test]
fn crash_child_process_entry() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = Store::open(&path).unwrap();
    let mut out = std::io::stdout().lock();
    for i in counter(&store) + 1.. {
        store.commit(batch_for(i)).unwrap();
        writeln!(out, "COMMITTED {i}").unwrap();
        out.flush().unwrap();
    }
}

/// Checks that batches 1..=c are all there for some c in {last, last + 1},
/// and nothing after c. Returns c.
fn verify(path: &Path, last_reported: u64) -> u64 {
    {
        let raw = rusqlite::Connection::open(path).unwrap();
        let check: String = raw
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
    let store = Store::open(path).unwrap();
    let c = counter(&store);
    assert!(
        c == last_reported || c == last_reported + 1,
        "counter {c} but the child reported {last_reported} as its last commit"
    );
    for i in 1..=c + 1 {
        let present = i <= c;
        let inv = store.invoice_by_label(&format!("crash-{i}")).unwrap();
        assert_eq!(inv.is_some(), present, "invoice of batch {i}");
        let rc = store
            .lookup_revoked_commitment_by_txid(&revoked_for(i).txid)
            .unwrap();
        assert_eq!(
            rc,
            present.then(|| revoked_for(i)),
            "revoked commitment of batch {i}"
        );
    }
    for ch in 0..CHANNELS {
        // The newest batch <= c that wrote this channel.
        let newest = (1..=c).rev().find(|i| i % CHANNELS == ch);
        let stored = store.channel(&channel_id(ch as u8)).unwrap();
        match newest {
            None => assert_eq!(stored, None),
            Some(i) => {
                let stored = stored.unwrap();
                assert_eq!(
                    (stored.state, stored.updated_at),
                    (state(i), i),
                    "channel {ch}"
                );
            }
        }
    }
    let revoked_total: u64 = (0..CHANNELS)
        .map(|ch| {
            store
                .revoked_commitment_count(&channel_id(ch as u8))
                .unwrap()
        })
        .sum();
    assert_eq!(revoked_total, c);
    assert_eq!(store.list_invoices(None).unwrap().len() as u64, c);
    c
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn sigkill_mid_commit_loses_no_returned_batch_and_tears_none() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| RandomState::new().hash_one(std::process::id()) | 1);
    println!("crash test seed {seed} (set {SEED_ENV} to replay)");
    let mut rng = Rng(seed);
    let (_dir, path) = temp_db();
    let exe = std::env::current_exe().unwrap();
    let mut committed = 0u64;
    let mut killed_mid_open = 0;
    for round in 0..ROUNDS {
        // Wait for k commits (0: kill during start-up, maybe mid-migration),
        // then a random extra delay so the kill lands anywhere in the next
        // commit.
        let k = if round == 0 || rng.below(4) == 0 {
            0
        } else {
            1 + rng.below(60)
        };
        let delay = Duration::from_micros(if k == 0 {
            rng.below(10_000)
        } else {
            rng.below(4_000)
        });
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_process_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut last = committed;
        // (libtest may print "test crash_child_process_entry ... " on the same
        // line before the first report.)
        let parse = |line: &str| {
            line.split_once("COMMITTED ")
                .map(|(_, n)| n.trim().parse::<u64>().unwrap())
        };
        let mut seen = 0;
        while seen < k {
            let Some(line) = lines.next() else { break };
            if let Some(i) = parse(&line.unwrap()) {
                assert_eq!(
                    i,
                    last + 1,
                    "the child resumes after the last durable batch"
                );
                last = i;
                seen += 1;
            }
        }
        std::thread::sleep(delay);
        let exited_on_its_own = child.try_wait().unwrap();
        child.kill().unwrap(); // SIGKILL
                               // Lines already in the pipe were written after their commit returned.
        for line in lines {
            if let Some(i) = parse(&line.unwrap()) {
                assert_eq!(i, last + 1);
                last = i;
            }
        }
        let status = child.wait().unwrap();
        if let Some(status) = exited_on_its_own {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("child exited by itself ({status}): {err}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "the child died of SIGKILL");
        }
        if last == committed {
            killed_mid_open += 1;
        }
        let c = verify(&path, last);
        println!(
            "round {round}: waited for {k} commits + {delay:?}; child reported {last}, store holds {c}{}",
            if c > last { " (the batch in flight had committed)" } else { "" }
        );
        committed = c;
    }
    assert!(committed > 0, "the children committed something");
    println!(
        "{committed} batches in total; {killed_mid_open} kills before the first commit of a run"
    );
}
