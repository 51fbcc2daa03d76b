//! A claim: one output we can take, as plain data — where it is, what it
//! holds, which script and key spend it, what it waits for and by when it
//! must be taken.

use bitcoin::secp256k1::ecdsa::Signature;
use bitcoin::secp256k1::PublicKey;
use bitcoin::{OutPoint, ScriptBuf, Sequence, Transaction};
use fulmen_script::shachain::PerCommitmentSecret;
use fulmen_script::HtlcDirection;
use fulmen_types::{PaymentHash, Sat};

/// One output we can spend, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Sat,
    /// Its `scriptPubKey`.
    pub script_pubkey: ScriptBuf,
    /// The witness script behind its P2WSH; `None` for a P2WPKH
    /// (`to_remote` without anchors).
    pub witness_script: Option<ScriptBuf>,
    /// What it is and how it is spent.
    pub kind: ClaimKind,
    /// The key that signs its spend.
    pub key: ClaimKey,
    /// Blocks the spent transaction must have been confirmed for before
    /// the spend can be mined (the script's `OP_CHECKSEQUENCEVERIFY`; the
    /// spending input's `nSequence`). 0 if none.
    pub csv: u16,
    /// The absolute block height the script's `OP_CHECKLOCKTIMEVERIFY`
    /// requires as the spend's `nLockTime` (the HTLC's `cltv_expiry`); 0 if
    /// none. The spend can be mined in block `cltv + 1` at the earliest.
    pub cltv: u32,
    /// When the output may be lost if not yet taken.
    pub deadline: Deadline,
    /// The counterparty can also spend this output (before or after the
    /// deadline): a spend of ours may be invalidated by one of theirs, and
    /// must not be batched with uncontested claims near a deadline (BOLT 5
    /// pinning).
    pub contested: bool,
}

impl Claim {
    /// The first block height that can include a spend of this claim, if
    /// the transaction holding it confirmed at `confirmed_at`
    /// (BIP 68: `confirmed_at + csv`; BIP 65: `cltv + 1`).
    pub fn ready_height(&self, confirmed_at: u32) -> u32 {
        let relative = confirmed_at.saturating_add(u32::from(self.csv));
        let absolute = if self.cltv == 0 {
            0
        } else {
            self.cltv.saturating_add(1)
        };
        relative.max(absolute)
    }

    /// The height from which the output may be lost (the counterparty can
    /// take it), if the transaction holding it confirmed at
    /// `confirmed_at`; `None` if it can wait.
    pub fn deadline_height(&self, confirmed_at: u32) -> Option<u32> {
        match self.deadline {
            Deadline::None => None,
            Deadline::Relative(blocks) => Some(confirmed_at.saturating_add(u32::from(blocks))),
            Deadline::Absolute(height) => Some(height),
        }
    }

    /// Blocks left at `height` before [`Claim::deadline_height`] (0 once
    /// passed); `None` without a deadline.
    pub fn blocks_left(&self, confirmed_at: u32, height: u32) -> Option<u32> {
        self.deadline_height(confirmed_at)
            .map(|d| d.saturating_sub(height))
    }

    /// The `nSequence` a spend of this claim needs: the CSV delay in
    /// blocks, or `0xfffffffd` (no relative lock, RBF, `nLockTime`
    /// enforced).
    pub fn sequence(&self) -> Sequence {
        if self.csv > 0 {
            Sequence::from_height(self.csv)
        } else {
            Sequence::ENABLE_RBF_NO_LOCKTIME
        }
    }

    /// The payment hash, for HTLC claims.
    pub fn payment_hash(&self) -> Option<PaymentHash> {
        match &self.kind {
            ClaimKind::HtlcSuccess { payment_hash, .. }
            | ClaimKind::HtlcTimeout { payment_hash, .. }
            | ClaimKind::Revoked {
                output: RevokedOutput::Htlc { payment_hash, .. },
            } => Some(*payment_hash),
            _ => None,
        }
    }
}

/// What a claimed output is, and so which witness spends it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimKind {
    /// Our delayed output: `to_local` of our commitment, or the output of
    /// our HTLC-success / HTLC-timeout transaction. Witness
    /// `<sig> <> <script>`, `nSequence = delay`.
    ToLocalAfterCsv {
        /// `to_self_delay` (the peer's).
        delay: u16,
    },
    /// Our `to_remote` on the peer's commitment: a P2WPKH (`csv` 0,
    /// witness `<sig> <pubkey>`) or, with anchors, `<key> OP_CHECKSIGVERIFY
    /// 1 OP_CSV` (`csv` 1, witness `<sig> <script>`).
    ToRemote {
        /// 0 or 1.
        csv: u8,
    },
    /// An HTLC paid to us, taken with its preimage: on our commitment by
    /// the HTLC-success transaction (`second_stage`), on the peer's
    /// directly (witness `<sig> <preimage> <script>`).
    HtlcSuccess {
        /// The hash whose preimage is needed.
        payment_hash: PaymentHash,
        /// After this height the peer can time the HTLC out.
        cltv_expiry: u32,
        /// On our commitment: the pre-signed HTLC-success transaction.
        second_stage: Option<Box<SecondStage>>,
    },
    /// An HTLC we offered, taken back after its expiry: on our commitment
    /// by the HTLC-timeout transaction (`second_stage`), on the peer's
    /// directly (witness `<sig> <> <script>`, `nLockTime = cltv_expiry`).
    HtlcTimeout {
        /// The HTLC's payment hash (the peer may still reveal its preimage).
        payment_hash: PaymentHash,
        /// The expiry.
        cltv_expiry: u32,
        /// On our commitment: the pre-signed HTLC-timeout transaction.
        second_stage: Option<Box<SecondStage>>,
    },
    /// An output of a revoked commitment of the peer, or of its HTLC
    /// transaction, taken with the revocation key.
    Revoked {
        /// Which one.
        output: RevokedOutput,
    },
    /// Our anchor (330 sat): spent by a child transaction, with wallet
    /// inputs, to bump the commitment's fee (CPFP). Witness
    /// `<sig> <script>` with the funding key. Never part of a sweep.
    AnchorCpfp,
}

impl ClaimKind {
    /// Whether the output is spent through a second-stage HTLC transaction
    /// (not in a sweep).
    pub fn is_second_stage(&self) -> bool {
        matches!(
            self,
            Self::HtlcSuccess {
                second_stage: Some(_),
                ..
            } | Self::HtlcTimeout {
                second_stage: Some(_),
                ..
            }
        )
    }
}

/// Which output of a revoked commitment (or of the cheater's HTLC
/// transaction) a revocation claim takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedOutput {
    /// The cheater's `to_local`: witness `<sig> 1 <script>`.
    ToLocal,
    /// An HTLC output: witness `<sig> <revocationpubkey> <script>`.
    Htlc {
        /// Offered or received by the cheater (the commitment's owner).
        direction: HtlcDirection,
        /// Its payment hash.
        payment_hash: PaymentHash,
    },
    /// The output of the cheater's HTLC-success or HTLC-timeout
    /// transaction: witness `<sig> 1 <script>`.
    SecondStage,
}

/// Which key signs a claim; resolved against [`crate::ChannelSecrets`] at
/// signing time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ClaimKey {
    /// `delayed_payment_basepoint_secret` tweaked by our per-commitment
    /// point.
    DelayedPayment {
        /// Our per-commitment point of that commitment.
        per_commitment_point: PublicKey,
    },
    /// `payment_basepoint_secret` itself (`option_static_remotekey`).
    Payment,
    /// `htlc_basepoint_secret` tweaked by the commitment's per-commitment
    /// point (ours or the peer's).
    Htlc {
        /// The commitment's per-commitment point.
        per_commitment_point: PublicKey,
    },
    /// The revocation private key, from our `revocation_basepoint_secret`
    /// and the peer's revealed secret.
    Revocation {
        /// The revoked commitment's per-commitment secret. `Debug` redacts it.
        per_commitment_secret: PerCommitmentSecret,
    },
    /// `funding_secret` (anchors).
    Funding,
}

impl core::fmt::Debug for ClaimKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::DelayedPayment {
                per_commitment_point,
            } => f
                .debug_struct("DelayedPayment")
                .field("per_commitment_point", per_commitment_point)
                .finish(),
            Self::Payment => f.write_str("Payment"),
            Self::Htlc {
                per_commitment_point,
            } => f
                .debug_struct("Htlc")
                .field("per_commitment_point", per_commitment_point)
                .finish(),
            Self::Revocation { .. } => f.write_str("Revocation(<redacted>)"),
            Self::Funding => f.write_str("Funding"),
        }
    }
}

/// When a claimed output may be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Never lost to the counterparty (only we can spend it, or losing the
    /// race costs nothing: the peer's spend reveals a preimage or makes a
    /// second-stage output we also take).
    None,
    /// This many blocks after the holding transaction confirms (a revoked
    /// `to_local` or second-stage output: the cheater's CSV).
    Relative(u16),
    /// At this block height (an HTLC: the peer can time it out).
    Absolute(u32),
}

/// A pre-signed HTLC-success or HTLC-timeout transaction of our
/// commitment: the peer's signature and what ours needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondStage {
    /// The unsigned transaction: one input (the HTLC output), one output.
    /// With anchors its fee is zero: add wallet inputs (and outputs after
    /// the first) before finalising; the peer signed
    /// `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY`.
    pub tx: Transaction,
    /// The peer's signature (from `commitment_signed`).
    pub remote_signature: Signature,
    /// The witness script of the second-stage output (`to_local`-shaped,
    /// behind the peer's `to_self_delay`).
    pub output_witness_script: ScriptBuf,
    /// The CSV delay of that output (the peer's `to_self_delay`).
    pub to_self_delay: u16,
    /// The channel type (which sighash the peer's signature uses).
    pub channel_type: fulmen_script::ChannelType,
}
