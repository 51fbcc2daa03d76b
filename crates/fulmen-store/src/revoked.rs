//! The `revoked_commitments` table: what a penalty transaction is built from.
//!
//! One record per revoked counterparty commitment, appended in the same
//! transaction as the channel state that received the `revoke_and_ack`.
//! Records are never updated or deleted (triggers refuse it), and are found by
//! the commitment transaction's txid when a funding output is spent.

use core::fmt;

use fulmen_types::ChannelId;
use rusqlite::{params, Connection};

use crate::error::StoreError;
use crate::sql::{self, RowReader};

/// A revoked counterparty commitment.
#[derive(Clone, PartialEq, Eq)]
pub struct RevokedCommitment {
    /// The channel.
    pub channel_id: ChannelId,
    /// The commitment number (counting up from 0).
    pub commitment_number: u64,
    /// The commitment transaction's txid, in internal byte order (as
    /// `bitcoin::Txid::to_byte_array` gives it, not the reversed hex order).
    pub txid: [u8; 32],
    /// The channel crate's encoding of what the penalty needs (outputs,
    /// delays, the revealed per-commitment secret). Secret: `Debug` shows only
    /// its length.
    pub record: Vec<u8>,
}

impl fmt::Debug for RevokedCommitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Hex<'a>(&'a [u8]);
        impl fmt::Debug for Hex<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
        f.debug_struct("RevokedCommitment")
            .field("channel_id", &self.channel_id)
            .field("commitment_number", &self.commitment_number)
            .field("txid", &Hex(&self.txid))
            .field("record_len", &self.record.len())
            .finish()
    }
}

/// Appends `rc`. Appending a record identical to the stored one is a no-op
/// (so a replayed batch is harmless); a different record under the same
/// channel and number, or the same txid, is refused.
pub(crate) fn append(conn: &Connection, rc: &RevokedCommitment) -> Result<(), StoreError> {
    let number = sql::int("commitment_number", rc.commitment_number)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO revoked_commitments (channel_id, commitment_number, txid, record)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            rc.channel_id.as_bytes(),
            number,
            rc.txid,
            rc.record
        ])?;
    if inserted == 1 {
        return Ok(());
    }
    match get(conn, &rc.channel_id, rc.commitment_number)? {
        Some(stored) if stored == *rc => Ok(()),
        _ => Err(StoreError::RevokedCommitmentConflict {
            channel_id: rc.channel_id,
            commitment_number: rc.commitment_number,
        }),
    }
}

const COLUMNS: &str = "channel_id, commitment_number, txid, record";

fn read(row: &rusqlite::Row<'_>) -> Result<RevokedCommitment, StoreError> {
    let r = RowReader::new(row, "revoked_commitments");
    Ok(RevokedCommitment {
        channel_id: r.channel_id("channel_id")?,
        commitment_number: r.u64("commitment_number")?,
        txid: r.array("txid")?,
        record: r.blob("record")?,
    })
}

/// The record of one channel's commitment `number`.
pub(crate) fn get(
    conn: &Connection,
    channel_id: &ChannelId,
    number: u64,
) -> Result<Option<RevokedCommitment>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM revoked_commitments WHERE channel_id = ?1 AND commitment_number = ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![
        channel_id.as_bytes(),
        sql::int("commitment_number", number)?
    ])?;
    rows.next()?.map(read).transpose()
}

/// The record whose commitment transaction has `txid`.
pub(crate) fn by_txid(
    conn: &Connection,
    txid: &[u8; 32],
) -> Result<Option<RevokedCommitment>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM revoked_commitments WHERE txid = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([txid])?;
    rows.next()?.map(read).transpose()
}

/// How many records a channel has.
pub(crate) fn count(conn: &Connection, channel_id: &ChannelId) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM revoked_commitments WHERE channel_id = ?1")?
        .query_row([channel_id.as_bytes()], |r| r.get(0))?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt {
        table: "revoked_commitments",
        column: "count",
        reason: crate::error::CorruptReason::Range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_record() {
        let rc = RevokedCommitment {
            channel_id: ChannelId([0; 32]),
            commitment_number: 3,
            txid: [0xcd; 32],
            record: vec![0xee; 17],
        };
        let s = format!("{rc:?}");
        assert!(s.contains("record_len: 17") && s.contains("cdcd"), "{s}");
        assert!(!s.contains("ee") && !s.contains("238"), "{s}");
    }
}
