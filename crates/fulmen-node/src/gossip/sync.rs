//! Our initial gossip sync by range queries (BOLT 7 "Query Messages"), with
//! one peer at a time, as LND and Core Lightning do: `query_channel_range`
//! over every block (asking for `channel_update` timestamps), then the
//! channels we lack — or whose updates the peer has newer — asked for with
//! `query_short_channel_ids`, [`SCIDS_PER_QUERY`] at a time, the next only
//! once `reply_short_channel_ids_end` answered the last (the BOLT's one
//! query in flight). The peer then sends those announcements and updates,
//! handled like any gossip.
//!
//! Pure: the gossip thread feeds it the peer's replies and sends what it
//! returns. A hostile peer can make it ask for at most [`MAX_WANTED`]
//! channels; one silent for [`STALL_SECS`] is given up (the gossip thread
//! then asks it for everything by timestamp filter).

use fulmen_types::{NodeId, ShortChannelId};
use fulmen_wire::gossip_query::QUERY_OPTION_TIMESTAMPS;
use fulmen_wire::{
    DirectionPair, Message, QueryChannelRange, QueryShortChannelIds, ReplyChannelRange,
};

use bitcoin::constants::ChainHash;

/// Channels asked for in one `query_short_channel_ids` (8 bytes each).
pub const SCIDS_PER_QUERY: usize = 1_000;

/// Most channels one sync asks for (mainnet has fewer than 100,000).
pub const MAX_WANTED: usize = 200_000;

/// Seconds without an answer after which a sync is given up.
pub const STALL_SECS: u64 = 120;

/// A range sync in progress with one peer.
#[derive(Debug)]
pub struct RangeSync {
    peer: NodeId,
    /// Unix seconds of the last query or answer.
    last_activity: u64,
    chain: ChainHash,
    /// Channels to ask for, not asked yet.
    wanted: Vec<ShortChannelId>,
    /// A `query_short_channel_ids` waits for its end.
    in_flight: bool,
    /// The replies cover every block.
    ranges_done: bool,
    /// Channels asked for so far.
    asked: usize,
}

impl RangeSync {
    /// A sync with `peer` started at `now`, and the `query_channel_range`
    /// that starts it.
    pub fn start(peer: NodeId, chain: ChainHash, now: u64) -> (Self, Message) {
        let query = Message::QueryChannelRange(QueryChannelRange {
            chain_hash: chain,
            first_blocknum: 0,
            number_of_blocks: u32::MAX,
            query_option: Some(QUERY_OPTION_TIMESTAMPS),
            unknown_tlvs: Vec::new(),
        });
        let sync = Self {
            peer,
            last_activity: now,
            chain,
            wanted: Vec::new(),
            in_flight: false,
            ranges_done: false,
            asked: 0,
        };
        (sync, query)
    }

    /// The peer it syncs with.
    pub fn peer(&self) -> NodeId {
        self.peer
    }

    /// Channels asked for so far.
    pub fn asked(&self) -> usize {
        self.asked
    }

    /// Whether the peer has been silent on it for [`STALL_SECS`] at `now`.
    pub fn stalled(&self, now: u64) -> bool {
        now > self.last_activity.saturating_add(STALL_SECS)
    }

    /// The peer answered at `now`.
    pub fn heard(&mut self, now: u64) {
        self.last_activity = now;
    }

    /// Whether everything wanted was asked for and answered.
    pub fn finished(&self) -> bool {
        self.ranges_done && !self.in_flight && self.wanted.is_empty()
    }

    /// A `reply_channel_range` from the peer. `needs(scid, timestamps)`
    /// tells whether we lack the channel or have older updates than the
    /// peer's timestamps (when it sent them). Returns the next query to
    /// send, if one is due.
    pub fn on_reply_range(
        &mut self,
        r: &ReplyChannelRange,
        needs: impl Fn(ShortChannelId, Option<DirectionPair>) -> bool,
    ) -> Option<Message> {
        if r.chain_hash != self.chain || self.ranges_done {
            return None;
        }
        for (i, scid) in r.short_channel_ids.iter().enumerate() {
            if self.wanted.len() >= MAX_WANTED {
                break;
            }
            let stamps = r.timestamps.as_ref().and_then(|t| t.get(i).copied());
            if needs(*scid, stamps) {
                self.wanted.push(*scid);
            }
        }
        // The last reply is the one reaching the query's end (BOLT 7;
        // `sync_complete` only says whether the peer's view is complete).
        let end = r.first_blocknum.saturating_add(r.number_of_blocks);
        if end == u32::MAX {
            self.ranges_done = true;
            // Lowest first: announcements arrive in block order.
            self.wanted.sort_unstable();
            self.wanted.dedup();
        }
        self.next_query()
    }

    /// A `reply_short_channel_ids_end` from the peer: the next query, if
    /// any is left.
    pub fn on_reply_end(&mut self) -> Option<Message> {
        self.in_flight = false;
        self.next_query()
    }

    fn next_query(&mut self) -> Option<Message> {
        if !self.ranges_done || self.in_flight || self.wanted.is_empty() {
            return None;
        }
        let n = self.wanted.len().min(SCIDS_PER_QUERY);
        let chunk: Vec<ShortChannelId> = self.wanted.drain(..n).collect();
        self.asked += chunk.len();
        self.in_flight = true;
        Some(Message::QueryShortChannelIds(QueryShortChannelIds {
            chain_hash: self.chain,
            short_channel_ids: chunk,
            query_flags: None,
            unknown_tlvs: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use bitcoin::Network;

    fn chain() -> ChainHash {
        ChainHash::using_genesis_block(Network::Regtest)
    }

    fn scid(block: u64) -> ShortChannelId {
        ShortChannelId((block << 40) | (1 << 16))
    }

    fn reply(first: u32, number: u32, complete: u8, blocks: &[u64]) -> ReplyChannelRange {
        ReplyChannelRange {
            chain_hash: chain(),
            first_blocknum: first,
            number_of_blocks: number,
            sync_complete: complete,
            short_channel_ids: blocks.iter().map(|b| scid(*b)).collect(),
            timestamps: None,
            checksums: None,
            unknown_tlvs: Vec::new(),
        }
    }

    fn asked(m: Option<Message>) -> Vec<ShortChannelId> {
        match m {
            Some(Message::QueryShortChannelIds(q)) => q.short_channel_ids,
            other => panic!("expected a query, got {other:?}"),
        }
    }

    #[test]
    fn asks_for_every_block_then_for_what_it_lacks_one_query_at_a_time() {
        let peer = NodeId([2; 33]);
        let (mut s, first) = RangeSync::start(peer, chain(), 0);
        let Message::QueryChannelRange(q) = first else {
            panic!("{first:?}");
        };
        assert_eq!((q.first_blocknum, q.number_of_blocks), (0, u32::MAX));
        assert_eq!(q.query_option, Some(QUERY_OPTION_TIMESTAMPS));

        // Two replies; we know block 101's channel already.
        let known = |s: ShortChannelId, _| s != scid(101);
        let blocks: Vec<u64> = (100..100 + SCIDS_PER_QUERY as u64 + 5).collect();
        let (a, b) = blocks.split_at(700);
        assert!(s.on_reply_range(&reply(0, 800, 1, a), known).is_none());
        // The last reply reaches the end, `sync_complete` 0 or not.
        let next = s.on_reply_range(&reply(800, u32::MAX - 800, 0, b), known);
        let first = asked(next);
        assert_eq!(first.len(), SCIDS_PER_QUERY);
        assert_eq!(first[0], scid(100));
        assert!(!first.contains(&scid(101)));
        // One in flight: nothing more until its end.
        assert!(s.on_reply_range(&reply(0, 10, 1, &[5]), known).is_none());
        let rest = asked(s.on_reply_end());
        assert_eq!(rest.len(), 4);
        assert!(!s.finished());
        assert!(s.on_reply_end().is_none());
        assert!(s.finished());
        assert_eq!(s.asked(), SCIDS_PER_QUERY + 4);
    }

    #[test]
    fn newer_timestamps_make_a_known_channel_wanted_and_the_wanted_list_is_bounded() {
        let (mut s, _) = RangeSync::start(NodeId([2; 33]), chain(), 0);
        let mut r = reply(0, u32::MAX, 1, &[7, 8]);
        r.timestamps = Some(vec![
            DirectionPair {
                node_1: 10,
                node_2: 0,
            },
            DirectionPair {
                node_1: 50,
                node_2: 0,
            },
        ]);
        // We hold updates stamped 20: only block 8's is newer.
        let needs = |_, t: Option<DirectionPair>| t.is_some_and(|t| t.node_1 > 20);
        assert_eq!(asked(s.on_reply_range(&r, needs)), vec![scid(8)]);

        let (mut s, _) = RangeSync::start(NodeId([2; 33]), chain(), 0);
        let many: Vec<u64> = (1..=(MAX_WANTED as u64 + 10)).collect();
        let mut r = reply(0, u32::MAX, 1, &[]);
        r.short_channel_ids = many.iter().map(|b| ShortChannelId(*b)).collect();
        let _ = s.on_reply_range(&r, |_, _| true);
        let mut total = SCIDS_PER_QUERY;
        while let Some(m) = s.on_reply_end() {
            total += asked(Some(m)).len();
        }
        assert_eq!(total, MAX_WANTED);
    }

    #[test]
    fn a_silent_peer_stalls_the_sync() {
        let (mut s, _) = RangeSync::start(NodeId([2; 33]), chain(), 1_000);
        assert!(!s.stalled(1_000 + STALL_SECS));
        assert!(s.stalled(1_001 + STALL_SECS));
        s.heard(1_100);
        assert!(!s.stalled(1_001 + STALL_SECS));
    }

    #[test]
    fn replies_for_another_chain_are_ignored() {
        let (mut s, _) = RangeSync::start(NodeId([2; 33]), chain(), 0);
        let mut r = reply(0, u32::MAX, 1, &[7]);
        r.chain_hash = ChainHash::using_genesis_block(Network::Bitcoin);
        assert!(s.on_reply_range(&r, |_, _| true).is_none());
        assert!(!s.finished());
    }
}
