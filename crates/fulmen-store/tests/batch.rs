//! Group commit: all of a batch or nothing of it, last channel write wins, an
//! empty batch touches nothing, and the data survives a reopen. A model-based
//! property test checks random batch sequences (some failing) against maps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::*;
use fulmen_store::{
    Batch, ChannelStatus, ForwardUpdate, InvoiceUpdate, OpenOptions, PartUpdate, PaymentUpdate,
    RecordRef, Store, StoreError,
};
use fulmen_types::Msat;
use proptest::prelude::*;
use rusqlite::types::Value;
use rusqlite::Connection;

/// Every row of every table, as text, through a separate connection.
fn dump(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut out = Vec::new();
    for table in [
        "channels",
        "revoked_commitments",
        "invoices",
        "payments",
        "payment_parts",
        "forwards",
        "peers",
        "kv",
        "schema_version",
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let vals: Vec<String> = (0..n)
                .map(|i| format!("{:?}", row.get::<_, Value>(i).unwrap()))
                .collect();
            out.push(format!("{table}: {}", vals.join(", ")));
        }
    }
    out
}

fn base(store: &mut Store) {
    let mut b = Batch::new();
    b.put_channel(channel_id(1), peer_id(1), vec![1; 2048], 1)
        .insert_invoice(invoice(1))
        .insert_payment(payment(1))
        .insert_payment_part(part(1, 0))
        .insert_forward(forward(1))
        .put_peer(peer(1))
        .set_kv("counter", vec![1]);
    store.commit(b).unwrap();
}

/// One of each kind of change, each valid on top of `base`.
/// A change to add to a batch.
type AddChange = Box<dyn Fn(&mut Batch)>;

fn good_changes() -> Vec<AddChange> {
    vec![
        Box::new(|b| {
            b.put_channel(channel_id(1), peer_id(1), vec![2; 2048], 2);
        }),
        Box::new(|b| {
            b.put_channel(channel_id(2), peer_id(2), vec![3; 100], 2);
        }),
        Box::new(|b| {
            b.close_channel(channel_id(1), 3);
        }),
        Box::new(|b| {
            b.add_revoked_commitment(revoked(1, 0));
        }),
        Box::new(|b| {
            b.insert_invoice(invoice(2));
        }),
        Box::new(|b| {
            b.update_invoice(
                hash(1),
                InvoiceUpdate::Paid {
                    amount_received: Msat(1_000),
                    paid_at: 4,
                },
            );
        }),
        Box::new(|b| {
            b.insert_payment(payment(2));
        }),
        Box::new(|b| {
            b.insert_payment_part(part(1, 1));
        }),
        Box::new(|b| {
            b.update_payment_part(hash(1), 0, PartUpdate::Succeeded { resolved_at: 5 });
        }),
        Box::new(|b| {
            b.update_payment(
                hash(1),
                PaymentUpdate::Succeeded {
                    preimage: preimage(1),
                    fee: Msat(3),
                    completed_at: 5,
                },
            );
        }),
        Box::new(|b| {
            b.insert_forward(forward(2));
        }),
        Box::new(|b| {
            b.update_forward(channel_id(1), 1, ForwardUpdate::Settled { resolved_at: 6 });
        }),
        Box::new(|b| {
            b.put_peer(peer(2));
        }),
        Box::new(|b| {
            b.remove_peer(peer_id(1));
        }),
        Box::new(|b| {
            b.set_kv("counter", vec![2]);
        }),
        Box::new(|b| {
            b.delete_channel(channel_id(9));
        }),
    ]
}

#[test]
fn a_batch_that_fails_midway_applies_nothing() {
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    base(&mut store);
    let before = dump(&path);
    let changes = good_changes();
    // The failing change: an invoice whose label is taken.
    let mut dup = invoice(3);
    dup.label = "invoice-1".into();
    for at in 0..=changes.len() {
        let mut b = Batch::new();
        for (i, change) in changes.iter().enumerate() {
            if i == at {
                b.insert_invoice(dup.clone());
            }
            change(&mut b);
        }
        if at == changes.len() {
            b.insert_invoice(dup.clone());
        }
        match store.commit(b) {
            Err(StoreError::Duplicate(RecordRef::InvoiceLabel(l))) => assert_eq!(l, "invoice-1"),
            other => panic!("at {at}: {other:?}"),
        }
        assert_eq!(
            dump(&path),
            before,
            "failure at position {at} left changes behind"
        );
    }
    // The store is still usable, and the same changes without the bad one all
    // apply.
    let mut b = Batch::new();
    for change in &changes {
        change(&mut b);
    }
    store.commit(b).unwrap();
    let after = dump(&path);
    assert_ne!(after, before);
    assert_eq!(store.get_kv("counter").unwrap(), Some(vec![2]));
    assert_eq!(
        store.channel(&channel_id(1)).unwrap().unwrap().state,
        vec![2; 2048]
    );
    assert_eq!(
        store.channel(&channel_id(1)).unwrap().unwrap().status,
        ChannelStatus::Closed
    );
    assert_eq!(store.invoice_by_hash(&hash(2)).unwrap(), Some(invoice(2)));
}

#[test]
fn a_failing_channel_write_also_applies_nothing() {
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    base(&mut store);
    let before = dump(&path);
    let mut b = Batch::new();
    b.put_channel(channel_id(3), peer_id(3), vec![3], 3)
        .set_kv("counter", vec![9])
        .insert_invoice(invoice(4));
    b.close_channel(channel_id(8), 3); // no such channel
    assert!(matches!(
        store.commit(b),
        Err(StoreError::NotFound(RecordRef::Channel(_)))
    ));
    assert_eq!(dump(&path), before);
    // A failure raised by SQLite itself (a trigger) rolls back the same way.
    let mut b = Batch::new();
    b.add_revoked_commitment(revoked(1, 0));
    store.commit(b).unwrap();
    let before = dump(&path);
    let mut conflicting = revoked(2, 0);
    conflicting.txid = revoked(1, 0).txid;
    let mut b = Batch::new();
    b.set_kv("counter", vec![7])
        .put_channel(channel_id(1), peer_id(1), vec![7], 7)
        .add_revoked_commitment(conflicting);
    assert!(matches!(
        store.commit(b),
        Err(StoreError::RevokedCommitmentConflict { .. })
    ));
    assert_eq!(dump(&path), before);
}

#[test]
fn the_last_write_of_a_channel_in_a_batch_wins() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut b = Batch::new();
    for i in 0..10u8 {
        b.put_channel(channel_id(1), peer_id(1), vec![i; 10], u64::from(i));
        b.put_channel(channel_id(2), peer_id(2), vec![100 + i; 10], u64::from(i));
    }
    assert_eq!(b.channel_count(), 2);
    assert_eq!(
        b.channel_ids().copied().collect::<Vec<_>>(),
        [channel_id(1), channel_id(2)]
    );
    store.commit(b).unwrap();
    let c = store.load_channels().unwrap();
    assert_eq!((c[0].state.clone(), c[0].updated_at), (vec![9; 10], 9));
    assert_eq!(c[1].state, vec![109; 10]);

    // Put, close, put: the last blob, and still closed.
    let mut b = Batch::new();
    b.put_channel(channel_id(3), peer_id(3), vec![1], 1)
        .close_channel(channel_id(3), 2)
        .put_channel(channel_id(3), peer_id(3), vec![2], 3);
    store.commit(b).unwrap();
    let c3 = store.channel(&channel_id(3)).unwrap().unwrap();
    assert_eq!(
        (c3.state, c3.status, c3.updated_at),
        (vec![2], ChannelStatus::Closed, 3)
    );
    // Put then delete: gone. Delete then put: fresh row with the new peer.
    let mut b = Batch::new();
    b.put_channel(channel_id(1), peer_id(1), vec![5], 5)
        .delete_channel(channel_id(1))
        .delete_channel(channel_id(3))
        .put_channel(channel_id(3), peer_id(4), vec![6], 6);
    store.commit(b).unwrap();
    assert_eq!(store.channel(&channel_id(1)).unwrap(), None);
    let c3 = store.channel(&channel_id(3)).unwrap().unwrap();
    assert_eq!(
        (c3.peer_id, c3.state, c3.status),
        (peer_id(4), vec![6], ChannelStatus::Open)
    );
}

#[test]
fn an_empty_batch_touches_nothing() {
    let (_dir, path) = temp_db();
    let mut store = Store::open_with(
        &path,
        OpenOptions {
            exclusive: false,
            busy_timeout: Duration::from_millis(50),
        },
    )
    .unwrap();
    assert!(Batch::new().is_empty());
    // Another connection holds the write lock: an empty commit never asks for
    // it, a real one times out and reports it.
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch("BEGIN IMMEDIATE").unwrap();
    store.commit(Batch::new()).unwrap();
    let mut b = Batch::new();
    b.set_kv("x", vec![1]);
    match store.commit(b.clone()) {
        Err(StoreError::Sqlite(e)) => assert_eq!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy)
        ),
        other => panic!("{other:?}"),
    }
    raw.execute_batch("COMMIT").unwrap();
    store.commit(b).unwrap();
    assert_eq!(store.get_kv("x").unwrap(), Some(vec![1]));
}

#[test]
fn every_record_survives_a_reopen() {
    let (_dir, path) = temp_db();
    {
        let mut store = Store::open(&path).unwrap();
        base(&mut store);
        let mut b = Batch::new();
        for change in good_changes() {
            change(&mut b);
        }
        store.commit(b).unwrap();
    }
    let before = dump(&path);
    let store = Store::open(&path).unwrap();
    drop(store);
    assert_eq!(dump(&path), before);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.load_channels().unwrap().len(), 2);
    assert_eq!(
        store.revoked_commitment(&channel_id(1), 0).unwrap(),
        Some(revoked(1, 0))
    );
    assert_eq!(store.list_invoices(None).unwrap().len(), 2);
    assert_eq!(
        store.payment_by_hash(&hash(1)).unwrap().unwrap().preimage,
        Some(preimage(1))
    );
    assert_eq!(store.payment_parts(&hash(1)).unwrap().len(), 2);
    assert_eq!(store.list_forwards(None).unwrap().len(), 2);
    assert_eq!(store.list_peers().unwrap(), [peer(2)]);
    assert_eq!(store.get_kv("counter").unwrap(), Some(vec![2]));
}

// ---- model-based property test ----

#[derive(Debug, Clone)]
enum Change {
    Put(u8, u8),
    Close(u8),
    Delete(u8),
    Invoice(u8, u8), // payment-hash seed, label seed
    Kv(u8, u8),
    DeleteKv(u8),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (0..6u8, any::<u8>()).prop_map(|(c, v)| Change::Put(c, v)),
        1 => (0..6u8).prop_map(Change::Close),
        1 => (0..6u8).prop_map(Change::Delete),
        1 => (0..40u8, 0..40u8).prop_map(|(h, l)| Change::Invoice(h, l)),
        2 => (0..4u8, any::<u8>()).prop_map(|(k, v)| Change::Kv(k, v)),
        1 => (0..4u8).prop_map(Change::DeleteKv),
    ]
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    channels: BTreeMap<u8, (u8, bool)>, // state byte, closed
    invoices: BTreeMap<u8, u8>,         // hash seed -> label seed
    kv: BTreeMap<u8, u8>,
}

impl Model {
    /// Applies a batch; `None` if the store must refuse it.
    fn apply(&self, changes: &[Change]) -> Option<Model> {
        let mut m = self.clone();
        // Channel ops go first, per channel in order (puts coalesce but the
        // end state is the same as applying them in order).
        for c in changes {
            match *c {
                Change::Put(ch, v) => {
                    let closed = m.channels.get(&ch).is_some_and(|s| s.1);
                    m.channels.insert(ch, (v, closed));
                }
                Change::Close(ch) => m.channels.get_mut(&ch)?.1 = true,
                Change::Delete(ch) => {
                    m.channels.remove(&ch);
                }
                _ => {}
            }
        }
        for c in changes {
            match *c {
                Change::Invoice(h, l) => {
                    if m.invoices.contains_key(&h) || m.invoices.values().any(|x| *x == l) {
                        return None;
                    }
                    m.invoices.insert(h, l);
                }
                Change::Kv(k, v) => {
                    m.kv.insert(k, v);
                }
                Change::DeleteKv(k) => {
                    m.kv.remove(&k);
                }
                _ => {}
            }
        }
        Some(m)
    }

    fn read(store: &Store) -> Model {
        let mut m = Model::default();
        for c in store.load_channels().unwrap() {
            m.channels.insert(
                c.channel_id.0[0],
                (c.state[0], c.status == ChannelStatus::Closed),
            );
        }
        for inv in store.list_invoices(None).unwrap() {
            let h = (0..40u8)
                .find(|h| hash(u64::from(*h)) == inv.payment_hash)
                .unwrap();
            let l: u8 = inv.label.strip_prefix("l").unwrap().parse().unwrap();
            m.invoices.insert(h, l);
        }
        for k in 0..4u8 {
            if let Some(v) = store.get_kv(&format!("k{k}")).unwrap() {
                m.kv.insert(k, v[0]);
            }
        }
        m
    }
}

fn to_batch(changes: &[Change]) -> Batch {
    let mut b = Batch::new();
    for c in changes {
        match *c {
            Change::Put(ch, v) => {
                b.put_channel(channel_id(ch), peer_id(1), vec![v; 64], 1);
            }
            Change::Close(ch) => {
                b.close_channel(channel_id(ch), 2);
            }
            Change::Delete(ch) => {
                b.delete_channel(channel_id(ch));
            }
            Change::Invoice(h, l) => {
                let mut inv = invoice(u64::from(h));
                inv.label = format!("l{l}");
                b.insert_invoice(inv);
            }
            Change::Kv(k, v) => {
                b.set_kv(format!("k{k}"), vec![v]);
            }
            Change::DeleteKv(k) => {
                b.delete_kv(format!("k{k}"));
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_batches_apply_wholly_or_not_at_all(
        batches in proptest::collection::vec(proptest::collection::vec(change(), 0..8), 1..12)
    ) {
        let (_dir, path) = temp_db();
        let mut store = Store::open(&path).unwrap();
        let mut model = Model::default();
        for changes in &batches {
            let expected = model.apply(changes);
            let result = store.commit(to_batch(changes));
            match expected {
                Some(next) => {
                    prop_assert!(result.is_ok(), "{changes:?}: {result:?}");
                    model = next;
                }
                None => prop_assert!(result.is_err(), "{changes:?} should fail"),
            }
            prop_assert_eq!(&Model::read(&store), &model);
        }
        drop(store);
        let store = Store::open(&path).unwrap();
        prop_assert_eq!(&Model::read(&store), &model);
    }
}
