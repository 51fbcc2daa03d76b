//! Building and signing the wallet's transactions: a payment to a script
//! (the channel funding output), a sweep of everything, a CPFP child, and
//! the fee inputs of a zero-fee HTLC transaction (anchor channels).
//!
//! Coin selection is bdk's default (branch and bound, then a random draw);
//! outputs are shuffled. Both take their randomness from `aux_rand`, fresh
//! random bytes the caller supplies (privacy only: the signatures are
//! RFC 6979 deterministic and never use it). Change goes to the wallet's next
//! change address, whose reveal is committed before the call returns.
//!
//! Every input is P2WPKH, so the transactions are fully segwit: their txid is
//! fixed once built, as a channel funding transaction needs. They signal RBF
//! and lock to the wallet's tip height (anti fee sniping).
//!
//! Building a transaction does not record it. The wallet counts its inputs as
//! spent once the caller applies it with `apply_unconfirmed` (on broadcast,
//! or earlier to reserve the coins while a channel is negotiated) or it
//! confirms in a block; until then a second build may pick the same coins.

use super::error::OnchainError;
use super::types::{CoinPolicy, Package, SignedPayment, SignedTx};
use super::wallet::OnchainWallet;
use bdk_wallet::{KeychainKind, SignOptions};
use bitcoin::psbt::Psbt;
use bitcoin::secp256k1::rand::rngs::StdRng;
use bitcoin::secp256k1::rand::SeedableRng;
use bitcoin::{Amount, FeeRate, OutPoint, ScriptBuf, Txid};
use fulmen_types::{Sat, MAX_MONEY_SAT};

/// The highest fee rate the wallet builds with: 525,000,000 sat/kw
/// (2.1 million sat/vB), where a maximum-weight (4,000,000 WU) transaction's
/// fee would be all bitcoin. Above it bdk's fee arithmetic can overflow.
pub const MAX_FEE_RATE: FeeRate = FeeRate::from_sat_per_kwu(MAX_MONEY_SAT / 4_000_000);

fn check_fee_rate(fee_rate: FeeRate) -> Result<(), OnchainError> {
    if fee_rate > MAX_FEE_RATE {
        return Err(OnchainError::FeeRateTooHigh { fee_rate });
    }
    Ok(())
}

impl OnchainWallet {
    /// Builds and signs a transaction paying `amount` to `script_pubkey` at
    /// `fee_rate` (for a BOLT fee rate in sat/kw use
    /// [`FeeRate::from_sat_per_kwu`]), change back to the wallet.
    ///
    /// `fee_rate` is not checked against a relay minimum (253 sat/kw on
    /// mainnet): that is the caller's policy. `coins` says whether
    /// unconfirmed coins may be spent. Fails with
    /// [`OnchainError::InsufficientFunds`] if the coins do not cover the
    /// amount and the fee; immature coinbase outputs are never spent.
    pub fn build_payment(
        &mut self,
        script_pubkey: ScriptBuf,
        amount: Sat,
        fee_rate: FeeRate,
        coins: CoinPolicy,
        aux_rand: [u8; 32],
    ) -> Result<SignedPayment, OnchainError> {
        check_fee_rate(fee_rate)?;
        if amount.value() > MAX_MONEY_SAT {
            return Err(OnchainError::AmountTooLarge { amount });
        }
        let mut rng = StdRng::from_seed(aux_rand);
        let value = Amount::from(amount);
        let mut builder = self.wallet.build_tx();
        builder
            .add_recipient(script_pubkey.clone(), value)
            .fee_rate(fee_rate);
        if coins == CoinPolicy::ConfirmedOnly {
            builder.exclude_unconfirmed();
        }
        let psbt = builder.finish_with_aux_rand(&mut rng)?;
        let signed = self.sign_and_commit(psbt)?;
        let index = signed
            .tx
            .output
            .iter()
            .position(|o| o.script_pubkey == script_pubkey && o.value == value)
            .ok_or(OnchainError::PaymentOutputMissing)?;
        let output_index = u32::try_from(index).map_err(|_| OnchainError::PaymentOutputMissing)?;
        Ok(SignedPayment {
            tx: signed.tx,
            output_index,
            fee: signed.fee,
        })
    }

    /// Builds and signs a transaction sending every spendable coin (minus
    /// the fee at `fee_rate`) to `script_pubkey`, with no change.
    ///
    /// `coins` says whether unconfirmed coins are swept too; immature
    /// coinbase outputs never are.
    pub fn sweep_all_to(
        &mut self,
        script_pubkey: ScriptBuf,
        fee_rate: FeeRate,
        coins: CoinPolicy,
        aux_rand: [u8; 32],
    ) -> Result<SignedTx, OnchainError> {
        check_fee_rate(fee_rate)?;
        let mut rng = StdRng::from_seed(aux_rand);
        let mut builder = self.wallet.build_tx();
        builder
            .drain_wallet()
            .drain_to(script_pubkey)
            .fee_rate(fee_rate);
        if coins == CoinPolicy::ConfirmedOnly {
            builder.exclude_unconfirmed();
        }
        let psbt = builder.finish_with_aux_rand(&mut rng)?;
        self.sign_and_commit(psbt)
    }

    /// Builds and signs a child spending `outpoint` (an unspent output of
    /// the wallet in the unconfirmed transaction `parent_txid`) back to the
    /// wallet, with a fee such that parent and child together pay at least
    /// `target` (package fee over package weight).
    ///
    /// The child spends that one output only, so it must be worth more than
    /// the fee plus dust. The parent's fee must be known to the wallet
    /// (the wallet funded every input of it, e.g. its own funding
    /// transaction); the parent's own unconfirmed ancestors are not counted.
    /// If the parent alone already meets `target`, the child pays `target`
    /// for its own weight.
    pub fn build_cpfp(
        &mut self,
        parent_txid: Txid,
        outpoint: OutPoint,
        target: FeeRate,
        aux_rand: [u8; 32],
    ) -> Result<SignedTx, OnchainError> {
        check_fee_rate(target)?;
        if outpoint.txid != parent_txid {
            return Err(OnchainError::NotOurOutput { outpoint });
        }
        let parent = self
            .wallet
            .get_tx(parent_txid)
            .ok_or(OnchainError::UnknownTx { txid: parent_txid })?;
        if parent.chain_position.is_confirmed() {
            return Err(OnchainError::AlreadyConfirmed { txid: parent_txid });
        }
        let parent_tx = parent.tx_node.tx.clone();
        if self.wallet.get_utxo(outpoint).is_none() {
            return Err(OnchainError::NotOurOutput { outpoint });
        }
        let parent_fee = self
            .wallet
            .calculate_fee(&parent_tx)
            .map_err(|_| OnchainError::ParentFeeUnknown { txid: parent_txid })?;
        let parent_needs = target
            .fee_wu(parent_tx.weight())
            .ok_or(OnchainError::FeeOverflow)?;
        let deficit = parent_needs.checked_sub(parent_fee).unwrap_or(Amount::ZERO);
        let drain = self
            .wallet
            .next_unused_address(KeychainKind::Internal)
            .script_pubkey();

        // Pass 1: the child alone at `target` gives its fee for its own
        // (estimated, upper-bound) weight. Pass 2 adds what the parent lacks;
        // inputs and outputs are the same, so the weight is too.
        let mut rng = StdRng::from_seed(aux_rand);
        let psbt = self.cpfp_psbt(outpoint, drain.clone(), Fee::Rate(target), &mut rng)?;
        let psbt = if deficit > Amount::ZERO {
            let own = psbt.fee().map_err(|e| OnchainError::Psbt(Box::new(e)))?;
            let total = own.checked_add(deficit).ok_or(OnchainError::FeeOverflow)?;
            self.cpfp_psbt(outpoint, drain, Fee::Absolute(total), &mut rng)?
        } else {
            psbt
        };
        self.sign_and_commit(psbt)
    }

    /// Adds the fee of a zero-fee transaction spending foreign outputs:
    /// HTLC-success or HTLC-timeout transactions of an anchor channel, one
    /// or several aggregated (BOLT 3: the peer signed each input with
    /// `SIGHASH_SINGLE|SIGHASH_ANYONECANPAY`, so inputs and outputs may be
    /// added after the pairs it signed).
    ///
    /// `template` has one input per foreign output, spending `prevs[i].0`
    /// (whose witness will weigh at most `prevs[i].1`), and as many
    /// outputs, output `i` paired with input `i`. The result keeps those
    /// pairs first and in order, with the template's version, `nLockTime`
    /// and input sequences, adds wallet coins (confirmed only) and a change
    /// output so that the whole transaction pays `fee_rate`, and signs the
    /// wallet's inputs; the foreign inputs are left for the caller to sign
    /// and finalise. Not recorded in the wallet (apply it on broadcast).
    pub fn fund_foreign_spend(
        &mut self,
        template: &bitcoin::Transaction,
        prevs: &[(bitcoin::TxOut, bitcoin::Weight)],
        fee_rate: FeeRate,
        aux_rand: [u8; 32],
    ) -> Result<SignedTx, OnchainError> {
        check_fee_rate(fee_rate)?;
        let n = template.input.len();
        if n == 0 || template.output.len() != n || prevs.len() != n {
            return Err(OnchainError::PaymentOutputMissing);
        }
        let mut rng = StdRng::from_seed(aux_rand);
        let mut builder = self.wallet.build_tx();
        for (input, (prev, weight)) in template.input.iter().zip(prevs) {
            let foreign = bitcoin::psbt::Input {
                witness_utxo: Some(prev.clone()),
                ..Default::default()
            };
            builder
                .add_foreign_utxo_with_sequence(
                    input.previous_output,
                    foreign,
                    *weight,
                    input.sequence,
                )
                .map_err(|_| OnchainError::NotOurOutput {
                    outpoint: input.previous_output,
                })?;
        }
        for output in &template.output {
            builder.add_recipient(output.script_pubkey.clone(), output.value);
        }
        builder
            .only_witness_utxo()
            .ordering(bdk_wallet::TxOrdering::Untouched)
            .nlocktime(template.lock_time)
            .version(template.version.0)
            .exclude_unconfirmed()
            .fee_rate(fee_rate);
        let psbt = builder.finish_with_aux_rand(&mut rng)?;
        let inputs: Vec<OutPoint> = template.input.iter().map(|i| i.previous_output).collect();
        self.sign_all_but_foreign(psbt, &inputs, &template.output)
    }

    /// Builds and signs a child spending `anchor` (an anchor output of the
    /// unconfirmed commitment transaction, which the wallet does not own;
    /// its witness will weigh at most `satisfaction_weight`) with wallet
    /// coins (confirmed only) and change, paying enough that the commitment
    /// (`package.parent_weight`, paying `package.parent_fee`) and the child
    /// together pay `package.target` (package fee over package weight):
    /// BOLT 3 anchors' CPFP.
    ///
    /// The anchor is input 0, left for the caller to sign and finalise.
    /// Not recorded in the wallet (apply it on broadcast).
    pub fn fund_anchor_child(
        &mut self,
        anchor: OutPoint,
        prev: bitcoin::TxOut,
        satisfaction_weight: bitcoin::Weight,
        package: Package,
        aux_rand: [u8; 32],
    ) -> Result<SignedTx, OnchainError> {
        let target = package.target;
        check_fee_rate(target)?;
        let parent_needs = target
            .fee_wu(package.parent_weight)
            .ok_or(OnchainError::FeeOverflow)?;
        let deficit = parent_needs
            .checked_sub(package.parent_fee)
            .unwrap_or(Amount::ZERO);
        let drain = self
            .wallet
            .next_unused_address(KeychainKind::Internal)
            .script_pubkey();
        let mut rng = StdRng::from_seed(aux_rand);
        let foreign = bitcoin::psbt::Input {
            witness_utxo: Some(prev),
            ..Default::default()
        };
        let mut build = |fee: Fee, rng: &mut StdRng| -> Result<Psbt, OnchainError> {
            let mut builder = self.wallet.build_tx();
            builder
                .add_foreign_utxo(anchor, foreign.clone(), satisfaction_weight)
                .map_err(|_| OnchainError::NotOurOutput { outpoint: anchor })?
                .only_witness_utxo()
                .drain_to(drain.clone())
                .exclude_unconfirmed();
            match fee {
                Fee::Rate(rate) => builder.fee_rate(rate),
                Fee::Absolute(amount) => builder.fee_absolute(amount),
            };
            Ok(builder.finish_with_aux_rand(rng)?)
        };
        // Pass 1: the child alone at `target`. Then its fee plus what the
        // parent lacks; more coins may be needed for the higher fee, so the
        // child's own part is recomputed until its weight stops growing.
        let mut psbt = build(Fee::Rate(target), &mut rng)?;
        for _ in 0..3 {
            if deficit == Amount::ZERO {
                break;
            }
            let weight = estimated_weight(&psbt, satisfaction_weight)?;
            let own = target.fee_wu(weight).ok_or(OnchainError::FeeOverflow)?;
            let total = own.checked_add(deficit).ok_or(OnchainError::FeeOverflow)?;
            let paid = psbt.fee().map_err(|e| OnchainError::Psbt(Box::new(e)))?;
            if paid >= total {
                break;
            }
            psbt = build(Fee::Absolute(total), &mut rng)?;
        }
        self.sign_all_but_foreign(psbt, &[anchor], &[])
    }

    /// Moves the foreign input `first_in` (and `first_out`, if given) to
    /// index 0, commits the change-address reveal, and signs every wallet
    /// input; input 0 is left unsigned for the caller.
    fn sign_all_but_foreign(
        &mut self,
        mut psbt: Psbt,
        foreign_in: &[OutPoint],
        foreign_out: &[bitcoin::TxOut],
    ) -> Result<SignedTx, OnchainError> {
        // SIGHASH_SINGLE pairs input i with output i: put the foreign ones
        // first, in order, wherever coin selection left them.
        for (k, outpoint) in foreign_in.iter().enumerate() {
            let pos = psbt
                .unsigned_tx
                .input
                .iter()
                .skip(k)
                .position(|i| i.previous_output == *outpoint)
                .ok_or(OnchainError::PaymentOutputMissing)?;
            psbt.unsigned_tx.input.swap(k, k + pos);
            psbt.inputs.swap(k, k + pos);
        }
        for (k, output) in foreign_out.iter().enumerate() {
            let pos = psbt
                .unsigned_tx
                .output
                .iter()
                .skip(k)
                .position(|o| o == output)
                .ok_or(OnchainError::PaymentOutputMissing)?;
            psbt.unsigned_tx.output.swap(k, k + pos);
            psbt.outputs.swap(k, k + pos);
        }
        self.persist()?;
        let sign = SignOptions {
            trust_witness_utxo: true,
            ..SignOptions::default()
        };
        // Not finalised as a whole: the foreign inputs are the caller's.
        self.wallet
            .sign(&mut psbt, sign)
            .map_err(|e| OnchainError::Sign(Box::new(e)))?;
        let fee = psbt.fee().map_err(|e| OnchainError::Psbt(Box::new(e)))?;
        let mut tx = psbt.unsigned_tx.clone();
        let foreign = foreign_in.len();
        for (txin, pin) in tx.input.iter_mut().zip(&psbt.inputs).skip(foreign) {
            match &pin.final_script_witness {
                Some(w) => txin.witness = w.clone(),
                None => return Err(OnchainError::NotFullySigned),
            }
        }
        Ok(SignedTx {
            tx,
            fee: fee.into(),
        })
    }

    fn cpfp_psbt(
        &mut self,
        outpoint: OutPoint,
        drain: ScriptBuf,
        fee: Fee,
        rng: &mut StdRng,
    ) -> Result<Psbt, OnchainError> {
        let mut builder = self.wallet.build_tx();
        builder
            .add_utxo(outpoint)
            .map_err(|_| OnchainError::NotOurOutput { outpoint })?
            .manually_selected_only()
            .drain_to(drain);
        match fee {
            Fee::Rate(rate) => builder.fee_rate(rate),
            Fee::Absolute(amount) => builder.fee_absolute(amount),
        };
        Ok(builder.finish_with_aux_rand(rng)?)
    }

    /// Commits the staged change-address reveal, then signs and finalizes
    /// every input and extracts the transaction.
    fn sign_and_commit(&mut self, mut psbt: Psbt) -> Result<SignedTx, OnchainError> {
        self.persist()?;
        let finalized = self
            .wallet
            .sign(&mut psbt, SignOptions::default())
            .map_err(|e| OnchainError::Sign(Box::new(e)))?;
        if !finalized {
            return Err(OnchainError::NotFullySigned);
        }
        let fee = psbt.fee().map_err(|e| OnchainError::Psbt(Box::new(e)))?;
        let tx = psbt
            .extract_tx()
            .map_err(|e| OnchainError::Extract(Box::new(e)))?;
        Ok(SignedTx {
            tx,
            fee: fee.into(),
        })
    }
}

/// The weight of `psbt`'s transaction once signed: every wallet input is
/// P2WPKH (a 73-byte signature and a 33-byte key), the foreign one weighs
/// `foreign` more.
fn estimated_weight(
    psbt: &Psbt,
    foreign: bitcoin::Weight,
) -> Result<bitcoin::Weight, OnchainError> {
    const P2WPKH_SATISFACTION: u64 = 1 + 1 + 73 + 1 + 33;
    let wallet_inputs = psbt.unsigned_tx.input.len().saturating_sub(1) as u64;
    let witnesses = wallet_inputs
        .checked_mul(P2WPKH_SATISFACTION)
        .and_then(|w| w.checked_add(foreign.to_wu()))
        .ok_or(OnchainError::FeeOverflow)?;
    // The segwit marker and flag (2 WU) once any witness is present.
    Ok(psbt.unsigned_tx.weight() + bitcoin::Weight::from_wu(witnesses + 2))
}

/// How the CPFP child's fee is set.
enum Fee {
    Rate(FeeRate),
    Absolute(Amount),
}
