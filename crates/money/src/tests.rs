//! Unit tests with hand-computed numbers; property tests live in tests/properties.rs.

use crate::*;

fn amount(text: &str) -> Amount {
    text.parse().expect("valid amount in test")
}

#[test]
fn mul_div_rounds_in_the_named_direction() {
    assert_eq!(mul_div(7, 1, 2, Rounding::Floor), Ok(3));
    assert_eq!(mul_div(7, 1, 2, Rounding::Ceil), Ok(4));
    assert_eq!(mul_div(-7, 1, 2, Rounding::Floor), Ok(-4));
    assert_eq!(mul_div(-7, 1, 2, Rounding::Ceil), Ok(-3));
    assert_eq!(mul_div(6, 1, 2, Rounding::Ceil), Ok(3));
}

#[test]
fn mul_div_uses_a_wide_intermediate() {
    // 1e30 × 1e30 overflows i128 but the quotient by 1e30 fits.
    let big = 10_i128.pow(30);
    assert_eq!(mul_div(big, big, big, Rounding::Floor), Ok(big));
    assert_eq!(mul_div(i128::MAX, i128::MAX, i128::MAX, Rounding::Floor), Ok(i128::MAX));
    assert_eq!(mul_div(big, big, 1, Rounding::Floor), Err(MoneyError::Overflow));
    assert_eq!(mul_div(1, 1, 0, Rounding::Floor), Err(MoneyError::DivisionByZero));
}

#[test]
fn decimal_strings_parse_and_format_exactly() {
    assert_eq!(amount("1.5").raw(), 1_500_000_000_000_000_000);
    assert_eq!(amount("-0.000000000000000001").raw(), -1);
    assert_eq!(amount("1_000").to_string(), "1000");
    assert_eq!(amount("12.3400").to_string(), "12.34");
    assert_eq!(amount("-7").to_string(), "-7");
    assert!(matches!(
        "0.0000000000000000001".parse::<Amount>(),
        Err(MoneyError::Parse(ParseError::TooManyDecimals { found: 19, allowed: 18 }))
    ));
    assert!("1.2.3".parse::<Amount>().is_err());
    assert!("".parse::<Amount>().is_err());
    assert!("abc".parse::<Amount>().is_err());
    assert!("999999999999999999999".parse::<Amount>().is_err());
}

#[test]
fn value_at_price_rounds_as_asked() {
    let quantity = amount("3");
    let price: Price = "0.333333333333333333".parse().expect("price");
    assert_eq!(
        quantity.value_at(price, Rounding::Floor).map(|v| v.to_string()),
        Ok("0.999999999999999999".into())
    );
    let value = amount("1");
    let third: Price = "3".parse().expect("price");
    assert_eq!(
        value.quantity_at(third, Rounding::Floor).map(|v| v.raw()),
        Ok(333_333_333_333_333_333)
    );
    assert_eq!(
        value.quantity_at(third, Rounding::Ceil).map(|v| v.raw()),
        Ok(333_333_333_333_333_334)
    );
}

#[test]
fn serde_uses_strings() {
    let json = serde_json::to_string(&amount("2.25")).expect("serialize");
    assert_eq!(json, "\"2.25\"");
    let back: Amount = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, amount("2.25"));
    assert!(serde_json::from_str::<Amount>("2.25").is_err(), "floats are rejected");
    assert_eq!(serde_json::from_str::<Amount>("3").expect("integer"), amount("3"));
}

fn ratio(text: &str) -> Ratio {
    text.parse().expect("valid ratio in test")
}

#[test]
fn basis_points_are_ten_thousandths() {
    assert_eq!(Ratio::from_bps(25), Ok(ratio("0.0025")));
    assert_eq!(Ratio::from_bps(25).map(Ratio::raw), Ok(2_500_000_000_000_000));
    assert_eq!(Ratio::from_bps(10_000), Ok(Ratio::ONE));
    assert_eq!(Ratio::from_bps(-1), Ok(ratio("-0.0001")));
    assert_eq!(Ratio::from_bps(i128::MAX), Err(MoneyError::Overflow));
}

#[test]
fn mul_ratio_and_div_ratio_round_as_asked() {
    assert_eq!(amount("100").mul_ratio(ratio("0.85"), Rounding::Floor), Ok(amount("85")));
    // 1 raw unit × 0.5 is half a raw unit: floor and ceil straddle it, also below zero.
    let tiny = Amount::from_raw(1);
    assert_eq!(tiny.mul_ratio(ratio("0.5"), Rounding::Floor), Ok(Amount::ZERO));
    assert_eq!(tiny.mul_ratio(ratio("0.5"), Rounding::Ceil), Ok(tiny));
    let minus_tiny = Amount::from_raw(-1);
    assert_eq!(minus_tiny.mul_ratio(ratio("0.5"), Rounding::Floor), Ok(minus_tiny));
    assert_eq!(minus_tiny.mul_ratio(ratio("0.5"), Rounding::Ceil), Ok(Amount::ZERO));
    assert_eq!(amount("10").div_ratio(ratio("0.25"), Rounding::Floor), Ok(amount("40")));
    assert_eq!(
        amount("1").div_ratio(ratio("0.3"), Rounding::Floor),
        Ok(amount("3.333333333333333333"))
    );
    assert_eq!(
        amount("1").div_ratio(ratio("0.3"), Rounding::Ceil),
        Ok(amount("3.333333333333333334"))
    );
    assert_eq!(
        amount("1").div_ratio(Ratio::ZERO, Rounding::Floor),
        Err(MoneyError::DivisionByZero)
    );
    assert_eq!(Amount::MAX.mul_ratio(ratio("2"), Rounding::Floor), Err(MoneyError::Overflow));
}

#[test]
fn ratio_from_fraction_rounds_as_asked() {
    let (one, three) = (amount("1"), amount("3"));
    assert_eq!(
        Ratio::from_fraction(one, three, Rounding::Floor),
        Ok(ratio("0.333333333333333333"))
    );
    assert_eq!(Ratio::from_fraction(one, three, Rounding::Ceil), Ok(ratio("0.333333333333333334")));
    assert_eq!(
        Ratio::from_fraction(amount("-2"), three, Rounding::Floor),
        Ok(ratio("-0.666666666666666667"))
    );
    assert_eq!(Ratio::from_fraction(three, amount("4"), Rounding::Ceil), Ok(ratio("0.75")));
    assert_eq!(
        Ratio::from_fraction(one, Amount::ZERO, Rounding::Floor),
        Err(MoneyError::DivisionByZero)
    );
}

#[test]
fn saturating_sub_to_zero_keeps_only_the_excess() {
    assert_eq!(amount("5").saturating_sub_to_zero(amount("3")), amount("2"));
    assert_eq!(amount("3").saturating_sub_to_zero(amount("5")), Amount::ZERO);
    assert_eq!(amount("3").saturating_sub_to_zero(amount("3")), Amount::ZERO);
    assert_eq!(amount("-1").saturating_sub_to_zero(amount("-4")), amount("3"));
    assert_eq!(Amount::from_raw(i128::MIN).saturating_sub_to_zero(Amount::MAX), Amount::ZERO);
    assert_eq!(Amount::MAX.saturating_sub_to_zero(amount("-1")), Amount::MAX);
}

#[test]
fn debug_names_the_type_and_shows_the_decimal() {
    assert_eq!(format!("{:?}", amount("1.5")), "Amount(1.5)");
    assert_eq!(format!("{:?}", ratio("-0.25")), "Ratio(-0.25)");
    assert_eq!(format!("{:?}", Price::ZERO), "Price(0)");
    assert_eq!(format!("{:?}", Shares::from_raw(-1)), "Shares(-0.000000000000000001)");
}

#[test]
fn the_extreme_values_print_and_parse_back() {
    let min = "-170141183460469231731.687303715884105728";
    let max = "170141183460469231731.687303715884105727";
    assert_eq!(Amount::from_raw(i128::MIN).to_string(), min);
    assert_eq!(Amount::MAX.to_string(), max);
    // Regression: the magnitude of i128::MIN does not fit in i128, and parsing used to build the
    // magnitude first and negate it last, so the most negative value did not parse back.
    assert_eq!(amount(min), Amount::from_raw(i128::MIN));
    assert_eq!(amount(max), Amount::MAX);
    let json = format!("\"{min}\"");
    assert_eq!(serde_json::from_str::<Amount>(&json).ok(), Some(Amount::from_raw(i128::MIN)));
    assert_eq!(Amount::from_raw(i128::MIN).checked_abs(), Err(MoneyError::Overflow));
    assert_eq!(Amount::from_raw(i128::MIN).checked_neg(), Err(MoneyError::Overflow));
    assert_eq!(Amount::from_units(i128::MAX), Err(MoneyError::Overflow));
}

#[test]
fn parsing_edge_cases() {
    let parse_error = |text: &str| match text.parse::<Amount>() {
        Err(MoneyError::Parse(error)) => Some(error),
        _ => None,
    };
    // Regression: a string with no digit at all ("_", "-_", "._") used to parse as zero.
    for text in ["", " ", "-", "+", ".", "-.", "_", "-_", "._", "_._"] {
        assert_eq!(parse_error(text), Some(ParseError::Empty), "{text:?}");
    }
    assert_eq!(amount("+.5"), amount("0.5"));
    assert_eq!(amount("1."), amount("1"));
    assert_eq!(amount(" 2.5\n"), amount("2.5"));
    assert_eq!(amount("-0"), Amount::ZERO);
    assert_eq!(amount("0.000_001"), Amount::from_raw(1_000_000_000_000));
    assert_eq!(parse_error("--1"), Some(ParseError::InvalidCharacter { character: '-' }));
    assert_eq!(parse_error("1e5"), Some(ParseError::InvalidCharacter { character: 'e' }));
    assert_eq!(parse_error("1,5"), Some(ParseError::InvalidCharacter { character: ',' }));
    assert_eq!(parse_error("１"), Some(ParseError::InvalidCharacter { character: '１' }));
    assert_eq!(
        parse_error("1.0000000000000000000"),
        Some(ParseError::TooManyDecimals { found: 19, allowed: 18 })
    );
}
