//! BOLT 1 setup and control messages: `init`, `error`, `warning`, `ping`,
//! `pong`, `peer_storage`, `peer_storage_retrieval`.

use bitcoin::constants::ChainHash;
use fulmen_types::ChannelId;

use crate::address::NetAddress;
use crate::codec::{Reader, Writer};
use crate::error::WireError;
use crate::tlv::{self, RawTlv, TlvBuilder};
use crate::types::{read_extension, WireFeatures, WireMessage};

/// `init` (type 16): the first message on every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    /// `globalfeatures` (legacy; to be ORed into `features`).
    pub global_features: WireFeatures,
    /// `features`.
    pub features: WireFeatures,
    /// TLV 1 `networks`: the chains the node is interested in.
    pub networks: Option<Vec<ChainHash>>,
    /// TLV 3 `remote_addr`: the address the sender sees us at.
    pub remote_addr: Option<NetAddress>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for Init {
    const TYPE: u16 = 16;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let global_features = WireFeatures::from_wire(r.read_u16_prefixed()?);
        let features = WireFeatures::from_wire(r.read_u16_prefixed()?);
        let (mut networks, mut remote_addr) = (None, None);
        let unknown_tlvs = tlv::decode_stream(r.read_rest(), |ty, v| {
            match ty {
                1 => {
                    let rest = v.read_rest();
                    if rest.len() % 32 != 0 {
                        return Err(WireError::TlvBadValue { ty });
                    }
                    let mut chains = Vec::with_capacity(rest.len() / 32);
                    let mut c = Reader::new(rest);
                    while !c.is_empty() {
                        chains.push(c.read_chain_hash()?);
                    }
                    networks = Some(chains);
                }
                3 => {
                    remote_addr =
                        Some(NetAddress::read(v).map_err(|_| WireError::TlvBadValue { ty })?)
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Self {
            global_features,
            features,
            networks,
            remote_addr,
            unknown_tlvs,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_u16_prefixed(&self.global_features.to_wire())?;
        w.write_u16_prefixed(&self.features.to_wire())?;
        let mut t = TlvBuilder::new();
        if let Some(n) = &self.networks {
            t.record_with(1, |w| n.iter().for_each(|c| w.write_chain_hash(c)));
        }
        if let Some(a) = &self.remote_addr {
            t.record_with(3, |w| a.write(w));
        }
        t.extend_unknown(&self.unknown_tlvs).write_to(w);
        Ok(())
    }
}

macro_rules! channel_text_message {
    ($name:ident, $ty:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The channel, or all zeros for every channel with the peer.
            pub channel_id: ChannelId,
            /// Diagnostic data; print only if it is printable ASCII.
            pub data: Vec<u8>,
            /// Unknown odd TLV records.
            pub unknown_tlvs: Vec<RawTlv>,
        }

        impl WireMessage for $name {
            const TYPE: u16 = $ty;

            fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
                Ok(Self {
                    channel_id: r.read_channel_id()?,
                    data: r.read_u16_prefixed()?.to_vec(),
                    unknown_tlvs: read_extension(r)?,
                })
            }

            fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
                w.write_bytes(&self.channel_id.0);
                w.write_u16_prefixed(&self.data)?;
                tlv::write_unknown(w, &self.unknown_tlvs);
                Ok(())
            }
        }

        impl $name {
            /// Whether the message refers to every channel (all-zero id).
            pub fn is_all_channels(&self) -> bool {
                self.channel_id.0 == [0; 32]
            }

            /// `data` as text if it is entirely printable ASCII (BOLT 1: do
            /// not print it verbatim otherwise).
            pub fn printable_data(&self) -> Option<&str> {
                if self.data.iter().all(|b| (32..=126).contains(b)) {
                    core::str::from_utf8(&self.data).ok()
                } else {
                    None
                }
            }
        }
    };
}

channel_text_message!(
    ErrorMessage,
    17,
    "`error` (type 17): the sender fails the channel (or all channels)."
);
channel_text_message!(
    WarningMessage,
    1,
    "`warning` (type 1): something is wrong, but the channel stays open."
);

/// `ping` (type 18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// How many bytes the `pong` must carry (none if 65532 or more: ignore).
    pub num_pong_bytes: u16,
    /// Padding.
    pub ignored: Vec<u8>,
    /// Unknown odd TLV records.
    pub unknown_tlvs: Vec<RawTlv>,
}

impl WireMessage for Ping {
    const TYPE: u16 = 18;

    fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            num_pong_bytes: r.read_u16()?,
            ignored: r.read_u16_prefixed()?.to_vec(),
            unknown_tlvs: read_extension(r)?,
        })
    }

    fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
        w.write_u16(self.num_pong_bytes);
        w.write_u16_prefixed(&self.ignored)?;
        tlv::write_unknown(w, &self.unknown_tlvs);
        Ok(())
    }
}

macro_rules! blob_message {
    ($name:ident, $ty:literal, $field:ident, $doc:literal, $fdoc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            #[doc = $fdoc]
            pub $field: Vec<u8>,
            /// Unknown odd TLV records.
            pub unknown_tlvs: Vec<RawTlv>,
        }

        impl WireMessage for $name {
            const TYPE: u16 = $ty;

            fn read_payload(r: &mut Reader<'_>) -> Result<Self, WireError> {
                Ok(Self {
                    $field: r.read_u16_prefixed()?.to_vec(),
                    unknown_tlvs: read_extension(r)?,
                })
            }

            fn write_payload(&self, w: &mut Writer) -> Result<(), WireError> {
                w.write_u16_prefixed(&self.$field)?;
                tlv::write_unknown(w, &self.unknown_tlvs);
                Ok(())
            }
        }
    };
}

blob_message!(
    Pong,
    19,
    ignored,
    "`pong` (type 19): the reply to `ping`.",
    "Padding of `num_pong_bytes` bytes."
);
blob_message!(
    PeerStorage,
    7,
    blob,
    "`peer_storage` (type 7): an encrypted blob the peer asks us to keep.",
    "The blob (at most 65531 bytes)."
);
blob_message!(
    PeerStorageRetrieval,
    9,
    blob,
    "`peer_storage_retrieval` (type 9): the last blob we stored for the peer.",
    "The blob."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_shown_only_if_printable() {
        let mut e = ErrorMessage {
            channel_id: ChannelId([0; 32]),
            data: b"bad sig".to_vec(),
            unknown_tlvs: vec![],
        };
        assert!(e.is_all_channels());
        assert_eq!(e.printable_data(), Some("bad sig"));
        e.data.push(0);
        assert_eq!(e.printable_data(), None);
    }

    #[test]
    fn init_networks_must_be_whole_hashes() {
        let mut p = vec![0, 0, 0, 0, 1, 33];
        p.extend([0u8; 33]);
        assert_eq!(
            Init::decode_payload(&p),
            Err(WireError::TlvBadValue { ty: 1 }.in_message(16))
        );
    }
}
