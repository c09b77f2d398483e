//! Exact decimal strings for fixed-point values at the crate's scale.

use crate::{SCALE, SCALE_DECIMALS};

/// Why a decimal string was not a valid fixed-point number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The string was empty (or only a sign).
    Empty,
    /// A character other than a digit, one leading `-` or `+`, and one `.` was found.
    InvalidCharacter {
        /// The offending character.
        character: char,
    },
    /// More digits after the point than the fixed scale holds; nothing is rounded silently.
    TooManyDecimals {
        /// How many fractional digits the string had.
        found: usize,
        /// The most the type accepts.
        allowed: u32,
    },
    /// The value does not fit in an `i128` at the fixed scale.
    OutOfRange,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty number"),
            ParseError::InvalidCharacter { character } => {
                write!(f, "invalid character {character:?} in number")
            }
            ParseError::TooManyDecimals { found, allowed } => {
                write!(f, "{found} digits after the point, at most {allowed} allowed")
            }
            ParseError::OutOfRange => f.write_str("number out of range"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses an exact decimal string such as `-12.5` into raw units at the fixed scale.
///
/// Accepted: an optional sign, digits, and optionally a point followed by at most
/// [`SCALE_DECIMALS`] digits. Underscores are allowed between digits as separators.
pub(crate) fn parse_raw(text: &str) -> Result<i128, ParseError> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = match body.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (body, ""),
    };
    let whole_digits = digits_of(whole)?;
    let fraction_digits: Vec<u8> = digits_of(fraction)?;
    if whole_digits.is_empty() && fraction_digits.is_empty() {
        // No digit at all ("", "-", ".", "_"): not a number, rather than a silent zero.
        return Err(ParseError::Empty);
    }
    let whole_value = value_of(&whole_digits)?;
    let allowed = SCALE_DECIMALS;
    if fraction_digits.len() > allowed as usize {
        return Err(ParseError::TooManyDecimals { found: fraction_digits.len(), allowed });
    }
    let mut fraction_value: i128 = 0;
    for position in 0..allowed as usize {
        let digit = fraction_digits.get(position).copied().unwrap_or(0);
        fraction_value = fraction_value
            .checked_mul(10)
            .and_then(|value| value.checked_add(i128::from(digit)))
            .ok_or(ParseError::OutOfRange)?;
    }
    // Apply the sign before adding the fraction: the magnitude of `i128::MIN` does not fit in
    // an `i128`, so negating a finished magnitude would reject the most negative value.
    let scaled_whole = whole_value.checked_mul(SCALE).ok_or(ParseError::OutOfRange)?;
    let value = if negative {
        scaled_whole.checked_neg().and_then(|value| value.checked_sub(fraction_value))
    } else {
        scaled_whole.checked_add(fraction_value)
    };
    value.ok_or(ParseError::OutOfRange)
}

/// The non-negative integer spelled by a run of decimal digit values.
fn value_of(digits: &[u8]) -> Result<i128, ParseError> {
    let mut value: i128 = 0;
    for &digit in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(digit)))
            .ok_or(ParseError::OutOfRange)?;
    }
    Ok(value)
}

/// The digit values of `text`, skipping `_` separators; any other non-digit is an error.
fn digits_of(text: &str) -> Result<Vec<u8>, ParseError> {
    let mut digits = Vec::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '_' => {}
            '0'..='9' => digits.push(character as u8 - b'0'),
            _ => return Err(ParseError::InvalidCharacter { character }),
        }
    }
    Ok(digits)
}

/// Formats raw units canonically: no trailing fractional zeros, no point for whole numbers, a
/// leading `-` for negatives, so that [`parse_raw`] gives back the same raw value.
pub(crate) fn format_raw(raw: i128, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let negative = raw < 0;
    let magnitude = raw.unsigned_abs();
    let scale = SCALE.unsigned_abs();
    let whole = magnitude.checked_div(scale).unwrap_or(0);
    let fraction = magnitude.checked_rem(scale).unwrap_or(0);
    if negative {
        f.write_str("-")?;
    }
    write!(f, "{whole}")?;
    if fraction != 0 {
        let digits = format!("{fraction:0width$}", width = SCALE_DECIMALS as usize);
        write!(f, ".{}", digits.trim_end_matches('0'))?;
    }
    Ok(())
}
