//! Errors of the on-chain wallet, each saying how the caller should react.

use crate::keys::DeriveError;
use bdk_wallet::descriptor::DescriptorError;
use bdk_wallet::error::CreateTxError;
use bdk_wallet::rusqlite;
use bdk_wallet::signer::SignerError;
use bdk_wallet::LoadError;
use bitcoin::psbt::ExtractTxError;
use bitcoin::{Network, NetworkKind, OutPoint, Txid};
use core::fmt;
use fulmen_types::Sat;

/// Why an on-chain wallet operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum OnchainError {
    /// The key tree was made for the other kind of network (main vs test).
    /// Fail: a configuration error; do not start.
    NetworkMismatch {
        /// The key tree's network kind.
        tree: NetworkKind,
        /// The network the wallet was asked for.
        wallet: Network,
    },
    /// Deriving the BIP84 account key failed. Fail: do not start.
    Derive(DeriveError),
    /// bdk rejected the wallet's descriptors. Fail: do not start.
    Descriptor(Box<DescriptorError>),
    /// The SQLite database failed (I/O error, full disk, corruption).
    /// Fail: stop the node. If this came from a mutating call, the wallet in
    /// memory is ahead of its database; the change is retried on the next
    /// mutating call, but nothing may be taken as durable until one succeeds.
    Database(rusqlite::Error),
    /// The database holds another wallet (other seed, network or genesis) or
    /// data bdk cannot read. Fail: do not start; never overwrite it.
    Load(Box<LoadError>),
    /// The database changed under the wallet (it was empty when it was just
    /// found to hold a wallet, or the reverse): another process writes it.
    /// Fail: stop the node.
    DatabaseChanged,
    /// The block does not connect to the wallet's chain: its parent (or the
    /// given `connected_to`) is not in the wallet's chain. Feed the missing
    /// blocks first (from `try_include_height`), or disconnect to the fork.
    BlockDoesNotConnect {
        /// The height of the block that was applied.
        height: u32,
        /// The height of a block the wallet needs to see to connect it.
        try_include_height: u32,
    },
    /// `connected_to` contradicts the block (it is the block's own height or
    /// its parent's with another hash, or above the block). Caller bug.
    InconsistentConnection {
        /// The height of the block that was applied.
        height: u32,
    },
    /// A block height at or above the locktime threshold (500,000,000):
    /// no real chain reaches it. Caller bug or hostile chain source.
    HeightOutOfRange {
        /// The height given.
        height: u32,
    },
    /// A transaction creates more than 21 million bitcoin. Nothing was
    /// applied: the chain source is broken or hostile.
    InvalidAmount {
        /// The offending transaction.
        txid: Txid,
    },
    /// A coinbase transaction given as unconfirmed: coinbases only exist in
    /// blocks. Nothing was applied: the chain source is broken or hostile.
    UnconfirmedCoinbase {
        /// The offending transaction.
        txid: Txid,
    },
    /// Not enough spendable coins for the payment and its fee. Warn the user.
    InsufficientFunds {
        /// Amount needed (outputs and fee).
        needed: Sat,
        /// Amount available to coin selection.
        available: Sat,
    },
    /// A payment output, drain or change output would be dust. Pay more.
    OutputBelowDust {
        /// The index of the output in the transaction being built.
        index: usize,
    },
    /// bdk could not build the transaction for another reason.
    CreateTx(Box<CreateTxError>),
    /// Signing failed. Fail: this wallet cannot sign its own inputs.
    Sign(Box<SignerError>),
    /// bdk signed but could not finalize every input. Fail.
    NotFullySigned,
    /// The finished transaction is unusable (e.g. its fee rate is absurdly
    /// high, above 25,000 sat/vB). Lower the fee rate.
    Extract(Box<ExtractTxError>),
    /// The built PSBT lacks the data to compute its fee. Bug.
    Psbt(Box<bitcoin::psbt::Error>),
    /// The payment's output was not found in the built transaction. Bug.
    PaymentOutputMissing,
    /// The transaction is not in the wallet's canonical history.
    UnknownTx {
        /// The transaction asked for.
        txid: Txid,
    },
    /// The parent to bump with CPFP is already confirmed. Nothing to do.
    AlreadyConfirmed {
        /// The parent.
        txid: Txid,
    },
    /// The outpoint is not an unspent output of this wallet (or not of the
    /// given parent). Caller bug.
    NotOurOutput {
        /// The outpoint given.
        outpoint: OutPoint,
    },
    /// The parent's fee cannot be computed because the wallet does not know
    /// all the outputs it spends. Pass a parent the wallet funded.
    ParentFeeUnknown {
        /// The parent.
        txid: Txid,
    },
    /// A fee computation overflowed. Lower the fee rate.
    FeeOverflow,
    /// The fee rate is above [`MAX_FEE_RATE`](super::MAX_FEE_RATE), where a
    /// fee could exceed all bitcoin. Caller bug or a broken fee estimator.
    FeeRateTooHigh {
        /// The fee rate given.
        fee_rate: bitcoin::FeeRate,
    },
    /// A payment amount above 21 million bitcoin. Caller bug.
    AmountTooLarge {
        /// The amount given.
        amount: Sat,
    },
}

impl fmt::Display for OnchainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NetworkMismatch { tree, wallet } => {
                write!(
                    f,
                    "key tree is for {tree:?} networks, wallet asked for {wallet}"
                )
            }
            Self::Derive(e) => write!(f, "deriving the wallet account key: {e}"),
            Self::Descriptor(e) => write!(f, "wallet descriptor: {e}"),
            Self::Database(e) => write!(f, "wallet database: {e}"),
            Self::Load(e) => write!(f, "loading the wallet database: {e}"),
            Self::DatabaseChanged => write!(f, "wallet database changed under the wallet"),
            Self::BlockDoesNotConnect {
                height,
                try_include_height,
            } => write!(
                f,
                "block at height {height} does not connect to the wallet's chain \
                 (include height {try_include_height})"
            ),
            Self::InconsistentConnection { height } => {
                write!(
                    f,
                    "connection point is inconsistent with the block at height {height}"
                )
            }
            Self::HeightOutOfRange { height } => write!(f, "block height {height} is out of range"),
            Self::InvalidAmount { txid } => {
                write!(f, "transaction {txid} creates more than 21 million bitcoin")
            }
            Self::UnconfirmedCoinbase { txid } => {
                write!(f, "coinbase transaction {txid} given as unconfirmed")
            }
            Self::InsufficientFunds { needed, available } => {
                write!(f, "insufficient funds: need {needed}, have {available}")
            }
            Self::OutputBelowDust { index } => write!(f, "output {index} would be dust"),
            Self::CreateTx(e) => write!(f, "building the transaction: {e}"),
            Self::Sign(e) => write!(f, "signing: {e}"),
            Self::NotFullySigned => write!(f, "transaction is not fully signed"),
            Self::Extract(e) => write!(f, "extracting the transaction: {e}"),
            Self::Psbt(e) => write!(f, "psbt: {e}"),
            Self::PaymentOutputMissing => write!(f, "payment output missing from the transaction"),
            Self::UnknownTx { txid } => write!(f, "transaction {txid} is unknown to the wallet"),
            Self::AlreadyConfirmed { txid } => write!(f, "transaction {txid} is already confirmed"),
            Self::NotOurOutput { outpoint } => {
                write!(f, "{outpoint} is not an unspent output of this wallet")
            }
            Self::ParentFeeUnknown { txid } => {
                write!(f, "fee of transaction {txid} is unknown to the wallet")
            }
            Self::FeeOverflow => write!(f, "fee computation overflowed"),
            Self::FeeRateTooHigh { fee_rate } => write!(f, "fee rate {fee_rate} is too high"),
            Self::AmountTooLarge { amount } => write!(f, "amount {amount} is too large"),
        }
    }
}

impl std::error::Error for OnchainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Derive(e) => Some(e),
            Self::Descriptor(e) => Some(&**e),
            Self::Database(e) => Some(e),
            Self::Load(e) => Some(&**e),
            Self::CreateTx(e) => Some(&**e),
            Self::Sign(e) => Some(&**e),
            Self::Extract(e) => Some(&**e),
            Self::Psbt(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<DeriveError> for OnchainError {
    fn from(e: DeriveError) -> Self {
        Self::Derive(e)
    }
}

impl From<rusqlite::Error> for OnchainError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e)
    }
}

impl From<CreateTxError> for OnchainError {
    fn from(e: CreateTxError) -> Self {
        match e {
            CreateTxError::CoinSelection(e) => Self::InsufficientFunds {
                needed: e.needed.into(),
                available: e.available.into(),
            },
            CreateTxError::OutputBelowDustLimit(index) => Self::OutputBelowDust { index },
            e => Self::CreateTx(Box::new(e)),
        }
    }
}
