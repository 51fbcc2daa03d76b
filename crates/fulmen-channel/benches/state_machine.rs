//! The channel state machine, two ends in one thread, messages passed
//! directly (no I/O, no persistence):
//!
//! * `payment_add_settle`: one HTLC added, committed both ways, fulfilled
//!   and committed both ways again — four `commitment_signed` (each
//!   verified) and four `revoke_and_ack`. Target: at most 0.5 ms per
//!   payment.
//! * `batch_100_htlcs`: 100 HTLCs added and committed with one
//!   `commitment_signed` each way, then all fulfilled with one more round.
//!
//! In `--bench` mode it also prints payments per second, µs per HTLC, and
//! the elliptic-curve floor of one payment measured in the same run: the
//! key derivations, signatures, verifications and points that the BOLTs
//! require of it, timed alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Instant;

use bitcoin::absolute::LockTime;
use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{All, Secp256k1, SecretKey};
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use criterion::Criterion;
use fulmen_channel::{
    Channel, ChannelConfig, ChannelEvent, ChannelMessage, ChannelSecretKeys, Ctx, InboundSetup,
    OutboundSetup, Outputs,
};
use fulmen_types::{ChannelId, Feature, Features, Msat, PaymentPreimage, Sat, ShortChannelId};
use fulmen_wire::{Message, OnionPacket, ONION_PACKET_LEN};

fn secrets(seed: u8) -> ChannelSecretKeys {
    let k = |i: u8| SecretKey::from_slice(&[seed * 16 + i; 32]).unwrap();
    ChannelSecretKeys {
        funding: k(1),
        revocation_basepoint: k(2),
        payment_basepoint: k(3),
        delayed_payment_basepoint: k(4),
        htlc_basepoint: k(5),
        per_commitment_seed: [seed + 0x55; 32],
    }
}

fn p2wpkh(b: u8) -> ScriptBuf {
    let mut v = vec![0x00, 0x14];
    v.extend([b; 20]);
    ScriptBuf::from_bytes(v)
}

fn preimage(tag: u64) -> PaymentPreimage {
    let mut b = [7u8; 32];
    b[..8].copy_from_slice(&tag.to_be_bytes());
    PaymentPreimage(b)
}

struct Ends {
    secp: Secp256k1<All>,
    chans: [Channel; 2],
    secrets: [ChannelSecretKeys; 2],
    config: ChannelConfig,
    queues: [VecDeque<Message>; 2],
    added: [Vec<u64>; 2],
    height: u32,
    onion: OnionPacket,
}

impl Ends {
    fn call<R>(&mut self, i: usize, f: impl FnOnce(&mut Channel, &Ctx<'_>) -> R) -> R {
        let ctx = Ctx {
            now: 0,
            height: self.height,
            secp: &self.secp,
            secrets: &self.secrets[i],
            config: &self.config,
            feerate_per_kw: 2500,
        };
        f(&mut self.chans[i], &ctx)
    }

    fn apply(&mut self, i: usize, out: Outputs) {
        for e in out.events {
            if let ChannelEvent::HtlcAdded(h) = e {
                self.added[i].push(h.id);
            }
        }
        self.queues[1 - i].extend(out.messages);
    }

    /// Delivers and signs until nothing is left to do.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..2 {
                while let Some(m) = self.queues[i].pop_front() {
                    let cm = ChannelMessage::from_message(m).unwrap();
                    let out = self.call(i, |c, ctx| c.handle_message(cm, ctx)).unwrap();
                    self.apply(i, out);
                    moved = true;
                }
            }
            for i in 0..2 {
                let out = self.call(i, |c, ctx| c.sign_if_needed(ctx)).unwrap();
                moved |= !out.messages.is_empty();
                self.apply(i, out);
            }
            if !moved {
                return;
            }
        }
    }

    fn open() -> Self {
        let features = Features::empty()
            .with_optional(Feature::StaticRemoteKey)
            .with_optional(Feature::AnchorsZeroFeeHtlcTx)
            .with_optional(Feature::SupportLargeChannel);
        let placeholder = || {
            Channel::Closed(fulmen_channel::Closed {
                channel_id: ChannelId([0; 32]),
                reason: fulmen_channel::CloseReason::Abandoned,
            })
        };
        let mut e = Ends {
            secp: Secp256k1::new(),
            chans: [placeholder(), placeholder()],
            secrets: [secrets(1), secrets(2)],
            config: ChannelConfig::default(),
            queues: [VecDeque::new(), VecDeque::new()],
            added: [Vec::new(), Vec::new()],
            height: 800_000,
            onion: OnionPacket(Box::new([0; ONION_PACKET_LEN])),
        };
        let setup = OutboundSetup {
            chain_hash: ChainHash::REGTEST,
            temporary_channel_id: ChannelId([1; 32]),
            funding: Sat(100_000_000),
            push: Msat(50_000_000_000),
            feerate_per_kw: 2500,
            announce: false,
            key_index: 0,
            shutdown_script: p2wpkh(1),
            upfront_shutdown: false,
            local_alias: ShortChannelId(1),
            our_features: features.clone(),
            their_features: features.clone(),
        };
        let (a, out) = e
            .call(0, |_, ctx| Channel::new_outbound(setup, ctx))
            .unwrap();
        e.chans[0] = a;
        let Message::OpenChannel(open) = &out.messages[0] else {
            panic!()
        };
        let inbound = InboundSetup {
            chain_hash: ChainHash::REGTEST,
            key_index: 0,
            shutdown_script: p2wpkh(2),
            upfront_shutdown: false,
            local_alias: ShortChannelId(2),
            our_features: features.clone(),
            their_features: features,
        };
        let (b, out) = e
            .call(1, |_, ctx| Channel::new_inbound(open, inbound, ctx))
            .unwrap();
        e.chans[1] = b;
        let accept = ChannelMessage::from_message(out.messages[0].clone()).unwrap();
        let out = e.call(0, |c, ctx| c.handle_message(accept, ctx)).unwrap();
        let Some(ChannelEvent::FundingNeeded {
            amount,
            script_pubkey,
            ..
        }) = out.events.first().cloned()
        else {
            panic!()
        };
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array([9; 32]),
                    vout: 0,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(amount.0),
                script_pubkey,
            }],
        };
        let out = e
            .call(0, |c, ctx| c.funding_tx_built(tx.clone(), 0, ctx))
            .unwrap();
        e.apply(0, out);
        e.run();
        for h in 0..4 {
            e.height = 800_001 + h;
            let txs = if h == 0 { vec![tx.clone()] } else { vec![] };
            for i in 0..2 {
                let height = e.height;
                let out = e
                    .call(i, |c, ctx| c.handle_block(height, &txs, ctx))
                    .unwrap();
                e.apply(i, out);
            }
        }
        e.run();
        assert_eq!(e.chans[0].phase(), "normal");
        assert_eq!(e.chans[1].phase(), "normal");
        e
    }

    /// Adds `n` HTLCs from `from`, commits, settles them all, commits.
    fn pay(&mut self, from: usize, n: usize, tag: &mut u64) {
        let to = 1 - from;
        for _ in 0..n {
            *tag += 1;
            let t = *tag;
            let onion = self.onion.clone();
            let (_, out) = self
                .call(from, |c, ctx| {
                    c.add_htlc(
                        Msat(1_000_000),
                        preimage(t).payment_hash(),
                        900_000,
                        onion,
                        None,
                        ctx,
                    )
                })
                .unwrap();
            self.apply(from, out);
        }
        self.run();
        let ids = std::mem::take(&mut self.added[to]);
        assert_eq!(ids.len(), n);
        let first = *tag - n as u64 + 1;
        for (k, id) in ids.into_iter().enumerate() {
            let out = self
                .call(to, |c, _| c.fulfill_htlc(id, preimage(first + k as u64)))
                .unwrap();
            self.apply(to, out);
        }
        self.run();
    }
}

fn bench(c: &mut Criterion) {
    let mut e = Ends::open();
    let mut tag = 0u64;
    let mut dir = 0usize;
    c.bench_function("payment_add_settle", |b| {
        b.iter(|| {
            e.pay(dir, 1, &mut tag);
            dir = 1 - dir;
            black_box(&e.chans);
        })
    });
    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    g.bench_function("batch_100_htlcs", |b| {
        b.iter(|| {
            e.pay(dir, 100, &mut tag);
            dir = 1 - dir;
            black_box(&e.chans);
        })
    });
    g.finish();
}

/// The elliptic-curve work one add+settle payment cannot avoid, both ends
/// together: four commitments, each derived by its signer and its owner
/// (two with the HTLC's keys), six signatures and six verifications (four
/// commitments, two HTLC transactions), and eight per-commitment points
/// (four sent in `revoke_and_ack`, four revealed secrets checked). Seconds
/// per payment, timed over `rounds` payments' worth.
fn ec_floor_per_payment(rounds: u32) -> f64 {
    use bitcoin::secp256k1::{Message, PublicKey};
    use fulmen_script::keys::{Basepoints, CommitmentKeys, Holder, HtlcKeys};
    let secp = Secp256k1::new();
    let sk = |b: u8| SecretKey::from_slice(&[b; 32]).unwrap();
    let pk = |b: u8| PublicKey::from_secret_key(&secp, &sk(b));
    let bases = |b: u8| Basepoints {
        revocation: pk(b),
        payment: pk(b + 1),
        delayed_payment: pk(b + 2),
        htlc: pk(b + 3),
    };
    let (local, remote) = (bases(0x10), bases(0x20));
    let point = pk(0x30);
    let (pcs, l_del, l_htlc, r_rev, r_htlc) = (sk(0x30), sk(0x12), sk(0x13), sk(0x20), sk(0x23));
    let owner = Holder::Owner {
        per_commitment_secret: &pcs,
        delayed_payment_basepoint_secret: &l_del,
        htlc_basepoint_secret: &l_htlc,
    };
    let counterparty = Holder::Counterparty {
        revocation_basepoint_secret: &r_rev,
        htlc_basepoint_secret: &r_htlc,
    };
    let msg = Message::from_digest([0x42; 32]);
    let sig = secp.sign_ecdsa(&msg, &l_del);
    let start = Instant::now();
    {
        for _ in 0..rounds {
            for holder in [owner, counterparty] {
                for htlc_keys in [HtlcKeys::Derive, HtlcKeys::Basepoints] {
                    for _ in 0..2 {
                        black_box(
                            CommitmentKeys::derive_held(
                                &secp, &point, &local, &remote, holder, htlc_keys,
                            )
                            .unwrap(),
                        );
                    }
                }
            }
            for _ in 0..6 {
                black_box(fulmen_types::ec::sign_ecdsa(&msg, black_box(&l_del)));
                black_box(
                    secp.verify_ecdsa(&msg, &sig, &local.delayed_payment)
                        .is_ok(),
                );
            }
            for _ in 0..8 {
                black_box(fulmen_types::ec::public_key(black_box(&pcs)));
            }
        }
    }
    start.elapsed().as_secs_f64() / f64::from(rounds)
}

fn summary() {
    let mut e = Ends::open();
    let mut tag = 0u64;
    // Stretches of payments alternate with stretches of the bare EC work, so
    // that both best times come from the same stretch of machine noise.
    let (chunks, chunk) = (8, 50);
    let (mut best, mut floor, mut paying) = (f64::MAX, f64::MAX, 0.0);
    for c in 0..chunks {
        let t = Instant::now();
        for i in 0..chunk {
            e.pay((c * chunk + i) % 2, 1, &mut tag);
        }
        let took = t.elapsed().as_secs_f64();
        paying += took;
        best = best.min(took / f64::from(chunk as u32));
        floor = floor.min(ec_floor_per_payment(10));
    }
    let per = paying / f64::from((chunks * chunk) as u32);
    println!(
        "payment_add_settle: {:.3} ms per payment, {:.0} payments/s (target <= 0.5 ms): {}",
        per * 1e3,
        1.0 / per,
        if per <= 0.5e-3 { "met" } else { "NOT met" }
    );
    println!(
        "  best {chunk}-payment stretch: {:.3} ms per payment; elliptic-curve floor of one payment, same run: {:.3} ms ({:.0}% of the best stretch)",
        best * 1e3,
        floor * 1e3,
        floor / best * 100.0
    );
    let rounds = 10;
    let start = Instant::now();
    for i in 0..rounds {
        e.pay(i % 2, 100, &mut tag);
    }
    let per = start.elapsed().as_secs_f64() / f64::from(rounds as u32);
    println!(
        "batch_100_htlcs: {:.2} ms per 100-HTLC batch (add + settle, 4 commitment_signed of 100 HTLC signatures each), {:.1} µs per HTLC, {:.0} HTLCs/s",
        per * 1e3,
        per * 1e6 / 100.0,
        100.0 / per
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
