//! The `channels` table: one opaque state blob per channel.
//!
//! The blob is whatever the channel state machine serialised
//! (`Channel::encode_state` in fulmen-channel); the store never looks inside.
//! A batch writes a channel's blob at most once (the last write of the batch
//! wins), so a tick that touched a channel ten times still costs one row write.

use core::fmt;

use fulmen_types::{ChannelId, NodeId};
use rusqlite::{params, Connection};

use crate::error::{RecordRef, StoreError};
use crate::sql::{self, status_enum, RowReader};

status_enum! {
    /// Whether a channel is live. The node loads `Open` channels into its
    /// channel manager at start; `Closed` ones are kept for history until
    /// deleted.
    #[non_exhaustive]
    pub enum ChannelStatus {
        /// Live: load it at start.
        Open => "open",
        /// Closed (mutually or unilaterally, resolution finished or handed to
        /// the on-chain watcher): do not load it into the channel manager.
        Closed => "closed",
    }
}

/// A channel row as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredChannel {
    /// The channel id (the primary key).
    pub channel_id: ChannelId,
    /// The peer the channel is with.
    pub peer_id: NodeId,
    /// The channel state machine's serialised state. It holds secrets (the
    /// peer's revealed per-commitment secrets), so `Debug` shows only its
    /// length.
    pub state: Vec<u8>,
    /// Live or closed.
    pub status: ChannelStatus,
    /// Unix seconds of the last write (given by the caller).
    pub updated_at: u64,
}

impl fmt::Debug for StoredChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredChannel")
            .field("channel_id", &self.channel_id)
            .field("peer_id", &self.peer_id)
            .field("state_len", &self.state.len())
            .field("status", &self.status)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// One pending change to a channel row, in a batch.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum ChannelOp {
    /// Write the state blob (insert with status `open`, or update the blob and
    /// `updated_at` of the existing row, keeping its status).
    Put {
        peer_id: NodeId,
        state: Vec<u8>,
        updated_at: u64,
    },
    /// Change the status of the existing row.
    SetStatus {
        status: ChannelStatus,
        updated_at: u64,
    },
    /// Remove the row (no error if there is none).
    Delete,
}

impl fmt::Debug for ChannelOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Put {
                peer_id,
                state,
                updated_at,
            } => f
                .debug_struct("Put")
                .field("peer_id", peer_id)
                .field("state_len", &state.len())
                .field("updated_at", updated_at)
                .finish(),
            Self::SetStatus { status, updated_at } => f
                .debug_struct("SetStatus")
                .field("status", status)
                .field("updated_at", updated_at)
                .finish(),
            Self::Delete => f.write_str("Delete"),
        }
    }
}

/// Appends `op` to one channel's pending ops. A `Put` that follows a `Put`
/// replaces it (the first blob would be overwritten anyway); otherwise ops
/// keep their order, so that put-close-put or delete-put mean what they say.
pub(crate) fn push_op(ops: &mut Vec<ChannelOp>, op: ChannelOp) {
    if let (ChannelOp::Put { .. }, Some(last)) = (&op, ops.last_mut()) {
        if matches!(last, ChannelOp::Put { .. }) {
            *last = op;
            return;
        }
    }
    ops.push(op);
}

/// Applies one op inside the commit transaction.
pub(crate) fn apply(
    conn: &Connection,
    channel_id: &ChannelId,
    op: &ChannelOp,
) -> Result<(), StoreError> {
    match op {
        ChannelOp::Put {
            peer_id,
            state,
            updated_at,
        } => {
            let changed = conn
                .prepare_cached(
                    "INSERT INTO channels (channel_id, peer_id, state, status, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (channel_id) DO UPDATE
                         SET state = excluded.state, updated_at = excluded.updated_at
                         WHERE channels.peer_id = excluded.peer_id",
                )?
                .execute(params![
                    channel_id.as_bytes(),
                    peer_id.as_bytes(),
                    state,
                    ChannelStatus::Open.as_str(),
                    sql::int("updated_at", *updated_at)?,
                ])?;
            if changed == 0 {
                return Err(StoreError::ChannelPeerMismatch(*channel_id));
            }
        }
        ChannelOp::SetStatus { status, updated_at } => {
            let changed = conn
                .prepare_cached(
                    "UPDATE channels SET status = ?2, updated_at = ?3 WHERE channel_id = ?1",
                )?
                .execute(params![
                    channel_id.as_bytes(),
                    status.as_str(),
                    sql::int("updated_at", *updated_at)?,
                ])?;
            if changed == 0 {
                return Err(StoreError::NotFound(RecordRef::Channel(*channel_id)));
            }
        }
        ChannelOp::Delete => {
            conn.prepare_cached("DELETE FROM channels WHERE channel_id = ?1")?
                .execute([channel_id.as_bytes()])?;
        }
    }
    Ok(())
}

const COLUMNS: &str = "channel_id, peer_id, state, status, updated_at";

fn read(row: &rusqlite::Row<'_>) -> Result<StoredChannel, StoreError> {
    let r = RowReader::new(row, "channels");
    Ok(StoredChannel {
        channel_id: r.channel_id("channel_id")?,
        peer_id: r.node_id("peer_id")?,
        state: r.blob("state")?,
        status: r.status("status")?,
        updated_at: r.u64("updated_at")?,
    })
}

/// Every channel row, or only those with `status`, by channel id.
pub(crate) fn load(
    conn: &Connection,
    status: Option<ChannelStatus>,
) -> Result<Vec<StoredChannel>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM channels WHERE ?1 IS NULL OR status = ?1 ORDER BY channel_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([status.map(ChannelStatus::as_str)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row)?);
    }
    Ok(out)
}

/// One channel row.
pub(crate) fn get(
    conn: &Connection,
    channel_id: &ChannelId,
) -> Result<Option<StoredChannel>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM channels WHERE channel_id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([channel_id.as_bytes()])?;
    rows.next()?.map(read).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(b: u8) -> ChannelOp {
        ChannelOp::Put {
            peer_id: NodeId([2; 33]),
            state: vec![b],
            updated_at: u64::from(b),
        }
    }
    fn status(s: ChannelStatus) -> ChannelOp {
        ChannelOp::SetStatus {
            status: s,
            updated_at: 9,
        }
    }

    #[test]
    fn a_put_replaces_only_an_immediately_preceding_put() {
        let mut ops = Vec::new();
        push_op(&mut ops, put(1));
        push_op(&mut ops, put(2));
        push_op(&mut ops, put(3));
        assert_eq!(ops, [put(3)]);
        push_op(&mut ops, status(ChannelStatus::Closed));
        push_op(&mut ops, put(4));
        push_op(&mut ops, put(5));
        assert_eq!(ops, [put(3), status(ChannelStatus::Closed), put(5)]);
        push_op(&mut ops, ChannelOp::Delete);
        push_op(&mut ops, put(6));
        assert_eq!(
            ops,
            [
                put(3),
                status(ChannelStatus::Closed),
                put(5),
                ChannelOp::Delete,
                put(6)
            ]
        );
    }

    #[test]
    fn debug_shows_the_blob_length_only() {
        let c = StoredChannel {
            channel_id: ChannelId([1; 32]),
            peer_id: NodeId([2; 33]),
            state: vec![0xab; 40],
            status: ChannelStatus::Open,
            updated_at: 5,
        };
        let s = format!("{c:?}");
        assert!(s.contains("state_len: 40"), "{s}");
        assert!(!s.contains("ab, ") && !s.contains("171"), "{s}");
        let op = ChannelOp::Put {
            peer_id: NodeId([2; 33]),
            state: vec![0xab; 3],
            updated_at: 0,
        };
        let s = format!("{op:?}");
        assert!(s.contains("state_len: 3") && !s.contains("171"), "{s}");
    }

    #[test]
    fn statuses_round_trip_through_text() {
        use crate::sql::StatusText;
        for s in ChannelStatus::ALL {
            assert_eq!(<ChannelStatus as StatusText>::parse(s.as_str()), Some(*s));
        }
        assert_eq!(<ChannelStatus as StatusText>::parse("Open"), None);
    }
}
