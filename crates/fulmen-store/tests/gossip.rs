//! The gossip table: puts, replacements, deletes (a channel takes its
//! updates with it), and the three read orders.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{open_shared, peer_id, temp_db};
use fulmen_store::{Batch, ChannelFunding, GossipKey, GossipRow, Store};
use fulmen_types::ShortChannelId;

fn scid(block: u32) -> ShortChannelId {
    ShortChannelId::new(block, 1, 0).unwrap()
}

fn funding(n: u8) -> ChannelFunding {
    ChannelFunding {
        capacity_sat: 1_000_000 + u64::from(n),
        txid: [n; 32],
        vout: u32::from(n),
    }
}

fn keys(rows: &[GossipRow]) -> Vec<GossipKey> {
    rows.iter().map(|r| r.key).collect()
}

/// Channels 1, 2 (two updates each, at 100+ and 200+), 3 (no update), a
/// channel with a block number above 2^23 (its scid does not fit an
/// SQLite integer), and two node announcements.
fn fill(store: &mut Store) -> ShortChannelId {
    let big = ShortChannelId::new(0xff_fff0, 7, 1).unwrap();
    let mut b = Batch::new();
    // Written out of order on purpose.
    b.put_gossip_update(scid(2), 1, 201, vec![2, 1]);
    b.put_gossip_channel(scid(2), funding(2), 50, vec![2]);
    b.put_gossip_channel(scid(1), funding(1), 50, vec![1]);
    b.put_gossip_update(scid(1), 0, 100, vec![1, 0]);
    b.put_gossip_update(scid(1), 1, 200, vec![1, 1]);
    b.put_gossip_update(scid(2), 0, 101, vec![2, 0]);
    b.put_gossip_channel(scid(3), funding(3), 50, vec![3]);
    b.put_gossip_channel(big, funding(9), 50, vec![9]);
    b.put_gossip_update(big, 0, 150, vec![9, 0]);
    b.put_gossip_node(peer_id(5), 300, vec![5]);
    b.put_gossip_node(peer_id(4), 100, vec![4]);
    store.commit(b).unwrap();
    big
}

#[test]
fn dump_order_is_announcement_then_updates_then_nodes() {
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    let big = fill(&mut store);
    let rows = store.gossip_dump().unwrap();
    assert_eq!(
        keys(&rows),
        vec![
            GossipKey::ChannelAnnouncement(scid(1)),
            GossipKey::ChannelUpdate(scid(1), 0),
            GossipKey::ChannelUpdate(scid(1), 1),
            GossipKey::ChannelAnnouncement(scid(2)),
            GossipKey::ChannelUpdate(scid(2), 0),
            GossipKey::ChannelUpdate(scid(2), 1),
            GossipKey::ChannelAnnouncement(scid(3)),
            GossipKey::ChannelAnnouncement(big),
            GossipKey::ChannelUpdate(big, 0),
            GossipKey::NodeAnnouncement(peer_id(4)),
            GossipKey::NodeAnnouncement(peer_id(5)),
        ]
    );
    assert_eq!(rows[0].funding, Some(funding(1)));
    assert_eq!(rows[0].timestamp, 50);
    assert_eq!(rows[1].funding, None);
    assert_eq!(rows[2].message, vec![1, 1]);
    assert_eq!(rows[7].funding, Some(funding(9)));
    assert_eq!(store.gossip_counts().unwrap(), (4, 5, 2));

    // The visitor can stop early.
    let mut seen = 0;
    store
        .visit_gossip(|_| {
            seen += 1;
            seen < 4
        })
        .unwrap();
    assert_eq!(seen, 4);
}

#[test]
fn timestamp_ranges_and_scid_queries() {
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    let big = fill(&mut store);
    // [100, 150): channel 1's first update, channel 2's first, node 4.
    assert_eq!(
        keys(&store.gossip_in_range(100, 150).unwrap()),
        vec![
            GossipKey::ChannelAnnouncement(scid(1)),
            GossipKey::ChannelUpdate(scid(1), 0),
            GossipKey::ChannelAnnouncement(scid(2)),
            GossipKey::ChannelUpdate(scid(2), 0),
            GossipKey::NodeAnnouncement(peer_id(4)),
        ]
    );
    // Everything: channel 3 has no update and is not sent.
    let all = store.gossip_in_range(0, u64::MAX).unwrap();
    assert_eq!(all.len(), 10);
    assert!(!keys(&all).contains(&GossipKey::ChannelAnnouncement(scid(3))));
    assert!(store.gossip_in_range(1000, 2000).unwrap().is_empty());

    assert_eq!(
        keys(
            &store
                .gossip_for_scids(&[big, scid(7), scid(3), scid(1)])
                .unwrap()
        ),
        vec![
            GossipKey::ChannelAnnouncement(big),
            GossipKey::ChannelUpdate(big, 0),
            GossipKey::ChannelAnnouncement(scid(3)),
            GossipKey::ChannelAnnouncement(scid(1)),
            GossipKey::ChannelUpdate(scid(1), 0),
            GossipKey::ChannelUpdate(scid(1), 1),
        ]
    );
    assert_eq!(
        keys(
            &store
                .gossip_nodes(&[peer_id(5), peer_id(6), peer_id(4)])
                .unwrap()
        ),
        vec![
            GossipKey::NodeAnnouncement(peer_id(5)),
            GossipKey::NodeAnnouncement(peer_id(4)),
        ]
    );
}

#[test]
fn replace_and_delete() {
    let (_dir, path) = temp_db();
    let mut store = open_shared(&path);
    let big = fill(&mut store);
    let mut b = Batch::new();
    b.put_gossip_update(scid(1), 0, 400, vec![1, 0, 4]);
    b.put_gossip_node(peer_id(4), 401, vec![4, 4]);
    b.delete_gossip_channel(scid(2));
    b.delete_gossip_channel(scid(42)); // unknown: no error
    b.delete_gossip_node(peer_id(5));
    store.commit(b).unwrap();
    let rows = store.gossip_dump().unwrap();
    assert_eq!(
        keys(&rows),
        vec![
            GossipKey::ChannelAnnouncement(scid(1)),
            GossipKey::ChannelUpdate(scid(1), 0),
            GossipKey::ChannelUpdate(scid(1), 1),
            GossipKey::ChannelAnnouncement(scid(3)),
            GossipKey::ChannelAnnouncement(big),
            GossipKey::ChannelUpdate(big, 0),
            GossipKey::NodeAnnouncement(peer_id(4)),
        ]
    );
    assert_eq!(
        (rows[1].timestamp, rows[1].message.clone()),
        (400, vec![1, 0, 4])
    );
    assert_eq!(
        (rows[6].timestamp, rows[6].message.clone()),
        (401, vec![4, 4])
    );
    // Survives reopening.
    drop(store);
    let store = open_shared(&path);
    assert_eq!(store.gossip_dump().unwrap(), rows);
}

/// A version-1 database (before the gossip table) is migrated on open.
#[test]
fn a_version_one_database_gains_the_gossip_table() {
    let (_dir, path) = temp_db();
    drop(open_shared(&path));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE gossip; UPDATE schema_version SET version = 1;")
        .unwrap();
    drop(conn);
    let mut store = open_shared(&path);
    assert_eq!(store.schema_version(), 2);
    fill(&mut store);
    assert_eq!(store.gossip_counts().unwrap(), (4, 5, 2));
}
