//! Auditing a batch: fetch its published data (docs/protocol.md §8), check its hash against the
//! on-chain commitment, verify every receipt signature and that its key was registered for the
//! payer at commit time, recompute the Merkle root and each receipt's amount from the chain state
//! at the commit, compare the reservations with what the pricing rule requires (a batch may
//! reserve more, never less), and the claims with what the receipts can owe.
//!
//! The pricing rule (docs/indexer.md, "Audits"): for the batch's relayer R, payer P and token T,
//! the reservation must cover, per usage key of P, `(highest count in the batch − base) × price`
//! within the terms' cap, where `base` is the key's settled count at the commit, raised to the
//! highest count of the key in R's earlier batches only if R's line (P, R, T) was locked just
//! before the commit (`reservedUntil > commit time`; those batches' reserves were then still in
//! the line's pool, which every claim of R's batches draws on). Batches committed before the
//! line's last release no longer hold funds in it and are not counted.
//!
//! The [`AuditReport`] is kept as JSON (every check and every receipt), as CSV (one line per
//! receipt) and as a readable summary; the latest report per batch is stored in `audits` and
//! its receipts in `audit_receipts`, from which payees' unclaimed amounts are computed; its
//! outcome becomes the batch's audit status (`audit_queue`, see [`crate::auditor`]).

pub use fairtrain_protocol::api::indexer::{
    AuditReport, Check, ReceiptAudit, ReservationAudit, DATA_FETCHED,
};
use std::collections::{BTreeMap, HashMap};

use alloy::{
    eips::BlockId,
    primitives::{Address, B256, U256},
    providers::DynProvider,
};
use fairtrain_protocol::{
    batch::{self, BatchData},
    bindings::TrainingEscrow,
    EscrowDomain, ReceiptTree,
};

use crate::{
    auditor,
    fetch::Fetcher,
    query,
    units::{big, parse_amount},
    Db, Deployment, Error, Result,
};

fn check(checks: &mut Vec<Check>, name: &str, passed: bool, detail: impl Into<String>) -> bool {
    checks.push(Check {
        name: name.into(),
        passed,
        detail: detail.into(),
    });
    passed
}

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::rpc("eth_call", e)
}

/// Audits the batch `root`, reading its data from `data` if given, else from its `dataURI`
/// (`https://` or `http://` on a public host; no IPFS gateway and no allowed private hosts:
/// see [`audit_with`] and [`crate::fetch`]).
/// Stores the report (see the module docs) and returns it.
pub async fn audit(
    db: &Db,
    provider: &DynProvider,
    deployment: &Deployment,
    root: &str,
    data: Option<Vec<u8>>,
) -> Result<AuditReport> {
    audit_with(db, provider, deployment, &Fetcher::default(), root, data).await
}

/// [`audit`], fetching the data (when `data` is `None`) with `fetcher`.
///
/// Besides the report, records the batch's audit status (`audit_queue`, see
/// [`crate::auditor`]): the verdict, or `unavailable` when the data could not be fetched.
pub async fn audit_with(
    db: &Db,
    provider: &DynProvider,
    deployment: &Deployment,
    fetcher: &Fetcher,
    root: &str,
    data: Option<Vec<u8>>,
) -> Result<AuditReport> {
    let detail = query::batch(db, root)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "root",
            message: format!("no indexed batch with root {root}"),
        })?;
    let b = &detail.batch;
    let seen = auditor::Audited {
        commit_tx: b.tx_hash.clone(),
        claims: b.claims,
    };
    let root_word: B256 = b
        .root
        .parse()
        .map_err(|e| Error::Stored(format!("root: {e}")))?;
    let commit_block = b.block_number as u64;
    let commit_time = b.block_time as u64;
    let mut report = AuditReport {
        root: b.root.clone(),
        chain_id: deployment.chain_id,
        escrow: format!("{:#x}", deployment.training_escrow),
        data_uri: b.data_uri.clone(),
        committed_data_hash: b.data_hash.clone(),
        computed_data_hash: String::new(),
        commit_block,
        commit_time,
        passed: false,
        checks: Vec::new(),
        receipts: Vec::new(),
        reservations: Vec::new(),
        total_expected: "0".into(),
        total_claimed: "0".into(),
    };
    let checks = &mut report.checks;

    // 1. The bytes, and their hash against the commitment.
    let bytes = match data {
        Some(d) => Ok(d),
        None => fetcher.fetch(&b.data_uri).await,
    };
    let bytes = match bytes {
        Ok(bytes) => {
            check(checks, DATA_FETCHED, true, format!("{} bytes", bytes.len()));
            bytes
        }
        Err(e) => {
            check(checks, DATA_FETCHED, false, e.to_string());
            return finish(db, report, &seen, true).await;
        }
    };
    let hash = format!("{:#x}", batch::data_hash(&bytes));
    report.computed_data_hash = hash.clone();
    let checks = &mut report.checks;
    check(
        checks,
        "data hash matches the commitment",
        hash == b.data_hash,
        format!("keccak256(data) {hash}, committed {}", b.data_hash),
    );

    // 2. The document.
    let doc = match BatchData::parse(&bytes) {
        Ok(doc) => doc,
        Err(e) => {
            check(checks, "document parses", false, e.to_string());
            return finish(db, report, &seen, true).await;
        }
    };
    check(
        checks,
        "document parses",
        true,
        format!("version {}", doc.version),
    );
    check(
        checks,
        "document names this chain and escrow",
        doc.chain_id == deployment.chain_id && doc.escrow == deployment.training_escrow,
        format!("chain {} escrow {:#x}", doc.chain_id, doc.escrow),
    );
    check(
        checks,
        "document root is the committed root",
        doc.root == root_word,
        format!("document {:#x}", doc.root),
    );
    check(
        checks,
        "receipt count matches the commitment",
        doc.receipts.len() as i64 == b.receipt_count,
        format!(
            "document {}, committed {}",
            doc.receipts.len(),
            b.receipt_count
        ),
    );

    // 3. The tree.
    let domain = EscrowDomain::new(deployment.chain_id, deployment.training_escrow);
    let leaves = batch::leaves(&domain, &doc.receipts);
    let rebuilt = ReceiptTree::from_leaves(&leaves).map(|t| t.root());
    check(
        checks,
        "leaves rebuild the committed root",
        rebuilt.as_ref().is_ok_and(|r| *r == root_word),
        match &rebuilt {
            Ok(r) => format!("rebuilt {r:#x}"),
            Err(e) => e.to_string(),
        },
    );

    // 4. Each receipt: signature, key, acceptance, amount; against chain state at the commit.
    let at = BlockId::number(commit_block);
    let escrow = TrainingEscrow::new(deployment.training_escrow, provider.clone());
    // Chain state at the commit, read once per key, payer and acceptance.
    let mut keys_valid: HashMap<(Address, Address), bool> = HashMap::new();
    let mut acceptances: HashMap<_, fairtrain_protocol::bindings::Escrow::Acceptance> =
        HashMap::new();
    // Per (payer, token): the line as it was just before the commit.
    let locks: HashMap<(String, String), LineAtCommit> =
        line_locks(db, &b.root, commit_time).await?;
    let mut settled: HashMap<B256, u64> = HashMap::new();
    let mut settled_only: HashMap<B256, u64> = HashMap::new();
    let mut charged: HashMap<(Address, U256, u64), u64> = HashMap::new();
    let mut charged_max: HashMap<(Address, U256, u64), u64> = HashMap::new();
    let mut expected_by: BTreeMap<(String, String), U256> = BTreeMap::new();
    let mut total_expected = U256::ZERO;
    let (mut bad_sigs, mut bad_keys, mut bad_acceptances) = (0, 0, 0);
    for (index, sr) in doc.receipts.iter().enumerate() {
        let r = sr.receipt();
        let key = r.usage_key();
        let signer = sr.recover(&domain).ok();
        let signer_valid = match signer {
            Some(s) => match keys_valid.get(&(r.payer, s)) {
                Some(valid) => *valid,
                None => {
                    let k = escrow
                        .signerOf(r.payer, s)
                        .block(at)
                        .call()
                        .await
                        .map_err(rpc)?;
                    let (reg, rev) = (k.registeredAt.to::<u64>(), k.revokedAt.to::<u64>());
                    let valid = reg != 0 && commit_time >= reg && (rev == 0 || commit_time < rev);
                    keys_valid.insert((r.payer, s), valid);
                    valid
                }
            },
            None => false,
        };
        let acceptance_key = (r.payer, r.licenseId, r.termsId);
        let acc = match acceptances.get(&acceptance_key) {
            Some(acc) => acc.clone(),
            None => {
                let acc = escrow
                    .acceptance(r.payer, r.licenseId, r.termsId)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                acceptances.insert(acceptance_key, acc.clone());
                acc
            }
        };
        let acceptance_valid = acc.acceptedAt != 0
            && commit_time >= acc.chargeableFrom.to::<u64>()
            && (acc.expiresAt.is_zero() || r.issuedAt < acc.expiresAt.to::<u64>());
        let line = locks
            .get(&(format!("{:#x}", r.payer), format!("{:#x}", acc.token)))
            .copied();
        let (before, before_max) = match (settled.get(&key), settled_only.get(&key)) {
            (Some(s), Some(m)) => (*s, *m),
            _ => {
                let on_chain = escrow
                    .settledSamples(key)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                let earlier = match line {
                    Some(l) if l.locked => {
                        prior_count(
                            db,
                            &format!("{key:#x}"),
                            &b.relayer,
                            l.since_block,
                            commit_block,
                        )
                        .await?
                    }
                    _ => 0,
                };
                (on_chain.max(earlier), on_chain)
            }
        };
        let cap_key = (r.payer, r.licenseId, r.termsId);
        let samples = capped(&acc, &mut charged, cap_key, r.cumulativeSamples, before);
        let samples_max = capped(
            &acc,
            &mut charged_max,
            cap_key,
            r.cumulativeSamples,
            before_max,
        );
        settled.insert(key, before.max(r.cumulativeSamples));
        settled_only.insert(key, before_max.max(r.cumulativeSamples));
        let valid = signer_valid && acceptance_valid;
        let price = U256::from(acc.pricePerSample);
        let (expected, max_claim) = if valid {
            (U256::from(samples) * price, U256::from(samples_max) * price)
        } else {
            (U256::ZERO, U256::ZERO)
        };
        bad_sigs += usize::from(signer.is_none());
        bad_keys += usize::from(signer.is_some() && !signer_valid);
        bad_acceptances += usize::from(!acceptance_valid);
        *expected_by
            .entry((format!("{:#x}", r.payer), format!("{:#x}", acc.token)))
            .or_default() += expected;
        total_expected += expected;
        report.receipts.push(ReceiptAudit {
            index,
            payer: format!("{:#x}", r.payer),
            license_id: r.licenseId.to_string(),
            terms_id: r.termsId,
            run_id: format!("{:#x}", r.runId),
            cumulative_samples: r.cumulativeSamples,
            issued_at: r.issuedAt,
            signer: signer.map(|s| format!("{s:#x}")).unwrap_or_default(),
            signer_valid,
            acceptance_valid,
            usage_key: format!("{key:#x}"),
            token: format!("{:#x}", acc.token),
            price_per_sample: acc.pricePerSample.to_string(),
            settled_before: before,
            samples,
            expected: expected.to_string(),
            max_claim: max_claim.to_string(),
            // Set with the other claim figures by `apply_claims`.
            claimed: String::new(),
            status: String::new(),
        });
    }
    let n = doc.receipts.len();
    let checks = &mut report.checks;
    check(
        checks,
        "every signature recovers",
        bad_sigs == 0,
        format!("{} of {n} recover", n - bad_sigs),
    );
    check(
        checks,
        "every key was registered for its payer at commit time",
        bad_keys == 0 && bad_sigs == 0,
        format!("{bad_keys} receipt(s) signed by a key not valid at {commit_time}"),
    );
    check(
        checks,
        "every receipt's terms were accepted and chargeable at commit time",
        bad_acceptances == 0,
        format!("{bad_acceptances} receipt(s) without a chargeable acceptance"),
    );

    // 5. Reservations: document = on-chain ≥ what the pricing rule requires.
    let mut doc_res: BTreeMap<(String, String), U256> = BTreeMap::new();
    for r in &doc.reservations {
        *doc_res
            .entry((format!("{:#x}", r.payer), format!("{:#x}", r.token)))
            .or_default() += r.amount;
    }
    let chain_res: BTreeMap<(String, String), U256> = detail
        .reservations
        .iter()
        .map(|r| Ok(((r.payer.clone(), r.token.clone()), parse_amount(&r.amount)?)))
        .collect::<Result<_>>()?;
    let mut keys: Vec<(String, String)> = doc_res
        .keys()
        .chain(chain_res.keys())
        .chain(expected_by.keys())
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    let mut res_ok = true;
    let (mut surplus, mut failures) = (Vec::new(), Vec::new());
    for k in keys {
        let (d, c, e) = (
            doc_res.get(&k).copied().unwrap_or_default(),
            chain_res.get(&k).copied().unwrap_or_default(),
            expected_by.get(&k).copied().unwrap_or_default(),
        );
        let line = locks.get(&k).copied();
        // Over-reserving is safe (the surplus returns to credit on release): reported only.
        res_ok &= d == c && c >= e;
        if d != c {
            failures.push(format!(
                "{} {}: the document reserves {d}, the chain {c}",
                k.0, k.1
            ));
        }
        if c < e {
            let why = match line {
                None => "nothing reserved on-chain".to_owned(),
                Some(l) => l.basis(db, &b.root, commit_time, &k).await?,
            };
            failures.push(format!(
                "{} {}: reserved {c} < required {e} (short by {}): {why}",
                k.0,
                k.1,
                e - c
            ));
        } else if c > e {
            surplus.push(format!("{} {} +{}", k.0, k.1, c - e));
        }
        report.reservations.push(ReservationAudit {
            line_locked: line.is_some_and(|l| l.locked),
            payer: k.0,
            token: k.1,
            document: d.to_string(),
            on_chain: c.to_string(),
            expected: e.to_string(),
        });
    }
    let detail_note = if failures.is_empty() {
        String::new()
    } else {
        format!("; {}", failures.join("; "))
    };
    let surplus_note = if surplus.is_empty() {
        String::new()
    } else {
        format!(
            "; surplus (returns to credit on release): {}",
            surplus.join(", ")
        )
    };
    let checks = &mut report.checks;
    check(
        checks,
        RESERVATIONS_CHECK,
        res_ok,
        format!(
            "{} reservation(s){surplus_note}{detail_note}",
            report.reservations.len()
        ),
    );
    report.total_expected = total_expected.to_string();
    apply_claims(&mut report, &query::batch_claims(db, &b.root).await?)?;
    finish(db, report, &seen, true).await
}

/// Name of the reservations check.
pub const RESERVATIONS_CHECK: &str =
    "reservations cover what the receipts owe (document = chain ≥ required by the pricing rule)";

/// Samples a receipt adds over `before`, within what the terms' cap leaves (`charged` holds what
/// the batch's earlier receipts of the acceptance used).
fn capped(
    acc: &fairtrain_protocol::bindings::Escrow::Acceptance,
    charged: &mut HashMap<(Address, U256, u64), u64>,
    cap_key: (Address, U256, u64),
    cumulative: u64,
    before: u64,
) -> u64 {
    let mut samples = cumulative.saturating_sub(before);
    if acc.maxSamples != 0 {
        let used = charged.get(&cap_key).copied().unwrap_or(acc.samplesCharged);
        samples = samples.min(acc.maxSamples.saturating_sub(used));
        charged.insert(cap_key, used + samples);
    }
    samples
}

/// A batch's relayer's line (payer, relayer, token) as it was just before the commit.
#[derive(Debug, Clone, Copy)]
struct LineAtCommit {
    /// Its `reservedUntil` (0: nothing reserved since its last release, or ever).
    reserved_until: i64,
    /// Block of its last release (0: never released).
    since_block: i64,
    /// Whether no release could come before the commit (`reservedUntil > commit time`): only
    /// then do the relayer's earlier batches (since `since_block`) lower what the batch must
    /// reserve.
    locked: bool,
}

impl LineAtCommit {
    /// Why the rule required what it did of an under-reserved batch, in words.
    async fn basis(
        &self,
        db: &Db,
        root: &str,
        commit_time: u64,
        (payer, token): &(String, String),
    ) -> Result<String> {
        const SETTLED_ONLY: &str = "so the required amount counts from the settled samples, not \
                                    from the counts of the relayer's earlier batches";
        Ok(if self.reserved_until == 0 && self.since_block > 0 {
            format!(
                "the relayer's line was released in block {} and nothing was reserved into it \
                 since, before this commit: its earlier batches' reserves had gone back to \
                 credit, {SETTLED_ONLY}",
                self.since_block
            )
        } else if self.reserved_until == 0 {
            format!("the relayer's line held no reservation before this commit, {SETTLED_ONLY}")
        } else if !self.locked {
            format!(
                "the relayer's line was releasable at the commit (reservedUntil {} <= commit \
                 time {commit_time}): a release could come first, {SETTLED_ONLY}",
                self.reserved_until
            )
        } else {
            // Locked: the counts of the relayer's earlier batches since the last release were
            // used; any of them not audited yet was not.
            let unaudited = earlier_unaudited(db, root, payer, token, self.since_block).await?;
            let mut why = format!(
                "the relayer's line was locked (reservedUntil {} > commit time {commit_time}), \
                 so the required amount counts from the relayer's earlier batches since the \
                 line's last release",
                self.reserved_until
            );
            if unaudited > 0 {
                why.push_str(&format!(
                    "; {unaudited} earlier batch(es) of the line not audited: counts start from \
                     the settled ones only, so a run spanning those batches looks under-reserved"
                ));
            }
            why
        })
    }
}

/// Per (payer, token) of the batch `root`: its relayer's line just before the commit.
async fn line_locks(
    db: &Db,
    root: &str,
    commit_time: u64,
) -> Result<HashMap<(String, String), LineAtCommit>> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT payer, token, locked_until, line_since_block FROM reservations WHERE root = $1",
    )
    .bind(root)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(p, t, until, since)| {
            let line = LineAtCommit {
                reserved_until: until,
                since_block: since,
                locked: until > big(commit_time),
            };
            ((p, t), line)
        })
        .collect())
}

/// The highest cumulative count of `usage_key` among the audited receipts of `relayer`'s
/// batches committed from block `since` (the line's last release: a batch committed in that
/// block came after it, every earlier batch having expired) to before `block`: while the line
/// stays locked, their reserves are in its pool and the relayer reserves only the increase.
async fn prior_count(
    db: &Db,
    usage_key: &str,
    relayer: &str,
    since: i64,
    block: u64,
) -> Result<u64> {
    let (max,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(MAX(r.cumulative), 0) FROM audit_receipts r \
         JOIN batches b ON b.root = r.root WHERE r.usage_key = $1 AND b.relayer = $2 \
         AND b.block_number >= $3 AND b.block_number < $4",
    )
    .bind(usage_key)
    .bind(relayer)
    .bind(since)
    .bind(big(block))
    .fetch_one(&db.pool)
    .await?;
    Ok(max as u64)
}

/// Batches of `root`'s relayer that reserved from the same line (payer, token) since block
/// `since` (the line's last release) and before `root`, and have no stored audit: their
/// receipts would set the counts this batch's reservation starts from.
async fn earlier_unaudited(
    db: &Db,
    root: &str,
    payer: &str,
    token: &str,
    since: i64,
) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM batches e JOIN reservations r ON r.root = e.root \
         JOIN batches me ON me.root = $1 \
         WHERE r.payer = $2 AND r.token = $3 AND e.relayer = me.relayer \
         AND e.block_number >= $4 AND e.block_number < me.block_number \
         AND NOT EXISTS (SELECT 1 FROM audits a WHERE a.root = e.root)",
    )
    .bind(root)
    .bind(payer)
    .bind(token)
    .bind(since)
    .fetch_one(&db.pool)
    .await?;
    Ok(n)
}

/// Name of the last check, the only one that depends on the batch's claims.
pub const CLAIMS_CHECK: &str =
    "claims match receipts of the document and pay no more than they owe";

/// Sets each receipt's `claimed` and `status` and the report's `total_claimed` from the batch's
/// `claims`, and (re)places the claims check last. Every other figure of a report depends only
/// on the committed data and the chain state at the commit.
fn apply_claims(report: &mut AuditReport, claims: &[query::SettlementView]) -> Result<()> {
    // A claim settles one receipt: the one of its usage key and cumulative count.
    let mut by_receipt: HashMap<(&str, u64), U256> = HashMap::new();
    for c in claims {
        *by_receipt
            .entry((c.usage_key.as_str(), c.cumulative_samples as u64))
            .or_default() += parse_amount(&c.amount)?;
    }
    let audited: std::collections::HashSet<(String, u64)> = report
        .receipts
        .iter()
        .map(|r| (r.usage_key.clone(), r.cumulative_samples))
        .collect();
    let unknown = claims
        .iter()
        .filter(|c| !audited.contains(&(c.usage_key.clone(), c.cumulative_samples as u64)))
        .count();
    let (mut total_claimed, mut over) = (U256::ZERO, 0);
    for r in &mut report.receipts {
        let expected = parse_amount(&r.expected)?;
        // A claim pays the increase over the count settled when it is made, from the relayer's
        // line: at most the increase over the count settled at the commit.
        let max_claim = if r.max_claim.is_empty() {
            expected
        } else {
            parse_amount(&r.max_claim)?
        };
        // Taken by the first receipt of that key and count (a duplicate adds nothing).
        let claimed = by_receipt
            .remove(&(r.usage_key.as_str(), r.cumulative_samples))
            .unwrap_or_default();
        r.status = if !(r.signer_valid && r.acceptance_valid) {
            "invalid"
        } else if claimed > max_claim {
            "over claimed"
        } else if claimed.is_zero() {
            if expected.is_zero() {
                "nothing owed"
            } else {
                "unclaimed"
            }
        } else if claimed < expected {
            "partly claimed"
        } else {
            "claimed"
        }
        .into();
        r.claimed = claimed.to_string();
        over += usize::from(claimed > max_claim);
        total_claimed += claimed;
    }
    report.total_claimed = total_claimed.to_string();
    report.checks.retain(|c| c.name != CLAIMS_CHECK);
    check(
        &mut report.checks,
        CLAIMS_CHECK,
        over == 0 && unknown == 0,
        format!(
            "{} claim(s); {over} over a receipt's amount; {unknown} of no receipt",
            claims.len()
        ),
    );
    Ok(())
}

/// Brings the stored report of a batch up to date with its claims, without fetching its data
/// or reading the chain: `None` when no stored report applies (none yet, the data was not
/// audited, or a reorganisation moved the commit since), and a full audit is needed.
///
/// # Errors
///
/// Database errors.
pub async fn recheck_claims(db: &Db, root: &str) -> Result<Option<AuditReport>> {
    let Some(detail) = query::batch(db, root).await? else {
        return Ok(None);
    };
    let b = &detail.batch;
    let audited_commit: Option<(String,)> =
        sqlx::query_as("SELECT commit_tx FROM audit_queue WHERE root = $1")
            .bind(&b.root)
            .fetch_optional(&db.pool)
            .await?;
    let Some(mut report) = stored(db, &b.root).await? else {
        return Ok(None);
    };
    let same_commit = audited_commit.is_some_and(|(tx,)| tx == b.tx_hash)
        && report.commit_block == b.block_number as u64;
    if !same_commit || !report.checks.iter().any(|c| c.name == CLAIMS_CHECK) {
        return Ok(None);
    }
    apply_claims(&mut report, &query::batch_claims(db, &b.root).await?)?;
    let seen = auditor::Audited {
        commit_tx: b.tx_hash.clone(),
        claims: b.claims,
    };
    finish(db, report, &seen, false).await.map(Some)
}

/// Stores `report` as the batch's latest (and, if `receipts_changed`, its `audit_receipts`) and
/// records its outcome as the batch's audit status, in one transaction.
async fn finish(
    db: &Db,
    mut report: AuditReport,
    seen: &auditor::Audited,
    receipts_changed: bool,
) -> Result<AuditReport> {
    report.passed = !report.checks.is_empty() && report.checks.iter().all(|c| c.passed);
    let audited_block = crate::raw::checkpoint(db).await?.map_or(0, |c| c.number);
    let json = serde_json::to_string(&report).map_err(|e| Error::Stored(e.to_string()))?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM audits WHERE root = $1")
        .bind(&report.root)
        .execute(&mut *tx)
        .await?;
    if receipts_changed {
        store_receipts(&mut tx, &report).await?;
    }
    sqlx::query(
        "INSERT INTO audits (root, passed, audited_at, audited_block, summary, report) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&report.root)
    .bind(i64::from(report.passed))
    .bind(big(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()))
    .bind(big(audited_block))
    .bind(report.summary())
    .bind(json)
    .execute(&mut *tx)
    .await?;
    auditor::record_report(&mut tx, &report, seen).await?;
    tx.commit().await?;
    Ok(report)
}

/// Replaces the batch's `audit_receipts` (what each valid receipt owes) with `report`'s.
async fn store_receipts(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    report: &AuditReport,
) -> Result<()> {
    sqlx::query("DELETE FROM audit_receipts WHERE root = $1")
        .bind(&report.root)
        .execute(&mut **tx)
        .await?;
    let expires: i64 = sqlx::query_as::<_, (i64,)>(
        "SELECT COALESCE(MAX(expires_at), 0) FROM reservations WHERE root = $1",
    )
    .bind(&report.root)
    .fetch_one(&mut **tx)
    .await?
    .0;
    for r in report.receipts.iter().filter(|r| r.status != "invalid") {
        sqlx::query(
            "INSERT INTO audit_receipts (root, idx, payer, license_id, token, usage_key, samples, \
             expected, expires_at, cumulative) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&report.root)
        .bind(r.index as i64)
        .bind(&r.payer)
        .bind(&r.license_id)
        .bind(&r.token)
        .bind(&r.usage_key)
        .bind(big(r.samples))
        .bind(&r.expected)
        .bind(expires)
        .bind(big(r.cumulative_samples))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The stored report of a batch, if it was audited (a report that does not read back as an
/// [`AuditReport`] is an [`Error::Stored`]).
pub async fn stored(db: &Db, root: &str) -> Result<Option<AuditReport>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT report FROM audits WHERE root = $1")
        .bind(root.trim().to_ascii_lowercase())
        .fetch_optional(&db.pool)
        .await?;
    row.map(|(r,)| {
        serde_json::from_str(&r).map_err(|e| Error::Stored(format!("audit report: {e}")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(index: usize, cumulative: u64, expected: u64) -> ReceiptAudit {
        ReceiptAudit {
            index,
            payer: "0xpayer".into(),
            license_id: "1".into(),
            terms_id: 1,
            run_id: "0xrun".into(),
            cumulative_samples: cumulative,
            issued_at: 1,
            signer: "0xkey".into(),
            signer_valid: true,
            acceptance_valid: true,
            usage_key: "0xkey1".into(),
            token: "0xtoken".into(),
            price_per_sample: "1000".into(),
            settled_before: 0,
            samples: expected / 1000,
            expected: expected.to_string(),
            max_claim: expected.to_string(),
            claimed: String::new(),
            status: String::new(),
        }
    }

    fn settlement(cumulative: i64, amount: u64) -> query::SettlementView {
        query::SettlementView {
            block_number: 1,
            log_index: 0,
            block_time: 1,
            tx_hash: "0xtx".into(),
            root: "0xroot".into(),
            usage_key: "0xkey1".into(),
            payer: None,
            payee: "0xpayee".into(),
            license_id: "1".into(),
            token: "0xtoken".into(),
            cumulative_samples: cumulative,
            samples: amount as i64 / 1000,
            amount: amount.to_string(),
            fee: "0".into(),
        }
    }

    /// Two receipts of one run in one batch: each claim is matched to the receipt of its count,
    /// not summed over the run.
    #[test]
    fn claims_match_receipts_by_usage_key_and_count() {
        let mut report = AuditReport {
            root: "0xroot".into(),
            chain_id: 1,
            escrow: "0xescrow".into(),
            data_uri: String::new(),
            committed_data_hash: String::new(),
            computed_data_hash: String::new(),
            commit_block: 1,
            commit_time: 1,
            passed: false,
            checks: Vec::new(),
            receipts: vec![receipt(0, 206, 206_000), receipt(1, 210, 4_000)],
            reservations: Vec::new(),
            total_expected: "210000".into(),
            total_claimed: "0".into(),
        };
        apply_claims(&mut report, &[settlement(206, 206_000)]).unwrap();
        let statuses: Vec<_> = report.receipts.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(statuses, ["claimed", "unclaimed"]);
        apply_claims(
            &mut report,
            &[settlement(206, 206_000), settlement(210, 4_000)],
        )
        .unwrap();
        let statuses: Vec<_> = report.receipts.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(statuses, ["claimed", "claimed"]);
        assert_eq!(report.total_claimed, "210000");
        assert_eq!(
            report.checks.len(),
            1,
            "the claims check is replaced, not added"
        );
        assert!(report.checks[0].passed);
        // A claim within what the receipt can owe (its increase over the count settled at the
        // commit: the line pays it whichever batch's receipt is claimed first) is not over.
        report.receipts[1].max_claim = "10000".into();
        apply_claims(
            &mut report,
            &[settlement(206, 206_000), settlement(210, 10_000)],
        )
        .unwrap();
        assert_eq!(report.receipts[1].status, "claimed");
        assert!(report.checks[0].passed);
        // Beyond it: over claimed, and the claims check fails.
        apply_claims(
            &mut report,
            &[settlement(206, 206_000), settlement(210, 10_001)],
        )
        .unwrap();
        assert_eq!(report.receipts[1].status, "over claimed");
        assert!(!report.checks[0].passed);
        assert!(report.checks[0]
            .detail
            .contains("1 over a receipt's amount"));
        // A settlement of a count no receipt of the batch has.
        apply_claims(&mut report, &[settlement(300, 90_000)]).unwrap();
        assert!(!report.checks[0].passed);
        assert!(report.checks[0].detail.contains("1 of no receipt"));
    }
}
