//! The store's typed errors.
//!
//! Every error from [`Store::commit`](crate::Store::commit) means the same for
//! the caller: NOTHING of the batch was applied (the transaction was rolled
//! back), so the node must not send the messages or broadcasts that depended on
//! it and should stop the channels the batch touched (not close them) until an
//! operator has looked. The variants say why, so that RPC callers (a duplicate
//! invoice label, say) get a precise answer.

use core::fmt;

use fulmen_types::{ChannelId, PaymentHash};

/// A record the store was asked to create, change or find.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordRef {
    /// A channel row.
    Channel(ChannelId),
    /// A revoked commitment of a channel.
    RevokedCommitment {
        /// The channel.
        channel_id: ChannelId,
        /// The revoked commitment's number.
        commitment_number: u64,
    },
    /// An invoice, by payment hash.
    Invoice(PaymentHash),
    /// An invoice, by label.
    InvoiceLabel(String),
    /// An outgoing payment.
    Payment(PaymentHash),
    /// One part (HTLC attempt) of an outgoing payment.
    PaymentPart {
        /// The payment.
        payment_hash: PaymentHash,
        /// The part's id within the payment.
        part_id: u64,
    },
    /// A forwarded HTLC, by its incoming side.
    Forward {
        /// The incoming channel.
        in_channel: ChannelId,
        /// The incoming HTLC's id.
        in_htlc_id: u64,
    },
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Channel(id) => write!(f, "channel {id}"),
            Self::RevokedCommitment {
                channel_id,
                commitment_number,
            } => write!(
                f,
                "revoked commitment {commitment_number} of channel {channel_id}"
            ),
            Self::Invoice(hash) => write!(f, "invoice {hash}"),
            Self::InvoiceLabel(label) => write!(f, "invoice labelled {label:?}"),
            Self::Payment(hash) => write!(f, "payment {hash}"),
            Self::PaymentPart {
                payment_hash,
                part_id,
            } => write!(f, "part {part_id} of payment {payment_hash}"),
            Self::Forward {
                in_channel,
                in_htlc_id,
            } => write!(f, "forward of htlc {in_htlc_id} from channel {in_channel}"),
        }
    }
}

/// Why a stored value could not be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// A blob has the wrong length for its type.
    Length {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        got: usize,
    },
    /// An integer is negative or otherwise out of its type's range.
    Range,
    /// A status column holds text that names no known status.
    UnknownStatus,
    /// A column holds a value of the wrong SQL type, or NULL where a value is
    /// required.
    Type,
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { expected, got } => write!(f, "expected {expected} bytes, got {got}"),
            Self::Range => f.write_str("integer out of range"),
            Self::UnknownStatus => f.write_str("unknown status"),
            Self::Type => f.write_str("wrong value type"),
        }
    }
}

/// An error from opening, writing or reading the store.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed (I/O error, disk full, database locked past the busy
    /// timeout, ...). A failed commit applied nothing; stop the affected
    /// channels and alert the operator.
    Sqlite(rusqlite::Error),
    /// Creating the database file failed. Refuse to run.
    Io(std::io::Error),
    /// The database was written by a newer Fulmen (its schema version is
    /// above what this binary knows). Refuse to run: upgrade the binary.
    SchemaTooNew {
        /// The version in the database.
        found: u32,
        /// The newest version this binary supports.
        supported: u32,
    },
    /// Another process holds the database open (another node instance?).
    /// Refuse to run: two nodes on one set of channels would broadcast revoked
    /// states.
    Locked,
    /// SQLite refused write-ahead logging (the file system does not support
    /// it). Refuse to run: the durability argument depends on it.
    JournalMode {
        /// The journal mode SQLite reported instead of `wal`.
        got: String,
    },
    /// A stored value could not be decoded: the file was damaged or edited.
    /// Stop and alert the operator.
    Corrupt {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What was wrong.
        reason: CorruptReason,
    },
    /// A value does not fit the store's integer columns (SQLite integers are
    /// signed 64-bit). Nothing was written.
    ValueOutOfRange {
        /// The field.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// The record already exists (for example a second invoice with the same
    /// label). Nothing of the batch was written; report it to the caller.
    Duplicate(RecordRef),
    /// The record to update does not exist. Nothing of the batch was written.
    NotFound(RecordRef),
    /// The update asks for a status change the record's current status does
    /// not allow (settling an invoice twice, say). Nothing of the batch was
    /// written.
    InvalidTransition {
        /// The record.
        record: RecordRef,
        /// Its current status.
        from: &'static str,
        /// The status asked for.
        to: &'static str,
    },
    /// A channel write names a different peer from the one stored for that
    /// channel. Nothing of the batch was written; this is a node bug.
    ChannelPeerMismatch(ChannelId),
    /// A preimage does not hash to the payment hash it is stored under.
    /// Nothing of the batch was written; this is a node bug (a preimage from a
    /// peer must be checked before it gets here).
    PreimageMismatch(RecordRef),
    /// A revoked commitment record differs from the one already stored under
    /// the same channel and commitment number (records are append-only).
    /// Nothing of the batch was written; this is a node bug.
    RevokedCommitmentConflict {
        /// The channel.
        channel_id: ChannelId,
        /// The commitment number.
        commitment_number: u64,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(e) => write!(f, "sqlite: {e}"),
            Self::Io(e) => write!(f, "creating the database file: {e}"),
            Self::SchemaTooNew { found, supported } => write!(
                f,
                "database schema version {found} is newer than the newest this binary supports ({supported})"
            ),
            Self::Locked => f.write_str("the database is locked by another process"),
            Self::JournalMode { got } => {
                write!(f, "sqlite refused write-ahead logging (journal mode {got})")
            }
            Self::Corrupt {
                table,
                column,
                reason,
            } => write!(f, "corrupt value in {table}.{column}: {reason}"),
            Self::ValueOutOfRange { field, value } => {
                write!(f, "{field} {value} does not fit a 64-bit signed integer")
            }
            Self::Duplicate(r) => write!(f, "{r} already exists"),
            Self::NotFound(r) => write!(f, "{r} not found"),
            Self::InvalidTransition { record, from, to } => {
                write!(f, "{record} cannot go from {from} to {to}")
            }
            Self::PreimageMismatch(r) => {
                write!(f, "the preimage of {r} does not match its payment hash")
            }
            Self::ChannelPeerMismatch(id) => {
                write!(f, "channel {id} is stored with a different peer")
            }
            Self::RevokedCommitmentConflict {
                channel_id,
                commitment_number,
            } => write!(
                f,
                "revoked commitment {commitment_number} of channel {channel_id} conflicts with the stored record"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite(e) => Some(e),
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}
