//! BOLT 2 normal operation: HTLC and fee updates, `commitment_signed`,
//! `revoke_and_ack`.

use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::Txid;
use fulmen_types::{ChannelId, Msat, PaymentHash, PaymentPreimage};

use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::tlv::{self, RawTlv, TlvBuilder};
use crate::types::{read_extension, read_onion, OnionPacket, PerCommitmentSecret, WireMessage};

/// The number of hold times in `attribution_data`.
pub const ATTRIBUTION_HOLD_TIMES: usize = 20;
/// The number of truncated HMACs in `attribution_data`.
pub const ATTRIBUTION_HMACS: usize = 210;

/// TLV 1 `attribution_data` of `update_fulfill_htlc` / `update_fail_htlc`
/// (BOLT 4 attributable failures): 920 bytes, kept opaque here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributionData {
    /// `htlc_hold_times`, in units of 100 ms.
    pub htlc_hold_times: [u32; ATTRIBUTION_HOLD_TIMES],
    /// `truncated_hmacs`: the first 4 bytes of each HMAC.
    pub truncated_hmacs: Box<[[u8; 4]; ATTRIBUTION_HMACS]>,
}

impl AttributionData {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let mut htlc_hold_times = [0u32; ATTRIBUTION_HOLD_TIMES];
        for t in &mut htlc_hold_times {
            *t = r.read_u32()?;
        }
        let mut truncated_hmacs = Box::new([[0u8; 4]; ATTRIBUTION_HMACS]);
        for h in truncated_hmacs.iter_mut() {
            *h = r.read_array()?;
        }
        Ok(Self {
            htlc_hold_times,
            truncated_hmacs,
        })
    }

    fn write(&self, w: &mut Writer) {
        self.htlc_hold_times.iter().for_each(|t| w.write_u32(*t));
        self.truncated_hmacs.iter().for_each(|h| w.write_bytes(h));
    }
}

fn read_attribution(
    r: &mut Reader<'_>,
) -> Result<(Option<Box<AttributionData>>, Vec<RawTlv>), WireError> {
    let mut attribution = None;
    let unknown = tlv::decode_stream(r.read_rest(), |ty, v| {
        if ty != 1 {
            return Ok(false);
        }
        attribution = Some(Box::new(AttributionData::read(v)?));
        Ok(true)
    })?;
    Ok((attribution, unknown))
}

fn write_attribution(w: &mut Writer, a: Option<&AttributionData>, unknown: &[RawTlv]) {
    let mut t = TlvBuilder::new();
    if let Some(a) = a {
        t.record_with(1, |w| a.write(w));
    }
    t.extend_unknown(unknown).write_to(w);
}

/// `update_add_htlc` (type 128).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateAddHtlc {
    /// The channel.
    pub channel_id: ChannelId,
    /// The HTLC id (increments by one per HTLC offered).
    pub id: u64,
    /// `amount_msat`.
    pub amount: Msat,
    /// The hash the HTLC is locked to.
    pub payment_hash: PaymentHash,
    /// `cltv_expiry`: the absolute block height it times out at.
    pub cltv_expiry: u32,
    /// The 1366-byte onion.
    pub onion_routing_packet: OnionPacket,
    /// TLV 0 `blinded_path` `path_key` (formerly `blinding_point`).
    pub path_key: Option<PublicKey>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for UpdateAddHtlc {
    const TYPE: u16 = 128;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = r.read_channel_id()?;
        let id = r.read_u64()?;
        let amount = Msat(r.read_u64()?);
        let payment_hash = PaymentHash(r.read_array()?);
        let cltv_expiry = r.read_u32()?;
        let onion_routing_packet = read_onion(r)?;
        let mut path_key = None;
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            if ty != 0 {
                return Ok(false);
            }
            path_key = Some(v.read_point()?);
            Ok(true)
        })?;
        Ok(Self {
            channel_id,
            id,
            amount,
            payment_hash,
            cltv_expiry,
            onion_routing_packet,
            path_key,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u64(self.id);
        w.write_u64(self.amount.0);
        w.write_bytes(&self.payment_hash.0);
        w.write_u32(self.cltv_expiry);
        w.write_bytes(self.onion_routing_packet.as_bytes());
        let mut t = TlvBuilder::new();
        if let Some(p) = &self.path_key {
            t.record_with(0, |w| w.write_point(p));
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}

/// `update_fulfill_htlc` (type 130).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFulfillHtlc {
    /// The channel.
    pub channel_id: ChannelId,
    /// The HTLC id.
    pub id: u64,
    /// The preimage (redacted in `Debug`).
    pub payment_preimage: PaymentPreimage,
    /// TLV 1 `attribution_data`.
    pub attribution_data: Option<Box<AttributionData>>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for UpdateFulfillHtlc {
    const TYPE: u16 = 130;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = r.read_channel_id()?;
        let id = r.read_u64()?;
        let payment_preimage = PaymentPreimage(r.read_array()?);
        let (attribution_data, unknown_tlvs) = read_attribution(r)?;
        Ok(Self {
            channel_id,
            id,
            payment_preimage,
            attribution_data,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u64(self.id);
        w.write_bytes(self.payment_preimage.as_bytes());
        write_attribution(w, self.attribution_data.as_deref(), &self.unknown_tlvs);
        Ok(())
    }
}

/// `update_fail_htlc` (type 131).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFailHtlc {
    /// The channel.
    pub channel_id: ChannelId,
    /// The HTLC id.
    pub id: u64,
    /// The encrypted failure for the origin (BOLT 4).
    pub reason: Vec<u8>,
    /// TLV 1 `attribution_data`.
    pub attribution_data: Option<Box<AttributionData>>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for UpdateFailHtlc {
    const TYPE: u16 = 131;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = r.read_channel_id()?;
        let id = r.read_u64()?;
        let reason = r.read_u16_prefixed()?.to_vec();
        let (attribution_data, unknown_tlvs) = read_attribution(r)?;
        Ok(Self {
            channel_id,
            id,
            reason,
            attribution_data,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u64(self.id);
        w.write_u16_prefixed(&self.reason)?;
        write_attribution(w, self.attribution_data.as_deref(), &self.unknown_tlvs);
        Ok(())
    }
}

/// `update_fail_malformed_htlc` (type 135).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFailMalformedHtlc {
    /// The channel.
    pub channel_id: ChannelId,
    /// The HTLC id.
    pub id: u64,
    /// SHA256 of the onion the peer could not parse.
    pub sha256_of_onion: [u8; 32],
    /// The failure code (must have the `BADONION` bit; checked by the channel).
    pub failure_code: u16,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for UpdateFailMalformedHtlc {
    const TYPE: u16 = 135;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            channel_id: r.read_channel_id()?,
            id: r.read_u64()?,
            sha256_of_onion: r.read_array()?,
            failure_code: r.read_u16()?,
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u64(self.id);
        w.write_bytes(&self.sha256_of_onion);
        w.write_u16(self.failure_code);
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}

/// `commitment_signed` (type 132).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentSigned {
    /// The channel.
    pub channel_id: ChannelId,
    /// Signature of the receiver's new commitment transaction.
    pub signature: Signature,
    /// One signature per HTLC transaction, in output order.
    pub htlc_signatures: Vec<Signature>,
    /// TLV 1 `funding_txid`: which funding (splice) this signs for.
    pub funding_txid: Option<Txid>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for CommitmentSigned {
    const TYPE: u16 = 132;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = r.read_channel_id()?;
        let signature = r.read_signature()?;
        let n = usize::from(r.read_u16()?);
        // Check the length before allocating for the signatures.
        if n * 64 > r.remaining() {
            return Err(WireError::Truncated);
        }
        let mut htlc_signatures = Vec::with_capacity(n);
        for _ in 0..n {
            htlc_signatures.push(r.read_signature()?);
        }
        let mut funding_txid = None;
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            if ty != 1 {
                return Ok(false);
            }
            funding_txid = Some(v.read_txid()?);
            Ok(true)
        })?;
        Ok(Self {
            channel_id,
            signature,
            htlc_signatures,
            funding_txid,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_signature(&self.signature);
        let n = self.htlc_signatures.len();
        w.write_u16(u16::try_from(n).map_err(|_| WireError::FieldTooLong(n))?);
        self.htlc_signatures
            .iter()
            .for_each(|s| w.write_signature(s));
        let mut t = TlvBuilder::new();
        if let Some(txid) = &self.funding_txid {
            t.record_with(1, |w| w.write_txid(txid));
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}

/// `revoke_and_ack` (type 133).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeAndAck {
    /// The channel.
    pub channel_id: ChannelId,
    /// The secret of the commitment being revoked (redacted in `Debug`).
    pub per_commitment_secret: PerCommitmentSecret,
    /// The point for the sender's next commitment.
    pub next_per_commitment_point: PublicKey,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for RevokeAndAck {
    const TYPE: u16 = 133;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            channel_id: r.read_channel_id()?,
            per_commitment_secret: PerCommitmentSecret(r.read_array()?),
            next_per_commitment_point: r.read_point()?,
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_bytes(&self.per_commitment_secret.0);
        w.write_point(&self.next_per_commitment_point);
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}

/// `update_fee` (type 134).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFee {
    /// The channel.
    pub channel_id: ChannelId,
    /// The new commitment fee rate.
    pub feerate_per_kw: u32,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for UpdateFee {
    const TYPE: u16 = 134;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            channel_id: r.read_channel_id()?,
            feerate_per_kw: r.read_u32()?,
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u32(self.feerate_per_kw);
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}
