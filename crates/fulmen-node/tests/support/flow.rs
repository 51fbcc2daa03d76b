//! Steps the node tests share: connecting, waiting for a channel or a
//! state (polling with a deadline, never a fixed sleep), paying, and
//! copying a stopped node's data directory (to restore an old state).

use fulmen_node::{ConnectTarget, NodeEvent, PaymentStatusKind};
use fulmen_types::{ChannelId, Msat};

use super::{wait_event, TestNode, WAIT};

pub fn target(n: &TestNode) -> ConnectTarget {
    ConnectTarget {
        node_id: n.id(),
        address: n.addr().to_string(),
    }
}

/// Polls `f` until it returns `Some` (or the test's wait runs out).
pub async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub async fn wait_ready(n: &mut TestNode, id: ChannelId) {
    wait_event(&mut n.events, |e| match e {
        NodeEvent::ChannelReady { channel_id, .. } if *channel_id == id => Some(()),
        _ => None,
    })
    .await;
}

pub async fn wait_reestablished(n: &mut TestNode, id: ChannelId) {
    wait_event(&mut n.events, |e| match e {
        NodeEvent::ChannelReestablished { channel_id, .. } if *channel_id == id => Some(()),
        _ => None,
    })
    .await;
}

pub async fn htlcs(n: &TestNode, id: ChannelId) -> usize {
    n.node
        .list_channels()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.channel_id == id)
        .map_or(0, |c| c.htlcs)
}

pub async fn settled(a: &TestNode, b: &TestNode, id: ChannelId) {
    until("HTLCs settled", || async {
        (htlcs(a, id).await == 0 && htlcs(b, id).await == 0).then_some(())
    })
    .await;
}

pub async fn pay(payer: &TestNode, payee: &TestNode, msat: u64, label: &str) {
    let inv = payee
        .node
        .create_invoice(Some(Msat(msat)), label, "test")
        .await
        .unwrap();
    let out = payer.node.pay_invoice(&inv.bolt11, None).await.unwrap();
    assert_eq!(out.status, PaymentStatusKind::Complete, "{out:?}");
}

/// Copies a stopped node's data directory. A file may vanish while it is
/// copied (SQLite removes its `-wal` file when the last connection of a
/// thread still closing goes away): then the whole copy is made again.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for _ in 0..50 {
        let _ = std::fs::remove_dir_all(to);
        match try_copy_dir(from, to) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("copy failed: {e}"),
        }
    }
    panic!("the data directory kept changing");
}

pub fn try_copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            try_copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

pub fn replace_dir(dir: &std::path::Path, with: &std::path::Path) {
    std::fs::remove_dir_all(dir).unwrap();
    copy_dir(with, dir);
}
