//! Hostile input: each kind of malformed message fails with the right error
//! and the reaction the BOLTs prescribe; secrets stay out of `Debug`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod strategies;

use fulmen_wire::{Message, Reaction, WireError};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

fn sample<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> T {
    s.new_tree(&mut TestRunner::deterministic())
        .unwrap()
        .current()
}

fn encoded(m: impl Into<Message>) -> Vec<u8> {
    m.into().encode().unwrap()
}

/// An out-of-range compact signature: r = s = 0xff..ff (above the order).
const BAD_SIG: [u8; 64] = [0xff; 64];

#[test]
fn invalid_signature_in_channel_message_fails_the_channel() {
    let mut b = encoded(sample(strategies::commitment_signed()));
    // type(2) channel_id(32) signature(64)
    b[34..98].copy_from_slice(&BAD_SIG);
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::InvalidSignature.in_message(132));
    assert_eq!(e.reaction(), Reaction::FailChannel);
}

#[test]
fn invalid_signature_in_gossip_disconnects() {
    let mut b = encoded(sample(strategies::channel_update()));
    b[2..66].copy_from_slice(&BAD_SIG);
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::InvalidSignature.in_message(258));
    assert_eq!(e.reaction(), Reaction::Disconnect);
}

#[test]
fn invalid_point_is_rejected() {
    let mut b = encoded(sample(strategies::revoke_and_ack()));
    // type(2) channel_id(32) secret(32) point(33): 0x04 is not a compressed prefix.
    b[66] = 0x04;
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::InvalidPoint.in_message(133));
    assert_eq!(e.reaction(), Reaction::FailChannel);

    let ca = sample(strategies::channel_announcement());
    let node_1_at = 2 + 4 * 64 + 2 + ca.features.to_wire().len() + 32 + 8;
    let mut b = encoded(ca);
    b[node_1_at + 1..node_1_at + 33].fill(0xff); // x >= p: not on the curve
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::InvalidPoint.in_message(256));
    assert_eq!(e.reaction(), Reaction::Disconnect);
}

#[test]
fn huge_htlc_signature_count_is_checked_before_allocating() {
    let mut b = vec![0, 132];
    b.extend([0u8; 32]); // channel id
    b.extend([0x01; 64]); // a valid signature
    b.extend([0xff, 0xff]); // 65535 HTLC signatures announced, none present
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::Truncated.in_message(132));
    assert_eq!(e.reaction(), Reaction::Disconnect);
}

#[test]
fn gossip_query_encodings() {
    let q = sample(strategies::query_short_channel_ids());
    let mut b = encoded(q);
    // type(2) chain(32) len(2) encoding(1)
    b[36] = 1;
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::UnknownEncoding(1).in_message(261));
    assert_eq!(e.reaction(), Reaction::Warn);

    // An encoded_short_ids with no encoding byte.
    let mut b = vec![0x01, 0x05];
    b.extend([0u8; 32]);
    b.extend([0, 0]);
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::BadEncodedArray.in_message(261));

    // A ragged array: 7 bytes of short channel id.
    let mut b = vec![0x01, 0x05];
    b.extend([0u8; 32]);
    b.extend([0, 8, 0, 1, 2, 3, 4, 5, 6, 7]);
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::BadEncodedArray.in_message(261));
    assert_eq!(e.reaction(), Reaction::Warn);
}

#[test]
fn truncated_address_descriptor_warns() {
    let mut na = sample(strategies::node_announcement());
    na.addresses.clear();
    na.extension.clear();
    let mut b = encoded(na);
    // Replace the empty address list with a cut-off IPv4 descriptor.
    let n = b.len();
    b[n - 2..].copy_from_slice(&[0, 3]);
    b.extend([1, 127, 0]);
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::BadAddress.in_message(257));
    assert_eq!(e.reaction(), Reaction::Warn);
}

#[test]
fn unknown_even_tlv_in_extension_disconnects() {
    let mut b = encoded(sample(strategies::update_fee()));
    let ext_at = 2 + 32 + 4;
    b.truncate(ext_at);
    b.extend([0x02, 0x00]);
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::UnknownEvenTlv(2).in_message(134));
    assert_eq!(e.reaction(), Reaction::Disconnect);
}

#[test]
fn wrong_length_known_tlv_is_rejected() {
    let mut cr = sample(strategies::channel_ready());
    cr.short_channel_id_alias = None;
    cr.unknown_tlvs.clear();
    let mut b = encoded(cr);
    b.extend([0x01, 0x07, 0, 0, 0, 0, 0, 0, 0]); // alias of 7 bytes
    let e = Message::decode(&b).unwrap_err();
    assert_eq!(e, WireError::TlvBadValue { ty: 1 }.in_message(36));
}

#[test]
fn encode_refuses_oversize_fields() {
    let mut e = sample(strategies::error());
    e.data = vec![0; 65536];
    assert_eq!(
        Message::from(e).encode(),
        Err(WireError::FieldTooLong(65536))
    );
    let mut p = sample(strategies::ping());
    p.ignored = vec![0; 65535];
    assert!(matches!(
        Message::from(p).encode(),
        Err(WireError::TooLong(_))
    ));
}

fn leaks(debug: &str, byte: u8) -> bool {
    let hex = format!("{byte:02x}").repeat(32);
    let dec = format!("{byte}, {byte}, {byte}, {byte}");
    debug.to_lowercase().contains(&hex) || debug.contains(&dec)
}

#[test]
fn secrets_are_not_in_debug_output() {
    let mut raa = sample(strategies::revoke_and_ack());
    raa.per_commitment_secret.0 = [0xab; 32];
    // Control: the check does see public 32-byte fields.
    raa.channel_id.0 = [0x77; 32];
    assert!(leaks(&format!("{raa:?}"), 0x77));
    assert!(!leaks(&format!("{raa:?}"), 0xab));
    let mut f = sample(strategies::update_fulfill_htlc());
    f.payment_preimage.0 = [0xcd; 32];
    assert!(!leaks(&format!("{f:?}"), 0xcd));
    let mut r = sample(strategies::channel_reestablish());
    r.your_last_per_commitment_secret.0 = [0xef; 32];
    assert!(!leaks(&format!("{r:?}"), 0xef));
}
