use super::*;
use proptest::prelude::*;

#[test]
fn unknown_version_and_phase_are_refused() {
    assert_eq!(Channel::decode_state(&[]), Err(StateDecodeError::Truncated));
    assert_eq!(
        Channel::decode_state(&[0, 0]),
        Err(StateDecodeError::UnsupportedVersion(0))
    );
    assert_eq!(
        Channel::decode_state(&[STATE_VERSION + 1, 0]),
        Err(StateDecodeError::UnsupportedVersion(STATE_VERSION + 1))
    );
    assert_eq!(
        Channel::decode_state(&[STATE_VERSION, 9]),
        Err(StateDecodeError::BadTag {
            field: "phase",
            tag: 9
        })
    );
}

#[test]
fn closed_round_trips() {
    let c = Channel::Closed(Closed {
        channel_id: ChannelId([3; 32]),
        reason: CloseReason::MutualClose {
            txid: Txid::from_byte_array([4; 32]),
        },
    });
    let b = c.encode_state();
    assert_eq!(Channel::decode_state(&b), Ok(c));
    let mut long = b.clone();
    long.push(0);
    assert_eq!(
        Channel::decode_state(&long),
        Err(StateDecodeError::TrailingBytes)
    );
    for cut in 0..b.len() {
        assert!(Channel::decode_state(&b[..cut]).is_err());
    }
}

#[test]
fn version_1_states_still_decode() {
    let c = Channel::Closed(Closed {
        channel_id: ChannelId([3; 32]),
        reason: CloseReason::Abandoned,
    });
    let v2 = c.encode_state();
    // Version 1 is version 2 without the (here empty) dust-flag list.
    let mut v1 = v2[..v2.len() - 4].to_vec();
    v1[0] = 1;
    assert_eq!(Channel::decode_state(&v1), Ok(c));
    // A flagged HTLC in a phase without HTLCs is refused.
    let mut bad = v2[..v2.len() - 4].to_vec();
    bad.extend([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(
        Channel::decode_state(&bad),
        Err(StateDecodeError::Invalid("dust-flagged htlcs"))
    );
}

#[test]
fn huge_counts_do_not_allocate() {
    // A Vec count of 2^32-1 followed by nothing: truncated, not an
    // allocation of billions of elements.
    let mut r_bytes = vec![0xff, 0xff, 0xff, 0xff];
    r_bytes.extend([0u8; 3]);
    let mut r = Reader::new(&r_bytes);
    assert_eq!(Vec::<u64>::dec(&mut r), Err(StateDecodeError::Truncated));
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Channel::decode_state(&bytes);
        let mut with_header = vec![STATE_VERSION, bytes.first().copied().unwrap_or(0) % 9];
        with_header.extend(&bytes);
        let _ = Channel::decode_state(&with_header);
    }
}
