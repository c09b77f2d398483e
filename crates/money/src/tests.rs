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
