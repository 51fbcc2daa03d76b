#![no_main]
//! Feeds arbitrary bytes to a BOLT 8 responder: as act one, as act three
//! (after a genuine or fuzzed act one), and as post-handshake ciphertext to
//! both the streaming decrypt API and the buffered `MessageDecoder`.
//!
//! Input layout: `flags || payload`. Flag bits choose whether act one / act
//! three come from a genuine initiator or from the payload, and whether the
//! ciphertext stream starts with a genuine message, so the fuzzer reaches
//! every stage; the remaining payload is the stream, split into chunks whose
//! sizes come from the flags byte.

use fulmen_noise::{
    InitiatorHandshake, MessageDecoder, PublicKey, ResponderHandshake, SecretKey, ACT_ONE_LEN,
    ACT_THREE_LEN, LENGTH_HEADER_LEN,
};
use libfuzzer_sys::fuzz_target;

/// The public key of `key(0x21)` (BOLT 8 vector `ls.pub` of the responder).
const RESPONDER_ID: [u8; 33] = [
    0x02, 0x8d, 0x75, 0x00, 0xdd, 0x4c, 0x12, 0x68, 0x5d, 0x1f, 0x56, 0x8b, 0x4c, 0x2b, 0x50, 0x48,
    0xe8, 0x53, 0x4b, 0x87, 0x33, 0x19, 0xf3, 0xa8, 0xda, 0xa6, 0x12, 0xb4, 0x69, 0x13, 0x2e, 0xc7,
    0xf7,
];

fn key(byte: u8) -> SecretKey {
    SecretKey::from_slice(&[byte; 32]).unwrap()
}

/// Takes `n` bytes from the front of `data` (fewer if it is shorter).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, mut data)) = input.split_first() else {
        return;
    };
    let responder_static = key(0x21);
    let responder_id = PublicKey::from_slice(&RESPONDER_ID).unwrap();
    let (initiator, genuine_act_one) = InitiatorHandshake::new(key(0x11), responder_id, key(0x12));
    let responder = ResponderHandshake::new(responder_static, key(0x22));

    let act_one: &[u8] = if flags & 1 == 0 {
        &genuine_act_one
    } else {
        take(&mut data, ACT_ONE_LEN)
    };
    let Ok((responder, act_two)) = responder.process_act_one(act_one) else {
        return;
    };

    let genuine = initiator.process_act_two(&act_two).ok();
    let (act_three, initiator) = match (flags & 2 == 0, genuine) {
        (true, Some((act_three, initiator))) => (act_three.to_vec(), Some(initiator)),
        _ => (take(&mut data, ACT_THREE_LEN).to_vec(), None),
    };
    let Ok((_, responder)) = responder.process_act_three(&act_three) else {
        return;
    };

    // Post-handshake: optionally a genuine message first, then fuzz bytes.
    let mut stream = Vec::new();
    let mut genuine_message = None;
    if let Some(mut initiator) = initiator {
        if flags & 4 != 0 {
            let message = &data[..data.len().min(300)];
            initiator.encrypt_into(message, &mut stream).unwrap();
            genuine_message = Some(message.to_vec());
        }
    }
    stream.extend_from_slice(data);

    // Flag bit 3 selects the two-step streaming API (first frame only);
    // otherwise the whole stream goes through the buffered decoder.
    let (_, mut receiver) = responder.split();
    if flags & 8 != 0 {
        if let Some(header) = stream.first_chunk::<LENGTH_HEADER_LEN>() {
            if let Ok(len) = receiver.decrypt_length(header) {
                let end = (LENGTH_HEADER_LEN + usize::from(len) + 16).min(stream.len());
                let mut body = stream[LENGTH_HEADER_LEN..end].to_vec();
                let _ = receiver.decrypt_body_in_place(&mut body);
            }
        }
        return;
    }
    let mut decoder = MessageDecoder::new(receiver);
    let chunk = usize::from(flags >> 4) * 97 + 1;
    for piece in stream.chunks(chunk) {
        decoder.feed(piece);
        while let Ok(Some(message)) = decoder.decode_next() {
            // Only the genuine message can authenticate, and only first.
            assert_eq!(Some(message), genuine_message.take().as_deref());
        }
        assert!(decoder.buffered_len() <= stream.len());
    }
});
