//! Loading the network graph from the gossip store: the synthetic
//! mainnet-sized graph's signed messages (`fulmen_graph::synthetic`, seed
//! 42: 60,000 `channel_announcement`s, their `channel_update`s and 15,000
//! `node_announcement`s) are written into a store in a temporary directory
//! under the target directory, then read back in load order
//! (`Store::visit_gossip`) into a `NetworkGraph` with the trusted loaders,
//! as the node's gossip thread does at start.
//!
//! Prints the load time (best and median of 5) against the 300 ms
//! target, then criterion's figure. Under `cargo test` (no `--bench`) the
//! graph is 1/100 of the size.
//!
//! `cargo bench -p fulmen-store --bench gossip_load`

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
use fulmen_graph::NetworkGraph;
use fulmen_store::{Batch, ChannelFunding, GossipKey, Store};
use fulmen_types::Sat;
use fulmen_wire::WireMessage;

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

/// The encoded messages of channels `range` (and nothing else), signed.
fn batch_for(g: &SyntheticGraph, range: std::ops::Range<usize>) -> Batch {
    let secp = Secp256k1::new();
    let mut b = Batch::new();
    for i in range {
        let c = &g.channels[i];
        let ann = g.channel_announcement(&secp, i).unwrap();
        let mut txid = [0u8; 32];
        txid[..8].copy_from_slice(&c.short_channel_id.0.to_be_bytes());
        let funding = ChannelFunding {
            capacity_sat: c.capacity.0,
            txid,
            vout: 0,
        };
        b.put_gossip_channel(
            c.short_channel_id,
            funding,
            g.params.now,
            ann.encode_message().unwrap(),
        );
        for u in g.channel_updates(&secp, i) {
            b.put_gossip_update(
                c.short_channel_id,
                u.direction(),
                u64::from(u.timestamp),
                u.encode_message().unwrap(),
            );
        }
    }
    b
}

fn fill(store: &mut Store, g: &SyntheticGraph) {
    let n = g.channels.len();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = n.div_ceil(threads);
    let batches: Vec<Batch> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || batch_for(g, t * chunk..((t + 1) * chunk).min(n))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for b in batches {
        store.commit(b).unwrap();
    }
    let secp = Secp256k1::new();
    let mut b = Batch::new();
    for i in 0..g.params.nodes {
        let a = g.node_announcement(&secp, i);
        b.put_gossip_node(
            a.node_id,
            u64::from(a.timestamp),
            a.encode_message().unwrap(),
        );
    }
    store.commit(b).unwrap();
}

fn load(store: &Store, g: &SyntheticGraph) -> NetworkGraph {
    let mut graph = NetworkGraph::new(g.chain());
    store
        .visit_gossip(|row| {
            match row.key {
                GossipKey::ChannelAnnouncement(_) => {
                    let f = row.funding.unwrap();
                    graph
                        .load_channel_announcement(&row.message, Sat(f.capacity_sat), row.timestamp)
                        .unwrap();
                }
                GossipKey::ChannelUpdate(..) => graph.load_channel_update(&row.message).unwrap(),
                GossipKey::NodeAnnouncement(_) => {
                    // A node whose channels all failed to generate has no
                    // channel: skipped, as the node does.
                    let _ = graph.load_node_announcement(&row.message);
                }
            }
            true
        })
        .unwrap();
    graph.shrink_to_fit();
    graph
}

fn bench(c: &mut Criterion) {
    let p = if full() {
        SyntheticParams::mainnet(42)
    } else {
        SyntheticParams::scaled(42, 150, 600)
    };
    let g = SyntheticGraph::generate(p);
    let dir = tempfile::Builder::new()
        .prefix("fulmen-gossip-load")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let path = dir.path().join("gossip.sqlite");
    let t = Instant::now();
    {
        let mut store = Store::open(&path).unwrap();
        fill(&mut store, &g);
    }
    let store = Store::open(&path).unwrap();
    let (ch, up, no) = store.gossip_counts().unwrap();
    let size = std::fs::metadata(&path).map_or(0, |m| m.len())
        + std::fs::metadata(path.with_extension("sqlite-wal")).map_or(0, |m| m.len());
    println!(
        "gossip store: {ch} channel_announcements, {up} channel_updates, {no} node_announcements, \
         {:.1} MB on disk (written and signed in {:.1} s, set-up)",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut times: Vec<Duration> = Vec::new();
    let mut graph = NetworkGraph::new(g.chain());
    for _ in 0..5 {
        let t = Instant::now();
        graph = load(&store, &g);
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2].as_secs_f64() * 1e3;
    println!(
        "load -> graph ({} channels, {} nodes, {:.1} MB): best {:.0} ms, median {median:.0} ms \
         of 5; target <= 300 ms: {}",
        graph.num_channels(),
        graph.num_nodes(),
        graph.approx_memory_bytes() as f64 / 1e6,
        times[0].as_secs_f64() * 1e3,
        verdict(median <= 300.0)
    );
    let mut group = c.benchmark_group("gossip_store");
    group.sample_size(10);
    group.bench_function("load_graph", |b| b.iter(|| load(&store, &g).num_channels()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
