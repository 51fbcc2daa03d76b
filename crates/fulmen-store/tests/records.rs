//! Every record type round-trips; lookups, list queries and status
//! transitions behave; stored values that do not decode are reported as
//! corruption, never trusted or panicked on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use fulmen_store::{
    Batch, ChannelStatus, CorruptReason, ForwardStatus, ForwardUpdate, InvoiceStatus,
    InvoiceUpdate, PartStatus, PartUpdate, PaymentStatus, PaymentUpdate, RecordRef, Store,
    StoreError,
};
use fulmen_types::{Msat, PaymentHash};
use rusqlite::Connection;

fn commit(store: &mut Store, f: impl FnOnce(&mut Batch)) -> Result<(), StoreError> {
    let mut batch = Batch::new();
    f(&mut batch);
    store.commit(batch)
}

#[test]
fn channels_round_trip_with_status_and_deletion() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    commit(&mut store, |b| {
        b.put_channel(channel_id(2), peer_id(1), vec![2; 100], 20);
        b.put_channel(channel_id(1), peer_id(1), vec![1; 3000], 10);
        b.put_channel(channel_id(3), peer_id(3), Vec::new(), 30);
    })
    .unwrap();
    let all = store.load_channels().unwrap();
    assert_eq!(
        all.iter().map(|c| c.channel_id).collect::<Vec<_>>(),
        [channel_id(1), channel_id(2), channel_id(3)]
    );
    let c1 = store.channel(&channel_id(1)).unwrap().unwrap();
    assert_eq!(c1.peer_id, peer_id(1));
    assert_eq!(c1.state, vec![1; 3000]);
    assert_eq!(c1.status, ChannelStatus::Open);
    assert_eq!(c1.updated_at, 10);
    assert!(store
        .load_channels()
        .unwrap()
        .iter()
        .all(|c| c.status == ChannelStatus::Open));

    commit(&mut store, |b| {
        b.close_channel(channel_id(2), 40);
        b.delete_channel(channel_id(3));
    })
    .unwrap();
    let c2 = store.channel(&channel_id(2)).unwrap().unwrap();
    assert_eq!(
        (c2.status, c2.updated_at, c2.state.len()),
        (ChannelStatus::Closed, 40, 100)
    );
    assert_eq!(store.channel(&channel_id(3)).unwrap(), None);
    let open: Vec<_> = store
        .load_channels_with_status(ChannelStatus::Open)
        .unwrap()
        .into_iter()
        .map(|c| c.channel_id)
        .collect();
    assert_eq!(open, [channel_id(1)]);
    // A state write keeps the stored status.
    commit(&mut store, |b| {
        b.put_channel(channel_id(2), peer_id(1), vec![9], 50);
    })
    .unwrap();
    let c2 = store.channel(&channel_id(2)).unwrap().unwrap();
    assert_eq!(
        (c2.status, c2.state.clone()),
        (ChannelStatus::Closed, vec![9])
    );
    // Reopen a closed channel's status explicitly.
    commit(&mut store, |b| {
        b.set_channel_status(channel_id(2), ChannelStatus::Open, 60);
    })
    .unwrap();
    assert_eq!(
        store.channel(&channel_id(2)).unwrap().unwrap().status,
        ChannelStatus::Open
    );
}

#[test]
fn channel_writes_are_checked() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    commit(&mut store, |b| {
        b.put_channel(channel_id(1), peer_id(1), vec![1], 1);
    })
    .unwrap();
    match commit(&mut store, |b| {
        b.put_channel(channel_id(1), peer_id(2), vec![2], 2);
    }) {
        Err(StoreError::ChannelPeerMismatch(id)) => assert_eq!(id, channel_id(1)),
        other => panic!("{other:?}"),
    }
    match commit(&mut store, |b| {
        b.close_channel(channel_id(9), 2);
    }) {
        Err(StoreError::NotFound(RecordRef::Channel(id))) => assert_eq!(id, channel_id(9)),
        other => panic!("{other:?}"),
    }
    // Deleting an absent channel is fine.
    commit(&mut store, |b| {
        b.delete_channel(channel_id(9));
    })
    .unwrap();
    assert_eq!(store.channel(&channel_id(1)).unwrap().unwrap().state, [1]);
    // An update time beyond SQLite's integers is refused, not wrapped.
    match commit(&mut store, |b| {
        b.put_channel(channel_id(1), peer_id(1), vec![3], u64::MAX);
    }) {
        Err(StoreError::ValueOutOfRange { field, value }) => {
            assert_eq!((field, value), ("updated_at", u64::MAX));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoked_commitments_append_and_are_found_by_txid() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    commit(&mut store, |b| {
        for n in 0..5 {
            b.add_revoked_commitment(revoked(1, n));
        }
        b.add_revoked_commitment(revoked(2, 0));
    })
    .unwrap();
    assert_eq!(store.revoked_commitment_count(&channel_id(1)).unwrap(), 5);
    assert_eq!(store.revoked_commitment_count(&channel_id(2)).unwrap(), 1);
    for n in 0..5 {
        let rc = revoked(1, n);
        assert_eq!(
            store.lookup_revoked_commitment_by_txid(&rc.txid).unwrap(),
            Some(rc.clone())
        );
        assert_eq!(
            store.revoked_commitment(&channel_id(1), n).unwrap(),
            Some(rc)
        );
    }
    assert_eq!(
        store
            .lookup_revoked_commitment_by_txid(&[0x77; 32])
            .unwrap(),
        None
    );
    // Re-appending an identical record is harmless.
    commit(&mut store, |b| {
        b.add_revoked_commitment(revoked(1, 3));
    })
    .unwrap();
    // A different record under the same number, or the same txid, is refused.
    let mut changed = revoked(1, 3);
    changed.record.push(0);
    let mut same_txid = revoked(3, 0);
    same_txid.txid = revoked(1, 0).txid;
    for bad in [changed, same_txid] {
        let (ch, n) = (bad.channel_id, bad.commitment_number);
        match commit(&mut store, |b| {
            b.add_revoked_commitment(bad);
        }) {
            Err(StoreError::RevokedCommitmentConflict {
                channel_id,
                commitment_number,
            }) => assert_eq!((channel_id, commitment_number), (ch, n)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        store.revoked_commitment(&channel_id(1), 3).unwrap(),
        Some(revoked(1, 3))
    );
    // They outlive their channel.
    commit(&mut store, |b| {
        b.put_channel(channel_id(1), peer_id(1), vec![1], 1);
    })
    .unwrap();
    commit(&mut store, |b| {
        b.delete_channel(channel_id(1));
    })
    .unwrap();
    assert_eq!(store.revoked_commitment_count(&channel_id(1)).unwrap(), 5);
}

#[test]
fn revoked_commitments_are_append_only_in_sql_too() {
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    commit(&mut store, |b| {
        b.add_revoked_commitment(revoked(1, 0));
    })
    .unwrap();
    let raw = Connection::open(&path).unwrap();
    for sql in [
        "UPDATE revoked_commitments SET record = x'00'",
        "DELETE FROM revoked_commitments",
    ] {
        let err = raw.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{err}");
    }
    assert_eq!(
        store.revoked_commitment(&channel_id(1), 0).unwrap(),
        Some(revoked(1, 0))
    );
}

#[test]
fn invoices_round_trip_and_settle_once() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut any_amount = invoice(2);
    any_amount.amount = None;
    any_amount.preimage = None;
    any_amount.payment_secret = None;
    commit(&mut store, |b| {
        b.insert_invoice(invoice(1));
        b.insert_invoice(any_amount.clone());
        b.insert_invoice(invoice(3));
    })
    .unwrap();
    assert_eq!(store.invoice_by_hash(&hash(1)).unwrap(), Some(invoice(1)));
    assert_eq!(
        store.invoice_by_label("invoice-2").unwrap(),
        Some(any_amount.clone())
    );
    assert_eq!(store.invoice_by_label("nope").unwrap(), None);
    assert_eq!(store.invoice_by_hash(&PaymentHash([0; 32])).unwrap(), None);
    let got = store.invoice_by_hash(&hash(1)).unwrap().unwrap();
    assert_eq!(got.preimage.unwrap().payment_hash(), hash(1));

    commit(&mut store, |b| {
        b.update_invoice(
            hash(1),
            InvoiceUpdate::Paid {
                amount_received: Msat(1_234),
                paid_at: 99,
            },
        );
        b.update_invoice(hash(3), InvoiceUpdate::Expired);
    })
    .unwrap();
    let paid = store.invoice_by_hash(&hash(1)).unwrap().unwrap();
    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert_eq!(paid.paid_at, Some(99));
    assert_eq!(paid.amount_received, Some(Msat(1_234)));
    assert_eq!(
        store
            .list_invoices(None)
            .unwrap()
            .iter()
            .map(|i| i.label.as_str())
            .collect::<Vec<_>>(),
        ["invoice-1", "invoice-2", "invoice-3"]
    );
    assert_eq!(
        store.list_invoices(Some(InvoiceStatus::Unpaid)).unwrap(),
        [any_amount]
    );
    assert_eq!(
        store
            .list_invoices(Some(InvoiceStatus::Expired))
            .unwrap()
            .len(),
        1
    );

    for (h, update, from) in [
        (
            hash(1),
            InvoiceUpdate::Paid {
                amount_received: Msat(1),
                paid_at: 1,
            },
            "paid",
        ),
        (hash(1), InvoiceUpdate::Expired, "paid"),
        (
            hash(3),
            InvoiceUpdate::Paid {
                amount_received: Msat(1),
                paid_at: 1,
            },
            "expired",
        ),
    ] {
        match commit(&mut store, |b| {
            b.update_invoice(h, update);
        }) {
            Err(StoreError::InvalidTransition {
                record, from: f, ..
            }) => {
                assert_eq!(record, RecordRef::Invoice(h));
                assert_eq!(f, from);
            }
            other => panic!("{other:?}"),
        }
    }
    match commit(&mut store, |b| {
        b.update_invoice(hash(77), InvoiceUpdate::Expired);
    }) {
        Err(StoreError::NotFound(RecordRef::Invoice(h))) => assert_eq!(h, hash(77)),
        other => panic!("{other:?}"),
    }
    // Duplicates by hash and by label.
    let mut same_label = invoice(5);
    same_label.label = "invoice-1".into();
    match commit(&mut store, |b| {
        b.insert_invoice(same_label);
    }) {
        Err(e @ StoreError::Duplicate(RecordRef::InvoiceLabel(_))) => {
            assert_eq!(
                e.to_string(),
                "invoice labelled \"invoice-1\" already exists"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut same_hash = invoice(1);
    same_hash.label = "fresh".into();
    match commit(&mut store, |b| {
        b.insert_invoice(same_hash);
    }) {
        Err(StoreError::Duplicate(RecordRef::Invoice(h))) => assert_eq!(h, hash(1)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn payments_and_parts_round_trip_with_checked_transitions() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut bare = payment(2);
    bare.destination = None;
    bare.bolt11 = None;
    bare.label = None;
    commit(&mut store, |b| {
        b.insert_payment(payment(1));
        b.insert_payment_part(part(1, 0));
        b.insert_payment_part(part(1, 1));
        b.insert_payment(bare.clone());
    })
    .unwrap();
    assert_eq!(store.payment_by_hash(&hash(1)).unwrap(), Some(payment(1)));
    assert_eq!(store.payment_by_hash(&hash(2)).unwrap(), Some(bare.clone()));
    assert_eq!(
        store.payment_parts(&hash(1)).unwrap(),
        [part(1, 0), part(1, 1)]
    );
    assert_eq!(store.payment_parts(&hash(2)).unwrap(), []);
    assert_eq!(
        store.payment_part_by_htlc(&channel_id(7), 101).unwrap(),
        Some(part(1, 1))
    );
    assert_eq!(store.payment_part_by_htlc(&channel_id(7), 5).unwrap(), None);
    assert_eq!(
        store
            .payment_parts_with_status(PartStatus::InFlight)
            .unwrap()
            .len(),
        2
    );

    // Part 0 fails, part 1 succeeds, the payment succeeds.
    commit(&mut store, |b| {
        b.update_payment_part(
            hash(1),
            0,
            PartUpdate::Failed {
                failure: vec![0x10, 0x0f],
                resolved_at: 5,
            },
        );
        b.update_payment_part(hash(1), 1, PartUpdate::Succeeded { resolved_at: 6 });
        b.update_payment(
            hash(1),
            PaymentUpdate::Succeeded {
                preimage: preimage(1),
                fee: Msat(11),
                completed_at: 7,
            },
        );
        b.update_payment(hash(2), PaymentUpdate::Failed { completed_at: 8 });
    })
    .unwrap();
    let p = store.payment_by_hash(&hash(1)).unwrap().unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.preimage, Some(preimage(1)));
    assert_eq!((p.fee, p.completed_at), (Some(Msat(11)), Some(7)));
    let parts = store.payment_parts(&hash(1)).unwrap();
    assert_eq!(parts[0].status, PartStatus::Failed);
    assert_eq!(parts[0].failure.as_deref(), Some(&[0x10, 0x0f][..]));
    assert_eq!(parts[0].resolved_at, Some(5));
    assert_eq!(parts[1].status, PartStatus::Succeeded);
    assert_eq!(parts[1].failure, None);
    assert!(store
        .payment_parts_with_status(PartStatus::InFlight)
        .unwrap()
        .is_empty());
    assert_eq!(store.list_payments(None).unwrap().len(), 2);
    assert_eq!(
        store.list_payments(Some(PaymentStatus::Failed)).unwrap()[0].payment_hash,
        hash(2)
    );

    // Retry the failed one: back to pending, completion cleared.
    commit(&mut store, |b| {
        b.update_payment(hash(2), PaymentUpdate::Retry);
    })
    .unwrap();
    let p2 = store.payment_by_hash(&hash(2)).unwrap().unwrap();
    assert_eq!((p2.status, p2.completed_at), (PaymentStatus::Pending, None));

    // Refused: settling twice, retrying a success, resolving a part twice,
    // a part of an unknown payment, a duplicate part, a duplicate payment.
    type Case = (Box<dyn FnOnce(&mut Batch)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            Box::new(|b| {
                b.update_payment(
                    hash(1),
                    PaymentUpdate::Succeeded {
                        preimage: preimage(1),
                        fee: Msat(1),
                        completed_at: 1,
                    },
                );
            }),
            "transition",
        ),
        (
            Box::new(|b| {
                b.update_payment(hash(1), PaymentUpdate::Retry);
            }),
            "transition",
        ),
        (
            Box::new(|b| {
                b.update_payment_part(hash(1), 1, PartUpdate::Succeeded { resolved_at: 1 });
            }),
            "transition",
        ),
        (
            Box::new(|b| {
                b.update_payment_part(hash(1), 9, PartUpdate::Succeeded { resolved_at: 1 });
            }),
            "not found",
        ),
        (
            Box::new(|b| {
                b.insert_payment_part(part(42, 0));
            }),
            "not found",
        ),
        (
            Box::new(|b| {
                b.insert_payment_part(part(1, 1));
            }),
            "duplicate",
        ),
        (
            Box::new(|b| {
                b.insert_payment(payment(1));
            }),
            "duplicate",
        ),
        (
            Box::new(|b| {
                b.update_payment(hash(42), PaymentUpdate::Retry);
            }),
            "not found",
        ),
    ];
    for (f, kind) in cases {
        let err = commit(&mut store, f).unwrap_err();
        let ok = match kind {
            "transition" => matches!(err, StoreError::InvalidTransition { .. }),
            "not found" => matches!(err, StoreError::NotFound(_)),
            _ => matches!(err, StoreError::Duplicate(_)),
        };
        assert!(ok, "{kind}: {err:?}");
    }
    assert_eq!(
        store.payment_by_hash(&hash(1)).unwrap().unwrap().preimage,
        Some(preimage(1))
    );
}

#[test]
fn forwards_round_trip_and_resolve_once() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut local = forward(2);
    local.out_channel = None;
    local.out_htlc_id = None;
    local.out_amount = None;
    local.status = ForwardStatus::LocalFailed;
    local.failure_code = Some(0x100a);
    local.resolved_at = Some(1_700_000_301);
    commit(&mut store, |b| {
        b.insert_forward(forward(1));
        b.insert_forward(local.clone());
        b.insert_forward(forward(3));
    })
    .unwrap();
    assert_eq!(store.forward(&channel_id(1), 1).unwrap(), Some(forward(1)));
    assert_eq!(
        store.forward(&channel_id(1), 2).unwrap(),
        Some(local.clone())
    );
    assert_eq!(store.forward(&channel_id(2), 1).unwrap(), None);
    assert_eq!(forward(1).fee(), Some(Msat(100)));
    assert_eq!(local.fee(), None);

    commit(&mut store, |b| {
        b.update_forward(channel_id(1), 1, ForwardUpdate::Settled { resolved_at: 10 });
        b.update_forward(
            channel_id(1),
            3,
            ForwardUpdate::LocalFailed {
                failure_code: 0x2002,
                resolved_at: 11,
            },
        );
    })
    .unwrap();
    let settled = store.forward(&channel_id(1), 1).unwrap().unwrap();
    assert_eq!(
        (settled.status, settled.resolved_at),
        (ForwardStatus::Settled, Some(10))
    );
    let f3 = store.forward(&channel_id(1), 3).unwrap().unwrap();
    assert_eq!(
        (f3.status, f3.failure_code),
        (ForwardStatus::LocalFailed, Some(0x2002))
    );
    assert_eq!(
        store
            .list_forwards(None)
            .unwrap()
            .iter()
            .map(|f| f.in_htlc_id)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        store
            .list_forwards(Some(ForwardStatus::LocalFailed))
            .unwrap()
            .len(),
        2
    );
    assert!(store
        .list_forwards(Some(ForwardStatus::Offered))
        .unwrap()
        .is_empty());

    match commit(&mut store, |b| {
        b.update_forward(channel_id(1), 1, ForwardUpdate::Failed { resolved_at: 12 });
    }) {
        Err(StoreError::InvalidTransition { from, to, .. }) => {
            assert_eq!((from, to), ("settled", "failed"));
        }
        other => panic!("{other:?}"),
    }
    match commit(&mut store, |b| {
        b.insert_forward(forward(1));
    }) {
        Err(StoreError::Duplicate(RecordRef::Forward { in_htlc_id: 1, .. })) => {}
        other => panic!("{other:?}"),
    }
    match commit(&mut store, |b| {
        b.update_forward(channel_id(5), 1, ForwardUpdate::Failed { resolved_at: 12 });
    }) {
        Err(StoreError::NotFound(RecordRef::Forward { .. })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn peers_and_settings_round_trip() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    commit(&mut store, |b| {
        b.put_peer(peer(3));
        b.put_peer(peer(1));
        b.set_kv("next_channel_key_index", 5u32.to_be_bytes().to_vec());
        b.set_kv("empty", Vec::new());
    })
    .unwrap();
    assert_eq!(store.list_peers().unwrap(), [peer(1), peer(3)]);
    assert_eq!(
        store.get_kv("next_channel_key_index").unwrap(),
        Some(5u32.to_be_bytes().to_vec())
    );
    assert_eq!(store.get_kv("empty").unwrap(), Some(Vec::new()));
    assert_eq!(store.get_kv("absent").unwrap(), None);
    let mut moved = peer(1);
    moved.address = "[::1]:9735".into();
    commit(&mut store, |b| {
        b.put_peer(moved.clone());
        b.remove_peer(peer_id(3));
        b.remove_peer(peer_id(4));
        b.set_kv("next_channel_key_index", 6u32.to_be_bytes().to_vec());
        b.delete_kv("empty");
        b.delete_kv("absent");
    })
    .unwrap();
    assert_eq!(store.list_peers().unwrap(), [moved]);
    assert_eq!(
        store.get_kv("next_channel_key_index").unwrap(),
        Some(6u32.to_be_bytes().to_vec())
    );
    assert_eq!(store.get_kv("empty").unwrap(), None);
}

#[test]
fn amounts_above_i64_are_refused_not_wrapped() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut inv = invoice(1);
    inv.amount = Some(Msat(u64::MAX));
    match commit(&mut store, |b| {
        b.insert_invoice(inv);
    }) {
        Err(StoreError::ValueOutOfRange { field, .. }) => assert_eq!(field, "amount_msat"),
        other => panic!("{other:?}"),
    }
    let mut inv = invoice(1);
    inv.amount = Some(Msat(i64::MAX as u64));
    commit(&mut store, |b| {
        b.insert_invoice(inv.clone());
    })
    .unwrap();
    assert_eq!(store.invoice_by_hash(&hash(1)).unwrap(), Some(inv));
}

#[test]
fn damaged_values_are_reported_as_corruption() {
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    commit(&mut store, |b| {
        b.insert_invoice(invoice(1));
        b.put_channel(channel_id(1), peer_id(1), vec![1], 1);
        b.insert_forward(forward(1));
    })
    .unwrap();
    let raw = Connection::open(&path).unwrap();
    // The schema's CHECKs stop most damage from SQL...
    raw.execute("UPDATE invoices SET preimage = x'0102'", [])
        .unwrap_err();
    raw.execute("UPDATE forwards SET in_amount_msat = -5", [])
        .unwrap_err();
    raw.execute("UPDATE channels SET state = NULL", [])
        .unwrap_err();
    // ...so switch them off to play a damaged file.
    raw.execute_batch("PRAGMA ignore_check_constraints = ON")
        .unwrap();
    let corrupt = |sql: &str, restore: &str, read: &dyn Fn(&Store) -> Result<(), StoreError>| {
        raw.execute(sql, []).unwrap();
        let err = read(&store).unwrap_err();
        raw.execute(restore, []).unwrap();
        read(&store).unwrap();
        err
    };
    let inv = |s: &Store| s.list_invoices(None).map(drop);
    let fwd = |s: &Store| s.forward(&channel_id(1), 1).map(drop);
    let chans = |s: &Store| s.load_channels().map(drop);
    type Read<'a> = &'a dyn Fn(&Store) -> Result<(), StoreError>;
    type Case<'a> = (&'a str, &'a str, Read<'a>, &'a str, &'a str, CorruptReason);
    let cases: Vec<Case> = vec![
        (
            "UPDATE invoices SET status = 'bogus'",
            "UPDATE invoices SET status = 'unpaid'",
            &inv,
            "invoices",
            "status",
            CorruptReason::UnknownStatus,
        ),
        (
            "UPDATE invoices SET preimage = x'0102'",
            "UPDATE invoices SET preimage = NULL",
            &inv,
            "invoices",
            "preimage",
            CorruptReason::Length { expected: 32, got: 2 },
        ),
        (
            "UPDATE invoices SET created_at = 'x'",
            "UPDATE invoices SET created_at = 5",
            &inv,
            "invoices",
            "created_at",
            CorruptReason::Type,
        ),
        (
            "UPDATE forwards SET in_amount_msat = -5",
            "UPDATE forwards SET in_amount_msat = 5",
            &fwd,
            "forwards",
            "in_amount_msat",
            CorruptReason::Range,
        ),
        (
            "UPDATE forwards SET failure_code = 70000",
            "UPDATE forwards SET failure_code = NULL",
            &fwd,
            "forwards",
            "failure_code",
            CorruptReason::Range,
        ),
        (
            "UPDATE channels SET status = 'Open'",
            "UPDATE channels SET status = 'open'",
            &chans,
            "channels",
            "status",
            CorruptReason::UnknownStatus,
        ),
        (
            "UPDATE channels SET peer_id = x'02'",
            "UPDATE channels SET peer_id = x'020101010101010101010101010101010101010101010101010101010101010101'",
            &chans,
            "channels",
            "peer_id",
            CorruptReason::Length { expected: 33, got: 1 },
        ),
        (
            "UPDATE channels SET state = 'text'",
            "UPDATE channels SET state = x'01'",
            &chans,
            "channels",
            "state",
            CorruptReason::Type,
        ),
    ];
    for (sql, restore, read, table, column, reason) in cases {
        match corrupt(sql, restore, read) {
            StoreError::Corrupt {
                table: t,
                column: c,
                reason: r,
            } => assert_eq!((t, c, r), (table, column, reason), "{sql}"),
            other => panic!("{sql}: {other:?}"),
        }
    }
    assert_eq!(
        store.invoice_by_hash(&hash(1)).unwrap().unwrap().created_at,
        5
    );
}

#[test]
fn a_preimage_must_hash_to_its_payment_hash() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut inv = invoice(1);
    inv.preimage = Some(preimage(2));
    match commit(&mut store, |b| {
        b.insert_invoice(inv);
    }) {
        Err(StoreError::PreimageMismatch(RecordRef::Invoice(h))) => assert_eq!(h, hash(1)),
        other => panic!("{other:?}"),
    }
    let mut p = payment(1);
    p.preimage = Some(preimage(2));
    match commit(&mut store, |b| {
        b.insert_payment(p);
    }) {
        Err(StoreError::PreimageMismatch(RecordRef::Payment(h))) => assert_eq!(h, hash(1)),
        other => panic!("{other:?}"),
    }
    commit(&mut store, |b| {
        b.insert_payment(payment(1));
    })
    .unwrap();
    let wrong = PaymentUpdate::Succeeded {
        preimage: preimage(2),
        fee: Msat(0),
        completed_at: 1,
    };
    match commit(&mut store, |b| {
        b.update_payment(hash(1), wrong);
    }) {
        Err(e @ StoreError::PreimageMismatch(_)) => {
            let msg = e.to_string();
            assert!(
                msg.contains("does not match") && !msg.contains("5a5a"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.payment_by_hash(&hash(1)).unwrap().unwrap().status,
        PaymentStatus::Pending
    );
}
