//! Per-creator totals: royalties, licenses and what is still unclaimed.

use std::collections::BTreeMap;

use alloy::primitives::U256;

use super::{
    royalties::{royalties, RoyaltyFilter},
    unclaimed::unclaimed,
    CreatorView, GroupBy, Page,
};
use crate::{units::parse_amount, Db, Result};

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
