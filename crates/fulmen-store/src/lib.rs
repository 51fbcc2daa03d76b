//! Durable node state in SQLite: schema, migrations and group commit.
//!
//! The node's channel manager owns one [`Store`]. Each event-loop tick it
//! collects every change of the tick into a [`Batch`] (the serialised state of
//! every channel that changed, revoked commitment records, invoice, payment and
//! forward records, peer addresses and settings) and calls
//! [`Store::commit`], which applies the whole batch in ONE SQLite transaction,
//! fsynced before it returns, or nothing of it. Only then does the node send
//! the tick's messages and broadcasts: persist before you reveal.
//!
//! ```no_run
//! use fulmen_store::{Batch, ChannelStatus, Store};
//! use fulmen_types::{ChannelId, NodeId};
//!
//! # fn main() -> Result<(), fulmen_store::StoreError> {
//! let mut store = Store::open("/var/lib/fulmen/node.sqlite3")?;
//! for ch in store.load_channels_with_status(ChannelStatus::Open)? {
//!     // Channel::decode_state(&ch.state) ...
//! #   let _ = ch;
//! }
//! let mut batch = Batch::new();
//! batch.put_channel(ChannelId([1; 32]), NodeId([2; 33]), vec![/* encode_state */], 1_700_000_000);
//! store.commit(batch)?; // durable now: send the messages
//! # Ok(()) }
//! ```
//!
//! The database runs in WAL mode with `synchronous = FULL` and foreign keys on,
//! and by default holds an exclusive lock so a second process cannot open it.
//! Its schema is versioned ([`SCHEMA_VERSION`]); opening migrates an older
//! database and refuses a newer one ([`StoreError::SchemaTooNew`]).
//!
//! A second store file can hold the node's gossip: the `gossip` table keeps
//! accepted BOLT 7 messages by (kind, key) ([`GossipRow`],
//! [`Batch::put_gossip_channel`] and friends, [`Store::visit_gossip`]).
//!
//! The store knows nothing of channel internals: channel states and revoked
//! commitment records are opaque blobs produced by fulmen-channel. Times are
//! arguments (unix seconds), never read from a clock here. Record types that
//! hold preimages, payment secrets or state blobs never print them in `Debug`.

#![forbid(unsafe_code)]

mod batch;
mod channels;
mod error;
mod forwards;
mod gossip;
mod invoices;
mod kv;
mod payments;
mod peers;
mod revoked;
mod schema;
mod sql;
mod store;

pub use batch::Batch;
pub use channels::{ChannelStatus, StoredChannel};
pub use error::{CorruptReason, RecordRef, StoreError};
pub use forwards::{Forward, ForwardStatus, ForwardUpdate};
pub use gossip::{ChannelFunding, GossipKey, GossipRow};
pub use invoices::{Invoice, InvoiceStatus, InvoiceUpdate};
pub use payments::{PartStatus, PartUpdate, Payment, PaymentPart, PaymentStatus, PaymentUpdate};
pub use peers::Peer;
pub use revoked::RevokedCommitment;
pub use schema::SCHEMA_VERSION;
pub use store::{OpenOptions, Store};
