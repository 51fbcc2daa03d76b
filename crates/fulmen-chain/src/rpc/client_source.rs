//! The [`ChainSource`] implementation of [`RpcChainClient`]: how each trait method maps onto
//! JSON-RPC calls (see the [`super::client`] module documentation for the overview and limits).

use bitcoin::{Block, BlockHash, FeeRate, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use serde_json::{json, Value};

use super::client::{btc_per_kvb, invalid, parse_hash, parse_u32, RpcChainClient, RpcClientError};
use super::params::btc_to_sat;
use crate::error::{BroadcastError, ChainError};
use crate::source::{BlockRef, ChainEvent, ChainSource, Spend, TxStatus, UtxoInfo};

impl ChainSource for RpcChainClient {
    fn tip(&self) -> Result<BlockRef, ChainError> {
        Ok(self.tip_inner()?)
    }

    fn block_hash_at(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        Ok(self.hash_at(height)?)
    }

    fn block(&self, hash: &BlockHash) -> Result<Option<Block>, ChainError> {
        Ok(self.block_inner(hash)?)
    }

    fn events_since(&self, known_tip: &BlockRef) -> Result<Vec<ChainEvent>, ChainError> {
        let known = self
            .header(&known_tip.hash)?
            .ok_or(ChainError::UnknownBlock(known_tip.hash))?;
        if known.height != known_tip.height {
            return Err(ChainError::InvalidArgument(
                "known tip height does not match its hash",
            ));
        }
        let mut events = Vec::new();
        let mut cur = *known_tip;
        while !self.is_active(&cur.hash, cur.height)? {
            let h = self
                .header(&cur.hash)?
                .ok_or(ChainError::UnknownBlock(cur.hash))?;
            let prev = h.prev.ok_or(ChainError::UnknownBlock(cur.hash))?;
            events.push(ChainEvent::BlockDisconnected(cur.height, cur.hash));
            cur = BlockRef {
                height: cur.height.saturating_sub(1),
                hash: prev,
            };
        }
        let tip = self.tip_inner()?;
        let mut prev_hash = cur.hash;
        let mut height = cur.height.saturating_add(1);
        let mut connects = 0;
        while height <= tip.height && connects < self.config().max_events {
            let Some(hash) = self.hash_at(height)? else {
                break;
            };
            let Some(block) = self.block_inner(&hash)? else {
                break;
            };
            if block.header.prev_blockhash != prev_hash {
                // The chain changed under us; the next call walks back from here.
                break;
            }
            prev_hash = hash;
            events.push(ChainEvent::BlockConnected(height, block));
            connects += 1;
            height = height.saturating_add(1);
        }
        Ok(events)
    }

    fn broadcast(&self, tx: &Transaction) -> Result<Txid, BroadcastError> {
        self.broadcast_inner(tx)
    }

    fn estimate_feerate(&self, target_blocks: u16) -> Result<FeeRate, ChainError> {
        if target_blocks == 0 {
            return Err(ChainError::InvalidArgument(
                "fee estimation target must be at least one block",
            ));
        }
        let floor = self.config().fee_floor;
        let estimate = match self.call("estimatesmartfee", json!([target_blocks])) {
            Ok(v) => v
                .get("feerate")
                .and_then(btc_per_kvb)
                .or_else(|| v.get("fee").and_then(btc_per_kvb)),
            Err(RpcClientError::Rpc(e)) => {
                tracing::debug!(error = %e, "no fee estimate from the chain backend");
                None
            }
            Err(e) => return Err(e.into()),
        };
        // No estimate (Core without enough data, bcoin's `-1`): say so, so
        // that callers keep their last estimate instead of taking a floor.
        let rate = estimate.ok_or(ChainError::NoFeeEstimate)?.max(floor);
        if rate > self.config().fee_ceiling {
            tracing::warn!(
                estimate_sat_per_kwu = rate.to_sat_per_kwu(),
                ceiling_sat_per_kwu = self.config().fee_ceiling.to_sat_per_kwu(),
                "chain backend fee estimate above the ceiling; using the ceiling"
            );
            return Ok(self.config().fee_ceiling);
        }
        Ok(rate)
    }

    fn get_tx_out(&self, outpoint: &OutPoint) -> Result<Option<UtxoInfo>, ChainError> {
        let Some(v) = self.tx_out_inner(outpoint, false)? else {
            return Ok(None);
        };
        let value = btc_to_sat(v.get("value").unwrap_or(&Value::Null))
            .map_err(|_| invalid("gettxout: bad value"))?;
        let script = v
            .get("scriptPubKey")
            .and_then(|s| s.get("hex"))
            .and_then(Value::as_str)
            .and_then(|s| hex::decode(s).ok())
            .map(ScriptBuf::from_bytes)
            .ok_or_else(|| invalid("gettxout: bad script"))?;
        let confirmations = parse_u32(v.get("confirmations").unwrap_or(&Value::Null))?;
        let best: BlockHash = parse_hash(v.get("bestblock").unwrap_or(&Value::Null))?;
        let best_height = self
            .header(&best)?
            .ok_or(ChainError::UnknownBlock(best))?
            .height;
        Ok(Some(UtxoInfo {
            txout: TxOut {
                value: bitcoin::Amount::from_sat(value),
                script_pubkey: script,
            },
            height: best_height
                .saturating_add(1)
                .saturating_sub(confirmations.max(1)),
            confirmations,
            is_coinbase: v.get("coinbase").and_then(Value::as_bool).unwrap_or(false),
        }))
    }

    fn spending_tx(&self, outpoint: &OutPoint) -> Result<Option<Spend>, ChainError> {
        // Confirmed and unspent: only a mempool transaction can spend it. (Core's `gettxout` with
        // the mempool would also say whether one does, but bcoin's does not hide mempool-spent
        // outputs, so the mempool is scanned.)
        if self.tx_out_inner(outpoint, false)?.is_some() {
            return Ok(self
                .mempool_spender(outpoint)?
                .map(|(tx, input_index)| Spend {
                    tx,
                    input_index,
                    status: TxStatus::Mempool,
                }));
        }
        // Spent in the chain (or never created): look in the blocks this client has fetched.
        let seen = self.index().spends_of(outpoint);
        for s in seen.iter().rev() {
            if !self.is_active(&s.at.block, s.at.height)? {
                continue;
            }
            let Some(block) = self.block_inner(&s.at.block)? else {
                continue;
            };
            let Some(tx) = block
                .txdata
                .into_iter()
                .find(|t| t.compute_txid() == s.txid)
            else {
                continue;
            };
            return Ok(Some(Spend {
                tx,
                input_index: s.input,
                status: TxStatus::Confirmed {
                    block: BlockRef {
                        height: s.at.height,
                        hash: s.at.block,
                    },
                    confirmations: self.confirmations(s.at.height)?,
                },
            }));
        }
        // An output created by a mempool transaction may be spent in the mempool too.
        if self.tx_out_inner(outpoint, true)?.is_some() || self.in_mempool(&outpoint.txid)? {
            return Ok(self
                .mempool_spender(outpoint)?
                .map(|(tx, input_index)| Spend {
                    tx,
                    input_index,
                    status: TxStatus::Mempool,
                }));
        }
        Ok(None)
    }

    fn tx_status(&self, txid: &Txid) -> Result<TxStatus, ChainError> {
        // (Bind first: the index lock must not be held across the calls below.)
        let seen_in = self.index().tx_blocks(txid);
        for seen in seen_in.iter().rev() {
            if self.is_active(&seen.block, seen.height)? {
                return Ok(TxStatus::Confirmed {
                    block: BlockRef {
                        height: seen.height,
                        hash: seen.block,
                    },
                    confirmations: self.confirmations(seen.height)?,
                });
            }
        }
        if let Some(v) = self.call_opt("getrawtransaction", json!([txid.to_string(), true]))? {
            let block = match v.get("blockhash") {
                Some(Value::String(s)) if !s.is_empty() => {
                    Some(parse_hash::<BlockHash>(&Value::String(s.clone()))?)
                }
                _ => None,
            };
            if let Some(hash) = block {
                if let Some(h) = self.header(&hash)? {
                    if self.is_active(&hash, h.height)? {
                        return Ok(TxStatus::Confirmed {
                            block: BlockRef {
                                height: h.height,
                                hash,
                            },
                            confirmations: self.confirmations(h.height)?,
                        });
                    }
                }
            }
        }
        if self.in_mempool(txid)? {
            return Ok(TxStatus::Mempool);
        }
        Ok(TxStatus::Unknown)
    }
}
