//! Conversions between the simulator's floats and the engine's fixed point.
//!
//! Generated prices and statistics are `f64`; everything that enters the engine is converted here,
//! rounded to 12 significant decimals first so that the same float always gives the same integer.

use backstop_money::{Amount, Price, SCALE};

/// A positive price as fixed point, rounded to 10⁻¹² (zero or less becomes 10⁻¹²).
#[must_use]
pub fn price(value: f64) -> Price {
    let micro = (value.max(1e-12) * 1e12).round();
    Price::from_raw((micro as i128).saturating_mul(1_000_000))
}

/// An amount as fixed point, rounded down to 10⁻¹² (negative becomes zero).
#[must_use]
pub fn amount(value: f64) -> Amount {
    let micro = (value.max(0.0) * 1e12).floor();
    Amount::from_raw((micro as i128).saturating_mul(1_000_000))
}

/// An amount rounded down to an asset's decimals.
#[must_use]
pub fn amount_in_units(value: f64, decimals: u32) -> Amount {
    let raw = amount(value).raw();
    let unit = 10_i128.pow(18_u32.saturating_sub(decimals));
    Amount::from_raw(raw - raw.rem_euclid(unit))
}

/// A fixed-point value as a float, for statistics only.
#[must_use]
pub fn to_f64(raw: i128) -> f64 {
    raw as f64 / SCALE as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_twelve_decimals() {
        assert_eq!(price(2000.5).to_string(), "2000.5");
        assert_eq!(amount(1.0000000000004).to_string(), "1");
        assert_eq!(amount(-3.0), Amount::ZERO);
        assert_eq!(amount_in_units(1.23456789, 6).to_string(), "1.234567");
        assert_eq!(to_f64(1_500_000_000_000_000_000), 1.5);
    }
}
