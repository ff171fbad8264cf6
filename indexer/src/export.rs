//! Exports of royalty flows for accounting: every settlement with its payer, payee, creator,
//! token and the split into fee and net, in chain order, as CSV or JSON.

pub use fairtrain_protocol::api::indexer::Flow;
use serde::Serialize;

use crate::{
    units::{big, parse_amount},
    Db, Error, Result,
};

/// Flows settled in blocks `from..=to`, in chain order.
pub async fn flows(db: &Db, from: u64, to: u64) -> Result<Vec<Flow>> {
    type Row = (
        i64,
        i64,
        String,
        i64,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        String,
        i64,
        String,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.block_number, s.block_time, s.tx_hash, s.log_index, s.root, s.payer, s.payee, \
         s.license_id, l.creator, s.token, s.samples, s.amount, s.fee FROM settlements s \
         LEFT JOIN licenses l ON l.license_id = s.license_id \
         WHERE s.block_number >= $1 AND s.block_number <= $2 ORDER BY s.block_number, s.log_index",
    )
    .bind(big(from))
    .bind(big(to))
    .fetch_all(&db.pool)
    .await?;
    let zero = format!("{:#x}", alloy::primitives::B256::ZERO);
    rows.into_iter()
        .map(|r| {
            let (gross, fee) = (parse_amount(&r.11)?, parse_amount(&r.12)?);
            Ok(Flow {
                block_number: r.0,
                block_time: r.1,
                tx_hash: r.2,
                log_index: r.3,
                kind: if r.4 == zero { "direct" } else { "batch" }.into(),
                root: r.4,
                payer: r.5.unwrap_or_default(),
                payee: r.6,
                license_id: r.7,
                creator: r.8.unwrap_or_default(),
                token: r.9,
                samples: r.10,
                gross: gross.to_string(),
                fee: fee.to_string(),
                net: (gross - fee).to_string(),
            })
        })
        .collect()
}

/// Serializes rows as CSV with a header line.
pub fn to_csv<T: Serialize>(rows: &[T]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)
            .map_err(|e| Error::invalid("csv", e.to_string()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::invalid("csv", e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::invalid("csv", e.to_string()))
}
