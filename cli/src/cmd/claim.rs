//! `fairtrain creator claim`: pays license holders for receipts that relayers committed in
//! batches, by calling `TrainingEscrow.claim(root, claims)`.
//!
//! The receipts and their Merkle proofs come from a relayer's API (`/v1/payees/{address}/proofs`
//! or `/v1/licenses/{id}/proofs`, docs/relayer.md §2, every page of them, following the
//! relayer's `next` cursor) or from published batch data
//! (`--batch-data FILE|URL`, docs/protocol.md §8), from which the proofs are rebuilt locally.
//! Neither source is trusted: before any gas is spent, each receipt's signature must recover,
//! its proof must lead to the root, the root must be committed on-chain with an open claim
//! window for the payer and token, the usage must not be settled yet, and the committing
//! relayer's credit line must hold reserved what the claim draws (the escrow then checks the
//! payer's key on-chain). All batches a relayer committed for a payer and token draw on one pool,
//! the line's `reserved`; claims go oldest commit first, each run's counts in increasing order.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    path::PathBuf,
};

use alloy::primitives::{Address, B256, U256};
use clap::Args;
use fairtrain_protocol::{
    api::relayer::ProofsPage,
    bindings::{Escrow, TrainingEscrow},
    fetch, BatchData, EscrowDomain, SignedReceipt,
};
use serde::Serialize;

use crate::{
    chain::{emitted, Chain, Sent},
    error::{CliError, Result},
    logs::{events, Topic},
    output::Render,
    time,
};

/// `creator claim`.
#[derive(Clone, Debug, Args)]
pub struct ClaimArgs {
    /// Relayer whose API serves the proofs (e.g. http://127.0.0.1:8080).
    #[arg(
        long,
        env = "FAIRTRAIN_RELAYER_URL",
        required_unless_present = "batch_data"
    )]
    pub relayer_url: Option<String>,
    /// Published batch data (a file, or an http(s) URL such as a relayer's /v1/data/<hash>);
    /// repeatable. The proofs are rebuilt from it: the relayer's API is not needed (and
    /// --relayer-url is not used).
    #[arg(long)]
    pub batch_data: Vec<String>,
    /// Claim for these licenses only (repeatable) [default: every license the payee holds].
    #[arg(long = "license")]
    pub licenses: Vec<U256>,
    /// Whose licenses [default: the key's address]. Anyone may send claims; the holder is paid.
    #[arg(long)]
    pub payee: Option<Address>,
    /// At most this many receipts per transaction.
    #[arg(long, default_value_t = 50)]
    pub per_tx: usize,
    /// Check everything and report what would be claimed, without sending.
    #[arg(long)]
    pub dry_run: bool,
}

/// One receipt with what `claim` needs, from whichever source.
#[derive(Clone, Debug)]
struct Candidate {
    root: Option<B256>,
    receipt: SignedReceipt,
    proof: Vec<B256>,
}

/// A receipt left out, and why.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// The receipt's EIP-712 digest.
    pub digest: B256,
    /// Its license.
    pub license_id: String,
    /// Why it is not claimed.
    pub reason: String,
}

/// One claim transaction (or, with `--dry-run`, one that would be sent).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimTx {
    /// The batch root.
    pub root: B256,
    /// Receipts in it.
    pub receipts: usize,
    /// Paid to holders per holder, base units (empty in a dry run).
    pub paid: BTreeMap<Address, String>,
    /// Platform fees, base units.
    pub fees: String,
    /// The token.
    pub token: Address,
    /// The transaction (`None` in a dry run).
    pub tx: Option<Sent>,
}

/// What `creator claim` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Claimed {
    /// Whose licenses.
    pub payee: Address,
    /// Where the proofs came from.
    pub source: String,
    /// Transactions, oldest batch first.
    pub claims: Vec<ClaimTx>,
    /// Receipts left out.
    pub skipped: Vec<Skipped>,
    /// Paid to the payee per token symbol, base units.
    pub paid_to_payee: BTreeMap<String, String>,
    /// In words.
    pub summary: String,
    /// Whether nothing was sent.
    pub dry_run: bool,
}

impl Render for Claimed {
    fn text(&self) -> String {
        let mut lines = vec![self.summary.clone()];
        for c in &self.claims {
            let paid: Vec<String> = c
                .paid
                .iter()
                .map(|(who, units)| format!("{units} base units to {who}"))
                .collect();
            lines.push(match &c.tx {
                Some(tx) => format!(
                    "  root {}: {} receipt(s), paid {}; fees {} base units\n    {tx}",
                    c.root,
                    c.receipts,
                    if paid.is_empty() {
                        "nothing new".into()
                    } else {
                        paid.join(", ")
                    },
                    c.fees
                ),
                None => format!("  root {}: {} receipt(s) to claim", c.root, c.receipts),
            });
        }
        for s in &self.skipped {
            lines.push(format!(
                "  skipped {} (license {}): {}",
                s.digest, s.license_id, s.reason
            ));
        }
        lines.join("\n")
    }
}

/// The bytes at `url`, a URL the user named (a relayer, `--batch-data`): any host, but at most
/// [`fetch::DEFAULT_MAX_BYTES`] and [`fetch::DEFAULT_TIMEOUT`], through the one batch-data
/// fetcher.
async fn fetch(url: &str) -> Result<Vec<u8>> {
    fetch::Fetcher::default()
        .allowing_any_host()
        .fetch(url)
        .await
        .map_err(|e| CliError::rpc(&format!("fetching {url}"), e.error))
}

/// Receipts and proofs served by a relayer's API.
async fn from_relayer(base: &str, payee: Address, licenses: &[U256]) -> Result<Vec<Candidate>> {
    let base = base.trim_end_matches('/');
    let urls: Vec<String> = if licenses.is_empty() {
        vec![format!("{base}/v1/payees/{payee}/proofs")]
    } else {
        licenses
            .iter()
            .map(|l| format!("{base}/v1/licenses/{l}/proofs"))
            .collect()
    };
    let mut out = Vec::new();
    for url in urls {
        // Page after page, following the relayer's cursor until it gives none.
        let mut after: Option<String> = None;
        loop {
            let page_url = match &after {
                Some(cursor) => format!("{url}?after={cursor}"),
                None => url.clone(),
            };
            let bytes = fetch(&page_url).await?;
            let response: ProofsPage = serde_json::from_slice(&bytes).map_err(|e| {
                CliError::rpc(
                    &format!("reading {page_url}"),
                    format!("not a proofs answer: {e}"),
                )
            })?;
            out.extend(response.claims.into_iter().map(|c| Candidate {
                root: c.root,
                receipt: c.receipt,
                proof: c.proof,
            }));
            match response.next {
                Some(next) if after.as_ref() == Some(&next) => {
                    return Err(CliError::rpc(
                        &format!("reading {page_url}"),
                        format!("the relayer gave the same cursor {next} twice"),
                    ));
                }
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    Ok(out)
}

/// Receipts of published batch data with proofs rebuilt from it, for the licenses wanted
/// (`licenses`, or those `payee` holds now).
async fn from_batch_data(
    chain: &Chain,
    domain: &EscrowDomain,
    sources: &[String],
    payee: Address,
    licenses: &[U256],
) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    let mut holders: BTreeMap<U256, Address> = BTreeMap::new();
    for source in sources {
        let bytes = if source.starts_with("http://") || source.starts_with("https://") {
            fetch(source).await?
        } else {
            std::fs::read(source).map_err(|e| CliError::Io {
                path: PathBuf::from(source),
                source: e,
            })?
        };
        let data = BatchData::parse(&bytes)
            .map_err(|e| CliError::Invalid(format!("batch data {source}: {e}")))?;
        let verified = data
            .verify(domain)
            .map_err(|e| CliError::Invalid(format!("batch data {source}: {e}")))?;
        for (index, receipt) in data.receipts.iter().enumerate() {
            let wanted = if licenses.is_empty() {
                let holder = match holders.get(&receipt.license_id) {
                    Some(h) => *h,
                    None => {
                        let h = chain
                            .read(
                                "reading the license holder",
                                chain.nft().ownerOf(receipt.license_id),
                            )
                            .await?;
                        holders.insert(receipt.license_id, h);
                        h
                    }
                };
                holder == payee
            } else {
                licenses.contains(&receipt.license_id)
            };
            if wanted {
                out.push(Candidate {
                    root: Some(data.root),
                    receipt: receipt.clone(),
                    proof: verified
                        .tree
                        .proof(index)
                        .map_err(|e| CliError::Invalid(format!("batch data {source}: {e}")))?,
                });
            }
        }
    }
    Ok(out)
}

/// A receipt that passed every local check, ready to claim.
struct Ready {
    root: B256,
    token: Address,
    claim: Escrow::Claim,
    cumulative: u64,
    digest: B256,
    license_id: U256,
    /// What the claim draws, as the escrow computes it.
    draw: Draw,
}

/// What one claim draws from the committing relayer's line: `(cumulative − settled) × price`,
/// the samples capped by what the acceptance's `maxSamples` leaves.
struct Draw {
    /// The usage key (its settled count advances with each claim).
    key: B256,
    /// Settled samples of the key on-chain.
    settled: u64,
    /// (payer, licenseId, termsId): the acceptance whose cap the samples count against.
    acceptance: (Address, U256, u64),
    /// Samples the cap leaves (`None`: no cap).
    cap_left: Option<u64>,
    /// Base units per sample.
    price: U256,
    /// (payer, committing relayer, token): the line paying.
    line: (Address, Address, Address),
    /// What the line holds reserved on-chain.
    reserved: U256,
}

/// Running state of the claims planned so far, so that each later claim is checked against what
/// the earlier ones leave (settled counts, caps, the lines' reserved funds).
#[derive(Default)]
struct Plan {
    settled: HashMap<B256, u64>,
    cap_left: HashMap<(Address, U256, u64), Option<u64>>,
    reserved: HashMap<(Address, Address, Address), U256>,
}

impl Plan {
    /// Books `draw` for a claim up to `cumulative`, or says why the escrow would revert it.
    fn book(&mut self, draw: &Draw, cumulative: u64) -> std::result::Result<(), String> {
        let settled = *self.settled.entry(draw.key).or_insert(draw.settled);
        if cumulative <= settled {
            return Ok(());
        }
        let cap = *self
            .cap_left
            .entry(draw.acceptance)
            .or_insert(draw.cap_left);
        let samples = (cumulative - settled).min(cap.unwrap_or(u64::MAX));
        let amount = U256::from(samples) * draw.price;
        let reserved = self.reserved.entry(draw.line).or_insert(draw.reserved);
        if *reserved < amount {
            return Err(format!(
                "relayer {}'s credit line holds {reserved} base units reserved for this payer, and this claim needs {amount}: the relayer reserved too little; settle the receipt directly (`fairtrain creator settle`)",
                draw.line.1
            ));
        }
        *reserved -= amount;
        self.settled.insert(draw.key, cumulative);
        self.cap_left
            .insert(draw.acceptance, cap.map(|left| left - samples));
        Ok(())
    }
}

/// Checks one candidate against its root and the chain; `Err(reason)` if it must be skipped.
async fn check(
    chain: &Chain,
    domain: &EscrowDomain,
    c: &Candidate,
    now: u64,
) -> Result<std::result::Result<Ready, String>> {
    let receipt = c.receipt.receipt();
    let Some(root) = c.root else {
        return Ok(Err("not in a committed batch yet".into()));
    };
    let digest = match fairtrain_protocol::claim::check(domain, root, &c.receipt, &c.proof) {
        Ok(digest) => digest,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let escrow = chain.escrow();
    let acceptance = chain
        .read(
            "reading the acceptance",
            escrow.acceptance(receipt.payer, receipt.licenseId, receipt.termsId),
        )
        .await?;
    if acceptance.token == Address::ZERO {
        return Ok(Err(format!(
            "the payer {} never accepted terms {} of license {}",
            receipt.payer, receipt.termsId, receipt.licenseId
        )));
    }
    let reservation = chain
        .read(
            "reading the reservation",
            escrow.reservation(root, receipt.payer, acceptance.token),
        )
        .await?;
    if reservation.committedAt == alloy::primitives::aliases::U40::ZERO {
        return Ok(Err(format!(
            "no batch with root {root} reserved funds of this payer on-chain"
        )));
    }
    let expires_at = u64::try_from(reservation.expiresAt).unwrap_or_default();
    if now >= expires_at {
        return Ok(Err(format!(
            "the claim window closed at {}: settle the receipt directly (`fairtrain creator settle`)",
            time::utc(expires_at)
        )));
    }
    let settled = chain
        .read(
            "reading the settled samples",
            escrow.settledSamples(receipt.usage_key()),
        )
        .await?;
    if settled >= receipt.cumulativeSamples {
        return Ok(Err(format!(
            "already settled ({settled} samples of this run settled)"
        )));
    }
    // Claims draw on the committing relayer's line, shared by all its batches for the payer.
    let line = chain
        .read(
            "reading the relayer's credit line",
            escrow.creditLine(receipt.payer, reservation.relayer, acceptance.token),
        )
        .await?;
    let draw = Draw {
        key: receipt.usage_key(),
        settled,
        acceptance: (receipt.payer, receipt.licenseId, receipt.termsId),
        cap_left: (acceptance.maxSamples != 0).then(|| {
            acceptance
                .maxSamples
                .saturating_sub(acceptance.samplesCharged)
        }),
        price: U256::from(acceptance.pricePerSample),
        line: (receipt.payer, reservation.relayer, acceptance.token),
        reserved: U256::from(line.reserved),
    };
    Ok(Ok(Ready {
        root,
        token: acceptance.token,
        cumulative: receipt.cumulativeSamples,
        digest,
        license_id: receipt.licenseId,
        draw,
        claim: fairtrain_protocol::claim::build(&c.receipt, c.proof.clone()),
    }))
}

/// Where the batch `root` was committed: (block, log index) of its `BatchCommitted` event.
async fn commit_position(chain: &Chain, root: B256) -> Result<(u64, u64)> {
    let logs = events::<TrainingEscrow::BatchCommitted>(
        chain,
        chain.deployment.training_escrow,
        Topic::First(root),
    )
    .await?;
    let log = logs.first().map(|(_, log)| log).ok_or_else(|| {
        CliError::rpc(
            "reading BatchCommitted events",
            format!("no commit of root {root} found although it reserved funds"),
        )
    })?;
    Ok((
        log.block_number.unwrap_or_default(),
        log.log_index.unwrap_or_default(),
    ))
}

/// `creator claim`: gathers receipts and proofs, checks them, and claims them root by root.
///
/// # Errors
///
/// The relayer or batch data cannot be read, or batch data fails verification; a decoded
/// revert of a claim (earlier transactions stay sent and are reported in the error's context
/// only by the chain).
pub async fn claim(chain: &Chain, args: &ClaimArgs) -> Result<Claimed> {
    if args.per_tx == 0 {
        return Err(CliError::Invalid("--per-tx must be at least 1".into()));
    }
    let payee = match args.payee {
        Some(p) => p,
        None => chain.sender()?,
    };
    let domain = EscrowDomain::new(chain.chain_id, chain.deployment.training_escrow);
    let (candidates, source) = if args.batch_data.is_empty() {
        let url = args.relayer_url.as_deref().unwrap_or_default();
        (
            from_relayer(url, payee, &args.licenses).await?,
            format!("relayer {url}"),
        )
    } else {
        (
            from_batch_data(chain, &domain, &args.batch_data, payee, &args.licenses).await?,
            format!("batch data ({} document(s))", args.batch_data.len()),
        )
    };
    let (ready, mut skipped) = triage(chain, &domain, &candidates).await?;
    let transactions = plan_transactions(chain, ready, args.per_tx, &mut skipped).await?;
    let (claims, to_payee) = send_claims(chain, transactions, payee, args.dry_run).await?;

    let mut paid_to_payee = BTreeMap::new();
    let mut described = Vec::new();
    for (token, units) in &to_payee {
        let info = chain.token_info(*token).await?;
        described.push(info.describe(*units));
        paid_to_payee.insert(info.symbol, units.to_string());
    }
    let receipts: usize = claims.iter().map(|c| c.receipts).sum();
    let summary = if claims.is_empty() {
        format!(
            "nothing to claim for {payee} from {source} ({} receipt(s) found, {} skipped)",
            candidates.len(),
            skipped.len()
        )
    } else if args.dry_run {
        format!(
            "would claim {receipts} receipt(s) in {} transaction(s) for {payee}; {} skipped",
            claims.len(),
            skipped.len()
        )
    } else {
        format!(
            "claimed {receipts} receipt(s) in {} transaction(s): paid {} to {payee}; {} skipped",
            claims.len(),
            if described.is_empty() {
                "nothing".into()
            } else {
                described.join(", ")
            },
            skipped.len()
        )
    };
    Ok(Claimed {
        payee,
        source,
        claims,
        skipped,
        paid_to_payee,
        summary,
        dry_run: args.dry_run,
    })
}

/// Checks every distinct candidate against the chain now: claimable ones are ready, the others
/// skipped with the reason.
async fn triage(
    chain: &Chain,
    domain: &EscrowDomain,
    candidates: &[Candidate],
) -> Result<(Vec<Ready>, Vec<Skipped>)> {
    let now = chain.now().await?;
    let mut seen = HashSet::new();
    let mut ready = Vec::new();
    let mut skipped = Vec::new();
    for c in candidates {
        let digest = domain.digest(&c.receipt.receipt());
        if !seen.insert(digest) {
            continue;
        }
        match check(chain, domain, c, now).await? {
            Ok(r) => ready.push(r),
            Err(reason) => skipped.push(Skipped {
                digest,
                license_id: c.receipt.license_id.to_string(),
                reason,
            }),
        }
    }
    Ok((ready, skipped))
}

/// One claim transaction: a root, its payment token, and up to `--per-tx` leaves.
type ClaimBatch = (B256, Address, Vec<Escrow::Claim>);

/// Orders the ready claims and groups them into transactions. Oldest commit first (by the
/// position of its `BatchCommitted` event: several batches can share a block time), and within a
/// root each run's counts in increasing order. The funds do not depend on the order (a
/// relayer's batches share its line's reserved pool); each claim is checked against what the
/// ones before it leave of that pool, so that one short line does not revert a transaction of
/// good claims (those are skipped instead).
async fn plan_transactions(
    chain: &Chain,
    mut ready: Vec<Ready>,
    per_tx: usize,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<ClaimBatch>> {
    let roots: BTreeSet<B256> = ready.iter().map(|r| r.root).collect();
    let mut order: BTreeMap<B256, (u64, u64)> = BTreeMap::new();
    for root in roots {
        order.insert(root, commit_position(chain, root).await?);
    }
    ready.sort_by_key(|r| (order[&r.root], r.root, r.cumulative));
    let mut plan = Plan::default();
    let mut by_root: Vec<ClaimBatch> = Vec::new();
    for r in ready {
        if let Err(reason) = plan.book(&r.draw, r.cumulative) {
            skipped.push(Skipped {
                digest: r.digest,
                license_id: r.license_id.to_string(),
                reason,
            });
            continue;
        }
        match by_root.last_mut() {
            Some((root, _, claims)) if *root == r.root && claims.len() < per_tx => {
                claims.push(r.claim);
            }
            _ => by_root.push((r.root, r.token, vec![r.claim])),
        }
    }
    Ok(by_root)
}

/// Sends the claim transactions one after the other (or, in a dry run, only lists them), and
/// adds up what each paid, per payee, and to `payee` per token.
async fn send_claims(
    chain: &Chain,
    transactions: Vec<ClaimBatch>,
    payee: Address,
    dry_run: bool,
) -> Result<(Vec<ClaimTx>, BTreeMap<Address, U256>)> {
    let escrow = chain.escrow();
    let mut claims = Vec::new();
    let mut to_payee: BTreeMap<Address, U256> = BTreeMap::new();
    for (root, token, batch) in transactions {
        let receipts = batch.len();
        if dry_run {
            claims.push(ClaimTx {
                root,
                receipts,
                paid: BTreeMap::new(),
                fees: "0".into(),
                token,
                tx: None,
            });
            continue;
        }
        let receipt = chain.send("claim", escrow.claim(root, batch)).await?;
        let mut paid: BTreeMap<Address, U256> = BTreeMap::new();
        let mut fees = U256::ZERO;
        for e in emitted::<TrainingEscrow::UsageSettled>(&receipt) {
            *paid.entry(e.payee).or_default() += e.amount - e.fee;
            fees += e.fee;
            if e.payee == payee {
                *to_payee.entry(e.token).or_default() += e.amount - e.fee;
            }
        }
        claims.push(ClaimTx {
            root,
            receipts,
            paid: paid.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
            fees: fees.to_string(),
            token,
            tx: Some(Sent::new("claim", &receipt)),
        });
    }
    Ok((claims, to_payee))
}
