//! Integer fixed-point money for Backstop.
//!
//! Every quantity the engine keeps is one of four newtypes over `i128`, each with the same fixed
//! decimal scale of 18 digits ([`SCALE_DECIMALS`]): [`Amount`] (a quantity of an asset, or a value in
//! the numeraire), [`Price`] (numeraire per unit of an asset), [`Shares`] (claims on a pool) and
//! [`Ratio`] (a dimensionless fraction such as a collateral factor or a rate).
//!
//! Rules this crate maintains:
//! - arithmetic is checked: overflow is an error, never a wrap and never a panic;
//! - every division names its [`Rounding`], and [`mul_div`] computes `a × b / d` with a 256-bit
//!   intermediate so the product cannot overflow before the division;
//! - decimal strings parse exactly (a digit beyond the scale is an error, not a silent rounding)
//!   and format canonically, so `parse(format(x)) == x` for every value;
//! - serde reads and writes every type as a decimal string, because JSON numbers lose precision.

mod decimal;
mod fixed;
mod muldiv;

pub use decimal::ParseError;
pub use fixed::{Amount, FixedPoint, Price, Ratio, Shares};
pub use muldiv::{Rounding, mul_div, mul_div_reference};

/// Number of decimal digits after the point in every fixed-point type.
pub const SCALE_DECIMALS: u32 = 18;

/// The raw integer that represents one whole unit (10^18).
pub const SCALE: i128 = 1_000_000_000_000_000_000;

/// What went wrong in a money operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    /// The exact result does not fit in an `i128` at the fixed scale.
    Overflow,
    /// A division had a zero divisor.
    DivisionByZero,
    /// A decimal string was not a valid fixed-point number.
    Parse(ParseError),
}

impl core::fmt::Display for MoneyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MoneyError::Overflow => f.write_str("arithmetic overflow"),
            MoneyError::DivisionByZero => f.write_str("division by zero"),
            MoneyError::Parse(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for MoneyError {}

#[cfg(test)]
mod tests;
