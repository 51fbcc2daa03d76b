//! The stored form of a revoked peer commitment (for the penalty path): the
//! `record` blob of the store's `revoked_commitments` table.
//!
//! Version 1, big endian: `u8` version, `u64` commitment number, 32-byte
//! txid, `u8` has-to_local then (`u32` index, `u64` sat), `u16`
//! to_self_delay, 32-byte per-commitment secret, `u16` HTLC count, then per
//! HTLC: `u32` output index, `u8` direction (0 offered, 1 received, by the
//! commitment's owner), `u64` sat, 32-byte payment hash, `u32` cltv_expiry.

use bitcoin::hashes::Hash;
use bitcoin::Txid;
use fulmen_channel::{RevokedCommitment, RevokedHtlc};
use fulmen_script::shachain::PerCommitmentSecret;
use fulmen_script::HtlcDirection;
use fulmen_types::{PaymentHash, Sat};
use fulmen_wire::codec::{Reader, Writer};
use fulmen_wire::WireError;

const VERSION: u8 = 1;

/// The store row of `record`.
pub fn to_store(record: &RevokedCommitment) -> fulmen_store::RevokedCommitment {
    fulmen_store::RevokedCommitment {
        channel_id: record.channel_id,
        commitment_number: record.commitment_number,
        txid: record.txid.to_byte_array(),
        record: encode(record),
    }
}

/// Encodes `record` (see the module documentation).
pub fn encode(r: &RevokedCommitment) -> Vec<u8> {
    let mut w = Writer::with_capacity(80 + 50 * r.htlcs.len());
    w.write_u8(VERSION);
    w.write_u64(r.commitment_number);
    w.write_txid(&r.txid);
    match r.to_local {
        Some((index, value)) => {
            w.write_u8(1);
            w.write_u32(index);
            w.write_u64(value.0);
        }
        None => w.write_u8(0),
    }
    w.write_u16(r.to_self_delay);
    w.write_bytes(r.per_commitment_secret.as_bytes());
    w.write_u16(u16::try_from(r.htlcs.len()).unwrap_or(u16::MAX));
    for h in r.htlcs.iter().take(usize::from(u16::MAX)) {
        w.write_u32(h.output_index);
        w.write_u8(match h.direction {
            HtlcDirection::Offered => 0,
            HtlcDirection::Received => 1,
        });
        w.write_u64(h.amount.0);
        w.write_bytes(&h.payment_hash.0);
        w.write_u32(h.cltv_expiry);
    }
    w.into_bytes()
}

/// Decodes a record of [`encode`] (`channel_id` given by the row).
pub fn decode(
    channel_id: fulmen_types::ChannelId,
    bytes: &[u8],
) -> Result<RevokedCommitment, WireError> {
    let mut r = Reader::new(bytes);
    if r.read_u8()? != VERSION {
        return Err(WireError::Truncated);
    }
    let commitment_number = r.read_u64()?;
    let txid: Txid = r.read_txid()?;
    let to_local = match r.read_u8()? {
        0 => None,
        _ => Some((r.read_u32()?, Sat(r.read_u64()?))),
    };
    let to_self_delay = r.read_u16()?;
    let per_commitment_secret = PerCommitmentSecret::new(r.read_array()?);
    let n = r.read_u16()?;
    let mut htlcs = Vec::with_capacity(usize::from(n).min(bytes.len() / 49));
    for _ in 0..n {
        htlcs.push(RevokedHtlc {
            output_index: r.read_u32()?,
            direction: if r.read_u8()? == 0 {
                HtlcDirection::Offered
            } else {
                HtlcDirection::Received
            },
            amount: Sat(r.read_u64()?),
            payment_hash: PaymentHash(r.read_array()?),
            cltv_expiry: r.read_u32()?,
        });
    }
    r.finish()?;
    Ok(RevokedCommitment {
        channel_id,
        commitment_number,
        txid,
        to_local,
        to_self_delay,
        htlcs,
        per_commitment_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulmen_types::ChannelId;

    #[test]
    fn records_round_trip() {
        let record = RevokedCommitment {
            channel_id: ChannelId([4; 32]),
            commitment_number: 7,
            txid: Txid::from_byte_array([9; 32]),
            to_local: Some((2, Sat(12_345))),
            to_self_delay: 144,
            htlcs: vec![RevokedHtlc {
                output_index: 3,
                direction: HtlcDirection::Received,
                amount: Sat(5_000),
                payment_hash: PaymentHash([8; 32]),
                cltv_expiry: 800_100,
            }],
            per_commitment_secret: PerCommitmentSecret::new([5; 32]),
        };
        let row = to_store(&record);
        assert_eq!(row.commitment_number, 7);
        assert_eq!(decode(record.channel_id, &row.record).unwrap(), record);
        assert!(decode(record.channel_id, &row.record[..20]).is_err());
        let mut none = record.clone();
        none.to_local = None;
        none.htlcs.clear();
        assert_eq!(decode(none.channel_id, &encode(&none)).unwrap(), none);
    }
}
