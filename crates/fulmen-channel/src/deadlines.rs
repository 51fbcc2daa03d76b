//! HTLC deadlines (BOLT 2 "`cltv_expiry_delta` Selection"): the points at
//! which an unresponsive peer forces us on chain.
//!
//! * An HTLC we offered that is still in either current commitment
//!   `offered_htlc_grace_blocks` after its `cltv_expiry`: fail the channel
//!   and time it out on chain (else the incoming HTLC upstream expires
//!   first).
//! * An HTLC we fulfilled that is still in either current commitment
//!   `fulfill_deadline_blocks` before its `cltv_expiry`: fail the channel
//!   and claim it on chain with the preimage.

use fulmen_script::Side;

use crate::config::ChannelConfig;
use crate::error::{ChannelError, Violation};
use crate::ledger::{Outcome, View};
use crate::state::Established;

impl Established {
    /// Checks both deadlines at `height`.
    pub(crate) fn check_deadlines(
        &self,
        height: u32,
        config: &ChannelConfig,
    ) -> Result<(), ChannelError> {
        let local = self.ledger.spec(Side::Local, View::Current)?;
        let remote = self.ledger.spec(Side::Remote, View::Current)?;
        let in_either = |offerer: Side, id: u64| {
            local
                .htlcs
                .iter()
                .chain(remote.htlcs.iter())
                .any(|h| h.offerer == offerer && h.id == id)
        };
        for e in self.ledger.htlcs() {
            match e.offerer {
                Side::Local => {
                    let deadline = e
                        .cltv_expiry
                        .saturating_add(config.offered_htlc_grace_blocks);
                    if height >= deadline && in_either(Side::Local, e.id) {
                        return Err(ChannelError::Close(Violation::OfferedHtlcTimedOut {
                            id: e.id,
                        }));
                    }
                }
                Side::Remote => {
                    let fulfilled = e
                        .removal
                        .as_ref()
                        .is_some_and(|r| matches!(r.outcome, Outcome::Fulfill(_)));
                    let deadline = e.cltv_expiry.saturating_sub(config.fulfill_deadline_blocks);
                    if fulfilled && height >= deadline && in_either(Side::Remote, e.id) {
                        return Err(ChannelError::Close(Violation::FulfilledHtlcDeadline {
                            id: e.id,
                        }));
                    }
                }
            }
        }
        Ok(())
    }
}
