use super::*;
use proptest::prelude::*;

#[test]
fn unknown_version_and_phase_are_refused() {
    assert_eq!(Channel::decode_state(&[]), Err(StateDecodeError::Truncated));
    assert_eq!(
        Channel::decode_state(&[2, 0]),
        Err(StateDecodeError::UnsupportedVersion(2))
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
