//! Address descriptors (BOLT 7 `node_announcement`, BOLT 1 `remote_addr`).
//!
//! A descriptor is a 1-byte type and type-specific data. The length of an
//! unknown type cannot be known, so in a list of descriptors the first
//! unknown one ends parsing: it is kept, with every byte after it, as
//! [`NetAddress::Unknown`] (BOLT 7: "SHOULD ignore the first `address
//! descriptor` that does NOT match the types defined above").

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::codec::{Reader, Writer};
use crate::error::WireError;

/// A DNS hostname of at most 255 bytes (BOLT 7 says ASCII, Punycode for the
/// rest; the bytes are kept as received).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hostname(Vec<u8>);

impl Hostname {
    /// The longest hostname a descriptor can carry.
    pub const MAX_LEN: usize = 255;

    /// A hostname, or `None` if longer than 255 bytes.
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() <= Self::MAX_LEN).then_some(Self(bytes))
    }

    /// The hostname bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The hostname as text, if it is ASCII as BOLT 7 requires.
    pub fn as_ascii(&self) -> Option<&str> {
        if self.0.is_ascii() {
            core::str::from_utf8(&self.0).ok()
        } else {
            None
        }
    }
}

/// One address descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NetAddress {
    /// Type 1: IPv4 address and port.
    Ipv4 {
        /// The address.
        addr: Ipv4Addr,
        /// The TCP port.
        port: u16,
    },
    /// Type 2: IPv6 address and port.
    Ipv6 {
        /// The address.
        addr: Ipv6Addr,
        /// The TCP port.
        port: u16,
    },
    /// Type 3: a deprecated Tor v2 onion service (12 bytes, kept only so that
    /// parsing can step over it).
    TorV2([u8; 12]),
    /// Type 4: Tor v3 onion service.
    TorV3 {
        /// `ed25519 pubkey (32) || checksum (2) || version (1)`.
        onion: [u8; 35],
        /// The port.
        port: u16,
    },
    /// Type 5: DNS hostname and port.
    Dns {
        /// The hostname.
        hostname: Hostname,
        /// The TCP port.
        port: u16,
    },
    /// An unknown type, with every byte after it.
    Unknown {
        /// The descriptor type.
        ty: u8,
        /// The bytes after the type byte.
        data: Vec<u8>,
    },
}

impl NetAddress {
    /// The descriptor type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Self::Ipv4 { .. } => 1,
            Self::Ipv6 { .. } => 2,
            Self::TorV2(_) => 3,
            Self::TorV3 { .. } => 4,
            Self::Dns { .. } => 5,
            Self::Unknown { ty, .. } => *ty,
        }
    }

    /// Reads one descriptor. A known type must be complete (else
    /// [`WireError::Truncated`]); an unknown type takes the rest of `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let ty = r.read_u8()?;
        Ok(match ty {
            1 => Self::Ipv4 {
                addr: Ipv4Addr::from(r.read_array::<4>()?),
                port: r.read_u16()?,
            },
            2 => Self::Ipv6 {
                addr: Ipv6Addr::from(r.read_array::<16>()?),
                port: r.read_u16()?,
            },
            3 => Self::TorV2(r.read_array()?),
            4 => Self::TorV3 {
                onion: r.read_array()?,
                port: r.read_u16()?,
            },
            5 => {
                let len = r.read_u8()?;
                let hostname = Hostname(r.read_bytes(usize::from(len))?.to_vec());
                Self::Dns {
                    hostname,
                    port: r.read_u16()?,
                }
            }
            _ => Self::Unknown {
                ty,
                data: r.read_rest().to_vec(),
            },
        })
    }

    /// Writes the descriptor.
    pub fn write(&self, w: &mut Writer) {
        w.write_u8(self.type_byte());
        match self {
            Self::Ipv4 { addr, port } => {
                w.write_bytes(&addr.octets());
                w.write_u16(*port);
            }
            Self::Ipv6 { addr, port } => {
                w.write_bytes(&addr.octets());
                w.write_u16(*port);
            }
            Self::TorV2(b) => w.write_bytes(b),
            Self::TorV3 { onion, port } => {
                w.write_bytes(onion);
                w.write_u16(*port);
            }
            Self::Dns { hostname, port } => {
                // `Hostname` holds at most 255 bytes.
                w.write_u8(u8::try_from(hostname.0.len()).unwrap_or(u8::MAX));
                w.write_bytes(&hostname.0);
                w.write_u16(*port);
            }
            Self::Unknown { data, .. } => w.write_bytes(data),
        }
    }

    /// Reads the `addresses` field of a `node_announcement`: descriptors up
    /// to the end or to the first unknown type. A known descriptor cut short
    /// is [`WireError::BadAddress`] (BOLT 7: SHOULD send a `warning`).
    pub fn read_list(bytes: &[u8]) -> Result<Vec<Self>, WireError> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while !r.is_empty() {
            out.push(Self::read(&mut r).map_err(|_| WireError::BadAddress)?);
        }
        Ok(out)
    }

    /// Writes a list of descriptors. Only the last may be
    /// [`NetAddress::Unknown`] for the list to read back the same.
    pub fn write_list(list: &[Self]) -> Vec<u8> {
        let mut w = Writer::new();
        for a in list {
            a.write(&mut w);
        }
        w.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_stops_at_unknown_type() {
        let bytes = [
            1, 127, 0, 0, 1, 0x26, 0x07, // ipv4 127.0.0.1:9735
            9, 1, 2, 3, // unknown type 9, then anything
        ];
        let list = NetAddress::read_list(&bytes).unwrap();
        assert_eq!(
            list,
            vec![
                NetAddress::Ipv4 {
                    addr: Ipv4Addr::new(127, 0, 0, 1),
                    port: 9735
                },
                NetAddress::Unknown {
                    ty: 9,
                    data: vec![1, 2, 3]
                }
            ]
        );
        assert_eq!(NetAddress::write_list(&list), bytes);
    }

    #[test]
    fn truncated_known_descriptor_is_bad_address() {
        assert_eq!(
            NetAddress::read_list(&[2, 0, 0]),
            Err(WireError::BadAddress)
        );
        assert_eq!(
            NetAddress::read_list(&[5, 3, b'a', b'b']),
            Err(WireError::BadAddress)
        );
    }

    #[test]
    fn hostname_limits() {
        assert!(Hostname::new(vec![b'a'; 256]).is_none());
        let h = Hostname::new(b"example.com".to_vec()).unwrap();
        assert_eq!(h.as_ascii(), Some("example.com"));
        assert_eq!(Hostname::new(vec![0xc3, 0xa9]).unwrap().as_ascii(), None);
    }
}
