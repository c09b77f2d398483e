//! `a × b / d` with a 256-bit intermediate and an explicit rounding direction.
//!
//! [`mul_div`] works on magnitudes and picks the narrowest exact path: 64-bit division when the
//! product and the divisor fit in 64 bits, 128-by-64 steps when only the divisor does, and a
//! 256-by-128 long division (two 64-bit quotient digits) otherwise. Every path computes the exact
//! truncated quotient and remainder, so the rounding is applied once, the same way, for all of
//! them. [`mul_div_reference`] is the general 256-bit division through `ethnum`, kept as the
//! oracle for the property tests and the benchmark.

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

/// 2^64 as a `u128`, the base of the 64-bit digits the long division works in.
const DIGIT: u128 = 1 << 64;
/// Mask of the low 64-bit digit of a `u128`.
const LOW: u128 = DIGIT - 1;

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
    let negative = (a < 0) ^ (b < 0) ^ (d < 0);
    let divisor = d.unsigned_abs();
    let (high, low) = mul_wide(a.unsigned_abs(), b.unsigned_abs());
    if high >= divisor {
        return Err(MoneyError::Overflow); // The quotient is at least 2^128.
    }
    let (quotient, remainder) = if high == 0 {
        div_rem_u128(low, divisor)
    } else if divisor <= LOW {
        div_rem_192_by_64(high, low, divisor)
    } else {
        div_rem_256_by_128(high, low, divisor)
    };
    // Truncation went toward zero: for a negative result that is up, for a positive one down.
    let away_from_zero = remainder != 0 && (negative == (rounding == Rounding::Floor));
    let magnitude = if away_from_zero {
        quotient.checked_add(1).ok_or(MoneyError::Overflow)?
    } else {
        quotient
    };
    if negative {
        0i128.checked_sub_unsigned(magnitude).ok_or(MoneyError::Overflow)
    } else {
        i128::try_from(magnitude).map_err(|_| MoneyError::Overflow)
    }
}

/// The full 256-bit product of two magnitudes as (high, low) 128-bit halves.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    if a <= LOW && b <= LOW {
        return (0, a * b); // (2^64 − 1)^2 < 2^128.
    }
    let (a1, a0) = (a >> 64, a & LOW);
    let (b1, b0) = (b >> 64, b & LOW);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // Middle column: each term < 2^64, so the sum < 3·2^64 fits easily.
    let middle = (p00 >> 64) + (p01 & LOW) + (p10 & LOW);
    let low = (middle << 64) | (p00 & LOW);
    let high = p11 + (p01 >> 64) + (p10 >> 64) + (middle >> 64);
    (high, low)
}

/// `n / d` and `n % d`; 64-bit division when both fit in 64 bits.
#[allow(clippy::integer_division, clippy::cast_possible_truncation)]
fn div_rem_u128(n: u128, d: u128) -> (u128, u128) {
    // Truncating division on magnitudes; the caller rounds with the remainder. d ≠ 0.
    if n <= LOW && d <= LOW {
        let (n, d) = (n as u64, d as u64); // Both checked to fit in 64 bits.
        return (u128::from(n / d), u128::from(n % d));
    }
    (n / d, n % d)
}

/// `(high·2^128 + low) / d` and its remainder for `d < 2^64` and `high < d`, in two 128-by-64
/// steps (each quotient digit fits in 64 bits because the running remainder is below `d`).
#[allow(clippy::integer_division)]
fn div_rem_192_by_64(high: u128, low: u128, d: u128) -> (u128, u128) {
    // Truncating division on magnitudes; the caller rounds with the remainder.
    let upper = (high << 64) | (low >> 64); // high < d < 2^64: no bits lost.
    let (q1, r1) = (upper / d, upper % d);
    let lower = (r1 << 64) | (low & LOW);
    let (q0, r0) = (lower / d, lower % d);
    ((q1 << 64) | q0, r0)
}

/// `(high·2^128 + low) / d` and its remainder for `2^64 ≤ d` and `high < d`: Knuth's algorithm D
/// with 64-bit digits (Hacker's Delight `divlu`), two quotient digits, each estimated from the
/// top divisor digit and corrected at most twice.
#[allow(clippy::integer_division)]
fn div_rem_256_by_128(high: u128, low: u128, d: u128) -> (u128, u128) {
    // Truncating division on magnitudes; the caller rounds with the remainder.
    let shift = d.leading_zeros(); // < 64 because d ≥ 2^64.
    let v = d << shift;
    let (v1, v0) = (v >> 64, v & LOW);
    let n32 = if shift == 0 { high } else { (high << shift) | (low >> (128 - shift)) };
    let n10 = low << shift;
    let (n1, n0) = (n10 >> 64, n10 & LOW);
    let q1 = quotient_digit(n32, n1, v1, v0);
    // Everything below is exact modulo 2^128 and the true value is below v, as in divlu.
    let n21 = n32.wrapping_mul(DIGIT).wrapping_add(n1).wrapping_sub(q1.wrapping_mul(v));
    let q0 = quotient_digit(n21, n0, v1, v0);
    let remainder = n21.wrapping_mul(DIGIT).wrapping_add(n0).wrapping_sub(q0.wrapping_mul(v));
    ((q1 << 64) | q0, remainder >> shift)
}

/// One quotient digit of `(top·2^64 + next) / (v1·2^64 + v0)` for a normalised divisor
/// (`v1 ≥ 2^63`) and `top < v`: estimate from `v1`, then correct down (at most twice).
#[allow(clippy::integer_division)]
fn quotient_digit(top: u128, next: u128, v1: u128, v0: u128) -> u128 {
    // Truncating estimate; corrected below so the digit is exactly floor of the true quotient.
    let mut q = top / v1;
    let mut r = top % v1;
    while q >= DIGIT || q * v0 > r * DIGIT + next {
        q -= 1;
        r += v1;
        if r >= DIGIT {
            break;
        }
    }
    q
}

/// The general path [`mul_div`] had before its narrow fast paths: a 256-by-256 `ethnum` division
/// (an `i128` division when the product fits). Kept as the oracle the fast paths are tested and
/// benchmarked against; same contract and results as [`mul_div`].
///
/// # Errors
/// As [`mul_div`].
pub fn mul_div_reference(
    a: i128,
    b: i128,
    d: i128,
    rounding: Rounding,
) -> Result<i128, MoneyError> {
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
