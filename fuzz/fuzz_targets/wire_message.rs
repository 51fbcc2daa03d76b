#![no_main]
//! `Message::decode` of arbitrary bytes must never panic; whatever decodes
//! must re-encode to the same bytes and decode again to the same message.
use fulmen_wire::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        let bytes = m.encode().expect("a decoded message re-encodes");
        assert_eq!(bytes, data, "encode(decode(x)) == x");
        let again = Message::decode(&bytes).expect("re-encoded message decodes");
        assert_eq!(again, m, "decode(encode(m)) == m");
    }
});
