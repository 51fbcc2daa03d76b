#![no_main]
//! Failure handling must never panic on any input.
//!
//! - The input as a return packet is decrypted with a few fixed shared
//!   secrets; an attributed message is decoded.
//! - The input as a `failuremsg` is decoded; what decodes re-encodes to a
//!   message that decodes to the same value.
//! - The input as a failure message is wrapped at a hop chosen by its first
//!   byte, re-wrapped back to the origin, and must be attributed to that hop
//!   with the same bytes.
use fulmen_onion::failure::{
    create_failure_packet, decrypt_failure, wrap_failure_packet, FailureMessage, DEFAULT_PAD_TARGET,
};
use fulmen_onion::SharedSecret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let secrets = [
        SharedSecret([0x11; 32]),
        SharedSecret([0x22; 32]),
        SharedSecret([0x33; 32]),
        SharedSecret([0x44; 32]),
    ];

    if let Ok(f) = decrypt_failure(&secrets, data) {
        assert!(f.hop_index < secrets.len());
        let _ = FailureMessage::decode_with_extension(&f.message);
    }

    if let Ok((m, ext)) = FailureMessage::decode_with_extension(data) {
        if let Ok(enc) = m.encode_with_extension(&ext) {
            let (m2, ext2) = FailureMessage::decode_with_extension(&enc).expect("re-decodes");
            assert_eq!(m, m2);
            assert_eq!(ext, ext2);
        }
        let _ = m.code().is_bad_onion();
    }

    if let Some((&sel, msg)) = data.split_first() {
        let hop = usize::from(sel) % secrets.len();
        if let Ok(mut packet) = create_failure_packet(&secrets[hop], msg, DEFAULT_PAD_TARGET) {
            for ss in secrets[..hop].iter().rev() {
                wrap_failure_packet(ss, &mut packet);
            }
            let got = decrypt_failure(&secrets, &packet).expect("attributable");
            assert_eq!(got.hop_index, hop);
            assert_eq!(got.message, msg);
        }
    }
});
