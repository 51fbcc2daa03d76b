#![no_main]
//! The network graph fed arbitrary gossip, both ways it takes it: as peer
//! messages (decoded, then validated and applied) and as stored messages
//! loaded back without signature checks (the gossip store's path). Nothing
//! may panic, and the graph's counts must stay consistent.
use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::Secp256k1;
use bitcoin::Network;
use fulmen_graph::NetworkGraph;
use fulmen_types::Sat;
use fulmen_wire::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let secp = Secp256k1::verification_only();
    let mut g = NetworkGraph::new(ChainHash::using_genesis_block(Network::Regtest));
    let now = 1_700_000_000;
    let mut rest = data;
    while let [a, b, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (msg, after) = tail.split_at(n);
        rest = after;
        let _ = g.load_channel_announcement(msg, Sat(1_000_000), now);
        let _ = g.load_channel_update(msg);
        let _ = g.load_node_announcement(msg);
        match Message::decode(msg) {
            Ok(Message::ChannelAnnouncement(ann)) => {
                let _ = g.add_channel(&secp, &ann, Sat(1_000_000), now);
            }
            Ok(Message::ChannelUpdate(upd)) => {
                let _ = g.apply_channel_update(&secp, &upd, now);
            }
            Ok(Message::NodeAnnouncement(ann)) => {
                let _ = g.apply_node_announcement(&secp, &ann, now);
            }
            _ => {}
        }
    }
    assert_eq!(g.channel_ids().count(), g.num_channels());
    for scid in g.channel_ids().collect::<Vec<_>>() {
        assert!(g.channel(scid).is_some());
    }
    let _ = g.prune_stale(now + 30 * 24 * 3600);
    assert_eq!(g.channel_ids().count(), g.num_channels());
});
