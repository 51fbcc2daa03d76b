//! A seeded synthetic network graph shaped like mainnet, for benchmarks
//! (feature `test-utils`).
//!
//! [`SyntheticParams::mainnet`] gives ≈15,000 nodes and ≈60,000 channels.
//! The same seed always gives the same graph (own splitmix64 generator, no
//! `rand`), so figures from different machines and commits compare.
//!
//! # Shape
//!
//! * Degrees: nodes join one by one and each opens `k` channels, `k` from
//!   1–5 for 80% of nodes (1 most often) and 6–30 (log-uniform) for the
//!   rest, scaled so the total is the requested channel count. Each
//!   channel's other end is one of [`HUBS`] hubs (Zipf weights) with
//!   probability 0.3, a node drawn in proportion to its degree
//!   (preferential attachment) with probability 0.55, and a uniformly
//!   drawn earlier node otherwise. The result: a few hubs with thousands of
//!   channels, most nodes with 1–5.
//! * Capacities: log-uniform from 20,000 to 1,000,000,000 sat.
//! * Policies, per direction: base fee 0 msat (40%), 1,000 msat (35%),
//!   uniform 0–1,000 (23%) or up to 10,000 (2%); proportional fee
//!   log-uniform 1–2,000 ppm (median ≈ 45); CLTV delta 34, 40, 80 or 144;
//!   `htlc_minimum` 1 sat (90%) or 1 msat; `htlc_maximum` between half the
//!   capacity and the capacity; timestamps within the last 13 days; 5% of
//!   directions disabled and 2% never updated.
//!
//! # Keys
//!
//! Node `i`'s key and channel funding keys are the
//! [`crate::testing`] ones, so [`SyntheticGraph::channel_announcement`],
//! [`SyntheticGraph::channel_updates`] and
//! [`SyntheticGraph::node_announcement`] produce real signed gossip that
//! passes validation. [`SyntheticGraph::build_graph`] skips signing and
//! builds the graph directly with the trusted insertions (its funding-key
//! fingerprints are then placeholders).

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::{All, PublicKey, Secp256k1};
use fulmen_types::{Msat, NodeId, Sat, ShortChannelId};
use fulmen_wire::{ChannelAnnouncement, ChannelUpdate, NodeAnnouncement, WireFeatures};

use crate::graph::{DirectedPolicy, NetworkGraph};
use crate::sign::{
    channel_announcement_digest, sign_channel_update, sign_digest, sign_node_announcement,
};
use crate::testing::{funding_secret, node_secret, test_chain};

/// How many hubs the generator favours.
pub const HUBS: u32 = 12;

/// The splitmix64 generator: tiny, seeded, good enough for shapes.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
        }
    }

    /// Log-uniform in `[lo, hi]` (both positive).
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticParams {
    /// The seed.
    pub seed: u64,
    /// Number of nodes.
    pub nodes: u32,
    /// Number of channels.
    pub channels: u32,
    /// The "now" of the timestamps (unix seconds).
    pub now: u64,
}

impl SyntheticParams {
    /// A mainnet-sized graph: 15,000 nodes, 60,000 channels, at
    /// [`crate::testing::TEST_NOW`].
    pub fn mainnet(seed: u64) -> Self {
        Self::scaled(seed, 15_000, 60_000)
    }

    /// Another size, same shape.
    pub fn scaled(seed: u64, nodes: u32, channels: u32) -> Self {
        Self {
            seed,
            nodes,
            channels,
            now: crate::testing::TEST_NOW,
        }
    }
}

/// One generated channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticChannel {
    /// Its short channel id (block 600,000 onwards).
    pub short_channel_id: ShortChannelId,
    /// The node (index) whose id is the lesser: `node_1`.
    pub node_1: u32,
    /// The other node: `node_2`.
    pub node_2: u32,
    /// The capacity.
    pub capacity: Sat,
    /// `[node_1 → node_2, node_2 → node_1]` policies (`None`: never
    /// updated).
    pub policies: [Option<DirectedPolicy>; 2],
}

/// A generated graph: node ids and channels.
#[derive(Debug, Clone)]
pub struct SyntheticGraph {
    /// What it was generated from.
    pub params: SyntheticParams,
    /// Node `i`'s id ([`crate::testing::node_id`]`(i)`).
    pub node_ids: Vec<NodeId>,
    /// The channels, in short channel id order.
    pub channels: Vec<SyntheticChannel>,
}

fn scid_of(i: u32) -> ShortChannelId {
    let block = 600_000 + u64::from(i / 64);
    let tx = u64::from(i % 64) + 1;
    ShortChannelId((block << 40) | (tx << 16))
}

/// How many channels each node opens when it joins, before scaling.
fn draw_opens(rng: &mut SplitMix64) -> f64 {
    if rng.unit() < 0.8 {
        let u = rng.unit();
        // 1: 40%, 2: 25%, 3: 15%, 4: 12%, 5: 8%.
        if u < 0.40 {
            1.0
        } else if u < 0.65 {
            2.0
        } else if u < 0.80 {
            3.0
        } else if u < 0.92 {
            4.0
        } else {
            5.0
        }
    } else {
        rng.log_uniform(6.0, 30.0).floor()
    }
}

fn draw_policy(rng: &mut SplitMix64, capacity: Sat, now: u64) -> Option<DirectedPolicy> {
    if rng.unit() < 0.02 {
        return None;
    }
    let u = rng.unit();
    let fee_base_msat = if u < 0.40 {
        0
    } else if u < 0.75 {
        1000
    } else if u < 0.98 {
        rng.below(1001) as u32
    } else {
        rng.below(10_001) as u32
    };
    let fee_proportional_millionths = rng.log_uniform(1.0, 2000.0).floor() as u32;
    let cltv_expiry_delta = match rng.below(20) {
        0..=4 => 34,
        5..=11 => 40,
        12..=15 => 80,
        _ => 144,
    };
    let cap_msat = capacity.0.saturating_mul(1000);
    let htlc_maximum = if rng.unit() < 0.5 {
        cap_msat
    } else {
        cap_msat / 2 + rng.below(cap_msat / 2 + 1)
    };
    Some(DirectedPolicy {
        timestamp: u32::try_from(now.saturating_sub(rng.below(13 * 86_400))).unwrap_or(u32::MAX),
        disabled: rng.unit() < 0.05,
        cltv_expiry_delta,
        htlc_minimum: Msat(if rng.unit() < 0.9 { 1000 } else { 1 }),
        htlc_maximum: Msat(htlc_maximum),
        fee_base_msat,
        fee_proportional_millionths,
    })
}

impl SyntheticGraph {
    /// Generates the graph for `params` (node ids cost one key derivation
    /// each: ~0.3 s for 15,000 nodes).
    pub fn generate(params: SyntheticParams) -> Self {
        let secp = Secp256k1::signing_only();
        let node_ids: Vec<NodeId> = (0..params.nodes)
            .map(|i| NodeId::from_pubkey(&PublicKey::from_secret_key(&secp, &node_secret(i))))
            .collect();
        let pairs = Self::topology(&params);
        let mut rng = SplitMix64::new(params.seed ^ 0x5eed_0fc0_ffee);
        let mut channels = Vec::with_capacity(pairs.len());
        for (i, (a, b)) in pairs.into_iter().enumerate() {
            let (Some(ia), Some(ib)) = (node_ids.get(a as usize), node_ids.get(b as usize)) else {
                continue;
            };
            let (node_1, node_2) = if ia < ib { (a, b) } else { (b, a) };
            let capacity = Sat(rng.log_uniform(20_000.0, 1_000_000_000.0).floor() as u64);
            let policies = [
                draw_policy(&mut rng, capacity, params.now),
                draw_policy(&mut rng, capacity, params.now),
            ];
            channels.push(SyntheticChannel {
                short_channel_id: scid_of(u32::try_from(i).unwrap_or(u32::MAX)),
                node_1,
                node_2,
                capacity,
                policies,
            });
        }
        Self {
            params,
            node_ids,
            channels,
        }
    }

    /// The channels' end points (node indices), without self-loops.
    fn topology(params: &SyntheticParams) -> Vec<(u32, u32)> {
        let mut rng = SplitMix64::new(params.seed);
        let n = params.nodes.max(2);
        let hubs = HUBS.min(n);
        let target = params.channels as usize;
        // Zipf weights of the hubs, as a cumulative table.
        let zipf: Vec<f64> = (1..=hubs)
            .scan(0.0, |acc, j| {
                *acc += 1.0 / f64::from(j);
                Some(*acc)
            })
            .collect();
        let zipf_total = zipf.last().copied().unwrap_or(1.0);
        let opens: Vec<f64> = (0..n).map(|_| draw_opens(&mut rng)).collect();
        let scale = target as f64 / opens.iter().sum::<f64>().max(1.0);
        let mut endpoints: Vec<u32> = Vec::with_capacity(2 * target);
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(target);
        let pick = |rng: &mut SplitMix64, endpoints: &[u32], upto: u32| -> u32 {
            let r = rng.unit();
            if r < 0.30 {
                let x = rng.unit() * zipf_total;
                zipf.iter().position(|c| x < *c).unwrap_or(0) as u32
            } else if r < 0.85 && !endpoints.is_empty() {
                endpoints
                    .get(rng.below(endpoints.len() as u64) as usize)
                    .copied()
                    .unwrap_or(0)
            } else {
                rng.below(u64::from(upto)) as u32
            }
        };
        // The hubs start in a ring.
        for h in 0..hubs {
            let other = (h + 1) % hubs;
            if other != h {
                pairs.push((h, other));
                endpoints.extend([h, other]);
            }
        }
        let mut carry = 0.0;
        for i in hubs..n {
            let want = opens.get(i as usize).copied().unwrap_or(1.0) * scale + carry;
            let k = (want.floor() as u32).max(1);
            carry = want - f64::from(k);
            for _ in 0..k {
                if pairs.len() >= target {
                    break;
                }
                let t = pick(&mut rng, &endpoints, i);
                if t != i {
                    pairs.push((i, t));
                    endpoints.extend([i, t]);
                }
            }
        }
        // Top up (or the scaling left some over) to the exact count.
        while pairs.len() < target {
            let a = pick(&mut rng, &endpoints, n);
            let b = rng.below(u64::from(n)) as u32;
            if a != b {
                pairs.push((a, b));
                endpoints.extend([a, b]);
            }
        }
        pairs.truncate(target);
        pairs
    }

    /// The graph built directly with the trusted insertions (no signing):
    /// for routing benchmarks. Every node with a channel is announced.
    pub fn build_graph(&self) -> NetworkGraph {
        let mut g = NetworkGraph::new(test_chain());
        for c in &self.channels {
            let (Some(n1), Some(n2)) = (
                self.node_ids.get(c.node_1 as usize),
                self.node_ids.get(c.node_2 as usize),
            ) else {
                continue;
            };
            g.insert_channel_trusted(
                c.short_channel_id,
                *n1,
                *n2,
                c.capacity,
                c.short_channel_id.0,
                self.params.now,
            );
            for (dir, p) in c.policies.iter().enumerate() {
                if let Some(p) = p {
                    g.insert_update_trusted(c.short_channel_id, dir as u8, *p, 0);
                }
            }
        }
        for i in 0..self.params.nodes {
            g.insert_node_trusted(&self.unsigned_node_announcement(i));
        }
        g.shrink_to_fit();
        g
    }

    /// The fully signed `channel_announcement` of channel `i` (four
    /// signatures and two funding-key derivations: ~0.1 ms).
    pub fn channel_announcement(
        &self,
        secp: &Secp256k1<All>,
        i: usize,
    ) -> Option<ChannelAnnouncement> {
        let c = self.channels.get(i)?;
        let scid = c.short_channel_id;
        let (f1, f2) = (
            funding_secret(scid, c.node_1),
            funding_secret(scid, c.node_2),
        );
        let placeholder = sign_digest(
            secp,
            &f1,
            &bitcoin::secp256k1::Message::from_digest([0; 32]),
        );
        let mut msg = ChannelAnnouncement {
            node_signature_1: placeholder,
            node_signature_2: placeholder,
            bitcoin_signature_1: placeholder,
            bitcoin_signature_2: placeholder,
            features: WireFeatures::default(),
            chain_hash: test_chain(),
            short_channel_id: scid,
            node_id_1: *self.node_ids.get(c.node_1 as usize)?,
            node_id_2: *self.node_ids.get(c.node_2 as usize)?,
            bitcoin_key_1: PublicKey::from_secret_key(secp, &f1),
            bitcoin_key_2: PublicKey::from_secret_key(secp, &f2),
            extension: Vec::new(),
        };
        let digest = channel_announcement_digest(&msg);
        msg.node_signature_1 = sign_digest(secp, &node_secret(c.node_1), &digest);
        msg.node_signature_2 = sign_digest(secp, &node_secret(c.node_2), &digest);
        msg.bitcoin_signature_1 = sign_digest(secp, &f1, &digest);
        msg.bitcoin_signature_2 = sign_digest(secp, &f2, &digest);
        Some(msg)
    }

    /// The signed `channel_update`s of channel `i` (one per direction that
    /// has a policy).
    pub fn channel_updates(&self, secp: &Secp256k1<All>, i: usize) -> Vec<ChannelUpdate> {
        let Some(c) = self.channels.get(i) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(2);
        for (dir, p) in c.policies.iter().enumerate() {
            let Some(p) = p else { continue };
            let from = if dir == 0 { c.node_1 } else { c.node_2 };
            let key = node_secret(from);
            let mut msg = ChannelUpdate {
                signature: sign_digest(
                    secp,
                    &key,
                    &bitcoin::secp256k1::Message::from_digest([0; 32]),
                ),
                chain_hash: test_chain(),
                short_channel_id: c.short_channel_id,
                timestamp: p.timestamp,
                message_flags: 1,
                channel_flags: dir as u8 | if p.disabled { 2 } else { 0 },
                cltv_expiry_delta: p.cltv_expiry_delta,
                htlc_minimum: p.htlc_minimum,
                fee_base_msat: p.fee_base_msat,
                fee_proportional_millionths: p.fee_proportional_millionths,
                htlc_maximum: p.htlc_maximum,
                extension: Vec::new(),
            };
            sign_channel_update(secp, &key, &mut msg);
            out.push(msg);
        }
        out
    }

    fn unsigned_node_announcement(&self, i: u32) -> NodeAnnouncement {
        let mut alias = [0u8; 32];
        let name = format!("synthetic-{i}");
        for (d, s) in alias.iter_mut().zip(name.bytes()) {
            *d = s;
        }
        let [a, b, c, d] = i.to_be_bytes();
        NodeAnnouncement {
            signature: bitcoin::secp256k1::ecdsa::Signature::from_compact(&[1; 64])
                .unwrap_or_else(|_| placeholder_signature()),
            features: WireFeatures::default(),
            timestamp: u32::try_from(self.params.now).unwrap_or(u32::MAX),
            node_id: self
                .node_ids
                .get(i as usize)
                .copied()
                .unwrap_or(NodeId([2; 33])),
            rgb_color: [b, c, d],
            alias,
            addresses: vec![fulmen_wire::NetAddress::Ipv4 {
                addr: std::net::Ipv4Addr::new(10, a.max(b), c, d),
                port: 9735,
            }],
            extension: Vec::new(),
        }
    }

    /// Node `i`'s signed `node_announcement` (alias `synthetic-<i>`, one
    /// IPv4 address, timestamp `now`).
    pub fn node_announcement(&self, secp: &Secp256k1<All>, i: u32) -> NodeAnnouncement {
        let mut ann = self.unsigned_node_announcement(i);
        sign_node_announcement(secp, &node_secret(i), &mut ann);
        ann
    }

    /// The chain the messages are for.
    pub fn chain(&self) -> ChainHash {
        test_chain()
    }

    /// `n` pairs of distinct nodes drawn from `seed`: the same pairs for
    /// every benchmark that compares routers on this graph.
    pub fn random_pairs(&self, n: usize, seed: u64) -> Vec<(NodeId, NodeId)> {
        let mut rng = SplitMix64::new(seed);
        let count = self.node_ids.len() as u64;
        let mut out = Vec::with_capacity(n);
        if count < 2 {
            return out;
        }
        while out.len() < n {
            let a = self.node_ids.get(rng.below(count) as usize);
            let b = self.node_ids.get(rng.below(count) as usize);
            if let (Some(a), Some(b)) = (a, b) {
                if a != b {
                    out.push((*a, *b));
                }
            }
        }
        out
    }

    /// The number of channels of each node, by node index.
    pub fn degrees(&self) -> Vec<u32> {
        let mut d = vec![0u32; self.node_ids.len()];
        for c in &self.channels {
            for n in [c.node_1, c.node_2] {
                if let Some(x) = d.get_mut(n as usize) {
                    *x += 1;
                }
            }
        }
        d
    }
}

fn placeholder_signature() -> bitcoin::secp256k1::ecdsa::Signature {
    sign_digest(
        &Secp256k1::signing_only(),
        &node_secret(0),
        &bitcoin::secp256k1::Message::from_digest([0; 32]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{verify_channel_announcement, verify_channel_update};

    #[test]
    fn same_seed_same_graph_and_a_mainnet_shape() {
        let p = SyntheticParams::scaled(7, 1500, 6000);
        let g = SyntheticGraph::generate(p);
        assert_eq!(g.channels, SyntheticGraph::generate(p).channels);
        assert_eq!(g.channels.len(), 6000);
        let mut d = g.degrees();
        d.sort_unstable();
        let median = d[d.len() / 2];
        let max = *d.last().unwrap();
        assert!((1..=5).contains(&median), "median degree {median}");
        assert!(max > 300, "largest hub has {max} channels");
        for c in &g.channels {
            assert!(g.node_ids[c.node_1 as usize] < g.node_ids[c.node_2 as usize]);
            assert!((20_000..=1_000_000_000).contains(&c.capacity.0));
            for p in c.policies.iter().flatten() {
                assert!(p.htlc_maximum.0 <= c.capacity.0 * 1000);
            }
        }
        let graph = g.build_graph();
        assert_eq!(graph.num_channels(), 6000);
    }

    #[test]
    fn signed_messages_verify() {
        let g = SyntheticGraph::generate(SyntheticParams::scaled(1, 50, 100));
        let secp = Secp256k1::new();
        for i in [0, 57, 99] {
            let ann = g.channel_announcement(&secp, i).unwrap();
            verify_channel_announcement(&secp, &ann, g.chain()).unwrap();
            for u in g.channel_updates(&secp, i) {
                let signer = if u.direction() == 0 {
                    ann.node_id_1
                } else {
                    ann.node_id_2
                };
                verify_channel_update(&secp, &u, &signer).unwrap();
            }
        }
        let n = g.node_announcement(&secp, 3);
        crate::validate::verify_node_announcement(&secp, &n).unwrap();
    }
}
