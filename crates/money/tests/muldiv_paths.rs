//! The narrow `mul_div` paths (64-bit, 128-by-64 steps, 256-by-128 long division) against
//! `mul_div_reference`, the general 256-bit `ethnum` division the crate used before them.
//!
//! Operands are drawn by bit width so that every path and every boundary between paths (2^63,
//! 2^64, 2^127) is hit often, both signs, both rounding directions; an exhaustive grid of edge
//! values (zero, ±1, the 64-bit boundaries, `i128::MIN`/`MAX`, the scale) covers the corners.

use backstop_money::{MoneyError, Rounding, SCALE, mul_div, mul_div_reference};
use proptest::prelude::*;

const CASES: u32 = 2000;

/// A value with a random magnitude of `bits` bits (0..=127) and a random sign.
fn of_width() -> impl Strategy<Value = i128> {
    (0_u32..=127, any::<u128>(), any::<bool>()).prop_map(|(bits, raw, negative)| {
        let magnitude = if bits == 0 { 0 } else { raw >> (128 - bits) };
        let value = i128::try_from(magnitude).unwrap_or(i128::MAX);
        if negative { -value } else { value }
    })
}

/// Values around the boundaries the paths switch at, and the extremes.
fn edge() -> Vec<i128> {
    let mut values = vec![0, 1, 2, 3, 7, SCALE, SCALE + 1, 10_000, i128::MAX, i128::MAX - 1];
    for bits in [32_u32, 63, 64, 65, 96, 126, 127] {
        let power = 2_i128.checked_pow(bits).unwrap_or(i128::MAX);
        values.extend([power.saturating_sub(1), power, power.saturating_add(1)]);
    }
    let negatives: Vec<i128> = values.iter().map(|value| -value).collect();
    values.extend(negatives);
    values.push(i128::MIN);
    values.push(i128::MIN + 1);
    values
}

fn any_rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![Just(Rounding::Floor), Just(Rounding::Ceil)]
}

#[test]
fn every_edge_triple_and_rounding_matches_the_reference() {
    let values = edge();
    let mut checked = 0_u32;
    for &a in &values {
        for &b in &values {
            for &d in &values {
                for rounding in [Rounding::Floor, Rounding::Ceil] {
                    assert_eq!(
                        mul_div(a, b, d, rounding),
                        mul_div_reference(a, b, d, rounding),
                        "mul_div({a}, {b}, {d}, {rounding:?})"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 2 * 64 * 64 * 64); // 31 edge values, their negatives, MIN and MIN + 1.
}

#[test]
fn hand_computed_cases_on_each_path() {
    // 64-bit path: 7·3/2 = 10.5.
    assert_eq!(mul_div(7, 3, 2, Rounding::Floor), Ok(10));
    assert_eq!(mul_div(-7, 3, 2, Rounding::Floor), Ok(-11));
    assert_eq!(mul_div(-7, 3, 2, Rounding::Ceil), Ok(-10));
    // 192-by-64 path: (2^100)·(2^40 + 1)/2^40 = 2^100 + 2^60, exact.
    let p100 = 1_i128 << 100;
    assert_eq!(mul_div(p100, (1 << 40) + 1, 1 << 40, Rounding::Ceil), Ok(p100 + (1 << 60)));
    // 256-by-128 path: MAX·MAX/MAX = MAX exactly; MAX·(MAX−1)/MAX = MAX − 1 exactly.
    assert_eq!(mul_div(i128::MAX, i128::MAX, i128::MAX, Rounding::Ceil), Ok(i128::MAX));
    assert_eq!(mul_div(i128::MAX, i128::MAX - 1, i128::MAX, Rounding::Floor), Ok(i128::MAX - 1));
    // (2^126)·3/(2^65) = 3·2^61 exactly; one more in the numerator rounds.
    let p126 = 1_i128 << 126;
    assert_eq!(mul_div(p126, 3, 1 << 65, Rounding::Floor), Ok(3 << 61));
    // (2^126 + 1)·3/2^65: remainder 3, so Ceil adds one and Floor of the negative subtracts one.
    assert_eq!(mul_div(p126 + 1, 3, 1 << 65, Rounding::Ceil), Ok((3 << 61) + 1));
    assert_eq!(mul_div(-(p126 + 1), 3, 1 << 65, Rounding::Floor), Ok(-(3 << 61) - 1));
    // Divisor 1 and −1: the product itself, or overflow when it leaves i128.
    assert_eq!(mul_div(i128::MIN, 1, -1, Rounding::Floor), Err(MoneyError::Overflow));
    assert_eq!(mul_div(i128::MIN, 1, 1, Rounding::Floor), Ok(i128::MIN));
    assert_eq!(mul_div(i128::MAX, 2, 1, Rounding::Floor), Err(MoneyError::Overflow));
    assert_eq!(mul_div(5, 5, 0, Rounding::Floor), Err(MoneyError::DivisionByZero));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_reference_for_operands_of_every_width(
        a in of_width(), b in of_width(), d in of_width(), rounding in any_rounding(),
    ) {
        prop_assert_eq!(mul_div(a, b, d, rounding), mul_div_reference(a, b, d, rounding));
    }

    #[test]
    fn matches_the_reference_for_divisors_below_2_64(
        a in of_width(), b in of_width(), d in 1_i128..=i128::from(u64::MAX), rounding in any_rounding(),
    ) {
        prop_assert_eq!(mul_div(a, b, d, rounding), mul_div_reference(a, b, d, rounding));
        prop_assert_eq!(mul_div(a, b, -d, rounding), mul_div_reference(a, b, -d, rounding));
    }

    #[test]
    fn matches_the_reference_when_the_quotient_is_near_the_divisor_scale(
        q in of_width(), d in of_width(), r in any::<u128>(), rounding in any_rounding(),
    ) {
        // a·b = q·d + small: the exact and just-inexact cases the rounding hinges on.
        let small = i128::try_from(r % 4).unwrap_or(0);
        if let Some(a) = q.checked_mul(d).and_then(|product| product.checked_add(small)) {
            prop_assert_eq!(mul_div(a, 1, d, rounding), mul_div_reference(a, 1, d, rounding));
            prop_assert_eq!(mul_div(1, a, d, rounding), mul_div_reference(1, a, d, rounding));
        }
        // Wide numerators that divide exactly: (q·SCALE)·d / d.
        if let Some(a) = q.checked_mul(SCALE) {
            prop_assert_eq!(mul_div(a, d, d, rounding), mul_div_reference(a, d, d, rounding));
        }
    }

    #[test]
    fn matches_the_reference_on_any_i128(
        a in any::<i128>(), b in any::<i128>(), d in any::<i128>(), rounding in any_rounding(),
    ) {
        prop_assert_eq!(mul_div(a, b, d, rounding), mul_div_reference(a, b, d, rounding));
    }
}
