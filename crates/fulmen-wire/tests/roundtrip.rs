//! Round-trip property tests for every message type, and decoding of
//! arbitrary or mutated bytes (which must never panic).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod strategies;

use fulmen_wire::{Message, WireMessage};
use proptest::prelude::*;
use strategies::*;

/// decode(encode(m)) == m, and encode(decode(bytes)) == bytes.
fn check_round_trip(msg: Message) -> Result<(), TestCaseError> {
    let bytes = msg.encode().unwrap();
    prop_assert_eq!(&bytes[..2], &msg.msg_type().to_be_bytes()[..]);
    let back = Message::decode(&bytes).unwrap();
    prop_assert_eq!(&back, &msg);
    prop_assert_eq!(back.encode().unwrap(), bytes);
    Ok(())
}

macro_rules! round_trips {
    ($($test:ident: $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $test(m in $strategy) {
                    // The per-type codec agrees with the enum.
                    let direct = m.encode_message().unwrap();
                    let msg = Message::from(m);
                    prop_assert_eq!(&direct, &msg.encode().unwrap());
                    check_round_trip(msg)?;
                }
            )*
        }
    };
}

round_trips! {
    rt_init: init();
    rt_error: error();
    rt_warning: warning();
    rt_ping: ping();
    rt_pong: pong();
    rt_peer_storage: peer_storage();
    rt_peer_storage_retrieval: peer_storage_retrieval();
    rt_open_channel: open_channel();
    rt_accept_channel: accept_channel();
    rt_funding_created: funding_created();
    rt_funding_signed: funding_signed();
    rt_channel_ready: channel_ready();
    rt_shutdown: shutdown();
    rt_closing_signed: closing_signed();
    rt_update_add_htlc: update_add_htlc();
    rt_update_fulfill_htlc: update_fulfill_htlc();
    rt_update_fail_htlc: update_fail_htlc();
    rt_update_fail_malformed_htlc: update_fail_malformed_htlc();
    rt_commitment_signed: commitment_signed();
    rt_revoke_and_ack: revoke_and_ack();
    rt_update_fee: update_fee();
    rt_channel_reestablish: channel_reestablish();
    rt_channel_announcement: channel_announcement();
    rt_node_announcement: node_announcement();
    rt_channel_update: channel_update();
    rt_announcement_signatures: announcement_signatures();
    rt_query_short_channel_ids: query_short_channel_ids();
    rt_reply_short_channel_ids_end: reply_short_channel_ids_end();
    rt_query_channel_range: query_channel_range();
    rt_reply_channel_range: reply_channel_range();
    rt_gossip_timestamp_filter: gossip_timestamp_filter();
}

const KNOWN_TYPES: [u16; 31] = [
    1, 7, 9, 16, 17, 18, 19, 32, 33, 34, 35, 36, 38, 39, 128, 130, 131, 132, 133, 134, 135, 136,
    256, 257, 258, 259, 261, 262, 263, 264, 265,
];

#[test]
fn every_known_type_is_covered() {
    for t in KNOWN_TYPES {
        assert!(Message::is_known_type(t), "{t}");
    }
    assert_eq!(
        (0..=u16::MAX)
            .filter(|t| Message::is_known_type(*t))
            .count(),
        31
    );
}

/// Any message, for mutation tests.
fn any_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        init().prop_map(Message::from),
        error().prop_map(Message::from),
        ping().prop_map(Message::from),
        open_channel().prop_map(Message::from),
        accept_channel().prop_map(Message::from),
        funding_created().prop_map(Message::from),
        channel_ready().prop_map(Message::from),
        closing_signed().prop_map(Message::from),
        update_add_htlc().prop_map(Message::from),
        update_fulfill_htlc().prop_map(Message::from),
        update_fail_htlc().prop_map(Message::from),
        commitment_signed().prop_map(Message::from),
        revoke_and_ack().prop_map(Message::from),
        channel_reestablish().prop_map(Message::from),
        channel_announcement().prop_map(Message::from),
        node_announcement().prop_map(Message::from),
        channel_update().prop_map(Message::from),
        query_short_channel_ids().prop_map(Message::from),
        query_channel_range().prop_map(Message::from),
        reply_channel_range().prop_map(Message::from),
        unknown_message(),
    ]
}

/// If bytes decode at all, they re-encode to the same bytes: nothing a peer
/// sends is silently dropped or normalised.
fn decode_is_canonical(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = Message::decode(bytes) {
        prop_assert_eq!(m.encode().unwrap(), bytes);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn unknown_odd_messages_round_trip(m in unknown_message()) {
        check_round_trip(m)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        decode_is_canonical(&bytes)?;
    }

    #[test]
    fn arbitrary_payloads_of_known_types_never_panic(
        ty in proptest::sample::select(KNOWN_TYPES.to_vec()),
        payload in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let bytes = [&ty.to_be_bytes()[..], &payload].concat();
        decode_is_canonical(&bytes)?;
    }

    #[test]
    fn mutated_messages_never_panic(
        m in any_message(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = m.encode().unwrap();
        for (i, x) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        decode_is_canonical(&bytes)?;
    }
}
