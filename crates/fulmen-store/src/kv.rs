//! The `kv` table: node-level settings (the next channel key index, ...).

use rusqlite::{params, Connection};

use crate::error::StoreError;
use crate::sql::RowReader;

/// Sets `key` to `value`.
pub(crate) fn set(conn: &Connection, key: &str, value: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO kv (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Removes `key` (no error if absent).
pub(crate) fn delete(conn: &Connection, key: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM kv WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// The value of `key`.
pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT value FROM kv WHERE key = ?1")?;
    let mut rows = stmt.query([key])?;
    rows.next()?
        .map(|row| RowReader::new(row, "kv").blob("value"))
        .transpose()
}
