//! Amounts: millisatoshis ([`Msat`]) and satoshis ([`Sat`]), with checked arithmetic.
//!
//! Money arithmetic never wraps or panics: every operation that can overflow or
//! underflow is `checked_*` and returns `None`. Peer-controlled amounts go
//! through these before they touch a balance.

use core::fmt;

/// The number of satoshis in one bitcoin.
pub const SAT_PER_BTC: u64 = 100_000_000;

/// The total supply of bitcoin, in satoshis; no valid amount exceeds it.
pub const MAX_MONEY_SAT: u64 = 21_000_000 * SAT_PER_BTC;

macro_rules! amount_type {
    ($name:ident, $unit:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// The largest representable value.
            pub const MAX: Self = Self(u64::MAX);

            /// The raw count of units.
            pub const fn value(self) -> u64 {
                self.0
            }
            /// `self + rhs`, or `None` on overflow.
            pub fn checked_add(self, rhs: Self) -> Option<Self> {
                self.0.checked_add(rhs.0).map(Self)
            }
            /// `self - rhs`, or `None` if `rhs > self`.
            pub fn checked_sub(self, rhs: Self) -> Option<Self> {
                self.0.checked_sub(rhs.0).map(Self)
            }
            /// `self * rhs`, or `None` on overflow.
            pub fn checked_mul(self, rhs: u64) -> Option<Self> {
                self.0.checked_mul(rhs).map(Self)
            }
            /// `self / rhs`, or `None` if `rhs` is zero.
            pub fn checked_div(self, rhs: u64) -> Option<Self> {
                self.0.checked_div(rhs).map(Self)
            }
            /// `self - rhs`, or zero if `rhs > self`.
            pub fn saturating_sub(self, rhs: Self) -> Self {
                Self(self.0.saturating_sub(rhs.0))
            }
            /// `self + rhs`, or [`Self::MAX`] on overflow.
            pub fn saturating_add(self, rhs: Self) -> Self {
                Self(self.0.saturating_add(rhs.0))
            }
            /// The sum of an iterator of amounts, or `None` on overflow.
            pub fn checked_sum<I: IntoIterator<Item = Self>>(iter: I) -> Option<Self> {
                iter.into_iter().try_fold(Self::ZERO, Self::checked_add)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", self.0, $unit)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", self.0, $unit)
            }
        }
    };
}

amount_type!(
    Msat,
    "msat",
    "An amount in millisatoshis (1/1000 of a satoshi)."
);
amount_type!(Sat, "sat", "An amount in satoshis.");

impl Msat {
    /// Whole satoshis, rounding down (the BOLT 3 rule for output values).
    pub const fn to_sat_floor(self) -> Sat {
        Sat(self.0 / 1000)
    }
    /// The millisatoshi remainder below one satoshi.
    pub const fn sub_sat_remainder(self) -> u64 {
        self.0 % 1000
    }
}

impl Sat {
    /// The same amount in millisatoshis, or `None` on overflow.
    pub fn checked_to_msat(self) -> Option<Msat> {
        self.0.checked_mul(1000).map(Msat)
    }
    /// Whole bitcoins, as a float for display only.
    pub fn to_btc_f64(self) -> f64 {
        self.0 as f64 / SAT_PER_BTC as f64
    }
    /// From whole bitcoins, or `None` on overflow.
    pub fn from_btc(btc: u64) -> Option<Self> {
        btc.checked_mul(SAT_PER_BTC).map(Self)
    }
}

impl From<bitcoin::Amount> for Sat {
    fn from(a: bitcoin::Amount) -> Self {
        Sat(a.to_sat())
    }
}

impl From<Sat> for bitcoin::Amount {
    fn from(s: Sat) -> Self {
        bitcoin::Amount::from_sat(s.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_arithmetic_never_wraps() {
        assert_eq!(Msat(u64::MAX).checked_add(Msat(1)), None);
        assert_eq!(Msat(1).checked_sub(Msat(2)), None);
        assert_eq!(Msat(u64::MAX).checked_mul(2), None);
        assert_eq!(Msat(5).checked_div(0), None);
        assert_eq!(Msat(3).checked_add(Msat(4)), Some(Msat(7)));
        assert_eq!(Msat(1).saturating_sub(Msat(2)), Msat(0));
        assert_eq!(
            Msat::checked_sum([Msat(1), Msat(2), Msat(3)]),
            Some(Msat(6))
        );
        assert_eq!(Msat::checked_sum([Msat(u64::MAX), Msat(1)]), None);
    }

    #[test]
    fn conversions() {
        assert_eq!(Msat(1999).to_sat_floor(), Sat(1));
        assert_eq!(Msat(1999).sub_sat_remainder(), 999);
        assert_eq!(Sat(2).checked_to_msat(), Some(Msat(2000)));
        assert_eq!(Sat(u64::MAX).checked_to_msat(), None);
        assert_eq!(Sat::from_btc(2), Some(Sat(200_000_000)));
        assert_eq!(Sat(5).to_string(), "5sat");
    }
}
