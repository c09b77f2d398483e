//! `a × b / d` with a 256-bit intermediate and an explicit rounding direction.

use crate::MoneyError;
use ethnum::I256;

/// Direction in which a division that is not exact is rounded.
///
/// `Floor` rounds toward negative infinity and `Ceil` toward positive infinity, for negative
/// results too, so that "the venue is never short" can be stated as a direction: amounts paid out
/// round with `Floor`, amounts owed to the venue round with `Ceil`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rounding {
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceil,
}

/// Computes `a × b / d` exactly in 256 bits, rounds it in direction `rounding`, and returns it
/// if it fits in an `i128`.
///
/// # Errors
/// [`MoneyError::DivisionByZero`] when `d` is zero; [`MoneyError::Overflow`] when the rounded
/// quotient does not fit in an `i128`.
pub fn mul_div(a: i128, b: i128, d: i128, rounding: Rounding) -> Result<i128, MoneyError> {
    if d == 0 {
        return Err(MoneyError::DivisionByZero);
    }
    // Fast path: the product fits in i128, so no 256-bit work is needed.
    if let Some(product) = a.checked_mul(b) {
        return div_round_i128(product, d, rounding);
    }
    let product = I256::from(a) * I256::from(b); // |a·b| < 2^254: cannot overflow 256 bits.
    let divisor = I256::from(d);
    let quotient = product / divisor; // Truncates toward zero; d ≠ 0 and d ≠ -1 overflow-free.
    let remainder = product % divisor;
    let quotient =
        adjust(quotient, remainder == I256::ZERO, (product < 0) != (divisor < 0), rounding);
    i128::try_from(quotient).map_err(|_| MoneyError::Overflow)
}

/// Divides `n` by `d` in `i128`, rounding in direction `rounding`.
fn div_round_i128(n: i128, d: i128, rounding: Rounding) -> Result<i128, MoneyError> {
    let quotient = n.checked_div(d).ok_or(MoneyError::Overflow)?; // Only i128::MIN / -1 fails.
    let remainder = n.checked_rem(d).ok_or(MoneyError::Overflow)?;
    if remainder == 0 {
        return Ok(quotient);
    }
    let negative = (n < 0) != (d < 0);
    match (rounding, negative) {
        // Truncation went toward zero: for a negative result that is up, for positive down.
        (Rounding::Floor, true) => quotient.checked_sub(1).ok_or(MoneyError::Overflow),
        (Rounding::Ceil, false) => quotient.checked_add(1).ok_or(MoneyError::Overflow),
        _ => Ok(quotient),
    }
}

/// Moves a truncated 256-bit quotient one step in the rounding direction when it was inexact.
fn adjust(quotient: I256, exact: bool, negative: bool, rounding: Rounding) -> I256 {
    if exact {
        return quotient;
    }
    // The quotient magnitude is below 2^254, so ±1 cannot overflow 256 bits.
    match (rounding, negative) {
        (Rounding::Floor, true) => quotient - I256::ONE,
        (Rounding::Ceil, false) => quotient + I256::ONE,
        _ => quotient,
    }
}
