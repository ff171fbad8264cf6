//! What audited batches still owe their payees.

use std::collections::BTreeMap;

use alloy::primitives::U256;

use super::{lower, Unclaimed};
use crate::{units::parse_amount, Db, Result};

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
