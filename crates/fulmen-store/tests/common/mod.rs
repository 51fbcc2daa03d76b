//! Fixtures shared by the integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::path::PathBuf;

use fulmen_store::{
    Forward, ForwardStatus, Invoice, InvoiceStatus, OpenOptions, PartStatus, Payment, PaymentPart,
    PaymentStatus, Peer, RevokedCommitment, Store,
};
use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage, PaymentSecret};

/// A fresh directory and the database path inside it.
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite3");
    (dir, path)
}

/// Opens without the exclusive lock, so tests may also look with raw
/// connections.
pub fn open_shared(path: &std::path::Path) -> Store {
    Store::open_with(
        path,
        OpenOptions {
            exclusive: false,
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

pub fn channel_id(n: u8) -> ChannelId {
    ChannelId([n; 32])
}

pub fn peer_id(n: u8) -> NodeId {
    let mut b = [n; 33];
    b[0] = 2;
    NodeId(b)
}

pub fn preimage(n: u64) -> PaymentPreimage {
    let mut b = [0x5a; 32];
    b[..8].copy_from_slice(&n.to_be_bytes());
    PaymentPreimage(b)
}

pub fn hash(n: u64) -> PaymentHash {
    preimage(n).payment_hash()
}

pub fn invoice(n: u64) -> Invoice {
    Invoice {
        payment_hash: hash(n),
        label: format!("invoice-{n}"),
        bolt11: format!("lnbcrt{n}n1fake"),
        preimage: Some(preimage(n)),
        payment_secret: Some(PaymentSecret([0x33; 32])),
        amount: Some(Msat(1_000 * (n + 1))),
        status: InvoiceStatus::Unpaid,
        created_at: 1_700_000_000 + n,
        expires_at: 1_700_003_600 + n,
        paid_at: None,
        amount_received: None,
    }
}

pub fn payment(n: u64) -> Payment {
    Payment {
        payment_hash: hash(n),
        destination: Some(peer_id(9)),
        amount: Msat(50_000 + n),
        bolt11: Some(format!("lnbcrt{n}n1pay")),
        label: Some(format!("pay-{n}")),
        status: PaymentStatus::Pending,
        preimage: None,
        fee: None,
        created_at: 1_700_000_100 + n,
        completed_at: None,
    }
}

pub fn part(n: u64, part_id: u64) -> PaymentPart {
    PaymentPart {
        payment_hash: hash(n),
        part_id,
        status: PartStatus::InFlight,
        amount: Msat(25_000),
        fee: Msat(10 + part_id),
        route: vec![1, 2, 3, part_id as u8],
        first_hop_channel: Some(channel_id(7)),
        htlc_id: Some(100 + part_id),
        created_at: 1_700_000_200,
        resolved_at: None,
        failure: None,
    }
}

pub fn forward(in_htlc_id: u64) -> Forward {
    Forward {
        in_channel: channel_id(1),
        in_htlc_id,
        out_channel: Some(channel_id(2)),
        out_htlc_id: Some(in_htlc_id + 1000),
        payment_hash: hash(in_htlc_id + 500),
        in_amount: Msat(100_100),
        out_amount: Some(Msat(100_000)),
        status: ForwardStatus::Offered,
        failure_code: None,
        received_at: 1_700_000_300,
        resolved_at: None,
    }
}

pub fn revoked(channel: u8, number: u64) -> RevokedCommitment {
    let mut txid = [channel; 32];
    txid[..8].copy_from_slice(&number.to_be_bytes());
    RevokedCommitment {
        channel_id: channel_id(channel),
        commitment_number: number,
        txid,
        record: vec![0xee; 64 + number as usize % 7],
    }
}

pub fn peer(n: u8) -> Peer {
    Peer {
        node_id: peer_id(n),
        address: format!("10.0.0.{n}:9735"),
        updated_at: 1_700_000_400,
    }
}
