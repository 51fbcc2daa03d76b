//! Disconnection and `channel_reestablish` (BOLT 2 "Message
//! Retransmission"), including `option_data_loss_protect`.

use bitcoin::secp256k1::PublicKey;
use fulmen_script::shachain::commitment_index;
use fulmen_script::Side;
use fulmen_wire::{ChannelReestablish, Message, PerCommitmentSecret};

use crate::commitment::{local_point, local_secret};
use crate::config::Ctx;
use crate::error::{ChannelError, InternalError, Violation};
use crate::events::Outputs;
use crate::ledger::{Stage, View};
use crate::state::{Established, LastSent, Link};
use crate::updates::proposal_message;

/// What the peer's `channel_reestablish` tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reestablished {
    /// Resume: send these retransmissions. `both_at_one`: both
    /// `next_commitment_number`s are 1, so `channel_ready` must be resent.
    Resume {
        /// The retransmissions, in order.
        out: Outputs,
        /// Both sides are at commitment 1.
        both_at_one: bool,
    },
    /// The peer proved our state is old: never broadcast our commitment.
    WeAreBehind,
}

fn close(v: Violation) -> ChannelError {
    ChannelError::Close(v)
}

impl Established {
    /// The connection dropped: reverse the peer's uncommitted updates.
    pub(crate) fn disconnect(&mut self) {
        self.ledger.drop_uncommitted(Side::Remote);
        self.link = Link::Disconnected;
    }

    /// Our `channel_reestablish`.
    pub(crate) fn reestablish_message(
        &self,
        ctx: &Ctx<'_>,
    ) -> Result<ChannelReestablish, InternalError> {
        let next_revocation_number = self.next_revocation_number();
        let your_last_per_commitment_secret = if next_revocation_number == 0 {
            PerCommitmentSecret([0; 32])
        } else {
            let index = commitment_index(next_revocation_number - 1)
                .map_err(|_| InternalError::KeyDerivation)?;
            let s = self
                .remote_secrets
                .0
                .get_secret(index)
                .map_err(|_| InternalError::KeyDerivation)?;
            PerCommitmentSecret(*s.as_bytes())
        };
        Ok(ChannelReestablish {
            channel_id: self.core.channel_id,
            next_commitment_number: self.local_commit.number.saturating_add(1),
            next_revocation_number,
            your_last_per_commitment_secret,
            my_current_per_commitment_point: local_point(ctx.secrets, self.local_commit.number)?,
            next_funding: None,
            my_current_funding_locked: None,
            unknown_tlvs: Vec::new(),
        })
    }

    /// Starts reconnection: reverse anything left from the old connection
    /// and return our `channel_reestablish`.
    pub(crate) fn reconnect(&mut self, ctx: &Ctx<'_>) -> Result<Outputs, InternalError> {
        self.disconnect();
        let msg = self.reestablish_message(ctx)?;
        self.link = Link::AwaitingReestablish;
        let mut out = Outputs::none();
        out.msg(msg);
        Ok(out)
    }

    /// The peer's `channel_reestablish`: decide what to retransmit.
    pub(crate) fn receive_reestablish(
        &mut self,
        m: &ChannelReestablish,
        ctx: &Ctx<'_>,
    ) -> Result<Reestablished, ChannelError> {
        if m.channel_id != self.core.channel_id {
            return Err(ChannelError::Ignore(Violation::ChannelIdMismatch));
        }
        if self.link != Link::AwaitingReestablish {
            return Err(ChannelError::Warn(Violation::UnexpectedMessage {
                msg_type: 136,
            }));
        }
        // If `next_commitment_number` is zero: MUST immediately fail the
        // channel and broadcast any relevant latest commitment transaction.
        if m.next_commitment_number == 0 {
            return Err(close(Violation::ReestablishZeroCommitmentNumber));
        }
        let local = self.local_commit.number;
        // option_data_loss_protect: `next_revocation_number` greater than
        // expected AND `your_last_per_commitment_secret` correct for
        // `next_revocation_number` minus 1: MUST NOT broadcast.
        if m.next_revocation_number > local {
            let claimed = local_secret(ctx.secrets, m.next_revocation_number - 1);
            let proves = claimed.is_ok_and(|s| {
                s.ct_eq(&fulmen_script::shachain::PerCommitmentSecret::new(
                    m.your_last_per_commitment_secret.0,
                ))
            });
            if proves {
                return Ok(Reestablished::WeAreBehind);
            }
            return Err(close(Violation::UnexpectedRevocationNumber {
                expected: local,
                got: m.next_revocation_number,
            }));
        }
        // Otherwise, if `your_last_per_commitment_secret` does not match
        // the expected values: SHOULD fail the channel.
        if m.next_revocation_number > 0 {
            let expected = local_secret(ctx.secrets, m.next_revocation_number - 1)?;
            let got = fulmen_script::shachain::PerCommitmentSecret::new(
                m.your_last_per_commitment_secret.0,
            );
            if !expected.ct_eq(&got) {
                return Err(close(Violation::WrongLastSecret));
            }
        }
        // `revoke_and_ack` retransmission: the peer did not get our
        // revocation of commitment `local - 1`.
        let resend_revoke = if local > 0 && m.next_revocation_number == local - 1 {
            true
        } else if m.next_revocation_number == local {
            false
        } else {
            return Err(close(Violation::UnexpectedRevocationNumber {
                expected: local,
                got: m.next_revocation_number,
            }));
        };
        // `commitment_signed` retransmission: the peer did not get the
        // commitment we signed last (and it is still unrevoked).
        let remote = self.remote_commit.number;
        let resend_commit = if self.remote_prev.is_some() && m.next_commitment_number == remote {
            true
        } else if m.next_commitment_number == remote.saturating_add(1) {
            false
        } else {
            return Err(close(Violation::UnexpectedCommitmentNumber {
                expected: remote.saturating_add(1),
                got: m.next_commitment_number,
            }));
        };

        let mut out = Outputs::none();
        let revoke = if resend_revoke {
            Some(Message::from(self.revoke_message(ctx, local - 1)?))
        } else {
            None
        };
        let mut commit_msgs = Vec::new();
        if resend_commit {
            for p in self.ledger.proposals(Side::Local, Stage::InReceiverCommit) {
                commit_msgs.push(proposal_message(self, &p)?);
            }
            let point: PublicKey = self.remote_commit.point;
            let (msg, rebuilt) =
                self.commitment_signed_message(ctx, remote, &point, View::Current)?;
            if rebuilt.txid != self.remote_commit.txid {
                return Err(InternalError::CommitmentBuild.into());
            }
            commit_msgs.push(Message::from(msg));
        }
        // Retransmit `revoke_and_ack` and `commitment_signed` in the same
        // relative order as initially transmitted.
        match (revoke, self.last_sent) {
            (Some(r), LastSent::Commit) => {
                out.messages.push(r);
                out.messages.extend(commit_msgs);
            }
            (Some(r), LastSent::Revoke) => {
                out.messages.extend(commit_msgs);
                out.messages.push(r);
            }
            (None, _) => out.messages.extend(commit_msgs),
        }
        // Our updates not yet covered by any commitment_signed: the peer
        // reversed them on disconnection; send them again.
        for p in self.ledger.proposals(Side::Local, Stage::Proposed) {
            out.messages.push(proposal_message(self, &p)?);
        }
        self.link = Link::Connected;
        let both_at_one = m.next_commitment_number == 1 && local == 0;
        Ok(Reestablished::Resume { out, both_at_one })
    }
}
