//! Path and query parameters of the API, as strict as the document says: an address is `0x` and
//! 40 hex digits, a root `0x` and 64, an id a decimal `uint256` of at most 77 digits; anything
//! else is refused (400 `malformed`) while parsing, before a handler runs.

use std::str::FromStr;

use alloy::primitives::{Address, B256};
use fairtrain_protocol::wire::decimal;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::query::GroupBy;

/// An address (any case), kept in the lowercase form the tables store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AddressParam(pub String);

impl TryFrom<String> for AddressParam {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s.len() != 42 || !s.starts_with("0x") {
            return Err(format!("{s:?}: expected 0x and 40 hex digits"));
        }
        let a = Address::from_str(&s).map_err(|e| format!("{s:?}: {e}"))?;
        Ok(Self(format!("{a:#x}")))
    }
}

/// A 32-byte word (a batch root), kept in lowercase `0x` form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct WordParam(pub String);

impl TryFrom<String> for WordParam {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s.len() != 66 || !s.starts_with("0x") {
            return Err(format!("{s:?}: expected 0x and 64 hex digits"));
        }
        let w = B256::from_str(&s).map_err(|e| format!("{s:?}: {e}"))?;
        Ok(Self(format!("{w:#x}")))
    }
}

/// A decimal `uint256` of up to 77 digits (a license or stream id; every 77-digit number fits
/// 256 bits, so the documented pattern admits no value the parser refuses), kept without
/// leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UintParam(pub String);

impl TryFrom<String> for UintParam {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s.len() > 77 || !decimal::is_digits(&s) {
            return Err(format!("{s:?}: expected 1 to 77 decimal digits"));
        }
        let n =
            decimal::parse_u256(&s).ok_or_else(|| format!("{s:?}: does not fit in 256 bits"))?;
        Ok(Self(n.to_string()))
    }
}

/// `root` of `/api/batches/{root}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RootPath {
    /// Merkle root of the batch.
    #[param(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub root: WordParam,
}

/// `id` of `/api/catalog/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LicensePath {
    /// License id.
    #[param(value_type = String, pattern = "^[0-9]{1,77}$")]
    pub id: UintParam,
}

/// `id` of `/api/streams/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StreamPath {
    /// Stream id.
    #[param(value_type = String, pattern = "^[0-9]{1,77}$")]
    pub id: UintParam,
}

/// `address` of `/api/pools/{address}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PoolPath {
    /// The pool.
    #[param(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub address: AddressParam,
}

/// Filters of `/api/royalties` (paged by [`crate::query::Page`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoyaltyParams {
    /// Licenses minted by this creator.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub creator: Option<AddressParam>,
    /// One license (decimal id).
    #[param(value_type = Option<String>, pattern = "^[0-9]{1,77}$")]
    pub license: Option<UintParam>,
    /// Paid to this payee (the license holder at settlement).
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub payee: Option<AddressParam>,
    /// Paid by this payer.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub payer: Option<AddressParam>,
    /// From this UTC day (days since 1970-01-01), inclusive.
    pub from_day: Option<i64>,
    /// To this UTC day, inclusive.
    pub to_day: Option<i64>,
    /// Only settlements in finalized blocks.
    #[serde(default)]
    #[param(default = false)]
    pub finalized: bool,
    /// Grouping (default `license`).
    #[serde(default)]
    #[param(inline)]
    pub group: GroupBy,
}

/// Filters of `/api/licenses`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LicenseParams {
    /// Minted by this creator.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub creator: Option<AddressParam>,
    /// Held by this address.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub holder: Option<AddressParam>,
}

/// Filter of `/api/balances`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayerParams {
    /// One payer.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub payer: Option<AddressParam>,
}

/// Filters of `/api/credit-lines`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LineParams {
    /// Payer that funded the line.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub payer: Option<AddressParam>,
    /// Relayer whose batches reserve from it.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub relayer: Option<AddressParam>,
    /// Token.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub token: Option<AddressParam>,
}

/// Filters of `/api/settlements` (the first given of payee, payer, license applies).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SettlementParams {
    /// Paid to this payee.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub payee: Option<AddressParam>,
    /// Paid by this payer.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub payer: Option<AddressParam>,
    /// Of this license (decimal id).
    #[param(value_type = Option<String>, pattern = "^[0-9]{1,77}$")]
    pub license: Option<UintParam>,
}

/// Filter of `/api/unclaimed`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayeeParams {
    /// Owed to this payee (the license's current holder).
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub payee: Option<AddressParam>,
}

/// Filters of `/api/streams`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Paying this license (decimal id).
    #[param(value_type = Option<String>, pattern = "^[0-9]{1,77}$")]
    pub license: Option<UintParam>,
    /// Paid by this payer.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub payer: Option<AddressParam>,
}

/// Filter of `/api/stream-payees`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HolderParams {
    /// One license holder.
    #[param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub holder: Option<AddressParam>,
}

/// Format of `/api/export/flows`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlowFormat {
    /// A JSON array of flows.
    #[default]
    Json,
    /// CSV with a header line.
    Csv,
}

/// Parameters of `/api/export/flows`: blocks `from_block..=to_block`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowParams {
    /// First block (default 0).
    #[serde(default)]
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_u64, default = 0)]
    pub from_block: u64,
    /// Last block (default: the newest).
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    pub to_block: Option<u64>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    #[param(inline)]
    pub format: FlowFormat,
}

impl FlowParams {
    /// The largest block number the tables hold (`i64`).
    pub const MAX_BLOCK: u64 = i64::MAX as u64;
}
