//! Text encodings of chain values in the database: lowercase `0x` hex for addresses and
//! hashes, decimal strings for `uint256` amounts.

use alloy::primitives::{Address, B256, U256};

use crate::{Error, Result};

/// Lowercase `0x`-prefixed hex of an address.
pub fn addr(a: &Address) -> String {
    format!("{a:#x}")
}

/// Lowercase `0x`-prefixed hex of a 32-byte word.
pub fn word(h: &B256) -> String {
    format!("{h:#x}")
}

/// Decimal string of an amount.
pub fn amount(v: &U256) -> String {
    v.to_string()
}

/// Parses a stored decimal amount.
pub fn parse_amount(s: &str) -> Result<U256> {
    s.parse::<U256>()
        .map_err(|e| Error::Stored(format!("amount {s:?}: {e}")))
}

/// Parses a stored or given address.
pub fn parse_addr(s: &str) -> Result<Address> {
    s.parse::<Address>()
        .map_err(|e| Error::Stored(format!("address {s:?}: {e}")))
}

/// Parses a stored or given 32-byte word.
pub fn parse_word(s: &str) -> Result<B256> {
    s.parse::<B256>()
        .map_err(|e| Error::Stored(format!("word {s:?}: {e}")))
}

/// Converts a `u64` to the `BIGINT` the databases store (block numbers and times fit easily).
pub fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The UTC day (days since the Unix epoch) of a timestamp.
pub fn day_of(timestamp: u64) -> i64 {
    big(timestamp / 86_400)
}
