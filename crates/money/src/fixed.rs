//! The four fixed-point newtypes and their checked operations.

use crate::decimal::{format_raw, parse_raw};
use crate::muldiv::{Rounding, mul_div};
use crate::{MoneyError, SCALE};

/// Behaviour shared by every fixed-point type: access to the raw `i128` at scale 10^18.
pub trait FixedPoint: Copy + Ord + core::fmt::Debug {
    /// The raw integer (value × 10^18).
    fn raw(self) -> i128;
    /// Builds a value from its raw integer (value × 10^18).
    fn from_raw(raw: i128) -> Self;
}

macro_rules! fixed_point_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i128);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// One whole unit.
            pub const ONE: Self = Self(SCALE);
            /// The largest representable value.
            pub const MAX: Self = Self(i128::MAX);

            /// Builds a value from its raw integer (value × 10^18).
            #[must_use]
            pub const fn from_raw(raw: i128) -> Self {
                Self(raw)
            }

            /// The raw integer (value × 10^18).
            #[must_use]
            pub const fn raw(self) -> i128 {
                self.0
            }

            /// A whole number of units.
            ///
            /// # Errors
            /// [`MoneyError::Overflow`] when `units × 10^18` does not fit.
            pub fn from_units(units: i128) -> Result<Self, MoneyError> {
                units.checked_mul(SCALE).map(Self).ok_or(MoneyError::Overflow)
            }

            /// `self + other`, or [`MoneyError::Overflow`].
            ///
            /// # Errors
            /// [`MoneyError::Overflow`] when the sum does not fit.
            pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
                self.0.checked_add(other.0).map(Self).ok_or(MoneyError::Overflow)
            }

            /// `self − other`, or [`MoneyError::Overflow`].
            ///
            /// # Errors
            /// [`MoneyError::Overflow`] when the difference does not fit.
            pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
                self.0.checked_sub(other.0).map(Self).ok_or(MoneyError::Overflow)
            }

            /// `−self`, or [`MoneyError::Overflow`] for the most negative value.
            ///
            /// # Errors
            /// [`MoneyError::Overflow`] for `i128::MIN` raw.
            pub fn checked_neg(self) -> Result<Self, MoneyError> {
                self.0.checked_neg().map(Self).ok_or(MoneyError::Overflow)
            }

            /// `|self|`, or [`MoneyError::Overflow`] for the most negative value.
            ///
            /// # Errors
            /// [`MoneyError::Overflow`] for `i128::MIN` raw.
            pub fn checked_abs(self) -> Result<Self, MoneyError> {
                self.0.checked_abs().map(Self).ok_or(MoneyError::Overflow)
            }

            /// `self − other` floored at zero: the part of `self` above `other`.
            #[must_use]
            pub fn saturating_sub_to_zero(self, other: Self) -> Self {
                Self(self.0.saturating_sub(other.0).max(0))
            }

            /// True when the value is exactly zero.
            #[must_use]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// True when the value is below zero.
            #[must_use]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }

            /// True when the value is above zero.
            #[must_use]
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// `self × numerator / denominator` on raw values (all at the same scale), rounded
            /// in direction `rounding`, with a 256-bit intermediate.
            ///
            /// # Errors
            /// [`MoneyError::DivisionByZero`] or [`MoneyError::Overflow`].
            pub fn mul_div<N: FixedPoint, D: FixedPoint>(
                self,
                numerator: N,
                denominator: D,
                rounding: Rounding,
            ) -> Result<Self, MoneyError> {
                mul_div(self.0, numerator.raw(), denominator.raw(), rounding).map(Self)
            }

            /// `self × ratio`, rounded in direction `rounding`.
            ///
            /// # Errors
            /// [`MoneyError::Overflow`] when the product does not fit.
            pub fn mul_ratio(self, ratio: Ratio, rounding: Rounding) -> Result<Self, MoneyError> {
                mul_div(self.0, ratio.raw(), SCALE, rounding).map(Self)
            }

            /// `self / ratio`, rounded in direction `rounding`.
            ///
            /// # Errors
            /// [`MoneyError::DivisionByZero`] for a zero ratio, or [`MoneyError::Overflow`].
            pub fn div_ratio(self, ratio: Ratio, rounding: Rounding) -> Result<Self, MoneyError> {
                mul_div(self.0, SCALE, ratio.raw(), rounding).map(Self)
            }
        }

        impl FixedPoint for $name {
            fn raw(self) -> i128 {
                self.0
            }
            fn from_raw(raw: i128) -> Self {
                Self(raw)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                format_raw(self.0, f)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                format_raw(self.0, f)?;
                f.write_str(")")
            }
        }

        impl core::str::FromStr for $name {
            type Err = MoneyError;
            fn from_str(text: &str) -> Result<Self, MoneyError> {
                parse_raw(text.trim()).map(Self).map_err(MoneyError::Parse)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(DecimalVisitor::<$name>(core::marker::PhantomData))
            }
        }
    };
}

fixed_point_type!(
    /// A quantity of an asset, or a value in the numeraire (USD), with 18 decimals.
    Amount
);
fixed_point_type!(
    /// An oracle price: numeraire (USD) per whole unit of an asset, with 18 decimals.
    Price
);
fixed_point_type!(
    /// Claims on a pool's assets, with 18 decimals.
    Shares
);
fixed_point_type!(
    /// A dimensionless fraction (1 = 100%), such as a collateral factor or a rate, 18 decimals.
    Ratio
);

impl Amount {
    /// The value of this quantity at `price`: `self × price`, rounded in direction `rounding`.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when the value does not fit.
    pub fn value_at(self, price: Price, rounding: Rounding) -> Result<Amount, MoneyError> {
        mul_div(self.0, price.raw(), SCALE, rounding).map(Amount)
    }

    /// The quantity worth `self` (a value) at `price`: `self / price`, rounded by `rounding`.
    ///
    /// # Errors
    /// [`MoneyError::DivisionByZero`] for a zero price, or [`MoneyError::Overflow`].
    pub fn quantity_at(self, price: Price, rounding: Rounding) -> Result<Amount, MoneyError> {
        mul_div(self.0, SCALE, price.raw(), rounding).map(Amount)
    }
}

impl Ratio {
    /// The fraction `numerator / denominator` of two values of one type, rounded by `rounding`.
    ///
    /// # Errors
    /// [`MoneyError::DivisionByZero`] for a zero denominator, or [`MoneyError::Overflow`].
    pub fn from_fraction<T: FixedPoint>(
        numerator: T,
        denominator: T,
        rounding: Rounding,
    ) -> Result<Ratio, MoneyError> {
        mul_div(numerator.raw(), SCALE, denominator.raw(), rounding).map(Ratio)
    }

    /// A fraction given in basis points (1 bp = 0.0001).
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when it does not fit.
    pub fn from_bps(bps: i128) -> Result<Ratio, MoneyError> {
        mul_div(bps, SCALE, 10_000, Rounding::Floor).map(Ratio)
    }
}

/// Serde visitor that reads a decimal string into any fixed-point type.
struct DecimalVisitor<T>(core::marker::PhantomData<T>);

impl<T: FixedPoint> serde::de::Visitor<'_> for DecimalVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a decimal number as a string, such as \"12.5\"")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        parse_raw(text.trim()).map(T::from_raw).map_err(E::custom)
    }

    fn visit_i64<E: serde::de::Error>(self, units: i64) -> Result<T, E> {
        i128::from(units)
            .checked_mul(SCALE)
            .map(T::from_raw)
            .ok_or_else(|| E::custom("out of range"))
    }

    fn visit_u64<E: serde::de::Error>(self, units: u64) -> Result<T, E> {
        i128::from(units)
            .checked_mul(SCALE)
            .map(T::from_raw)
            .ok_or_else(|| E::custom("out of range"))
    }

    fn visit_f64<E: serde::de::Error>(self, _value: f64) -> Result<T, E> {
        Err(E::custom(
            "a fractional number must be written as a string, such as \"0.85\", so that it is exact",
        ))
    }
}
