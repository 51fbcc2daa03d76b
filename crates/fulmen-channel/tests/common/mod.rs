//! Two channel ends in one process, with a message queue per direction.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::collections::VecDeque;

use bitcoin::absolute::LockTime;
use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{All, Secp256k1, SecretKey};
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use fulmen_channel::{
    Channel, ChannelConfig, ChannelError, ChannelEvent, ChannelMessage, ChannelSecretKeys, Ctx,
    InboundSetup, OutboundSetup, Outputs,
};
use fulmen_types::{
    ChannelId, Feature, Features, Msat, PaymentHash, PaymentPreimage, Sat, ShortChannelId,
};
use fulmen_wire::{Message, OnionPacket, ONION_PACKET_LEN};

pub fn secrets(seed: u8) -> ChannelSecretKeys {
    let k = |i: u8| SecretKey::from_slice(&[seed.wrapping_mul(16).wrapping_add(i); 32]).unwrap();
    ChannelSecretKeys {
        funding: k(1),
        revocation_basepoint: k(2),
        payment_basepoint: k(3),
        delayed_payment_basepoint: k(4),
        htlc_basepoint: k(5),
        per_commitment_seed: [seed.wrapping_add(0x55); 32],
    }
}

pub fn features() -> Features {
    Features::empty()
        .with_optional(Feature::DataLossProtect)
        .with_optional(Feature::StaticRemoteKey)
        .with_optional(Feature::AnchorsZeroFeeHtlcTx)
        .with_optional(Feature::SupportLargeChannel)
        .with_optional(Feature::ChannelType)
        .with_optional(Feature::ScidAlias)
}

pub fn p2wpkh(b: u8) -> ScriptBuf {
    let mut v = vec![0x00, 0x14];
    v.extend([b; 20]);
    ScriptBuf::from_bytes(v)
}

pub fn onion(tag: u64) -> OnionPacket {
    let mut b = Box::new([0u8; ONION_PACKET_LEN]);
    b[1..9].copy_from_slice(&tag.to_be_bytes());
    OnionPacket(b)
}

pub fn preimage(tag: u64) -> PaymentPreimage {
    let mut b = [7u8; 32];
    b[..8].copy_from_slice(&tag.to_be_bytes());
    PaymentPreimage(b)
}

pub fn hash(tag: u64) -> PaymentHash {
    preimage(tag).payment_hash()
}

pub struct End {
    pub chan: Channel,
    pub secrets: ChannelSecretKeys,
    pub config: ChannelConfig,
    pub events: Vec<ChannelEvent>,
    pub broadcasts: Vec<Transaction>,
    /// The last state the node would have persisted.
    pub persisted: Option<Vec<u8>>,
}

pub struct Pair {
    pub secp: Secp256k1<All>,
    pub a: End,
    pub b: End,
    pub to_a: VecDeque<Message>,
    pub to_b: VecDeque<Message>,
    pub height: u32,
    pub feerate: u32,
    pub funding_tx: Option<Transaction>,
}

pub fn ctx<'a>(secp: &'a Secp256k1<All>, end: &'a End, height: u32, feerate: u32) -> Ctx<'a> {
    Ctx {
        now: 1_700_000_000,
        height,
        secp,
        secrets: &end.secrets,
        config: &end.config,
        feerate_per_kw: feerate,
    }
}

/// Which end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    A,
    B,
}

impl Who {
    pub fn other(self) -> Self {
        match self {
            Who::A => Who::B,
            Who::B => Who::A,
        }
    }
}

pub fn funding_tx(amount: Sat, script: ScriptBuf) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array([0xaa; 32]),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(12_345),
                script_pubkey: p2wpkh(9),
            },
            TxOut {
                value: Amount::from_sat(amount.0),
                script_pubkey: script,
            },
        ],
    }
}

impl Pair {
    pub fn new(config_a: ChannelConfig, config_b: ChannelConfig) -> Self {
        let end = |seed, config| End {
            chan: Channel::Closed(fulmen_channel::Closed {
                channel_id: ChannelId([0; 32]),
                reason: fulmen_channel::CloseReason::Abandoned,
            }),
            secrets: secrets(seed),
            config,
            events: Vec::new(),
            broadcasts: Vec::new(),
            persisted: None,
        };
        Self {
            secp: Secp256k1::new(),
            a: end(1, config_a),
            b: end(2, config_b),
            to_a: VecDeque::new(),
            to_b: VecDeque::new(),
            height: 800_000,
            feerate: 2500,
            funding_tx: None,
        }
    }

    pub fn end(&mut self, who: Who) -> &mut End {
        match who {
            Who::A => &mut self.a,
            Who::B => &mut self.b,
        }
    }

    /// Applies outputs produced by `who`: persists (as the node would),
    /// queues messages for the other end, records events.
    pub fn apply(&mut self, who: Who, out: Outputs) {
        let end = self.end(who);
        if out.persist {
            end.persisted = Some(end.chan.encode_state());
        }
        end.events.extend(out.events);
        end.broadcasts.extend(out.broadcasts);
        let q = match who {
            Who::A => &mut self.to_b,
            Who::B => &mut self.to_a,
        };
        q.extend(out.messages);
    }

    /// Runs `f` on `who`'s channel with its context.
    pub fn call<R>(&mut self, who: Who, f: impl FnOnce(&mut Channel, &Ctx<'_>) -> R) -> R {
        let (height, feerate) = (self.height, self.feerate);
        let end = match who {
            Who::A => &mut self.a,
            Who::B => &mut self.b,
        };
        let End {
            chan,
            secrets,
            config,
            ..
        } = end;
        let c = Ctx {
            now: 1_700_000_000,
            height,
            secp: &self.secp,
            secrets,
            config,
            feerate_per_kw: feerate,
        };
        f(chan, &c)
    }

    /// Delivers the next message queued for `to`; `None` if none.
    pub fn deliver_one(&mut self, to: Who) -> Option<Result<(), ChannelError>> {
        let msg = match to {
            Who::A => self.to_a.pop_front()?,
            Who::B => self.to_b.pop_front()?,
        };
        let cm = ChannelMessage::from_message(msg).expect("a channel message");
        let res = self.call(to, |c, ctx| c.handle_message(cm, ctx));
        Some(match res {
            Ok(out) => {
                self.apply(to, out);
                Ok(())
            }
            Err(e) => Err(e),
        })
    }

    /// Delivers until both queues are empty; panics on any error.
    pub fn flush(&mut self) {
        loop {
            let mut any = false;
            for to in [Who::B, Who::A] {
                if let Some(r) = self.deliver_one(to) {
                    r.unwrap();
                    any = true;
                }
            }
            if !any {
                return;
            }
        }
    }

    pub fn sign(&mut self, who: Who) {
        let out = self.call(who, |c, ctx| c.sign_if_needed(ctx)).unwrap();
        self.apply(who, out);
    }

    /// Signs and delivers until nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..50 {
            self.flush();
            self.sign(Who::A);
            self.sign(Who::B);
            if self.to_a.is_empty() && self.to_b.is_empty() {
                return;
            }
        }
        panic!("did not settle");
    }

    pub fn outbound_setup(&self, funding: Sat, push: Msat) -> OutboundSetup {
        OutboundSetup {
            chain_hash: ChainHash::REGTEST,
            temporary_channel_id: ChannelId([0x11; 32]),
            funding,
            push,
            feerate_per_kw: 2500,
            announce: false,
            key_index: 7,
            shutdown_script: p2wpkh(0xa1),
            upfront_shutdown: false,
            local_alias: ShortChannelId(0xa11a5),
            our_features: features(),
            their_features: features(),
        }
    }

    pub fn inbound_setup(&self) -> InboundSetup {
        InboundSetup {
            chain_hash: ChainHash::REGTEST,
            key_index: 9,
            shutdown_script: p2wpkh(0xb1),
            upfront_shutdown: false,
            local_alias: ShortChannelId(0xb11a5),
            our_features: features(),
            their_features: features(),
        }
    }

    /// Runs `open_channel` .. `funding_signed` with `setup`.
    pub fn open_until_funded(&mut self, setup: OutboundSetup) {
        let (chan, out) = self
            .call(Who::A, |_, ctx| Channel::new_outbound(setup, ctx))
            .unwrap();
        self.a.chan = chan;
        self.apply(Who::A, out);
        let Message::OpenChannel(open) = self.to_b.pop_front().unwrap() else {
            panic!("open_channel expected")
        };
        let inbound = self.inbound_setup();
        let (chan, out) = self
            .call(Who::B, |_, ctx| Channel::new_inbound(&open, inbound, ctx))
            .unwrap();
        self.b.chan = chan;
        self.apply(Who::B, out);
        self.deliver_one(Who::A).unwrap().unwrap();
        let (amount, script) = self
            .a
            .events
            .iter()
            .find_map(|e| match e {
                ChannelEvent::FundingNeeded {
                    amount,
                    script_pubkey,
                    ..
                } => Some((*amount, script_pubkey.clone())),
                _ => None,
            })
            .unwrap();
        let tx = funding_tx(amount, script);
        self.funding_tx = Some(tx.clone());
        let out = self
            .call(Who::A, |c, ctx| c.funding_tx_built(tx, 1, ctx))
            .unwrap();
        self.apply(Who::A, out);
        self.deliver_one(Who::B).unwrap().unwrap();
        self.deliver_one(Who::A).unwrap().unwrap();
        assert_eq!(
            self.a.broadcasts.len(),
            1,
            "funder broadcasts the funding tx"
        );
    }

    /// Confirms the funding transaction and mines until both are ready.
    pub fn confirm_funding(&mut self) {
        let tx = self.funding_tx.clone().unwrap();
        let block = vec![funding_tx(Sat(1), p2wpkh(3)), tx];
        self.block(&block);
        for _ in 0..10 {
            self.block(&[]);
        }
        self.flush();
    }

    pub fn block(&mut self, txs: &[Transaction]) {
        self.height += 1;
        let h = self.height;
        for who in [Who::A, Who::B] {
            let out = self
                .call(who, |c, ctx| c.handle_block(h, txs, ctx))
                .unwrap();
            self.apply(who, out);
        }
    }

    /// A standard open: 0.1 BTC, no push, anchors.
    pub fn open(funding: Sat, push: Msat) -> Self {
        let mut p = Pair::new(ChannelConfig::default(), ChannelConfig::default());
        let setup = p.outbound_setup(funding, push);
        p.open_until_funded(setup);
        p.confirm_funding();
        assert_eq!(p.a.chan.phase(), "normal");
        assert_eq!(p.b.chan.phase(), "normal");
        p
    }

    pub fn add(&mut self, who: Who, amount: u64, tag: u64) -> u64 {
        let h = self.height;
        let (id, out) = self
            .call(who, |c, ctx| {
                c.add_htlc(Msat(amount), hash(tag), h + 100, onion(tag), None, ctx)
            })
            .unwrap();
        self.apply(who, out);
        id
    }

    pub fn take_events(&mut self, who: Who) -> Vec<ChannelEvent> {
        std::mem::take(&mut self.end(who).events)
    }
}
