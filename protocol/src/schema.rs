//! OpenAPI schemas of the wire forms that the API types hold as library types (alloy's
//! addresses and hashes, decimal strings, signatures), each named once and referenced by the
//! API types with `#[schema(value_type = ...)]` (feature `openapi`).

use utoipa::openapi::{schema::Type, ObjectBuilder, RefOr, Schema};

/// A string schema with `pattern` and `description`.
fn string(pattern: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

macro_rules! string_schema {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $description:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string($pattern, $description)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// The pattern of a 20-byte address in hex.
pub const ADDRESS_PATTERN: &str = "^0x[0-9a-fA-F]{40}$";
/// The pattern of a 32-byte hash in hex.
pub const HASH_PATTERN: &str = "^0x[0-9a-fA-F]{64}$";
/// The pattern of an unsigned integer written as a decimal string.
pub const DECIMAL_PATTERN: &str = "^[0-9]+$";

string_schema!(
    /// A 20-byte address (`Address`).
    AddressHex,
    ADDRESS_PATTERN,
    "20-byte address, 0x-prefixed hex; written EIP-55 checksummed, read in any case"
);
string_schema!(
    /// A 32-byte hash (`B256`).
    Hash32,
    HASH_PATTERN,
    "32 bytes, 0x-prefixed hex"
);
string_schema!(
    /// An unsigned integer as a decimal string (`u64`, `U256`).
    Decimal,
    DECIMAL_PATTERN,
    "unsigned integer as a decimal string (JSON numbers lose precision past 2^53)"
);
string_schema!(
    /// A `u64` as a decimal string, as requests take it (19 digits: every such value fits).
    Uint64,
    "^[0-9]{1,19}$",
    "unsigned 64-bit integer as a decimal string"
);
string_schema!(
    /// A `U256` as a decimal string, as requests take it (77 digits: every such value fits).
    Uint256,
    "^[0-9]{1,77}$",
    "unsigned 256-bit integer as a decimal string"
);
string_schema!(
    /// A 65-byte receipt signature (`ReceiptSignature`): `v` 27 or 28, and a low `s` (the
    /// pattern asks its first digit to be at most 7; the few values above n/2 it lets through
    /// are refused as `malformed`).
    Signature65,
    "^0x[0-9a-fA-F]{64}[0-7][0-9a-fA-F]{63}1[bcBC]$",
    "65 bytes r || s || v, 0x-prefixed hex; v 27 or 28 (0x1b, 0x1c), low s (s <= n/2)"
);
