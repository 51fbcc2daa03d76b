//! The channel and payment operations of [`Node`]: each is a command to the
//! channel manager, answered once what it did is committed (and, for
//! `open_channel` and `close_channel`, broadcast; for payments, once the
//! outcome is known).

use bitcoin::Txid;
use fulmen_onion::{Invoice, InvoiceDescription, NewInvoice};
use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage, PaymentSecret, Sat};
use tokio::sync::oneshot;

use crate::chain::unix_now;
use crate::channels::{
    ChannelInfo, CmCommand, CmError, CmInput, OpenedChannel, PayRequest, PaymentOutcome,
};
use crate::entropy::random_bytes;
use crate::error::NodeError;
use crate::node::Node;

/// Largest `min_final_cltv_expiry_delta` we accept in an invoice we pay
/// (about two weeks of blocks): more would lock our funds for too long.
pub const MAX_FINAL_CLTV_EXPIRY_DELTA: u64 = 2016;

/// Keysend payments ask the payee for this many blocks of expiry (bLIP 3
/// leaves it to the sender; it must cover the payee's own minimum).
pub const KEYSEND_FINAL_CLTV_EXPIRY_DELTA: u32 = 144;

/// What `invoice` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedInvoice {
    /// The BOLT 11 string.
    pub bolt11: String,
    /// Its payment hash.
    pub payment_hash: PaymentHash,
    /// Unix seconds after which it is no longer paid.
    pub expires_at: u64,
}

impl Node {
    async fn command<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> CmCommand,
    ) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .to_cm
            .send(CmInput::Command(make(tx)))
            .await
            .map_err(|_| NodeError::TaskFailed)?;
        rx.await.map_err(|_| NodeError::TaskFailed)
    }

    /// Opens a channel we fund with the connected `peer`; returns once the
    /// funding transaction is broadcast (after `funding_signed`).
    pub async fn open_channel(
        &self,
        peer: NodeId,
        funding: Sat,
        push: Msat,
        announce: bool,
    ) -> Result<OpenedChannel, NodeError> {
        Ok(self
            .command(|reply| CmCommand::OpenChannel {
                peer,
                funding,
                push,
                announce,
                reply,
            })
            .await??)
    }

    /// Every channel.
    pub async fn list_channels(&self) -> Result<Vec<ChannelInfo>, NodeError> {
        self.command(CmCommand::ListChannels).await
    }

    /// Closes a channel (mutually, or with `force` by broadcasting our
    /// commitment); returns the broadcast transaction's id.
    pub async fn close_channel(
        &self,
        channel_id: ChannelId,
        force: bool,
    ) -> Result<Txid, NodeError> {
        Ok(self
            .command(|reply| CmCommand::CloseChannel {
                channel_id,
                force,
                reply,
            })
            .await??)
    }

    /// Creates and stores a BOLT 11 invoice (preimage and payment secret
    /// from the node's entropy source).
    pub async fn create_invoice(
        &self,
        amount: Option<Msat>,
        label: &str,
        description: &str,
    ) -> Result<CreatedInvoice, NodeError> {
        if label.is_empty() || label.len() > 256 {
            return Err(NodeError::Config("the label must have 1 to 256 bytes"));
        }
        let entropy = self.inner.entropy.as_ref();
        let preimage = PaymentPreimage(*random_bytes::<32>(entropy).map_err(NodeError::Entropy)?);
        let secret = PaymentSecret(*random_bytes::<32>(entropy).map_err(NodeError::Entropy)?);
        let cfg = &self.inner.channels_config;
        let now = unix_now();
        let mut params = NewInvoice::from_preimage(
            self.inner.network,
            &preimage,
            secret,
            InvoiceDescription::Direct(description.to_owned()),
            now,
        );
        params.amount = amount;
        params.expiry_secs = Some(cfg.invoice_expiry_secs);
        params.min_final_cltv_expiry_delta = u64::from(cfg.min_final_cltv_expiry_delta);
        params.features =
            fulmen_types::Features::empty().with_optional(fulmen_types::Feature::BasicMpp);
        let invoice = Invoice::create(&params, self.inner.node_keys.secret_key())
            .map_err(NodeError::Invoice)?;
        let bolt11 = invoice.to_string();
        let expires_at = now.saturating_add(cfg.invoice_expiry_secs);
        let record = fulmen_store::Invoice {
            payment_hash: preimage.payment_hash(),
            label: label.to_owned(),
            bolt11: bolt11.clone(),
            preimage: Some(preimage),
            payment_secret: Some(secret),
            amount,
            status: fulmen_store::InvoiceStatus::Unpaid,
            created_at: now,
            expires_at,
            paid_at: None,
            amount_received: None,
        };
        self.command(|reply| CmCommand::AddInvoice {
            invoice: Box::new(record),
            reply,
        })
        .await??;
        Ok(CreatedInvoice {
            bolt11,
            payment_hash: preimage.payment_hash(),
            expires_at,
        })
    }

    /// Pays a BOLT 11 invoice over routes found in the graph (split into
    /// parts if the payee takes them and no single route has the
    /// liquidity) and waits for the outcome. `amount` is for invoices without one.
    pub async fn pay_invoice(
        &self,
        bolt11: &str,
        amount: Option<Msat>,
    ) -> Result<PaymentOutcome, NodeError> {
        let invoice = Invoice::parse(bolt11.trim()).map_err(NodeError::Invoice)?;
        if invoice.network() != self.inner.network {
            return Err(NodeError::Config("the invoice is for another network"));
        }
        if invoice.payee() == self.inner.node_id {
            return Err(NodeError::Config("the invoice is our own"));
        }
        if invoice.is_expired_at(unix_now()) {
            return Err(NodeError::Config("the invoice has expired"));
        }
        let amount = match (invoice.amount(), amount) {
            (Some(a), None) => a,
            (None, Some(a)) if a.0 > 0 => a,
            (Some(a), Some(b)) if a == b => a,
            (Some(_), Some(_)) => {
                return Err(NodeError::Config(
                    "the invoice has an amount: do not give another",
                ))
            }
            _ => return Err(NodeError::Config("the invoice has no amount: give one")),
        };
        let delta = invoice.min_final_cltv_expiry_delta();
        if delta > MAX_FINAL_CLTV_EXPIRY_DELTA {
            return Err(NodeError::Config(
                "the invoice's min_final_cltv_expiry_delta is too large",
            ));
        }
        let request = PayRequest {
            destination: invoice.payee(),
            amount,
            payment_hash: invoice.payment_hash(),
            payment_secret: Some(invoice.payment_secret()),
            keysend_preimage: None,
            min_final_cltv_expiry_delta: u32::try_from(delta).unwrap_or(u32::MAX),
            bolt11: Some(bolt11.trim().to_owned()),
            route_hints: crate::channels::route::hints_from_invoice(&invoice),
            mpp: invoice.features().supports(fulmen_types::Feature::BasicMpp),
        };
        self.pay(request).await
    }

    /// Sends `amount` to a direct peer without an invoice (keysend: the
    /// preimage, fresh from the entropy source, travels in the onion).
    pub async fn keysend(
        &self,
        destination: NodeId,
        amount: Msat,
    ) -> Result<PaymentOutcome, NodeError> {
        if destination == self.inner.node_id {
            return Err(NodeError::Config("cannot pay ourselves"));
        }
        if amount.0 == 0 {
            return Err(NodeError::Config("the amount must be positive"));
        }
        let preimage = PaymentPreimage(
            *random_bytes::<32>(self.inner.entropy.as_ref()).map_err(NodeError::Entropy)?,
        );
        let request = PayRequest {
            destination,
            amount,
            payment_hash: preimage.payment_hash(),
            payment_secret: None,
            keysend_preimage: Some(preimage),
            min_final_cltv_expiry_delta: KEYSEND_FINAL_CLTV_EXPIRY_DELTA,
            bolt11: None,
            route_hints: Vec::new(),
            mpp: false,
        };
        self.pay(request).await
    }

    /// Sends a prepared payment and waits for its outcome.
    pub async fn pay(&self, request: PayRequest) -> Result<PaymentOutcome, NodeError> {
        Ok(self
            .command(|reply| CmCommand::Pay {
                request: Box::new(request),
                route: None,
                reply,
            })
            .await??)
    }

    /// Sends a prepared payment over exactly `route` (its hops' amounts
    /// and expiries as given, the last hop the payee), once, and waits for
    /// the outcome — as LND's `sendtoroute` or Core Lightning's `sendpay`.
    /// The payee receives the route's last amount; when it is less than
    /// the request's amount (a payment secret required), it is one part of
    /// a multi-part payment whose `total_msat` is the request's amount;
    /// while that payment is in flight, further calls with the same
    /// request (payee, amount, secret) send further parts (as LND's
    /// `sendtoroute` shards) and wait for the same outcome.
    pub async fn pay_route(
        &self,
        request: PayRequest,
        route: fulmen_graph::router::Route,
    ) -> Result<PaymentOutcome, NodeError> {
        Ok(self
            .command(|reply| CmCommand::Pay {
                request: Box::new(request),
                route: Some(Box::new(route)),
                reply,
            })
            .await??)
    }

    /// Every invoice, oldest first.
    pub async fn list_invoices(&self) -> Result<Vec<fulmen_store::Invoice>, NodeError> {
        Ok(self.command(CmCommand::ListInvoices).await??)
    }

    /// Every forward (relayed or refused HTLC), oldest first.
    pub async fn list_forwards(&self) -> Result<Vec<fulmen_store::Forward>, NodeError> {
        Ok(self.command(CmCommand::ListForwards).await??)
    }

    /// Every outgoing payment, oldest first.
    pub async fn list_payments(&self) -> Result<Vec<fulmen_store::Payment>, NodeError> {
        Ok(self.command(CmCommand::ListPayments).await??)
    }
}

impl From<CmError> for crate::rpc::RpcError {
    fn from(e: CmError) -> Self {
        crate::rpc::RpcError::new(crate::rpc::RpcError::CHANNEL_ERROR, e.to_string())
    }
}
