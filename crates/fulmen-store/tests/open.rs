//! Opening: migrations from empty, idempotent re-open, refusal of a newer
//! schema, the exclusive lock, and data surviving a reopen.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use common::*;
use fulmen_store::{Batch, OpenOptions, Store, StoreError, SCHEMA_VERSION};
use rusqlite::Connection;

fn tables(path: &std::path::Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
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

fn stored_version(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn migrates_an_empty_database_to_the_current_schema() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    drop(store);
    assert_eq!(stored_version(&path), i64::from(SCHEMA_VERSION));
    assert_eq!(
        tables(&path),
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
    let mode: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "WAL mode is persistent in the file");
}

#[test]
fn reopening_is_idempotent_and_keeps_the_data() {
    let (_dir, path) = temp_db();
    {
        let mut store = Store::open(&path).unwrap();
        let mut batch = Batch::new();
        batch
            .put_channel(channel_id(1), peer_id(1), vec![7; 2048], 10)
            .insert_invoice(invoice(1))
            .set_kv("k", b"v".to_vec());
        store.commit(batch).unwrap();
    }
    for _ in 0..3 {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version(), SCHEMA_VERSION);
        let chans = store.load_channels().unwrap();
        assert_eq!(chans.len(), 1);
        assert_eq!(chans[0].state, vec![7; 2048]);
        assert_eq!(
            store.invoice_by_label("invoice-1").unwrap(),
            Some(invoice(1))
        );
        assert_eq!(store.get_kv("k").unwrap(), Some(b"v".to_vec()));
    }
    assert_eq!(stored_version(&path), i64::from(SCHEMA_VERSION));
}

#[test]
fn a_database_from_a_newer_binary_is_refused_and_left_alone() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let newer = i64::from(SCHEMA_VERSION) + 1;
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE schema_version SET version = ?1", [newer])
        .unwrap();
    match Store::open(&path) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(i64::from(found), newer);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(stored_version(&path), newer);
    let msg = StoreError::SchemaTooNew {
        found: 9,
        supported: 1,
    }
    .to_string();
    assert!(msg.starts_with("database schema version 9"), "{msg}");
}

#[test]
fn a_second_opener_is_refused_while_the_store_is_open() {
    let (_dir, path) = temp_db();
    let quick = OpenOptions {
        busy_timeout: Duration::from_millis(50),
        ..OpenOptions::default()
    };
    // Both for a fresh database (migrations ran) and a reopened one (none ran).
    for _ in 0..2 {
        let first = Store::open(&path).unwrap();
        match Store::open_with(&path, quick) {
            Err(StoreError::Locked) => {}
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
    }
    // Released on drop.
    drop(Store::open_with(&path, quick).unwrap());
}

#[test]
fn a_non_exclusive_store_lets_a_reader_in() {
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    let mut batch = Batch::new();
    batch.set_kv("a", vec![1]);
    store.commit(batch).unwrap();
    let raw = Connection::open(&path).unwrap();
    let v: Vec<u8> = raw
        .query_row("SELECT value FROM kv WHERE key = 'a'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, [1]);
}

#[cfg(unix)]
#[test]
fn the_database_and_its_wal_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    let mut batch = Batch::new();
    batch.insert_invoice(invoice(1));
    store.commit(batch).unwrap();
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    for file in [path.as_os_str(), wal.as_os_str()] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file:?}");
    }
}

#[test]
fn a_path_in_a_missing_directory_is_an_io_error() {
    let (_dir, path) = temp_db();
    let bad = path.join("no").join("such").join("db");
    assert!(matches!(Store::open(bad), Err(StoreError::Io(_))));
}
