//! Gossip validation of 60,000 signed `channel_announcement`s from the
//! synthetic mainnet-sized graph (seed 42): the four signatures, node id
//! order, chain and features of each (`verify_channel_announcement`, what
//! `NetworkGraph::add_channel` runs before inserting).
//!
//! Prints the time for all 60,000 on 1 thread and on 2 threads
//! (`std::thread::scope`, half each), against the 6 s on 2 cores,
//! then criterion's figure for one announcement. Under `cargo test` (no
//! `--bench`) only 200 announcements are signed and checked.
//!
//! `cargo bench -p fulmen-graph --bench validate`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::{Duration, Instant};

use bitcoin::secp256k1::Secp256k1;
use criterion::{criterion_group, criterion_main, Criterion};
use fulmen_graph::synthetic::{SyntheticGraph, SyntheticParams};
use fulmen_graph::validate::verify_channel_announcement;
use fulmen_wire::ChannelAnnouncement;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Whether the target is met; under `cargo test` the graph is
/// small and the verdict means nothing.
fn verdict(ok: bool) -> &'static str {
    match (full(), ok) {
        (false, _) => "not judged (cargo test: small graph)",
        (true, true) => "met",
        (true, false) => "NOT met",
    }
}

/// Signs the announcements on every core (set-up, not measured).
fn announcements(g: &SyntheticGraph, n: usize) -> Vec<ChannelAnnouncement> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let secp = Secp256k1::new();
                    (t * chunk..((t + 1) * chunk).min(n))
                        .map(|i| g.channel_announcement(&secp, i).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

fn verify_all(anns: &[ChannelAnnouncement], threads: usize) -> Duration {
    let chain = fulmen_graph::testing::test_chain();
    let chunk = anns.len().div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|s| {
        for part in anns.chunks(chunk) {
            s.spawn(move || {
                let secp = Secp256k1::verification_only();
                for a in part {
                    verify_channel_announcement(&secp, a, chain).unwrap();
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let p = if full() {
        SyntheticParams::mainnet(42)
    } else {
        SyntheticParams::scaled(42, 100, 200)
    };
    let g = SyntheticGraph::generate(p);
    let t = Instant::now();
    let anns = announcements(&g, g.channels.len());
    println!(
        "signed {} channel_announcements in {:.1} s (set-up)",
        anns.len(),
        t.elapsed().as_secs_f64()
    );
    let one = verify_all(&anns, 1).as_secs_f64();
    let two = verify_all(&anns, 2).as_secs_f64();
    let scale = 60_000.0 / anns.len() as f64;
    println!(
        "validation of {} channel_announcements (4 signatures each): 1 thread {one:.2} s, \
         2 threads {two:.2} s; at 60,000: {:.2} s on 2 threads, target <= 6 s: {}",
        anns.len(),
        two * scale,
        verdict(two * scale <= 6.0)
    );

    let secp = Secp256k1::verification_only();
    let chain = g.chain();
    let mut group = c.benchmark_group("validate");
    group.sample_size(20);
    let mut i = 0usize;
    group.bench_function("channel_announcement", |b| {
        b.iter(|| {
            i += 1;
            verify_channel_announcement(&secp, &anns[i % anns.len()], chain).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
