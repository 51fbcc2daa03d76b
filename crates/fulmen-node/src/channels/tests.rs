//! Unit tests of the manager: the tick's ordering (commit before any send),
//! failed commits, routing of messages for unknown channels, the caps on
//! unfunded inbound channels.

use std::sync::{Arc, Mutex};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{Network, ScriptBuf, Transaction, Txid};
use fulmen_types::{ChannelId, Features, Msat, NodeId, Sat};
use fulmen_wallet::keys::{KeyTree, Mnemonic};
use fulmen_wire::Message;

use super::*;
use crate::entropy::OsEntropy;

#[derive(Default)]
struct Log(Mutex<Vec<String>>);
impl Log {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

struct RecPersister(Arc<Log>, bool);
impl Persister for RecPersister {
    fn commit(&mut self, batch: PersistBatch) -> Result<(), PersistError> {
        self.0.push(format!("commit {}", batch.channels.len()));
        if self.1 {
            Ok(())
        } else {
            Err(PersistError::Store("disk full".into()))
        }
    }
}
struct RecOutbox(Arc<Log>);
impl Outbox for RecOutbox {
    fn send(&self, _: &NodeId, msg: Message) -> bool {
        self.0.push(format!("send {}", msg.msg_type()));
        true
    }
    fn disconnect(&self, _: &NodeId) {
        self.0.push("disconnect".into());
    }
}
struct RecBroadcast(Arc<Log>);
impl Broadcaster for RecBroadcast {
    fn broadcast(&self, _: &Transaction) {
        self.0.push("broadcast".into());
    }
}
struct NoWallet;
impl FundingWallet for NoWallet {
    fn build_funding(
        &self,
        _: ScriptBuf,
        _: Sat,
        _: u32,
        _: [u8; 32],
    ) -> Result<(Transaction, u32), String> {
        Err("no coins".into())
    }
    fn release_funding(&self, _: Txid) {}
    fn fund_htlc_tx(
        &self,
        _: &Transaction,
        _: &[(bitcoin::TxOut, u64)],
        _: u32,
        _: [u8; 32],
    ) -> Result<Transaction, String> {
        Err("no coins".into())
    }
    fn fund_anchor_child(&self, _: &super::AnchorBump, _: [u8; 32]) -> Result<Transaction, String> {
        Err("no coins".into())
    }
    fn new_script(&self) -> Result<ScriptBuf, String> {
        let mut v = vec![0u8, 0x14];
        v.extend([7u8; 20]);
        Ok(ScriptBuf::from_bytes(v))
    }
}

fn services(config: ChannelsConfig) -> CmServices {
    let seed = Mnemonic::from_entropy(&[3; 16]).unwrap().to_seed("");
    let tree = KeyTree::new(&Secp256k1::new(), &seed, Network::Regtest).unwrap();
    let (events, _) = tokio::sync::broadcast::channel(16);
    CmServices {
        network: Network::Regtest,
        key_tree: tree,
        node_secret: SecretKey::from_slice(&[0x11; 32]).unwrap(),
        entropy: Arc::new(OsEntropy),
        wallet: Arc::new(NoWallet),
        events,
        config,
        gossip: crate::gossip::GossipHandle::detached(Network::Regtest),
    }
}

type Cm<P> = ChannelManager<P, RecOutbox, RecBroadcast>;

fn manager_with<P: Persister>(log: &Arc<Log>, p: P, config: ChannelsConfig) -> Cm<P> {
    ChannelManager::new(
        p,
        Arc::new(RecOutbox(log.clone())),
        Arc::new(RecBroadcast(log.clone())),
        services(config),
    )
    .unwrap()
}

fn manager(log: &Arc<Log>, ok: bool) -> Cm<RecPersister> {
    manager_with(
        log,
        RecPersister(log.clone(), ok),
        ChannelsConfig::default(),
    )
}

fn tx() -> Transaction {
    Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![],
        output: vec![],
    }
}

fn ping() -> Message {
    Message::Ping(fulmen_wire::Ping {
        num_pong_bytes: 0,
        ignored: vec![],
        unknown_tlvs: vec![],
    })
}

fn tick_touching(id: ChannelId) -> Tick {
    let peer = NodeId([2; 33]);
    let mut tick = Tick::default();
    tick.batch.put_channel(id, peer, vec![1, 2, 3], 1);
    tick.messages = vec![
        Outgoing {
            node_id: peer,
            channel: Some(id),
            msg: ping(),
        },
        Outgoing {
            node_id: peer,
            channel: None,
            msg: ping(),
        },
    ];
    tick.broadcasts = vec![(Some(id), tx())];
    tick
}

#[test]
fn commit_happens_before_any_send_and_answers_come_last() {
    let log = Arc::new(Log::default());
    let mut cm = manager(&log, true);
    let mut tick = tick_touching(ChannelId([1; 32]));
    let l = log.clone();
    tick.after_commit
        .push(Box::new(move |ok| l.push(format!("answer {ok}"))));
    cm.finish_tick(tick);
    assert_eq!(
        log.take(),
        vec!["commit 1", "send 18", "send 18", "broadcast", "answer true"]
    );
}

#[test]
fn failed_commit_drops_the_channel_outputs_and_stops_it() {
    let log = Arc::new(Log::default());
    let mut cm = manager(&log, false);
    let id = ChannelId([1; 32]);
    let mut tick = tick_touching(id);
    let l = log.clone();
    tick.after_commit
        .push(Box::new(move |ok| l.push(format!("answer {ok}"))));
    cm.finish_tick(tick);
    // Only the message about no stored state went out.
    assert_eq!(log.take(), vec!["commit 1", "send 18", "answer false"]);
    // The channel stays stopped even when a later commit succeeds.
    cm.persister.1 = true;
    let mut later = tick_touching(ChannelId([9; 32]));
    later.messages.push(Outgoing {
        node_id: NodeId([2; 33]),
        channel: Some(id),
        msg: Message::Unknown {
            ty: 99,
            payload: vec![],
        },
    });
    cm.finish_tick(later);
    assert_eq!(
        log.take(),
        vec!["commit 1", "send 18", "send 18", "broadcast"]
    );
}

#[test]
fn no_store_refuses_any_write() {
    assert_eq!(NoStore.commit(PersistBatch::default()), Ok(()));
    assert_eq!(
        NoStore.commit(tick_touching(ChannelId([1; 32])).batch),
        Err(PersistError::NoStore)
    );
}

#[test]
fn channel_messages_for_unknown_channels_get_an_error_for_their_id() {
    let log = Arc::new(Log::default());
    let mut cm = manager(&log, true);
    let mut tick = Tick::default();
    let peer = NodeId([3; 33]);
    let shutdown = Message::Shutdown(fulmen_wire::Shutdown {
        channel_id: ChannelId([5; 32]),
        scriptpubkey: bitcoin::ScriptBuf::new(),
        unknown_tlvs: vec![],
    });
    for conn in [1, 2] {
        cm.handle(
            CmInput::PeerConnected {
                node_id: peer,
                features: crate::features::our_init_features(),
                conn,
            },
            &mut tick,
        );
    }
    // Connection 1 was replaced by 2: what it still delivers is dropped.
    cm.handle(
        CmInput::PeerMessage {
            node_id: peer,
            conn: 1,
            msg: Box::new(shutdown.clone()),
        },
        &mut tick,
    );
    cm.handle(
        CmInput::PeerDisconnected {
            node_id: peer,
            conn: 1,
        },
        &mut tick,
    );
    assert!(tick.messages.is_empty());
    assert!(cm.is_connected(&peer));
    cm.handle(
        CmInput::PeerMessage {
            node_id: peer,
            conn: 2,
            msg: Box::new(shutdown),
        },
        &mut tick,
    );
    let [Outgoing {
        node_id,
        channel: None,
        msg: Message::Error(e),
    }] = tick.messages.as_slice()
    else {
        panic!("expected one error, got {:?}", tick.messages);
    };
    assert_eq!(*node_id, peer);
    assert_eq!(e.channel_id, ChannelId([5; 32]));
    assert!(cm.handle(CmInput::Shutdown, &mut tick));
}

#[test]
fn store_persister_writes_the_batch_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let mut p = StorePersister::new(fulmen_store::Store::open(&path).unwrap());
    assert_eq!(p.commit(PersistBatch::default()), Ok(()));
    let mut batch = tick_touching(ChannelId([7; 32])).batch;
    batch.store.set_kv("k", vec![1]);
    assert_eq!(p.commit(batch), Ok(()));
    drop(p);
    let store = fulmen_store::Store::open(&path).unwrap();
    let channels = store.load_channels().unwrap();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].channel_id, ChannelId([7; 32]));
    assert_eq!(channels[0].state, vec![1, 2, 3]);
    assert_eq!(store.get_kv("k").unwrap(), Some(vec![1]));
}

#[test]
fn a_stored_channel_that_does_not_decode_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let mut p = StorePersister::new(fulmen_store::Store::open(&path).unwrap());
    p.commit(tick_touching(ChannelId([7; 32])).batch).unwrap();
    let log = Arc::new(Log::default());
    let err = ChannelManager::new(
        p,
        Arc::new(RecOutbox(log.clone())),
        Arc::new(RecBroadcast(log)),
        services(ChannelsConfig::default()),
    )
    .err()
    .unwrap();
    assert!(matches!(err, crate::NodeError::Channels(_)), "{err}");
}

#[test]
fn raw_channel_ids() {
    let mut open = vec![0, 32];
    open.extend([0xaa; 32]);
    open.extend([0xbb; 32]);
    assert_eq!(raw_channel_id(&open), Some(ChannelId([0xbb; 32])));
    let mut add = vec![0, 128];
    add.extend([0xcc; 32]);
    assert_eq!(raw_channel_id(&add), Some(ChannelId([0xcc; 32])));
    assert_eq!(raw_channel_id(&add[..20]), None);
    assert_eq!(raw_channel_id(&[1, 2]), None);
    assert_eq!(raw_channel_id(&[0]), None);
    assert_eq!(raw_channel_id(&[0, 18, 0, 0]), None);
}

/// A valid `open_channel` from a peer (keys from a fixed secret).
fn open_channel(temporary: u8) -> fulmen_wire::OpenChannel {
    let secp = Secp256k1::new();
    let point =
        |b: u8| PublicKey::from_secret_key(&secp, &SecretKey::from_slice(&[b; 32]).unwrap());
    fulmen_wire::OpenChannel {
        chain_hash: crate::features::chain_hash(Network::Regtest),
        temporary_channel_id: ChannelId([temporary; 32]),
        funding: Sat(100_000),
        push: Msat(0),
        dust_limit: Sat(546),
        max_htlc_value_in_flight: Msat(100_000_000),
        channel_reserve: Sat(1_000),
        htlc_minimum: Msat(1),
        feerate_per_kw: 253,
        to_self_delay: 144,
        max_accepted_htlcs: 483,
        keys: fulmen_wire::ChannelKeys {
            funding_pubkey: point(1),
            revocation_basepoint: point(2),
            payment_basepoint: point(3),
            delayed_payment_basepoint: point(4),
            htlc_basepoint: point(5),
            first_per_commitment_point: point(6),
        },
        channel_flags: 0,
        tlvs: fulmen_wire::OpenTlvs {
            upfront_shutdown_script: Some(ScriptBuf::new()),
            channel_type: Some(fulmen_wire::WireFeatures::new(
                Features::empty()
                    .with_required(fulmen_types::Feature::StaticRemoteKey)
                    .with_required(fulmen_types::Feature::AnchorsZeroFeeHtlcTx),
            )),
            unknown: vec![],
        },
    }
}

#[test]
fn unfunded_inbound_channels_are_capped_per_peer_and_in_total() {
    let log = Arc::new(Log::default());
    let config = ChannelsConfig {
        max_unfunded_per_peer: 2,
        max_unfunded_total: 3,
        ..ChannelsConfig::default()
    };
    let mut cm = manager_with(&log, RecPersister(log.clone(), true), config);
    let mut tick = Tick::default();
    let (a, b) = (NodeId([2; 33]), NodeId([3; 33]));
    for peer in [a, b] {
        cm.handle(
            CmInput::PeerConnected {
                node_id: peer,
                features: crate::features::our_init_features(),
                conn: 1,
            },
            &mut tick,
        );
    }
    let mut answers = Vec::new();
    for (peer, temp) in [(a, 1), (a, 2), (a, 3), (b, 4), (b, 5)] {
        tick.messages.clear();
        cm.handle(
            CmInput::PeerMessage {
                node_id: peer,
                conn: 1,
                msg: Box::new(Message::OpenChannel(open_channel(temp))),
            },
            &mut tick,
        );
        let kinds: Vec<u16> = tick.messages.iter().map(|o| o.msg.msg_type()).collect();
        answers.push(kinds);
    }
    // accept, accept, refused (peer cap), accept, refused (total cap).
    assert_eq!(
        answers,
        vec![vec![33], vec![33], vec![17], vec![33], vec![17]]
    );
    // A reused temporary id is refused too.
    tick.messages.clear();
    cm.handle(
        CmInput::PeerMessage {
            node_id: b,
            conn: 1,
            msg: Box::new(Message::OpenChannel(open_channel(4))),
        },
        &mut tick,
    );
    assert_eq!(tick.messages[0].msg.msg_type(), 17);
    // Disconnecting forgets the peer's unfunded openings (BOLT 2).
    cm.handle(
        CmInput::PeerDisconnected {
            node_id: a,
            conn: 1,
        },
        &mut tick,
    );
    cm.finish_tick(tick);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut tick = Tick::default();
    cm.handle(CmInput::Command(CmCommand::NumChannels(tx)), &mut tick);
    assert_eq!(rx.blocking_recv().unwrap(), 1);
    // Key indices were handed out once per accepted channel.
    assert_eq!(cm.next_key_index, 3);
}

#[test]
fn a_refused_open_channel_costs_no_key_index() {
    let log = Arc::new(Log::default());
    let mut cm = manager(&log, true);
    let mut tick = Tick::default();
    let peer = NodeId([2; 33]);
    cm.handle(
        CmInput::PeerConnected {
            node_id: peer,
            features: crate::features::our_init_features(),
            conn: 1,
        },
        &mut tick,
    );
    let mut bad = open_channel(1);
    bad.chain_hash = crate::features::chain_hash(Network::Bitcoin);
    let mut tiny = open_channel(2);
    tiny.funding = Sat(1_000);
    for open in [bad, tiny] {
        tick.messages.clear();
        cm.handle(
            CmInput::PeerMessage {
                node_id: peer,
                conn: 1,
                msg: Box::new(Message::OpenChannel(open)),
            },
            &mut tick,
        );
        assert_eq!(tick.messages.len(), 1);
        assert_eq!(tick.messages[0].msg.msg_type(), 17, "an error");
    }
    assert_eq!(cm.next_key_index, 0);
    assert!(tick.batch.is_empty());
}
