//! The chain follower: keeps the wallet (and the channel manager) on the
//! chain source's active chain.
//!
//! Each round asks the source for the events since the wallet's tip
//! ([`fulmen_chain::ChainSource::events_since`]), applies them to the
//! wallet in order (a disconnection rewinds the wallet to the fork point, a
//! connection applies the block), hands them to the channel manager, and
//! publishes the new tip. When there is nothing new it sleeps for the poll
//! interval, or until poked (after `mine`). If the source does not know the
//! wallet's tip (the chain was replaced under us) it finds the highest block
//! both agree on, rewinds the wallet there and continues from it.

use std::sync::Arc;
use std::time::Duration;

use fulmen_chain::{BlockRef, ChainError, ChainEvent, ChainSource};
use fulmen_wallet::onchain::OnchainWallet;
use tokio::sync::{broadcast, mpsc, watch, Notify};

use super::{ChainBackend, WalletHandle};
use crate::channels::CmInput;
use crate::error::NodeError;
use crate::events::NodeEvent;

/// What the follower needs.
pub(crate) struct Follower {
    pub(crate) chain: ChainBackend,
    pub(crate) wallet: WalletHandle,
    pub(crate) to_cm: mpsc::Sender<CmInput>,
    pub(crate) synced: watch::Sender<BlockRef>,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) poke: Arc<Notify>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) poll: Duration,
}

/// The wallet's tip as the chain crate's type.
pub(crate) fn wallet_tip(wallet: &OnchainWallet) -> BlockRef {
    let tip = wallet.tip();
    BlockRef {
        height: tip.height,
        hash: tip.hash,
    }
}

impl Follower {
    /// Runs until the node stops.
    pub(crate) async fn run(self) {
        let mut shutdown = self.shutdown.clone();
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let wait = match self.round().await {
                Ok(true) => {
                    failures = 0;
                    continue;
                }
                Ok(false) => {
                    failures = 0;
                    self.poll
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, "chain follower round failed");
                    // Back off up to 32 poll intervals on repeated failures.
                    self.poll.saturating_mul(1 << failures.min(5))
                }
            };
            tokio::select! {
                () = crate::tasks::stopped(&mut shutdown) => return,
                () = self.poke.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One round: `true` if blocks were applied (ask again at once).
    async fn round(&self) -> Result<bool, NodeError> {
        let source = self.chain.source.clone();
        let wallet = self.wallet.clone();
        let events = tokio::task::spawn_blocking(move || {
            let mut wallet = wallet.lock()?;
            apply_round(&mut wallet, source.as_ref())
        })
        .await
        .map_err(|_| NodeError::TaskFailed)??;
        let progressed = !events.is_empty();
        for event in events {
            let input = match event {
                ChainEvent::BlockConnected(height, block) => CmInput::BlockConnected {
                    height,
                    block: Arc::new(block),
                },
                ChainEvent::BlockDisconnected(height, hash) => {
                    CmInput::BlockDisconnected { height, hash }
                }
            };
            let _ = self.to_cm.send(input).await;
        }
        if progressed {
            let source = self.chain.source.clone();
            let estimate = tokio::task::spawn_blocking(move || source.estimate_feerate(6))
                .await
                .map_err(|_| NodeError::TaskFailed)?;
            match estimate {
                Ok(rate) => {
                    let per_kw = u32::try_from(rate.to_sat_per_kwu()).unwrap_or(u32::MAX);
                    let _ = self.to_cm.send(CmInput::Feerate { per_kw }).await;
                }
                // The manager keeps its last estimate (the 253 sat/kw
                // floor if it never had one); deadlines still escalate it.
                Err(e) => tracing::warn!(error = %e, "no feerate estimate: keeping the last one"),
            }
        }
        let tip = self.wallet.with(|w| wallet_tip(w)).await?;
        let changed = self.synced.send_if_modified(|current| {
            let changed = *current != tip;
            *current = tip;
            changed
        });
        if changed {
            tracing::debug!(height = tip.height, hash = %tip.hash, "chain synced");
            let _ = self
                .events
                .send(NodeEvent::ChainSynced { height: tip.height });
        }
        Ok(progressed)
    }
}

/// Applies the source's events since the wallet's tip to the wallet and
/// returns them (blocking).
pub(crate) fn apply_round(
    wallet: &mut OnchainWallet,
    source: &dyn ChainSource,
) -> Result<Vec<ChainEvent>, NodeError> {
    let tip = wallet_tip(wallet);
    let mut events = match source.events_since(&tip) {
        Ok(events) => events,
        Err(ChainError::UnknownBlock(_)) => rewind_to_common(wallet, source)?,
        Err(e) => return Err(NodeError::Chain(e)),
    };
    if events.is_empty() {
        return Ok(events);
    }
    // A rewind found above is already applied; only apply source events.
    let mut applied = Vec::with_capacity(events.len());
    for event in events.drain(..) {
        match &event {
            ChainEvent::BlockDisconnected(height, _) => {
                wallet
                    .disconnect_to(height.saturating_sub(1))
                    .map_err(NodeError::Wallet)?;
            }
            ChainEvent::BlockConnected(height, block) => {
                if wallet.block_hash_at(*height) != Some(block.block_hash()) {
                    wallet
                        .apply_block(block, *height)
                        .map_err(NodeError::Wallet)?;
                }
            }
        }
        applied.push(event);
    }
    Ok(applied)
}

/// The source does not know the wallet's tip: rewind the wallet to the
/// highest block both have, and report the rewound blocks as disconnected.
/// Their connect events follow in the next round.
fn rewind_to_common(
    wallet: &mut OnchainWallet,
    source: &dyn ChainSource,
) -> Result<Vec<ChainEvent>, NodeError> {
    let ours = wallet.tip().height;
    let mut height = ours.min(source.tip().map_err(NodeError::Chain)?.height);
    while height > 0 {
        if let Some(hash) = wallet.block_hash_at(height) {
            if source.block_hash_at(height).map_err(NodeError::Chain)? == Some(hash) {
                break;
            }
        }
        height -= 1;
    }
    tracing::warn!(
        from = ours,
        to = height,
        "chain source does not know our tip: rewinding"
    );
    let mut disconnected = Vec::new();
    for h in (height + 1..=ours).rev() {
        if let Some(hash) = wallet.block_hash_at(h) {
            disconnected.push(ChainEvent::BlockDisconnected(h, hash));
        }
    }
    // Events are re-applied by the caller's loop; the rewind itself happens
    // there through `disconnect_to` (same effect, one code path).
    Ok(disconnected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::Secp256k1;
    use bitcoin::Network;
    use fulmen_chain::{EmbeddedChain, EmbeddedConfig};
    use fulmen_wallet::keys::{KeyTree, Mnemonic};

    fn wallet() -> OnchainWallet {
        let secp = Secp256k1::new();
        let seed = Mnemonic::from_entropy(&[9; 16]).unwrap().to_seed("");
        let tree = KeyTree::new(&secp, &seed, Network::Regtest).unwrap();
        OnchainWallet::in_memory(&tree, Network::Regtest).unwrap()
    }

    #[test]
    fn follows_blocks_and_reorgs() {
        let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
        let mut w = wallet();
        let mine_to = w.new_address().unwrap().address.script_pubkey();
        chain.mine(3, &mine_to, 1_700_000_000).unwrap();
        let events = apply_round(&mut w, &chain).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(wallet_tip(&w), chain.tip().unwrap());
        assert!(apply_round(&mut w, &chain).unwrap().is_empty());
        assert_eq!(w.balance().immature.0, 3 * 50 * 100_000_000);

        // Reorg: replace the tip by two blocks paying elsewhere.
        chain.invalidate_tip().unwrap();
        let other = bitcoin::ScriptBuf::new_op_return([1u8; 4]);
        chain.mine(2, &other, 1_700_000_100).unwrap();
        let events = apply_round(&mut w, &chain).unwrap();
        assert!(matches!(
            events.first(),
            Some(ChainEvent::BlockDisconnected(3, _))
        ));
        assert_eq!(wallet_tip(&w), chain.tip().unwrap());
        assert_eq!(w.balance().immature.0, 2 * 50 * 100_000_000);
    }

    #[test]
    fn a_depth_3_reorg_moves_a_payment_back_to_the_mempool_and_the_balance_follows() {
        let chain = EmbeddedChain::in_memory(EmbeddedConfig::default());
        let mut payer = wallet();
        let mut payee = {
            let secp = Secp256k1::new();
            let seed = Mnemonic::from_entropy(&[8; 16]).unwrap().to_seed("");
            let tree = KeyTree::new(&secp, &seed, Network::Regtest).unwrap();
            OnchainWallet::in_memory(&tree, Network::Regtest).unwrap()
        };
        let coinbase_to = payer.new_address().unwrap().address.script_pubkey();
        let burn = bitcoin::ScriptBuf::new_op_return([3u8; 4]);
        chain.mine(1, &coinbase_to, 1_700_000_000).unwrap();
        chain.mine(100, &burn, 1_700_000_001).unwrap();
        apply_round(&mut payer, &chain).unwrap();
        let to = payee.new_address().unwrap().address.script_pubkey();
        let paid = payer
            .build_payment(
                to,
                fulmen_types::Sat(100_000_000),
                bitcoin::FeeRate::from_sat_per_kwu(253),
                fulmen_wallet::onchain::CoinPolicy::ConfirmedOnly,
                [7; 32],
            )
            .unwrap();
        let txid = chain.broadcast(&paid.tx).unwrap();
        chain.mine(3, &burn, 1_700_000_200).unwrap();
        apply_round(&mut payee, &chain).unwrap();
        assert_eq!(payee.balance().confirmed.0, 100_000_000);
        // The three blocks (the payment's among them) leave the chain.
        for _ in 0..3 {
            chain.invalidate_tip().unwrap();
        }
        assert!(chain.in_mempool(&txid).unwrap(), "back in the mempool");
        let events = apply_round(&mut payee, &chain).unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, ChainEvent::BlockDisconnected(..)))
                .count(),
            3
        );
        let b = payee.balance();
        assert_eq!(b.confirmed.0, 0, "no longer confirmed");
        assert_eq!(b.untrusted_pending.0 + b.trusted_pending.0, 100_000_000);
        // A longer branch confirms it again.
        chain.mine(4, &burn, 1_700_000_300).unwrap();
        apply_round(&mut payee, &chain).unwrap();
        assert_eq!(payee.balance().confirmed.0, 100_000_000);
    }

    #[test]
    fn rewinds_when_the_source_does_not_know_our_tip() {
        let a = EmbeddedChain::in_memory(EmbeddedConfig::default());
        let b = EmbeddedChain::in_memory(EmbeddedConfig::default());
        let script = bitcoin::ScriptBuf::new_op_return([2u8; 4]);
        a.mine(4, &script, 1_700_000_000).unwrap();
        b.mine(2, &script, 1_700_000_500).unwrap();
        let mut w = wallet();
        apply_round(&mut w, &a).unwrap();
        assert_eq!(w.tip().height, 4);
        // Switch to a source sharing only the genesis block.
        let events = apply_round(&mut w, &b).unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(w.tip().height, 0);
        apply_round(&mut w, &b).unwrap();
        assert_eq!(wallet_tip(&w), b.tip().unwrap());
    }
}
