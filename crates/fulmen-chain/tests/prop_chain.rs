//! Property test: under random sequences of mining, payments, invalidations and
//! reconsiderations, a follower applying `events_since` always tracks the active chain, and a
//! fresh chain fed the active blocks ends with the same tip, work and UTXO set.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bitcoin::{Amount, BlockHash, OutPoint};
use common::*;
use fulmen_chain::{BlockRef, ChainEvent, ChainSource, EmbeddedChain, EmbeddedConfig};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Mine(u32),
    Pay(u32),
    InvalidateTip,
    ReconsiderLast,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u32..4).prop_map(Op::Mine),
        3 => any::<u32>().prop_map(Op::Pay),
        2 => Just(Op::InvalidateTip),
        1 => Just(Op::ReconsiderLast),
    ]
}

/// Applies the chain's events to a mirror of the active chain, checking their consistency.
fn follow(chain: &EmbeddedChain, mirror: &mut Vec<BlockHash>) {
    loop {
        let known = BlockRef {
            height: mirror.len() as u32 - 1,
            hash: *mirror.last().unwrap(),
        };
        let events = chain.events_since(&known).unwrap();
        if events.is_empty() {
            break;
        }
        let mut connected = false;
        for e in events {
            match e {
                ChainEvent::BlockDisconnected(h, hash) => {
                    assert!(!connected, "disconnects come first");
                    assert_eq!(mirror.len() as u32 - 1, h);
                    assert_eq!(mirror.pop(), Some(hash));
                }
                ChainEvent::BlockConnected(h, block) => {
                    connected = true;
                    assert_eq!(mirror.len() as u32, h);
                    assert_eq!(Some(&block.header.prev_blockhash), mirror.last());
                    mirror.push(block.block_hash());
                }
            }
        }
    }
    assert_eq!(*mirror.last().unwrap(), chain.tip().unwrap().hash);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn follower_and_rebuild_agree(ops in proptest::collection::vec(op(), 1..14)) {
        let w = Wallet::new(40);
        let chain = funded_chain(&w);
        let mut mirror: Vec<BlockHash> =
            (0..=chain.tip().unwrap().height).map(|h| chain.block_hash_at(h).unwrap().unwrap()).collect();
        let mut invalidated: Vec<BlockHash> = Vec::new();
        let mut time = next_time(&chain);
        for op in ops {
            match op {
                Op::Mine(n) => {
                    time += 10;
                    chain.mine(n, &w.spk, time).unwrap();
                }
                Op::Pay(k) => {
                    let tip = chain.tip().unwrap().height;
                    let h = 1 + k % (tip - 99);
                    let coin = coinbase_at(&chain, h);
                    if chain.tx_out(&coin.0, true).unwrap().is_some() {
                        let tx = w.pay(coin, burn_spk(), Amount::from_sat(10_000 + u64::from(k % 1000)));
                        chain.broadcast(&tx).unwrap();
                    }
                }
                Op::InvalidateTip => {
                    if chain.tip().unwrap().height > 101 {
                        invalidated.push(chain.invalidate_tip().unwrap().hash);
                    }
                }
                Op::ReconsiderLast => {
                    if let Some(h) = invalidated.pop() {
                        chain.reconsider_block(&h).unwrap();
                    }
                }
            }
            follow(&chain, &mut mirror);
            // Every mempool transaction is still acceptable on top of the tip... as a set:
            // re-validating each against the chain plus its mempool parents passes.
            for e in chain.mempool_entries().unwrap() {
                for input in &e.tx.input {
                    prop_assert!(chain.tx_out(&input.previous_output, false).unwrap().is_some()
                        || chain.in_mempool(&input.previous_output.txid).unwrap());
                }
            }
        }
        // Rebuild from the active blocks alone.
        let fresh = EmbeddedChain::in_memory(EmbeddedConfig::default());
        for hash in mirror.iter().skip(1) {
            fresh.submit_block(chain.block(hash).unwrap().unwrap()).unwrap();
        }
        let (a, b) = (chain.chain_info().unwrap(), fresh.chain_info().unwrap());
        prop_assert_eq!(a.tip, b.tip);
        prop_assert_eq!(a.chainwork, b.chainwork);
        prop_assert_eq!(a.utxo_count, b.utxo_count);
        for hash in mirror.iter().rev().take(5) {
            for tx in chain.block(hash).unwrap().unwrap().txdata {
                for vout in 0..tx.output.len() as u32 {
                    let op = OutPoint { txid: tx.compute_txid(), vout };
                    prop_assert_eq!(chain.get_tx_out(&op).unwrap(), fresh.get_tx_out(&op).unwrap());
                }
            }
        }
    }
}
