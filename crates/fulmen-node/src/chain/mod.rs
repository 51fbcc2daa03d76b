//! The node's view of the chain: the chain source (embedded or external),
//! the shared on-chain wallet, the follower task feeding blocks to both the
//! wallet and the channel manager, and broadcasting our own transactions.
//!
//! [`fulmen_chain::ChainSource`] and [`fulmen_wallet::onchain::OnchainWallet`]
//! are synchronous and may block on I/O (bitcoind RPC, SQLite fsync), so
//! every call runs on tokio's blocking pool.

pub mod follower;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::{FeeRate, ScriptBuf, Transaction, Txid};
use fulmen_chain::{BroadcastError, ChainSource, EmbeddedChain};
use fulmen_types::Sat;
use fulmen_wallet::onchain::CoinPolicy;
use fulmen_wallet::onchain::OnchainWallet;

use crate::channels::{Broadcaster, FundingWallet};
use crate::error::NodeError;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The on-chain wallet, shared by the follower, the RPC and (later) the
/// channel manager for funding transactions.
#[derive(Clone)]
pub(crate) struct WalletHandle {
    inner: Arc<Mutex<OnchainWallet>>,
}

impl WalletHandle {
    pub(crate) fn new(wallet: OnchainWallet) -> Self {
        Self {
            inner: Arc::new(Mutex::new(wallet)),
        }
    }

    /// Locks the wallet (on the calling thread: blocking code only).
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, OnchainWallet>, NodeError> {
        self.inner.lock().map_err(|_| NodeError::Poisoned)
    }

    /// Runs `f` on the wallet on the blocking pool.
    pub(crate) async fn with<R, F>(&self, f: F) -> Result<R, NodeError>
    where
        F: FnOnce(&mut OnchainWallet) -> R + Send + 'static,
        R: Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut wallet = this.lock()?;
            Ok(f(&mut wallet))
        })
        .await
        .map_err(|_| NodeError::TaskFailed)?
    }
}

impl FundingWallet for WalletHandle {
    fn build_funding(
        &self,
        script: ScriptBuf,
        amount: Sat,
        feerate_per_kw: u32,
        aux_rand: [u8; 32],
    ) -> Result<(Transaction, u32), String> {
        let mut wallet = self.lock().map_err(|e| e.to_string())?;
        let rate = FeeRate::from_sat_per_kwu(u64::from(feerate_per_kw));
        let payment = wallet
            .build_payment(script, amount, rate, CoinPolicy::ConfirmedOnly, aux_rand)
            .map_err(|e| e.to_string())?;
        // Reserve the coins while the channel is negotiated, so that a
        // second opening does not pick them.
        wallet
            .apply_unconfirmed([payment.tx.clone()], unix_now())
            .map_err(|e| e.to_string())?;
        Ok((payment.tx, payment.output_index))
    }

    fn release_funding(&self, txid: Txid) {
        match self.lock() {
            Ok(mut wallet) => {
                if let Err(e) = wallet.apply_evicted([txid], unix_now()) {
                    tracing::warn!(%txid, error = %e, "cannot release funding coins");
                }
            }
            Err(e) => tracing::error!(%txid, error = %e, "wallet unavailable"),
        }
    }

    fn new_script(&self) -> Result<ScriptBuf, String> {
        let mut wallet = self.lock().map_err(|e| e.to_string())?;
        let address = wallet.new_address().map_err(|e| e.to_string())?;
        Ok(address.address.script_pubkey())
    }

    fn fund_htlc_tx(
        &self,
        template: &Transaction,
        prevs: &[(bitcoin::TxOut, u64)],
        feerate_per_kw: u32,
        aux_rand: [u8; 32],
    ) -> Result<Transaction, String> {
        let mut wallet = self.lock().map_err(|e| e.to_string())?;
        let rate = FeeRate::from_sat_per_kwu(u64::from(feerate_per_kw));
        let prevs: Vec<(bitcoin::TxOut, bitcoin::Weight)> = prevs
            .iter()
            .map(|(o, w)| (o.clone(), bitcoin::Weight::from_wu(*w)))
            .collect();
        let signed = wallet
            .fund_foreign_spend(template, &prevs, rate, aux_rand)
            .map_err(|e| e.to_string())?;
        // Reserve its coins, so that the next HTLC transaction funded
        // before this one is broadcast does not pick them
        // (`release_funding` frees them).
        wallet
            .apply_unconfirmed([signed.tx.clone()], unix_now())
            .map_err(|e| e.to_string())?;
        Ok(signed.tx)
    }

    fn fund_anchor_child(
        &self,
        bump: &crate::channels::AnchorBump,
        aux_rand: [u8; 32],
    ) -> Result<Transaction, String> {
        let mut wallet = self.lock().map_err(|e| e.to_string())?;
        let signed = wallet
            .fund_anchor_child(
                bump.anchor,
                bump.prev.clone(),
                bitcoin::Weight::from_wu(bump.satisfaction_weight),
                fulmen_wallet::onchain::Package {
                    parent_weight: bitcoin::Weight::from_wu(bump.parent_weight),
                    parent_fee: bitcoin::Amount::from_sat(bump.parent_fee.value()),
                    target: FeeRate::from_sat_per_kwu(u64::from(bump.feerate_per_kw)),
                },
                aux_rand,
            )
            .map_err(|e| e.to_string())?;
        // Reserved like an HTLC transaction's coins (`release_funding`
        // frees them).
        wallet
            .apply_unconfirmed([signed.tx.clone()], unix_now())
            .map_err(|e| e.to_string())?;
        Ok(signed.tx)
    }
}

/// The chain source, and the embedded chain's handle if it is one (for
/// `mine`).
#[derive(Clone)]
pub(crate) struct ChainBackend {
    pub(crate) source: Arc<dyn ChainSource>,
    pub(crate) embedded: Option<EmbeddedChain>,
}

/// Broadcasts our transactions to the chain source and records them in the
/// wallet's mempool view (so its balance and coin selection see them at
/// once).
#[derive(Clone)]
pub struct ChainBroadcaster {
    pub(crate) source: Arc<dyn ChainSource>,
    pub(crate) wallet: WalletHandle,
}

impl ChainBroadcaster {
    /// Broadcasts `tx`, then applies it to the wallet as unconfirmed.
    /// Blocking: call from blocking code.
    pub fn broadcast_blocking(&self, tx: &Transaction) -> Result<Txid, BroadcastError> {
        let txid = self.source.broadcast(tx)?;
        match self.wallet.lock() {
            Ok(mut wallet) => {
                if let Err(e) = wallet.apply_unconfirmed([tx.clone()], unix_now()) {
                    tracing::warn!(%txid, error = %e, "wallet did not take our broadcast transaction");
                }
            }
            Err(e) => tracing::error!(%txid, error = %e, "wallet unavailable"),
        }
        tracing::info!(%txid, "transaction broadcast");
        Ok(txid)
    }

    /// [`broadcast_blocking`](Self::broadcast_blocking) on the blocking pool.
    pub async fn broadcast(&self, tx: Transaction) -> Result<Txid, NodeError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.broadcast_blocking(&tx))
            .await
            .map_err(|_| NodeError::TaskFailed)?
            .map_err(NodeError::Broadcast)
    }
}

impl Broadcaster for ChainBroadcaster {
    fn broadcast(&self, tx: &Transaction) {
        if let Err(e) = self.broadcast_blocking(tx) {
            tracing::warn!(txid = %tx.compute_txid(), error = %e, "broadcast failed");
        }
    }

    fn confirmed_spend(&self, outpoint: &bitcoin::OutPoint) -> Option<(Transaction, u32)> {
        match self.source.spending_tx(outpoint) {
            Ok(Some(fulmen_chain::Spend {
                tx,
                status: fulmen_chain::TxStatus::Confirmed { block, .. },
                ..
            })) => Some((tx, block.height)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(%outpoint, error = %e, "cannot look up a spend");
                None
            }
        }
    }
}
