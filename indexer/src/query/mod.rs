//! The questions the API, the CLI and the dashboard ask, answered from the derived tables.
//!
//! Amounts are `uint256` decimal strings in the database, so sums are taken here (exactly, with
//! `U256`) rather than in SQL. Royalty totals read `royalties_daily` (one row per day, license,
//! payee and token), which keeps the dashboard's heaviest question independent of the number of
//! settlements; a payer filter or the finalized view reads `settlements` instead.

//!
//! Split by what they answer: [`royalties`](mod@royalties), [`creators`](mod@creators),
//! [`licenses`](mod@licenses), [`balances`](mod@balances) and [`lines`] (credit lines),
//! [`batches`](mod@batches), [`settlements`](mod@settlements), [`unclaimed`](mod@unclaimed),
//! [`streams`] and [`pools`], and [`catalog`](mod@catalog) (licensed datasets and their cards);
//! every question is re-exported here.

pub mod balances;
pub mod batches;
pub mod catalog;
pub mod creators;
pub mod licenses;
pub mod lines;
pub mod pools;
pub mod royalties;
pub mod settlements;
pub mod streams;
pub mod unclaimed;

pub use balances::balances;
pub use batches::{batch, batches};
pub use catalog::{
    card, card_accesses, card_files, card_trainers, catalog, dataset, file_digests, listing,
    tokens, CatalogFilter,
};
pub use creators::creators;
pub use fairtrain_protocol::api::indexer::{
    BalanceView, BatchDetail, BatchView, CreatorView, GroupBy, LicenseView, Paged, ReservationView,
    RoyaltyTotal, SettlementView, Status, Unclaimed,
};
pub use licenses::licenses;
pub use royalties::{royalties, RoyaltyFilter};
pub use settlements::{batch_claims, settlements};
pub use unclaimed::unclaimed;

use serde::{Deserialize, Serialize};

use crate::{raw, Db, Error, Result};

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
