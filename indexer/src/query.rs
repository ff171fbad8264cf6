//! The questions the API, the CLI and the dashboard ask, answered from the derived tables.
//!
//! Amounts are `uint256` decimal strings in the database, so sums are taken here (exactly, with
//! `U256`) rather than in SQL. Royalty totals read `royalties_daily` (one row per day, license,
//! payee and token), which keeps the dashboard's heaviest question independent of the number of
//! settlements; a payer filter or the finalized view reads `settlements` instead.

pub use fairtrain_protocol::api::indexer::{
    BalanceView, BatchDetail, BatchView, CreatorView, GroupBy, LicenseView, Paged, ReservationView,
    RoyaltyTotal, SettlementView, Status, Unclaimed,
};
use std::collections::BTreeMap;

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};
use sqlx::{any::AnyRow, Row};

use crate::{
    auditor, raw,
    units::{parse_amount, parse_word},
    Db, Error, Result,
};

/// The largest page number a list accepts: with at most [`MAX_PER_PAGE`] items a page, every
/// offset stays far inside `i64` (the databases' `OFFSET`).
pub const MAX_PAGE: u64 = 1_000_000_000;
/// The most items a page holds.
pub const MAX_PER_PAGE: u64 = 1000;

/// Pagination of a list (1-based page): `1 ≤ page ≤` [`MAX_PAGE`], `1 ≤ per_page ≤`
/// [`MAX_PER_PAGE`]; anything else is refused ([`Page::check`]), never clamped.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page number, from 1.
    #[serde(default = "one")]
    #[param(minimum = 1, maximum = 1_000_000_000, default = 1)]
    pub page: u64,
    /// Items per page.
    #[serde(default = "hundred")]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub per_page: u64,
}

fn one() -> u64 {
    1
}
fn hundred() -> u64 {
    100
}

impl Default for Page {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: 100,
        }
    }
}

impl Page {
    /// The page if within the documented ranges, else an [`Error::Invalid`] naming them.
    pub fn check(self) -> Result<Self> {
        if !(1..=MAX_PAGE).contains(&self.page) || !(1..=MAX_PER_PAGE).contains(&self.per_page) {
            return Err(Error::invalid(
                "page",
                format!("1 ≤ page ≤ {MAX_PAGE} and 1 ≤ per_page ≤ {MAX_PER_PAGE}"),
            ));
        }
        Ok(self)
    }
    /// Items before the page (checked: a page out of range gives `i64::MAX`, an empty page).
    pub(crate) fn offset(self) -> i64 {
        self.page
            .checked_sub(1)
            .and_then(|p| p.checked_mul(self.per_page))
            .and_then(|o| i64::try_from(o).ok())
            .unwrap_or(i64::MAX)
    }
    pub(crate) fn limit(self) -> i64 {
        i64::try_from(self.per_page).unwrap_or(i64::MAX)
    }
}

/// Where the index stands.
pub async fn status(db: &Db) -> Result<Status> {
    Ok(Status {
        chain_id: db.meta_u64("chain_id").await?.unwrap_or_default(),
        indexed_block: raw::checkpoint(db).await?.map_or(0, |c| c.number),
        head_block: db.meta_u64("head_block").await?.unwrap_or_default(),
        finalized_block: db.meta_u64("finalized_block").await?.unwrap_or_default(),
        events: raw::count(db).await?,
    })
}

pub(crate) async fn paged<T>(db: &Db, items: Vec<T>, page: Page, total: i64) -> Result<Paged<T>> {
    Ok(Paged {
        items,
        page: page.page,
        per_page: page.per_page,
        total: total as u64,
        status: status(db).await?,
    })
}

pub(crate) fn lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

/// Which royalties to total.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct RoyaltyFilter {
    /// Licenses minted by this creator.
    pub creator: Option<String>,
    /// One license (decimal id).
    pub license: Option<String>,
    /// Paid to this payee (the license holder at settlement).
    pub payee: Option<String>,
    /// Paid by this payer.
    pub payer: Option<String>,
    /// From this UTC day (days since 1970-01-01), inclusive.
    pub from_day: Option<i64>,
    /// To this UTC day, inclusive.
    pub to_day: Option<i64>,
    /// Only settlements in finalized blocks.
    #[serde(default)]
    pub finalized: bool,
    /// Grouping.
    #[serde(default)]
    pub group: GroupBy,
}

#[derive(Default)]
struct Acc {
    samples: i64,
    gross: U256,
    fee: U256,
    net: U256,
    settlements: i64,
}

/// One settled row, from either source.
struct Flow {
    day: i64,
    license: String,
    creator: String,
    payee: String,
    token: String,
    samples: i64,
    gross: U256,
    fee: U256,
    net: U256,
    settlements: i64,
}

/// Royalty totals, grouped and paginated (groups sorted by key, then token).
pub async fn royalties(db: &Db, filter: &RoyaltyFilter, page: Page) -> Result<Paged<RoyaltyTotal>> {
    let page = page.check()?;
    let flows = flows(db, filter).await?;
    let mut groups: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for f in flows {
        let key = match filter.group {
            GroupBy::License => f.license,
            GroupBy::Creator => f.creator,
            GroupBy::Payee => f.payee,
            GroupBy::Day => format!("{:08}", f.day),
        };
        let a = groups.entry((key, f.token)).or_default();
        a.samples += f.samples;
        a.gross += f.gross;
        a.fee += f.fee;
        a.net += f.net;
        a.settlements += f.settlements;
    }
    let total = groups.len() as i64;
    let items = groups
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.limit() as usize)
        .map(|((key, token), a)| RoyaltyTotal {
            key: if filter.group == GroupBy::Day {
                key.trim_start_matches('0').to_owned()
            } else {
                key
            },
            token,
            samples: a.samples,
            gross: a.gross.to_string(),
            fee: a.fee.to_string(),
            net: a.net.to_string(),
            settlements: a.settlements,
        })
        .collect();
    paged(db, items, page, total).await
}

async fn flows(db: &Db, f: &RoyaltyFilter) -> Result<Vec<Flow>> {
    let mut conds = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    let use_settlements = f.payer.is_some() || f.finalized;
    let no_days = f.from_day.is_none() && f.to_day.is_none();
    let unfiltered = f.creator.is_none() && f.license.is_none() && f.payee.is_none();
    // The smallest table that answers: all-time totals per license, totals per day, or days per
    // license; settlements for a payer or the finalized view.
    let (table, day, cols) = if use_settlements {
        (
            "settlements s LEFT JOIN licenses l ON l.license_id = s.license_id",
            "(s.block_time / 86400)",
            "(s.block_time / 86400), s.license_id, COALESCE(l.creator, ''), s.payee, s.token, \
             s.samples, s.amount, s.fee, '', 1",
        )
    } else if no_days && f.group != GroupBy::Day {
        (
            "royalties_total s LEFT JOIN licenses l ON l.license_id = s.license_id",
            "0",
            "0, s.license_id, COALESCE(l.creator, ''), s.payee, s.token, s.samples, s.gross, \
             s.fee, s.net, s.settlements",
        )
    } else if unfiltered && f.group == GroupBy::Day {
        (
            "royalties_by_day s",
            "s.day",
            "s.day, '', '', '', s.token, s.samples, s.gross, s.fee, s.net, s.settlements",
        )
    } else {
        (
            "royalties_daily s LEFT JOIN licenses l ON l.license_id = s.license_id",
            "s.day",
            "s.day, s.license_id, COALESCE(l.creator, ''), s.payee, s.token, s.samples, s.gross, \
             s.fee, s.net, s.settlements",
        )
    };
    // Text binds first ($1…), then integers.
    for (col, v) in [
        ("l.creator", &f.creator),
        ("s.license_id", &f.license),
        ("s.payee", &f.payee),
    ] {
        if let Some(v) = v {
            binds.push(lower(v));
            conds.push(format!("{col} = ${}", binds.len()));
        }
    }
    if use_settlements {
        if let Some(p) = &f.payer {
            binds.push(lower(p));
            conds.push(format!("s.payer = ${}", binds.len()));
        }
    }
    let n = binds.len();
    if let Some(d) = f.from_day {
        ints.push(d);
        conds.push(format!("{day} >= ${}", n + ints.len()));
    }
    if let Some(d) = f.to_day {
        ints.push(d);
        conds.push(format!("{day} <= ${}", n + ints.len()));
    }
    if f.finalized {
        ints.push(db.meta_u64("finalized_block").await?.unwrap_or_default() as i64);
        conds.push(format!("s.block_number <= ${}", n + ints.len()));
    }
    let sql = format!(
        "SELECT {cols} FROM {table}{}",
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    );
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        i64,
        String,
        String,
        String,
        i64,
    );
    let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    for i in ints {
        q = q.bind(i);
    }
    let rows = q.fetch_all(&db.pool).await?;
    rows.into_iter()
        .map(
            |(day, license, creator, payee, token, samples, gross, fee, net, settlements)| {
                let gross = parse_amount(&gross)?;
                let fee = parse_amount(&fee)?;
                let net = if net.is_empty() {
                    gross - fee
                } else {
                    parse_amount(&net)?
                };
                Ok(Flow {
                    day,
                    license,
                    creator,
                    payee,
                    token,
                    samples,
                    gross,
                    fee,
                    net,
                    settlements,
                })
            },
        )
        .collect()
}

/// Licenses, optionally of one creator or holder, by id.
pub async fn licenses(
    db: &Db,
    creator: Option<&str>,
    holder: Option<&str>,
    page: Page,
) -> Result<Paged<LicenseView>> {
    let page = page.check()?;
    let cond = "($1 = '' OR l.creator = $1) AND ($2 = '' OR l.holder = $2)";
    let (c, h) = (
        creator.map(lower).unwrap_or_default(),
        holder.map(lower).unwrap_or_default(),
    );
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM licenses l WHERE {cond}"
    )))
    .bind(&c)
    .bind(&h)
    .fetch_one(&db.pool)
    .await?;
    type Row = (
        String,
        String,
        String,
        i64,
        i64,
        String,
        i64,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.license_id, l.creator, l.holder, l.terms_id, l.version, l.manifest_hash, \
         l.royalty_bps, l.minted_block, t.price_per_sample, t.payment_token, t.uri \
         FROM licenses l LEFT JOIN terms t ON t.terms_id = l.terms_id WHERE {cond} \
         ORDER BY l.license_num LIMIT $3 OFFSET $4"
    )))
    .bind(&c)
    .bind(&h)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|r| LicenseView {
            license_id: r.0,
            creator: r.1,
            holder: r.2,
            terms_id: r.3,
            version: r.4,
            manifest_hash: r.5,
            royalty_bps: r.6,
            minted_block: r.7,
            price_per_sample: r.8,
            payment_token: r.9,
            terms_uri: r.10,
        })
        .collect();
    paged(db, items, page, total).await
}

/// Payers' balances, optionally of one payer.
pub async fn balances(db: &Db, payer: Option<&str>, page: Page) -> Result<Paged<BalanceView>> {
    let page = page.check()?;
    let p = payer.map(lower).unwrap_or_default();
    let (total,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM balances WHERE ($1 = '' OR payer = $1)")
            .bind(&p)
            .fetch_one(&db.pool)
            .await?;
    type BalanceRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<BalanceRow> = sqlx::query_as(
        "SELECT payer, token, available, reserved, deposited, withdrawn, spent, credit \
         FROM balances \
         WHERE ($1 = '' OR payer = $1) ORDER BY payer, token LIMIT $2 OFFSET $3",
    )
    .bind(&p)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(BalanceView {
            credit_lines: crate::lines::lines_of(db, &r.0, &r.1).await?,
            payer: r.0,
            token: r.1,
            available: r.2,
            reserved: r.3,
            deposited: r.4,
            withdrawn: r.5,
            spent: r.6,
            credit: r.7,
        });
    }
    paged(db, items, page, total).await
}

fn batch_query(filter: &str) -> String {
    format!(
        "SELECT b.root, b.relayer, b.receipt_count, b.data_hash, b.data_uri, b.block_number, \
         b.block_time, b.tx_hash, b.reserved, b.settled, b.fees, b.claims, {} \
         FROM batches b {} {filter}",
        auditor::STATUS_COLS,
        auditor::STATUS_JOINS
    )
}

fn batch_view(r: &AnyRow) -> Result<BatchView> {
    let tx_hash: String = r.try_get(7)?;
    let claims: i64 = r.try_get(11)?;
    Ok(BatchView {
        root: r.try_get(0)?,
        relayer: r.try_get(1)?,
        receipt_count: r.try_get(2)?,
        data_hash: r.try_get(3)?,
        data_uri: r.try_get(4)?,
        block_number: r.try_get(5)?,
        block_time: r.try_get(6)?,
        audit: auditor::status_at(r, 12, &tx_hash, claims)?,
        tx_hash,
        reserved: r.try_get(8)?,
        settled: r.try_get(9)?,
        fees: r.try_get(10)?,
        claims,
    })
}

/// Batches, newest first.
pub async fn batches(db: &Db, page: Page) -> Result<Paged<BatchView>> {
    let page = page.check()?;
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM batches")
        .fetch_one(&db.pool)
        .await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(batch_query(
        "ORDER BY b.block_number DESC, b.root LIMIT $1 OFFSET $2",
    )))
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let items = rows.iter().map(batch_view).collect::<Result<_>>()?;
    paged(db, items, page, total).await
}

/// One batch by root.
pub async fn batch(db: &Db, root: &str) -> Result<Option<BatchDetail>> {
    let root = format!(
        "{:#x}",
        parse_word(root).map_err(|e| Error::invalid("root", e.to_string()))?
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(batch_query("WHERE b.root = $1")))
        .bind(&root)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let reservations: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT payer, token, relayer, amount, expires_at FROM reservations \
         WHERE root = $1 ORDER BY payer, token",
    )
    .bind(&root)
    .fetch_all(&db.pool)
    .await?;
    let claims = settlements_where(
        db,
        "s.root = $1",
        &root,
        Page {
            page: 1,
            per_page: 1000,
        },
    )
    .await?
    .items;
    Ok(Some(BatchDetail {
        batch: batch_view(&row)?,
        reservations: reservations
            .into_iter()
            .map(|r| ReservationView {
                payer: r.0,
                token: r.1,
                relayer: r.2,
                amount: r.3,
                expires_at: r.4,
            })
            .collect(),
        claims,
    }))
}

type SettlementRow = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
);

/// The columns of `settlements s` a [`SettlementRow`] holds, in order.
const SETTLEMENT_COLS: &str =
    "s.block_number, s.log_index, s.block_time, s.tx_hash, s.root, s.usage_key, s.payer, \
     s.payee, s.license_id, s.token, s.cumulative_samples, s.samples, s.amount, s.fee";

fn settlement_view(r: SettlementRow) -> SettlementView {
    SettlementView {
        block_number: r.0,
        log_index: r.1,
        block_time: r.2,
        tx_hash: r.3,
        root: r.4,
        usage_key: r.5,
        payer: r.6,
        payee: r.7,
        license_id: r.8,
        token: r.9,
        cumulative_samples: r.10,
        samples: r.11,
        amount: r.12,
        fee: r.13,
    }
}

async fn settlements_where(
    db: &Db,
    cond: &str,
    bind: &str,
    page: Page,
) -> Result<Paged<SettlementView>> {
    let page = page.check()?;
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM settlements s WHERE {cond}"
    )))
    .bind(bind)
    .fetch_one(&db.pool)
    .await?;
    let rows: Vec<SettlementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SETTLEMENT_COLS} FROM settlements s WHERE {cond} \
         ORDER BY s.block_number, s.log_index LIMIT $2 OFFSET $3"
    )))
    .bind(bind)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let items = rows.into_iter().map(settlement_view).collect();
    paged(db, items, page, total).await
}

/// Every claim (settlement) of the batch `root`, in chain order, unpaged: an audit judges each
/// one, and a batch has at most one claim per receipt (up to 10,000 receipts a batch from the
/// relayer, more from others), so they are read in one statement rather than a page.
pub async fn batch_claims(db: &Db, root: &str) -> Result<Vec<SettlementView>> {
    let root = format!(
        "{:#x}",
        parse_word(root).map_err(|e| Error::invalid("root", e.to_string()))?
    );
    let rows: Vec<SettlementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SETTLEMENT_COLS} FROM settlements s WHERE s.root = $1 \
         ORDER BY s.block_number, s.log_index"
    )))
    .bind(&root)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(settlement_view).collect())
}

/// Settlements in chain order, optionally of one payee, payer or license.
pub async fn settlements(
    db: &Db,
    payee: Option<&str>,
    payer: Option<&str>,
    license: Option<&str>,
    page: Page,
) -> Result<Paged<SettlementView>> {
    match (payee, payer, license) {
        (Some(p), _, _) => settlements_where(db, "s.payee = $1", &lower(p), page).await,
        (_, Some(p), _) => settlements_where(db, "s.payer = $1", &lower(p), page).await,
        (_, _, Some(l)) => settlements_where(db, "s.license_id = $1", l.trim(), page).await,
        _ => settlements_where(db, "$1 = ''", "", page).await,
    }
}

/// Unclaimed amounts of audited batches whose relayer's line has not been released since the
/// commit (a release comes only after every batch of the line expired), optionally
/// for one payee (current license holder).
pub async fn unclaimed(db: &Db, payee: Option<&str>) -> Result<Vec<Unclaimed>> {
    let p = payee.map(lower).unwrap_or_default();
    /// Root, usage key, cumulative count, license, holder, token, expected, expiry.
    type AuditedReceipt = (String, String, i64, String, String, String, String, i64);
    let rows: Vec<AuditedReceipt> = sqlx::query_as(
        "SELECT r.root, r.usage_key, r.cumulative, r.license_id, l.holder, r.token, r.expected, \
         r.expires_at FROM audit_receipts r JOIN licenses l ON l.license_id = r.license_id \
         JOIN reservations v ON v.root = r.root AND v.payer = r.payer AND v.token = r.token \
         JOIN batches b ON b.root = r.root \
         JOIN credit_lines c ON c.payer = v.payer AND c.relayer = v.relayer AND c.token = v.token \
         WHERE c.released_block < b.block_number AND ($1 = '' OR l.holder = $1) \
         ORDER BY r.root, l.license_num",
    )
    .bind(&p)
    .fetch_all(&db.pool)
    .await?;
    // Claims are counted live from the settlements, not as of the audit.
    // A claim settles the receipt of its usage key and cumulative count.
    let claims: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT s.root, s.usage_key, s.cumulative_samples, s.amount FROM settlements s \
         WHERE s.root IN (SELECT root FROM audits)",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut claimed: BTreeMap<(String, String, i64), U256> = BTreeMap::new();
    for (root, key, cumulative, amount) in claims {
        *claimed.entry((root, key, cumulative)).or_default() += parse_amount(&amount)?;
    }
    type Key = (String, String, String, String, i64);
    let mut acc: BTreeMap<Key, (U256, U256)> = BTreeMap::new();
    for (root, key, cumulative, license, holder, token, expected, expires) in rows {
        let c = claimed
            .remove(&(root.clone(), key, cumulative))
            .unwrap_or_default();
        let e = acc
            .entry((root, license, holder, token, expires))
            .or_default();
        e.0 += parse_amount(&expected)?;
        e.1 += c;
    }
    Ok(acc
        .into_iter()
        .filter(|(_, (e, c))| e > c)
        .map(
            |((root, license_id, payee, token, expires_at), (e, c))| Unclaimed {
                root,
                license_id,
                payee,
                token,
                expected: e.to_string(),
                claimed: c.to_string(),
                unclaimed: (e - c).to_string(),
                expires_at,
            },
        )
        .collect())
}

/// Per-creator totals (the dashboard's main table).
pub async fn creators(db: &Db) -> Result<Vec<CreatorView>> {
    let royalties = royalties(
        db,
        &RoyaltyFilter {
            group: GroupBy::Creator,
            ..RoyaltyFilter::default()
        },
        Page {
            page: 1,
            per_page: 1000,
        },
    )
    .await?;
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT creator, COUNT(*) FROM licenses GROUP BY creator")
            .fetch_all(&db.pool)
            .await?;
    let counts: BTreeMap<String, i64> = counts.into_iter().collect();
    let creator_of: BTreeMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT license_id, creator FROM licenses")
            .fetch_all(&db.pool)
            .await?
            .into_iter()
            .collect();
    let mut owed: BTreeMap<(String, String), U256> = BTreeMap::new();
    for u in unclaimed(db, None).await? {
        let creator = creator_of.get(&u.license_id).cloned().unwrap_or_default();
        *owed.entry((creator, u.token)).or_default() += parse_amount(&u.unclaimed)?;
    }
    let mut out: BTreeMap<(String, String), CreatorView> = BTreeMap::new();
    for r in royalties.items {
        out.insert(
            (r.key.clone(), r.token.clone()),
            CreatorView {
                licenses: counts.get(&r.key).copied().unwrap_or_default(),
                creator: r.key,
                token: r.token,
                samples: r.samples,
                gross: r.gross,
                fee: r.fee,
                claimed: r.net,
                unclaimed: "0".into(),
            },
        );
    }
    for ((creator, token), amount) in owed {
        let v = out
            .entry((creator.clone(), token.clone()))
            .or_insert_with(|| CreatorView {
                licenses: counts.get(&creator).copied().unwrap_or_default(),
                creator,
                token,
                samples: 0,
                gross: "0".into(),
                fee: "0".into(),
                claimed: "0".into(),
                unclaimed: "0".into(),
            });
        v.unclaimed = amount.to_string();
    }
    for (creator, n) in counts {
        if !out.keys().any(|(c, _)| *c == creator) {
            out.insert(
                (creator.clone(), String::new()),
                CreatorView {
                    creator,
                    token: String::new(),
                    licenses: n,
                    samples: 0,
                    gross: "0".into(),
                    fee: "0".into(),
                    claimed: "0".into(),
                    unclaimed: "0".into(),
                },
            );
        }
    }
    Ok(out.into_values().collect())
}
