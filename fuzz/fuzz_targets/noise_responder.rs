#![no_main]
//! Placeholder until the owning crate's decoder lands.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
