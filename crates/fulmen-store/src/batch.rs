//! [`Batch`]: every write of one event-loop tick, committed together.
//!
//! The node collects into one batch the state of every channel that changed in
//! the tick, the revoked commitments it learned, and the invoice, payment,
//! forward, peer and setting changes that go with them, then hands it to
//! [`Store::commit`](crate::Store::commit), which applies it in ONE
//! transaction (one fsync) or not at all.
//!
//! Channel writes are kept per channel and consecutive state writes of a
//! channel collapse into the last one, so a channel costs one row write per
//! batch however often its state changed. Channel
//! writes are applied first, in channel-id order; every other change is applied
//! afterwards in the order it was added (so a payment can be inserted and its
//! first part added in the same batch).

use std::collections::BTreeMap;

use fulmen_types::{ChannelId, NodeId, PaymentHash, ShortChannelId};

use crate::channels::{self, ChannelOp, ChannelStatus};
use crate::forwards::{Forward, ForwardUpdate};
use crate::gossip::{ChannelFunding, GossipKey, GossipOp, GossipRow};
use crate::invoices::{Invoice, InvoiceUpdate};
use crate::payments::{PartUpdate, Payment, PaymentPart, PaymentUpdate};
use crate::peers::Peer;
use crate::revoked::RevokedCommitment;

/// A change other than a channel write, applied in the order added.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    RevokedCommitment(RevokedCommitment),
    InsertInvoice(Invoice),
    UpdateInvoice(PaymentHash, InvoiceUpdate),
    InsertPayment(Payment),
    UpdatePayment(PaymentHash, PaymentUpdate),
    InsertPaymentPart(PaymentPart),
    UpdatePaymentPart(PaymentHash, u64, PartUpdate),
    InsertForward(Forward),
    UpdateForward(ChannelId, u64, ForwardUpdate),
    PutPeer(Peer),
    RemovePeer(NodeId),
    SetKv(String, Vec<u8>),
    DeleteKv(String),
    Gossip(GossipOp),
}

/// The writes of one tick, to commit atomically with
/// [`Store::commit`](crate::Store::commit).
///
/// ```
/// use fulmen_store::{Batch, ChannelStatus};
/// use fulmen_types::{ChannelId, NodeId};
///
/// let mut batch = Batch::new();
/// let id = ChannelId([1; 32]);
/// batch.put_channel(id, NodeId([2; 33]), vec![0; 10], 1_700_000_000);
/// batch.put_channel(id, NodeId([2; 33]), vec![1; 10], 1_700_000_001); // replaces the first
/// batch.set_kv("next_channel_key_index", 8u32.to_be_bytes().to_vec());
/// assert_eq!(batch.channel_count(), 1);
/// assert!(!batch.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub(crate) channels: BTreeMap<ChannelId, Vec<ChannelOp>>,
    pub(crate) ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the batch holds no change (committing it does nothing).
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.ops.is_empty()
    }

    /// How many distinct channels the batch writes, changes or deletes.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The channels the batch touches: the ones to stop if its commit fails.
    pub fn channel_ids(&self) -> impl Iterator<Item = &ChannelId> {
        self.channels.keys()
    }

    fn channel_op(&mut self, channel_id: ChannelId, op: ChannelOp) -> &mut Self {
        channels::push_op(self.channels.entry(channel_id).or_default(), op);
        self
    }

    /// Writes a channel's serialised state. A new channel is stored with
    /// status [`ChannelStatus::Open`]; an existing one keeps its status, and
    /// must be with the same peer (else the commit fails with
    /// [`StoreError::ChannelPeerMismatch`](crate::StoreError::ChannelPeerMismatch)).
    /// A later write of the same channel in this batch replaces this one
    /// (unless a status change or deletion of the channel comes between them,
    /// which keeps both writes so the sequence means what it says).
    pub fn put_channel(
        &mut self,
        channel_id: ChannelId,
        peer_id: NodeId,
        state: Vec<u8>,
        updated_at: u64,
    ) -> &mut Self {
        self.channel_op(
            channel_id,
            ChannelOp::Put {
                peer_id,
                state,
                updated_at,
            },
        )
    }

    /// Changes a stored channel's status (after any state write of the same
    /// channel earlier in this batch). The channel must exist by then, else
    /// the commit fails with [`StoreError::NotFound`](crate::StoreError::NotFound).
    pub fn set_channel_status(
        &mut self,
        channel_id: ChannelId,
        status: ChannelStatus,
        updated_at: u64,
    ) -> &mut Self {
        self.channel_op(channel_id, ChannelOp::SetStatus { status, updated_at })
    }

    /// Marks a stored channel closed: shorthand for
    /// [`set_channel_status`](Self::set_channel_status) with
    /// [`ChannelStatus::Closed`].
    pub fn close_channel(&mut self, channel_id: ChannelId, updated_at: u64) -> &mut Self {
        self.set_channel_status(channel_id, ChannelStatus::Closed, updated_at)
    }

    /// Deletes a channel row (for example a temporary id replaced by the real
    /// channel id, or an opening that never got funded). No error if there is
    /// none. Its revoked commitments are kept.
    pub fn delete_channel(&mut self, channel_id: ChannelId) -> &mut Self {
        self.channel_op(channel_id, ChannelOp::Delete)
    }

    /// Appends a revoked commitment record.
    pub fn add_revoked_commitment(&mut self, record: RevokedCommitment) -> &mut Self {
        self.ops.push(Op::RevokedCommitment(record));
        self
    }

    /// Inserts a new invoice (a duplicate payment hash or label fails the
    /// commit with [`StoreError::Duplicate`](crate::StoreError::Duplicate)).
    pub fn insert_invoice(&mut self, invoice: Invoice) -> &mut Self {
        self.ops.push(Op::InsertInvoice(invoice));
        self
    }

    /// Changes an invoice's status.
    pub fn update_invoice(
        &mut self,
        payment_hash: PaymentHash,
        update: InvoiceUpdate,
    ) -> &mut Self {
        self.ops.push(Op::UpdateInvoice(payment_hash, update));
        self
    }

    /// Inserts a new outgoing payment.
    pub fn insert_payment(&mut self, payment: Payment) -> &mut Self {
        self.ops.push(Op::InsertPayment(payment));
        self
    }

    /// Changes an outgoing payment's status.
    pub fn update_payment(
        &mut self,
        payment_hash: PaymentHash,
        update: PaymentUpdate,
    ) -> &mut Self {
        self.ops.push(Op::UpdatePayment(payment_hash, update));
        self
    }

    /// Inserts a new part of an outgoing payment (the payment must exist by
    /// then).
    pub fn insert_payment_part(&mut self, part: PaymentPart) -> &mut Self {
        self.ops.push(Op::InsertPaymentPart(part));
        self
    }

    /// Resolves a part of an outgoing payment.
    pub fn update_payment_part(
        &mut self,
        payment_hash: PaymentHash,
        part_id: u64,
        update: PartUpdate,
    ) -> &mut Self {
        self.ops
            .push(Op::UpdatePaymentPart(payment_hash, part_id, update));
        self
    }

    /// Inserts a new forward.
    pub fn insert_forward(&mut self, forward: Forward) -> &mut Self {
        self.ops.push(Op::InsertForward(forward));
        self
    }

    /// Resolves an offered forward.
    pub fn update_forward(
        &mut self,
        in_channel: ChannelId,
        in_htlc_id: u64,
        update: ForwardUpdate,
    ) -> &mut Self {
        self.ops
            .push(Op::UpdateForward(in_channel, in_htlc_id, update));
        self
    }

    /// Inserts or replaces a peer's address.
    pub fn put_peer(&mut self, peer: Peer) -> &mut Self {
        self.ops.push(Op::PutPeer(peer));
        self
    }

    /// Forgets a peer's address.
    pub fn remove_peer(&mut self, node_id: NodeId) -> &mut Self {
        self.ops.push(Op::RemovePeer(node_id));
        self
    }

    /// Sets a node-level setting.
    pub fn set_kv(&mut self, key: impl Into<String>, value: Vec<u8>) -> &mut Self {
        self.ops.push(Op::SetKv(key.into(), value));
        self
    }

    /// Removes a node-level setting.
    pub fn delete_kv(&mut self, key: impl Into<String>) -> &mut Self {
        self.ops.push(Op::DeleteKv(key.into()));
        self
    }

    /// Stores an accepted `channel_announcement` (encoded, type included)
    /// with its funding output, accepted at `added_at` (unix seconds).
    /// Replaces a stored one with the same short channel id.
    pub fn put_gossip_channel(
        &mut self,
        scid: ShortChannelId,
        funding: ChannelFunding,
        added_at: u64,
        message: Vec<u8>,
    ) -> &mut Self {
        self.ops.push(Op::Gossip(GossipOp::Put(GossipRow {
            key: GossipKey::ChannelAnnouncement(scid),
            timestamp: added_at,
            message,
            funding: Some(funding),
        })));
        self
    }

    /// Stores an accepted `channel_update` (encoded), replacing the one
    /// stored for the same channel and direction bit.
    pub fn put_gossip_update(
        &mut self,
        scid: ShortChannelId,
        direction: u8,
        timestamp: u64,
        message: Vec<u8>,
    ) -> &mut Self {
        self.ops.push(Op::Gossip(GossipOp::Put(GossipRow {
            key: GossipKey::ChannelUpdate(scid, direction & 1),
            timestamp,
            message,
            funding: None,
        })));
        self
    }

    /// Stores an accepted `node_announcement` (encoded), replacing the one
    /// stored for the node.
    pub fn put_gossip_node(
        &mut self,
        node_id: NodeId,
        timestamp: u64,
        message: Vec<u8>,
    ) -> &mut Self {
        self.ops.push(Op::Gossip(GossipOp::Put(GossipRow {
            key: GossipKey::NodeAnnouncement(node_id),
            timestamp,
            message,
            funding: None,
        })));
        self
    }

    /// Deletes a channel's announcement and both its updates (no error if
    /// absent).
    pub fn delete_gossip_channel(&mut self, scid: ShortChannelId) -> &mut Self {
        self.ops.push(Op::Gossip(GossipOp::DeleteChannel(scid)));
        self
    }

    /// Deletes a node's announcement (no error if absent).
    pub fn delete_gossip_node(&mut self, node_id: NodeId) -> &mut Self {
        self.ops.push(Op::Gossip(GossipOp::DeleteNode(node_id)));
        self
    }
}
