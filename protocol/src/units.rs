//! Token amounts for people: base units as whole tokens with the token's decimals. The one
//! formatter of the CLI's and the indexer's output.

use alloy::primitives::U256;

/// Formats base units as whole tokens with `decimals` decimals, trailing zeros dropped:
/// `12500000` with 6 decimals is `12.5`.
pub fn format_units(units: U256, decimals: u8) -> String {
    let digits = units.to_string();
    let decimals = usize::from(decimals);
    if decimals == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (whole, frac) = padded.split_at(padded.len() - decimals);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_tokens_without_trailing_zeros() {
        assert_eq!(format_units(U256::from(182_260_000u64), 6), "182.26");
        assert_eq!(format_units(U256::from(12_000_000u64), 6), "12");
        assert_eq!(format_units(U256::from(5u64), 6), "0.000005");
        assert_eq!(format_units(U256::ZERO, 18), "0");
        assert_eq!(format_units(U256::from(7u64), 0), "7");
        assert_eq!(format_units(U256::MAX, 18).len(), 79);
    }
}
