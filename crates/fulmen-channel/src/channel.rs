//! The [`Channel`] value: one enum variant per phase, and the entry points
//! the node calls.

use bitcoin::secp256k1::PublicKey;
use bitcoin::{ScriptBuf, Transaction, Txid};
use fulmen_script::Side;
use fulmen_types::{ChannelId, Msat, PaymentHash, PaymentPreimage};
use fulmen_wire::{ErrorMessage, OnionPacket, OpenChannel};

use crate::closing::{
    check_remote_script, our_script, shutdown_message, Closing, ClosingKind, Negotiating,
    OurShutdown, ShuttingDown,
};
use crate::commitment::{build_latest_local, signed_local_commitment};
use crate::config::Ctx;
use crate::error::{AddError, ApiError, ChannelError, InternalError, Violation};
use crate::events::{ChannelEvent, CloseReason, Outputs};
use crate::ledger::{Spec, View};
use crate::message::ChannelMessage;
use crate::opening::{
    new_inbound, new_outbound, AwaitingFunding, AwaitingFundingSigned, FundingProgress,
    InboundOpening, InboundSetup, OutboundOpening, OutboundSetup,
};
use crate::reestablish::Reestablished;
use crate::state::{Established, Link};

/// Normal operation: HTLCs flow both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normal {
    /// The commitments.
    pub est: Established,
}

/// Nothing left to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The channel's id.
    pub channel_id: ChannelId,
    /// Why it closed.
    pub reason: CloseReason,
}

/// One channel, in one phase. Transitions replace the variant; shared data
/// lives in [`crate::state::ChannelCore`] and [`Established`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// We sent `open_channel`.
    OutboundOpening(Box<OutboundOpening>),
    /// We received `open_channel` and sent `accept_channel`.
    InboundOpening(Box<InboundOpening>),
    /// We sent `funding_created`.
    AwaitingFundingSigned(Box<AwaitingFundingSigned>),
    /// Funding signed both ways; waiting for depth and `channel_ready`.
    AwaitingFunding(Box<AwaitingFunding>),
    /// Normal operation.
    Normal(Box<Normal>),
    /// `shutdown` sent or received; HTLCs still being resolved.
    ShuttingDown(Box<ShuttingDown>),
    /// `closing_signed` fee negotiation.
    Negotiating(Box<Negotiating>),
    /// A closing or commitment transaction was broadcast (or we wait for
    /// the peer's after data loss).
    Closing(Box<Closing>),
    /// Forgotten.
    Closed(Closed),
}

fn unexpected(msg: &ChannelMessage) -> ChannelError {
    ChannelError::Warn(Violation::UnexpectedMessage {
        msg_type: msg.msg_type(),
    })
}

fn error_message(channel_id: ChannelId, text: &str) -> ErrorMessage {
    ErrorMessage {
        channel_id,
        data: text.as_bytes().to_vec(),
        unknown_tlvs: Vec::new(),
    }
}

impl Channel {
    /// Opens a channel we fund; send the returned `open_channel`.
    pub fn new_outbound(
        setup: OutboundSetup,
        ctx: &Ctx<'_>,
    ) -> Result<(Channel, Outputs), Violation> {
        let (o, out) = new_outbound(setup, ctx)?;
        Ok((Channel::OutboundOpening(Box::new(o)), out))
    }

    /// Answers a peer's `open_channel`. On error, send `error` for its
    /// `temporary_channel_id` and forget it.
    pub fn new_inbound(
        open: &OpenChannel,
        setup: InboundSetup,
        ctx: &Ctx<'_>,
    ) -> Result<(Channel, Outputs), ChannelError> {
        let (i, out) = new_inbound(open, setup, ctx)?;
        Ok((Channel::InboundOpening(Box::new(i)), out))
    }

    /// The channel id (the temporary one until the funding is known).
    pub fn channel_id(&self) -> ChannelId {
        match self {
            Self::OutboundOpening(o) => match o.as_ref() {
                OutboundOpening::AwaitingAccept(p) => p.open.temporary_channel_id,
                OutboundOpening::AwaitingFundingTx { core, .. } => core.channel_id,
            },
            Self::InboundOpening(i) => i.core.channel_id,
            Self::AwaitingFundingSigned(a) => a.core.channel_id,
            Self::Closed(c) => c.channel_id,
            other => other
                .established()
                .map_or(ChannelId([0; 32]), |e| e.core.channel_id),
        }
    }

    /// The node's key index for this channel's secrets.
    pub fn key_index(&self) -> u64 {
        match self {
            Self::OutboundOpening(o) => match o.as_ref() {
                OutboundOpening::AwaitingAccept(p) => p.key_index,
                OutboundOpening::AwaitingFundingTx { core, .. } => core.key_index,
            },
            Self::InboundOpening(i) => i.core.key_index,
            Self::AwaitingFundingSigned(a) => a.core.key_index,
            Self::Closed(_) => 0,
            other => other.established().map_or(0, |e| e.core.key_index),
        }
    }

    /// A short name of the phase.
    pub fn phase(&self) -> &'static str {
        match self {
            Self::OutboundOpening(_) => "outbound_opening",
            Self::InboundOpening(_) => "inbound_opening",
            Self::AwaitingFundingSigned(_) => "awaiting_funding_signed",
            Self::AwaitingFunding(_) => "awaiting_funding",
            Self::Normal(_) => "normal",
            Self::ShuttingDown(_) => "shutting_down",
            Self::Negotiating(_) => "negotiating",
            Self::Closing(_) => "closing",
            Self::Closed(_) => "closed",
        }
    }

    /// The commitments, once funded.
    pub fn established(&self) -> Option<&Established> {
        match self {
            Self::AwaitingFunding(a) => Some(&a.est),
            Self::Normal(n) => Some(&n.est),
            Self::ShuttingDown(s) => Some(&s.est),
            Self::Negotiating(n) => Some(&n.est),
            Self::Closing(c) => Some(&c.est),
            _ => None,
        }
    }

    pub(crate) fn established_mut(&mut self) -> Option<&mut Established> {
        match self {
            Self::AwaitingFunding(a) => Some(&mut a.est),
            Self::Normal(n) => Some(&mut n.est),
            Self::ShuttingDown(s) => Some(&mut s.est),
            Self::Negotiating(n) => Some(&mut n.est),
            Self::Closing(c) => Some(&mut c.est),
            _ => None,
        }
    }

    /// The funding transaction to (re)broadcast, if we funded it and it is
    /// not yet confirmed deep enough.
    pub fn funding_transaction(&self) -> Option<&Transaction> {
        match self {
            Self::AwaitingFunding(a) => a.funding_tx.as_ref(),
            _ => None,
        }
    }

    /// The content of `owner`'s latest commitment.
    pub fn commitment_spec(&self, owner: Side) -> Option<Spec> {
        self.established()
            .and_then(|e| e.ledger.spec(owner, View::Current).ok())
    }

    /// The txid of our latest commitment (builds it: costs a few point
    /// operations).
    pub fn local_commitment_txid(&self, ctx: &Ctx<'_>) -> Option<Txid> {
        let est = self.established()?;
        build_latest_local(est, &crate::onchain::Signer::from_ctx(ctx))
            .ok()
            .map(|c| c.built.tx.compute_txid())
    }

    /// Whether incoming HTLC `id` pushed a commitment's dust balance past
    /// our `max_dust_htlc_exposure_msat` when it was received (BOLT 2: the
    /// node SHOULD fail it once committed, with `temporary_channel_failure`,
    /// and SHOULD NOT reveal its preimage). Check it on
    /// [`ChannelEvent::HtlcAdded`].
    pub fn htlc_over_dust_exposure(&self, id: u64) -> bool {
        self.established()
            .and_then(|e| e.ledger.htlc(Side::Remote, id))
            .is_some_and(|h| h.over_dust_exposure)
    }

    /// What we could send (`local`) and receive (`remote`) now: balances
    /// of our latest commitment, HTLCs excluded, before fees.
    pub fn balances(&self) -> Option<(Msat, Msat)> {
        self.commitment_spec(Side::Local)
            .map(|s| (s.local, s.remote))
    }

    /// The node built the funding transaction for `FundingNeeded`; `vout`
    /// is the funding output. Sends `funding_created`.
    pub fn funding_tx_built(
        &mut self,
        tx: Transaction,
        vout: u32,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ApiError> {
        let Self::OutboundOpening(o) = self else {
            return Err(ApiError::WrongState);
        };
        let OutboundOpening::AwaitingFundingTx {
            core,
            remote_first_point,
        } = o.as_ref()
        else {
            return Err(ApiError::WrongState);
        };
        let (next, out) =
            crate::opening::funding_tx_built(core, remote_first_point, tx, vout, ctx)?;
        *self = Self::AwaitingFundingSigned(Box::new(next));
        Ok(out)
    }

    /// A message from the peer for this channel.
    pub fn handle_message(
        &mut self,
        msg: ChannelMessage,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        if msg.channel_id() != self.channel_id() {
            return Err(ChannelError::Ignore(Violation::ChannelIdMismatch));
        }
        match msg {
            ChannelMessage::Error(_) => return self.peer_error(ctx),
            ChannelMessage::Warning(_) => return Ok(Outputs::none()),
            _ => {}
        }
        // BOLT 2 `shutdown` receiver: "if it hasn't received a
        // `funding_signed` (if it is a funder) or a `funding_created` (if it
        // is a fundee): SHOULD send an `error` and fail the channel."
        if matches!(msg, ChannelMessage::Shutdown(_))
            && matches!(
                self,
                Self::OutboundOpening(_) | Self::InboundOpening(_) | Self::AwaitingFundingSigned(_)
            )
        {
            return Err(ChannelError::Close(Violation::ShutdownBeforeFunding));
        }
        if let Some(est) = self.established() {
            let is_reestablish = matches!(msg, ChannelMessage::ChannelReestablish(_));
            if est.link != Link::Connected && !is_reestablish && !matches!(self, Self::Closing(_)) {
                return Err(ChannelError::Warn(Violation::MessageBeforeReestablish {
                    msg_type: msg.msg_type(),
                }));
            }
        }
        match self {
            Self::OutboundOpening(o) => {
                let (OutboundOpening::AwaitingAccept(p), ChannelMessage::AcceptChannel(a)) =
                    (o.as_ref(), &msg)
                else {
                    return Err(unexpected(&msg));
                };
                let (next, out) = p.receive_accept(a, ctx)?;
                *self = Self::OutboundOpening(Box::new(next));
                Ok(out)
            }
            Self::InboundOpening(i) => {
                let ChannelMessage::FundingCreated(m) = &msg else {
                    return Err(unexpected(&msg));
                };
                let (next, out) = i.receive_funding_created(m, ctx)?;
                *self = Self::AwaitingFunding(Box::new(next));
                Ok(out)
            }
            Self::AwaitingFundingSigned(a) => {
                let ChannelMessage::FundingSigned(m) = &msg else {
                    return Err(unexpected(&msg));
                };
                let (next, out) = a.receive_funding_signed(m, ctx)?;
                *self = Self::AwaitingFunding(Box::new(next));
                Ok(out)
            }
            Self::AwaitingFunding(_) => self.handle_awaiting_funding(msg, ctx),
            Self::Normal(_) | Self::ShuttingDown(_) => self.handle_operational(msg, ctx),
            Self::Negotiating(_) => self.handle_negotiating(msg, ctx),
            Self::Closing(c) => match (&c.kind, &msg) {
                (
                    ClosingKind::Mutual {
                        closing_signed,
                        local_script,
                        ..
                    },
                    ChannelMessage::ChannelReestablish(_),
                ) => {
                    // `closing_signed` has no acknowledgment: retransmit
                    // the agreed one (after our `shutdown`).
                    let mut out = Outputs::none();
                    out.msg(shutdown_message(&c.est.core, local_script));
                    out.msg(closing_signed.clone());
                    c.est.link = Link::Connected;
                    Ok(out)
                }
                (_, ChannelMessage::ChannelReestablish(_)) => {
                    let mut out = Outputs::none();
                    out.msg(error_message(c.est.core.channel_id, "channel closed"));
                    Ok(out)
                }
                // The peer may still be negotiating.
                (ClosingKind::Mutual { .. }, ChannelMessage::Shutdown(_))
                | (ClosingKind::Mutual { .. }, ChannelMessage::ClosingSigned(_)) => {
                    Ok(Outputs::none())
                }
                _ => Err(ChannelError::Ignore(Violation::UnexpectedMessage {
                    msg_type: msg.msg_type(),
                })),
            },
            Self::Closed(_) => Err(ChannelError::Ignore(Violation::UnexpectedMessage {
                msg_type: msg.msg_type(),
            })),
        }
    }

    fn handle_awaiting_funding(
        &mut self,
        msg: ChannelMessage,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        let Self::AwaitingFunding(a) = self else {
            return Err(unexpected(&msg));
        };
        match msg {
            ChannelMessage::ChannelReady(m) => {
                let (progress, out) = a.receive_channel_ready(&m)?;
                self.funding_progress(progress, out)
            }
            ChannelMessage::ChannelReestablish(m) => match a.est.receive_reestablish(&m, ctx)? {
                Reestablished::WeAreBehind => Ok(self.fall_behind()),
                Reestablished::Resume {
                    mut out,
                    both_at_one,
                } => {
                    if both_at_one && a.local_ready {
                        out.msg(a.channel_ready_message());
                    }
                    Ok(out)
                }
            },
            ChannelMessage::Shutdown(m) => {
                check_remote_script(&a.est.core, &m.scriptpubkey)?;
                let est = a.est.clone();
                self.start_shutdown(est, m.scriptpubkey, ctx)
            }
            other => Err(unexpected(&other)),
        }
    }

    fn funding_progress(
        &mut self,
        progress: FundingProgress,
        mut out: Outputs,
    ) -> Result<Outputs, ChannelError> {
        let Self::AwaitingFunding(a) = self else {
            return Ok(out);
        };
        match progress {
            FundingProgress::Waiting => Ok(out),
            FundingProgress::Ready => {
                let est = a.est.clone();
                let short_channel_id = est
                    .short_channel_id
                    .ok_or(ChannelError::Close(Violation::FundingOutputMismatch))?;
                out.event(ChannelEvent::ChannelReady {
                    channel_id: est.core.channel_id,
                    short_channel_id,
                    local_alias: est.core.local_alias,
                    remote_alias: est.remote_alias,
                });
                *self = Self::Normal(Box::new(Normal { est }));
                Ok(out.changed())
            }
            FundingProgress::TimedOut => {
                let channel_id = a.est.core.channel_id;
                out.event(ChannelEvent::ChannelClosed {
                    channel_id,
                    reason: CloseReason::FundingTimeout,
                });
                *self = Self::Closed(Closed {
                    channel_id,
                    reason: CloseReason::FundingTimeout,
                });
                Ok(out.changed())
            }
        }
    }

    fn handle_operational(
        &mut self,
        msg: ChannelMessage,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        let (est, remote_script) = match self {
            Self::Normal(n) => (&mut n.est, None),
            Self::ShuttingDown(s) => (&mut s.est, s.remote_script.clone()),
            _ => return Err(unexpected(&msg)),
        };
        let mut out = match msg {
            ChannelMessage::UpdateAddHtlc(m) => est.receive_add(m, remote_script.is_some(), ctx)?,
            ChannelMessage::UpdateFulfillHtlc(m) => est.receive_fulfill(&m)?,
            ChannelMessage::UpdateFailHtlc(m) => est.receive_fail(m)?,
            ChannelMessage::UpdateFailMalformedHtlc(m) => est.receive_fail_malformed(&m)?,
            ChannelMessage::UpdateFee(m) => est.receive_fee(&m, ctx)?,
            ChannelMessage::CommitmentSigned(m) => est.receive_commitment_signed(&m, ctx)?,
            ChannelMessage::RevokeAndAck(m) => est.receive_revoke_and_ack(&m)?,
            ChannelMessage::ChannelReady(m) => {
                // Redundant after reconnection; may carry a new alias.
                if m.short_channel_id_alias.is_some()
                    && est.remote_alias != m.short_channel_id_alias
                {
                    est.remote_alias = m.short_channel_id_alias;
                    return Ok(Outputs::none().changed());
                }
                return Ok(Outputs::none());
            }
            ChannelMessage::ChannelReestablish(m) => match est.receive_reestablish(&m, ctx)? {
                Reestablished::WeAreBehind => return Ok(self.fall_behind()),
                Reestablished::Resume {
                    mut out,
                    both_at_one,
                } => {
                    if both_at_one {
                        out.msg(fulmen_wire::ChannelReady {
                            channel_id: est.core.channel_id,
                            second_per_commitment_point: est.local_next_point,
                            short_channel_id_alias: Some(est.core.local_alias),
                            unknown_tlvs: Vec::new(),
                        });
                    }
                    if let Self::ShuttingDown(s) = self {
                        if let OurShutdown::Sent(script) = &s.local {
                            out.msg(shutdown_message(&s.est.core, script));
                        }
                    }
                    out
                }
            },
            ChannelMessage::Shutdown(m) => {
                check_remote_script(&est.core, &m.scriptpubkey)?;
                match self {
                    Self::Normal(n) => {
                        let est = n.est.clone();
                        return self.start_shutdown(est, m.scriptpubkey, ctx);
                    }
                    Self::ShuttingDown(s) => match &s.remote_script {
                        Some(old) if *old != m.scriptpubkey => {
                            return Err(ChannelError::Warn(Violation::ShutdownScriptChanged))
                        }
                        Some(_) => Outputs::none(),
                        None => {
                            s.remote_script = Some(m.scriptpubkey);
                            Outputs::none().changed()
                        }
                    },
                    _ => Outputs::none(),
                }
            }
            ChannelMessage::ClosingSigned(_) => {
                return Err(ChannelError::Warn(Violation::ClosingTooEarly))
            }
            other => return Err(unexpected(&other)),
        };
        out.extend(self.progress_shutdown(ctx)?);
        Ok(out)
    }

    fn handle_negotiating(
        &mut self,
        msg: ChannelMessage,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        let Self::Negotiating(n) = self else {
            return Err(unexpected(&msg));
        };
        match msg {
            ChannelMessage::ClosingSigned(m) => {
                let (reply, done) = n.receive(&m, ctx)?;
                let mut out = Outputs::none();
                if let Some(r) = reply {
                    out.msg(r);
                }
                match done {
                    Some((tx, closing_signed)) => {
                        let est = n.est.clone();
                        let local_script = n.local_script.clone();
                        out.extend(self.enter_closing(
                            est,
                            ClosingKind::Mutual {
                                tx,
                                closing_signed,
                                local_script,
                            },
                        ));
                        Ok(out)
                    }
                    None => Ok(out.changed()),
                }
            }
            ChannelMessage::ChannelReestablish(m) => match n.est.receive_reestablish(&m, ctx)? {
                Reestablished::WeAreBehind => Ok(self.fall_behind()),
                Reestablished::Resume { mut out, .. } => {
                    // Negotiation restarts on reconnection.
                    n.our_last = None;
                    n.their_last = None;
                    out.msg(shutdown_message(&n.est.core, &n.local_script));
                    if n.est.core.funder == Side::Local {
                        let (range, fee) = n.our_range(ctx)?;
                        out.msg(n.propose(fee, range, ctx)?);
                    }
                    Ok(out.changed())
                }
            },
            // MUST NOT send an `update_add_htlc` after a `shutdown`.
            ChannelMessage::UpdateAddHtlc(_) => {
                Err(ChannelError::Close(Violation::AddAfterShutdown))
            }
            // A race BOLT 2 allows: we saw the channel clean when our
            // revocation left, but the funder sent `update_fee` (and will
            // commit it) before receiving that revocation. Before any
            // `closing_signed`, resume shutting down and process it.
            ChannelMessage::UpdateFee(_)
            | ChannelMessage::CommitmentSigned(_)
            | ChannelMessage::RevokeAndAck(_)
                if n.our_last.is_none() && n.their_last.is_none() =>
            {
                let back = ShuttingDown {
                    est: n.est.clone(),
                    local: OurShutdown::Sent(n.local_script.clone()),
                    remote_script: Some(n.remote_script.clone()),
                };
                let saved = core::mem::replace(self, Self::ShuttingDown(Box::new(back)));
                match self.handle_operational(msg, ctx) {
                    Ok(out) => Ok(out.changed()),
                    Err(e) => {
                        *self = saved;
                        Err(e)
                    }
                }
            }
            ChannelMessage::Shutdown(m) if m.scriptpubkey == n.remote_script => Ok(Outputs::none()),
            ChannelMessage::Shutdown(_) => {
                Err(ChannelError::Warn(Violation::ShutdownScriptChanged))
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Moves to `ShuttingDown` with the scripts known so far, then sends
    /// our `shutdown` / starts negotiation if possible.
    fn start_shutdown(
        &mut self,
        est: Established,
        remote_script: ScriptBuf,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        *self = Self::ShuttingDown(Box::new(ShuttingDown {
            est,
            local: OurShutdown::NotRequested,
            remote_script: Some(remote_script),
        }));
        Ok(self.progress_shutdown(ctx)?.changed())
    }

    /// In `ShuttingDown`: send our `shutdown` (asked for, or a reply to
    /// the peer's) once our updates are committed; start fee negotiation
    /// once no HTLC remains.
    fn progress_shutdown(&mut self, ctx: &Ctx<'_>) -> Result<Outputs, ChannelError> {
        let Self::ShuttingDown(s) = self else {
            return Ok(Outputs::none());
        };
        let mut out = Outputs::none();
        if s.est.link != Link::Connected {
            return Ok(out);
        }
        let to_send = match &s.local {
            OurShutdown::Pending(script) => Some(script.clone()),
            OurShutdown::NotRequested if s.remote_script.is_some() => {
                Some(s.est.core.local_shutdown_script.clone())
            }
            _ => None,
        };
        if let Some(script) = to_send {
            if s.est.ledger.has_uncommitted(Side::Local) {
                return Ok(out);
            }
            out.msg(shutdown_message(&s.est.core, &script));
            s.local = OurShutdown::Sent(script);
            out.persist = true;
        }
        let (OurShutdown::Sent(local_script), Some(remote_script)) = (&s.local, &s.remote_script)
        else {
            return Ok(out);
        };
        if !s.est.is_quiescent() {
            return Ok(out);
        }
        let mut n = Negotiating {
            est: s.est.clone(),
            local_script: local_script.clone(),
            remote_script: remote_script.clone(),
            our_last: None,
            their_last: None,
        };
        if n.est.core.funder == Side::Local {
            let (range, fee) = n.our_range(ctx)?;
            out.msg(n.propose(fee, range, ctx)?);
        }
        *self = Self::Negotiating(Box::new(n));
        Ok(out.changed())
    }

    fn enter_closing(&mut self, est: Established, kind: ClosingKind) -> Outputs {
        let mut out = Outputs::none();
        let channel_id = est.core.channel_id;
        let reason = match &kind {
            ClosingKind::Mutual { tx, .. } => {
                out.broadcasts.push(tx.clone());
                CloseReason::MutualClose {
                    txid: tx.compute_txid(),
                }
            }
            ClosingKind::LocalForce { tx } => {
                out.broadcasts.push(tx.clone());
                CloseReason::LocalForceClose {
                    txid: tx.compute_txid(),
                }
            }
            ClosingKind::AwaitingRemoteClose => CloseReason::DataLoss,
        };
        out.event(ChannelEvent::ChannelClosed { channel_id, reason });
        *self = Self::Closing(Box::new(Closing { est, kind }));
        out.changed()
    }

    /// option_data_loss_protect: the peer proved our state is old. Never
    /// broadcast our commitment; ask the peer to close.
    fn fall_behind(&mut self) -> Outputs {
        let Some(est) = self.established().cloned() else {
            return Outputs::none();
        };
        let mut out = Outputs::none();
        out.msg(error_message(
            est.core.channel_id,
            "we lost channel state: please close the channel",
        ));
        out.extend(self.enter_closing(est, ClosingKind::AwaitingRemoteClose));
        out
    }

    fn peer_error(&mut self, ctx: &Ctx<'_>) -> Result<Outputs, ChannelError> {
        match self {
            Self::Closing(_) | Self::Closed(_) => Ok(Outputs::none()),
            _ => self.fail(ctx, false),
        }
    }

    /// Fails the channel: our latest commitment, fully signed, to
    /// broadcast, and an `error` for the peer. Never broadcasts after the
    /// peer proved our state old. Before funding there is nothing to
    /// broadcast: the channel is forgotten.
    pub fn force_close(&mut self, ctx: &Ctx<'_>) -> Result<Outputs, ChannelError> {
        self.fail(ctx, true)
    }

    fn fail(&mut self, ctx: &Ctx<'_>, send_error: bool) -> Result<Outputs, ChannelError> {
        let channel_id = self.channel_id();
        let mut out = Outputs::none();
        if send_error {
            out.msg(error_message(channel_id, "channel failed"));
        }
        match self {
            Self::OutboundOpening(_) | Self::InboundOpening(_) | Self::AwaitingFundingSigned(_) => {
                out.event(ChannelEvent::ChannelClosed {
                    channel_id,
                    reason: CloseReason::Abandoned,
                });
                *self = Self::Closed(Closed {
                    channel_id,
                    reason: CloseReason::Abandoned,
                });
                Ok(out.changed())
            }
            Self::Closing(c) => {
                match &c.kind {
                    ClosingKind::Mutual { tx, .. } | ClosingKind::LocalForce { tx } => {
                        out.broadcasts.push(tx.clone());
                    }
                    ClosingKind::AwaitingRemoteClose => {}
                }
                Ok(out)
            }
            Self::Closed(_) => Ok(Outputs::none()),
            _ => {
                let est =
                    self.established()
                        .cloned()
                        .ok_or(ChannelError::Close(Violation::Internal(
                            InternalError::CommitmentBuild,
                        )))?;
                let tx = signed_local_commitment(&est, ctx)?;
                out.extend(self.enter_closing(est, ClosingKind::LocalForce { tx }));
                Ok(out)
            }
        }
    }

    /// A new block at `height` with its transactions, in block order:
    /// counts the funding depth, and checks the HTLC deadlines
    /// ([`crate::deadlines`]); a passed deadline is a
    /// [`ChannelError::Close`]: call [`Channel::force_close`].
    pub fn handle_block(
        &mut self,
        height: u32,
        txs: &[Transaction],
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        match self {
            Self::AwaitingFunding(a) => {
                let (progress, out) = a.handle_block(height, txs)?;
                self.funding_progress(progress, out)
            }
            Self::Normal(_) | Self::ShuttingDown(_) | Self::Negotiating(_) => {
                if let Some(est) = self.established() {
                    est.check_deadlines(height, ctx.config)?;
                }
                Ok(Outputs::none())
            }
            _ => Ok(Outputs::none()),
        }
    }

    fn operational_mut(&mut self) -> Option<&mut Established> {
        match self {
            Self::Normal(n) => Some(&mut n.est),
            Self::ShuttingDown(s) => Some(&mut s.est),
            _ => None,
        }
    }

    /// Offers an HTLC to the peer; returns its id. Call
    /// [`Channel::sign_if_needed`] to commit it.
    pub fn add_htlc(
        &mut self,
        amount: Msat,
        payment_hash: PaymentHash,
        cltv_expiry: u32,
        onion: OnionPacket,
        path_key: Option<PublicKey>,
        ctx: &Ctx<'_>,
    ) -> Result<(u64, Outputs), AddError> {
        match self {
            Self::Normal(n) => {
                n.est
                    .send_add(amount, payment_hash, cltv_expiry, onion, path_key, ctx)
            }
            Self::ShuttingDown(_) | Self::Negotiating(_) => Err(AddError::ShuttingDown),
            _ => Err(AddError::NotReady),
        }
    }

    /// Settles incoming HTLC `id` with its preimage.
    pub fn fulfill_htlc(
        &mut self,
        id: u64,
        preimage: PaymentPreimage,
    ) -> Result<Outputs, ApiError> {
        self.operational_mut()
            .ok_or(ApiError::WrongState)?
            .send_fulfill(id, preimage)
    }

    /// Fails incoming HTLC `id` with an encrypted failure `reason`.
    pub fn fail_htlc(&mut self, id: u64, reason: Vec<u8>) -> Result<Outputs, ApiError> {
        self.operational_mut()
            .ok_or(ApiError::WrongState)?
            .send_fail(id, reason)
    }

    /// Fails incoming HTLC `id` whose onion could not be parsed.
    pub fn fail_malformed_htlc(
        &mut self,
        id: u64,
        sha256_of_onion: [u8; 32],
        failure_code: u16,
    ) -> Result<Outputs, ApiError> {
        self.operational_mut()
            .ok_or(ApiError::WrongState)?
            .send_fail_malformed(id, sha256_of_onion, failure_code)
    }

    /// Proposes a new commitment feerate (we must be the funder).
    pub fn update_fee(&mut self, feerate_per_kw: u32, ctx: &Ctx<'_>) -> Result<Outputs, ApiError> {
        self.operational_mut()
            .ok_or(ApiError::WrongState)?
            .send_fee(feerate_per_kw, ctx)
    }

    /// Sends `commitment_signed` if we have updates the peer has not
    /// signed for: call once per event-loop tick, so every update of the
    /// tick shares one signature.
    pub fn sign_if_needed(&mut self, ctx: &Ctx<'_>) -> Result<Outputs, ChannelError> {
        let Some(est) = self.operational_mut() else {
            return Ok(Outputs::none());
        };
        let mut out = est.sign_commitment(ctx)?;
        out.extend(self.progress_shutdown(ctx)?);
        Ok(out)
    }

    /// Starts a mutual close, paying our funds to `script` (or the one
    /// given at opening; it must be the upfront script if we committed to
    /// one). Pending updates are signed first; `shutdown` leaves once none
    /// is pending.
    pub fn shutdown(
        &mut self,
        script: Option<ScriptBuf>,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ApiError> {
        let (est, remote_script) = match self {
            Self::AwaitingFunding(a) => (a.est.clone(), None),
            Self::Normal(n) => (n.est.clone(), None),
            Self::ShuttingDown(s) if s.local == OurShutdown::NotRequested => {
                (s.est.clone(), s.remote_script.clone())
            }
            Self::ShuttingDown(_) | Self::Negotiating(_) => {
                return Err(ApiError::AlreadyShuttingDown)
            }
            _ => return Err(ApiError::WrongState),
        };
        let script = our_script(&est.core, script)?;
        *self = Self::ShuttingDown(Box::new(ShuttingDown {
            est,
            local: OurShutdown::Pending(script),
            remote_script,
        }));
        // MUST NOT send `shutdown` with updates pending on the peer's
        // commitment: sign them first.
        let mut out = match self.operational_mut() {
            Some(est) => est.sign_commitment(ctx)?,
            None => Outputs::none(),
        };
        out.extend(self.progress_shutdown(ctx)?);
        Ok(out.changed())
    }

    /// The connection dropped: the peer's uncommitted updates are reversed.
    /// Channels still opening are forgotten (BOLT 2).
    pub fn peer_disconnected(&mut self) -> Outputs {
        match self {
            Self::OutboundOpening(_) | Self::InboundOpening(_) | Self::AwaitingFundingSigned(_) => {
                let channel_id = self.channel_id();
                *self = Self::Closed(Closed {
                    channel_id,
                    reason: CloseReason::Abandoned,
                });
                let mut out = Outputs::none();
                out.event(ChannelEvent::ChannelClosed {
                    channel_id,
                    reason: CloseReason::Abandoned,
                });
                out.changed()
            }
            Self::Negotiating(n) => {
                n.est.disconnect();
                n.our_last = None;
                n.their_last = None;
                Outputs::none()
            }
            _ => {
                if let Some(est) = self.established_mut() {
                    est.disconnect();
                }
                Outputs::none()
            }
        }
    }

    /// The connection is back: returns our `channel_reestablish` (or the
    /// `error` of a failed channel). Nothing else may be sent until the
    /// peer's `channel_reestablish` arrives.
    pub fn peer_reconnected(&mut self, ctx: &Ctx<'_>) -> Result<Outputs, ChannelError> {
        if let Self::Closing(c) = self {
            let mut out = Outputs::none();
            match c.kind {
                ClosingKind::AwaitingRemoteClose => out.msg(error_message(
                    c.est.core.channel_id,
                    "we lost channel state: please close the channel",
                )),
                // The peer may still be negotiating: resume so that our
                // final `closing_signed` can be retransmitted.
                ClosingKind::Mutual { .. } => return Ok(c.est.reconnect(ctx)?),
                ClosingKind::LocalForce { .. } => {
                    out.msg(error_message(c.est.core.channel_id, "channel closed"))
                }
            }
            return Ok(out);
        }
        if let Self::Negotiating(n) = self {
            n.our_last = None;
            n.their_last = None;
        }
        match self.established_mut() {
            Some(est) => Ok(est.reconnect(ctx)?),
            None => Ok(Outputs::none()),
        }
    }
}
