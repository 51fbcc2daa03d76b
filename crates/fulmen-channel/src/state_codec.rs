//! [`Channel::encode_state`] / [`Channel::decode_state`]: the versioned
//! binary form the node persists.
//!
//! Layout: a version byte ([`STATE_VERSION`]), a phase tag, then the
//! phase's fields in declaration order, then (from version 2) the
//! extensions, big-endian, built from
//! `fulmen-wire`'s [`Writer`] / [`Reader`]. Lists carry a `u32` count but
//! are read one element at a time (no allocation beyond the bytes
//! present); scripts and reasons are `u16`-length-prefixed; transactions
//! and stored wire messages are `u32`-length-prefixed consensus / wire
//! encodings. No private key is stored: the node re-derives them from
//! the channel's key index. Decoding a state means the connection is gone:
//! [`Channel::decode_state`] returns the channel as after
//! [`Channel::peer_disconnected`].
//!
//! # Versions
//!
//! * 1: the phase alone.
//! * 2: the phase, then the ids of the incoming HTLCs flagged
//!   [`HtlcEntry::over_dust_exposure`] (a `u32` count and `u64` ids; empty
//!   outside the funded phases). Version 1 states still decode, with no
//!   HTLC flagged.

use core::fmt;

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::constants::ChainHash;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::{OutPoint, ScriptBuf, Transaction, Txid};
use fulmen_script::shachain::{PerCommitmentSecret, SecretStore};
use fulmen_script::{ChannelType, HtlcDirection, Side};
use fulmen_types::{ChannelId, Msat, PaymentHash, PaymentPreimage, Sat, ShortChannelId};
use fulmen_wire::{
    ClosingSigned, OnionPacket, OpenChannel, Reader, WireMessage, Writer, ONION_PACKET_LEN,
};

use crate::channel::{Channel, Closed, Normal};
use crate::closing::{Closing, ClosingKind, Negotiating, OurShutdown, ShuttingDown};
use crate::events::{CloseReason, RevokedHtlc};
use crate::ledger::{FeeUpdate, HtlcEntry, Ledger, Outcome, Removal, Stage};
use crate::opening::{
    AwaitingFunding, AwaitingFundingSigned, Confirmation, InboundOpening, OpenProposal,
    OutboundOpening,
};
use crate::params::{ChannelParams, ChannelPubkeys, ChannelTypeInfo};
use crate::state::{
    ChannelCore, Established, LastSent, Link, LocalCommit, PeerSecrets, RemoteCommit,
};

/// The current state format version (see the module documentation).
pub const STATE_VERSION: u8 = 2;

/// The oldest state format version still read.
pub const OLDEST_STATE_VERSION: u8 = 1;

/// Why a stored state could not be read. The node stops the channel (and
/// must not close it): the bytes are its own, so this is corruption or a
/// version from the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateDecodeError {
    /// The bytes end early.
    Truncated,
    /// A version this code does not know.
    UnsupportedVersion(u8),
    /// An enum tag out of range.
    BadTag {
        /// Which field.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A field that does not parse (a point, a signature, a transaction…).
    Invalid(&'static str),
    /// Bytes after the state.
    TrailingBytes,
}

impl fmt::Display for StateDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("channel state truncated"),
            Self::UnsupportedVersion(v) => write!(f, "channel state version {v} unsupported"),
            Self::BadTag { field, tag } => write!(f, "bad tag {tag} for {field}"),
            Self::Invalid(field) => write!(f, "invalid {field} in channel state"),
            Self::TrailingBytes => f.write_str("trailing bytes after channel state"),
        }
    }
}

impl std::error::Error for StateDecodeError {}

type R<T> = Result<T, StateDecodeError>;

fn trunc(_: fulmen_wire::WireError) -> StateDecodeError {
    StateDecodeError::Truncated
}

trait Enc {
    fn enc(&self, w: &mut Writer);
}

trait Dec: Sized {
    fn dec(r: &mut Reader<'_>) -> R<Self>;
}

fn tag(r: &mut Reader<'_>) -> R<u8> {
    r.read_u8().map_err(trunc)
}

fn bad(field: &'static str, t: u8) -> StateDecodeError {
    StateDecodeError::BadTag { field, tag: t }
}

macro_rules! int_codec {
    ($($t:ty => $w:ident, $r:ident;)*) => {$(
        impl Enc for $t {
            fn enc(&self, w: &mut Writer) {
                w.$w(*self);
            }
        }
        impl Dec for $t {
            fn dec(r: &mut Reader<'_>) -> R<Self> {
                r.$r().map_err(trunc)
            }
        }
    )*};
}

int_codec! {
    u8 => write_u8, read_u8;
    u16 => write_u16, read_u16;
    u32 => write_u32, read_u32;
    u64 => write_u64, read_u64;
}

impl Enc for bool {
    fn enc(&self, w: &mut Writer) {
        w.write_u8(u8::from(*self));
    }
}

impl Dec for bool {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        match tag(r)? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(bad("bool", t)),
        }
    }
}

macro_rules! newtype_u64 {
    ($($t:ident),*) => {$(
        impl Enc for $t {
            fn enc(&self, w: &mut Writer) {
                w.write_u64(self.0);
            }
        }
        impl Dec for $t {
            fn dec(r: &mut Reader<'_>) -> R<Self> {
                Ok($t(u64::dec(r)?))
            }
        }
    )*};
}

newtype_u64!(Msat, Sat, ShortChannelId);

macro_rules! bytes32 {
    ($($t:ident),*) => {$(
        impl Enc for $t {
            fn enc(&self, w: &mut Writer) {
                w.write_bytes(&self.0);
            }
        }
        impl Dec for $t {
            fn dec(r: &mut Reader<'_>) -> R<Self> {
                Ok($t(r.read_array().map_err(trunc)?))
            }
        }
    )*};
}

bytes32!(ChannelId, PaymentHash, PaymentPreimage);

impl Enc for [u8; 32] {
    fn enc(&self, w: &mut Writer) {
        w.write_bytes(self);
    }
}

impl Dec for [u8; 32] {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        r.read_array().map_err(trunc)
    }
}

impl Enc for PublicKey {
    fn enc(&self, w: &mut Writer) {
        w.write_point(self);
    }
}

impl Dec for PublicKey {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        let b: [u8; 33] = r.read_array().map_err(trunc)?;
        PublicKey::from_slice(&b).map_err(|_| StateDecodeError::Invalid("point"))
    }
}

impl Enc for Signature {
    fn enc(&self, w: &mut Writer) {
        w.write_signature(self);
    }
}

impl Dec for Signature {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        let b: [u8; 64] = r.read_array().map_err(trunc)?;
        Signature::from_compact(&b).map_err(|_| StateDecodeError::Invalid("signature"))
    }
}

impl Enc for Txid {
    fn enc(&self, w: &mut Writer) {
        w.write_txid(self);
    }
}

impl Dec for Txid {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(Txid::from_byte_array(r.read_array().map_err(trunc)?))
    }
}

impl Enc for ChainHash {
    fn enc(&self, w: &mut Writer) {
        w.write_chain_hash(self);
    }
}

impl Dec for ChainHash {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(ChainHash::from(r.read_array::<32>().map_err(trunc)?))
    }
}

impl Enc for OutPoint {
    fn enc(&self, w: &mut Writer) {
        self.txid.enc(w);
        self.vout.enc(w);
    }
}

impl Dec for OutPoint {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(OutPoint {
            txid: Txid::dec(r)?,
            vout: u32::dec(r)?,
        })
    }
}

/// Scripts and other byte strings: `u16` length, then the bytes. Channel
/// scripts are at most a few dozen bytes and fail reasons at most 65535.
fn enc_bytes(b: &[u8], w: &mut Writer) {
    let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
    w.write_u16(len);
    w.write_bytes(b.get(..usize::from(len)).unwrap_or(b));
}

fn dec_bytes(r: &mut Reader<'_>) -> R<Vec<u8>> {
    Ok(r.read_u16_prefixed().map_err(trunc)?.to_vec())
}

impl Enc for ScriptBuf {
    fn enc(&self, w: &mut Writer) {
        enc_bytes(self.as_bytes(), w);
    }
}

impl Dec for ScriptBuf {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(ScriptBuf::from_bytes(dec_bytes(r)?))
    }
}

fn enc_long(b: &[u8], w: &mut Writer) {
    w.write_u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
    w.write_bytes(b);
}

fn dec_long<'a>(r: &mut Reader<'a>) -> R<&'a [u8]> {
    let len = u32::dec(r)?;
    r.read_bytes(usize::try_from(len).map_err(|_| StateDecodeError::Truncated)?)
        .map_err(trunc)
}

impl Enc for Transaction {
    fn enc(&self, w: &mut Writer) {
        enc_long(&serialize(self), w);
    }
}

impl Dec for Transaction {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        deserialize(dec_long(r)?).map_err(|_| StateDecodeError::Invalid("transaction"))
    }
}

/// Stored wire messages: their payload, `u32`-length-prefixed.
macro_rules! wire_codec {
    ($($t:ty => $name:literal),*) => {$(
        impl Enc for $t {
            fn enc(&self, w: &mut Writer) {
                let mut inner = Writer::new();
                // Writing cannot fail: these messages have no field longer
                // than its u16 prefix allows.
                let _ = self.write_payload(&mut inner);
                enc_long(inner.as_bytes(), w);
            }
        }
        impl Dec for $t {
            fn dec(r: &mut Reader<'_>) -> R<Self> {
                <$t>::decode_payload(dec_long(r)?).map_err(|_| StateDecodeError::Invalid($name))
            }
        }
    )*};
}

wire_codec!(OpenChannel => "open_channel", ClosingSigned => "closing_signed");

impl Enc for OnionPacket {
    fn enc(&self, w: &mut Writer) {
        w.write_bytes(self.as_bytes());
    }
}

impl Dec for OnionPacket {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        let b = r.read_bytes(ONION_PACKET_LEN).map_err(trunc)?;
        let mut a = Box::new([0u8; ONION_PACKET_LEN]);
        a.copy_from_slice(b);
        Ok(OnionPacket(a))
    }
}

impl<T: Enc> Enc for Option<T> {
    fn enc(&self, w: &mut Writer) {
        match self {
            None => w.write_u8(0),
            Some(v) => {
                w.write_u8(1);
                v.enc(w);
            }
        }
    }
}

impl<T: Dec> Dec for Option<T> {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        match tag(r)? {
            0 => Ok(None),
            1 => Ok(Some(T::dec(r)?)),
            t => Err(bad("option", t)),
        }
    }
}

impl<T: Enc> Enc for Vec<T> {
    fn enc(&self, w: &mut Writer) {
        w.write_u32(u32::try_from(self.len()).unwrap_or(u32::MAX));
        for v in self {
            v.enc(w);
        }
    }
}

impl<T: Dec> Dec for Vec<T> {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        let n = u32::dec(r)?;
        // Never trust the count for allocation: each element needs at
        // least one byte.
        let cap = usize::try_from(n).unwrap_or(0).min(r.remaining());
        let mut v = Vec::with_capacity(cap);
        for _ in 0..n {
            v.push(T::dec(r)?);
        }
        Ok(v)
    }
}

macro_rules! unit_enum {
    ($t:ty, $field:literal, [$($v:path),*]) => {
        impl Enc for $t {
            fn enc(&self, w: &mut Writer) {
                let all = [$($v),*];
                let i = all.iter().position(|x| x == self).unwrap_or(0);
                w.write_u8(u8::try_from(i).unwrap_or(0));
            }
        }
        impl Dec for $t {
            fn dec(r: &mut Reader<'_>) -> R<Self> {
                let all = [$($v),*];
                let t = tag(r)?;
                all.get(usize::from(t)).copied().ok_or(bad($field, t))
            }
        }
    };
}

unit_enum!(Side, "side", [Side::Local, Side::Remote]);
unit_enum!(
    Stage,
    "stage",
    [
        Stage::Proposed,
        Stage::InReceiverCommit,
        Stage::ReceiverRevoked,
        Stage::InProposerCommit,
        Stage::Done
    ]
);
unit_enum!(
    HtlcDirection,
    "direction",
    [HtlcDirection::Offered, HtlcDirection::Received]
);
unit_enum!(LastSent, "last_sent", [LastSent::Commit, LastSent::Revoke]);
unit_enum!(
    ChannelType,
    "channel_type",
    [
        ChannelType::StaticRemoteKey,
        ChannelType::AnchorsZeroFeeHtlcTx
    ]
);

/// Encodes and decodes a struct field by field.
macro_rules! record {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl Enc for $t {
            fn enc(&self, w: &mut Writer) {
                $(self.$f.enc(w);)*
            }
        }
        impl Dec for $t {
            fn dec(r: &mut Reader<'_>) -> R<Self> {
                Ok($t { $($f: Dec::dec(r)?,)* })
            }
        }
    };
}

record!(ChannelParams {
    dust_limit,
    max_htlc_value_in_flight,
    channel_reserve,
    htlc_minimum,
    to_self_delay,
    max_accepted_htlcs,
});
record!(ChannelPubkeys {
    funding_pubkey,
    revocation_basepoint,
    payment_basepoint,
    delayed_payment_basepoint,
    htlc_basepoint,
});
record!(ChannelTypeInfo { base, scid_alias });
record!(ChannelCore {
    chain_hash,
    temporary_channel_id,
    channel_id,
    funder,
    channel_type,
    announce,
    funding,
    push,
    initial_feerate,
    funding_outpoint,
    key_index,
    local_keys,
    remote_keys,
    local_params,
    remote_params,
    minimum_depth,
    local_shutdown_script,
    local_upfront,
    remote_upfront_script,
    anysegwit,
    local_alias,
});
record!(Removal {
    outcome,
    stage,
    seq
});
// `over_dust_exposure` is not part of the entry's version-1 layout: the
// flagged ids follow the phase (version 2).
impl Enc for HtlcEntry {
    fn enc(&self, w: &mut Writer) {
        self.offerer.enc(w);
        self.id.enc(w);
        self.amount.enc(w);
        self.payment_hash.enc(w);
        self.cltv_expiry.enc(w);
        self.onion.enc(w);
        self.path_key.enc(w);
        self.add_stage.enc(w);
        self.add_seq.enc(w);
        self.removal.enc(w);
        self.preimage.enc(w);
    }
}

impl Dec for HtlcEntry {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(HtlcEntry {
            offerer: Dec::dec(r)?,
            id: Dec::dec(r)?,
            amount: Dec::dec(r)?,
            payment_hash: Dec::dec(r)?,
            cltv_expiry: Dec::dec(r)?,
            onion: Dec::dec(r)?,
            path_key: Dec::dec(r)?,
            add_stage: Dec::dec(r)?,
            add_seq: Dec::dec(r)?,
            removal: Dec::dec(r)?,
            preimage: Dec::dec(r)?,
            over_dust_exposure: false,
        })
    }
}
record!(FeeUpdate {
    feerate,
    stage,
    seq
});
record!(LocalCommit {
    number,
    remote_signature,
    remote_htlc_signatures,
});
record!(RevokedHtlc {
    output_index,
    direction,
    amount,
    payment_hash,
    cltv_expiry,
});
record!(RemoteCommit {
    number,
    point,
    txid,
    to_local,
    htlcs,
});
record!(Confirmation { height, tx_index });
record!(OpenProposal {
    open,
    channel_type,
    key_index,
    local_keys,
    local_shutdown_script,
    local_upfront,
    local_alias,
    anysegwit,
});
record!(InboundOpening {
    core,
    remote_first_point
});
record!(AwaitingFundingSigned {
    core,
    funding_tx,
    remote_commit,
});
record!(AwaitingFunding {
    est,
    funding_tx,
    confirmation,
    local_ready,
    remote_ready,
    deadline,
});
record!(Normal { est });
record!(ShuttingDown {
    est,
    local,
    remote_script
});
record!(Negotiating {
    est,
    local_script,
    remote_script,
    our_last,
    their_last,
});
record!(Closing { est, kind });
record!(Closed { channel_id, reason });

impl<T: Enc> Enc for (T, Sat) {
    fn enc(&self, w: &mut Writer) {
        self.0.enc(w);
        self.1.enc(w);
    }
}

impl<T: Dec> Dec for (T, Sat) {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok((T::dec(r)?, Sat::dec(r)?))
    }
}

impl Enc for Outcome {
    fn enc(&self, w: &mut Writer) {
        match self {
            Outcome::Fulfill(p) => {
                w.write_u8(0);
                p.enc(w);
            }
            Outcome::Fail(reason) => {
                w.write_u8(1);
                enc_bytes(reason, w);
            }
            Outcome::Malformed {
                sha256_of_onion,
                failure_code,
            } => {
                w.write_u8(2);
                sha256_of_onion.enc(w);
                failure_code.enc(w);
            }
        }
    }
}

impl Dec for Outcome {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(match tag(r)? {
            0 => Outcome::Fulfill(Dec::dec(r)?),
            1 => Outcome::Fail(dec_bytes(r)?),
            2 => Outcome::Malformed {
                sha256_of_onion: Dec::dec(r)?,
                failure_code: Dec::dec(r)?,
            },
            t => return Err(bad("outcome", t)),
        })
    }
}

impl Enc for Ledger {
    fn enc(&self, w: &mut Writer) {
        self.funder.enc(w);
        self.base_local.enc(w);
        self.base_remote.enc(w);
        self.base_feerate.enc(w);
        let offered: Vec<HtlcEntry> = self.offered.values().cloned().collect();
        let received: Vec<HtlcEntry> = self.received.values().cloned().collect();
        offered.enc(w);
        received.enc(w);
        self.fee_updates.enc(w);
        self.next_local_id.enc(w);
        self.next_remote_id.enc(w);
        self.next_seq.enc(w);
    }
}

impl Dec for Ledger {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        let funder = Side::dec(r)?;
        let base_local = Msat::dec(r)?;
        let base_remote = Msat::dec(r)?;
        let base_feerate = u32::dec(r)?;
        let mut offered = std::collections::BTreeMap::new();
        for e in Vec::<HtlcEntry>::dec(r)? {
            if e.offerer != Side::Local || offered.insert(e.id, e).is_some() {
                return Err(StateDecodeError::Invalid("offered htlcs"));
            }
        }
        let mut received = std::collections::BTreeMap::new();
        for e in Vec::<HtlcEntry>::dec(r)? {
            if e.offerer != Side::Remote || received.insert(e.id, e).is_some() {
                return Err(StateDecodeError::Invalid("received htlcs"));
            }
        }
        Ok(Ledger {
            funder,
            base_local,
            base_remote,
            base_feerate,
            offered,
            received,
            fee_updates: Dec::dec(r)?,
            next_local_id: Dec::dec(r)?,
            next_remote_id: Dec::dec(r)?,
            next_seq: Dec::dec(r)?,
        })
    }
}

impl Enc for PeerSecrets {
    fn enc(&self, w: &mut Writer) {
        let entries: Vec<(u64, [u8; 32])> =
            self.0.entries().map(|(i, s)| (i, *s.as_bytes())).collect();
        w.write_u8(u8::try_from(entries.len()).unwrap_or(u8::MAX));
        for (i, s) in entries {
            w.write_u64(i);
            w.write_bytes(&s);
        }
    }
}

impl Dec for PeerSecrets {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        let n = tag(r)?;
        if n > 49 {
            return Err(StateDecodeError::Invalid("secret count"));
        }
        let mut entries = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let i = u64::dec(r)?;
            let s = <[u8; 32]>::dec(r)?;
            entries.push((i, PerCommitmentSecret::new(s)));
        }
        SecretStore::from_entries(entries)
            .map(PeerSecrets)
            .map_err(|_| StateDecodeError::Invalid("per-commitment secrets"))
    }
}

impl Enc for Established {
    fn enc(&self, w: &mut Writer) {
        self.core.enc(w);
        self.ledger.enc(w);
        self.local_commit.enc(w);
        self.local_next_point.enc(w);
        self.remote_commit.enc(w);
        self.remote_prev.enc(w);
        self.remote_next_point.enc(w);
        self.remote_secrets.enc(w);
        self.last_sent.enc(w);
        self.short_channel_id.enc(w);
        self.remote_alias.enc(w);
    }
}

impl Dec for Established {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(Established {
            core: Dec::dec(r)?,
            ledger: Dec::dec(r)?,
            local_commit: Dec::dec(r)?,
            local_next_point: Dec::dec(r)?,
            remote_commit: Dec::dec(r)?,
            remote_prev: Dec::dec(r)?,
            remote_next_point: Dec::dec(r)?,
            remote_secrets: Dec::dec(r)?,
            last_sent: Dec::dec(r)?,
            // A decoded state has no connection.
            link: Link::Disconnected,
            short_channel_id: Dec::dec(r)?,
            remote_alias: Dec::dec(r)?,
        })
    }
}

impl Enc for OutboundOpening {
    fn enc(&self, w: &mut Writer) {
        match self {
            OutboundOpening::AwaitingAccept(p) => {
                w.write_u8(0);
                p.enc(w);
            }
            OutboundOpening::AwaitingFundingTx {
                core,
                remote_first_point,
            } => {
                w.write_u8(1);
                core.enc(w);
                remote_first_point.enc(w);
            }
        }
    }
}

impl Dec for OutboundOpening {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(match tag(r)? {
            0 => OutboundOpening::AwaitingAccept(Box::new(Dec::dec(r)?)),
            1 => OutboundOpening::AwaitingFundingTx {
                core: Box::new(Dec::dec(r)?),
                remote_first_point: Dec::dec(r)?,
            },
            t => return Err(bad("outbound phase", t)),
        })
    }
}

impl Enc for OurShutdown {
    fn enc(&self, w: &mut Writer) {
        match self {
            OurShutdown::NotRequested => w.write_u8(0),
            OurShutdown::Pending(s) => {
                w.write_u8(1);
                s.enc(w);
            }
            OurShutdown::Sent(s) => {
                w.write_u8(2);
                s.enc(w);
            }
        }
    }
}

impl Dec for OurShutdown {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(match tag(r)? {
            0 => OurShutdown::NotRequested,
            1 => OurShutdown::Pending(Dec::dec(r)?),
            2 => OurShutdown::Sent(Dec::dec(r)?),
            t => return Err(bad("our shutdown", t)),
        })
    }
}

impl Enc for ClosingKind {
    fn enc(&self, w: &mut Writer) {
        match self {
            ClosingKind::Mutual {
                tx,
                closing_signed,
                local_script,
            } => {
                w.write_u8(0);
                tx.enc(w);
                closing_signed.enc(w);
                local_script.enc(w);
            }
            ClosingKind::LocalForce { tx } => {
                w.write_u8(1);
                tx.enc(w);
            }
            ClosingKind::AwaitingRemoteClose => w.write_u8(2),
        }
    }
}

impl Dec for ClosingKind {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(match tag(r)? {
            0 => ClosingKind::Mutual {
                tx: Dec::dec(r)?,
                closing_signed: Dec::dec(r)?,
                local_script: Dec::dec(r)?,
            },
            1 => ClosingKind::LocalForce { tx: Dec::dec(r)? },
            2 => ClosingKind::AwaitingRemoteClose,
            t => return Err(bad("closing kind", t)),
        })
    }
}

impl Enc for CloseReason {
    fn enc(&self, w: &mut Writer) {
        match self {
            CloseReason::MutualClose { txid } => {
                w.write_u8(0);
                txid.enc(w);
            }
            CloseReason::LocalForceClose { txid } => {
                w.write_u8(1);
                txid.enc(w);
            }
            CloseReason::DataLoss => w.write_u8(2),
            CloseReason::Abandoned => w.write_u8(3),
            CloseReason::FundingTimeout => w.write_u8(4),
        }
    }
}

impl Dec for CloseReason {
    fn dec(r: &mut Reader<'_>) -> R<Self> {
        Ok(match tag(r)? {
            0 => CloseReason::MutualClose { txid: Dec::dec(r)? },
            1 => CloseReason::LocalForceClose { txid: Dec::dec(r)? },
            2 => CloseReason::DataLoss,
            3 => CloseReason::Abandoned,
            4 => CloseReason::FundingTimeout,
            t => return Err(bad("close reason", t)),
        })
    }
}

impl Channel {
    /// The channel's complete state, versioned, for the node to persist
    /// (see [`crate::Outputs::persist`]). Holds no private key.
    pub fn encode_state(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(1024);
        w.write_u8(STATE_VERSION);
        match self {
            Channel::OutboundOpening(s) => {
                w.write_u8(0);
                s.enc(&mut w);
            }
            Channel::InboundOpening(s) => {
                w.write_u8(1);
                s.enc(&mut w);
            }
            Channel::AwaitingFundingSigned(s) => {
                w.write_u8(2);
                s.enc(&mut w);
            }
            Channel::AwaitingFunding(s) => {
                w.write_u8(3);
                s.enc(&mut w);
            }
            Channel::Normal(s) => {
                w.write_u8(4);
                s.enc(&mut w);
            }
            Channel::ShuttingDown(s) => {
                w.write_u8(5);
                s.enc(&mut w);
            }
            Channel::Negotiating(s) => {
                w.write_u8(6);
                s.enc(&mut w);
            }
            Channel::Closing(s) => {
                w.write_u8(7);
                s.enc(&mut w);
            }
            Channel::Closed(s) => {
                w.write_u8(8);
                s.enc(&mut w);
            }
        }
        // Version 2: the incoming HTLCs over the dust exposure limit.
        let flagged: Vec<u64> = self
            .established()
            .map(|e| {
                e.ledger
                    .htlcs()
                    .filter(|h| h.offerer == Side::Remote && h.over_dust_exposure)
                    .map(|h| h.id)
                    .collect()
            })
            .unwrap_or_default();
        flagged.enc(&mut w);
        w.into_bytes()
    }

    /// Reads a state written by [`Channel::encode_state`]. The result is
    /// disconnected: call [`Channel::peer_reconnected`] when the peer is
    /// back.
    pub fn decode_state(bytes: &[u8]) -> Result<Channel, StateDecodeError> {
        let mut r = Reader::new(bytes);
        let version = tag(&mut r)?;
        if !(OLDEST_STATE_VERSION..=STATE_VERSION).contains(&version) {
            return Err(StateDecodeError::UnsupportedVersion(version));
        }
        let r = &mut r;
        let mut chan = match tag(r)? {
            0 => Channel::OutboundOpening(Box::new(Dec::dec(r)?)),
            1 => Channel::InboundOpening(Box::new(Dec::dec(r)?)),
            2 => Channel::AwaitingFundingSigned(Box::new(Dec::dec(r)?)),
            3 => Channel::AwaitingFunding(Box::new(Dec::dec(r)?)),
            4 => Channel::Normal(Box::new(Dec::dec(r)?)),
            5 => Channel::ShuttingDown(Box::new(Dec::dec(r)?)),
            6 => Channel::Negotiating(Box::new(Dec::dec(r)?)),
            7 => Channel::Closing(Box::new(Dec::dec(r)?)),
            8 => Channel::Closed(Dec::dec(r)?),
            t => return Err(bad("phase", t)),
        };
        if version >= 2 {
            let flagged = Vec::<u64>::dec(r)?;
            if !flagged.is_empty() {
                let ledger = chan
                    .established_mut()
                    .map(|e| &mut e.ledger)
                    .ok_or(StateDecodeError::Invalid("dust-flagged htlcs"))?;
                for id in flagged {
                    if ledger.htlc(Side::Remote, id).is_none() {
                        return Err(StateDecodeError::Invalid("dust-flagged htlcs"));
                    }
                    ledger.flag_over_dust_exposure(id);
                }
            }
        }
        if !r.is_empty() {
            return Err(StateDecodeError::TrailingBytes);
        }
        // Loading implies the connection is gone: the peer's uncommitted
        // updates are reversed. Channels still opening stay as they were
        // stored (the node decides whether to keep them).
        if chan.established().is_some() {
            chan.peer_disconnected();
        }
        Ok(chan)
    }
}

#[cfg(test)]
#[path = "state_codec_tests.rs"]
mod tests;
