//! Routing on the synthetic mainnet-sized graph
//! (`fulmen_graph::synthetic`, seed 42: 15,000 nodes, 60,000 channels),
//! built with the trusted insertions.
//!
//! Prints:
//!
//! * the graph's memory: `approx_memory_bytes` and, as a rough check on
//!   that estimate, how much the process's resident memory grew while the
//!   graph was built (Linux only; the allocator may reuse freed memory, so
//!   this is indicative);
//! * single-path routes (50,000 sat) between 200 random pairs: p50 and p90
//!   in ms, against the 5 ms p50 target;
//! * an MPP route for an amount no single path carries (found by trying
//!   pairs and amounts): the time and the number of parts;
//!
//! then criterion's figures for a single-path route and the MPP route.
//! Under `cargo test` (no `--bench`) the graph is 1/20 of the size.
//!
//! `cargo bench -p fulmen-graph --bench route`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use fulmen_graph::synthetic::{SyntheticGraph, SyntheticParams};
use fulmen_graph::{
    find_mpp_route, find_route, Exclusions, NetworkGraph, ProbabilisticScorer, RouteParams,
    ScorerParams,
};
use fulmen_types::{Msat, NodeId};

/// Resident memory (Linux `/proc/self/statm`), bytes; 0 elsewhere.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

const HEIGHT: u32 = 800_000;
const SINGLE_SAT: u64 = 50_000;

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

fn params() -> SyntheticParams {
    if full() {
        SyntheticParams::mainnet(42)
    } else {
        SyntheticParams::scaled(42, 750, 3000)
    }
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

struct Setup {
    graph: NetworkGraph,
    synthetic: SyntheticGraph,
    scorer: ProbabilisticScorer,
}

fn setup() -> Setup {
    let synthetic = SyntheticGraph::generate(params());
    let before = rss();
    let graph = synthetic.build_graph();
    let kept = rss().saturating_sub(before);
    let approx = graph.approx_memory_bytes();
    println!(
        "graph: {} nodes, {} channels; approx_memory_bytes {:.1} MB ({} bytes/channel); \
         resident memory grew by {:.1} MB; target <= 25 MB: {}",
        graph.num_nodes(),
        graph.num_channels(),
        mb(approx),
        approx / graph.num_channels().max(1),
        mb(kept),
        if approx <= 25_000_000 {
            "met"
        } else {
            "NOT met"
        }
    );
    Setup {
        graph,
        synthetic,
        scorer: ProbabilisticScorer::new(ScorerParams::default()),
    }
}

fn single(s: &Setup, from: &NodeId, to: &NodeId, sat: u64) -> bool {
    let p = RouteParams::new(*to, Msat(sat * 1000), 40);
    find_route(
        &s.graph,
        from,
        &[],
        &p,
        &s.scorer,
        HEIGHT,
        &Exclusions::new(),
    )
    .is_ok()
}

fn mpp_parts(s: &Setup, from: &NodeId, to: &NodeId, sat: u64) -> Option<usize> {
    let p = RouteParams::new(*to, Msat(sat * 1000), 40);
    find_mpp_route(
        &s.graph,
        from,
        &[],
        &p,
        &s.scorer,
        HEIGHT,
        &Exclusions::new(),
    )
    .ok()
    .map(|r| r.len())
}

/// A pair and amount that needs more than one part.
fn mpp_case(s: &Setup) -> Option<(NodeId, NodeId, u64)> {
    for (a, b) in s.synthetic.random_pairs(400, 7) {
        for sat in [20_000_000u64, 50_000_000, 100_000_000] {
            if !single(s, &a, &b, sat) && mpp_parts(s, &a, &b, sat).is_some_and(|n| n > 1) {
                return Some((a, b, sat));
            }
        }
    }
    None
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let route_pairs = s.synthetic.random_pairs(200, 1);
    let mut times = Vec::new();
    let mut failed = 0;
    for (a, b) in &route_pairs {
        let t = Instant::now();
        if !single(&s, a, b, SINGLE_SAT) {
            failed += 1;
        }
        times.push(t.elapsed());
    }
    times.sort();
    let p50 = pct(&times, 50);
    println!(
        "single-path route, {SINGLE_SAT} sat, {} random pairs ({failed} without a route): \
         p50 {p50:.2} ms, p90 {:.2} ms, max {:.2} ms; target p50 <= 5 ms: {}",
        times.len(),
        pct(&times, 90),
        times.last().unwrap().as_secs_f64() * 1e3,
        verdict(p50 <= 5.0)
    );

    let mpp = mpp_case(&s);
    match &mpp {
        Some((a, b, sat)) => {
            let mut t = Vec::new();
            let mut parts = 0;
            for _ in 0..10 {
                let start = Instant::now();
                parts = mpp_parts(&s, a, b, *sat).unwrap();
                t.push(start.elapsed());
            }
            t.sort();
            println!(
                "MPP route, {sat} sat (no single path): {parts} parts, p50 {:.2} ms over 10 runs",
                pct(&t, 50)
            );
        }
        None => println!("MPP route: no pair found that needs splitting"),
    }

    let mut group = c.benchmark_group("route");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    let mut i = 0usize;
    group.bench_function("single_path_50k_sat", |bench| {
        bench.iter(|| {
            let (a, b) = &route_pairs[i % route_pairs.len()];
            i += 1;
            single(&s, a, b, SINGLE_SAT)
        })
    });
    if let Some((a, b, sat)) = &mpp {
        group.bench_function("mpp", |bench| bench.iter(|| mpp_parts(&s, a, b, *sat)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
