//! Deterministic number formatting for tables (Markdown, HTML, terminal) and chart axes.

/// An amount or a share for a table: thousands separators above 1,000, two decimals between 1
/// and 1,000, four significant figures below 1, scientific notation at the extremes; `n/a` for
/// a value that is not finite.
#[must_use]
pub(crate) fn amount(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let magnitude = x.abs();
    if !(1e-4..1e15).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    if magnitude >= 1_000.0 {
        return grouped(x);
    }
    if magnitude >= 1.0 {
        return format!("{x:.2}");
    }
    // Four significant figures below 1.
    let decimals = (3.0 - magnitude.log10().floor()).clamp(4.0, 8.0);
    format!("{x:.prec$}", prec = decimals as usize)
}

/// A probability as a percentage with two decimals (`1.25%`).
#[must_use]
pub(crate) fn probability(p: f64) -> String {
    if !p.is_finite() {
        return "n/a".to_owned();
    }
    format!("{:.2}%", p * 100.0)
}

/// A short axis label: `1.5M`, `250k`, `12.5`, `0.004`.
#[must_use]
pub(crate) fn axis(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let magnitude = x.abs();
    let (value, suffix) = if magnitude >= 1e12 {
        (x / 1e12, "T")
    } else if magnitude >= 1e9 {
        (x / 1e9, "G")
    } else if magnitude >= 1e6 {
        (x / 1e6, "M")
    } else if magnitude >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let text = if value == 0.0 {
        "0".to_owned()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    format!("{text}{suffix}")
}

/// `x` rounded to a whole number with `,` between groups of three digits.
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if x < 0.0 {
        out.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{amount, axis, probability};

    #[test]
    fn amounts() {
        assert_eq!(amount(0.0), "0");
        assert_eq!(amount(1_234_567.89), "1,234,568");
        assert_eq!(amount(-1_000.0), "-1,000");
        assert_eq!(amount(999.5), "999.50");
        assert_eq!(amount(0.012_346), "0.01235");
        assert_eq!(amount(0.5), "0.5000");
        assert_eq!(amount(1e-6), "1.000e-6");
        assert_eq!(amount(f64::NAN), "n/a");
        assert_eq!(probability(0.0125), "1.25%");
    }

    #[test]
    fn axes() {
        assert_eq!(axis(1_500_000.0), "1.5M");
        assert_eq!(axis(250_000.0), "250k");
        assert_eq!(axis(2_000.0), "2k");
        assert_eq!(axis(2_500.0), "2.5k");
        assert_eq!(axis(999.0), "999");
        assert_eq!(axis(12.5), "12.5");
        assert_eq!(axis(0.0), "0");
        assert_eq!(axis(0.25), "0.25");
    }
}
