//! Token amounts: human units with the token's decimals (`12.5`) or raw base units.

use alloy::primitives::U256;

use crate::error::{CliError, Result};

/// Parses `text` as an amount of a token with `decimals` decimals: a decimal number in whole
/// tokens (`12.5`), or, if `raw`, an integer of base units.
///
/// # Errors
///
/// [`CliError::Amount`] for anything else: a sign, an exponent, more fractional digits than the
/// token has, or a value above 2^256 - 1.
pub fn parse(text: &str, decimals: u8, raw: bool) -> Result<U256> {
    let bad = |reason: &str| CliError::Amount {
        input: text.to_owned(),
        reason: reason.to_owned(),
    };
    let text = text.trim().replace('_', "");
    if text.is_empty() {
        return Err(bad("empty amount"));
    }
    if raw {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("raw amounts are integers of base units (digits only)"));
        }
        return U256::from_str_radix(&text, 10).map_err(|_| bad("too large"));
    }
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad("no digits"));
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected a decimal number such as 12.5"));
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > usize::from(decimals) {
        return Err(bad(&format!(
            "the token has {decimals} decimals; use at most {decimals} digits after the point, or --raw for base units"
        )));
    }
    let digits = format!("{whole}{frac:0<width$}", width = usize::from(decimals));
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 10).map_err(|_| bad("too large"))
}

/// Formats base units as whole tokens with `decimals` decimals, trailing zeros dropped:
/// `12500000` with 6 decimals is `12.5` (the protocol crate's one formatter).
pub use fairtrain_protocol::units::format_units as format;

/// `12.5 fUSD (12500000 base units)`.
pub fn describe(units: U256, decimals: u8, symbol: &str) -> String {
    format!("{} {symbol} ({units} base units)", format(units, decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_units() {
        assert_eq!(parse("12.5", 6, false).unwrap(), U256::from(12_500_000));
        assert_eq!(parse("12", 6, false).unwrap(), U256::from(12_000_000));
        assert_eq!(parse(".5", 6, false).unwrap(), U256::from(500_000));
        assert_eq!(parse("0.000001", 6, false).unwrap(), U256::from(1));
        assert_eq!(parse("1.500000", 6, false).unwrap(), U256::from(1_500_000));
        assert_eq!(parse("1_000", 0, false).unwrap(), U256::from(1000));
        assert_eq!(parse("0", 18, false).unwrap(), U256::ZERO);
        assert_eq!(parse("1", 18, false).unwrap(), U256::from(10u64.pow(18)));
    }

    #[test]
    fn parses_raw_units() {
        assert_eq!(parse("12500000", 6, true).unwrap(), U256::from(12_500_000));
        assert!(parse("12.5", 6, true).is_err());
    }

    #[test]
    fn rejects_bad_amounts() {
        for bad in ["", "-1", "1e6", "1.2.3", "abc", ".", "0.0000001", "1,5"] {
            assert!(
                matches!(parse(bad, 6, false), Err(CliError::Amount { .. })),
                "{bad:?}"
            );
        }
        let huge = "1".repeat(80);
        assert!(parse(&huge, 0, true).is_err());
    }

    #[test]
    fn formats_units() {
        assert_eq!(format(U256::from(12_500_000), 6), "12.5");
        assert_eq!(format(U256::from(1), 6), "0.000001");
        assert_eq!(format(U256::ZERO, 6), "0");
        assert_eq!(format(U256::from(3_000_000), 6), "3");
        assert_eq!(format(U256::from(42), 0), "42");
        assert_eq!(
            describe(U256::from(12_500_000), 6, "fUSD"),
            "12.5 fUSD (12500000 base units)"
        );
        for n in [0u64, 1, 10, 999_999, 1_000_000, 123_456_789] {
            let u = U256::from(n);
            assert_eq!(parse(&format(u, 6), 6, false).unwrap(), u);
        }
    }
}
