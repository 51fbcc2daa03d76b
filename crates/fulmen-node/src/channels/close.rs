//! Closing: `closechannel` (cooperative: `shutdown` then `closing_signed`
//! negotiation; or `--force`: our latest commitment), what the node does
//! when a channel closes, and marking a mutual close done once its
//! transaction confirms. Also the invoices command (a plain store write).

use bitcoin::{Block, Txid};
use fulmen_channel::{Channel, CloseReason, Closed};
use fulmen_types::ChannelId;
use tokio::sync::oneshot;

use super::manager::{after, ChannelManager};
use super::{Broadcaster, CmError, Outbox, Persister, Tick};
use crate::events::NodeEvent;

impl<P: Persister, O: Outbox, B: Broadcaster> ChannelManager<P, O, B> {
    /// `closechannel`.
    pub(super) fn close_channel(
        &mut self,
        tick: &mut Tick,
        id: ChannelId,
        force: bool,
        reply: oneshot::Sender<Result<Txid, CmError>>,
    ) {
        let Some(slot) = self.channels.get(&id) else {
            let _ = reply.send(Err(CmError::UnknownChannel));
            return;
        };
        if self.stopped.contains(&id) {
            let _ = reply.send(Err(CmError::Stopped));
            return;
        }
        if let Some((txid, _)) = slot.close_txid {
            let _ = reply.send(Ok(txid));
            return;
        }
        let connected = self.peers.contains_key(&slot.peer);
        let result = if force {
            self.call(&id, |c, ctx| c.force_close(ctx))
                .map(|r| r.map_err(|e| CmError::Channel(e.to_string())))
        } else if !connected {
            Some(Err(CmError::PeerNotConnected))
        } else {
            self.call(&id, |c, ctx| c.shutdown(None, ctx))
                .map(|r| r.map_err(|e| CmError::Channel(e.to_string())))
        };
        match result {
            Some(Ok(out)) => {
                if let Some(slot) = self.channels.get_mut(&id) {
                    slot.close_replies.push(reply);
                }
                self.apply(tick, id, out);
            }
            Some(Err(e)) => {
                let _ = reply.send(Err(e));
            }
            None => {
                let _ = reply.send(Err(CmError::UnknownChannel));
            }
        }
    }

    /// `ChannelClosed`: answer the callers, release an unbroadcast funding
    /// transaction, forget an unstored opening.
    pub(super) fn on_closed(&mut self, tick: &mut Tick, id: ChannelId, reason: CloseReason) {
        let Some(slot) = self.channels.get_mut(&id) else {
            return;
        };
        let peer = slot.peer;
        let txid = match &reason {
            CloseReason::MutualClose { txid } => {
                slot.close_txid = Some((*txid, true));
                Some(*txid)
            }
            CloseReason::LocalForceClose { txid } => {
                slot.close_txid = Some((*txid, false));
                self.work.bump_now = true;
                Some(*txid)
            }
            _ => None,
        };
        tracing::info!(channel = %id, peer = %peer, ?reason, "channel closed");
        let waiters = core::mem::take(&mut slot.close_replies);
        let peer_error = slot.peer_error.clone();
        if let Some(reply) = slot.open_reply.take() {
            let _ = reply.send(Err(CmError::Abandoned(peer_error.clone())));
        }
        if txid.is_none() {
            if let Some(funding) = slot.reserved_funding.take() {
                self.svc.wallet.release_funding(funding);
            }
            if !slot.stored {
                self.work.forget.insert(id);
            }
        }
        // Our HTLCs in flight now resolve on chain (a later phase): their
        // payments stay pending; whoever waits on them is told.
        if txid.is_some() {
            let hashes: Vec<fulmen_types::PaymentHash> = self
                .outgoing
                .iter()
                .filter(|((channel, _), _)| *channel == id)
                .map(|(_, htlc)| htlc.payment_hash)
                .collect();
            for hash in hashes {
                if let Some(state) = self.attempts.get_mut(&hash) {
                    for w in state.waiters.drain(..) {
                        let _ = w.send(Err(CmError::Channel(
                            "the channel closed with the payment in flight: it resolves on chain"
                                .into(),
                        )));
                    }
                }
            }
        }
        let result = txid.ok_or(CmError::Abandoned(peer_error));
        after(tick, move |ok| {
            for w in waiters {
                let _ = w.send(if ok {
                    result.clone()
                } else {
                    Err(CmError::Stopped)
                });
            }
        });
        self.emit_after(
            tick,
            NodeEvent::ChannelClosed {
                channel_id: id,
                node_id: peer,
                txid,
            },
        );
    }

    /// A mutual close confirmed: the channel is done (status `closed`).
    pub(super) fn close_confirmations(&mut self, tick: &mut Tick, block: &Block) {
        let mut done = Vec::new();
        for (id, slot) in &self.channels {
            if let Some((txid, true)) = slot.close_txid {
                if matches!(slot.chan, Channel::Closing(_))
                    && block.txdata.iter().any(|tx| tx.compute_txid() == txid)
                {
                    done.push((*id, txid));
                }
            }
        }
        for (id, txid) in done {
            if let Some(slot) = self.channels.get_mut(&id) {
                tracing::info!(channel = %id, %txid, "mutual close confirmed");
                slot.chan = Channel::Closed(Closed {
                    channel_id: id,
                    reason: CloseReason::MutualClose { txid },
                });
                self.work.dirty.insert(id);
            }
        }
        let _ = tick;
    }

    /// `invoice`: the invoice goes into this tick's commit (with the
    /// other records of the tick); answered once committed. Duplicates
    /// (hash or label, in the store or earlier in the tick) are refused
    /// before, so they can never fail the commit.
    pub(super) fn add_invoice(
        &mut self,
        tick: &mut Tick,
        invoice: fulmen_store::Invoice,
        reply: oneshot::Sender<Result<(), CmError>>,
    ) {
        let hash = invoice.payment_hash;
        let taken = self.invoices.contains_key(&hash)
            || self.work.labels.contains(&invoice.label)
            || self
                .read(|s| {
                    Ok(s.invoice_by_hash(&hash)?.is_some()
                        || s.invoice_by_label(&invoice.label)?.is_some())
                })
                .unwrap_or(true);
        if taken {
            let _ = reply.send(Err(CmError::DuplicateInvoice));
            return;
        }
        self.work.labels.insert(invoice.label.clone());
        self.work.added.push(hash);
        tick.batch.store.insert_invoice(invoice.clone());
        self.invoices.insert(hash, invoice);
        after(tick, move |ok| {
            let _ = reply.send(if ok { Ok(()) } else { Err(CmError::Stopped) });
        });
    }
}
