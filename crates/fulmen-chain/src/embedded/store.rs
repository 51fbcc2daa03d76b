//! Persistence: an append-only log of blocks (and of block invalidations) in `blocks.dat` in the
//! chain's datadir, replayed on open. The UTXO set, indexes and mempool are not stored: they are
//! rebuilt by replaying (and re-validating) every block, which is fine at regtest scale.
//!
//! Record layout: `kind: u8 | len: u32 LE | payload | checksum: first 4 bytes of sha256d(payload)`.
//! Kinds: 0 = consensus-encoded block, 1 = invalidate block (32-byte hash), 2 = reconsider block
//! (32-byte hash). Each append is followed by `fsync`. A torn record at the end of the file (a
//! crash mid-append) is cut off on open; a bad record followed by more data is corruption.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{Block, BlockHash};

use crate::error::{ChainError, CorruptRecord};

/// The block log's file name inside the datadir.
pub const BLOCKS_FILE: &str = "blocks.dat";
/// Largest payload accepted when reading (a block is at most 4 MB serialized).
pub const MAX_RECORD_LEN: u32 = 8_000_000;

const KIND_BLOCK: u8 = 0;
const KIND_INVALIDATE: u8 = 1;
const KIND_RECONSIDER: u8 = 2;

/// A replayed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A block that was accepted.
    Block(Block),
    /// `invalidateblock`.
    Invalidate(BlockHash),
    /// `reconsiderblock`.
    Reconsider(BlockHash),
}

/// Where blocks go.
#[derive(Debug)]
pub enum Store {
    /// Nothing is persisted (tests).
    Memory,
    /// Appends to a file.
    File {
        /// The open log.
        file: File,
        /// Its path.
        path: PathBuf,
    },
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> ChainError {
    move |source| ChainError::Io { op, source }
}

fn checksum(payload: &[u8]) -> [u8; 4] {
    let h = sha256d::Hash::hash(payload).to_byte_array();
    [h[0], h[1], h[2], h[3]]
}

impl Store {
    /// Opens (creating if needed) the log in `datadir` and returns it with its records, in order.
    pub fn open(datadir: &Path) -> Result<(Store, Vec<(u64, Record)>), ChainError> {
        std::fs::create_dir_all(datadir).map_err(io("creating datadir"))?;
        let path = datadir.join(BLOCKS_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io("opening block store"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io("reading block store"))?;
        let (records, good_len) = parse(&bytes)?;
        if good_len < bytes.len() as u64 {
            // Torn final record: cut it off so the next append starts clean.
            file.set_len(good_len)
                .map_err(io("truncating torn record"))?;
            file.sync_all().map_err(io("syncing block store"))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(io("seeking block store"))?;
        Ok((Store::File { file, path }, records))
    }

    /// Appends a block.
    pub fn append_block(&mut self, block: &Block) -> Result<(), ChainError> {
        self.append(KIND_BLOCK, &bitcoin::consensus::serialize(block))
    }

    /// Appends an invalidation.
    pub fn append_invalidate(&mut self, hash: &BlockHash) -> Result<(), ChainError> {
        self.append(KIND_INVALIDATE, hash.as_byte_array())
    }

    /// Appends a reconsideration.
    pub fn append_reconsider(&mut self, hash: &BlockHash) -> Result<(), ChainError> {
        self.append(KIND_RECONSIDER, hash.as_byte_array())
    }

    /// The log's path, if persisted.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Store::Memory => None,
            Store::File { path, .. } => Some(path),
        }
    }

    fn append(&mut self, kind: u8, payload: &[u8]) -> Result<(), ChainError> {
        let Store::File { file, .. } = self else {
            return Ok(());
        };
        let len = u32::try_from(payload.len())
            .map_err(|_| ChainError::InvalidArgument("record too large"))?;
        let mut rec = Vec::with_capacity(payload.len() + 9);
        rec.push(kind);
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(payload);
        rec.extend_from_slice(&checksum(payload));
        file.write_all(&rec)
            .map_err(io("appending to block store"))?;
        file.sync_data().map_err(io("syncing block store"))
    }
}

/// Parses a log. Returns the records with their offsets, and the length of the well-formed
/// prefix (shorter than the input when the last record is torn).
pub fn parse(bytes: &[u8]) -> Result<(Vec<(u64, Record)>, u64), ChainError> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let offset = pos as u64;
        let corrupt = |problem| ChainError::Corrupt { offset, problem };
        let Some(head) = bytes.get(pos..pos + 5) else {
            break;
        };
        let kind = head.first().copied().unwrap_or(0);
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(head.get(1..5).unwrap_or(&[0; 4]));
        let len = u32::from_le_bytes(len_bytes);
        if len > MAX_RECORD_LEN {
            return Err(corrupt(CorruptRecord::Decode));
        }
        let end = pos + 5 + len as usize + 4;
        let Some(rec) = bytes.get(pos + 5..end) else {
            break;
        }; // torn at the end
        let (payload, sum) = rec.split_at(len as usize);
        if checksum(payload) != sum {
            if end == bytes.len() {
                break; // torn last record
            }
            return Err(corrupt(CorruptRecord::Checksum));
        }
        let record = match kind {
            KIND_BLOCK => Record::Block(
                bitcoin::consensus::deserialize(payload)
                    .map_err(|_| corrupt(CorruptRecord::Decode))?,
            ),
            KIND_INVALIDATE | KIND_RECONSIDER => {
                let hash =
                    BlockHash::from_slice(payload).map_err(|_| corrupt(CorruptRecord::Decode))?;
                if kind == KIND_INVALIDATE {
                    Record::Invalidate(hash)
                } else {
                    Record::Reconsider(hash)
                }
            }
            other => return Err(corrupt(CorruptRecord::UnknownKind(other))),
        };
        records.push((offset, record));
        pos = end;
    }
    Ok((records, pos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::blockdata::constants::genesis_block;
    use bitcoin::Network;

    #[test]
    fn round_trip_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let g = genesis_block(Network::Regtest);
        {
            let (mut s, recs) = Store::open(dir.path()).unwrap();
            assert!(recs.is_empty());
            s.append_block(&g).unwrap();
            s.append_invalidate(&g.block_hash()).unwrap();
            s.append_reconsider(&g.block_hash()).unwrap();
        }
        let path = dir.path().join(BLOCKS_FILE);
        let full = std::fs::read(&path).unwrap();
        // Simulate a crash mid-append.
        let mut torn = full.clone();
        torn.extend_from_slice(&[0, 50, 0, 0, 0, 1, 2, 3]);
        std::fs::write(&path, &torn).unwrap();
        let (_s, recs) = Store::open(dir.path()).unwrap();
        assert_eq!(
            recs.into_iter().map(|r| r.1).collect::<Vec<_>>(),
            vec![
                Record::Block(g.clone()),
                Record::Invalidate(g.block_hash()),
                Record::Reconsider(g.block_hash())
            ]
        );
        assert_eq!(std::fs::read(&path).unwrap(), full, "torn tail cut off");
    }

    #[test]
    fn corruption_in_the_middle_is_an_error() {
        let g = genesis_block(Network::Regtest);
        let payload = bitcoin::consensus::serialize(&g);
        let mut rec = vec![KIND_BLOCK];
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&payload);
        rec.extend_from_slice(&checksum(&payload));
        let mut bytes = rec.clone();
        bytes.extend_from_slice(&rec);
        bytes[10] ^= 1;
        assert!(matches!(
            parse(&bytes),
            Err(ChainError::Corrupt {
                offset: 0,
                problem: CorruptRecord::Checksum
            })
        ));
        let mut unknown = rec.clone();
        unknown[0] = 9;
        assert!(matches!(
            parse(&unknown),
            Err(ChainError::Corrupt {
                problem: CorruptRecord::UnknownKind(9),
                ..
            })
        ));
        let huge = [0u8, 0xff, 0xff, 0xff, 0xff];
        assert!(parse(&huge).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(&bytes);
        }
    }
}
