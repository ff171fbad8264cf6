//! Row types of the derived tables (see `indexer/migrations/0001_init.sql`).

use alloy::primitives::U256;
use sqlx::any::AnyRow;

use super::table::{int, opt_text, text, Row, Val};
use crate::{
    units::{amount, parse_amount},
    Result,
};

fn a(v: &U256) -> Val {
    Val::T(amount(v))
}
fn t(s: &str) -> Val {
    Val::T(s.to_owned())
}
fn amt(row: &AnyRow, i: usize) -> Result<U256> {
    parse_amount(&text(row, i)?)
}

/// `params`: a contract parameter (fee, notice period, claim window, owner).
#[derive(Debug, Clone)]
pub(crate) struct Param(pub(crate) String);
impl Row for Param {
    type Key = String;
    const TABLE: &'static str = "params";
    const KEY_COLS: &'static [&'static str] = &["key"];
    const COLS: &'static [&'static str] = &["value"];
    fn key_values(key: &String) -> Vec<Val> {
        vec![t(key)]
    }
    fn values(&self) -> Vec<Val> {
        vec![t(&self.0)]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self(text(row, 0)?))
    }
}

/// `tokens`: whether a payment token is allowed.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) allowed: bool,
}
impl Row for Token {
    type Key = String;
    const TABLE: &'static str = "tokens";
    const KEY_COLS: &'static [&'static str] = &["token"];
    const COLS: &'static [&'static str] = &["allowed"];
    fn key_values(key: &String) -> Vec<Val> {
        vec![t(key)]
    }
    fn values(&self) -> Vec<Val> {
        vec![Val::I(self.allowed as i64)]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            allowed: int(row, 0)? != 0,
        })
    }
}

/// `terms`: registered license terms.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    pub(crate) terms_hash: String,
    pub(crate) kind: i64,
    pub(crate) payment_token: String,
    pub(crate) price_per_sample: U256,
    /// `License.Unit`.
    pub(crate) unit: i64,
    pub(crate) max_samples: i64,
    pub(crate) expires_at: i64,
    pub(crate) commercial_use: bool,
    pub(crate) attribution_required: bool,
    pub(crate) derivatives: i64,
    pub(crate) exclusive_licensee: String,
    pub(crate) uri: String,
    pub(crate) block_number: i64,
}
impl Row for Terms {
    type Key = i64;
    const TABLE: &'static str = "terms";
    const KEY_COLS: &'static [&'static str] = &["terms_id"];
    const COLS: &'static [&'static str] = &[
        "terms_hash",
        "kind",
        "payment_token",
        "price_per_sample",
        "max_samples",
        "expires_at",
        "commercial_use",
        "attribution_required",
        "derivatives",
        "exclusive_licensee",
        "uri",
        "block_number",
        "unit",
    ];
    fn key_values(key: &i64) -> Vec<Val> {
        vec![Val::I(*key)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            t(&self.terms_hash),
            Val::I(self.kind),
            t(&self.payment_token),
            a(&self.price_per_sample),
            Val::I(self.max_samples),
            Val::I(self.expires_at),
            Val::I(self.commercial_use as i64),
            Val::I(self.attribution_required as i64),
            Val::I(self.derivatives),
            t(&self.exclusive_licensee),
            t(&self.uri),
            Val::I(self.block_number),
            Val::I(self.unit),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            terms_hash: text(row, 0)?,
            kind: int(row, 1)?,
            payment_token: text(row, 2)?,
            price_per_sample: amt(row, 3)?,
            max_samples: int(row, 4)?,
            expires_at: int(row, 5)?,
            commercial_use: int(row, 6)? != 0,
            attribution_required: int(row, 7)? != 0,
            derivatives: int(row, 8)?,
            exclusive_licensee: text(row, 9)?,
            uri: text(row, 10)?,
            block_number: int(row, 11)?,
            unit: int(row, 12)?,
        })
    }
}

/// `licenses`: a license token, its creator, current holder and terms.
#[derive(Debug, Clone, Default)]
pub(crate) struct License {
    pub(crate) license_num: i64,
    pub(crate) creator: String,
    pub(crate) holder: String,
    pub(crate) terms_id: i64,
    pub(crate) version: i64,
    pub(crate) manifest_hash: String,
    pub(crate) royalty_bps: i64,
    pub(crate) minted_block: i64,
    pub(crate) minted_at: i64,
}
impl Row for License {
    type Key = String;
    const TABLE: &'static str = "licenses";
    const KEY_COLS: &'static [&'static str] = &["license_id"];
    const COLS: &'static [&'static str] = &[
        "license_num",
        "creator",
        "holder",
        "terms_id",
        "version",
        "manifest_hash",
        "royalty_bps",
        "minted_block",
        "minted_at",
    ];
    fn key_values(key: &String) -> Vec<Val> {
        vec![t(key)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            Val::I(self.license_num),
            t(&self.creator),
            t(&self.holder),
            Val::I(self.terms_id),
            Val::I(self.version),
            t(&self.manifest_hash),
            Val::I(self.royalty_bps),
            Val::I(self.minted_block),
            Val::I(self.minted_at),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            license_num: int(row, 0)?,
            creator: text(row, 1)?,
            holder: text(row, 2)?,
            terms_id: int(row, 3)?,
            version: int(row, 4)?,
            manifest_hash: text(row, 5)?,
            royalty_bps: int(row, 6)?,
            minted_block: int(row, 7)?,
            minted_at: int(row, 8)?,
        })
    }
}

/// `balances`: a payer's funds in one token.
#[derive(Debug, Clone, Default)]
pub(crate) struct Balance {
    pub(crate) available: U256,
    pub(crate) reserved: U256,
    pub(crate) deposited: U256,
    pub(crate) withdrawn: U256,
    pub(crate) spent: U256,
    /// Σ credit of the payer's lines in the token.
    pub(crate) credit: U256,
}
impl Row for Balance {
    type Key = (String, String);
    const TABLE: &'static str = "balances";
    const KEY_COLS: &'static [&'static str] = &["payer", "token"];
    const COLS: &'static [&'static str] = &[
        "available",
        "reserved",
        "deposited",
        "withdrawn",
        "spent",
        "credit",
    ];
    fn key_values(key: &(String, String)) -> Vec<Val> {
        vec![t(&key.0), t(&key.1)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            a(&self.available),
            a(&self.reserved),
            a(&self.deposited),
            a(&self.withdrawn),
            a(&self.spent),
            a(&self.credit),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            available: amt(row, 0)?,
            reserved: amt(row, 1)?,
            deposited: amt(row, 2)?,
            withdrawn: amt(row, 3)?,
            spent: amt(row, 4)?,
            credit: amt(row, 5)?,
        })
    }
}

/// `withdrawals`: a pending withdrawal request.
#[derive(Debug, Clone)]
pub(crate) struct Withdrawal {
    pub(crate) amount: U256,
    pub(crate) unlock_at: i64,
    pub(crate) lapses_at: i64,
}
impl Row for Withdrawal {
    type Key = (String, String);
    const TABLE: &'static str = "withdrawals";
    const KEY_COLS: &'static [&'static str] = &["payer", "token"];
    const COLS: &'static [&'static str] = &["amount", "unlock_at", "lapses_at"];
    fn key_values(key: &(String, String)) -> Vec<Val> {
        vec![t(&key.0), t(&key.1)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            a(&self.amount),
            Val::I(self.unlock_at),
            Val::I(self.lapses_at),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            amount: amt(row, 0)?,
            unlock_at: int(row, 1)?,
            lapses_at: int(row, 2)?,
        })
    }
}

/// `acceptances`: a payer's acceptance of a license's terms.
#[derive(Debug, Clone)]
pub(crate) struct Acceptance {
    pub(crate) token: String,
    pub(crate) price_per_sample: U256,
    pub(crate) max_samples: i64,
    pub(crate) expires_at: i64,
    pub(crate) chargeable_from: i64,
    pub(crate) accepted_block: i64,
}
impl Row for Acceptance {
    type Key = (String, String, i64);
    const TABLE: &'static str = "acceptances";
    const KEY_COLS: &'static [&'static str] = &["payer", "license_id", "terms_id"];
    const COLS: &'static [&'static str] = &[
        "token",
        "price_per_sample",
        "max_samples",
        "expires_at",
        "chargeable_from",
        "accepted_block",
    ];
    fn key_values(key: &(String, String, i64)) -> Vec<Val> {
        vec![t(&key.0), t(&key.1), Val::I(key.2)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            t(&self.token),
            a(&self.price_per_sample),
            Val::I(self.max_samples),
            Val::I(self.expires_at),
            Val::I(self.chargeable_from),
            Val::I(self.accepted_block),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            token: text(row, 0)?,
            price_per_sample: amt(row, 1)?,
            max_samples: int(row, 2)?,
            expires_at: int(row, 3)?,
            chargeable_from: int(row, 4)?,
            accepted_block: int(row, 5)?,
        })
    }
}

/// A `credit_lines` row: payer, relayer, token, credit, reserved, fees, reserved_until,
/// reduction_amount, reduction_effective_at.
pub(crate) type LineRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
);

/// `credit_lines`: a payer's credit line for one relayer in one token, with its pending
/// credit reduction.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreditLine {
    pub(crate) credit: U256,
    pub(crate) reserved: U256,
    pub(crate) fees: U256,
    pub(crate) reserved_until: i64,
    pub(crate) reduction_amount: U256,
    pub(crate) reduction_effective_at: i64,
    pub(crate) released_block: i64,
}
impl Row for CreditLine {
    type Key = (String, String, String);
    const TABLE: &'static str = "credit_lines";
    const KEY_COLS: &'static [&'static str] = &["payer", "relayer", "token"];
    const COLS: &'static [&'static str] = &[
        "credit",
        "reserved",
        "fees",
        "reserved_until",
        "reduction_amount",
        "reduction_effective_at",
        "released_block",
    ];
    fn key_values(key: &(String, String, String)) -> Vec<Val> {
        vec![t(&key.0), t(&key.1), t(&key.2)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            a(&self.credit),
            a(&self.reserved),
            a(&self.fees),
            Val::I(self.reserved_until),
            a(&self.reduction_amount),
            Val::I(self.reduction_effective_at),
            Val::I(self.released_block),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            credit: amt(row, 0)?,
            reserved: amt(row, 1)?,
            fees: amt(row, 2)?,
            reserved_until: int(row, 3)?,
            reduction_amount: amt(row, 4)?,
            reduction_effective_at: int(row, 5)?,
            released_block: int(row, 6)?,
        })
    }
}

/// `signers`: a payer's receipt-signing key.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    pub(crate) registered_block: i64,
    pub(crate) revoked_at: i64,
}
impl Row for Signer {
    type Key = (String, String);
    const TABLE: &'static str = "signers";
    const KEY_COLS: &'static [&'static str] = &["payer", "signer"];
    const COLS: &'static [&'static str] = &["registered_block", "revoked_at"];
    fn key_values(key: &(String, String)) -> Vec<Val> {
        vec![t(&key.0), t(&key.1)]
    }
    fn values(&self) -> Vec<Val> {
        vec![Val::I(self.registered_block), Val::I(self.revoked_at)]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            registered_block: int(row, 0)?,
            revoked_at: int(row, 1)?,
        })
    }
}

/// `batches`: a committed batch, what it reserved into its relayer's lines and what its claims
/// paid.
#[derive(Debug, Clone, Default)]
pub(crate) struct Batch {
    pub(crate) relayer: String,
    pub(crate) receipt_count: i64,
    pub(crate) data_hash: String,
    pub(crate) data_uri: String,
    pub(crate) block_number: i64,
    pub(crate) block_time: i64,
    pub(crate) tx_hash: String,
    pub(crate) reserved: U256,
    pub(crate) settled: U256,
    pub(crate) fees: U256,
    pub(crate) claims: i64,
}
impl Row for Batch {
    type Key = String;
    const TABLE: &'static str = "batches";
    const KEY_COLS: &'static [&'static str] = &["root"];
    const COLS: &'static [&'static str] = &[
        "relayer",
        "receipt_count",
        "data_hash",
        "data_uri",
        "block_number",
        "block_time",
        "tx_hash",
        "reserved",
        "settled",
        "fees",
        "claims",
    ];
    fn key_values(key: &String) -> Vec<Val> {
        vec![t(key)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            t(&self.relayer),
            Val::I(self.receipt_count),
            t(&self.data_hash),
            t(&self.data_uri),
            Val::I(self.block_number),
            Val::I(self.block_time),
            t(&self.tx_hash),
            a(&self.reserved),
            a(&self.settled),
            a(&self.fees),
            Val::I(self.claims),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            relayer: text(row, 0)?,
            receipt_count: int(row, 1)?,
            data_hash: text(row, 2)?,
            data_uri: text(row, 3)?,
            block_number: int(row, 4)?,
            block_time: int(row, 5)?,
            tx_hash: text(row, 6)?,
            reserved: amt(row, 7)?,
            settled: amt(row, 8)?,
            fees: amt(row, 9)?,
            claims: int(row, 10)?,
        })
    }
}

/// `reservations`: what a batch reserved for one payer and token into its relayer's line.
#[derive(Debug, Clone)]
pub(crate) struct Reservation {
    pub(crate) relayer: String,
    pub(crate) amount: U256,
    pub(crate) expires_at: i64,
    /// The line's `reserved_until` just before the commit.
    pub(crate) locked_until: i64,
    /// The line's `released_block` at the commit.
    pub(crate) line_since_block: i64,
}
impl Row for Reservation {
    type Key = (String, String, String);
    const TABLE: &'static str = "reservations";
    const KEY_COLS: &'static [&'static str] = &["root", "payer", "token"];
    const COLS: &'static [&'static str] = &[
        "relayer",
        "amount",
        "expires_at",
        "locked_until",
        "line_since_block",
    ];
    fn key_values(key: &(String, String, String)) -> Vec<Val> {
        vec![t(&key.0), t(&key.1), t(&key.2)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            t(&self.relayer),
            a(&self.amount),
            Val::I(self.expires_at),
            Val::I(self.locked_until),
            Val::I(self.line_since_block),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            relayer: text(row, 0)?,
            amount: amt(row, 1)?,
            expires_at: int(row, 2)?,
            locked_until: int(row, 3)?,
            line_since_block: int(row, 4)?,
        })
    }
}

/// `settlements`: one `UsageSettled`.
#[derive(Debug, Clone)]
pub(crate) struct Settlement {
    pub(crate) block_time: i64,
    pub(crate) tx_hash: String,
    pub(crate) root: String,
    pub(crate) usage_key: String,
    pub(crate) payer: Option<String>,
    pub(crate) payee: String,
    pub(crate) license_id: String,
    pub(crate) token: String,
    pub(crate) cumulative_samples: i64,
    pub(crate) samples: i64,
    pub(crate) amount: U256,
    pub(crate) fee: U256,
}
impl Row for Settlement {
    type Key = (i64, i64);
    const TABLE: &'static str = "settlements";
    const KEY_COLS: &'static [&'static str] = &["block_number", "log_index"];
    const COLS: &'static [&'static str] = &[
        "block_time",
        "tx_hash",
        "root",
        "usage_key",
        "payer",
        "payee",
        "license_id",
        "token",
        "cumulative_samples",
        "samples",
        "amount",
        "fee",
    ];
    fn key_values(key: &(i64, i64)) -> Vec<Val> {
        vec![Val::I(key.0), Val::I(key.1)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            Val::I(self.block_time),
            t(&self.tx_hash),
            t(&self.root),
            t(&self.usage_key),
            Val::N(self.payer.clone()),
            t(&self.payee),
            t(&self.license_id),
            t(&self.token),
            Val::I(self.cumulative_samples),
            Val::I(self.samples),
            a(&self.amount),
            a(&self.fee),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            block_time: int(row, 0)?,
            tx_hash: text(row, 1)?,
            root: text(row, 2)?,
            usage_key: text(row, 3)?,
            payer: opt_text(row, 4)?,
            payee: text(row, 5)?,
            license_id: text(row, 6)?,
            token: text(row, 7)?,
            cumulative_samples: int(row, 8)?,
            samples: int(row, 9)?,
            amount: amt(row, 10)?,
            fee: amt(row, 11)?,
        })
    }
}

/// `royalties_daily`: royalties of one day, license, payee and token.
#[derive(Debug, Clone, Default)]
pub(crate) struct Daily {
    pub(crate) samples: i64,
    pub(crate) gross: U256,
    pub(crate) fee: U256,
    pub(crate) net: U256,
    pub(crate) settlements: i64,
}
impl Row for Daily {
    type Key = (i64, String, String, String);
    const TABLE: &'static str = "royalties_daily";
    const KEY_COLS: &'static [&'static str] = &["day", "license_id", "payee", "token"];
    const COLS: &'static [&'static str] = &["samples", "gross", "fee", "net", "settlements"];
    fn key_values(key: &(i64, String, String, String)) -> Vec<Val> {
        vec![Val::I(key.0), t(&key.1), t(&key.2), t(&key.3)]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            Val::I(self.samples),
            a(&self.gross),
            a(&self.fee),
            a(&self.net),
            Val::I(self.settlements),
        ]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            samples: int(row, 0)?,
            gross: amt(row, 1)?,
            fee: amt(row, 2)?,
            net: amt(row, 3)?,
            settlements: int(row, 4)?,
        })
    }
}

/// `royalties_total`: royalties of one license, payee and token over all time.
#[derive(Debug, Clone, Default)]
pub(crate) struct LicenseTotal(pub(crate) Daily);
impl Row for LicenseTotal {
    type Key = (String, String, String);
    const TABLE: &'static str = "royalties_total";
    const KEY_COLS: &'static [&'static str] = &["license_id", "payee", "token"];
    const COLS: &'static [&'static str] = Daily::COLS;
    fn key_values(key: &(String, String, String)) -> Vec<Val> {
        vec![t(&key.0), t(&key.1), t(&key.2)]
    }
    fn values(&self) -> Vec<Val> {
        self.0.values()
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Daily::read(row).map(Self)
    }
}

/// `royalties_by_day`: royalties of one day and token, all licenses.
#[derive(Debug, Clone, Default)]
pub(crate) struct DayTotal(pub(crate) Daily);
impl Row for DayTotal {
    type Key = (i64, String);
    const TABLE: &'static str = "royalties_by_day";
    const KEY_COLS: &'static [&'static str] = &["day", "token"];
    const COLS: &'static [&'static str] = Daily::COLS;
    fn key_values(key: &(i64, String)) -> Vec<Val> {
        vec![Val::I(key.0), t(&key.1)]
    }
    fn values(&self) -> Vec<Val> {
        self.0.values()
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Daily::read(row).map(Self)
    }
}

/// `royalties_creator_daily`: royalties of one creator's licenses on one day, in one token.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreatorDay(pub(crate) Daily);
impl Row for CreatorDay {
    type Key = (String, i64, String);
    const TABLE: &'static str = "royalties_creator_daily";
    const KEY_COLS: &'static [&'static str] = &["creator", "day", "token"];
    const COLS: &'static [&'static str] = Daily::COLS;
    fn key_values(key: &(String, i64, String)) -> Vec<Val> {
        vec![t(&key.0), Val::I(key.1), t(&key.2)]
    }
    fn values(&self) -> Vec<Val> {
        self.0.values()
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Daily::read(row).map(Self)
    }
}

/// `fees`: the platform's fees per token.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fee {
    pub(crate) accrued: U256,
    pub(crate) withdrawn: U256,
}
impl Row for Fee {
    type Key = String;
    const TABLE: &'static str = "fees";
    const KEY_COLS: &'static [&'static str] = &["token"];
    const COLS: &'static [&'static str] = &["accrued", "withdrawn"];
    fn key_values(key: &String) -> Vec<Val> {
        vec![t(key)]
    }
    fn values(&self) -> Vec<Val> {
        vec![a(&self.accrued), a(&self.withdrawn)]
    }
    fn read(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            accrued: amt(row, 0)?,
            withdrawn: amt(row, 1)?,
        })
    }
}

impl Daily {
    /// Adds one settlement.
    pub(crate) fn add(&mut self, samples: i64, gross: U256, fee: U256, net: U256) {
        self.samples += samples;
        self.gross += gross;
        self.fee += fee;
        self.net += net;
        self.settlements += 1;
    }
}
