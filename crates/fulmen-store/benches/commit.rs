//! Group commit throughput: one `Store::commit` of N channel-state writes
//! (N = 1, 10, 100; 2 KB blobs, overwriting existing channel rows) with
//! `synchronous = FULL` in WAL mode, on the disk under the target directory.
//! Prints commits/s and channel-writes/s for each N.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::cell::Cell;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fulmen_store::{Batch, Store};
use fulmen_types::{ChannelId, NodeId};

const BLOB: usize = 2048;

fn channel(i: usize) -> ChannelId {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&(i as u64).to_be_bytes());
    ChannelId(id)
}

fn peer() -> NodeId {
    let mut id = [7u8; 33];
    id[0] = 2;
    NodeId(id)
}

fn blob(seed: u64) -> Vec<u8> {
    // Cheap pseudo-random bytes so that consecutive states differ.
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..BLOB)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn batch(n: usize, round: u64) -> Batch {
    let mut b = Batch::new();
    for i in 0..n {
        b.put_channel(channel(i), peer(), blob(round * 1000 + i as u64), round);
    }
    b
}

fn group_commit(c: &mut Criterion) {
    let dir = tempfile::Builder::new()
        .prefix("fulmen-store-bench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    println!("database directory: {}", dir.path().display());
    let mut group = c.benchmark_group("group_commit");
    group.sample_size(10);
    let mut summary = Vec::new();
    for n in [1usize, 10, 100] {
        let mut store = Store::open(dir.path().join(format!("n{n}.sqlite3"))).unwrap();
        store.commit(batch(n, 0)).unwrap();
        let round = Cell::new(1u64);
        let commits = Cell::new(0u64);
        let spent = Cell::new(Duration::ZERO);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(
            BenchmarkId::new("channel_writes_per_commit", n),
            |bencher| {
                bencher.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let b = batch(n, round.get());
                        round.set(round.get() + 1);
                        let start = Instant::now();
                        store.commit(b).unwrap();
                        total += start.elapsed();
                    }
                    commits.set(commits.get() + iters);
                    spent.set(spent.get() + total);
                    total
                })
            },
        );
        let per_commit = spent.get().as_secs_f64() / commits.get().max(1) as f64;
        let line = format!(
            "N={n:>3}: {:>8.1} commits/s, {:>9.1} channel-writes/s ({:.3} ms per commit, mean of {} commits incl. warm-up)",
            1.0 / per_commit,
            n as f64 / per_commit,
            per_commit * 1e3,
            commits.get()
        );
        println!("{line}");
        summary.push(line);
    }
    group.finish();
    println!("\ngroup commit, synchronous=FULL, WAL, {BLOB}-byte channel states:");
    for line in summary {
        println!("  {line}");
    }
}

criterion_group!(benches, group_commit);
criterion_main!(benches);
