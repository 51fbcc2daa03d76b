//! BOLT 7 gossip queries: `query_short_channel_ids`,
//! `reply_short_channel_ids_end`, `query_channel_range`,
//! `reply_channel_range`, `gossip_timestamp_filter`.
//!
//! `encoded_` arrays start with an encoding byte. Only encoding 0
//! (uncompressed) exists: 1 was zlib and "MUST NOT be used", so it is
//! rejected like any unknown encoding ([`WireError::UnknownEncoding`],
//! reaction [`crate::Reaction::Warn`]). Whether the number of flags,
//! timestamps or checksums matches the number of short channel ids is a
//! semantic check left to the gossip layer (BOLT 7: MAY warn).

use bitcoin::constants::ChainHash;
use fulmen_types::ShortChannelId;

use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::tlv::{self, RawTlv, TlvBuilder};
use crate::types::{read_extension, WireMessage};

/// The only allowed encoding of `encoded_` arrays: uncompressed.
pub const ENCODING_UNCOMPRESSED: u8 = 0;

fn read_encoding(r: &mut Reader<'_>) -> Result<(), WireError> {
    match r.read_u8().map_err(|_| WireError::BadEncodedArray)? {
        ENCODING_UNCOMPRESSED => Ok(()),
        e => Err(WireError::UnknownEncoding(e)),
    }
}

/// Reads `n` fixed-size items filling `r` exactly.
fn read_items<T>(
    r: &mut Reader<'_>,
    size: usize,
    mut item: impl FnMut(&mut Reader<'_>) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    if r.remaining() % size != 0 {
        return Err(WireError::BadEncodedArray);
    }
    let mut out = Vec::with_capacity(r.remaining() / size);
    while !r.is_empty() {
        out.push(item(r)?);
    }
    Ok(out)
}

fn read_encoded_scids(bytes: &[u8]) -> Result<Vec<ShortChannelId>, WireError> {
    let mut r = Reader::new(bytes);
    read_encoding(&mut r)?;
    read_items(&mut r, 8, |r| r.read_short_channel_id())
}

fn encode_scids(scids: &[ShortChannelId]) -> Vec<u8> {
    let mut w = Writer::with_capacity(1 + 8 * scids.len());
    w.write_u8(ENCODING_UNCOMPRESSED);
    scids.iter().for_each(|s| w.write_u64(s.0));
    w.into_bytes()
}

/// `query_short_channel_ids` (type 261).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryShortChannelIds {
    /// The chain.
    pub chain_hash: ChainHash,
    /// The channels asked about (`encoded_short_ids`).
    pub short_channel_ids: Vec<ShortChannelId>,
    /// TLV 1 `query_flags`: one bitfield per short channel id.
    pub query_flags: Option<Vec<u64>>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for QueryShortChannelIds {
    const TYPE: u16 = 261;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let chain_hash = r.read_chain_hash()?;
        let short_channel_ids = read_encoded_scids(r.read_u16_prefixed()?)?;
        let mut query_flags = None;
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            if ty != 1 {
                return Ok(false);
            }
            read_encoding(v)?;
            let mut flags = Vec::new();
            while !v.is_empty() {
                flags.push(v.read_bigsize()?);
            }
            query_flags = Some(flags);
            Ok(true)
        })?;
        Ok(Self {
            chain_hash,
            short_channel_ids,
            query_flags,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_chain_hash(&self.chain_hash);
        w.write_u16_prefixed(&encode_scids(&self.short_channel_ids))?;
        let mut t = TlvBuilder::new();
        if let Some(flags) = &self.query_flags {
            t.record_with(1, |w| {
                w.write_u8(ENCODING_UNCOMPRESSED);
                flags.iter().for_each(|f| w.write_bigsize(*f));
            });
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}

/// `reply_short_channel_ids_end` (type 262).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyShortChannelIdsEnd {
    /// The chain.
    pub chain_hash: ChainHash,
    /// `full_information`: 0 if the sender lacks up-to-date information.
    pub full_information: u8,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for ReplyShortChannelIdsEnd {
    const TYPE: u16 = 262;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            chain_hash: r.read_chain_hash()?,
            full_information: r.read_u8()?,
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_chain_hash(&self.chain_hash);
        w.write_u8(self.full_information);
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}

/// `query_option` bit 0: the sender wants timestamps.
pub const QUERY_OPTION_TIMESTAMPS: u64 = 1;
/// `query_option` bit 1: the sender wants checksums.
pub const QUERY_OPTION_CHECKSUMS: u64 = 2;

/// `query_channel_range` (type 263).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryChannelRange {
    /// The chain.
    pub chain_hash: ChainHash,
    /// The first block asked about.
    pub first_blocknum: u32,
    /// How many blocks.
    pub number_of_blocks: u32,
    /// TLV 1 `query_option` flags ([`QUERY_OPTION_TIMESTAMPS`],
    /// [`QUERY_OPTION_CHECKSUMS`]).
    pub query_option: Option<u64>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for QueryChannelRange {
    const TYPE: u16 = 263;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let chain_hash = r.read_chain_hash()?;
        let first_blocknum = r.read_u32()?;
        let number_of_blocks = r.read_u32()?;
        let mut query_option = None;
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            if ty != 1 {
                return Ok(false);
            }
            query_option = Some(v.read_bigsize()?);
            Ok(true)
        })?;
        Ok(Self {
            chain_hash,
            first_blocknum,
            number_of_blocks,
            query_option,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_chain_hash(&self.chain_hash);
        w.write_u32(self.first_blocknum);
        w.write_u32(self.number_of_blocks);
        let mut t = TlvBuilder::new();
        if let Some(o) = self.query_option {
            t.record_with(1, |w| w.write_bigsize(o));
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}

/// A pair of per-direction values (timestamps or checksums) for one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectionPair {
    /// For the `channel_update` of `node_id_1` (0 if none).
    pub node_1: u32,
    /// For the `channel_update` of `node_id_2` (0 if none).
    pub node_2: u32,
}

impl DirectionPair {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            node_1: r.read_u32()?,
            node_2: r.read_u32()?,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.write_u32(self.node_1);
        w.write_u32(self.node_2);
    }
}

/// `reply_channel_range` (type 264).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyChannelRange {
    /// The chain.
    pub chain_hash: ChainHash,
    /// The first block covered.
    pub first_blocknum: u32,
    /// How many blocks are covered.
    pub number_of_blocks: u32,
    /// `sync_complete`: 1 on the final reply.
    pub sync_complete: u8,
    /// The channels in the range (`encoded_short_ids`).
    pub short_channel_ids: Vec<ShortChannelId>,
    /// TLV 1 `timestamps_tlv`: `channel_update` timestamps per channel.
    pub timestamps: Option<Vec<DirectionPair>>,
    /// TLV 3 `checksums_tlv`: `channel_update` CRC32C checksums per channel.
    pub checksums: Option<Vec<DirectionPair>>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for ReplyChannelRange {
    const TYPE: u16 = 264;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let chain_hash = r.read_chain_hash()?;
        let first_blocknum = r.read_u32()?;
        let number_of_blocks = r.read_u32()?;
        let sync_complete = r.read_u8()?;
        let short_channel_ids = read_encoded_scids(r.read_u16_prefixed()?)?;
        let (mut timestamps, mut checksums) = (None, None);
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            match ty {
                1 => {
                    read_encoding(v)?;
                    timestamps = Some(read_items(v, 8, DirectionPair::read)?);
                }
                3 => checksums = Some(read_items(v, 8, DirectionPair::read)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Self {
            chain_hash,
            first_blocknum,
            number_of_blocks,
            sync_complete,
            short_channel_ids,
            timestamps,
            checksums,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_chain_hash(&self.chain_hash);
        w.write_u32(self.first_blocknum);
        w.write_u32(self.number_of_blocks);
        w.write_u8(self.sync_complete);
        w.write_u16_prefixed(&encode_scids(&self.short_channel_ids))?;
        let mut t = TlvBuilder::new();
        if let Some(ts) = &self.timestamps {
            t.record_with(1, |w| {
                w.write_u8(ENCODING_UNCOMPRESSED);
                ts.iter().for_each(|p| p.write(w));
            });
        }
        if let Some(cs) = &self.checksums {
            t.record_with(3, |w| cs.iter().for_each(|p| p.write(w)));
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}

/// `gossip_timestamp_filter` (type 265).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipTimestampFilter {
    /// The chain.
    pub chain_hash: ChainHash,
    /// The first timestamp wanted.
    pub first_timestamp: u32,
    /// How many seconds from `first_timestamp`.
    pub timestamp_range: u32,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for GossipTimestampFilter {
    const TYPE: u16 = 265;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            chain_hash: r.read_chain_hash()?,
            first_timestamp: r.read_u32()?,
            timestamp_range: r.read_u32()?,
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_chain_hash(&self.chain_hash);
        w.write_u32(self.first_timestamp);
        w.write_u32(self.timestamp_range);
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}
