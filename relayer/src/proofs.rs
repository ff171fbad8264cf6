//! The claimable receipts of licenses, page by page: what `GET /v1/licenses/{id}/proofs`,
//! `GET /v1/payees/{address}/proofs` and the `proofs` command serve.
//!
//! A receipt is *claimable* when its batch is confirmed and it is not settled: not claimed by a
//! confirmed claim of this relayer (its `claim_tx` then holds the transaction hash), and not
//! covered by the settled count of its usage key on-chain (followed from `UsageSettled`: a
//! claim by anyone, of this receipt or of a higher count of the same key, or a direct
//! settlement). Receipts are served in the order (license, batch, leaf); a page ends with a
//! [`Cursor`] at the last position it looked at, and the next page starts after it, so a
//! receipt is served at most once however the store grows between pages (new receipts land in
//! later batches, after any cursor of the same license). The client follows `next` until it is
//! absent.

use std::{fmt, str::FromStr};

use alloy::primitives::{B256, U256};

use crate::store::{ReceiptRow, Store, StoreResult};

/// How many rows a page may look at, as a multiple of its size, before it returns what it
/// found with a cursor: bounds the work of one request over a long run of settled receipts.
const SCAN_FACTOR: usize = 8;

/// A position in the (license, batch, leaf) order: the last receipt a page looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// License id.
    pub license: U256,
    /// Batch id.
    pub batch: i64,
    /// Leaf index in the batch.
    pub leaf: i64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.license, self.batch, self.leaf)
    }
}

/// A cursor that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("not a proofs cursor (expected <licenseId>-<batchId>-<leafIndex>, as `next` gives): {0:?}")]
pub struct BadCursor(String);

impl FromStr for Cursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCursor(s.to_owned());
        let mut parts = s.split('-');
        let (Some(license), Some(batch), Some(leaf), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        // As the documents' pattern says: up to 77 digits of license id (always a uint256), up
        // to 18 of batch and leaf (always an i64).
        let digits = |p: &str, most: usize| {
            (1..=most).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
        };
        if !(digits(license, 77) && digits(batch, 18) && digits(leaf, 18)) {
            return Err(bad());
        }
        Ok(Self {
            license: license.parse().map_err(|_| bad())?,
            batch: batch.parse().map_err(|_| bad())?,
            leaf: leaf.parse().map_err(|_| bad())?,
        })
    }
}

/// One page of claimable receipts.
#[derive(Debug)]
pub struct Page {
    /// The receipts, in (license, batch, leaf) order.
    pub rows: Vec<ReceiptRow>,
    /// Where the next page starts; `None` when every license was looked at to its end.
    pub next: Option<Cursor>,
}

/// Up to `limit` claimable receipts of `licenses` after `after` (from the start without one).
/// `settled` gives the settled count of a usage key as followed from the chain.
///
/// # Errors
///
/// [`crate::store::StoreError`] when the store fails or a row does not parse.
pub async fn page(
    store: &Store,
    licenses: &[U256],
    after: Option<Cursor>,
    limit: usize,
    settled: impl Fn(B256) -> u64,
) -> StoreResult<Page> {
    let limit = limit.max(1);
    let mut licenses = licenses.to_vec();
    licenses.sort();
    licenses.dedup();
    let mut rows = Vec::new();
    let mut scanned = 0usize;
    for license in licenses {
        let mut position = match after {
            Some(c) if c.license > license => continue,
            Some(c) if c.license == license => (c.batch, c.leaf),
            _ => (-1, -1),
        };
        loop {
            let chunk = store
                .claimable_receipts(&license.to_string(), position, limit as i64)
                .await?;
            let exhausted = chunk.len() < limit;
            for row in chunk {
                let (batch, leaf) = (row.batch_id.unwrap_or(0), row.leaf_index.unwrap_or(0));
                position = (batch, leaf);
                scanned += 1;
                if settled(row.usage_key) < row.cumulative {
                    rows.push(row);
                }
                if rows.len() == limit || scanned >= limit * SCAN_FACTOR {
                    let next = Cursor {
                        license,
                        batch,
                        leaf,
                    };
                    return Ok(Page {
                        rows,
                        next: Some(next),
                    });
                }
            }
            if exhausted {
                break;
            }
        }
    }
    Ok(Page { rows, next: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let c = Cursor {
            license: U256::from(10).pow(U256::from(77)) - U256::from(1),
            batch: 999_999_999_999_999_999,
            leaf: 0,
        };
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
        for junk in [
            "",
            "1-2",
            "1-2-3-4",
            "a-1-2",
            "1--2",
            "-1-2-3",
            "1-2-+3",
            "1-99999999999999999999-0",
            "1-1000000000000000000-0",
            &format!("{}-1-0", U256::MAX),
        ] {
            assert!(junk.parse::<Cursor>().is_err(), "{junk}");
        }
    }
}
