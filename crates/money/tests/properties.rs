//! Property tests for money.
//!
//! `mul_div` is checked against an independent 256-bit reference written here from scratch
//! (two's-complement `(hi, lo)` pairs of `u128`, schoolbook multiplication and bit-by-bit long
//! division) rather than against `ethnum`, which the crate itself uses. Decimal parsing and
//! formatting are checked against references built on the standard library's `i128` parsing and
//! printing.
//!
//! The case count defaults to [`DEFAULT_CASES`]; the `PROPTEST_CASES` environment variable
//! overrides it (as it does for proptest's own default).

use backstop_money::{
    Amount, FixedPoint, MoneyError, ParseError, Price, Ratio, Rounding, SCALE, Shares, mul_div,
};
use core::cmp::Ordering;
use core::fmt::Display;
use core::str::FromStr;
use proptest::prelude::*;

/// Cases per property when `PROPTEST_CASES` is not set (the brief caps this at 2000).
const DEFAULT_CASES: u32 = 1000;

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    // No regression files in the source tree: the edge values that matter are in the strategies.
    config.failure_persistence = None;
    config
}

// ---------------------------------------------------------------------------------------------
// An independent 256-bit reference.
// ---------------------------------------------------------------------------------------------

const LOW_64: u128 = u128::MAX >> 64;
const TOP_BIT: u128 = 1 << 127;

/// A 256-bit two's-complement integer as a `(hi, lo)` pair of `u128`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Wide {
    hi: u128,
    lo: u128,
}

impl Wide {
    const ZERO: Wide = Wide { hi: 0, lo: 0 };
    const ONE: Wide = Wide { hi: 0, lo: 1 };

    fn from_u128(value: u128) -> Wide {
        Wide { hi: 0, lo: value }
    }

    fn from_i128(value: i128) -> Wide {
        let magnitude = Wide::from_u128(value.unsigned_abs());
        if value < 0 { magnitude.neg() } else { magnitude }
    }

    fn is_negative(self) -> bool {
        self.hi & TOP_BIT != 0
    }

    /// Wrapping addition modulo 2^256.
    fn add(self, other: Wide) -> Wide {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        let hi = self.hi.wrapping_add(other.hi).wrapping_add(u128::from(carry));
        Wide { hi, lo }
    }

    fn neg(self) -> Wide {
        Wide { hi: !self.hi, lo: !self.lo }.add(Wide::ONE)
    }

    fn sub(self, other: Wide) -> Wide {
        self.add(other.neg())
    }

    /// The magnitude, for values other than -2^255 (never produced here).
    fn magnitude(self) -> Wide {
        if self.is_negative() { self.neg() } else { self }
    }

    /// The value as an `i128`, or `None` when it does not fit.
    fn to_i128(self) -> Option<i128> {
        let fits_positive = self.hi == 0 && self.lo & TOP_BIT == 0;
        let fits_negative = self.hi == u128::MAX && self.lo & TOP_BIT != 0;
        (fits_positive || fits_negative).then(|| self.lo.cast_signed())
    }

    fn bit(self, index: u32) -> bool {
        if index >= 128 { (self.hi >> (index - 128)) & 1 == 1 } else { (self.lo >> index) & 1 == 1 }
    }

    fn with_bit(self, index: u32) -> Wide {
        if index >= 128 {
            Wide { hi: self.hi | (1 << (index - 128)), lo: self.lo }
        } else {
            Wide { hi: self.hi, lo: self.lo | (1 << index) }
        }
    }
}

impl Ord for Wide {
    /// Signed comparison: flipping the sign bit maps two's complement onto unsigned order.
    fn cmp(&self, other: &Wide) -> Ordering {
        (self.hi ^ TOP_BIT, self.lo).cmp(&(other.hi ^ TOP_BIT, other.lo))
    }
}

impl PartialOrd for Wide {
    fn partial_cmp(&self, other: &Wide) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The full 256-bit product of two `u128`, by 64-bit limbs.
fn mul_u128(a: u128, b: u128) -> Wide {
    let (a1, a0) = (a >> 64, a & LOW_64);
    let (b1, b0) = (b >> 64, b & LOW_64);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let middle = (p00 >> 64) + (p01 & LOW_64) + (p10 & LOW_64); // < 3 · 2^64: no overflow.
    let lo = (p00 & LOW_64) | ((middle & LOW_64) << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (middle >> 64);
    Wide { hi, lo }
}

/// The exact product `a × b` in 256 bits.
fn product(a: i128, b: i128) -> Wide {
    let magnitude = mul_u128(a.unsigned_abs(), b.unsigned_abs());
    if (a < 0) != (b < 0) { magnitude.neg() } else { magnitude }
}

/// Unsigned long division of a non-negative 256-bit value by a non-zero `u128`, bit by bit.
fn div_rem_unsigned(numerator: Wide, divisor: u128) -> (Wide, u128) {
    assert!(divisor != 0 && !numerator.is_negative());
    let mut quotient = Wide::ZERO;
    let mut remainder: u128 = 0;
    for index in (0..256).rev() {
        // remainder < divisor ≤ 2^128 − 1, so 2·remainder + 1 < 2^129: keep the carried-out bit.
        let carried = remainder & TOP_BIT != 0;
        remainder = (remainder << 1) | u128::from(numerator.bit(index));
        if carried || remainder >= divisor {
            remainder = remainder.wrapping_sub(divisor);
            quotient = quotient.with_bit(index);
        }
    }
    (quotient, remainder)
}

/// The exact `a × b / d` by the reference: (floor, ceil, divisible), all in 256 bits.
fn reference_mul_div(a: i128, b: i128, d: i128) -> (Wide, Wide, bool) {
    let numerator = product(a, b);
    let (quotient, remainder) = div_rem_unsigned(numerator.magnitude(), d.unsigned_abs());
    let exact = remainder == 0;
    let bumped = if exact { quotient } else { quotient.add(Wide::ONE) };
    if numerator.is_negative() != (d < 0) && numerator != Wide::ZERO {
        (bumped.neg(), quotient.neg(), exact)
    } else {
        (quotient, bumped, exact)
    }
}

fn expected(value: Wide) -> Result<i128, MoneyError> {
    value.to_i128().ok_or(MoneyError::Overflow)
}

// ---------------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------------

const SPECIALS: [i128; 11] =
    [i128::MIN, i128::MIN + 1, -SCALE, -2, -1, 0, 1, 2, SCALE, i128::MAX - 1, i128::MAX];

/// Any `i128`, weighted so that small, medium, huge and edge values all show up.
fn wide_i128() -> impl Strategy<Value = i128> {
    prop_oneof![
        3 => any::<i128>(),
        3 => (any::<i128>(), 0_u32..127).prop_map(|(value, shift)| value >> shift),
        2 => -1000_i128..1000,
        1 => prop::sample::select(SPECIALS.to_vec()),
    ]
}

fn nonzero_i128() -> impl Strategy<Value = i128> {
    wide_i128().prop_filter("divisor must be non-zero", |value| *value != 0)
}

fn positive_i128() -> impl Strategy<Value = i128> {
    wide_i128()
        .prop_map(|value| value.checked_abs().unwrap_or(i128::MAX))
        .prop_filter("must be positive", |value| *value > 0)
}

fn rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![Just(Rounding::Floor), Just(Rounding::Ceil)]
}

// ---------------------------------------------------------------------------------------------
// Reference decimal formatting and parsing, on top of std's i128 text conversions.
// ---------------------------------------------------------------------------------------------

/// Canonical decimal text of a raw value, built from std's integer printing.
fn reference_format(raw: i128) -> String {
    let digits = format!("{:019}", raw.unsigned_abs()); // at least one whole digit
    let (whole, fraction) = digits.split_at(digits.len() - 18);
    let fraction = fraction.trim_end_matches('0');
    let sign = if raw < 0 { "-" } else { "" };
    if fraction.is_empty() { format!("{sign}{whole}") } else { format!("{sign}{whole}.{fraction}") }
}

fn round_trip<T>(raw: i128) -> Result<(), TestCaseError>
where
    T: FixedPoint + Display + FromStr<Err = MoneyError> + serde::Serialize,
    T: serde::de::DeserializeOwned,
{
    let value = T::from_raw(raw);
    let text = value.to_string();
    prop_assert_eq!(text.parse::<T>(), Ok(value), "text {}", text);
    let json = serde_json::to_string(&value).expect("serialize");
    prop_assert_eq!(&json, &format!("\"{text}\""));
    let back: T = serde_json::from_str(&json).expect("deserialize");
    prop_assert_eq!(back, value);
    Ok(())
}

/// An independent reading of the grammar: trimmed, one optional sign, digits with `_`
/// separators, at most one point, at least one digit, at most 18 fractional digits, in range.
fn reference_parse(text: &str) -> Option<i128> {
    let text = text.trim();
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.strip_prefix('+').unwrap_or(text)),
    };
    let mut parts = body.split('.');
    let whole: String = parts.next().unwrap_or_default().replace('_', "");
    let fraction: String = parts.next().unwrap_or_default().replace('_', "");
    let well_formed = parts.next().is_none()
        && whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit())
        && !(whole.is_empty() && fraction.is_empty())
        && fraction.len() <= 18;
    if !well_formed {
        return None;
    }
    i128::from_str(&format!("{sign}0{whole}{fraction:0<18}")).ok()
}

fn parse_all(text: &str) -> [Result<i128, MoneyError>; 4] {
    [
        text.parse::<Amount>().map(Amount::raw),
        text.parse::<Price>().map(Price::raw),
        text.parse::<Shares>().map(Shares::raw),
        text.parse::<Ratio>().map(Ratio::raw),
    ]
}

proptest! {
    #![proptest_config(config())]

    // 1. Round trips -----------------------------------------------------------------------------

    #[test]
    fn format_then_parse_round_trips_for_every_type(raw in wide_i128()) {
        round_trip::<Amount>(raw)?;
        round_trip::<Price>(raw)?;
        round_trip::<Shares>(raw)?;
        round_trip::<Ratio>(raw)?;
    }

    #[test]
    fn format_is_canonical(raw in wide_i128()) {
        let want = reference_format(raw);
        prop_assert_eq!(&Amount::from_raw(raw).to_string(), &want);
        prop_assert_eq!(&Price::from_raw(raw).to_string(), &want);
        prop_assert_eq!(&Shares::from_raw(raw).to_string(), &want);
        prop_assert_eq!(&Ratio::from_raw(raw).to_string(), &want);
        prop_assert_eq!(format!("{:?}", Amount::from_raw(raw)), format!("Amount({want})"));
    }

    #[test]
    fn serde_json_round_trips_in_containers(raws in prop::collection::vec(wide_i128(), 0..8)) {
        let amounts: Vec<Amount> = raws.iter().copied().map(Amount::from_raw).collect();
        let json = serde_json::to_string(&amounts).expect("serialize");
        let back: Vec<Amount> = serde_json::from_str(&json).expect("deserialize");
        prop_assert_eq!(back, amounts);
    }

    // 2. mul_div against the reference ----------------------------------------------------------

    #[test]
    fn mul_div_matches_the_256_bit_reference(
        a in wide_i128(), b in wide_i128(), d in nonzero_i128()
    ) {
        let (floor, ceil, _) = reference_mul_div(a, b, d);
        prop_assert_eq!(mul_div(a, b, d, Rounding::Floor), expected(floor));
        prop_assert_eq!(mul_div(a, b, d, Rounding::Ceil), expected(ceil));
    }

    #[test]
    fn mul_div_matches_i128_arithmetic_when_the_product_fits(
        a in -(1_i128 << 62)..(1_i128 << 62),
        b in -(1_i128 << 62)..(1_i128 << 62),
        d in nonzero_i128().prop_filter("negatable", |d| *d != i128::MIN),
    ) {
        // |a·b| < 2^124, so every step below is exact; div_euclid by a positive divisor floors.
        let (n, m) = if d > 0 { (a * b, d) } else { (-(a * b), -d) };
        let floor = n.div_euclid(m);
        let ceil = -((-n).div_euclid(m));
        prop_assert_eq!(mul_div(a, b, d, Rounding::Floor), Ok(floor));
        prop_assert_eq!(mul_div(a, b, d, Rounding::Ceil), Ok(ceil));
    }

    #[test]
    fn floor_and_ceil_bracket_the_exact_quotient(
        a in wide_i128(), b in wide_i128(), d in nonzero_i128()
    ) {
        let (_, _, divisible) = reference_mul_div(a, b, d);
        let floor = mul_div(a, b, d, Rounding::Floor);
        let ceil = mul_div(a, b, d, Rounding::Ceil);
        if let (Ok(floor), Ok(ceil)) = (floor, ceil) {
            // floor ≤ a·b/d ≤ ceil, checked as floor·d and ceil·d against a·b with d's sign.
            let (low, high) = (product(floor, d), product(ceil, d));
            let exact = product(a, b);
            if d > 0 {
                prop_assert!(low <= exact && exact <= high);
            } else {
                prop_assert!(low >= exact && exact >= high);
            }
            let gap = Wide::from_i128(ceil).sub(Wide::from_i128(floor));
            prop_assert!(gap == Wide::ZERO || gap == Wide::ONE, "ceil − floor = {:?}", gap);
            prop_assert_eq!(gap == Wide::ZERO, divisible);
            // The reference agrees that exact division is the same as a·b being a multiple of d.
            prop_assert_eq!(divisible, product(floor, d) == exact);
        }
    }

    // 3. Rounding direction ---------------------------------------------------------------------

    #[test]
    fn rounding_goes_in_the_named_direction_and_no_further(
        a in wide_i128(), b in wide_i128(), d in nonzero_i128()
    ) {
        let exact = product(a, b);
        let divisor = Wide::from_i128(d);
        if let Ok(floor) = mul_div(a, b, d, Rounding::Floor) {
            // residual = a·b − floor·d: in [0, d) for d > 0 and in (d, 0] for d < 0.
            let residual = exact.sub(product(floor, d));
            if d > 0 {
                prop_assert!(product(floor, d) <= exact);
                prop_assert!(Wide::ZERO <= residual && residual < divisor);
            } else {
                prop_assert!(product(floor, d) >= exact);
                prop_assert!(divisor < residual && residual <= Wide::ZERO);
            }
        }
        if let Ok(ceil) = mul_div(a, b, d, Rounding::Ceil) {
            // residual = a·b − ceil·d: in (−d, 0] for d > 0 and in [0, −d) for d < 0.
            let residual = exact.sub(product(ceil, d));
            if d > 0 {
                prop_assert!(product(ceil, d) >= exact);
                prop_assert!(divisor.neg() < residual && residual <= Wide::ZERO);
            } else {
                prop_assert!(product(ceil, d) <= exact);
                prop_assert!(Wide::ZERO <= residual && residual < divisor.neg());
            }
        }
    }

    // 4. Monotonicity ---------------------------------------------------------------------------

    #[test]
    fn mul_div_is_monotone_in_a(
        a1 in wide_i128(),
        a2 in wide_i128(),
        b in positive_i128(),
        d in positive_i128(),
        rounding in rounding(),
    ) {
        let (low, high) = if a1 <= a2 { (a1, a2) } else { (a2, a1) };
        // With b, d > 0 the exact quotient has the sign of a, so an overflow is −∞ for a
        // negative a and +∞ for a positive one; map results onto that extended order.
        let extended = |a: i128| match mul_div(a, b, d, rounding) {
            Ok(value) => (0, value),
            Err(MoneyError::Overflow) if a < 0 => (-1, 0),
            Err(MoneyError::Overflow) => (1, 0),
            Err(other) => panic!("unexpected error {other:?}"),
        };
        prop_assert!(extended(low) <= extended(high), "a {} ≤ {} but f(a) {:?} > {:?}",
            low, high, extended(low), extended(high));
    }

    #[test]
    fn value_at_is_monotone_in_price(
        quantity in wide_i128(),
        p1 in wide_i128(),
        p2 in wide_i128(),
        rounding in rounding(),
    ) {
        let (low, high) = if p1 <= p2 { (p1, p2) } else { (p2, p1) };
        let amount = Amount::from_raw(quantity);
        let value = |price: i128| amount.value_at(Price::from_raw(price), rounding);
        if let (Ok(at_low), Ok(at_high)) = (value(low), value(high)) {
            match quantity.cmp(&0) {
                Ordering::Greater => prop_assert!(at_low <= at_high),
                Ordering::Less => prop_assert!(at_low >= at_high),
                Ordering::Equal => prop_assert!(at_low.is_zero() && at_high.is_zero()),
            }
        }
    }

    #[test]
    fn scaled_helpers_match_the_reference(
        x in wide_i128(),
        y in wide_i128(),
        rounding in rounding(),
    ) {
        // value_at and mul_ratio are x·y/1, quantity_at and div_ratio are x·1/y, at scale 10^18.
        let pick = |(floor, ceil, _): (Wide, Wide, bool)| match rounding {
            Rounding::Floor => expected(floor),
            Rounding::Ceil => expected(ceil),
        };
        let amount = Amount::from_raw(x);
        let times = pick(reference_mul_div(x, y, SCALE));
        prop_assert_eq!(&amount.value_at(Price::from_raw(y), rounding).map(Amount::raw), &times);
        prop_assert_eq!(&amount.mul_ratio(Ratio::from_raw(y), rounding).map(Amount::raw), &times);
        let over = if y == 0 {
            Err(MoneyError::DivisionByZero)
        } else {
            pick(reference_mul_div(x, SCALE, y))
        };
        prop_assert_eq!(
            &amount.quantity_at(Price::from_raw(y), rounding).map(Amount::raw),
            &over
        );
        prop_assert_eq!(amount.div_ratio(Ratio::from_raw(y), rounding).map(Amount::raw), over);
    }

    // 5. Overflow is an error, never a wrap ------------------------------------------------------

    #[test]
    fn mul_div_overflows_exactly_when_the_quotient_leaves_i128(
        a in prop::sample::select(vec![i128::MIN, i128::MIN + 1, i128::MAX - 1, i128::MAX]),
        d in nonzero_i128(),
        delta in -3_i128..=3,
        flip in any::<bool>(),
        rounding in rounding(),
    ) {
        // b ≈ ±d puts a·b/d right at the edge of i128.
        let b = d.saturating_add(delta);
        let b = if flip { b.saturating_neg() } else { b };
        let (floor, ceil, _) = reference_mul_div(a, b, d);
        let want = match rounding { Rounding::Floor => floor, Rounding::Ceil => ceil };
        let got = mul_div(a, b, d, rounding);
        match want.to_i128() {
            Some(value) => prop_assert_eq!(got, Ok(value)),
            None => prop_assert_eq!(got, Err(MoneyError::Overflow)),
        }
        prop_assert_eq!(mul_div(a, b, 0, rounding), Err(MoneyError::DivisionByZero));
    }

    #[test]
    fn checked_ops_fail_exactly_when_i128_would(x in wide_i128(), y in wide_i128()) {
        let want_add = x.checked_add(y).ok_or(MoneyError::Overflow);
        let want_sub = x.checked_sub(y).ok_or(MoneyError::Overflow);
        let want_neg = x.checked_neg().ok_or(MoneyError::Overflow);
        let want_abs = x.checked_abs().ok_or(MoneyError::Overflow);
        let (ax, ay) = (Amount::from_raw(x), Amount::from_raw(y));
        prop_assert_eq!(&ax.checked_add(ay).map(Amount::raw), &want_add);
        prop_assert_eq!(&ax.checked_sub(ay).map(Amount::raw), &want_sub);
        prop_assert_eq!(&ax.checked_neg().map(Amount::raw), &want_neg);
        prop_assert_eq!(ax.checked_abs().map(Amount::raw), want_abs);
        let (px, py) = (Price::from_raw(x), Price::from_raw(y));
        prop_assert_eq!(&px.checked_add(py).map(Price::raw), &want_add);
        prop_assert_eq!(&px.checked_sub(py).map(Price::raw), &want_sub);
        prop_assert_eq!(&px.checked_neg().map(Price::raw), &want_neg);
        let (sx, sy) = (Shares::from_raw(x), Shares::from_raw(y));
        prop_assert_eq!(&sx.checked_add(sy).map(Shares::raw), &want_add);
        prop_assert_eq!(&sx.checked_sub(sy).map(Shares::raw), &want_sub);
        prop_assert_eq!(&sx.checked_neg().map(Shares::raw), &want_neg);
        let (rx, ry) = (Ratio::from_raw(x), Ratio::from_raw(y));
        prop_assert_eq!(&rx.checked_add(ry).map(Ratio::raw), &want_add);
        prop_assert_eq!(&rx.checked_sub(ry).map(Ratio::raw), &want_sub);
        prop_assert_eq!(&rx.checked_neg().map(Ratio::raw), &want_neg);
        // saturating_sub_to_zero is the true difference clamped to [0, i128::MAX].
        let clamped = Wide::from_i128(x)
            .sub(Wide::from_i128(y))
            .max(Wide::ZERO)
            .min(Wide::from_i128(i128::MAX))
            .to_i128()
            .expect("clamped into i128");
        prop_assert_eq!(ax.saturating_sub_to_zero(ay).raw(), clamped);
    }

    #[test]
    fn from_units_overflows_exactly_when_i128_would(units in wide_i128()) {
        prop_assert_eq!(
            Amount::from_units(units).map(Amount::raw),
            units.checked_mul(SCALE).ok_or(MoneyError::Overflow)
        );
    }

    // 6. Parsing --------------------------------------------------------------------------------

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        let results = parse_all(&text);
        // All four types share one grammar, so they agree on every input.
        prop_assert!(results.iter().all(|result| *result == results[0]));
        let json = serde_json::to_string(&text).expect("a string serializes");
        let from_json = serde_json::from_str::<Amount>(&json).map(Amount::raw).ok();
        prop_assert_eq!(from_json, results[0].clone().ok());
    }

    #[test]
    fn near_miss_strings_parse_as_the_reference_parser_says(text in "[ +_.0-9-]{0,45}") {
        let want = reference_parse(&text);
        for result in parse_all(&text) {
            prop_assert_eq!(result.ok(), want, "text {:?}", text);
        }
    }

    #[test]
    fn well_formed_decimals_parse_to_the_reference_value(
        sign in prop::sample::select(vec!["", "-", "+"]),
        whole in "[0-9]{1,40}",
        fraction in prop::option::of("[0-9]{0,18}"),
        padding in prop::sample::select(vec!["", " ", "\t", "\n "]),
    ) {
        let text = match &fraction {
            Some(fraction) => format!("{padding}{sign}{whole}.{fraction}{padding}"),
            None => format!("{padding}{sign}{whole}{padding}"),
        };
        // The raw value is the digits with the fraction padded to 18 places, read by std.
        let fraction_digits = fraction.unwrap_or_default();
        let digits = format!("{sign}{whole}{fraction_digits:0<18}");
        let want = i128::from_str(&digits)
            .map_err(|_| MoneyError::Parse(ParseError::OutOfRange));
        for result in parse_all(&text) {
            prop_assert_eq!(result, want.clone(), "text {:?}", text);
        }
    }

    #[test]
    fn more_than_18_fractional_digits_are_rejected(
        sign in prop::sample::select(vec!["", "-", "+"]),
        whole in "[0-9]{0,20}",
        fraction in "[0-9]{19,40}",
    ) {
        let text = format!("{sign}{whole}.{fraction}");
        let want = Err(MoneyError::Parse(ParseError::TooManyDecimals {
            found: fraction.len(),
            allowed: 18,
        }));
        for result in parse_all(&text) {
            prop_assert_eq!(result, want.clone(), "text {:?}", text);
        }
    }

    #[test]
    fn a_foreign_character_is_rejected(
        raw in wide_i128(),
        position in any::<prop::sample::Index>(),
        character in any::<char>().prop_filter("not part of the grammar", |c| {
            !c.is_ascii_digit() && !"+-._".contains(*c) && !c.is_whitespace()
        }),
    ) {
        let mut text = Amount::from_raw(raw).to_string();
        text.insert(position.index(text.len() + 1), character);
        let want = Err(MoneyError::Parse(ParseError::InvalidCharacter { character }));
        for result in parse_all(&text) {
            prop_assert_eq!(result, want.clone(), "text {:?}", text);
        }
    }

    // 7. Ratios ---------------------------------------------------------------------------------

    #[test]
    fn ratio_from_fraction_brackets_the_fraction(
        n in wide_i128(), d in nonzero_i128()
    ) {
        let (numerator, denominator) = (Amount::from_raw(n), Amount::from_raw(d));
        let floor = Ratio::from_fraction(numerator, denominator, Rounding::Floor);
        let ceil = Ratio::from_fraction(numerator, denominator, Rounding::Ceil);
        // ratio = n/d at scale S: floor·d ≤ n·S ≤ ceil·d for d > 0, reversed for d < 0.
        let scaled = product(n, SCALE);
        if let Ok(floor) = &floor {
            let back = product(floor.raw(), d);
            let below = if d > 0 { back <= scaled } else { back >= scaled };
            prop_assert!(below, "floor {:?}", floor);
        }
        if let Ok(ceil) = &ceil {
            let back = product(ceil.raw(), d);
            let above = if d > 0 { back >= scaled } else { back <= scaled };
            prop_assert!(above, "ceil {:?}", ceil);
        }
        if let (Ok(floor), Ok(ceil)) = (&floor, &ceil) {
            let gap = ceil.raw().checked_sub(floor.raw());
            prop_assert!(gap == Some(0) || gap == Some(1), "floor {:?} ceil {:?}", floor, ceil);
        }
        let (want_floor, want_ceil, _) = reference_mul_div(n, SCALE, d);
        prop_assert_eq!(floor.map(Ratio::raw), expected(want_floor));
        prop_assert_eq!(ceil.map(Ratio::raw), expected(want_ceil));
    }

    #[test]
    fn a_ratio_below_one_never_grows_an_amount(
        x in wide_i128(),
        part in 0_i128..=SCALE,
        rounding in rounding(),
    ) {
        let ratio = Ratio::from_raw(part);
        let amount = Amount::from_raw(x);
        let scaled = amount.mul_ratio(ratio, rounding).expect("|x·r| ≤ |x| cannot overflow");
        prop_assert!(scaled.raw().unsigned_abs() <= x.unsigned_abs());
        prop_assert_eq!(amount.mul_ratio(Ratio::ONE, rounding), Ok(amount));
        prop_assert_eq!(amount.div_ratio(Ratio::ONE, rounding), Ok(amount));
        prop_assert_eq!(amount.mul_ratio(Ratio::ZERO, rounding), Ok(Amount::ZERO));
        prop_assert_eq!(amount.div_ratio(Ratio::ZERO, rounding), Err(MoneyError::DivisionByZero));
    }

    #[test]
    fn from_bps_matches_the_reference(bps in wide_i128()) {
        let (floor, _, _) = reference_mul_div(bps, SCALE, 10_000);
        prop_assert_eq!(Ratio::from_bps(bps).map(Ratio::raw), expected(floor));
    }
}

// ---------------------------------------------------------------------------------------------
// The reference itself, against hand-computed values, so a broken reference cannot hide a bug.
// ---------------------------------------------------------------------------------------------

#[test]
fn reference_arithmetic_is_right_on_known_values() {
    // (2^127 − 1)^2 = 2^254 − 2^128 + 1.
    let square = product(i128::MAX, i128::MAX);
    assert_eq!(square, Wide { hi: (1 << 126) - 1, lo: 1 });
    // (−2^127)^2 = 2^254.
    assert_eq!(product(i128::MIN, i128::MIN), Wide { hi: 1 << 126, lo: 0 });
    assert_eq!(product(-3, 5), Wide::from_i128(-15));
    assert!(Wide::from_i128(-1) < Wide::ZERO && Wide::ZERO < Wide::ONE);
    assert_eq!(Wide::from_i128(i128::MIN).to_i128(), Some(i128::MIN));
    assert_eq!(Wide::from_i128(i128::MAX).add(Wide::ONE).to_i128(), None);
    assert_eq!(div_rem_unsigned(square, i128::MAX.unsigned_abs()), (Wide::from_i128(i128::MAX), 0));
    assert_eq!(div_rem_unsigned(Wide::from_u128(7), 2), (Wide::from_u128(3), 1));
    assert_eq!(div_rem_unsigned(Wide { hi: 1, lo: 0 }, u128::MAX), (Wide::ONE, 1));
    let floor_ceil = |a, b, d| {
        let (floor, ceil, exact) = reference_mul_div(a, b, d);
        (floor.to_i128(), ceil.to_i128(), exact)
    };
    assert_eq!(floor_ceil(7, 1, 2), (Some(3), Some(4), false));
    assert_eq!(floor_ceil(-7, 1, 2), (Some(-4), Some(-3), false));
    assert_eq!(floor_ceil(7, 1, -2), (Some(-4), Some(-3), false));
    assert_eq!(floor_ceil(-7, -1, -2), (Some(-4), Some(-3), false));
    assert_eq!(floor_ceil(0, 5, -3), (Some(0), Some(0), true));
    assert_eq!(floor_ceil(i128::MIN, 1, -1), (None, None, true));
    assert_eq!(reference_format(i128::MIN), "-170141183460469231731.687303715884105728");
    assert_eq!(reference_format(-1), "-0.000000000000000001");
    assert_eq!(reference_format(12_500_000_000_000_000_000), "12.5");
}

#[test]
fn the_most_negative_value_round_trips() {
    let text = "-170141183460469231731.687303715884105728";
    assert_eq!(Amount::from_raw(i128::MIN).to_string(), text);
    assert_eq!(text.parse::<Amount>(), Ok(Amount::from_raw(i128::MIN)));
    assert_eq!(
        "-170141183460469231731.687303715884105729".parse::<Amount>(),
        Err(MoneyError::Parse(ParseError::OutOfRange))
    );
    assert_eq!(
        "170141183460469231731.687303715884105728".parse::<Amount>(),
        Err(MoneyError::Parse(ParseError::OutOfRange))
    );
}
