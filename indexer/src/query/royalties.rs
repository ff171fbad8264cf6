//! Royalty totals, grouped by license, creator, payee or day, from the smallest table that
//! answers (`royalties_total`, `royalties_by_day`, `royalties_daily`, or `settlements`).

use std::collections::BTreeMap;

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};

use super::{lower, paged, GroupBy, Page, Paged, RoyaltyTotal};
use crate::{units::parse_amount, Db, Result};

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

/// One settled row of a source: its day, the key it is grouped by (empty when grouped by day),
/// its token and amounts.
struct Flow {
    day: i64,
    key: String,
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
            GroupBy::Day => format!("{:08}", f.day),
            _ => f.key,
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

/// Where the rows of a query come from: its `FROM`, the expressions of its day and of each
/// grouping key, the column a creator filter compares, and its amount columns (samples, gross,
/// fee, net or empty for gross − fee, settlements).
struct Source {
    from: &'static str,
    day: &'static str,
    creator_filter: &'static str,
    license: &'static str,
    creator: &'static str,
    payee: &'static str,
    amounts: &'static str,
}

impl Source {
    /// The expression of the key rows are grouped by; a day grouping reads the day column
    /// alone, so the key is empty text and no key strings are fetched.
    fn key(&self, group: GroupBy) -> &'static str {
        match group {
            GroupBy::License => self.license,
            GroupBy::Creator => self.creator,
            GroupBy::Payee => self.payee,
            GroupBy::Day => "''",
        }
    }
}

/// The smallest table that answers `f`: all-time totals per license, totals per day, days per
/// creator, or days per license; settlements for a payer or the finalized view.
fn source(f: &RoyaltyFilter) -> Source {
    let no_days = f.from_day.is_none() && f.to_day.is_none();
    let unfiltered = f.creator.is_none() && f.license.is_none() && f.payee.is_none();
    let creator_only = f.creator.is_some() && f.license.is_none() && f.payee.is_none();
    let per_license = Source {
        from: "royalties_daily s LEFT JOIN licenses l ON l.license_id = s.license_id",
        day: "s.day",
        creator_filter: "l.creator",
        license: "s.license_id",
        creator: "COALESCE(l.creator, '')",
        payee: "s.payee",
        amounts: "s.samples, s.gross, s.fee, s.net, s.settlements",
    };
    if uses_settlements(f) {
        Source {
            from: "settlements s LEFT JOIN licenses l ON l.license_id = s.license_id",
            day: "(s.block_time / 86400)",
            amounts: "s.samples, s.amount, s.fee, '', 1",
            ..per_license
        }
    } else if no_days && f.group != GroupBy::Day {
        Source {
            from: "royalties_total s LEFT JOIN licenses l ON l.license_id = s.license_id",
            day: "0",
            ..per_license
        }
    } else if creator_only && matches!(f.group, GroupBy::Day | GroupBy::Creator) {
        Source {
            from: "royalties_creator_daily s",
            day: "s.day",
            creator_filter: "s.creator",
            license: "''",
            creator: "s.creator",
            payee: "''",
            ..per_license
        }
    } else if unfiltered && f.group == GroupBy::Day {
        Source {
            from: "royalties_by_day s",
            day: "s.day",
            creator_filter: "''",
            license: "''",
            creator: "''",
            payee: "''",
            ..per_license
        }
    } else {
        per_license
    }
}

/// Whether `f` needs the settlements themselves (a payer, or the finalized view).
fn uses_settlements(f: &RoyaltyFilter) -> bool {
    f.payer.is_some() || f.finalized
}

/// The `WHERE` conditions of `f` over `source`, with their text binds (`$1…`) and then integer
/// binds; `finalized` is the finalized block.
fn conditions(
    f: &RoyaltyFilter,
    source: &Source,
    finalized: i64,
) -> (Vec<String>, Vec<String>, Vec<i64>) {
    let day = source.day;
    let (mut conds, mut binds, mut ints) = (Vec::new(), Vec::new(), Vec::new());
    for (col, v) in [
        (source.creator_filter, &f.creator),
        ("s.license_id", &f.license),
        ("s.payee", &f.payee),
    ] {
        if let Some(v) = v {
            binds.push(lower(v));
            conds.push(format!("{col} = ${}", binds.len()));
        }
    }
    if uses_settlements(f) {
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
        ints.push(finalized);
        conds.push(format!("s.block_number <= ${}", n + ints.len()));
    }
    (conds, binds, ints)
}

/// Day, key, token, samples, gross, fee, net (empty: gross − fee), settlements.
type FlowRow = (i64, String, String, i64, String, String, String, i64);

fn flow((day, key, token, samples, gross, fee, net, settlements): FlowRow) -> Result<Flow> {
    let gross = parse_amount(&gross)?;
    let fee = parse_amount(&fee)?;
    let net = if net.is_empty() {
        gross - fee
    } else {
        parse_amount(&net)?
    };
    Ok(Flow {
        day,
        key,
        token,
        samples,
        gross,
        fee,
        net,
        settlements,
    })
}

/// The settled rows `f` selects, from the smallest table that answers.
async fn flows(db: &Db, f: &RoyaltyFilter) -> Result<Vec<Flow>> {
    let source = source(f);
    let finalized = if f.finalized {
        db.meta_u64("finalized_block").await?.unwrap_or_default() as i64
    } else {
        0
    };
    let (conds, binds, ints) = conditions(f, &source, finalized);
    let sql = format!(
        "SELECT {}, {}, s.token, {} FROM {}{}",
        source.day,
        source.key(f.group),
        source.amounts,
        source.from,
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    );
    let mut q = sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    for i in ints {
        q = q.bind(i);
    }
    let rows = q.fetch_all(&db.pool).await?;
    rows.into_iter().map(flow).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_source_and_its_conditions() {
        let f = RoyaltyFilter {
            creator: Some(" 0xAB".into()),
            payer: Some("0xCD".into()),
            from_day: Some(3),
            finalized: true,
            ..RoyaltyFilter::default()
        };
        let settled = source(&f);
        assert!(settled.from.starts_with("settlements "));
        let (conds, binds, ints) = conditions(&f, &settled, 9);
        assert_eq!(
            conds,
            [
                "l.creator = $1",
                "s.payer = $2",
                "(s.block_time / 86400) >= $3",
                "s.block_number <= $4"
            ]
        );
        assert_eq!(binds, ["0xab", "0xcd"]);
        assert_eq!(ints, [3, 9]);
        assert!(source(&RoyaltyFilter::default())
            .from
            .starts_with("royalties_total "));
        let by_day = RoyaltyFilter {
            group: GroupBy::Day,
            ..RoyaltyFilter::default()
        };
        assert_eq!(source(&by_day).from, "royalties_by_day s");
        let license_days = RoyaltyFilter {
            license: Some("1".into()),
            ..by_day.clone()
        };
        let license_days = source(&license_days);
        assert!(license_days.from.starts_with("royalties_daily "));
        assert_eq!(license_days.key(GroupBy::Day), "''");
        assert_eq!(license_days.key(GroupBy::Payee), "s.payee");
        let creator_days = RoyaltyFilter {
            creator: Some("0xAB".into()),
            ..by_day
        };
        let creator_days_source = source(&creator_days);
        assert_eq!(creator_days_source.from, "royalties_creator_daily s");
        let (conds, binds, _) = conditions(&creator_days, &creator_days_source, 0);
        assert_eq!(
            (conds, binds),
            (vec!["s.creator = $1".to_owned()], vec!["0xab".to_owned()])
        );
        let creator_licenses = RoyaltyFilter {
            group: GroupBy::License,
            from_day: Some(1),
            ..creator_days
        };
        assert!(source(&creator_licenses)
            .from
            .starts_with("royalties_daily "));
    }
}
