//! Absolute (nLockTime, BIP 113) and relative (BIP 68) lock-time rules, as pure functions.
//!
//! Heights and times are the caller's: for mempool acceptance the "block" is the next one
//! (height tip + 1, time = median time past of the tip); for a block, its own height and the
//! median time past of its parent.

use bitcoin::Transaction;

/// nLockTime values below this are heights, at or above it Unix times.
pub const LOCKTIME_THRESHOLD: u32 = 500_000_000;
/// BIP 68: if set in an input's nSequence, that input has no relative lock.
pub const SEQUENCE_LOCKTIME_DISABLE_FLAG: u32 = 1 << 31;
/// BIP 68: if set, the relative lock is in units of 512 seconds, else in blocks.
pub const SEQUENCE_LOCKTIME_TYPE_FLAG: u32 = 1 << 22;
/// BIP 68: the bits holding the lock value.
pub const SEQUENCE_LOCKTIME_MASK: u32 = 0x0000_ffff;
/// BIP 68: time-based locks are in units of 2^9 seconds.
pub const SEQUENCE_LOCKTIME_GRANULARITY: u32 = 9;
/// Number of blocks whose timestamps give the median time past.
pub const MEDIAN_TIME_SPAN: usize = 11;

/// The median of up to the last [`MEDIAN_TIME_SPAN`] timestamps (`times` ends at the block
/// whose median time past is wanted). Zero for an empty slice.
pub fn median_time_past(times: &[u32]) -> u32 {
    let start = times.len().saturating_sub(MEDIAN_TIME_SPAN);
    let mut window: Vec<u32> = times.get(start..).unwrap_or_default().to_vec();
    window.sort_unstable();
    window.get(window.len() / 2).copied().unwrap_or(0)
}

/// Bitcoin Core's `IsFinalTx`: whether `tx` may be included in a block at `height` whose
/// lock-time cut-off is `time` (the median time past of its parent, BIP 113).
pub fn is_final_tx(tx: &Transaction, height: u32, time: u32) -> bool {
    let lock = tx.lock_time.to_consensus_u32();
    if lock == 0 {
        return true;
    }
    let cutoff = if lock < LOCKTIME_THRESHOLD {
        height
    } else {
        time
    };
    if lock < cutoff {
        return true;
    }
    tx.input.iter().all(|i| i.sequence.0 == u32::MAX)
}

/// The relative-lock constraint of a transaction (Core's `CalculateSequenceLocks`): the block
/// containing it must have height above `min_height` and parent median time past above
/// `min_time`. `-1` means unconstrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceLock {
    /// Last height at which the transaction is still locked.
    pub min_height: i64,
    /// Last median-time-past at which the transaction is still locked.
    pub min_time: i64,
}

/// Computes the BIP 68 lock of `tx`.
///
/// `coin_heights[i]` is the height of the block that created the output spent by input `i`
/// (for an output created in the mempool, the height of the next block). `mtp_at(h)` is the
/// median time past of the active-chain block at height `h`.
/// Returns `None` if `coin_heights` has the wrong length.
pub fn sequence_locks(
    tx: &Transaction,
    coin_heights: &[u32],
    mtp_at: impl Fn(u32) -> u32,
) -> Option<SequenceLock> {
    let mut lock = SequenceLock {
        min_height: -1,
        min_time: -1,
    };
    if coin_heights.len() != tx.input.len() {
        return None;
    }
    // BIP 68 applies to version 2 and above (the version is signed in Core).
    if tx.version.0 < 2 {
        return Some(lock);
    }
    for (input, &coin_height) in tx.input.iter().zip(coin_heights) {
        let seq = input.sequence.0;
        if seq & SEQUENCE_LOCKTIME_DISABLE_FLAG != 0 {
            continue;
        }
        let value = i64::from(seq & SEQUENCE_LOCKTIME_MASK);
        if seq & SEQUENCE_LOCKTIME_TYPE_FLAG != 0 {
            // Time of the block *before* the one that created the coin.
            let coin_time = i64::from(mtp_at(coin_height.saturating_sub(1)));
            let t = coin_time + (value << SEQUENCE_LOCKTIME_GRANULARITY) - 1;
            lock.min_time = lock.min_time.max(t);
        } else {
            let h = i64::from(coin_height) + value - 1;
            lock.min_height = lock.min_height.max(h);
        }
    }
    Some(lock)
}

/// Core's `EvaluateSequenceLocks`: whether a block at `height` with parent median time past
/// `prev_mtp` satisfies `lock`.
pub fn sequence_locks_satisfied(lock: SequenceLock, height: u32, prev_mtp: u32) -> bool {
    lock.min_height < i64::from(height) && lock.min_time < i64::from(prev_mtp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::absolute::LockTime;
    use bitcoin::transaction::Version;
    use bitcoin::{OutPoint, ScriptBuf, Sequence, TxIn, Witness};

    fn tx(version: i32, lock: u32, seqs: &[u32]) -> Transaction {
        Transaction {
            version: Version(version),
            lock_time: LockTime::from_consensus(lock),
            input: seqs
                .iter()
                .map(|s| TxIn {
                    previous_output: OutPoint::null(),
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence(*s),
                    witness: Witness::new(),
                })
                .collect(),
            output: vec![],
        }
    }

    #[test]
    fn median_of_window() {
        assert_eq!(median_time_past(&[]), 0);
        assert_eq!(median_time_past(&[5]), 5);
        assert_eq!(median_time_past(&[1, 2, 3, 100]), 3);
        let times: Vec<u32> = (0..20).collect();
        // Last 11: 9..=19, median 14.
        assert_eq!(median_time_past(&times), 14);
    }

    #[test]
    fn absolute_lock_by_height_and_time() {
        let t = tx(2, 100, &[0xffff_fffe]);
        assert!(!is_final_tx(&t, 100, 0));
        assert!(is_final_tx(&t, 101, 0));
        let t = tx(2, 100, &[u32::MAX]);
        assert!(
            is_final_tx(&t, 50, 0),
            "all-final sequences disable the lock"
        );
        let t = tx(2, LOCKTIME_THRESHOLD + 10, &[0]);
        assert!(!is_final_tx(&t, 1_000_000, LOCKTIME_THRESHOLD + 10));
        assert!(is_final_tx(&t, 0, LOCKTIME_THRESHOLD + 11));
        assert!(is_final_tx(&tx(1, 0, &[0]), 0, 0));
    }

    #[test]
    fn relative_lock_by_height() {
        let t = tx(2, 0, &[10]);
        let lock = sequence_locks(&t, &[100], |_| 0).unwrap();
        assert_eq!(lock.min_height, 109);
        assert!(!sequence_locks_satisfied(lock, 109, 0));
        assert!(sequence_locks_satisfied(lock, 110, 0));
        // Version 1 ignores BIP 68; the disable flag too.
        let lock = sequence_locks(&tx(1, 0, &[10]), &[100], |_| 0).unwrap();
        assert!(sequence_locks_satisfied(lock, 0, 0));
        let t = tx(2, 0, &[10 | SEQUENCE_LOCKTIME_DISABLE_FLAG]);
        assert!(sequence_locks_satisfied(
            sequence_locks(&t, &[100], |_| 0).unwrap(),
            0,
            0
        ));
        assert!(sequence_locks(&t, &[], |_| 0).is_none());
    }

    #[test]
    fn relative_lock_by_time_uses_mtp_before_coin_block() {
        let t = tx(2, 0, &[SEQUENCE_LOCKTIME_TYPE_FLAG | 2]);
        let lock = sequence_locks(&t, &[50], |h| {
            assert_eq!(h, 49);
            1_000
        })
        .unwrap();
        assert_eq!(lock.min_time, 1_000 + 1024 - 1);
        assert!(!sequence_locks_satisfied(lock, 1000, 2023));
        assert!(sequence_locks_satisfied(lock, 1000, 2024));
    }
}
