//! Decode cost of the two hottest messages: `update_add_htlc` (with its
//! 1366-byte onion) and `channel_update` (the bulk of gossip). Criterion
//! prints the time per decode.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::ecdsa::Signature;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fulmen_types::{ChannelId, Msat, PaymentHash, ShortChannelId};
use fulmen_wire::{ChannelUpdate, Message, OnionPacket, UpdateAddHtlc, ONION_PACKET_LEN};

fn signature() -> Signature {
    let mut b = [0x11u8; 64];
    b[0] = 0x01;
    b[32] = 0x01;
    Signature::from_compact(&b).unwrap()
}

fn update_add_htlc() -> Vec<u8> {
    let mut onion = Box::new([0u8; ONION_PACKET_LEN]);
    for (i, b) in onion.iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    onion[0] = 0;
    Message::from(UpdateAddHtlc {
        channel_id: ChannelId([0x42; 32]),
        id: 1234,
        amount: Msat(100_000_000),
        payment_hash: PaymentHash([0x55; 32]),
        cltv_expiry: 800_144,
        onion_routing_packet: OnionPacket(onion),
        path_key: None,
        unknown_tlvs: vec![],
    })
    .encode()
    .unwrap()
}

fn channel_update() -> Vec<u8> {
    Message::from(ChannelUpdate {
        signature: signature(),
        chain_hash: ChainHash::BITCOIN,
        short_channel_id: ShortChannelId::new(800_000, 1234, 1).unwrap(),
        timestamp: 1_700_000_000,
        message_flags: 1,
        channel_flags: 0,
        cltv_expiry_delta: 144,
        htlc_minimum: Msat(1000),
        fee_base_msat: 1000,
        fee_proportional_millionths: 100,
        htlc_maximum: Msat(1_000_000_000),
        extension: vec![],
    })
    .encode()
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let add = update_add_htlc();
    assert_eq!(add.len(), 2 + 32 + 8 + 8 + 32 + 4 + ONION_PACKET_LEN);
    g.throughput(Throughput::Elements(1));
    g.bench_function("update_add_htlc", |b| {
        b.iter(|| Message::decode(black_box(&add)).unwrap())
    });
    let upd = channel_update();
    assert_eq!(upd.len(), 138);
    g.bench_function("channel_update", |b| {
        b.iter(|| Message::decode(black_box(&upd)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
