//! Committing updates (BOLT 2 `commitment_signed`) and completing the
//! transition (`revoke_and_ack`).
//!
//! Order of effects: a received `commitment_signed` is verified in full
//! before anything changes; then the ledger moves, our previous commitment
//! is revoked, and the `revoke_and_ack` leaves in the same [`Outputs`] with
//! `persist` set — the node writes the new state before the secret
//! reaches the peer. A `revoke_and_ack` received is checked against the
//! point of the revoked commitment and the shachain before it is applied.

use fulmen_script::keys::per_commitment_point;
use fulmen_script::shachain::{commitment_index, PerCommitmentSecret, ShachainError};
use fulmen_script::Side;
use fulmen_wire::{CommitmentSigned, RevokeAndAck};

use crate::commitment::{local_point, local_secret, sign_remote, verify_local};
use crate::config::Ctx;
use crate::error::{ChannelError, InternalError, Violation};
use crate::events::{ChannelEvent, HtlcFailure, IncomingHtlc, Outputs, RevokedCommitment};
use crate::ledger::{Outcome, Settled, View};
use crate::state::{Established, LastSent, Link, LocalCommit, PeerSecrets};

/// Turns what a revocation made irrevocable into node events.
pub(crate) fn settled_events(settled: Vec<Settled>, out: &mut Outputs) {
    for s in settled {
        match s {
            Settled::IncomingAdded(e) => {
                if let Some(onion) = e.onion {
                    out.event(ChannelEvent::HtlcAdded(IncomingHtlc {
                        id: e.id,
                        amount: e.amount,
                        payment_hash: e.payment_hash,
                        cltv_expiry: e.cltv_expiry,
                        onion,
                        path_key: e.path_key,
                    }));
                }
            }
            Settled::OutgoingRemoved { id, outcome } => match outcome {
                Outcome::Fulfill(_) => {}
                Outcome::Fail(reason) => out.event(ChannelEvent::HtlcFailed {
                    id,
                    failure: HtlcFailure::Reason(reason),
                }),
                Outcome::Malformed {
                    sha256_of_onion,
                    failure_code,
                } => out.event(ChannelEvent::HtlcFailed {
                    id,
                    failure: HtlcFailure::Malformed {
                        sha256_of_onion,
                        failure_code,
                    },
                }),
            },
            Settled::IncomingRemoved { id } => {
                out.event(ChannelEvent::IncomingHtlcResolved { id });
            }
        }
    }
}

impl Established {
    /// Whether [`Established::sign_commitment`] would send something.
    pub(crate) fn can_sign(&self) -> bool {
        self.link == Link::Connected
            && self.remote_prev.is_none()
            && self.remote_next_point.is_some()
            && self.ledger.has_changes_to_sign(Side::Local)
    }

    /// The `commitment_signed` for the peer's commitment `number` as the
    /// ledger describes it in `view` (`Next` to sign new updates,
    /// `Current` to retransmit).
    pub(crate) fn commitment_signed_message(
        &self,
        ctx: &Ctx<'_>,
        number: u64,
        point: &bitcoin::secp256k1::PublicKey,
        view: View,
    ) -> Result<(CommitmentSigned, crate::state::RemoteCommit), InternalError> {
        let spec = self.ledger.spec(Side::Remote, view)?;
        let signed = sign_remote(&self.core, ctx, number, point, &spec)?;
        Ok((
            CommitmentSigned {
                channel_id: self.core.channel_id,
                signature: signed.signature,
                htlc_signatures: signed.htlc_signatures,
                funding_txid: None,
                unknown_tlvs: Vec::new(),
            },
            signed.commit,
        ))
    }

    /// Signs the peer's next commitment with every update so far.
    pub(crate) fn sign_commitment(&mut self, ctx: &Ctx<'_>) -> Result<Outputs, ChannelError> {
        if !self.can_sign() {
            return Ok(Outputs::none());
        }
        let point = self
            .remote_next_point
            .ok_or(ChannelError::Close(Violation::Internal(
                InternalError::KeyDerivation,
            )))?;
        let number = self
            .remote_commit
            .number
            .checked_add(1)
            .filter(|n| *n <= fulmen_script::commitment::MAX_COMMITMENT_NUMBER)
            .ok_or(ChannelError::Close(Violation::CommitmentNumberExhausted))?;
        let (msg, commit) = self.commitment_signed_message(ctx, number, &point, View::Next)?;
        self.ledger.commit_sent(Side::Local);
        let prev = core::mem::replace(&mut self.remote_commit, commit);
        self.remote_prev = Some(prev);
        self.remote_next_point = None;
        self.last_sent = LastSent::Commit;
        let mut out = Outputs::none();
        out.msg(msg);
        Ok(out.changed())
    }

    /// Our `revoke_and_ack` of commitment `revoked` (revealing its secret
    /// and the point of commitment `revoked + 2`).
    pub(crate) fn revoke_message(
        &self,
        ctx: &Ctx<'_>,
        revoked: u64,
    ) -> Result<RevokeAndAck, InternalError> {
        let secret = local_secret(ctx.secrets, revoked)?;
        let next = local_point(ctx.secrets, revoked.saturating_add(2))?;
        Ok(RevokeAndAck {
            channel_id: self.core.channel_id,
            per_commitment_secret: fulmen_wire::PerCommitmentSecret(*secret.as_bytes()),
            next_per_commitment_point: next,
            unknown_tlvs: Vec::new(),
        })
    }

    /// `commitment_signed`: verify, adopt the new commitment, revoke the
    /// previous one.
    pub(crate) fn receive_commitment_signed(
        &mut self,
        m: &CommitmentSigned,
        ctx: &Ctx<'_>,
    ) -> Result<Outputs, ChannelError> {
        let number = self
            .local_commit
            .number
            .checked_add(1)
            .filter(|n| *n <= fulmen_script::commitment::MAX_COMMITMENT_NUMBER)
            .ok_or(ChannelError::Close(Violation::CommitmentNumberExhausted))?;
        let spec = self.ledger.spec(Side::Local, View::Next)?;
        verify_local(
            &self.core,
            ctx,
            number,
            &self.local_next_point,
            &spec,
            &m.signature,
            &m.htlc_signatures,
        )?;
        let revoke = self.revoke_message(ctx, number - 1)?;
        let next_point = revoke.next_per_commitment_point;
        self.ledger.commit_sent(Side::Remote);
        self.local_commit = LocalCommit {
            number,
            remote_signature: m.signature,
            remote_htlc_signatures: m.htlc_signatures.clone(),
        };
        self.local_next_point = next_point;
        let settled = self.ledger.revoke_sent(Side::Local)?;
        self.last_sent = LastSent::Revoke;
        let mut out = Outputs::none();
        out.msg(revoke);
        settled_events(settled, &mut out);
        Ok(out.changed())
    }

    /// `revoke_and_ack`: check the secret, store it, record the revoked
    /// commitment for the penalty path.
    pub(crate) fn receive_revoke_and_ack(
        &mut self,
        m: &RevokeAndAck,
    ) -> Result<Outputs, ChannelError> {
        let Some(prev) = self.remote_prev.as_ref() else {
            return Err(ChannelError::Close(Violation::UnexpectedRevocation));
        };
        let secret = PerCommitmentSecret::new(m.per_commitment_secret.0);
        // `per_commitment_secret` is not a valid secret key or does not
        // generate the previous `per_commitment_point`.
        let point = per_commitment_point(&secret)
            .map_err(|_| ChannelError::Close(Violation::InvalidRevocationSecret))?;
        if point != prev.point {
            return Err(ChannelError::Close(Violation::InvalidRevocationSecret));
        }
        // The secret was not generated by the BOLT 3 shachain.
        let index = commitment_index(prev.number)
            .map_err(|_| ChannelError::Close(Violation::CommitmentNumberExhausted))?;
        let mut store = self.remote_secrets.0.clone();
        store.insert_secret(index, &secret).map_err(|e| match e {
            ShachainError::InconsistentSecret { .. } => {
                ChannelError::Close(Violation::ShachainMismatch)
            }
            _ => ChannelError::Close(Violation::InvalidRevocationSecret),
        })?;
        let record = RevokedCommitment {
            channel_id: self.core.channel_id,
            commitment_number: prev.number,
            txid: prev.txid,
            to_local: prev.to_local,
            to_self_delay: self.core.local_params.to_self_delay,
            htlcs: prev.htlcs.clone(),
            per_commitment_secret: secret,
        };
        let settled = self.ledger.revoke_sent(Side::Remote)?;
        self.remote_secrets = PeerSecrets(store);
        self.remote_next_point = Some(m.next_per_commitment_point);
        self.remote_prev = None;
        let mut out = Outputs::none();
        out.event(ChannelEvent::RevokedRemoteCommitment(record));
        settled_events(settled, &mut out);
        Ok(out.changed())
    }
}
