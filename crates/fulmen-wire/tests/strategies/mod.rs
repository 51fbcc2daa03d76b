//! Proptest strategies for every message type.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey, SignOnly};
use bitcoin::{ScriptBuf, Txid};
use fulmen_types::{ChannelId, Msat, NodeId, PaymentHash, PaymentPreimage, Sat, ShortChannelId};
use fulmen_wire::*;
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;

static SECP: LazyLock<Secp256k1<SignOnly>> = LazyLock::new(Secp256k1::signing_only);

pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

pub fn point() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>()
        .prop_filter_map("secret key in range", |b| SecretKey::from_slice(&b).ok())
        .prop_map(|sk| PublicKey::from_secret_key(&SECP, &sk))
}

pub fn node_id() -> impl Strategy<Value = NodeId> {
    point().prop_map(|p| NodeId::from_pubkey(&p))
}

pub fn sig() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_filter_map("r, s in range", |(r, s)| {
        let mut b = [0u8; 64];
        b[..32].copy_from_slice(&r);
        b[32..].copy_from_slice(&s);
        Signature::from_compact(&b).ok()
    })
}

pub fn chain() -> impl Strategy<Value = ChainHash> {
    any::<[u8; 32]>().prop_map(ChainHash::from)
}

pub fn cid() -> impl Strategy<Value = ChannelId> {
    any::<[u8; 32]>().prop_map(ChannelId)
}

pub fn scid() -> impl Strategy<Value = ShortChannelId> {
    any::<u64>().prop_map(ShortChannelId)
}

pub fn txid() -> impl Strategy<Value = Txid> {
    any::<[u8; 32]>().prop_map(Txid::from_byte_array)
}

pub fn features() -> impl Strategy<Value = WireFeatures> {
    bytes(8).prop_map(|b| WireFeatures::from_wire(&b))
}

/// Unknown odd TLV records with types above every known TLV type (>= 7).
pub fn unknown_tlvs() -> impl Strategy<Value = Vec<RawTlv>> {
    btree_map(
        (3u64..u64::MAX / 2).prop_map(|t| 2 * t + 1),
        bytes(24),
        0..3,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(ty, value)| RawTlv { ty, value })
            .collect()
    })
}

pub fn known_address() -> impl Strategy<Value = NetAddress> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, port)| NetAddress::Ipv4 {
            addr: Ipv4Addr::from(a),
            port
        }),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(a, port)| NetAddress::Ipv6 {
            addr: Ipv6Addr::from(a),
            port
        }),
        any::<[u8; 12]>().prop_map(NetAddress::TorV2),
        (vec(any::<u8>(), 35), any::<u16>()).prop_map(|(o, port)| NetAddress::TorV3 {
            onion: o.try_into().unwrap(),
            port
        }),
        (bytes(255), any::<u16>()).prop_map(|(h, port)| NetAddress::Dns {
            hostname: Hostname::new(h).unwrap(),
            port
        }),
    ]
}

pub fn unknown_address() -> impl Strategy<Value = NetAddress> {
    (prop_oneof![Just(0u8), 6u8..=255], bytes(20))
        .prop_map(|(ty, data)| NetAddress::Unknown { ty, data })
}

pub fn address() -> impl Strategy<Value = NetAddress> {
    prop_oneof![known_address(), unknown_address()]
}

/// Known descriptors, then possibly one unknown one (which ends parsing).
pub fn address_list() -> impl Strategy<Value = Vec<NetAddress>> {
    (vec(known_address(), 0..4), of(unknown_address())).prop_map(|(mut v, u)| {
        v.extend(u);
        v
    })
}

pub fn keys() -> impl Strategy<Value = ChannelKeys> {
    (point(), point(), point(), point(), point(), point()).prop_map(|(a, b, c, d, e, f)| {
        ChannelKeys {
            funding_pubkey: a,
            revocation_basepoint: b,
            payment_basepoint: c,
            delayed_payment_basepoint: d,
            htlc_basepoint: e,
            first_per_commitment_point: f,
        }
    })
}

pub fn open_tlvs() -> impl Strategy<Value = OpenTlvs> {
    (
        of(bytes(40).prop_map(ScriptBuf::from_bytes)),
        of(features()),
        unknown_tlvs(),
    )
        .prop_map(|(s, c, u)| OpenTlvs {
            upfront_shutdown_script: s,
            channel_type: c,
            unknown: u,
        })
}

pub fn init() -> impl Strategy<Value = Init> {
    (
        features(),
        features(),
        of(vec(chain(), 0..3)),
        of(address()),
        unknown_tlvs(),
    )
        .prop_map(|(g, f, n, a, u)| Init {
            global_features: g,
            features: f,
            networks: n,
            remote_addr: a,
            unknown_tlvs: u,
        })
}

pub fn error() -> impl Strategy<Value = ErrorMessage> {
    (cid(), bytes(100), unknown_tlvs()).prop_map(|(c, d, u)| ErrorMessage {
        channel_id: c,
        data: d,
        unknown_tlvs: u,
    })
}

pub fn warning() -> impl Strategy<Value = WarningMessage> {
    (cid(), bytes(100), unknown_tlvs()).prop_map(|(c, d, u)| WarningMessage {
        channel_id: c,
        data: d,
        unknown_tlvs: u,
    })
}

pub fn ping() -> impl Strategy<Value = Ping> {
    (any::<u16>(), bytes(100), unknown_tlvs()).prop_map(|(n, i, u)| Ping {
        num_pong_bytes: n,
        ignored: i,
        unknown_tlvs: u,
    })
}

pub fn pong() -> impl Strategy<Value = Pong> {
    (bytes(100), unknown_tlvs()).prop_map(|(i, u)| Pong {
        ignored: i,
        unknown_tlvs: u,
    })
}

pub fn peer_storage() -> impl Strategy<Value = PeerStorage> {
    (bytes(100), unknown_tlvs()).prop_map(|(b, u)| PeerStorage {
        blob: b,
        unknown_tlvs: u,
    })
}

pub fn peer_storage_retrieval() -> impl Strategy<Value = PeerStorageRetrieval> {
    (bytes(100), unknown_tlvs()).prop_map(|(b, u)| PeerStorageRetrieval {
        blob: b,
        unknown_tlvs: u,
    })
}

pub fn open_channel() -> impl Strategy<Value = OpenChannel> {
    (
        (chain(), cid(), any::<[u64; 6]>()),
        (any::<u32>(), any::<u16>(), any::<u16>(), any::<u8>()),
        keys(),
        open_tlvs(),
    )
        .prop_map(|((ch, id, a), (fr, d, m, fl), k, t)| OpenChannel {
            chain_hash: ch,
            temporary_channel_id: id,
            funding: Sat(a[0]),
            push: Msat(a[1]),
            dust_limit: Sat(a[2]),
            max_htlc_value_in_flight: Msat(a[3]),
            channel_reserve: Sat(a[4]),
            htlc_minimum: Msat(a[5]),
            feerate_per_kw: fr,
            to_self_delay: d,
            max_accepted_htlcs: m,
            keys: k,
            channel_flags: fl,
            tlvs: t,
        })
}

pub fn accept_channel() -> impl Strategy<Value = AcceptChannel> {
    (
        (cid(), any::<[u64; 4]>()),
        (any::<u32>(), any::<u16>(), any::<u16>()),
        keys(),
        open_tlvs(),
    )
        .prop_map(|((id, a), (md, d, m), k, t)| AcceptChannel {
            temporary_channel_id: id,
            dust_limit: Sat(a[0]),
            max_htlc_value_in_flight: Msat(a[1]),
            channel_reserve: Sat(a[2]),
            htlc_minimum: Msat(a[3]),
            minimum_depth: md,
            to_self_delay: d,
            max_accepted_htlcs: m,
            keys: k,
            tlvs: t,
        })
}

pub fn funding_created() -> impl Strategy<Value = FundingCreated> {
    (cid(), txid(), any::<u16>(), sig(), unknown_tlvs()).prop_map(|(c, t, i, s, u)| {
        FundingCreated {
            temporary_channel_id: c,
            funding_txid: t,
            funding_output_index: i,
            signature: s,
            unknown_tlvs: u,
        }
    })
}

pub fn funding_signed() -> impl Strategy<Value = FundingSigned> {
    (cid(), sig(), unknown_tlvs()).prop_map(|(c, s, u)| FundingSigned {
        channel_id: c,
        signature: s,
        unknown_tlvs: u,
    })
}

pub fn channel_ready() -> impl Strategy<Value = ChannelReady> {
    (cid(), point(), of(scid()), unknown_tlvs()).prop_map(|(c, p, a, u)| ChannelReady {
        channel_id: c,
        second_per_commitment_point: p,
        short_channel_id_alias: a,
        unknown_tlvs: u,
    })
}

pub fn shutdown() -> impl Strategy<Value = Shutdown> {
    (cid(), bytes(60), unknown_tlvs()).prop_map(|(c, s, u)| Shutdown {
        channel_id: c,
        scriptpubkey: ScriptBuf::from_bytes(s),
        unknown_tlvs: u,
    })
}

pub fn closing_signed() -> impl Strategy<Value = ClosingSigned> {
    (
        cid(),
        any::<u64>(),
        sig(),
        of(any::<(u64, u64)>()),
        unknown_tlvs(),
    )
        .prop_map(|(c, f, s, r, u)| ClosingSigned {
            channel_id: c,
            fee: Sat(f),
            signature: s,
            fee_range: r.map(|(a, b)| FeeRange {
                min_fee: Sat(a),
                max_fee: Sat(b),
            }),
            unknown_tlvs: u,
        })
}

pub fn onion() -> impl Strategy<Value = OnionPacket> {
    vec(any::<u8>(), ONION_PACKET_LEN).prop_map(|v| OnionPacket(Box::new(v.try_into().unwrap())))
}

pub fn update_add_htlc() -> impl Strategy<Value = UpdateAddHtlc> {
    (
        (
            cid(),
            any::<u64>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<u32>(),
        ),
        onion(),
        of(point()),
        unknown_tlvs(),
    )
        .prop_map(|((c, id, a, h, e), o, p, u)| UpdateAddHtlc {
            channel_id: c,
            id,
            amount: Msat(a),
            payment_hash: PaymentHash(h),
            cltv_expiry: e,
            onion_routing_packet: o,
            path_key: p,
            unknown_tlvs: u,
        })
}

pub fn attribution() -> impl Strategy<Value = Option<Box<AttributionData>>> {
    of(
        (any::<[u32; 20]>(), vec(any::<[u8; 4]>(), 210)).prop_map(|(t, h)| {
            Box::new(AttributionData {
                htlc_hold_times: t,
                truncated_hmacs: Box::new(h.try_into().unwrap()),
            })
        }),
    )
}

pub fn update_fulfill_htlc() -> impl Strategy<Value = UpdateFulfillHtlc> {
    (
        cid(),
        any::<u64>(),
        any::<[u8; 32]>(),
        attribution(),
        unknown_tlvs(),
    )
        .prop_map(|(c, id, p, a, u)| UpdateFulfillHtlc {
            channel_id: c,
            id,
            payment_preimage: PaymentPreimage(p),
            attribution_data: a,
            unknown_tlvs: u,
        })
}

pub fn update_fail_htlc() -> impl Strategy<Value = UpdateFailHtlc> {
    (
        cid(),
        any::<u64>(),
        bytes(300),
        attribution(),
        unknown_tlvs(),
    )
        .prop_map(|(c, id, r, a, u)| UpdateFailHtlc {
            channel_id: c,
            id,
            reason: r,
            attribution_data: a,
            unknown_tlvs: u,
        })
}

pub fn update_fail_malformed_htlc() -> impl Strategy<Value = UpdateFailMalformedHtlc> {
    (
        cid(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u16>(),
        unknown_tlvs(),
    )
        .prop_map(|(c, id, h, f, u)| UpdateFailMalformedHtlc {
            channel_id: c,
            id,
            sha256_of_onion: h,
            failure_code: f,
            unknown_tlvs: u,
        })
}

pub fn commitment_signed() -> impl Strategy<Value = CommitmentSigned> {
    (cid(), sig(), vec(sig(), 0..10), of(txid()), unknown_tlvs()).prop_map(|(c, s, h, t, u)| {
        CommitmentSigned {
            channel_id: c,
            signature: s,
            htlc_signatures: h,
            funding_txid: t,
            unknown_tlvs: u,
        }
    })
}

pub fn revoke_and_ack() -> impl Strategy<Value = RevokeAndAck> {
    (cid(), any::<[u8; 32]>(), point(), unknown_tlvs()).prop_map(|(c, s, p, u)| RevokeAndAck {
        channel_id: c,
        per_commitment_secret: PerCommitmentSecret(s),
        next_per_commitment_point: p,
        unknown_tlvs: u,
    })
}

pub fn update_fee() -> impl Strategy<Value = UpdateFee> {
    (cid(), any::<u32>(), unknown_tlvs()).prop_map(|(c, f, u)| UpdateFee {
        channel_id: c,
        feerate_per_kw: f,
        unknown_tlvs: u,
    })
}

fn funding_retransmit() -> impl Strategy<Value = FundingRetransmit> {
    (txid(), any::<u8>()).prop_map(|(txid, retransmit_flags)| FundingRetransmit {
        txid,
        retransmit_flags,
    })
}

pub fn channel_reestablish() -> impl Strategy<Value = ChannelReestablish> {
    (
        (
            cid(),
            any::<u64>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            point(),
        ),
        of(funding_retransmit()),
        of(funding_retransmit()),
        unknown_tlvs(),
    )
        .prop_map(|((c, n, r, s, p), nf, l, u)| ChannelReestablish {
            channel_id: c,
            next_commitment_number: n,
            next_revocation_number: r,
            your_last_per_commitment_secret: PerCommitmentSecret(s),
            my_current_per_commitment_point: p,
            next_funding: nf,
            my_current_funding_locked: l,
            unknown_tlvs: u,
        })
}

pub fn channel_announcement() -> impl Strategy<Value = ChannelAnnouncement> {
    (
        (sig(), sig(), sig(), sig()),
        (features(), chain(), scid()),
        (node_id(), node_id(), point(), point()),
        bytes(30),
    )
        .prop_map(
            |((s1, s2, s3, s4), (f, c, id), (n1, n2, b1, b2), e)| ChannelAnnouncement {
                node_signature_1: s1,
                node_signature_2: s2,
                bitcoin_signature_1: s3,
                bitcoin_signature_2: s4,
                features: f,
                chain_hash: c,
                short_channel_id: id,
                node_id_1: n1,
                node_id_2: n2,
                bitcoin_key_1: b1,
                bitcoin_key_2: b2,
                extension: e,
            },
        )
}

pub fn node_announcement() -> impl Strategy<Value = NodeAnnouncement> {
    (
        (sig(), features(), any::<u32>(), node_id()),
        (any::<[u8; 3]>(), any::<[u8; 32]>()),
        address_list(),
        bytes(30),
    )
        .prop_map(|((s, f, t, n), (rgb, alias), a, e)| NodeAnnouncement {
            signature: s,
            features: f,
            timestamp: t,
            node_id: n,
            rgb_color: rgb,
            alias,
            addresses: a,
            extension: e,
        })
}

pub fn channel_update() -> impl Strategy<Value = ChannelUpdate> {
    (
        (sig(), chain(), scid(), any::<u32>()),
        (any::<u8>(), any::<u8>(), any::<u16>()),
        (any::<u64>(), any::<u32>(), any::<u32>(), any::<u64>()),
        bytes(30),
    )
        .prop_map(
            |((s, c, id, t), (mf, cf, d), (mn, fb, fp, mx), e)| ChannelUpdate {
                signature: s,
                chain_hash: c,
                short_channel_id: id,
                timestamp: t,
                message_flags: mf,
                channel_flags: cf,
                cltv_expiry_delta: d,
                htlc_minimum: Msat(mn),
                fee_base_msat: fb,
                fee_proportional_millionths: fp,
                htlc_maximum: Msat(mx),
                extension: e,
            },
        )
}

pub fn announcement_signatures() -> impl Strategy<Value = AnnouncementSignatures> {
    (cid(), scid(), sig(), sig(), unknown_tlvs()).prop_map(|(c, id, n, b, u)| {
        AnnouncementSignatures {
            channel_id: c,
            short_channel_id: id,
            node_signature: n,
            bitcoin_signature: b,
            unknown_tlvs: u,
        }
    })
}

pub fn query_short_channel_ids() -> impl Strategy<Value = QueryShortChannelIds> {
    (
        chain(),
        vec(scid(), 0..20),
        of(vec(any::<u64>(), 0..20)),
        unknown_tlvs(),
    )
        .prop_map(|(c, s, f, u)| QueryShortChannelIds {
            chain_hash: c,
            short_channel_ids: s,
            query_flags: f,
            unknown_tlvs: u,
        })
}

pub fn reply_short_channel_ids_end() -> impl Strategy<Value = ReplyShortChannelIdsEnd> {
    (chain(), any::<u8>(), unknown_tlvs()).prop_map(|(c, f, u)| ReplyShortChannelIdsEnd {
        chain_hash: c,
        full_information: f,
        unknown_tlvs: u,
    })
}

pub fn query_channel_range() -> impl Strategy<Value = QueryChannelRange> {
    (
        chain(),
        any::<u32>(),
        any::<u32>(),
        of(any::<u64>()),
        unknown_tlvs(),
    )
        .prop_map(|(c, f, n, o, u)| QueryChannelRange {
            chain_hash: c,
            first_blocknum: f,
            number_of_blocks: n,
            query_option: o,
            unknown_tlvs: u,
        })
}

fn pairs() -> impl Strategy<Value = Vec<DirectionPair>> {
    vec(
        any::<(u32, u32)>().prop_map(|(node_1, node_2)| DirectionPair { node_1, node_2 }),
        0..20,
    )
}

pub fn reply_channel_range() -> impl Strategy<Value = ReplyChannelRange> {
    (
        (chain(), any::<u32>(), any::<u32>(), any::<u8>()),
        vec(scid(), 0..20),
        of(pairs()),
        of(pairs()),
        unknown_tlvs(),
    )
        .prop_map(|((c, f, n, sc), s, t, k, u)| ReplyChannelRange {
            chain_hash: c,
            first_blocknum: f,
            number_of_blocks: n,
            sync_complete: sc,
            short_channel_ids: s,
            timestamps: t,
            checksums: k,
            unknown_tlvs: u,
        })
}

pub fn gossip_timestamp_filter() -> impl Strategy<Value = GossipTimestampFilter> {
    (chain(), any::<u32>(), any::<u32>(), unknown_tlvs()).prop_map(|(c, f, r, u)| {
        GossipTimestampFilter {
            chain_hash: c,
            first_timestamp: f,
            timestamp_range: r,
            unknown_tlvs: u,
        }
    })
}

/// An odd type Fulmen does not know, with any payload.
pub fn unknown_message() -> impl Strategy<Value = Message> {
    (any::<u16>(), bytes(100)).prop_filter_map("unknown odd type", |(t, payload)| {
        let ty = t | 1;
        (!Message::is_known_type(ty)).then_some(Message::Unknown { ty, payload })
    })
}
