//! The `payments` and `payment_parts` tables: payments we send.
//!
//! A payment (one per payment hash) has parts: one row per HTLC we sent for
//! it, multi-part shards and retries alike, numbered by the caller. Status
//! changes are checked against the current status:
//! payment `pending` to `succeeded` or `failed`, `failed` back to `pending`
//! (a retry); part `in_flight` to `succeeded` or `failed`.

use core::fmt;

use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{RecordRef, StoreError};
use crate::invoices::RedactedOption;
use crate::sql::{self, status_enum, RowReader};

status_enum! {
    /// Where an outgoing payment stands.
    #[non_exhaustive]
    pub enum PaymentStatus {
        /// Parts in flight or about to be sent.
        Pending => "pending",
        /// The preimage came back.
        Succeeded => "succeeded",
        /// Given up.
        Failed => "failed",
    }
}

status_enum! {
    /// Where one HTLC of an outgoing payment stands.
    #[non_exhaustive]
    pub enum PartStatus {
        /// Sent, not yet resolved.
        InFlight => "in_flight",
        /// Fulfilled.
        Succeeded => "succeeded",
        /// Failed back.
        Failed => "failed",
    }
}

/// An outgoing payment as stored.
///
/// `Debug` never prints the preimage.
#[derive(Clone, PartialEq, Eq)]
pub struct Payment {
    /// The payment hash (unique).
    pub payment_hash: PaymentHash,
    /// The payee, when known.
    pub destination: Option<NodeId>,
    /// The amount the payee is to receive.
    pub amount: Msat,
    /// The invoice paid, if any.
    pub bolt11: Option<String>,
    /// The caller's label, if any (not unique).
    pub label: Option<String>,
    /// Where it stands.
    pub status: PaymentStatus,
    /// The preimage, once it succeeded: the proof of payment. Secret.
    pub preimage: Option<PaymentPreimage>,
    /// The routing fees paid, once it succeeded.
    pub fee: Option<Msat>,
    /// Unix seconds of creation.
    pub created_at: u64,
    /// Unix seconds it succeeded or failed.
    pub completed_at: Option<u64>,
}

impl fmt::Debug for Payment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payment")
            .field("payment_hash", &self.payment_hash)
            .field("destination", &self.destination)
            .field("amount", &self.amount)
            .field("bolt11", &self.bolt11)
            .field("label", &self.label)
            .field("status", &self.status)
            .field("preimage", &RedactedOption(self.preimage.is_some()))
            .field("fee", &self.fee)
            .field("created_at", &self.created_at)
            .field("completed_at", &self.completed_at)
            .finish()
    }
}

/// A change to a stored payment.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaymentUpdate {
    /// Succeeded (from `pending`).
    Succeeded {
        /// The preimage that came back. Secret.
        preimage: PaymentPreimage,
        /// The routing fees paid over all succeeded parts.
        fee: Msat,
        /// Unix seconds.
        completed_at: u64,
    },
    /// Failed (from `pending`).
    Failed {
        /// Unix seconds.
        completed_at: u64,
    },
    /// Tried again after failing (from `failed` back to `pending`).
    Retry,
}

impl fmt::Debug for PaymentUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Succeeded {
                fee, completed_at, ..
            } => f
                .debug_struct("Succeeded")
                .field("preimage", &"<redacted>")
                .field("fee", fee)
                .field("completed_at", completed_at)
                .finish(),
            Self::Failed { completed_at } => f
                .debug_struct("Failed")
                .field("completed_at", completed_at)
                .finish(),
            Self::Retry => f.write_str("Retry"),
        }
    }
}

/// One HTLC sent for a payment.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentPart {
    /// The payment it belongs to.
    pub payment_hash: PaymentHash,
    /// Its number within the payment (shards and retries alike), chosen by
    /// the caller.
    pub part_id: u64,
    /// Where it stands.
    pub status: PartStatus,
    /// What it delivers to the payee.
    pub amount: Msat,
    /// The routing fees it pays.
    pub fee: Msat,
    /// The caller's encoding of the route it took.
    pub route: Vec<u8>,
    /// The channel it left on, once sent.
    pub first_hop_channel: Option<ChannelId>,
    /// Its HTLC id in that channel, once sent.
    pub htlc_id: Option<u64>,
    /// Unix seconds it was sent.
    pub created_at: u64,
    /// Unix seconds it was resolved.
    pub resolved_at: Option<u64>,
    /// The failure it came back with (the caller's encoding), if it failed.
    pub failure: Option<Vec<u8>>,
}

impl fmt::Debug for PaymentPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentPart")
            .field("payment_hash", &self.payment_hash)
            .field("part_id", &self.part_id)
            .field("status", &self.status)
            .field("amount", &self.amount)
            .field("fee", &self.fee)
            .field("route_len", &self.route.len())
            .field("first_hop_channel", &self.first_hop_channel)
            .field("htlc_id", &self.htlc_id)
            .field("created_at", &self.created_at)
            .field("resolved_at", &self.resolved_at)
            .field("failure_len", &self.failure.as_ref().map(Vec::len))
            .finish()
    }
}

/// A change to a stored payment part.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartUpdate {
    /// Fulfilled (from `in_flight`).
    Succeeded {
        /// Unix seconds.
        resolved_at: u64,
    },
    /// Failed (from `in_flight`).
    Failed {
        /// The failure (the caller's encoding).
        failure: Vec<u8>,
        /// Unix seconds.
        resolved_at: u64,
    },
}

/// Inserts a new payment; refuses a duplicate payment hash, and a preimage
/// that does not hash to the payment hash.
pub(crate) fn insert(conn: &Connection, p: &Payment) -> Result<(), StoreError> {
    if p.preimage
        .is_some_and(|pre| pre.payment_hash() != p.payment_hash)
    {
        return Err(StoreError::PreimageMismatch(RecordRef::Payment(
            p.payment_hash,
        )));
    }
    if status_of(conn, &p.payment_hash)?.is_some() {
        return Err(StoreError::Duplicate(RecordRef::Payment(p.payment_hash)));
    }
    conn.prepare_cached(
        "INSERT INTO payments (payment_hash, destination, amount_msat, bolt11, label, status,
             preimage, fee_msat, created_at, completed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        p.payment_hash.as_bytes(),
        p.destination.as_ref().map(NodeId::as_bytes),
        sql::msat("amount_msat", p.amount)?,
        p.bolt11,
        p.label,
        p.status.as_str(),
        p.preimage.as_ref().map(PaymentPreimage::as_bytes),
        sql::opt_msat("fee_msat", p.fee)?,
        sql::int("created_at", p.created_at)?,
        sql::opt_int("completed_at", p.completed_at)?,
    ])?;
    Ok(())
}

fn status_of(conn: &Connection, hash: &PaymentHash) -> Result<Option<PaymentStatus>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT status FROM payments WHERE payment_hash = ?1")?;
    let mut rows = stmt.query([hash.as_bytes()])?;
    rows.next()?
        .map(|row| RowReader::new(row, "payments").status("status"))
        .transpose()
}

/// Applies `update` to the payment with `hash`.
pub(crate) fn update(
    conn: &Connection,
    hash: &PaymentHash,
    update: &PaymentUpdate,
) -> Result<(), StoreError> {
    if let PaymentUpdate::Succeeded { preimage, .. } = update {
        if preimage.payment_hash() != *hash {
            return Err(StoreError::PreimageMismatch(RecordRef::Payment(*hash)));
        }
    }
    let (from, to) = match update {
        PaymentUpdate::Succeeded { .. } => (PaymentStatus::Pending, PaymentStatus::Succeeded),
        PaymentUpdate::Failed { .. } => (PaymentStatus::Pending, PaymentStatus::Failed),
        PaymentUpdate::Retry => (PaymentStatus::Failed, PaymentStatus::Pending),
    };
    let current = status_of(conn, hash)?.ok_or(StoreError::NotFound(RecordRef::Payment(*hash)))?;
    if current != from {
        return Err(StoreError::InvalidTransition {
            record: RecordRef::Payment(*hash),
            from: current.as_str(),
            to: to.as_str(),
        });
    }
    let (preimage, fee, completed_at) = match update {
        PaymentUpdate::Succeeded {
            preimage,
            fee,
            completed_at,
        } => (Some(preimage.as_bytes()), Some(*fee), Some(*completed_at)),
        PaymentUpdate::Failed { completed_at } => (None, None, Some(*completed_at)),
        PaymentUpdate::Retry => (None, None, None),
    };
    conn.prepare_cached(
        "UPDATE payments SET status = ?2, preimage = ?3, fee_msat = ?4, completed_at = ?5
         WHERE payment_hash = ?1",
    )?
    .execute(params![
        hash.as_bytes(),
        to.as_str(),
        preimage,
        sql::opt_msat("fee_msat", fee)?,
        sql::opt_int("completed_at", completed_at)?,
    ])?;
    Ok(())
}

/// Inserts a new part of an existing payment; refuses a duplicate part id.
pub(crate) fn insert_part(conn: &Connection, part: &PaymentPart) -> Result<(), StoreError> {
    if status_of(conn, &part.payment_hash)?.is_none() {
        return Err(StoreError::NotFound(RecordRef::Payment(part.payment_hash)));
    }
    let part_id = sql::int("part_id", part.part_id)?;
    let known = conn
        .prepare_cached("SELECT 1 FROM payment_parts WHERE payment_hash = ?1 AND part_id = ?2")?
        .query_row(params![part.payment_hash.as_bytes(), part_id], |_| Ok(()))
        .optional()?
        .is_some();
    if known {
        return Err(StoreError::Duplicate(RecordRef::PaymentPart {
            payment_hash: part.payment_hash,
            part_id: part.part_id,
        }));
    }
    conn.prepare_cached(
        "INSERT INTO payment_parts (payment_hash, part_id, status, amount_msat, fee_msat, route,
             first_hop_channel, htlc_id, created_at, resolved_at, failure)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        part.payment_hash.as_bytes(),
        part_id,
        part.status.as_str(),
        sql::msat("amount_msat", part.amount)?,
        sql::msat("fee_msat", part.fee)?,
        part.route,
        part.first_hop_channel.as_ref().map(ChannelId::as_bytes),
        sql::opt_int("htlc_id", part.htlc_id)?,
        sql::int("created_at", part.created_at)?,
        sql::opt_int("resolved_at", part.resolved_at)?,
        part.failure,
    ])?;
    Ok(())
}

/// Applies `update` to part `part_id` of the payment with `hash`.
pub(crate) fn update_part(
    conn: &Connection,
    hash: &PaymentHash,
    part_id: u64,
    update: &PartUpdate,
) -> Result<(), StoreError> {
    let record = RecordRef::PaymentPart {
        payment_hash: *hash,
        part_id,
    };
    let id = sql::int("part_id", part_id)?;
    let current: Option<PartStatus> = {
        let mut stmt = conn.prepare_cached(
            "SELECT status FROM payment_parts WHERE payment_hash = ?1 AND part_id = ?2",
        )?;
        let mut rows = stmt.query(params![hash.as_bytes(), id])?;
        rows.next()?
            .map(|row| RowReader::new(row, "payment_parts").status("status"))
            .transpose()?
    };
    let (to, failure, resolved_at) = match update {
        PartUpdate::Succeeded { resolved_at } => (PartStatus::Succeeded, None, *resolved_at),
        PartUpdate::Failed {
            failure,
            resolved_at,
        } => (PartStatus::Failed, Some(failure), *resolved_at),
    };
    match current {
        None => return Err(StoreError::NotFound(record)),
        Some(PartStatus::InFlight) => {}
        Some(other) => {
            return Err(StoreError::InvalidTransition {
                record,
                from: other.as_str(),
                to: to.as_str(),
            })
        }
    }
    conn.prepare_cached(
        "UPDATE payment_parts SET status = ?3, failure = ?4, resolved_at = ?5
         WHERE payment_hash = ?1 AND part_id = ?2",
    )?
    .execute(params![
        hash.as_bytes(),
        id,
        to.as_str(),
        failure,
        sql::int("resolved_at", resolved_at)?,
    ])?;
    Ok(())
}

const COLUMNS: &str = "payment_hash, destination, amount_msat, bolt11, label, status, preimage,
    fee_msat, created_at, completed_at";

fn read(row: &rusqlite::Row<'_>) -> Result<Payment, StoreError> {
    let r = RowReader::new(row, "payments");
    Ok(Payment {
        payment_hash: r.payment_hash("payment_hash")?,
        destination: r.opt_node_id("destination")?,
        amount: r.msat("amount_msat")?,
        bolt11: r.opt_text("bolt11")?,
        label: r.opt_text("label")?,
        status: r.status("status")?,
        preimage: r.opt_preimage("preimage")?,
        fee: r.opt_msat("fee_msat")?,
        created_at: r.u64("created_at")?,
        completed_at: r.opt_u64("completed_at")?,
    })
}

/// The payment with `hash`.
pub(crate) fn by_hash(
    conn: &Connection,
    hash: &PaymentHash,
) -> Result<Option<Payment>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE payment_hash = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([hash.as_bytes()])?;
    rows.next()?.map(read).transpose()
}

/// Every payment, or those with `status`, oldest first.
pub(crate) fn list(
    conn: &Connection,
    status: Option<PaymentStatus>,
) -> Result<Vec<Payment>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE ?1 IS NULL OR status = ?1 ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([status.map(PaymentStatus::as_str)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row)?);
    }
    Ok(out)
}

const PART_COLUMNS: &str = "payment_hash, part_id, status, amount_msat, fee_msat, route,
    first_hop_channel, htlc_id, created_at, resolved_at, failure";

fn read_part(row: &rusqlite::Row<'_>) -> Result<PaymentPart, StoreError> {
    let r = RowReader::new(row, "payment_parts");
    Ok(PaymentPart {
        payment_hash: r.payment_hash("payment_hash")?,
        part_id: r.u64("part_id")?,
        status: r.status("status")?,
        amount: r.msat("amount_msat")?,
        fee: r.msat("fee_msat")?,
        route: r.blob("route")?,
        first_hop_channel: r.opt_channel_id("first_hop_channel")?,
        htlc_id: r.opt_u64("htlc_id")?,
        created_at: r.u64("created_at")?,
        resolved_at: r.opt_u64("resolved_at")?,
        failure: r.opt_blob("failure")?,
    })
}

/// The parts of the payment with `hash`, by part id.
pub(crate) fn parts(conn: &Connection, hash: &PaymentHash) -> Result<Vec<PaymentPart>, StoreError> {
    let sql = format!(
        "SELECT {PART_COLUMNS} FROM payment_parts WHERE payment_hash = ?1 ORDER BY part_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([hash.as_bytes()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read_part(row)?);
    }
    Ok(out)
}

/// Every part with `status` (for example the HTLCs still in flight at start),
/// by payment and part id.
pub(crate) fn parts_with_status(
    conn: &Connection,
    status: PartStatus,
) -> Result<Vec<PaymentPart>, StoreError> {
    let sql = format!(
        "SELECT {PART_COLUMNS} FROM payment_parts WHERE status = ?1 ORDER BY payment_hash, part_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([status.as_str()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read_part(row)?);
    }
    Ok(out)
}

/// The part sent as HTLC `htlc_id` on `channel`.
pub(crate) fn part_by_htlc(
    conn: &Connection,
    channel: &ChannelId,
    htlc_id: u64,
) -> Result<Option<PaymentPart>, StoreError> {
    let sql = format!(
        "SELECT {PART_COLUMNS} FROM payment_parts WHERE first_hop_channel = ?1 AND htlc_id = ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![channel.as_bytes(), sql::int("htlc_id", htlc_id)?])?;
    rows.next()?.map(read_part).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_preimage() {
        let p = Payment {
            payment_hash: PaymentHash([1; 32]),
            destination: None,
            amount: Msat(1),
            bolt11: None,
            label: None,
            status: PaymentStatus::Succeeded,
            preimage: Some(PaymentPreimage([0xaa; 32])),
            fee: Some(Msat(0)),
            created_at: 0,
            completed_at: Some(1),
        };
        let s = format!("{p:?}");
        assert!(s.contains("preimage: Some(<redacted>)"), "{s}");
        assert!(!s.contains("aa") && !s.contains("170"), "{s}");
        let u = PaymentUpdate::Succeeded {
            preimage: PaymentPreimage([0xaa; 32]),
            fee: Msat(3),
            completed_at: 4,
        };
        let s = format!("{u:?}");
        assert!(s.contains("<redacted>") && !s.contains("aa"), "{s}");
    }
}
