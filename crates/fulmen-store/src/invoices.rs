//! The `invoices` table: payments we asked for.
//!
//! Unique by payment hash and by label. The status only moves forward:
//! `unpaid` to `paid` or `expired`; any other change is refused with
//! [`StoreError::InvalidTransition`].

use core::fmt;

use fulmen_types::{Msat, PaymentHash, PaymentPreimage, PaymentSecret};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{RecordRef, StoreError};
use crate::sql::{self, status_enum, RowReader, StatusText};

status_enum! {
    /// Where an invoice stands.
    #[non_exhaustive]
    pub enum InvoiceStatus {
        /// Waiting for payment.
        Unpaid => "unpaid",
        /// Paid: the HTLCs were accepted and the preimage released.
        Paid => "paid",
        /// Its expiry passed unpaid.
        Expired => "expired",
    }
}

/// Writes `Some(<redacted>)` or `None` for an optional secret.
pub(crate) struct RedactedOption(pub(crate) bool);

impl fmt::Debug for RedactedOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "Some(<redacted>)" } else { "None" })
    }
}

/// An invoice as stored.
///
/// `Debug` never prints the preimage or the payment secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Invoice {
    /// The payment hash (unique).
    pub payment_hash: PaymentHash,
    /// The caller's label (unique).
    pub label: String,
    /// The BOLT 11 invoice string.
    pub bolt11: String,
    /// The preimage, if we hold it (it is what settles the payment). Secret.
    pub preimage: Option<PaymentPreimage>,
    /// The BOLT 11 payment secret the payer must echo. Secret.
    pub payment_secret: Option<PaymentSecret>,
    /// The amount asked for, or `None` for an any-amount invoice.
    pub amount: Option<Msat>,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// Unix seconds of creation.
    pub created_at: u64,
    /// Unix seconds after which it may no longer be paid.
    pub expires_at: u64,
    /// Unix seconds it was paid, once paid.
    pub paid_at: Option<u64>,
    /// What the paying HTLCs added up to, once paid.
    pub amount_received: Option<Msat>,
}

impl fmt::Debug for Invoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invoice")
            .field("payment_hash", &self.payment_hash)
            .field("label", &self.label)
            .field("bolt11", &self.bolt11)
            .field("preimage", &RedactedOption(self.preimage.is_some()))
            .field(
                "payment_secret",
                &RedactedOption(self.payment_secret.is_some()),
            )
            .field("amount", &self.amount)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("paid_at", &self.paid_at)
            .field("amount_received", &self.amount_received)
            .finish()
    }
}

/// A change to a stored invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvoiceUpdate {
    /// Paid (from `unpaid` only).
    Paid {
        /// What the paying HTLCs added up to.
        amount_received: Msat,
        /// Unix seconds.
        paid_at: u64,
    },
    /// Expired unpaid (from `unpaid` only).
    Expired,
}

fn exists(conn: &Connection, sql: &str, key: &dyn rusqlite::ToSql) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row([key], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Inserts a new invoice; refuses a duplicate payment hash or label, and a
/// preimage that does not hash to the payment hash.
pub(crate) fn insert(conn: &Connection, inv: &Invoice) -> Result<(), StoreError> {
    if inv
        .preimage
        .is_some_and(|p| p.payment_hash() != inv.payment_hash)
    {
        return Err(StoreError::PreimageMismatch(RecordRef::Invoice(
            inv.payment_hash,
        )));
    }
    if exists(
        conn,
        "SELECT 1 FROM invoices WHERE payment_hash = ?1",
        &inv.payment_hash.as_bytes(),
    )? {
        return Err(StoreError::Duplicate(RecordRef::Invoice(inv.payment_hash)));
    }
    if exists(conn, "SELECT 1 FROM invoices WHERE label = ?1", &inv.label)? {
        return Err(StoreError::Duplicate(RecordRef::InvoiceLabel(
            inv.label.clone(),
        )));
    }
    conn.prepare_cached(
        "INSERT INTO invoices (payment_hash, label, bolt11, preimage, payment_secret,
             amount_msat, status, created_at, expires_at, paid_at, amount_received_msat)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        inv.payment_hash.as_bytes(),
        inv.label,
        inv.bolt11,
        inv.preimage.as_ref().map(PaymentPreimage::as_bytes),
        inv.payment_secret.as_ref().map(PaymentSecret::as_bytes),
        sql::opt_msat("amount_msat", inv.amount)?,
        inv.status.as_str(),
        sql::int("created_at", inv.created_at)?,
        sql::int("expires_at", inv.expires_at)?,
        sql::opt_int("paid_at", inv.paid_at)?,
        sql::opt_msat("amount_received_msat", inv.amount_received)?,
    ])?;
    Ok(())
}

/// Applies `update` to the invoice with `hash`.
pub(crate) fn update(
    conn: &Connection,
    hash: &PaymentHash,
    update: &InvoiceUpdate,
) -> Result<(), StoreError> {
    let unpaid = InvoiceStatus::Unpaid.as_str();
    let (to, changed) = match update {
        InvoiceUpdate::Paid {
            amount_received,
            paid_at,
        } => (
            InvoiceStatus::Paid,
            conn.prepare_cached(
                "UPDATE invoices SET status = ?2, paid_at = ?3, amount_received_msat = ?4
                 WHERE payment_hash = ?1 AND status = ?5",
            )?
            .execute(params![
                hash.as_bytes(),
                InvoiceStatus::Paid.as_str(),
                sql::int("paid_at", *paid_at)?,
                sql::msat("amount_received_msat", *amount_received)?,
                unpaid,
            ])?,
        ),
        InvoiceUpdate::Expired => (
            InvoiceStatus::Expired,
            conn.prepare_cached(
                "UPDATE invoices SET status = ?2 WHERE payment_hash = ?1 AND status = ?3",
            )?
            .execute(params![
                hash.as_bytes(),
                InvoiceStatus::Expired.as_str(),
                unpaid
            ])?,
        ),
    };
    if changed == 1 {
        return Ok(());
    }
    match by_hash(conn, hash)? {
        None => Err(StoreError::NotFound(RecordRef::Invoice(*hash))),
        Some(inv) => Err(StoreError::InvalidTransition {
            record: RecordRef::Invoice(*hash),
            from: StatusText::as_str(inv.status),
            to: to.as_str(),
        }),
    }
}

const COLUMNS: &str = "payment_hash, label, bolt11, preimage, payment_secret, amount_msat,
    status, created_at, expires_at, paid_at, amount_received_msat";

fn read(row: &rusqlite::Row<'_>) -> Result<Invoice, StoreError> {
    let r = RowReader::new(row, "invoices");
    Ok(Invoice {
        payment_hash: r.payment_hash("payment_hash")?,
        label: r.text("label")?,
        bolt11: r.text("bolt11")?,
        preimage: r.opt_preimage("preimage")?,
        payment_secret: r.opt_payment_secret("payment_secret")?,
        amount: r.opt_msat("amount_msat")?,
        status: r.status("status")?,
        created_at: r.u64("created_at")?,
        expires_at: r.u64("expires_at")?,
        paid_at: r.opt_u64("paid_at")?,
        amount_received: r.opt_msat("amount_received_msat")?,
    })
}

fn one(
    conn: &Connection,
    column: &str,
    key: &dyn rusqlite::ToSql,
) -> Result<Option<Invoice>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM invoices WHERE {column} = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([key])?;
    rows.next()?.map(read).transpose()
}

/// The invoice with `hash`.
pub(crate) fn by_hash(
    conn: &Connection,
    hash: &PaymentHash,
) -> Result<Option<Invoice>, StoreError> {
    one(conn, "payment_hash", &hash.as_bytes())
}

/// The invoice labelled `label`.
pub(crate) fn by_label(conn: &Connection, label: &str) -> Result<Option<Invoice>, StoreError> {
    one(conn, "label", &label)
}

/// Every invoice, or those with `status`, oldest first.
pub(crate) fn list(
    conn: &Connection,
    status: Option<InvoiceStatus>,
) -> Result<Vec<Invoice>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM invoices WHERE ?1 IS NULL OR status = ?1 ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([status.map(InvoiceStatus::as_str)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_preimage_and_secret() {
        let inv = Invoice {
            payment_hash: PaymentHash([1; 32]),
            label: "l".into(),
            bolt11: "lnbc1".into(),
            preimage: Some(PaymentPreimage([0xaa; 32])),
            payment_secret: Some(PaymentSecret([0xbb; 32])),
            amount: Some(Msat(5)),
            status: InvoiceStatus::Unpaid,
            created_at: 1,
            expires_at: 2,
            paid_at: None,
            amount_received: None,
        };
        let s = format!("{inv:?}");
        assert!(
            !s.contains("aa") && !s.contains("bb") && !s.contains("170"),
            "{s}"
        );
        assert!(s.contains("preimage: Some(<redacted>)"), "{s}");
        assert!(s.contains("payment_secret: Some(<redacted>)"), "{s}");
    }
}
