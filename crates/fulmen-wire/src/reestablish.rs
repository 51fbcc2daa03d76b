//! BOLT 2 `channel_reestablish`.

use bitcoin::secp256k1::PublicKey;
use bitcoin::Txid;
use fulmen_types::ChannelId;

use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::tlv::{self, RawTlv, TlvBuilder};
use crate::types::{PerCommitmentSecret, WireMessage};

/// A funding transaction and a `retransmit_flags` bitfield, the body of the
/// `next_funding` and `my_current_funding_locked` TLVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingRetransmit {
    /// The funding (or splice) transaction.
    pub txid: Txid,
    /// `retransmit_flags` (see the TLV for the meaning of each bit).
    pub retransmit_flags: u8,
}

impl FundingRetransmit {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            txid: r.read_txid()?,
            retransmit_flags: r.read_u8()?,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.write_txid(&self.txid);
        w.write_u8(self.retransmit_flags);
    }
}

/// `channel_reestablish` (type 136).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelReestablish {
    /// The channel.
    pub channel_id: ChannelId,
    /// The commitment number of the next `commitment_signed` expected.
    pub next_commitment_number: u64,
    /// The commitment number of the next `revoke_and_ack` expected.
    pub next_revocation_number: u64,
    /// The last per-commitment secret received (zeros if none; redacted in
    /// `Debug`).
    pub your_last_per_commitment_secret: PerCommitmentSecret,
    /// The sender's current per-commitment point.
    pub my_current_per_commitment_point: PublicKey,
    /// TLV 1 `next_funding`: an interactive funding whose `tx_signatures`
    /// are missing; flag bit 0 asks for `commitment_signed`.
    pub next_funding: Option<FundingRetransmit>,
    /// TLV 5 `my_current_funding_locked`: the latest locked funding; flag
    /// bit 0 asks for `announcement_signatures`.
    pub my_current_funding_locked: Option<FundingRetransmit>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for ChannelReestablish {
    const TYPE: u16 = 136;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let channel_id = r.read_channel_id()?;
        let next_commitment_number = r.read_u64()?;
        let next_revocation_number = r.read_u64()?;
        let your_last_per_commitment_secret = PerCommitmentSecret(r.read_array()?);
        let my_current_per_commitment_point = r.read_point()?;
        let (mut next_funding, mut locked) = (None, None);
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            match ty {
                1 => next_funding = Some(FundingRetransmit::read(v)?),
                5 => locked = Some(FundingRetransmit::read(v)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Self {
            channel_id,
            next_commitment_number,
            next_revocation_number,
            your_last_per_commitment_secret,
            my_current_per_commitment_point,
            next_funding,
            my_current_funding_locked: locked,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_bytes(&self.channel_id.0);
        w.write_u64(self.next_commitment_number);
        w.write_u64(self.next_revocation_number);
        w.write_bytes(&self.your_last_per_commitment_secret.0);
        w.write_point(&self.my_current_per_commitment_point);
        let mut t = TlvBuilder::new();
        if let Some(f) = &self.next_funding {
            t.record_with(1, |w| f.write(w));
        }
        if let Some(f) = &self.my_current_funding_locked {
            t.record_with(5, |w| f.write(w));
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}
