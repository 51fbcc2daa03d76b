//! Channel establishment v1 (BOLT 2): `open_channel`, `accept_channel`,
//! `funding_created`, `funding_signed`, funding depth and `channel_ready`.

use bitcoin::constants::ChainHash;
use bitcoin::secp256k1::PublicKey;
use bitcoin::{OutPoint, ScriptBuf, Transaction};
use fulmen_script::shachain::SecretStore;
use fulmen_script::Side;
use fulmen_types::{ChannelId, Feature, Features, Msat, Sat, ShortChannelId};
use fulmen_wire::{
    AcceptChannel, ChannelReady, FundingCreated, FundingSigned, OpenChannel, OpenTlvs, WireFeatures,
};

use crate::checks::{
    accept_params, check_accept, check_open, initial_balances, initial_funder_cost, open_params,
    our_params,
};
use crate::commitment::{local_point, sign_remote, verify_local};
use crate::config::{public_keys, Ctx};
use crate::error::{ApiError, ChannelError, Violation};
use crate::events::{ChannelEvent, Outputs};
use crate::ledger::{Ledger, View};
use crate::params::{
    is_valid_shutdown_script, ChannelPubkeys, ChannelTypeInfo, MAX_FUNDING_WITHOUT_LARGE,
};
use crate::state::{
    ChannelCore, Established, LastSent, Link, LocalCommit, PeerSecrets, RemoteCommit,
};

/// Blocks the fundee waits for the funding transaction before forgetting
/// the channel (BOLT 2 `channel_ready`).
pub const FUNDING_TIMEOUT_BLOCKS: u32 = 2016;

/// What the node decides when opening a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSetup {
    /// The chain.
    pub chain_hash: ChainHash,
    /// A fresh random id, unique with this peer.
    pub temporary_channel_id: ChannelId,
    /// `funding_satoshis`.
    pub funding: Sat,
    /// `push_msat`.
    pub push: Msat,
    /// The initial `feerate_per_kw`.
    pub feerate_per_kw: u32,
    /// Whether to announce the channel.
    pub announce: bool,
    /// The node's channel key index of `Ctx::secrets`.
    pub key_index: u64,
    /// Where our mutual-close funds go.
    pub shutdown_script: ScriptBuf,
    /// Commit to `shutdown_script` in `open_channel`
    /// (`option_upfront_shutdown_script`).
    pub upfront_shutdown: bool,
    /// A fresh alias for `channel_ready`, unique on the node.
    pub local_alias: ShortChannelId,
    /// Our `init` features.
    pub our_features: Features,
    /// The peer's `init` features.
    pub their_features: Features,
}

/// What the node decides when accepting a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSetup {
    /// Our chain.
    pub chain_hash: ChainHash,
    /// The node's channel key index of `Ctx::secrets`.
    pub key_index: u64,
    /// Where our mutual-close funds go.
    pub shutdown_script: ScriptBuf,
    /// Commit to `shutdown_script` in `accept_channel`.
    pub upfront_shutdown: bool,
    /// A fresh alias for `channel_ready`, unique on the node.
    pub local_alias: ShortChannelId,
    /// Our `init` features.
    pub our_features: Features,
    /// The peer's `init` features.
    pub their_features: Features,
}

/// Our side of an `open_channel` we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenProposal {
    /// The message sent.
    pub open: OpenChannel,
    /// Its channel type.
    pub channel_type: ChannelTypeInfo,
    /// The node's channel key index.
    pub key_index: u64,
    /// Our public keys.
    pub local_keys: ChannelPubkeys,
    /// Where our mutual-close funds go.
    pub local_shutdown_script: ScriptBuf,
    /// Whether the script was committed upfront.
    pub local_upfront: bool,
    /// Our alias.
    pub local_alias: ShortChannelId,
    /// `option_shutdown_anysegwit` negotiated.
    pub anysegwit: bool,
}

/// We opened the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundOpening {
    /// `open_channel` sent; waiting for `accept_channel`.
    AwaitingAccept(Box<OpenProposal>),
    /// Accepted; waiting for the node's funding transaction.
    AwaitingFundingTx {
        /// The channel's facts.
        core: Box<ChannelCore>,
        /// The peer's `first_per_commitment_point`.
        remote_first_point: PublicKey,
    },
}

/// The peer opened the channel; `accept_channel` sent, waiting for
/// `funding_created`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundOpening {
    /// The channel's facts.
    pub core: ChannelCore,
    /// The peer's `first_per_commitment_point`.
    pub remote_first_point: PublicKey,
}

/// `funding_created` sent; waiting for `funding_signed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingFundingSigned {
    /// The channel's facts, with the funding outpoint.
    pub core: ChannelCore,
    /// The funding transaction (not broadcast yet).
    pub funding_tx: Transaction,
    /// The peer's commitment 0 we signed.
    pub remote_commit: RemoteCommit,
}

/// Where the funding transaction confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    /// The block height.
    pub height: u32,
    /// The transaction's index in the block.
    pub tx_index: u32,
}

/// Funding signed both ways; waiting for depth and `channel_ready`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingFunding {
    /// The commitments (number 0 on both sides).
    pub est: Established,
    /// The funding transaction, if we funded (to rebroadcast).
    pub funding_tx: Option<Transaction>,
    /// Where it confirmed.
    pub confirmation: Option<Confirmation>,
    /// We reached depth and sent (or owe) `channel_ready`.
    pub local_ready: bool,
    /// We received the peer's `channel_ready`.
    pub remote_ready: bool,
    /// The height at which a fundee forgets an unconfirmed channel.
    pub deadline: u32,
}

fn channel_type_tlvs(t: ChannelTypeInfo, upfront: Option<&ScriptBuf>) -> OpenTlvs {
    OpenTlvs {
        // With any TLV we must include `upfront_shutdown_script`, empty if
        // we do not commit to one.
        upfront_shutdown_script: Some(upfront.cloned().unwrap_or_default()),
        channel_type: Some(WireFeatures::new(t.to_features())),
        unknown: Vec::new(),
    }
}

fn both_support(ours: &Features, theirs: &Features, f: Feature) -> bool {
    ours.supports(f) && theirs.supports(f)
}

fn non_empty(script: Option<&ScriptBuf>) -> Option<ScriptBuf> {
    script.filter(|s| !s.is_empty()).cloned()
}

/// Starts a channel we fund: the `open_channel` to send.
pub(crate) fn new_outbound(
    setup: OutboundSetup,
    ctx: &Ctx<'_>,
) -> Result<(OutboundOpening, Outputs), Violation> {
    let large = both_support(
        &setup.our_features,
        &setup.their_features,
        Feature::SupportLargeChannel,
    );
    if setup.funding > MAX_FUNDING_WITHOUT_LARGE && !large {
        return Err(Violation::LargeChannelNotSupported {
            funding: setup.funding,
        });
    }
    let channel_type = ChannelTypeInfo::choose(
        &setup.our_features,
        &setup.their_features,
        ctx.config.prefer_anchors,
        ctx.config.want_scid_alias,
        setup.announce,
    )?;
    let (funder_msat, _) = initial_balances(setup.funding, setup.push)
        .ok_or(Violation::PushExceedsFunding { push: setup.push })?;
    let cost = initial_funder_cost(channel_type, setup.feerate_per_kw)
        .and_then(Sat::checked_to_msat)
        .ok_or(Violation::FunderCannotPayFee)?;
    if funder_msat < cost {
        return Err(Violation::FunderCannotPayFee);
    }
    let anysegwit = both_support(
        &setup.our_features,
        &setup.their_features,
        Feature::ShutdownAnySegwit,
    );
    if !is_valid_shutdown_script(&setup.shutdown_script, anysegwit) {
        return Err(Violation::InvalidShutdownScript);
    }
    let local_keys = public_keys(ctx.secp, ctx.secrets);
    let first_point = local_point(ctx.secrets, 0)?;
    let params = our_params(ctx.config, setup.funding, None);
    let upfront = setup.upfront_shutdown.then_some(&setup.shutdown_script);
    let open = OpenChannel {
        chain_hash: setup.chain_hash,
        temporary_channel_id: setup.temporary_channel_id,
        funding: setup.funding,
        push: setup.push,
        dust_limit: params.dust_limit,
        max_htlc_value_in_flight: params.max_htlc_value_in_flight,
        channel_reserve: params.channel_reserve,
        htlc_minimum: params.htlc_minimum,
        feerate_per_kw: setup.feerate_per_kw,
        to_self_delay: params.to_self_delay,
        max_accepted_htlcs: params.max_accepted_htlcs,
        keys: local_keys.to_wire(first_point),
        channel_flags: u8::from(setup.announce),
        tlvs: channel_type_tlvs(channel_type, upfront),
    };
    let mut out = Outputs::none();
    out.msg(open.clone());
    let proposal = OpenProposal {
        open,
        channel_type,
        key_index: setup.key_index,
        local_keys,
        local_shutdown_script: setup.shutdown_script,
        local_upfront: setup.upfront_shutdown,
        local_alias: setup.local_alias,
        anysegwit,
    };
    Ok((OutboundOpening::AwaitingAccept(Box::new(proposal)), out))
}

impl OpenProposal {
    /// `accept_channel` received: checks it and fixes the channel's facts.
    pub(crate) fn receive_accept(
        &self,
        accept: &AcceptChannel,
        ctx: &Ctx<'_>,
    ) -> Result<(OutboundOpening, Outputs), ChannelError> {
        check_accept(accept, &self.open, ctx.config, self.anysegwit)
            .map_err(ChannelError::Close)?;
        let o = &self.open;
        let core = ChannelCore {
            chain_hash: o.chain_hash,
            temporary_channel_id: o.temporary_channel_id,
            channel_id: o.temporary_channel_id,
            funder: Side::Local,
            channel_type: self.channel_type,
            announce: o.channel_flags & 1 == 1,
            funding: o.funding,
            push: o.push,
            initial_feerate: o.feerate_per_kw,
            funding_outpoint: OutPoint::null(),
            key_index: self.key_index,
            local_keys: self.local_keys,
            remote_keys: ChannelPubkeys::from_wire(&accept.keys),
            local_params: open_params(o),
            remote_params: accept_params(accept),
            minimum_depth: accept.minimum_depth,
            local_shutdown_script: self.local_shutdown_script.clone(),
            local_upfront: self.local_upfront,
            remote_upfront_script: non_empty(accept.tlvs.upfront_shutdown_script.as_ref()),
            anysegwit: self.anysegwit,
            local_alias: self.local_alias,
        };
        let mut out = Outputs::none();
        out.event(ChannelEvent::FundingNeeded {
            temporary_channel_id: core.temporary_channel_id,
            amount: core.funding,
            script_pubkey: core.funding_script_pubkey(),
        });
        Ok((
            OutboundOpening::AwaitingFundingTx {
                core: Box::new(core),
                remote_first_point: accept.keys.first_per_commitment_point,
            },
            out.changed(),
        ))
    }
}

/// The node built the funding transaction: sign the peer's first
/// commitment and send `funding_created`.
pub(crate) fn funding_tx_built(
    core: &ChannelCore,
    remote_first_point: &PublicKey,
    tx: Transaction,
    vout: u32,
    ctx: &Ctx<'_>,
) -> Result<(AwaitingFundingSigned, Outputs), ApiError> {
    let index = u16::try_from(vout).map_err(|_| ApiError::FundingOutputMismatch)?;
    let output = tx
        .output
        .get(usize::from(index))
        .ok_or(ApiError::FundingOutputMismatch)?;
    if Sat::from(output.value) != core.funding
        || output.script_pubkey != core.funding_script_pubkey()
    {
        return Err(ApiError::FundingOutputMismatch);
    }
    let txid = tx.compute_txid();
    let mut core = core.clone();
    core.funding_outpoint = OutPoint { txid, vout };
    core.channel_id = ChannelId::from_funding_outpoint(&txid, index);
    let ledger = initial_ledger(&core).ok_or(ApiError::FundingOutputMismatch)?;
    let spec = ledger.spec(Side::Remote, View::Current)?;
    let signed = sign_remote(&core, ctx, 0, remote_first_point, &spec)?;
    let mut out = Outputs::none();
    out.msg(FundingCreated {
        temporary_channel_id: core.temporary_channel_id,
        funding_txid: txid,
        funding_output_index: index,
        signature: signed.signature,
        unknown_tlvs: Vec::new(),
    });
    out.event(ChannelEvent::ChannelIdAssigned {
        temporary_channel_id: core.temporary_channel_id,
        channel_id: core.channel_id,
    });
    Ok((
        AwaitingFundingSigned {
            core,
            funding_tx: tx,
            remote_commit: signed.commit,
        },
        out.changed(),
    ))
}

fn initial_ledger(core: &ChannelCore) -> Option<Ledger> {
    let (funder, fundee) = initial_balances(core.funding, core.push)?;
    let (local, remote) = match core.funder {
        Side::Local => (funder, fundee),
        Side::Remote => (fundee, funder),
    };
    Some(Ledger::new(
        core.funder,
        local,
        remote,
        core.initial_feerate,
    ))
}

fn established(
    core: ChannelCore,
    ledger: Ledger,
    local_commit: LocalCommit,
    remote_commit: RemoteCommit,
    ctx: &Ctx<'_>,
) -> Result<Established, ChannelError> {
    Ok(Established {
        core,
        ledger,
        local_commit,
        local_next_point: local_point(ctx.secrets, 1)?,
        remote_commit,
        remote_prev: None,
        remote_next_point: None,
        remote_secrets: PeerSecrets(SecretStore::new()),
        last_sent: LastSent::Commit,
        link: Link::Connected,
        short_channel_id: None,
        remote_alias: None,
    })
}

/// Accepts a channel the peer opens: checks `open_channel` and returns
/// the `accept_channel` to send.
pub(crate) fn new_inbound(
    open: &OpenChannel,
    setup: InboundSetup,
    ctx: &Ctx<'_>,
) -> Result<(InboundOpening, Outputs), ChannelError> {
    let anysegwit = both_support(
        &setup.our_features,
        &setup.their_features,
        Feature::ShutdownAnySegwit,
    );
    let channel_type =
        check_open(open, &setup.chain_hash, ctx.config, anysegwit).map_err(ChannelError::Close)?;
    if !is_valid_shutdown_script(&setup.shutdown_script, anysegwit) {
        return Err(ChannelError::Close(Violation::InvalidShutdownScript));
    }
    let remote_params = open_params(open);
    let local_params = our_params(ctx.config, open.funding, Some(&remote_params));
    let local_keys = public_keys(ctx.secp, ctx.secrets);
    let first_point = local_point(ctx.secrets, 0)?;
    let upfront = setup.upfront_shutdown.then_some(&setup.shutdown_script);
    let accept = AcceptChannel {
        temporary_channel_id: open.temporary_channel_id,
        dust_limit: local_params.dust_limit,
        max_htlc_value_in_flight: local_params.max_htlc_value_in_flight,
        channel_reserve: local_params.channel_reserve,
        htlc_minimum: local_params.htlc_minimum,
        minimum_depth: ctx.config.minimum_depth.max(1),
        to_self_delay: local_params.to_self_delay,
        max_accepted_htlcs: local_params.max_accepted_htlcs,
        keys: local_keys.to_wire(first_point),
        tlvs: channel_type_tlvs(channel_type, upfront),
    };
    let core = ChannelCore {
        chain_hash: open.chain_hash,
        temporary_channel_id: open.temporary_channel_id,
        channel_id: open.temporary_channel_id,
        funder: Side::Remote,
        channel_type,
        announce: open.channel_flags & 1 == 1,
        funding: open.funding,
        push: open.push,
        initial_feerate: open.feerate_per_kw,
        funding_outpoint: OutPoint::null(),
        key_index: setup.key_index,
        local_keys,
        remote_keys: ChannelPubkeys::from_wire(&open.keys),
        local_params,
        remote_params,
        minimum_depth: accept.minimum_depth,
        local_shutdown_script: setup.shutdown_script,
        local_upfront: setup.upfront_shutdown,
        remote_upfront_script: non_empty(open.tlvs.upfront_shutdown_script.as_ref()),
        anysegwit,
        local_alias: setup.local_alias,
    };
    let mut out = Outputs::none();
    out.msg(accept);
    Ok((
        InboundOpening {
            core,
            remote_first_point: open.keys.first_per_commitment_point,
        },
        out.changed(),
    ))
}

impl InboundOpening {
    /// `funding_created`: verify the funder's signature of our first
    /// commitment, sign theirs, send `funding_signed`.
    pub(crate) fn receive_funding_created(
        &self,
        m: &FundingCreated,
        ctx: &Ctx<'_>,
    ) -> Result<(AwaitingFunding, Outputs), ChannelError> {
        if m.temporary_channel_id != self.core.temporary_channel_id {
            return Err(ChannelError::Ignore(Violation::ChannelIdMismatch));
        }
        let mut core = self.core.clone();
        core.funding_outpoint = OutPoint {
            txid: m.funding_txid,
            vout: u32::from(m.funding_output_index),
        };
        core.channel_id = ChannelId::from_funding_outpoint(&m.funding_txid, m.funding_output_index);
        let ledger =
            initial_ledger(&core).ok_or(ChannelError::Close(Violation::PushExceedsFunding {
                push: core.push,
            }))?;
        let local_spec = ledger.spec(Side::Local, View::Current)?;
        let point = local_point(ctx.secrets, 0)?;
        verify_local(&core, ctx, 0, &point, &local_spec, &m.signature, &[])?;
        let remote_spec = ledger.spec(Side::Remote, View::Current)?;
        let signed = sign_remote(&core, ctx, 0, &self.remote_first_point, &remote_spec)?;
        let mut out = Outputs::none();
        out.msg(FundingSigned {
            channel_id: core.channel_id,
            signature: signed.signature,
            unknown_tlvs: Vec::new(),
        });
        out.event(ChannelEvent::ChannelIdAssigned {
            temporary_channel_id: core.temporary_channel_id,
            channel_id: core.channel_id,
        });
        let local_commit = LocalCommit {
            number: 0,
            remote_signature: m.signature,
            remote_htlc_signatures: Vec::new(),
        };
        let est = established(core, ledger, local_commit, signed.commit, ctx)?;
        Ok((
            AwaitingFunding {
                est,
                funding_tx: None,
                confirmation: None,
                local_ready: false,
                remote_ready: false,
                deadline: ctx.height.saturating_add(FUNDING_TIMEOUT_BLOCKS),
            },
            out.changed(),
        ))
    }
}

impl AwaitingFundingSigned {
    /// `funding_signed`: verify the fundee's signature of our first
    /// commitment, then broadcast the funding transaction.
    pub(crate) fn receive_funding_signed(
        &self,
        m: &FundingSigned,
        ctx: &Ctx<'_>,
    ) -> Result<(AwaitingFunding, Outputs), ChannelError> {
        if m.channel_id != self.core.channel_id {
            return Err(ChannelError::Ignore(Violation::ChannelIdMismatch));
        }
        let ledger =
            initial_ledger(&self.core).ok_or(ChannelError::Close(Violation::FunderCannotPayFee))?;
        let spec = ledger.spec(Side::Local, View::Current)?;
        let point = local_point(ctx.secrets, 0)?;
        verify_local(&self.core, ctx, 0, &point, &spec, &m.signature, &[])?;
        let local_commit = LocalCommit {
            number: 0,
            remote_signature: m.signature,
            remote_htlc_signatures: Vec::new(),
        };
        let est = established(
            self.core.clone(),
            ledger,
            local_commit,
            self.remote_commit.clone(),
            ctx,
        )?;
        let mut out = Outputs::none();
        out.broadcasts.push(self.funding_tx.clone());
        Ok((
            AwaitingFunding {
                est,
                funding_tx: Some(self.funding_tx.clone()),
                confirmation: None,
                local_ready: false,
                remote_ready: false,
                deadline: ctx.height.saturating_add(FUNDING_TIMEOUT_BLOCKS),
            },
            out.changed(),
        ))
    }
}

/// What a block or `channel_ready` did to a channel awaiting funding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FundingProgress {
    /// Still waiting.
    Waiting,
    /// Both `channel_ready` exchanged: normal operation starts.
    Ready,
    /// The fundee gave up on an unconfirmed funding transaction.
    TimedOut,
}

impl AwaitingFunding {
    /// Our `channel_ready`.
    pub(crate) fn channel_ready_message(&self) -> ChannelReady {
        ChannelReady {
            channel_id: self.est.core.channel_id,
            second_per_commitment_point: self.est.local_next_point,
            short_channel_id_alias: Some(self.est.core.local_alias),
            unknown_tlvs: Vec::new(),
        }
    }

    /// A new block: find the funding transaction, count its depth, send
    /// `channel_ready` when it is deep enough.
    pub(crate) fn handle_block(
        &mut self,
        height: u32,
        txs: &[Transaction],
    ) -> Result<(FundingProgress, Outputs), ChannelError> {
        let mut out = Outputs::none();
        let core = &self.est.core;
        if self.confirmation.is_none() {
            let found = txs
                .iter()
                .enumerate()
                .find(|(_, tx)| tx.compute_txid() == core.funding_outpoint.txid);
            if let Some((i, tx)) = found {
                // MUST NOT send `channel_ready` unless the outpoint pays
                // exactly `funding_satoshis` to the 2-of-2.
                let pays = tx
                    .output
                    .get(core.funding_outpoint.vout as usize)
                    .is_some_and(|o| {
                        Sat::from(o.value) == core.funding
                            && o.script_pubkey == core.funding_script_pubkey()
                    });
                if !pays {
                    return Err(ChannelError::Close(Violation::FundingOutputMismatch));
                }
                self.confirmation = Some(Confirmation {
                    height,
                    tx_index: u32::try_from(i).unwrap_or(u32::MAX),
                });
                out.persist = true;
            } else if core.funder == Side::Remote && height >= self.deadline {
                return Ok((FundingProgress::TimedOut, out.changed()));
            }
        }
        let Some(conf) = self.confirmation else {
            return Ok((FundingProgress::Waiting, out));
        };
        if !self.local_ready {
            let depth = height.saturating_sub(conf.height).saturating_add(1);
            if depth >= core.minimum_depth.max(1) {
                let vout = u16::try_from(core.funding_outpoint.vout)
                    .map_err(|_| ChannelError::Close(Violation::FundingOutputIndexTooLarge))?;
                self.est.short_channel_id = ShortChannelId::new(conf.height, conf.tx_index, vout);
                self.local_ready = true;
                out.persist = true;
                if self.est.link == crate::state::Link::Connected {
                    out.msg(self.channel_ready_message());
                }
            }
        }
        Ok((self.progress(), out))
    }

    fn progress(&self) -> FundingProgress {
        if self.local_ready && self.remote_ready {
            FundingProgress::Ready
        } else {
            FundingProgress::Waiting
        }
    }

    /// The peer's `channel_ready`: remember its second point and alias.
    pub(crate) fn receive_channel_ready(
        &mut self,
        m: &ChannelReady,
    ) -> Result<(FundingProgress, Outputs), ChannelError> {
        if m.channel_id != self.est.core.channel_id {
            return Err(ChannelError::Ignore(Violation::ChannelIdMismatch));
        }
        self.est.remote_next_point = Some(m.second_per_commitment_point);
        if m.short_channel_id_alias.is_some() {
            self.est.remote_alias = m.short_channel_id_alias;
        }
        self.remote_ready = true;
        Ok((self.progress(), Outputs::none().changed()))
    }
}
