#![no_main]
//! Arbitrary sequences of per-commitment secret inserts and lookups on the
//! BOLT 3 compact secret store: never panics, and while the store holds only
//! secrets from one seed, every correct secret is accepted and every
//! received index derives the right secret.
//!
//! Input: a 32-byte seed, then operations (one tag byte each):
//! - 0: insert the seed's correct secret at the next expected index;
//! - 1: insert 32 arbitrary bytes at an arbitrary 6-byte index;
//! - 2: insert 32 arbitrary bytes at the next expected index;
//! - 3: look up an arbitrary 6-byte index;
//! - 4: jump: rebuild a store that received everything down to an
//!   arbitrary index, from the seed;
//! - 5: rebuild from up to 8 arbitrary (index, secret) entries.
use fulmen_script::shachain::{PerCommitmentSecret, SecretStore, ShachainSeed, MAX_INDEX};
use libfuzzer_sys::fuzz_target;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.0.split_at_checked(N)?;
        self.0 = tail;
        head.try_into().ok()
    }
    fn index(&mut self) -> Option<u64> {
        let b: [u8; 6] = self.take()?;
        let mut v = [0u8; 8];
        v[2..].copy_from_slice(&b);
        // Occasionally out of range too: use the top bit of the first byte.
        let extra = if b[0] & 0x80 != 0 { 1u64 << 48 } else { 0 };
        Some(u64::from_be_bytes(v) | extra)
    }
}

/// Smallest index >= lowest with exactly `b` trailing zeros, if in range.
fn bucket_index(lowest: u64, b: u32) -> Option<u64> {
    if b == 48 {
        return (lowest == 0).then_some(0);
    }
    let step = 1u64 << (b + 1);
    let offset = 1u64 << b;
    let k = lowest.saturating_sub(offset).div_ceil(step);
    let c = k.checked_mul(step)?.checked_add(offset)?;
    (c <= MAX_INDEX).then_some(c)
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(seed_bytes) = input.take::<32>() else { return };
    let seed = ShachainSeed::new(seed_bytes);
    let mut store = SecretStore::new();
    // Whether every stored secret came from `seed`, and the lowest index
    // received (all above it have been).
    let mut clean = true;
    let mut lowest: Option<u64> = None;

    while let Some([tag]) = input.take::<1>() {
        match tag % 6 {
            0 => {
                let Some(next) = store.next_index() else { continue };
                let secret = seed.secret(next).expect("next index is in range");
                let result = store.insert_secret(next, &secret);
                if clean {
                    assert!(result.is_ok(), "correct secret rejected: {result:?}");
                }
                if result.is_ok() {
                    lowest = Some(next);
                }
            }
            1 => {
                let (Some(index), Some(bytes)) = (input.index(), input.take::<32>()) else { return };
                let secret = PerCommitmentSecret::new(bytes);
                if store.insert_secret(index, &secret).is_ok() {
                    lowest = Some(index);
                    clean &= seed.secret(index).is_ok_and(|s| s == secret);
                }
            }
            2 => {
                let Some(bytes) = input.take::<32>() else { return };
                let Some(next) = store.next_index() else { continue };
                let secret = PerCommitmentSecret::new(bytes);
                if store.insert_secret(next, &secret).is_ok() {
                    lowest = Some(next);
                    clean &= seed.secret(next).is_ok_and(|s| s == secret);
                }
            }
            3 => {
                let Some(index) = input.index() else { return };
                let got = store.get_secret(index);
                if index > MAX_INDEX {
                    assert!(got.is_err());
                    continue;
                }
                let received = lowest.is_some_and(|l| index >= l);
                assert_eq!(got.is_ok(), received, "lookup of {index}, lowest {lowest:?}");
                if clean && received {
                    assert_eq!(got.ok(), seed.secret(index).ok(), "wrong secret for {index}");
                }
            }
            4 => {
                let Some(index) = input.index() else { return };
                let low = index & MAX_INDEX;
                let entries: Vec<_> = (0..=48u32)
                    .filter_map(|b| bucket_index(low, b))
                    .filter_map(|i| seed.secret(i).ok().map(|s| (i, s)))
                    .collect();
                let rebuilt = SecretStore::from_entries(entries);
                assert!(rebuilt.is_ok(), "valid persisted store refused: {rebuilt:?}");
                if let Ok(s) = rebuilt {
                    store = s;
                    clean = true;
                    lowest = Some(low);
                }
            }
            _ => {
                let Some([n]) = input.take::<1>() else { return };
                let mut entries = Vec::new();
                for _ in 0..(n % 8) {
                    let (Some(index), Some(bytes)) = (input.index(), input.take::<32>()) else { return };
                    entries.push((index, PerCommitmentSecret::new(bytes)));
                }
                // Arbitrary entries: must not panic; the result is ignored
                // unless it rebuilt the store from only the seed's secrets.
                let all_from_seed = entries
                    .iter()
                    .all(|(i, s)| seed.secret(*i).is_ok_and(|x| x == *s));
                let low = entries.iter().map(|(i, _)| *i).min();
                if let Ok(s) = SecretStore::from_entries(entries) {
                    store = s;
                    clean = all_from_seed;
                    lowest = low;
                }
            }
        }
    }
});
