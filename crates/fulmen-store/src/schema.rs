//! The schema and its migrations.
//!
//! The database records its schema version in the one-row `schema_version`
//! table. Opening runs, in one transaction, every migration step above the
//! stored version in order; a database whose version is above the newest step
//! this binary knows was written by a newer Fulmen and is refused with
//! [`StoreError::SchemaTooNew`] (an older binary must never guess at a newer
//! layout of other people's money). Steps are append-only: a released step is
//! never edited, a change is a new step.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{CorruptReason, StoreError};

/// One migration step: the SQL that takes the schema from `version - 1` to
/// `version`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The schema version after this step.
    pub(crate) version: u32,
    /// The statements, run as one batch inside the migration transaction.
    pub(crate) sql: &'static str,
}

/// Version 1: every table of the node's durable state.
///
/// Notes on the layout:
/// - `channels` holds each channel's opaque state blob (`Channel::encode_state`
///   of fulmen-channel); the store never looks inside.
/// - `revoked_commitments` is append-only (triggers refuse UPDATE and DELETE):
///   these records are what a penalty transaction is built from, and they must
///   outlive the channel row. `txid` is unique and indexed so that a spend of a
///   funding output can be matched in one lookup.
/// - `invoices.label` and `invoices.payment_hash` are unique.
/// - `payment_parts` rows (one per HTLC attempt) belong to a `payments` row.
/// - `forwards` are keyed by their incoming HTLC.
const V1: &str = "
CREATE TABLE channels (
    channel_id BLOB PRIMARY KEY NOT NULL CHECK (length(channel_id) = 32),
    peer_id BLOB NOT NULL CHECK (length(peer_id) = 33),
    state BLOB NOT NULL,
    status TEXT NOT NULL,
    updated_at INTEGER NOT NULL CHECK (updated_at >= 0)
);

CREATE TABLE revoked_commitments (
    channel_id BLOB NOT NULL CHECK (length(channel_id) = 32),
    commitment_number INTEGER NOT NULL CHECK (commitment_number >= 0),
    txid BLOB NOT NULL UNIQUE CHECK (length(txid) = 32),
    record BLOB NOT NULL,
    PRIMARY KEY (channel_id, commitment_number)
);
CREATE TRIGGER revoked_commitments_append_only_update
    BEFORE UPDATE ON revoked_commitments
    BEGIN SELECT RAISE(ABORT, 'revoked_commitments is append-only'); END;
CREATE TRIGGER revoked_commitments_append_only_delete
    BEFORE DELETE ON revoked_commitments
    BEGIN SELECT RAISE(ABORT, 'revoked_commitments is append-only'); END;

CREATE TABLE invoices (
    id INTEGER PRIMARY KEY,
    payment_hash BLOB NOT NULL UNIQUE CHECK (length(payment_hash) = 32),
    label TEXT NOT NULL UNIQUE,
    bolt11 TEXT NOT NULL,
    preimage BLOB CHECK (preimage IS NULL OR length(preimage) = 32),
    payment_secret BLOB CHECK (payment_secret IS NULL OR length(payment_secret) = 32),
    amount_msat INTEGER CHECK (amount_msat IS NULL OR amount_msat >= 0),
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    expires_at INTEGER NOT NULL CHECK (expires_at >= 0),
    paid_at INTEGER CHECK (paid_at IS NULL OR paid_at >= 0),
    amount_received_msat INTEGER
        CHECK (amount_received_msat IS NULL OR amount_received_msat >= 0)
);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    payment_hash BLOB NOT NULL UNIQUE CHECK (length(payment_hash) = 32),
    destination BLOB CHECK (destination IS NULL OR length(destination) = 33),
    amount_msat INTEGER NOT NULL CHECK (amount_msat >= 0),
    bolt11 TEXT,
    label TEXT,
    status TEXT NOT NULL,
    preimage BLOB CHECK (preimage IS NULL OR length(preimage) = 32),
    fee_msat INTEGER CHECK (fee_msat IS NULL OR fee_msat >= 0),
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    completed_at INTEGER CHECK (completed_at IS NULL OR completed_at >= 0)
);

CREATE TABLE payment_parts (
    payment_hash BLOB NOT NULL
        REFERENCES payments (payment_hash) ON DELETE CASCADE,
    part_id INTEGER NOT NULL CHECK (part_id >= 0),
    status TEXT NOT NULL,
    amount_msat INTEGER NOT NULL CHECK (amount_msat >= 0),
    fee_msat INTEGER NOT NULL CHECK (fee_msat >= 0),
    route BLOB NOT NULL,
    first_hop_channel BLOB CHECK (first_hop_channel IS NULL OR length(first_hop_channel) = 32),
    htlc_id INTEGER CHECK (htlc_id IS NULL OR htlc_id >= 0),
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    resolved_at INTEGER CHECK (resolved_at IS NULL OR resolved_at >= 0),
    failure BLOB,
    PRIMARY KEY (payment_hash, part_id)
);
CREATE INDEX payment_parts_by_htlc ON payment_parts (first_hop_channel, htlc_id);
CREATE INDEX payment_parts_by_status ON payment_parts (status);

CREATE TABLE forwards (
    id INTEGER PRIMARY KEY,
    in_channel BLOB NOT NULL CHECK (length(in_channel) = 32),
    in_htlc_id INTEGER NOT NULL CHECK (in_htlc_id >= 0),
    out_channel BLOB CHECK (out_channel IS NULL OR length(out_channel) = 32),
    out_htlc_id INTEGER CHECK (out_htlc_id IS NULL OR out_htlc_id >= 0),
    payment_hash BLOB NOT NULL CHECK (length(payment_hash) = 32),
    in_amount_msat INTEGER NOT NULL CHECK (in_amount_msat >= 0),
    out_amount_msat INTEGER CHECK (out_amount_msat IS NULL OR out_amount_msat >= 0),
    status TEXT NOT NULL,
    failure_code INTEGER CHECK (failure_code IS NULL OR failure_code BETWEEN 0 AND 65535),
    received_at INTEGER NOT NULL CHECK (received_at >= 0),
    resolved_at INTEGER CHECK (resolved_at IS NULL OR resolved_at >= 0),
    UNIQUE (in_channel, in_htlc_id)
);
CREATE INDEX forwards_by_status ON forwards (status);

CREATE TABLE peers (
    node_id BLOB PRIMARY KEY NOT NULL CHECK (length(node_id) = 33),
    address TEXT NOT NULL,
    updated_at INTEGER NOT NULL CHECK (updated_at >= 0)
);

CREATE TABLE kv (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
";

/// Version 2: the `gossip` table (see `gossip.rs`): accepted BOLT 7
/// messages by (kind, key). Kind 0 is a `channel_announcement` (key: the
/// short channel id, 8 bytes big-endian; it carries the funding output's
/// value and outpoint), 1 a `channel_update` (key: short channel id and
/// direction bit, 9 bytes), 2 a `node_announcement` (key: the node id).
/// `WITHOUT ROWID`, so that a scan of one kind reads rows in key order
/// straight from the primary key.
const V2: &str = "
CREATE TABLE gossip (
    kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),
    key BLOB NOT NULL
        CHECK (length(key) = CASE kind WHEN 0 THEN 8 WHEN 1 THEN 9 ELSE 33 END),
    timestamp INTEGER NOT NULL CHECK (timestamp >= 0),
    message BLOB NOT NULL,
    capacity_sat INTEGER CHECK (capacity_sat IS NULL OR capacity_sat >= 0),
    funding_txid BLOB CHECK (funding_txid IS NULL OR length(funding_txid) = 32),
    funding_vout INTEGER
        CHECK (funding_vout IS NULL OR funding_vout BETWEEN 0 AND 4294967295),
    CHECK ((kind = 0) = (capacity_sat IS NOT NULL
                         AND funding_txid IS NOT NULL
                         AND funding_vout IS NOT NULL)),
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
";

/// Every migration step, in order. Step `i` has version `i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: V1,
    },
    Migration {
        version: 2,
        sql: V2,
    },
];

/// The schema version this binary writes: the last step's.
pub const SCHEMA_VERSION: u32 = 2;

const CREATE_VERSION_TABLE: &str = "
CREATE TABLE IF NOT EXISTS schema_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL CHECK (version >= 0)
);";

/// The stored schema version (0 for a database without one).
pub(crate) fn stored_version(conn: &Connection) -> Result<u32, StoreError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    let version: Option<i64> = conn
        .query_row(
            "SELECT version FROM schema_version WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    match version {
        None => Ok(0),
        Some(v) => u32::try_from(v).map_err(|_| StoreError::Corrupt {
            table: "schema_version",
            column: "version",
            reason: CorruptReason::Range,
        }),
    }
}

/// Brings the database to the last step of `migrations` in one transaction
/// and returns the resulting version. Refuses a database newer than the last
/// step; leaves the database untouched on any error.
///
/// The version row is rewritten even when no step runs, so that opening always
/// writes: under `locking_mode = EXCLUSIVE` that is what takes (and keeps) the
/// exclusive lock.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<u32, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(CREATE_VERSION_TABLE)?;
    let current = stored_version(&tx)?;
    let latest = migrations.last().map_or(0, |m| m.version);
    if current > latest {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    let mut version = current;
    for step in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(step.sql)?;
        version = step.version;
    }
    tx.execute(
        "INSERT INTO schema_version (id, version) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        [version],
    )?;
    tx.commit()?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_numbered_one_up_and_end_at_schema_version() {
        for (i, step) in MIGRATIONS.iter().enumerate() {
            assert_eq!(step.version as usize, i + 1);
        }
        assert_eq!(MIGRATIONS.last().unwrap().version, SCHEMA_VERSION);
    }

    const A: Migration = Migration {
        version: 1,
        sql: "CREATE TABLE a (x INTEGER);",
    };
    const B: Migration = Migration {
        version: 2,
        sql: "CREATE TABLE b (y INTEGER); INSERT INTO a (x) VALUES (7);",
    };
    const BAD: Migration = Migration {
        version: 3,
        sql: "CREATE TABLE c (z INTEGER); THIS IS NOT SQL;",
    };

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        names
    }

    #[test]
    fn applies_only_the_steps_above_the_stored_version_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(stored_version(&conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn, &[A]).unwrap(), 1);
        assert_eq!(tables(&conn), ["a", "schema_version"]);
        // An upgrade runs B only (A would fail: table a exists).
        assert_eq!(migrate(&mut conn, &[A, B]).unwrap(), 2);
        assert_eq!(tables(&conn), ["a", "b", "schema_version"]);
        let x: i64 = conn.query_row("SELECT x FROM a", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
        // Re-running is a no-op.
        assert_eq!(migrate(&mut conn, &[A, B]).unwrap(), 2);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM a", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_newer_database_is_refused_and_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &[A, B]).unwrap();
        match migrate(&mut conn, &[A]) {
            Err(StoreError::SchemaTooNew {
                found: 2,
                supported: 1,
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(stored_version(&conn).unwrap(), 2);
    }

    #[test]
    fn a_failing_step_rolls_back_every_step_of_the_run() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &[A]).unwrap();
        assert!(matches!(
            migrate(&mut conn, &[A, B, BAD]),
            Err(StoreError::Sqlite(_))
        ));
        assert_eq!(stored_version(&conn).unwrap(), 1);
        assert_eq!(tables(&conn), ["a", "schema_version"]);
    }

    #[test]
    fn the_real_schema_applies_to_an_empty_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, MIGRATIONS).unwrap(), SCHEMA_VERSION);
        assert_eq!(
            tables(&conn),
            [
                "channels",
                "forwards",
                "gossip",
                "invoices",
                "kv",
                "payment_parts",
                "payments",
                "peers",
                "revoked_commitments",
                "schema_version"
            ]
        );
    }
}
