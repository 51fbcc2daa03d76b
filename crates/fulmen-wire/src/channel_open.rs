//! BOLT 2 channel establishment (v1): `open_channel`, `accept_channel`,
//! `funding_created`, `funding_signed`, `channel_ready`.

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::{ScriptBuf, Txid};
use fulmen_types::{ChannelId, Msat, Sat, ShortChannelId};

use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::tlv::{self, RawTlv, TlvBuilder};
use crate::types::{read_extension, WireFeatures, WireMessage};

/// The six points both sides of a channel open send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelKeys {
    /// `funding_pubkey`.
    pub funding_pubkey: PublicKey,
    /// `revocation_basepoint`.
    pub revocation_basepoint: PublicKey,
    /// `payment_basepoint`.
    pub payment_basepoint: PublicKey,
    /// `delayed_payment_basepoint`.
    pub delayed_payment_basepoint: PublicKey,
    /// `htlc_basepoint`.
    pub htlc_basepoint: PublicKey,
    /// `first_per_commitment_point`.
    pub first_per_commitment_point: PublicKey,
}

impl ChannelKeys {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            funding_pubkey: r.read_point()?,
            revocation_basepoint: r.read_point()?,
            payment_basepoint: r.read_point()?,
            delayed_payment_basepoint: r.read_point()?,
            htlc_basepoint: r.read_point()?,
            first_per_commitment_point: r.read_point()?,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.write_point(&self.funding_pubkey);
        w.write_point(&self.revocation_basepoint);
        w.write_point(&self.payment_basepoint);
        w.write_point(&self.delayed_payment_basepoint);
        w.write_point(&self.htlc_basepoint);
        w.write_point(&self.first_per_commitment_point);
    }
}

/// The TLVs shared by `open_channel` and `accept_channel`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenTlvs {
    /// TLV 0 `upfront_shutdown_script` (may be empty: "no script").
    pub upfront_shutdown_script: Option<ScriptBuf>,
    /// TLV 1 `channel_type`.
    pub channel_type: Option<WireFeatures>,
    /// Unknown odd TLV records.
    pub unknown: Vec<RawTlv>,
}

impl OpenTlvs {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let (mut script, mut channel_type) = (None, None);
        let unknown = tlv::decode_stream(r.read_rest(), |ty, v| {
            match ty {
                0 => script = Some(ScriptBuf::from_bytes(v.read_rest().to_vec())),
                1 => channel_type = Some(WireFeatures::from_wire(v.read_rest())),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Self {
            upfront_shutdown_script: script,
            channel_type,
            unknown,
        })
    }

    fn write(&self, w: &mut Writer) {
        let mut t = TlvBuilder::new();
        if let Some(s) = &self.upfront_shutdown_script {
            t.record(0, s.to_bytes());
        }
        if let Some(c) = &self.channel_type {
            t.record(1, c.to_wire());
        }
        t.extend_unknown(&self.unknown).write_to(w);
    }
}

/// `open_channel` (type 32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenChannel {
    /// The chain the channel will live on.
    pub chain_hash: ChainHash,
    /// Identifies the channel until the funding outpoint is known.
    pub temporary_channel_id: ChannelId,
    /// `funding_satoshis`.
    pub funding: Sat,
    /// `push_msat`.
    pub push: Msat,
    /// `dust_limit_satoshis`.
    pub dust_limit: Sat,
    /// `max_htlc_value_in_flight_msat`.
    pub max_htlc_value_in_flight: Msat,
    /// `channel_reserve_satoshis`.
    pub channel_reserve: Sat,
    /// `htlc_minimum_msat`.
    pub htlc_minimum: Msat,
    /// `feerate_per_kw`.
    pub feerate_per_kw: u32,
    /// `to_self_delay`.
    pub to_self_delay: u16,
    /// `max_accepted_htlcs`.
    pub max_accepted_htlcs: u16,
    /// The six keys.
    pub keys: ChannelKeys,
    /// `channel_flags` (bit 0: `announce_channel`).
    pub channel_flags: u8,
    /// The TLV extension.
    pub tlvs: OpenTlvs,
}

impl WireMessage for OpenChannel {
    const TYPE: u16 = 32;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            chain_hash: r.read_chain_hash()?,
            temporary_channel_id: r.read_channel_id()?,
            funding: Sat(r.read_u64()?),
            push: Msat(r.read_u64()?),
            dust_limit: Sat(r.read_u64()?),
            max_htlc_value_in_flight: Msat(r.read_u64()?),
            channel_reserve: Sat(r.read_u64()?),
            htlc_minimum: Msat(r.read_u64()?),
            feerate_per_kw: r.read_u32()?,
            to_self_delay: r.read_u16()?,
            max_accepted_htlcs: r.read_u16()?,
            keys: ChannelKeys::read(r)?,
            channel_flags: r.read_u8()?,
            tlvs: OpenTlvs::read(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_chain_hash(&self.chain_hash);
        w.write_bytes(&self.temporary_channel_id.0);
        w.write_u64(self.funding.0);
        w.write_u64(self.push.0);
        w.write_u64(self.dust_limit.0);
        w.write_u64(self.max_htlc_value_in_flight.0);
        w.write_u64(self.channel_reserve.0);
        w.write_u64(self.htlc_minimum.0);
        w.write_u32(self.feerate_per_kw);
        w.write_u16(self.to_self_delay);
        w.write_u16(self.max_accepted_htlcs);
        self.keys.write(w);
        w.write_u8(self.channel_flags);
        self.tlvs.write(w);
        Ok(())
    }
}

/// `accept_channel` (type 33).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptChannel {
    /// The `temporary_channel_id` of the `open_channel`.
    pub temporary_channel_id: ChannelId,
    /// `dust_limit_satoshis`.
    pub dust_limit: Sat,
    /// `max_htlc_value_in_flight_msat`.
    pub max_htlc_value_in_flight: Msat,
    /// `channel_reserve_satoshis`.
    pub channel_reserve: Sat,
    /// `htlc_minimum_msat`.
    pub htlc_minimum: Msat,
    /// `minimum_depth`.
    pub minimum_depth: u32,
    /// `to_self_delay`.
    pub to_self_delay: u16,
    /// `max_accepted_htlcs`.
    pub max_accepted_htlcs: u16,
    /// The six keys.
    pub keys: ChannelKeys,
    /// The TLV extension.
    pub tlvs: OpenTlvs,
}

impl WireMessage for AcceptChannel {
    const TYPE: u16 = 33;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            temporary_channel_id: r.read_channel_id()?,
            dust_limit: Sat(r.read_u64()?),
            max_htlc_value_in_flight: Msat(r.read_u64()?),
            channel_reserve: Sat(r.read_u64()?),
            htlc_minimum: Msat(r.read_u64()?),
            minimum_depth: r.read_u32()?,
            to_self_delay: r.read_u16()?,
            max_accepted_htlcs: r.read_u16()?,
            keys: ChannelKeys::read(r)?,
            tlvs: OpenTlvs::read(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.temporary_channel_id.0);
        w.write_u64(self.dust_limit.0);
        w.write_u64(self.max_htlc_value_in_flight.0);
        w.write_u64(self.channel_reserve.0);
        w.write_u64(self.htlc_minimum.0);
        w.write_u32(self.minimum_depth);
        w.write_u16(self.to_self_delay);
        w.write_u16(self.max_accepted_htlcs);
        self.keys.write(w);
        self.tlvs.write(w);
        Ok(())
    }
}

/// `funding_created` (type 34).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingCreated {
    /// The `temporary_channel_id`.
    pub temporary_channel_id: ChannelId,
    /// `funding_txid`.
    pub funding_txid: Txid,
    /// `funding_output_index`.
    pub funding_output_index: u16,
    /// The funder's signature of the fundee's first commitment.
    pub signature: Signature,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for FundingCreated {
    const TYPE: u16 = 34;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            temporary_channel_id: r.read_channel_id()?,
            funding_txid: r.read_txid()?,
            funding_output_index: r.read_u16()?,
            signature: r.read_signature()?,
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.temporary_channel_id.0);
        w.write_txid(&self.funding_txid);
        w.write_u16(self.funding_output_index);
        w.write_signature(&self.signature);
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}

/// `funding_signed` (type 35).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingSigned {
    /// The real channel id (funding txid XOR output index).
    pub channel_id: ChannelId,
    /// The fundee's signature of the funder's first commitment.
    pub signature: Signature,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for FundingSigned {
    const TYPE: u16 = 35;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            channel_id: r.read_channel_id()?,
            signature: r.read_signature()?,
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_signature(&self.signature);
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}

/// `channel_ready` (type 36).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelReady {
    /// The channel.
    pub channel_id: ChannelId,
    /// The per-commitment point for commitment number 1.
    pub second_per_commitment_point: PublicKey,
    /// TLV 1 `short_channel_id`: an alias to use in routing hints.
    pub short_channel_id_alias: Option<ShortChannelId>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for ChannelReady {
    const TYPE: u16 = 36;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = r.read_channel_id()?;
        let second_per_commitment_point = r.read_point()?;
        let mut alias = None;
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            if ty != 1 {
                return Ok(false);
            }
            alias = Some(v.read_short_channel_id()?);
            Ok(true)
        })?;
        Ok(Self {
            channel_id,
            second_per_commitment_point,
            short_channel_id_alias: alias,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_point(&self.second_per_commitment_point);
        let mut t = TlvBuilder::new();
        if let Some(a) = self.short_channel_id_alias {
            t.record_with(1, |w| w.write_u64(a.0));
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}
