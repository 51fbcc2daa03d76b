//! The `forwards` table: HTLCs we relayed (or refused to relay).
//!
//! Keyed by the incoming HTLC (channel, HTLC id), which is never reused. A
//! forward starts `offered` (or straight away `local_failed`) and is resolved
//! once, to `settled`, `failed` or `local_failed`.

use fulmen_types::{ChannelId, Msat, PaymentHash};
use rusqlite::{params, Connection};

use crate::error::{CorruptReason, RecordRef, StoreError};
use crate::sql::{self, status_enum, RowReader};

status_enum! {
    /// Where a forward stands (the names `listforwards` shows).
    #[non_exhaustive]
    pub enum ForwardStatus {
        /// Offered on the outgoing channel, not yet resolved.
        Offered => "offered",
        /// The outgoing HTLC was fulfilled and the incoming one settled.
        Settled => "settled",
        /// The outgoing HTLC failed and the failure went back.
        Failed => "failed",
        /// We refused to forward (no channel, fee too low, ...) and failed the
        /// incoming HTLC ourselves.
        LocalFailed => "local_failed",
    }
}

/// A forward as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The incoming channel.
    pub in_channel: ChannelId,
    /// The incoming HTLC's id.
    pub in_htlc_id: u64,
    /// The outgoing channel, if we offered it on one.
    pub out_channel: Option<ChannelId>,
    /// The outgoing HTLC's id, if we offered it.
    pub out_htlc_id: Option<u64>,
    /// The HTLC's payment hash.
    pub payment_hash: PaymentHash,
    /// The incoming HTLC's amount.
    pub in_amount: Msat,
    /// The outgoing HTLC's amount, if we offered it.
    pub out_amount: Option<Msat>,
    /// Where it stands.
    pub status: ForwardStatus,
    /// The BOLT 4 failure code, for a local failure.
    pub failure_code: Option<u16>,
    /// Unix seconds the incoming HTLC was committed.
    pub received_at: u64,
    /// Unix seconds it was resolved.
    pub resolved_at: Option<u64>,
}

impl Forward {
    /// The fee earned (incoming minus outgoing amount), when there is an
    /// outgoing amount not above the incoming one.
    pub fn fee(&self) -> Option<Msat> {
        self.out_amount
            .and_then(|out| self.in_amount.checked_sub(out))
    }
}

/// The resolution of an `offered` forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardUpdate {
    /// Settled.
    Settled {
        /// Unix seconds.
        resolved_at: u64,
    },
    /// Failed downstream.
    Failed {
        /// Unix seconds.
        resolved_at: u64,
    },
    /// Failed by us.
    LocalFailed {
        /// The BOLT 4 failure code.
        failure_code: u16,
        /// Unix seconds.
        resolved_at: u64,
    },
}

fn record(in_channel: &ChannelId, in_htlc_id: u64) -> RecordRef {
    RecordRef::Forward {
        in_channel: *in_channel,
        in_htlc_id,
    }
}

fn status_of(
    conn: &Connection,
    in_channel: &ChannelId,
    in_htlc_id: i64,
) -> Result<Option<ForwardStatus>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT status FROM forwards WHERE in_channel = ?1 AND in_htlc_id = ?2")?;
    let mut rows = stmt.query(params![in_channel.as_bytes(), in_htlc_id])?;
    rows.next()?
        .map(|row| RowReader::new(row, "forwards").status("status"))
        .transpose()
}

/// Inserts a new forward; refuses a second one for the same incoming HTLC.
pub(crate) fn insert(conn: &Connection, fw: &Forward) -> Result<(), StoreError> {
    let in_htlc_id = sql::int("in_htlc_id", fw.in_htlc_id)?;
    if status_of(conn, &fw.in_channel, in_htlc_id)?.is_some() {
        return Err(StoreError::Duplicate(record(&fw.in_channel, fw.in_htlc_id)));
    }
    conn.prepare_cached(
        "INSERT INTO forwards (in_channel, in_htlc_id, out_channel, out_htlc_id, payment_hash,
             in_amount_msat, out_amount_msat, status, failure_code, received_at, resolved_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        fw.in_channel.as_bytes(),
        in_htlc_id,
        fw.out_channel.as_ref().map(ChannelId::as_bytes),
        sql::opt_int("out_htlc_id", fw.out_htlc_id)?,
        fw.payment_hash.as_bytes(),
        sql::msat("in_amount_msat", fw.in_amount)?,
        sql::opt_msat("out_amount_msat", fw.out_amount)?,
        fw.status.as_str(),
        fw.failure_code,
        sql::int("received_at", fw.received_at)?,
        sql::opt_int("resolved_at", fw.resolved_at)?,
    ])?;
    Ok(())
}

/// Resolves the `offered` forward of incoming HTLC (`in_channel`,
/// `in_htlc_id`).
pub(crate) fn update(
    conn: &Connection,
    in_channel: &ChannelId,
    in_htlc_id: u64,
    update: &ForwardUpdate,
) -> Result<(), StoreError> {
    let id = sql::int("in_htlc_id", in_htlc_id)?;
    let (to, failure_code, resolved_at) = match update {
        ForwardUpdate::Settled { resolved_at } => (ForwardStatus::Settled, None, *resolved_at),
        ForwardUpdate::Failed { resolved_at } => (ForwardStatus::Failed, None, *resolved_at),
        ForwardUpdate::LocalFailed {
            failure_code,
            resolved_at,
        } => (
            ForwardStatus::LocalFailed,
            Some(*failure_code),
            *resolved_at,
        ),
    };
    match status_of(conn, in_channel, id)? {
        None => return Err(StoreError::NotFound(record(in_channel, in_htlc_id))),
        Some(ForwardStatus::Offered) => {}
        Some(from) => {
            return Err(StoreError::InvalidTransition {
                record: record(in_channel, in_htlc_id),
                from: from.as_str(),
                to: to.as_str(),
            })
        }
    }
    conn.prepare_cached(
        "UPDATE forwards SET status = ?3, failure_code = ?4, resolved_at = ?5
         WHERE in_channel = ?1 AND in_htlc_id = ?2",
    )?
    .execute(params![
        in_channel.as_bytes(),
        id,
        to.as_str(),
        failure_code,
        sql::int("resolved_at", resolved_at)?,
    ])?;
    Ok(())
}

const COLUMNS: &str = "in_channel, in_htlc_id, out_channel, out_htlc_id, payment_hash,
    in_amount_msat, out_amount_msat, status, failure_code, received_at, resolved_at";

fn read(row: &rusqlite::Row<'_>) -> Result<Forward, StoreError> {
    let r = RowReader::new(row, "forwards");
    let failure_code = r
        .opt_u64("failure_code")?
        .map(|c| {
            u16::try_from(c).map_err(|_| StoreError::Corrupt {
                table: "forwards",
                column: "failure_code",
                reason: CorruptReason::Range,
            })
        })
        .transpose()?;
    Ok(Forward {
        in_channel: r.channel_id("in_channel")?,
        in_htlc_id: r.u64("in_htlc_id")?,
        out_channel: r.opt_channel_id("out_channel")?,
        out_htlc_id: r.opt_u64("out_htlc_id")?,
        payment_hash: r.payment_hash("payment_hash")?,
        in_amount: r.msat("in_amount_msat")?,
        out_amount: r.opt_msat("out_amount_msat")?,
        status: r.status("status")?,
        failure_code,
        received_at: r.u64("received_at")?,
        resolved_at: r.opt_u64("resolved_at")?,
    })
}

/// The forward of incoming HTLC (`in_channel`, `in_htlc_id`).
pub(crate) fn get(
    conn: &Connection,
    in_channel: &ChannelId,
    in_htlc_id: u64,
) -> Result<Option<Forward>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM forwards WHERE in_channel = ?1 AND in_htlc_id = ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![
        in_channel.as_bytes(),
        sql::int("in_htlc_id", in_htlc_id)?
    ])?;
    rows.next()?.map(read).transpose()
}

/// Every forward, or those with `status`, oldest first.
pub(crate) fn list(
    conn: &Connection,
    status: Option<ForwardStatus>,
) -> Result<Vec<Forward>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM forwards WHERE ?1 IS NULL OR status = ?1 ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([status.map(ForwardStatus::as_str)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row)?);
    }
    Ok(out)
}
