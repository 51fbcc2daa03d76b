//! The `gossip` table: the signed BOLT 7 messages the node accepted, so
//! that its network graph can be loaded at start and peers' sync requests
//! answered without keeping the messages in memory.
//!
//! One row per (kind, key): a `channel_announcement` under its short
//! channel id (with the channel's capacity and funding outpoint, which the
//! message does not carry), a `channel_update` under its short channel id
//! and direction bit, a `node_announcement` under its node id. Each row has
//! a timestamp (the update's or announcement's; for a
//! `channel_announcement`, when the node accepted it) and the message as
//! encoded on the wire, type included. The store does not look inside the
//! messages.
//!
//! Keys are big-endian, so key order is short channel id order and a
//! channel's announcement (8-byte key) sorts before its updates in the
//! same scan position.

use fulmen_types::{NodeId, ShortChannelId};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{CorruptReason, StoreError};
use crate::sql::{self, RowReader};

const TABLE: &str = "gossip";
const KIND_CHANNEL: i64 = 0;
const KIND_UPDATE: i64 = 1;
const KIND_NODE: i64 = 2;

/// Which message a row holds, and its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GossipKey {
    /// A `channel_announcement`.
    ChannelAnnouncement(ShortChannelId),
    /// A `channel_update`: the channel and the direction bit.
    ChannelUpdate(ShortChannelId, u8),
    /// A `node_announcement`.
    NodeAnnouncement(NodeId),
}

/// What a `channel_announcement` row records beyond the message: what the
/// chain said about the funding output when the announcement was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelFunding {
    /// The funding output's value.
    pub capacity_sat: u64,
    /// The funding transaction id (internal byte order).
    pub txid: [u8; 32],
    /// The funding output's index.
    pub vout: u32,
}

/// One stored gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipRow {
    /// Which message, under which key.
    pub key: GossipKey,
    /// The message's timestamp (a `channel_announcement`: when accepted),
    /// unix seconds.
    pub timestamp: u64,
    /// The message as encoded on the wire, type included.
    pub message: Vec<u8>,
    /// For a `channel_announcement`: its funding output.
    pub funding: Option<ChannelFunding>,
}

/// A write to the gossip table (see [`crate::Batch`]).
#[derive(Debug, Clone)]
pub(crate) enum GossipOp {
    Put(GossipRow),
    DeleteChannel(ShortChannelId),
    DeleteNode(NodeId),
}

fn scid_key(scid: ShortChannelId) -> [u8; 8] {
    scid.0.to_be_bytes()
}

fn update_key(scid: ShortChannelId, direction: u8) -> [u8; 9] {
    let mut k = [0u8; 9];
    for (d, s) in k.iter_mut().zip(scid_key(scid)) {
        *d = s;
    }
    if let Some(last) = k.last_mut() {
        *last = direction & 1;
    }
    k
}

fn key_parts(key: &GossipKey) -> (i64, Vec<u8>) {
    match key {
        GossipKey::ChannelAnnouncement(s) => (KIND_CHANNEL, scid_key(*s).to_vec()),
        GossipKey::ChannelUpdate(s, d) => (KIND_UPDATE, update_key(*s, *d).to_vec()),
        GossipKey::NodeAnnouncement(n) => (KIND_NODE, n.as_bytes().to_vec()),
    }
}

fn corrupt_key(got: usize, expected: usize) -> StoreError {
    StoreError::Corrupt {
        table: TABLE,
        column: "key",
        reason: CorruptReason::Length { expected, got },
    }
}

fn parse_key(kind: i64, key: &[u8]) -> Result<GossipKey, StoreError> {
    let scid = |k: &[u8]| -> Result<ShortChannelId, StoreError> {
        let b: [u8; 8] = k
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt_key(k.len(), 8))?;
        Ok(ShortChannelId(u64::from_be_bytes(b)))
    };
    match kind {
        KIND_CHANNEL if key.len() == 8 => Ok(GossipKey::ChannelAnnouncement(scid(key)?)),
        KIND_CHANNEL => Err(corrupt_key(key.len(), 8)),
        KIND_UPDATE if key.len() == 9 => Ok(GossipKey::ChannelUpdate(
            scid(key)?,
            key.get(8).copied().unwrap_or_default(),
        )),
        KIND_UPDATE => Err(corrupt_key(key.len(), 9)),
        KIND_NODE => {
            let b: [u8; 33] = key.try_into().map_err(|_| corrupt_key(key.len(), 33))?;
            Ok(GossipKey::NodeAnnouncement(NodeId(b)))
        }
        _ => Err(StoreError::Corrupt {
            table: TABLE,
            column: "kind",
            reason: CorruptReason::Range,
        }),
    }
}

/// Applies one gossip write inside the commit transaction.
pub(crate) fn apply(conn: &Connection, op: &GossipOp) -> Result<(), StoreError> {
    match op {
        GossipOp::Put(row) => {
            let (kind, key) = key_parts(&row.key);
            let f = row.funding;
            conn.prepare_cached(
                "INSERT INTO gossip
                     (kind, key, timestamp, message, capacity_sat, funding_txid, funding_vout)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (kind, key) DO UPDATE SET
                     timestamp = excluded.timestamp, message = excluded.message,
                     capacity_sat = excluded.capacity_sat,
                     funding_txid = excluded.funding_txid,
                     funding_vout = excluded.funding_vout",
            )?
            .execute(params![
                kind,
                key,
                sql::int("timestamp", row.timestamp)?,
                row.message,
                f.map(|f| sql::int("capacity_sat", f.capacity_sat))
                    .transpose()?,
                f.map(|f| f.txid.to_vec()),
                f.map(|f| i64::from(f.vout)),
            ])?;
        }
        GossipOp::DeleteChannel(scid) => {
            conn.prepare_cached("DELETE FROM gossip WHERE kind = ?1 AND key = ?2")?
                .execute(params![KIND_CHANNEL, scid_key(*scid).to_vec()])?;
            conn.prepare_cached("DELETE FROM gossip WHERE kind = ?1 AND key IN (?2, ?3)")?
                .execute(params![
                    KIND_UPDATE,
                    update_key(*scid, 0).to_vec(),
                    update_key(*scid, 1).to_vec()
                ])?;
        }
        GossipOp::DeleteNode(id) => {
            conn.prepare_cached("DELETE FROM gossip WHERE kind = ?1 AND key = ?2")?
                .execute(params![KIND_NODE, id.as_bytes().to_vec()])?;
        }
    }
    Ok(())
}

const COLUMNS: &str = "kind, key, timestamp, message, capacity_sat, funding_txid, funding_vout";

fn read_row(row: &rusqlite::Row<'_>) -> Result<GossipRow, StoreError> {
    let r = RowReader::new(row, TABLE);
    let kind: i64 = row.get(0)?;
    let key = parse_key(kind, &r.blob("key")?)?;
    let funding = match (
        r.opt_u64("capacity_sat")?,
        r.opt_array::<32>("funding_txid")?,
        r.opt_u64("funding_vout")?,
    ) {
        (Some(capacity_sat), Some(txid), Some(vout)) => Some(ChannelFunding {
            capacity_sat,
            txid,
            vout: u32::try_from(vout).map_err(|_| StoreError::Corrupt {
                table: TABLE,
                column: "funding_vout",
                reason: CorruptReason::Range,
            })?,
        }),
        _ => None,
    };
    Ok(GossipRow {
        key,
        timestamp: r.u64("timestamp")?,
        message: r.blob("message")?,
        funding,
    })
}

/// Runs `query` with `args` and hands each row to `f` (stops early if `f`
/// returns `false`); `false` if stopped.
fn each(
    conn: &Connection,
    query: &str,
    args: impl rusqlite::Params,
    f: &mut dyn FnMut(GossipRow) -> bool,
) -> Result<bool, StoreError> {
    let mut stmt = conn.prepare_cached(query)?;
    let mut rows = stmt.query(args)?;
    while let Some(row) = rows.next()? {
        if !f(read_row(row)?) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Every row: each channel's announcement followed by its updates, in
/// short channel id order, then every node announcement by node id. Rows
/// go to `f` one by one (it returns `false` to stop).
pub(crate) fn visit_all(
    conn: &Connection,
    f: &mut dyn FnMut(GossipRow) -> bool,
) -> Result<(), StoreError> {
    // Two scans in primary-key order (announcements, updates), merged
    // here; an update whose channel has no row is skipped.
    let scid_of = |r: &GossipRow| match r.key {
        GossipKey::ChannelAnnouncement(s) | GossipKey::ChannelUpdate(s, _) => s,
        GossipKey::NodeAnnouncement(_) => ShortChannelId(u64::MAX),
    };
    let q = format!("SELECT {COLUMNS} FROM gossip WHERE kind = 0 ORDER BY key");
    let mut channels = conn.prepare_cached(&q)?;
    let mut channel_rows = channels.query([])?;
    let q = format!("SELECT {COLUMNS} FROM gossip WHERE kind = 1 ORDER BY key");
    let mut updates = conn.prepare_cached(&q)?;
    let mut update_rows = updates.query([])?;
    let mut next_update = update_rows.next()?.map(read_row).transpose()?;
    while let Some(row) = channel_rows.next()? {
        let c = read_row(row)?;
        let scid = scid_of(&c);
        while next_update.as_ref().is_some_and(|u| scid_of(u) < scid) {
            next_update = update_rows.next()?.map(read_row).transpose()?;
        }
        if !f(c) {
            return Ok(());
        }
        while next_update.as_ref().is_some_and(|u| scid_of(u) == scid) {
            if let Some(u) = next_update.take() {
                if !f(u) {
                    return Ok(());
                }
            }
            next_update = update_rows.next()?.map(read_row).transpose()?;
        }
    }
    let q = format!("SELECT {COLUMNS} FROM gossip WHERE kind = 2 ORDER BY key");
    each(conn, &q, [], f)?;
    Ok(())
}

/// The rows a `gossip_timestamp_filter` asks for: channels with an update
/// timestamped in `[first, end)`, each announcement followed by those
/// updates, in short channel id order; then the node announcements
/// timestamped in range, by node id.
pub(crate) fn in_range(
    conn: &Connection,
    first: u64,
    end: u64,
) -> Result<Vec<GossipRow>, StoreError> {
    let (first, end) = (
        sql::int("timestamp", first.min(i64::MAX as u64))?,
        sql::int("timestamp", end.min(i64::MAX as u64))?,
    );
    let mut updates = Vec::new();
    let q = format!(
        "SELECT {COLUMNS} FROM gossip
         WHERE kind = 1 AND timestamp >= ?1 AND timestamp < ?2 ORDER BY key"
    );
    each(conn, &q, params![first, end], &mut |r| {
        updates.push(r);
        true
    })?;
    let mut out = Vec::with_capacity(updates.len() * 3 / 2);
    let mut current: Option<ShortChannelId> = None;
    for u in updates {
        let GossipKey::ChannelUpdate(scid, _) = u.key else {
            continue;
        };
        if current != Some(scid) {
            current = Some(scid);
            match channel(conn, scid)? {
                Some(c) => out.push(c),
                None => continue,
            }
        }
        out.push(u);
    }
    let q = format!(
        "SELECT {COLUMNS} FROM gossip
         WHERE kind = 2 AND timestamp >= ?1 AND timestamp < ?2 ORDER BY key"
    );
    each(conn, &q, params![first, end], &mut |r| {
        out.push(r);
        true
    })?;
    Ok(out)
}

fn channel(conn: &Connection, scid: ShortChannelId) -> Result<Option<GossipRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM gossip WHERE kind = 0 AND key = ?1");
    let mut stmt = conn.prepare_cached(&q)?;
    let mut rows = stmt.query([scid_key(scid).to_vec()])?;
    rows.next()?.map(read_row).transpose()
}

/// For each short channel id in order: its announcement and its updates
/// (unknown ids are skipped).
pub(crate) fn for_scids(
    conn: &Connection,
    scids: &[ShortChannelId],
) -> Result<Vec<GossipRow>, StoreError> {
    let mut out = Vec::new();
    let q = format!("SELECT {COLUMNS} FROM gossip WHERE kind = 1 AND key IN (?1, ?2) ORDER BY key");
    for scid in scids {
        let Some(c) = channel(conn, *scid)? else {
            continue;
        };
        out.push(c);
        each(
            conn,
            &q,
            params![update_key(*scid, 0).to_vec(), update_key(*scid, 1).to_vec()],
            &mut |r| {
                out.push(r);
                true
            },
        )?;
    }
    Ok(out)
}

/// The node announcements of these nodes, in the given order (unknown ones
/// skipped).
pub(crate) fn nodes(conn: &Connection, ids: &[NodeId]) -> Result<Vec<GossipRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM gossip WHERE kind = 2 AND key = ?1");
    let mut stmt = conn.prepare_cached(&q)?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(r) = stmt
            .query_row([id.as_bytes().to_vec()], |row| Ok(read_row(row)))
            .optional()?
        {
            out.push(r?);
        }
    }
    Ok(out)
}

/// How many rows of each kind: (channel announcements, channel updates,
/// node announcements).
pub(crate) fn counts(conn: &Connection) -> Result<(u64, u64, u64), StoreError> {
    let mut stmt = conn.prepare_cached("SELECT kind, count(*) FROM gossip GROUP BY kind")?;
    let mut rows = stmt.query([])?;
    let mut c = (0, 0, 0);
    while let Some(row) = rows.next()? {
        let kind: i64 = row.get(0)?;
        let n = RowReader::new(row, TABLE).u64("count(*)")?;
        match kind {
            KIND_CHANNEL => c.0 = n,
            KIND_UPDATE => c.1 = n,
            _ => c.2 = n,
        }
    }
    Ok(c)
}
