//! Conversions between Fulmen's types and SQLite values.
//!
//! SQLite integers are signed 64-bit: amounts, ids and timestamps are checked
//! on the way in (a value above `i64::MAX` is refused, never wrapped) and on
//! the way out (a negative value is reported as corruption, never cast).
//! Statuses are stored as text and parsed back strictly.

use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage, PaymentSecret};
use rusqlite::types::ValueRef;
use rusqlite::Row;

use crate::error::{CorruptReason, StoreError};

/// A `u64` as an SQLite integer, or an error naming the field.
pub(crate) fn int(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::ValueOutOfRange { field, value })
}

/// An optional `u64` as an SQLite integer or NULL.
pub(crate) fn opt_int(field: &'static str, value: Option<u64>) -> Result<Option<i64>, StoreError> {
    value.map(|v| int(field, v)).transpose()
}

/// An amount as an SQLite integer.
pub(crate) fn msat(field: &'static str, value: Msat) -> Result<i64, StoreError> {
    int(field, value.value())
}

/// An optional amount as an SQLite integer or NULL.
pub(crate) fn opt_msat(
    field: &'static str,
    value: Option<Msat>,
) -> Result<Option<i64>, StoreError> {
    value.map(|v| msat(field, v)).transpose()
}

/// A status enum stored as text.
pub(crate) trait StatusText: Sized + Copy {
    /// The text stored in the database.
    fn as_str(self) -> &'static str;
    /// The status named by `s`, if any.
    fn parse(s: &str) -> Option<Self>;
}

/// Declares a status enum stored as text, with its `as_str`/`parse` pair and
/// `Display`.
macro_rules! status_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            /// Every status, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];
            /// The text stored in the database (and shown by the CLI).
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
        }

        impl $crate::sql::StatusText for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
            fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use status_enum;

/// Reads one row's columns by name, turning every malformed value into
/// [`StoreError::Corrupt`] that names the table and column.
pub(crate) struct RowReader<'a, 'stmt> {
    row: &'a Row<'stmt>,
    table: &'static str,
}

impl<'a, 'stmt> RowReader<'a, 'stmt> {
    /// A reader for a row of `table`.
    pub(crate) fn new(row: &'a Row<'stmt>, table: &'static str) -> Self {
        Self { row, table }
    }

    fn corrupt(&self, column: &'static str, reason: CorruptReason) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            column,
            reason,
        }
    }

    fn value(&self, column: &'static str) -> Result<ValueRef<'a>, StoreError> {
        Ok(self.row.get_ref(column)?)
    }

    /// A non-negative integer, or `None` for NULL.
    pub(crate) fn opt_u64(&self, column: &'static str) -> Result<Option<u64>, StoreError> {
        match self.value(column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => u64::try_from(i)
                .map(Some)
                .map_err(|_| self.corrupt(column, CorruptReason::Range)),
            _ => Err(self.corrupt(column, CorruptReason::Type)),
        }
    }

    /// A non-negative integer.
    pub(crate) fn u64(&self, column: &'static str) -> Result<u64, StoreError> {
        self.opt_u64(column)?
            .ok_or_else(|| self.corrupt(column, CorruptReason::Type))
    }

    /// An amount.
    pub(crate) fn msat(&self, column: &'static str) -> Result<Msat, StoreError> {
        self.u64(column).map(Msat)
    }

    /// An amount, or `None` for NULL.
    pub(crate) fn opt_msat(&self, column: &'static str) -> Result<Option<Msat>, StoreError> {
        Ok(self.opt_u64(column)?.map(Msat))
    }

    /// A blob, or `None` for NULL.
    pub(crate) fn opt_blob(&self, column: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.value(column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(b) => Ok(Some(b.to_vec())),
            _ => Err(self.corrupt(column, CorruptReason::Type)),
        }
    }

    /// A blob.
    pub(crate) fn blob(&self, column: &'static str) -> Result<Vec<u8>, StoreError> {
        self.opt_blob(column)?
            .ok_or_else(|| self.corrupt(column, CorruptReason::Type))
    }

    /// A fixed-length blob, or `None` for NULL.
    pub(crate) fn opt_array<const N: usize>(
        &self,
        column: &'static str,
    ) -> Result<Option<[u8; N]>, StoreError> {
        match self.value(column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(b) => <[u8; N]>::try_from(b).map(Some).map_err(|_| {
                self.corrupt(
                    column,
                    CorruptReason::Length {
                        expected: N,
                        got: b.len(),
                    },
                )
            }),
            _ => Err(self.corrupt(column, CorruptReason::Type)),
        }
    }

    /// A fixed-length blob.
    pub(crate) fn array<const N: usize>(
        &self,
        column: &'static str,
    ) -> Result<[u8; N], StoreError> {
        self.opt_array(column)?
            .ok_or_else(|| self.corrupt(column, CorruptReason::Type))
    }

    /// A channel id.
    pub(crate) fn channel_id(&self, column: &'static str) -> Result<ChannelId, StoreError> {
        self.array(column).map(ChannelId)
    }

    /// A channel id, or `None` for NULL.
    pub(crate) fn opt_channel_id(
        &self,
        column: &'static str,
    ) -> Result<Option<ChannelId>, StoreError> {
        Ok(self.opt_array(column)?.map(ChannelId))
    }

    /// A payment hash.
    pub(crate) fn payment_hash(&self, column: &'static str) -> Result<PaymentHash, StoreError> {
        self.array(column).map(PaymentHash)
    }

    /// A preimage, or `None` for NULL.
    pub(crate) fn opt_preimage(
        &self,
        column: &'static str,
    ) -> Result<Option<PaymentPreimage>, StoreError> {
        Ok(self.opt_array(column)?.map(PaymentPreimage))
    }

    /// A payment secret, or `None` for NULL.
    pub(crate) fn opt_payment_secret(
        &self,
        column: &'static str,
    ) -> Result<Option<PaymentSecret>, StoreError> {
        Ok(self.opt_array(column)?.map(PaymentSecret))
    }

    /// A node id (33 bytes; not checked to be a curve point here).
    pub(crate) fn node_id(&self, column: &'static str) -> Result<NodeId, StoreError> {
        self.array(column).map(NodeId)
    }

    /// A node id, or `None` for NULL.
    pub(crate) fn opt_node_id(&self, column: &'static str) -> Result<Option<NodeId>, StoreError> {
        Ok(self.opt_array(column)?.map(NodeId))
    }

    /// Text, or `None` for NULL.
    pub(crate) fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        match self.value(column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => core::str::from_utf8(t)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| self.corrupt(column, CorruptReason::Type)),
            _ => Err(self.corrupt(column, CorruptReason::Type)),
        }
    }

    /// Text.
    pub(crate) fn text(&self, column: &'static str) -> Result<String, StoreError> {
        self.opt_text(column)?
            .ok_or_else(|| self.corrupt(column, CorruptReason::Type))
    }

    /// A status stored as text.
    pub(crate) fn status<T: StatusText>(&self, column: &'static str) -> Result<T, StoreError> {
        let text = self.text(column)?;
        T::parse(&text).ok_or_else(|| self.corrupt(column, CorruptReason::UnknownStatus))
    }
}
