//! Typed errors: chain access failures, transaction rejections and block rejections.
//!
//! Rejections carry the data that explains them; their `Display` and [`TxReject::reason`] /
//! [`BlockReject::reason`] give Bitcoin Core's reject-reason strings, and [`TxReject::rpc_code`]
//! gives the JSON-RPC error code Bitcoin Core's `sendrawtransaction` answers with, so an RPC
//! server can return them unchanged and an RPC client can map Core's answers back.

use core::fmt;

use bitcoin::{Amount, BlockHash, OutPoint, Txid};

/// Bitcoin Core's `RPC_TRANSACTION_ERROR`: generic transaction error, also used for missing
/// inputs.
pub const RPC_TRANSACTION_ERROR: i32 = -25;
/// Bitcoin Core's `RPC_TRANSACTION_REJECTED`: the transaction was rejected by network rules.
pub const RPC_TRANSACTION_REJECTED: i32 = -26;
/// Bitcoin Core's `RPC_TRANSACTION_ALREADY_IN_CHAIN` (`RPC_VERIFY_ALREADY_IN_CHAIN`).
pub const RPC_TRANSACTION_ALREADY_IN_CHAIN: i32 = -27;
/// Bitcoin Core's `RPC_VERIFY_ERROR`: generic block verification error.
pub const RPC_VERIFY_ERROR: i32 = -25;

/// A failure to reach or read the chain.
///
/// How to react: [`ChainError::UnknownBlock`] means the caller's view forked away from anything
/// the source knows: resynchronise from a recent height. The others are transient or local faults:
/// retry later, and warn the operator if they persist; never treat them as "not on chain".
#[derive(Debug)]
#[non_exhaustive]
pub enum ChainError {
    /// The block the caller referred to is unknown to the source.
    UnknownBlock(BlockHash),
    /// An argument was out of range (for example a fee-estimation target of zero blocks).
    InvalidArgument(&'static str),
    /// A disk operation failed.
    Io {
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The block store holds a record that does not decode or does not validate.
    Corrupt {
        /// Byte offset of the bad record in the store file.
        offset: u64,
        /// What is wrong with it.
        problem: CorruptRecord,
    },
    /// A thread panicked while holding the chain's lock; the chain state can't be trusted.
    Poisoned,
    /// The source has no fee estimate (Core's `estimatesmartfee` without enough data): keep
    /// the last estimate, or a floor, and let deadlines escalate it.
    NoFeeEstimate,
}

/// Why a stored record could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptRecord {
    /// Its checksum does not match, and more records follow it (so it is not a torn write).
    Checksum,
    /// Its kind byte is unknown.
    UnknownKind(u8),
    /// Its payload does not decode.
    Decode,
    /// The block it holds was rejected.
    Block(BlockReject),
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::UnknownBlock(h) => write!(f, "unknown block {h}"),
            ChainError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            ChainError::Io { op, source } => write!(f, "i/o error while {op}: {source}"),
            ChainError::Corrupt { offset, problem } => {
                write!(
                    f,
                    "corrupt block store record at offset {offset}: {problem:?}"
                )
            }
            ChainError::Poisoned => write!(f, "chain state lock poisoned"),
            ChainError::NoFeeEstimate => write!(f, "no fee estimate available"),
        }
    }
}

impl std::error::Error for ChainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChainError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a transaction was refused, by the mempool or inside a block.
///
/// `Display` gives Bitcoin Core's reject reason (with Core's details where Core adds them).
/// How to react: a refused broadcast of our own transaction is a bug or a race (inputs spent by
/// someone else); [`TxReject::MissingInputs`] and [`TxReject::MempoolConflict`] may mean a
/// counterparty spent the output first: look at the chain before retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxReject {
    /// `bad-txns-vin-empty`.
    NoInputs,
    /// `bad-txns-vout-empty`.
    NoOutputs,
    /// `bad-txns-oversize`: stripped size times four exceeds the block weight limit.
    Oversize,
    /// `bad-txns-vout-toolarge`: an output above 21 million bitcoin.
    OutputTooLarge,
    /// `bad-txns-txouttotal-toolarge`: outputs add up to more than 21 million bitcoin.
    OutputTotalTooLarge,
    /// `bad-txns-inputs-duplicate`: the same outpoint spent twice in one transaction.
    DuplicateInputs,
    /// `bad-cb-length`: coinbase scriptSig outside 2..=100 bytes.
    BadCoinbaseLength,
    /// `bad-txns-prevout-null`: a non-coinbase input spends the null outpoint.
    NullPrevout,
    /// `coinbase`: a coinbase transaction can't enter the mempool.
    Coinbase,
    /// A policy (standardness) rule is broken; the transaction may still be valid in a block.
    NonStandard(NonStandard),
    /// `non-final`: nLockTime not reached by the next block (height, or median time past).
    NonFinal,
    /// `non-BIP68-final`: a relative lock (BIP 68) not reached by the next block.
    NonBip68Final,
    /// `txn-already-in-mempool`: the same transaction (same wtxid) is already in the mempool.
    AlreadyInMempool,
    /// `txn-same-nonwitness-data-in-mempool`: same txid, different witness, in the mempool.
    SameNonWitnessDataInMempool,
    /// The transaction is already confirmed in the active chain.
    AlreadyInChain,
    /// `txn-mempool-conflict`: an input is already spent by a mempool transaction (a node
    /// without full RBF; the embedded chain replaces, or answers one of the replacement
    /// rejections below).
    MempoolConflict {
        /// The contested outpoint.
        outpoint: OutPoint,
        /// The mempool transaction spending it.
        spent_by: Txid,
    },
    /// `insufficient fee`: a replacement that does not pay a higher feerate than what it
    /// replaces, its evicted fees and its own relay.
    InsufficientFee {
        /// The replacement's fee.
        fee: Amount,
        /// The least fee that would replace.
        min_fee: Amount,
    },
    /// `too many potential replacements`: a replacement would evict more than 100 transactions.
    TooManyReplacements {
        /// How many it would evict.
        evictions: usize,
    },
    /// `replacement-adds-unconfirmed`: a replacement spends an unconfirmed output none of the
    /// replaced transactions spent.
    ReplacementAddsUnconfirmed,
    /// `bad-txns-spends-conflicting-tx`: a replacement spends an output of a transaction it
    /// replaces.
    SpendsConflictingTx,
    /// `bad-txns-inputs-missingorspent`: an input does not exist or is already spent.
    MissingInputs {
        /// The first such input.
        outpoint: OutPoint,
    },
    /// `bad-txns-premature-spend-of-coinbase`: a coinbase output spent before 100 confirmations.
    PrematureCoinbaseSpend {
        /// The depth the coinbase would have when spent (less than 100).
        depth: u32,
    },
    /// `bad-txns-inputvalues-outofrange`: inputs add up to more than 21 million bitcoin.
    InputValuesOutOfRange,
    /// `bad-txns-in-belowout`: outputs exceed inputs.
    InBelowOut {
        /// Sum of the inputs.
        value_in: Amount,
        /// Sum of the outputs.
        value_out: Amount,
    },
    /// `min relay fee not met`: fee below the minimum relay feerate times the virtual size.
    MinRelayFee {
        /// The transaction's fee.
        fee: Amount,
        /// The minimum fee for its size.
        min_fee: Amount,
    },
    /// `too-long-mempool-chain`: too many unconfirmed ancestors.
    TooLongMempoolChain {
        /// Unconfirmed ancestors the transaction would have.
        ancestors: usize,
    },
    /// `mandatory-script-verify-flag-failed`: an input's script fails consensus rules.
    MandatoryScript {
        /// The failing input.
        input: usize,
    },
    /// `non-mandatory-script-verify-flag-failed`: an input breaks a script policy rule.
    NonMandatoryScript {
        /// The offending input.
        input: usize,
        /// Which rule.
        violation: ScriptPolicy,
    },
    /// A rejection reported by an external node that this crate has no variant for.
    Other {
        /// The node's JSON-RPC error code.
        code: i32,
        /// The node's message.
        message: String,
    },
}

/// Standardness rules (Bitcoin Core's `IsStandardTx`, `AreInputsStandard`, `IsWitnessStandard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonStandard {
    /// `version`: transaction version outside 1..=3.
    Version,
    /// `tx-size`: weight above 400,000.
    TxSize,
    /// `tx-size-small`: stripped size below 65 bytes.
    TxSizeSmall,
    /// `scriptsig-size`: a scriptSig above 1,650 bytes.
    ScriptSigSize,
    /// `scriptsig-not-pushonly`: a scriptSig with non-push opcodes.
    ScriptSigNotPushOnly,
    /// `scriptpubkey`: an output script of no standard type.
    ScriptPubKey,
    /// `dust`: an output below its dust threshold (3 sat/vB spend-cost rule).
    Dust,
    /// `multi-op-return`: more than one OP_RETURN output.
    MultiOpReturn,
    /// `bad-txns-nonstandard-inputs`: spends an output of a non-standard type.
    NonStandardInputs,
    /// `bad-witness-nonstandard`: witness breaks size limits or carries an annex.
    WitnessNonStandard,
}

impl NonStandard {
    /// Bitcoin Core's reject reason.
    pub fn reason(self) -> &'static str {
        match self {
            NonStandard::Version => "version",
            NonStandard::TxSize => "tx-size",
            NonStandard::TxSizeSmall => "tx-size-small",
            NonStandard::ScriptSigSize => "scriptsig-size",
            NonStandard::ScriptSigNotPushOnly => "scriptsig-not-pushonly",
            NonStandard::ScriptPubKey => "scriptpubkey",
            NonStandard::Dust => "dust",
            NonStandard::MultiOpReturn => "multi-op-return",
            NonStandard::NonStandardInputs => "bad-txns-nonstandard-inputs",
            NonStandard::WitnessNonStandard => "bad-witness-nonstandard",
        }
    }
}

/// Script policy rules checked for mempool acceptance on top of consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptPolicy {
    /// SCRIPT_VERIFY_DERSIG/STRICTENC: a signature that is not strict DER.
    SigDer,
    /// SCRIPT_VERIFY_LOW_S: S above half the curve order.
    SigHighS,
    /// SCRIPT_VERIFY_STRICTENC: an undefined sighash type.
    SigHashType,
    /// SCRIPT_VERIFY_STRICTENC: a public key neither compressed nor uncompressed.
    PubKeyType,
    /// SCRIPT_VERIFY_WITNESS_PUBKEYTYPE: an uncompressed key in segwit v0.
    WitnessPubKeyType,
    /// SCRIPT_VERIFY_MINIMALDATA: a push larger than necessary.
    MinimalData,
}

impl ScriptPolicy {
    /// Bitcoin Core's script error string.
    pub fn message(self) -> &'static str {
        match self {
            ScriptPolicy::SigDer => "Non-canonical DER signature",
            ScriptPolicy::SigHighS => "Non-canonical signature: S value is unnecessarily high",
            ScriptPolicy::SigHashType => "Signature hash type missing or not understood",
            ScriptPolicy::PubKeyType => "Public key is neither compressed or uncompressed",
            ScriptPolicy::WitnessPubKeyType => "Using non-compressed keys in segwit",
            ScriptPolicy::MinimalData => "Data push larger than necessary",
        }
    }
}

impl TxReject {
    /// Bitcoin Core's reject reason (the short token, without details).
    pub fn reason(&self) -> &str {
        match self {
            TxReject::NoInputs => "bad-txns-vin-empty",
            TxReject::NoOutputs => "bad-txns-vout-empty",
            TxReject::Oversize => "bad-txns-oversize",
            TxReject::OutputTooLarge => "bad-txns-vout-toolarge",
            TxReject::OutputTotalTooLarge => "bad-txns-txouttotal-toolarge",
            TxReject::DuplicateInputs => "bad-txns-inputs-duplicate",
            TxReject::BadCoinbaseLength => "bad-cb-length",
            TxReject::NullPrevout => "bad-txns-prevout-null",
            TxReject::Coinbase => "coinbase",
            TxReject::NonStandard(n) => n.reason(),
            TxReject::NonFinal => "non-final",
            TxReject::NonBip68Final => "non-BIP68-final",
            TxReject::AlreadyInMempool => "txn-already-in-mempool",
            TxReject::SameNonWitnessDataInMempool => "txn-same-nonwitness-data-in-mempool",
            TxReject::AlreadyInChain => "txn-already-known",
            TxReject::MempoolConflict { .. } => "txn-mempool-conflict",
            TxReject::InsufficientFee { .. } => "insufficient fee",
            TxReject::TooManyReplacements { .. } => "too many potential replacements",
            TxReject::ReplacementAddsUnconfirmed => "replacement-adds-unconfirmed",
            TxReject::SpendsConflictingTx => "bad-txns-spends-conflicting-tx",
            TxReject::MissingInputs { .. } => "bad-txns-inputs-missingorspent",
            TxReject::PrematureCoinbaseSpend { .. } => "bad-txns-premature-spend-of-coinbase",
            TxReject::InputValuesOutOfRange => "bad-txns-inputvalues-outofrange",
            TxReject::InBelowOut { .. } => "bad-txns-in-belowout",
            TxReject::MinRelayFee { .. } => "min relay fee not met",
            TxReject::TooLongMempoolChain { .. } => "too-long-mempool-chain",
            TxReject::MandatoryScript { .. } => "mandatory-script-verify-flag-failed",
            TxReject::NonMandatoryScript { .. } => "non-mandatory-script-verify-flag-failed",
            TxReject::Other { message, .. } => message,
        }
    }

    /// The JSON-RPC error code Bitcoin Core's `sendrawtransaction` returns for this rejection.
    pub fn rpc_code(&self) -> i32 {
        match self {
            TxReject::MissingInputs { .. } => RPC_TRANSACTION_ERROR,
            TxReject::AlreadyInChain => RPC_TRANSACTION_ALREADY_IN_CHAIN,
            TxReject::Other { code, .. } => *code,
            _ => RPC_TRANSACTION_REJECTED,
        }
    }

    /// Whether the transaction could still be valid in a block (a policy-only rejection).
    pub fn is_policy_only(&self) -> bool {
        matches!(
            self,
            TxReject::NonStandard(_)
                | TxReject::MinRelayFee { .. }
                | TxReject::InsufficientFee { .. }
                | TxReject::TooManyReplacements { .. }
                | TxReject::ReplacementAddsUnconfirmed
                | TxReject::TooLongMempoolChain { .. }
                | TxReject::NonMandatoryScript { .. }
                | TxReject::Coinbase
        )
    }

    /// The reason Bitcoin Core gives when this failure is found while connecting a block.
    pub fn block_reason(&self) -> &str {
        match self {
            TxReject::NonFinal | TxReject::NonBip68Final => "bad-txns-nonfinal",
            other => other.reason(),
        }
    }
}

impl fmt::Display for TxReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxReject::AlreadyInChain => f.write_str("Transaction already in block chain"),
            TxReject::PrematureCoinbaseSpend { depth } => {
                write!(
                    f,
                    "{}, tried to spend coinbase at depth {depth}",
                    self.reason()
                )
            }
            TxReject::InBelowOut {
                value_in,
                value_out,
            } => write!(
                f,
                "{}, {} < {}",
                self.reason(),
                value_in.to_sat(),
                value_out.to_sat()
            ),
            TxReject::MinRelayFee { fee, min_fee } | TxReject::InsufficientFee { fee, min_fee } => {
                write!(
                    f,
                    "{}, {} < {}",
                    self.reason(),
                    fee.to_sat(),
                    min_fee.to_sat()
                )
            }
            TxReject::TooManyReplacements { evictions } => write!(
                f,
                "{} ({evictions} > {})",
                self.reason(),
                crate::embedded::replace::MAX_REPLACEMENT_EVICTIONS
            ),
            TxReject::MandatoryScript { input } => write!(
                f,
                "{} (script evaluation failed on input {input})",
                self.reason()
            ),
            TxReject::NonMandatoryScript { input, violation } => write!(
                f,
                "{} ({}) on input {input}",
                self.reason(),
                violation.message()
            ),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for TxReject {}

/// Why a block was refused. `Display` gives Bitcoin Core's reject reason.
///
/// How to react: a block we mined ourselves being refused is a bug; a block from elsewhere is
/// simply not part of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockReject {
    /// `duplicate`: the block is already known.
    Duplicate,
    /// `prev-blk-not-found`: its parent is unknown.
    PrevNotFound(BlockHash),
    /// `bad-prevblk`: its parent is invalid.
    BadPrevBlock,
    /// `high-hash`: proof of work does not meet the target in the header.
    HighHash,
    /// `bad-diffbits`: the header's target is not regtest's.
    BadDiffBits,
    /// `time-too-old`: timestamp not above the median time past of the previous 11 blocks.
    TimeTooOld,
    /// `bad-txnmrklroot`: merkle root mismatch.
    BadMerkleRoot,
    /// `bad-txns-duplicate`: the same txid twice (merkle tree mutation).
    DuplicateTx,
    /// `bad-blk-length`: no transactions.
    NoTransactions,
    /// `bad-blk-weight`: weight above 4,000,000.
    BadWeight,
    /// `bad-cb-missing`: the first transaction is not a coinbase.
    NoCoinbase,
    /// `bad-cb-multiple`: a coinbase other than the first transaction.
    MultipleCoinbase,
    /// `bad-cb-height`: coinbase scriptSig does not start with the block height (BIP 34).
    BadCoinbaseHeight,
    /// `bad-cb-amount`: coinbase pays more than subsidy plus fees.
    BadCoinbaseAmount {
        /// What the coinbase pays.
        paid: Amount,
        /// Subsidy plus fees.
        allowed: Amount,
    },
    /// `bad-witness-nonce-size`: coinbase witness is not one 32-byte item.
    BadWitnessNonceSize,
    /// `bad-witness-merkle-match`: witness commitment mismatch.
    BadWitnessMerkleMatch,
    /// `unexpected-witness`: witness data without a commitment.
    UnexpectedWitness,
    /// `bad-txns-BIP30`: a transaction would overwrite an unspent output.
    Bip30,
    /// A transaction in the block is invalid.
    Tx {
        /// Its txid.
        txid: Txid,
        /// Why.
        reject: TxReject,
    },
}

impl BlockReject {
    /// Bitcoin Core's reject reason.
    pub fn reason(&self) -> &str {
        match self {
            BlockReject::Duplicate => "duplicate",
            BlockReject::PrevNotFound(_) => "prev-blk-not-found",
            BlockReject::BadPrevBlock => "bad-prevblk",
            BlockReject::HighHash => "high-hash",
            BlockReject::BadDiffBits => "bad-diffbits",
            BlockReject::TimeTooOld => "time-too-old",
            BlockReject::BadMerkleRoot => "bad-txnmrklroot",
            BlockReject::DuplicateTx => "bad-txns-duplicate",
            BlockReject::NoTransactions => "bad-blk-length",
            BlockReject::BadWeight => "bad-blk-weight",
            BlockReject::NoCoinbase => "bad-cb-missing",
            BlockReject::MultipleCoinbase => "bad-cb-multiple",
            BlockReject::BadCoinbaseHeight => "bad-cb-height",
            BlockReject::BadCoinbaseAmount { .. } => "bad-cb-amount",
            BlockReject::BadWitnessNonceSize => "bad-witness-nonce-size",
            BlockReject::BadWitnessMerkleMatch => "bad-witness-merkle-match",
            BlockReject::UnexpectedWitness => "unexpected-witness",
            BlockReject::Bip30 => "bad-txns-BIP30",
            BlockReject::Tx { reject, .. } => reject.block_reason(),
        }
    }
}

impl fmt::Display for BlockReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockReject::Tx { txid, reject } => {
                write!(f, "{} (tx {txid}: {reject})", self.reason())
            }
            BlockReject::BadCoinbaseAmount { paid, allowed } => write!(
                f,
                "{}, coinbase pays too much (actual={} vs limit={})",
                self.reason(),
                paid.to_sat(),
                allowed.to_sat()
            ),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for BlockReject {}

/// Why a broadcast failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BroadcastError {
    /// The node refused the transaction; see the reason.
    Rejected(TxReject),
    /// The node could not be reached or failed; the transaction may or may not have been
    /// relayed: retry.
    Chain(ChainError),
}

impl BroadcastError {
    /// The JSON-RPC error code Bitcoin Core would answer with.
    pub fn rpc_code(&self) -> i32 {
        match self {
            BroadcastError::Rejected(r) => r.rpc_code(),
            BroadcastError::Chain(_) => -1,
        }
    }
}

impl fmt::Display for BroadcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastError::Rejected(r) => write!(f, "transaction rejected: {r}"),
            BroadcastError::Chain(e) => write!(f, "broadcast failed: {e}"),
        }
    }
}

impl std::error::Error for BroadcastError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BroadcastError::Rejected(r) => Some(r),
            BroadcastError::Chain(e) => Some(e),
        }
    }
}

impl From<ChainError> for BroadcastError {
    fn from(e: ChainError) -> Self {
        BroadcastError::Chain(e)
    }
}

impl From<TxReject> for BroadcastError {
    fn from(r: TxReject) -> Self {
        BroadcastError::Rejected(r)
    }
}

/// Why mining or submitting a block failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum MineError {
    /// The block was refused.
    Rejected(BlockReject),
    /// A transaction handed to the miner is invalid at this point of the chain.
    InvalidTx {
        /// Its txid.
        txid: Txid,
        /// Why.
        reject: TxReject,
    },
    /// The requested timestamp is not above the median time past.
    TimeTooOld {
        /// The requested time.
        time: u32,
        /// The median time past it must exceed.
        median_time_past: u32,
    },
    /// No nonce/time combination met the target (practically impossible on regtest).
    NoProofOfWork,
    /// Storing or reading the chain failed.
    Chain(ChainError),
}

impl fmt::Display for MineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MineError::Rejected(r) => write!(f, "block rejected: {r}"),
            MineError::InvalidTx { txid, reject } => {
                write!(f, "transaction {txid} invalid: {reject}")
            }
            MineError::TimeTooOld {
                time,
                median_time_past,
            } => write!(
                f,
                "block time {time} not above median time past {median_time_past}"
            ),
            MineError::NoProofOfWork => write!(f, "no proof of work found"),
            MineError::Chain(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MineError {}

impl From<ChainError> for MineError {
    fn from(e: ChainError) -> Self {
        MineError::Chain(e)
    }
}

impl From<BlockReject> for MineError {
    fn from(r: BlockReject) -> Self {
        MineError::Rejected(r)
    }
}
