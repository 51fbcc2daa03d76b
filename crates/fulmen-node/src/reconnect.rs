//! Reconnecting to peers we have channels with: once at start, then every
//! `reconnect_interval`, the node asks the channel manager which channel
//! peers are disconnected and have a known address (stored at each outbound
//! `connect`), and connects to each. Channels then resume with
//! `channel_reestablish`. Also the channel manager's one-second clock.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::channels::{CmCommand, CmInput};
use crate::peer::PeerManager;

/// Runs until the node stops.
pub(crate) async fn run(
    to_cm: mpsc::Sender<CmInput>,
    peers: PeerManager,
    mut shutdown: watch::Receiver<bool>,
    interval: Duration,
) {
    loop {
        let (tx, rx) = oneshot::channel();
        if to_cm
            .send(CmInput::Command(CmCommand::ReconnectTargets(tx)))
            .await
            .is_err()
        {
            return;
        }
        if let Ok(targets) = rx.await {
            for target in targets {
                let peers = peers.clone();
                tokio::spawn(async move {
                    match peers.connect(&target).await {
                        Ok(()) => tracing::info!(peer = %target.node_id, "reconnected"),
                        Err(e) => {
                            tracing::debug!(peer = %target.node_id, error = %e, "reconnect failed");
                        }
                    }
                });
            }
        }
        tokio::select! {
            () = crate::tasks::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(interval.max(Duration::from_millis(10))) => {}
        }
    }
}

/// Sends [`CmInput::Timer`] every second until the node stops (dropped
/// when the manager is busy: the next one comes a second later).
pub(crate) async fn clock(to_cm: mpsc::Sender<CmInput>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = crate::tasks::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        match to_cm.try_send(CmInput::Timer) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}
