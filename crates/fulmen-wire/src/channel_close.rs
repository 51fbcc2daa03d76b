//! BOLT 2 channel close (legacy negotiation): `shutdown`, `closing_signed`.

use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::ScriptBuf;
use fulmen_types::{ChannelId, Sat};

use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::tlv::{self, RawTlv, TlvBuilder};
use crate::types::{read_extension, WireMessage};

/// `shutdown` (type 38).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shutdown {
    /// The channel.
    pub channel_id: ChannelId,
    /// Where the sender wants its funds paid (its form is checked by the
    /// channel, against the negotiated features).
    pub scriptpubkey: ScriptBuf,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for Shutdown {
    const TYPE: u16 = 38;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            channel_id: r.read_channel_id()?,
            scriptpubkey: ScriptBuf::from_bytes(r.read_u16_prefixed()?.to_vec()),
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u16_prefixed(self.scriptpubkey.as_bytes())?;
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}

/// TLV 1 `fee_range` of `closing_signed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRange {
    /// `min_fee_satoshis`.
    pub min_fee: Sat,
    /// `max_fee_satoshis`.
    pub max_fee: Sat,
}

/// `closing_signed` (type 39).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosingSigned {
    /// The channel.
    pub channel_id: ChannelId,
    /// `fee_satoshis` of the proposed closing transaction.
    pub fee: Sat,
    /// Signature of that closing transaction.
    pub signature: Signature,
    /// TLV 1 `fee_range`.
    pub fee_range: Option<FeeRange>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for ClosingSigned {
    const TYPE: u16 = 39;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = r.read_channel_id()?;
        let fee = Sat(r.read_u64()?);
        let signature = r.read_signature()?;
        let mut fee_range = None;
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            if ty != 1 {
                return Ok(false);
            }
            fee_range = Some(FeeRange {
                min_fee: Sat(v.read_u64()?),
                max_fee: Sat(v.read_u64()?),
            });
            Ok(true)
        })?;
        Ok(Self {
            channel_id,
            fee,
            signature,
            fee_range,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u64(self.fee.0);
        w.write_signature(&self.signature);
        let mut t = TlvBuilder::new();
        if let Some(f) = &self.fee_range {
            t.record_with(1, |w| {
                w.write_u64(f.min_fee.0);
                w.write_u64(f.max_fee.0);
            });
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}
