//! Per-commitment secrets (BOLT 3 "Per-commitment Secret Requirements" and
//! "Efficient Per-commitment Secret Storage").
//!
//! The sender derives every secret from one 32-byte seed and a 48-bit index
//! ([`ShachainSeed::secret`]); the first commitment uses index `2^48 - 1`
//! and each next one the index below ([`commitment_index`]).
//!
//! The receiver keeps the secrets its peer revealed in a [`SecretStore`] of
//! at most 49 entries: a secret whose index ends in `b` zero bits derives
//! every secret whose index shares its upper `48 - b` bits. Inserting checks
//! that the new secret derives the ones it replaces, so a peer cannot feed
//! secrets from two different seeds.

use core::fmt;

use bitcoin::hashes::{sha256, Hash};

/// The highest index, used for the first commitment (number 0).
pub const MAX_INDEX: u64 = (1 << 48) - 1;

/// Number of storage buckets: one per possible count of trailing zero bits
/// of a 48-bit index (0..=48).
const BUCKETS: usize = 49;

/// A 32-byte per-commitment secret. `Debug` never shows its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PerCommitmentSecret([u8; 32]);

impl PerCommitmentSecret {
    /// Wraps 32 bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// The 32 secret bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for PerCommitmentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PerCommitmentSecret(<redacted>)")
    }
}

/// The seed all of one party's per-commitment secrets derive from. `Debug`
/// never shows its bytes.
#[derive(Clone)]
pub struct ShachainSeed([u8; 32]);

impl ShachainSeed {
    /// Wraps 32 bytes, which the caller must draw from a secure source and
    /// never reveal.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// `generate_from_seed(seed, index)`: the secret at a 48-bit index.
    pub fn secret(&self, index: u64) -> Result<PerCommitmentSecret, ShachainError> {
        check_index(index)?;
        Ok(PerCommitmentSecret(derive(self.0, 48, index)))
    }

    /// The secret of commitment number `commitment_number` (0 for the first).
    pub fn secret_for_commitment(
        &self,
        commitment_number: u64,
    ) -> Result<PerCommitmentSecret, ShachainError> {
        self.secret(commitment_index(commitment_number)?)
    }
}

impl fmt::Debug for ShachainSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShachainSeed(<redacted>)")
    }
}

/// The shachain index of commitment number `n`: `2^48 - 1 - n`.
pub fn commitment_index(commitment_number: u64) -> Result<u64, ShachainError> {
    MAX_INDEX
        .checked_sub(commitment_number)
        .ok_or(ShachainError::IndexOutOfRange {
            index: commitment_number,
        })
}

/// Why a secret could not be stored or found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShachainError {
    /// The index does not fit in 48 bits. From a peer: fail the channel.
    IndexOutOfRange {
        /// The index given.
        index: u64,
    },
    /// Secrets must arrive in order, from `2^48 - 1` downwards. From a peer
    /// (a `revoke_and_ack` for the wrong commitment): fail the channel.
    UnexpectedIndex {
        /// The index the store expects next.
        expected: u64,
        /// The index given.
        got: u64,
    },
    /// All 2^48 secrets have been received; the channel cannot advance.
    Exhausted,
    /// The secret does not derive a secret received earlier: the peer's
    /// secrets do not come from one seed. Fail the channel.
    InconsistentSecret {
        /// The index of the rejected secret.
        index: u64,
        /// The index of the earlier secret it fails to derive.
        conflicts_with: u64,
    },
    /// The secret at this index has not been received (yet). Ignore the
    /// lookup: the commitment is not revoked.
    Unknown {
        /// The index asked for.
        index: u64,
    },
}

impl fmt::Display for ShachainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexOutOfRange { index } => {
                write!(f, "per-commitment index {index} does not fit in 48 bits")
            }
            Self::UnexpectedIndex { expected, got } => {
                write!(f, "expected per-commitment secret {expected}, got {got}")
            }
            Self::Exhausted => f.write_str("all per-commitment secrets have been received"),
            Self::InconsistentSecret {
                index,
                conflicts_with,
            } => write!(
                f,
                "per-commitment secret {index} does not derive secret {conflicts_with}"
            ),
            Self::Unknown { index } => {
                write!(f, "per-commitment secret {index} has not been received")
            }
        }
    }
}

impl std::error::Error for ShachainError {}

fn check_index(index: u64) -> Result<(), ShachainError> {
    if index > MAX_INDEX {
        Err(ShachainError::IndexOutOfRange { index })
    } else {
        Ok(())
    }
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `derive_secret(base, bits, index)`: for each bit below `bits` set in
/// `index`, highest first, flip that bit of the value and hash it.
fn derive(base: [u8; 32], bits: u32, index: u64) -> [u8; 32] {
    let mut p = base;
    for b in (0..bits.min(48)).rev() {
        if (index >> b) & 1 == 1 {
            // Bit b is bit (b mod 8) of byte (b div 8); b < 48 so the byte
            // index is below 6.
            if let Some(byte) = p.get_mut((b / 8) as usize) {
                *byte ^= 1 << (b % 8);
            }
            p = sha256::Hash::hash(&p).to_byte_array();
        }
    }
    p
}

/// `where_to_put_secret`: the number of trailing zero bits (48 for index 0).
fn bucket_of(index: u64) -> usize {
    (index.trailing_zeros().min(48)) as usize
}

#[derive(Clone, Copy)]
struct Entry {
    index: u64,
    secret: [u8; 32],
}

/// The receiver's compact store of the peer's revealed per-commitment
/// secrets: 49 slots, no allocation. `Debug` shows only which indices are
/// held.
#[derive(Clone)]
pub struct SecretStore {
    known: [Option<Entry>; BUCKETS],
    /// The index the next secret must have; `None` once index 0 is stored.
    next: Option<u64>,
}

impl Default for SecretStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("next_index", &self.next)
            .field(
                "known_indices",
                &self
                    .known
                    .iter()
                    .flatten()
                    .map(|e| e.index)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SecretStore {
    /// An empty store, expecting index `2^48 - 1` first.
    pub const fn new() -> Self {
        Self {
            known: [None; BUCKETS],
            next: Some(MAX_INDEX),
        }
    }

    /// The index the next inserted secret must have, or `None` when all
    /// 2^48 secrets have been received.
    pub const fn next_index(&self) -> Option<u64> {
        self.next
    }

    /// `insert_secret(secret, index)`: stores the secret the peer revealed
    /// for `index`, after checking it is the next expected index and that it
    /// derives every stored secret it is the parent of.
    pub fn insert_secret(
        &mut self,
        index: u64,
        secret: &PerCommitmentSecret,
    ) -> Result<(), ShachainError> {
        check_index(index)?;
        let expected = self.next.ok_or(ShachainError::Exhausted)?;
        if index != expected {
            return Err(ShachainError::UnexpectedIndex {
                expected,
                got: index,
            });
        }
        let bucket = bucket_of(index);
        for entry in self.known.iter().take(bucket).flatten() {
            let derived = derive(secret.0, bucket as u32, entry.index);
            if !ct_eq(&derived, &entry.secret) {
                return Err(ShachainError::InconsistentSecret {
                    index,
                    conflicts_with: entry.index,
                });
            }
        }
        if let Some(slot) = self.known.get_mut(bucket) {
            *slot = Some(Entry {
                index,
                secret: secret.0,
            });
        }
        self.next = index.checked_sub(1);
        Ok(())
    }

    /// The secret at `index`, derived from the stored entry whose index is
    /// a prefix of it.
    pub fn get_secret(&self, index: u64) -> Result<PerCommitmentSecret, ShachainError> {
        check_index(index)?;
        for (b, entry) in self.known.iter().enumerate() {
            let Some(entry) = entry else { continue };
            let mask = !((1u64 << b) - 1);
            if index & mask == entry.index {
                return Ok(PerCommitmentSecret(derive(entry.secret, b as u32, index)));
            }
        }
        Err(ShachainError::Unknown { index })
    }

    /// The stored `(index, secret)` pairs, for persistence; feed them back
    /// through [`SecretStore::from_entries`].
    pub fn entries(&self) -> impl Iterator<Item = (u64, PerCommitmentSecret)> + '_ {
        self.known
            .iter()
            .flatten()
            .map(|e| (e.index, PerCommitmentSecret(e.secret)))
    }

    /// Rebuilds a store from persisted [`SecretStore::entries`], checking
    /// that each entry sits in its own bucket, that the entries are mutually
    /// consistent, and that they describe a store that received every index
    /// from `2^48 - 1` down to the lowest one.
    pub fn from_entries<I>(entries: I) -> Result<Self, ShachainError>
    where
        I: IntoIterator<Item = (u64, PerCommitmentSecret)>,
    {
        let mut known: [Option<Entry>; BUCKETS] = [None; BUCKETS];
        let mut lowest: Option<u64> = None;
        for (index, secret) in entries {
            check_index(index)?;
            let bucket = bucket_of(index);
            let slot = known
                .get_mut(bucket)
                .ok_or(ShachainError::IndexOutOfRange { index })?;
            if let Some(existing) = slot {
                return Err(ShachainError::UnexpectedIndex {
                    expected: existing.index,
                    got: index,
                });
            }
            *slot = Some(Entry {
                index,
                secret: secret.0,
            });
            lowest = Some(lowest.map_or(index, |l| l.min(index)));
        }
        let Some(lowest) = lowest else {
            return Ok(Self::new());
        };
        // Replay the receiver's view: a store that received every index from
        // MAX_INDEX down to `lowest` holds, in bucket b, the lowest received
        // index with exactly b trailing zeros.
        for (b, slot) in known.iter().enumerate() {
            let want = expected_bucket_index(lowest, b as u32);
            let have = slot.map(|e| e.index);
            if want != have {
                return Err(ShachainError::UnexpectedIndex {
                    expected: want.unwrap_or(lowest),
                    got: have.unwrap_or(lowest),
                });
            }
        }
        // Each entry must derive every lower-bucket entry whose index it is
        // a prefix of (the invariant `insert_secret` maintains).
        for (b, entry) in known.iter().enumerate() {
            let Some(entry) = entry else { continue };
            let mask = !((1u64 << b) - 1);
            for lower in known.iter().take(b).flatten() {
                if lower.index & mask != entry.index {
                    continue;
                }
                if !ct_eq(&derive(entry.secret, b as u32, lower.index), &lower.secret) {
                    return Err(ShachainError::InconsistentSecret {
                        index: entry.index,
                        conflicts_with: lower.index,
                    });
                }
            }
        }
        Ok(Self {
            known,
            next: lowest.checked_sub(1),
        })
    }
}

/// The index a complete store that has received `MAX_INDEX..=lowest` holds
/// in bucket `b`: the smallest `i >= lowest` with exactly `b` trailing zeros.
fn expected_bucket_index(lowest: u64, b: u32) -> Option<u64> {
    if b == 48 {
        return (lowest == 0).then_some(0);
    }
    // Candidates: numbers of the form k * 2^(b+1) + 2^b.
    let step = 1u64 << (b + 1);
    let offset = 1u64 << b;
    let k = lowest.saturating_sub(offset).div_ceil(step);
    let candidate = k.checked_mul(step)?.checked_add(offset)?;
    let candidate = if candidate < lowest {
        candidate.checked_add(step)?
    } else {
        candidate
    };
    (candidate <= MAX_INDEX).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_examples_from_the_spec() {
        // "flip(0) in e3b0..." is "e2b0...", "flip(10) in e3b0..." is "e3b4...".
        let mut v = [0u8; 32];
        v[0] = 0xe3;
        v[1] = 0xb0;
        let mut a = v;
        a[0] ^= 1 << 0;
        assert_eq!(a[0], 0xe2);
        let mut b = v;
        b[10 / 8] ^= 1 << (10 % 8);
        assert_eq!(b[1], 0xb4);
    }

    #[test]
    fn store_derives_every_received_secret() {
        let seed = ShachainSeed::new([7; 32]);
        let mut store = SecretStore::new();
        for n in 0..300u64 {
            let i = commitment_index(n).unwrap();
            store.insert_secret(i, &seed.secret(i).unwrap()).unwrap();
            assert!(store.known.iter().flatten().count() <= BUCKETS);
        }
        for n in 0..300u64 {
            let i = commitment_index(n).unwrap();
            assert_eq!(store.get_secret(i).unwrap(), seed.secret(i).unwrap());
        }
        let next = commitment_index(300).unwrap();
        assert_eq!(
            store.get_secret(next),
            Err(ShachainError::Unknown { index: next })
        );
        let rebuilt = SecretStore::from_entries(store.entries()).unwrap();
        assert_eq!(rebuilt.next_index(), store.next_index());
        assert_eq!(rebuilt.get_secret(MAX_INDEX), store.get_secret(MAX_INDEX));
    }

    #[test]
    fn order_and_range_are_enforced() {
        let seed = ShachainSeed::new([1; 32]);
        let mut store = SecretStore::new();
        let s = seed.secret(MAX_INDEX - 1).unwrap();
        assert_eq!(
            store.insert_secret(MAX_INDEX - 1, &s),
            Err(ShachainError::UnexpectedIndex {
                expected: MAX_INDEX,
                got: MAX_INDEX - 1
            })
        );
        assert_eq!(
            store.insert_secret(MAX_INDEX + 1, &s),
            Err(ShachainError::IndexOutOfRange {
                index: MAX_INDEX + 1
            })
        );
        assert_eq!(
            seed.secret(u64::MAX).unwrap_err(),
            ShachainError::IndexOutOfRange { index: u64::MAX }
        );
        assert!(commitment_index(MAX_INDEX + 1).is_err());
    }

    #[test]
    fn last_index_exhausts_the_store() {
        let seed = ShachainSeed::new([9; 32]);
        // Build the state of a store that has received everything down to 1.
        let entries: Vec<_> = (0..48u32)
            .map(|b| {
                let i = expected_bucket_index(1, b).unwrap();
                (i, seed.secret(i).unwrap())
            })
            .collect();
        let mut store = SecretStore::from_entries(entries).unwrap();
        assert_eq!(store.next_index(), Some(0));
        store.insert_secret(0, &seed.secret(0).unwrap()).unwrap();
        assert_eq!(store.next_index(), None);
        assert_eq!(
            store.insert_secret(0, &seed.secret(0).unwrap()),
            Err(ShachainError::Exhausted)
        );
        assert_eq!(
            store.get_secret(12345).unwrap(),
            seed.secret(12345).unwrap()
        );
    }

    #[test]
    fn from_entries_rejects_gaps_and_mixtures() {
        let seed = ShachainSeed::new([3; 32]);
        let other = ShachainSeed::new([4; 32]);
        // Missing bucket 0 for a store whose lowest is MAX-1.
        let gap = vec![(MAX_INDEX - 1, seed.secret(MAX_INDEX - 1).unwrap())];
        assert!(SecretStore::from_entries(gap).is_err());
        let mixed = vec![
            (MAX_INDEX, other.secret(MAX_INDEX).unwrap()),
            (MAX_INDEX - 1, seed.secret(MAX_INDEX - 1).unwrap()),
        ];
        // Lowest is MAX-1 (bucket 1); bucket 0 must be MAX.
        assert!(matches!(
            SecretStore::from_entries(mixed),
            Err(ShachainError::InconsistentSecret { .. })
        ));
        assert!(SecretStore::from_entries(Vec::new())
            .unwrap()
            .next_index()
            .is_some());
    }

    #[test]
    fn debug_redacts() {
        let s = PerCommitmentSecret::new([0xab; 32]);
        assert!(!format!("{s:?}").contains("ab"));
        assert!(!format!("{:?}", ShachainSeed::new([0xab; 32])).contains("ab"));
        let mut store = SecretStore::new();
        store
            .insert_secret(
                MAX_INDEX,
                &ShachainSeed::new([0xab; 32]).secret(MAX_INDEX).unwrap(),
            )
            .unwrap();
        assert!(format!("{store:?}").contains("281474976710655"));
    }
}
