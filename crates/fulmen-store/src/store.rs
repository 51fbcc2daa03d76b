//! [`Store`]: the open database, its group commit and its queries.

use std::path::Path;
use std::time::Duration;

use fulmen_types::{ChannelId, NodeId, PaymentHash, ShortChannelId};
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::batch::{Batch, Op};
use crate::channels::{self, ChannelStatus, StoredChannel};
use crate::error::StoreError;
use crate::forwards::{self, Forward, ForwardStatus};
use crate::gossip::{self, GossipRow};
use crate::invoices::{self, Invoice, InvoiceStatus};
use crate::kv;
use crate::payments::{self, PartStatus, Payment, PaymentPart, PaymentStatus};
use crate::peers::{self, Peer};
use crate::revoked::{self, RevokedCommitment};
use crate::schema::{self, MIGRATIONS};

/// How to open a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// How long to wait for another connection's lock before giving up.
    pub busy_timeout: Duration,
    /// Hold an exclusive lock on the database for as long as the store is
    /// open (`locking_mode = EXCLUSIVE`), so that a second node process on the
    /// same file fails to open ([`StoreError::Locked`]) instead of running two
    /// nodes on one set of channels (which would broadcast revoked states).
    pub exclusive: bool,
}

impl Default for OpenOptions {
    /// A 5 s busy timeout, exclusive.
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            exclusive: true,
        }
    }
}

/// The node's durable state: one SQLite database in WAL mode with
/// `synchronous = FULL` (every commit is fsynced before it returns) and
/// foreign keys enforced.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    version: u32,
}

/// Creates the database file readable and writable by its owner only (it
/// holds preimages and channel secrets) if it does not exist yet. SQLite gives
/// its WAL and shared-memory files the database file's permissions.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io(e)),
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

impl Store {
    /// Opens (creating if absent) the database at `path` with the default
    /// [`OpenOptions`], and migrates it to [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, OpenOptions::default())
    }

    /// Opens (creating if absent) the database at `path` and migrates it.
    ///
    /// Errors: [`StoreError::SchemaTooNew`] if a newer binary wrote it,
    /// [`StoreError::Locked`] if another process holds it,
    /// [`StoreError::JournalMode`] if the file system refuses WAL.
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<Self, StoreError> {
        let path = path.as_ref();
        create_private(path)?;
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(options.busy_timeout)?;
        if options.exclusive {
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        }
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| {
                if is_busy(&e) {
                    StoreError::Locked
                } else {
                    StoreError::Sqlite(e)
                }
            })?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::JournalMode { got: mode });
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version = schema::migrate(&mut conn, MIGRATIONS).map_err(|e| match e {
            StoreError::Sqlite(ref inner) if is_busy(inner) => StoreError::Locked,
            other => other,
        })?;
        Ok(Self { conn, version })
    }

    /// The database's schema version (after migration).
    pub fn schema_version(&self) -> u32 {
        self.version
    }

    /// Applies every change of `batch` in one transaction, fsynced before this
    /// returns, or none of them.
    ///
    /// An empty batch does nothing. On error nothing of the batch was applied
    /// and the store stays usable; the node must not send what depended on the
    /// batch and should stop the channels it touched
    /// ([`Batch::channel_ids`]).
    pub fn commit(&mut self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (channel_id, ops) in &batch.channels {
            for op in ops {
                channels::apply(&tx, channel_id, op)?;
            }
        }
        for op in &batch.ops {
            apply(&tx, op)?;
        }
        // Dropping `tx` on any error above rolls the whole batch back.
        tx.commit()?;
        Ok(())
    }

    /// Every channel, by channel id.
    pub fn load_channels(&self) -> Result<Vec<StoredChannel>, StoreError> {
        channels::load(&self.conn, None)
    }

    /// The channels with `status` (the node loads the `Open` ones at start),
    /// by channel id.
    pub fn load_channels_with_status(
        &self,
        status: ChannelStatus,
    ) -> Result<Vec<StoredChannel>, StoreError> {
        channels::load(&self.conn, Some(status))
    }

    /// One channel.
    pub fn channel(&self, channel_id: &ChannelId) -> Result<Option<StoredChannel>, StoreError> {
        channels::get(&self.conn, channel_id)
    }

    /// The revoked commitment whose transaction has `txid` (internal byte
    /// order): what to punish when that transaction appears on chain.
    pub fn lookup_revoked_commitment_by_txid(
        &self,
        txid: &[u8; 32],
    ) -> Result<Option<RevokedCommitment>, StoreError> {
        revoked::by_txid(&self.conn, txid)
    }

    /// The revoked commitment `commitment_number` of a channel.
    pub fn revoked_commitment(
        &self,
        channel_id: &ChannelId,
        commitment_number: u64,
    ) -> Result<Option<RevokedCommitment>, StoreError> {
        revoked::get(&self.conn, channel_id, commitment_number)
    }

    /// How many revoked commitments a channel has.
    pub fn revoked_commitment_count(&self, channel_id: &ChannelId) -> Result<u64, StoreError> {
        revoked::count(&self.conn, channel_id)
    }

    /// The invoice with `payment_hash`.
    pub fn invoice_by_hash(
        &self,
        payment_hash: &PaymentHash,
    ) -> Result<Option<Invoice>, StoreError> {
        invoices::by_hash(&self.conn, payment_hash)
    }

    /// The invoice labelled `label`.
    pub fn invoice_by_label(&self, label: &str) -> Result<Option<Invoice>, StoreError> {
        invoices::by_label(&self.conn, label)
    }

    /// Every invoice, or those with `status`, oldest first (`listinvoices`).
    pub fn list_invoices(&self, status: Option<InvoiceStatus>) -> Result<Vec<Invoice>, StoreError> {
        invoices::list(&self.conn, status)
    }

    /// The outgoing payment with `payment_hash`.
    pub fn payment_by_hash(
        &self,
        payment_hash: &PaymentHash,
    ) -> Result<Option<Payment>, StoreError> {
        payments::by_hash(&self.conn, payment_hash)
    }

    /// Every outgoing payment, or those with `status`, oldest first
    /// (`listpayments`).
    pub fn list_payments(&self, status: Option<PaymentStatus>) -> Result<Vec<Payment>, StoreError> {
        payments::list(&self.conn, status)
    }

    /// The parts of one outgoing payment, by part id.
    pub fn payment_parts(
        &self,
        payment_hash: &PaymentHash,
    ) -> Result<Vec<PaymentPart>, StoreError> {
        payments::parts(&self.conn, payment_hash)
    }

    /// Every payment part with `status` (at start: the HTLCs in flight).
    pub fn payment_parts_with_status(
        &self,
        status: PartStatus,
    ) -> Result<Vec<PaymentPart>, StoreError> {
        payments::parts_with_status(&self.conn, status)
    }

    /// The payment part sent as HTLC `htlc_id` on `channel_id`.
    pub fn payment_part_by_htlc(
        &self,
        channel_id: &ChannelId,
        htlc_id: u64,
    ) -> Result<Option<PaymentPart>, StoreError> {
        payments::part_by_htlc(&self.conn, channel_id, htlc_id)
    }

    /// The forward of incoming HTLC (`in_channel`, `in_htlc_id`).
    pub fn forward(
        &self,
        in_channel: &ChannelId,
        in_htlc_id: u64,
    ) -> Result<Option<Forward>, StoreError> {
        forwards::get(&self.conn, in_channel, in_htlc_id)
    }

    /// Every forward, or those with `status`, oldest first (`listforwards`).
    pub fn list_forwards(&self, status: Option<ForwardStatus>) -> Result<Vec<Forward>, StoreError> {
        forwards::list(&self.conn, status)
    }

    /// Every peer address, by node id.
    pub fn list_peers(&self) -> Result<Vec<Peer>, StoreError> {
        peers::list(&self.conn)
    }

    /// A node-level setting.
    pub fn get_kv(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        kv::get(&self.conn, key)
    }

    /// Every stored gossip message in load order: each
    /// `channel_announcement` followed by its `channel_update`s, by short
    /// channel id, then every `node_announcement` by node id. Rows go to
    /// `f` one at a time (return `false` to stop), so a whole graph is
    /// never held twice.
    pub fn visit_gossip(&self, mut f: impl FnMut(GossipRow) -> bool) -> Result<(), StoreError> {
        gossip::visit_all(&self.conn, &mut f)
    }

    /// [`Store::visit_gossip`] collected.
    pub fn gossip_dump(&self) -> Result<Vec<GossipRow>, StoreError> {
        let mut out = Vec::new();
        gossip::visit_all(&self.conn, &mut |r| {
            out.push(r);
            true
        })?;
        Ok(out)
    }

    /// What a `gossip_timestamp_filter` for `[first, end)` asks for: each
    /// channel with a `channel_update` timestamped in range, its
    /// announcement then those updates, by short channel id; then the
    /// `node_announcement`s timestamped in range, by node id.
    pub fn gossip_in_range(&self, first: u64, end: u64) -> Result<Vec<GossipRow>, StoreError> {
        gossip::in_range(&self.conn, first, end)
    }

    /// For each short channel id in order, its announcement and updates
    /// (unknown ids skipped): a `query_short_channel_ids` reply.
    pub fn gossip_for_scids(&self, scids: &[ShortChannelId]) -> Result<Vec<GossipRow>, StoreError> {
        gossip::for_scids(&self.conn, scids)
    }

    /// The stored `node_announcement`s of these nodes, in the given order.
    pub fn gossip_nodes(&self, ids: &[NodeId]) -> Result<Vec<GossipRow>, StoreError> {
        gossip::nodes(&self.conn, ids)
    }

    /// How many gossip rows of each kind are stored: (channel
    /// announcements, channel updates, node announcements).
    pub fn gossip_counts(&self) -> Result<(u64, u64, u64), StoreError> {
        gossip::counts(&self.conn)
    }
}

/// Applies one non-channel change inside the commit transaction.
fn apply(conn: &Connection, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::RevokedCommitment(rc) => revoked::append(conn, rc),
        Op::InsertInvoice(inv) => invoices::insert(conn, inv),
        Op::UpdateInvoice(hash, u) => invoices::update(conn, hash, u),
        Op::InsertPayment(p) => payments::insert(conn, p),
        Op::UpdatePayment(hash, u) => payments::update(conn, hash, u),
        Op::InsertPaymentPart(part) => payments::insert_part(conn, part),
        Op::UpdatePaymentPart(hash, id, u) => payments::update_part(conn, hash, *id, u),
        Op::InsertForward(fw) => forwards::insert(conn, fw),
        Op::UpdateForward(ch, id, u) => forwards::update(conn, ch, *id, u),
        Op::PutPeer(peer) => peers::put(conn, peer),
        Op::RemovePeer(id) => peers::remove(conn, id),
        Op::SetKv(key, value) => kv::set(conn, key, value),
        Op::DeleteKv(key) => kv::delete(conn, key),
        Op::Gossip(op) => gossip::apply(conn, op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma<T: rusqlite::types::FromSql>(store: &Store, name: &str) -> T {
        store
            .conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn the_connection_is_wal_full_sync_with_foreign_keys_and_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("db")).unwrap();
        assert_eq!(pragma::<String>(&store, "journal_mode"), "wal");
        assert_eq!(pragma::<i64>(&store, "synchronous"), 2, "FULL");
        assert_eq!(pragma::<i64>(&store, "foreign_keys"), 1);
        assert_eq!(pragma::<String>(&store, "locking_mode"), "exclusive");
        assert_eq!(pragma::<i64>(&store, "busy_timeout"), 5000);
        let shared = Store::open_with(
            dir.path().join("db2"),
            OpenOptions {
                exclusive: false,
                busy_timeout: Duration::from_millis(1234),
            },
        )
        .unwrap();
        assert_eq!(pragma::<String>(&shared, "locking_mode"), "normal");
        assert_eq!(pragma::<i64>(&shared, "busy_timeout"), 1234);
        assert_eq!(pragma::<i64>(&shared, "synchronous"), 2);
    }
}
