//! Responses of the indexer's HTTP API (`/api/...`; see `indexer/README.md`): the indexer answers
//! with these types and generates its OpenAPI document from them (feature `openapi`); clients read
//! them typed. Amounts are `uint256` decimal strings, addresses and hashes lowercase `0x` hex,
//! times Unix seconds.

use serde::{Deserialize, Serialize};

/// A page of items with the chain position they reflect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Paged<T> {
    /// The items.
    pub items: Vec<T>,
    /// Page number.
    pub page: u64,
    /// Items per page.
    pub per_page: u64,
    /// Items in all pages.
    pub total: u64,
    /// Where the index stands.
    pub status: Status,
}

/// Where the index stands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    /// Chain id.
    pub chain_id: u64,
    /// Last indexed block (`latest` view).
    pub indexed_block: u64,
    /// Chain head at the last poll.
    pub head_block: u64,
    /// Newest finalized block the index covers (`finalized` view).
    pub finalized_block: u64,
    /// Raw events stored.
    pub events: u64,
}

/// How royalty totals are grouped.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// Per license (and token).
    #[default]
    License,
    /// Per creator (and token).
    Creator,
    /// Per payee (and token).
    Payee,
    /// Per UTC day (and token).
    Day,
}

/// Royalty totals of one group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoyaltyTotal {
    /// The group's key (license id, creator, payee or day).
    pub key: String,
    /// Payment token.
    pub token: String,
    /// Samples charged.
    pub samples: i64,
    /// Charged amount (net + fee).
    pub gross: String,
    /// Platform fee.
    pub fee: String,
    /// Paid to the payee.
    pub net: String,
    /// Settlements counted.
    pub settlements: i64,
}

/// A license with its royalty totals.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseView {
    /// Token id.
    pub license_id: String,
    /// Minter.
    pub creator: String,
    /// Current holder (paid on settlement).
    pub holder: String,
    /// Current terms id.
    pub terms_id: i64,
    /// Terms version.
    pub version: i64,
    /// Manifest hash.
    pub manifest_hash: String,
    /// EIP-2981 royalty.
    pub royalty_bps: i64,
    /// Mint block.
    pub minted_block: i64,
    /// Price per sample of the current terms.
    pub price_per_sample: Option<String>,
    /// Payment token of the current terms.
    pub payment_token: Option<String>,
    /// Terms URI.
    pub terms_uri: Option<String>,
}

/// A payer's funds in one token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BalanceView {
    /// Payer.
    pub payer: String,
    /// Token.
    pub token: String,
    /// Refundable, chargeable balance.
    pub available: String,
    /// Reserved by batches, Σ over the payer's credit lines in the token.
    pub reserved: String,
    /// Deposited in total.
    pub deposited: String,
    /// Withdrawn in total.
    pub withdrawn: String,
    /// Charged in total (settlements, fees included).
    pub spent: String,
    /// Σ credit of the payer's lines in the token.
    pub credit: String,
    /// The payer's credit lines in the token.
    pub credit_lines: Vec<CreditLineView>,
}

/// A committed batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchView {
    /// Merkle root.
    pub root: String,
    /// Committing relayer.
    pub relayer: String,
    /// Receipts in the batch.
    pub receipt_count: i64,
    /// Committed hash of the batch data.
    pub data_hash: String,
    /// Where the batch data is published.
    pub data_uri: String,
    /// Commit block.
    pub block_number: i64,
    /// Commit time.
    pub block_time: i64,
    /// Commit transaction.
    pub tx_hash: String,
    /// Reserved at commit (into the relayer's credit lines).
    pub reserved: String,
    /// Settled by claims (fees included), drawn on the relayer's lines.
    pub settled: String,
    /// Fees of those claims.
    pub fees: String,
    /// Claims (settlements) made.
    pub claims: i64,
    /// Where the batch's audit stands.
    pub audit: AuditStatus,
}

/// One reservation of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReservationView {
    /// Payer.
    pub payer: String,
    /// Token.
    pub token: String,
    /// Relayer whose credit line the batch reserved into (its claims draw on that line).
    pub relayer: String,
    /// Moved from the line's credit to its reserved funds at commit (may be 0).
    pub amount: String,
    /// Claims close at this time.
    pub expires_at: i64,
}

/// One settlement (a claim of a batch receipt, or a direct settlement).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettlementView {
    /// Block.
    pub block_number: i64,
    /// Log index.
    pub log_index: i64,
    /// Block time.
    pub block_time: i64,
    /// Transaction.
    pub tx_hash: String,
    /// Batch root (zero for direct settlement).
    pub root: String,
    /// Usage key (payer, license, terms, run).
    pub usage_key: String,
    /// Payer (from the transaction's calldata).
    pub payer: Option<String>,
    /// Payee (license holder then).
    pub payee: String,
    /// License.
    pub license_id: String,
    /// Token.
    pub token: String,
    /// Cumulative samples of the receipt.
    pub cumulative_samples: i64,
    /// Samples charged.
    pub samples: i64,
    /// Charged (fee included).
    pub amount: String,
    /// Fee.
    pub fee: String,
}

/// A batch with its reservations and claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchDetail {
    /// The batch.
    pub batch: BatchView,
    /// Its reservations.
    pub reservations: Vec<ReservationView>,
    /// Its first 1,000 claims in chain order (`batch.claims` counts them all; audits read
    /// every one: `batch_claims`).
    pub claims: Vec<SettlementView>,
}

/// What audited batches still owe a payee (or every payee), per license and token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unclaimed {
    /// Batch.
    pub root: String,
    /// License.
    pub license_id: String,
    /// Current holder of the license (who a claim would pay).
    pub payee: String,
    /// Token.
    pub token: String,
    /// Owed by the batch's receipts of this license (fees included).
    pub expected: String,
    /// Claimed so far.
    pub claimed: String,
    /// Still claimable (expected − claimed).
    pub unclaimed: String,
    /// Claims close at this time.
    pub expires_at: i64,
}

/// Royalties and usage of each creator, for the dashboard: per creator and token, gross, fee,
/// net (claimed) and unclaimed (from audited batches), with license counts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatorView {
    /// Creator.
    pub creator: String,
    /// Token.
    pub token: String,
    /// Licenses minted.
    pub licenses: i64,
    /// Samples charged.
    pub samples: i64,
    /// Charged in total.
    pub gross: String,
    /// Fees.
    pub fee: String,
    /// Claimed (paid to holders).
    pub claimed: String,
    /// Owed by audited batches, not yet claimed.
    pub unclaimed: String,
}

/// One credit line and its pending credit reduction. Amounts are decimal strings, times Unix
/// seconds; 0 when none.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditLineView {
    /// Payer that funded the line.
    pub payer: String,
    /// Relayer whose batches reserve from it.
    pub relayer: String,
    /// Token.
    pub token: String,
    /// What the relayer may still reserve.
    pub credit: String,
    /// Reserved by the relayer's committed batches and not paid (one pool for all of them).
    pub reserved: String,
    /// Fees of claims paid from the line, not yet swept.
    pub fees: String,
    /// Latest expiry of a batch that reserved into the line since the last release (0 = none).
    pub reserved_until: i64,
    /// Pending credit reduction (0 = none).
    pub reduction_amount: String,
    /// When the pending reduction can be executed (0 = none).
    pub reduction_effective_at: i64,
}

/// A batch's audit status, as the API, CLI and dashboard show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditStatus {
    /// `pending`, `unavailable`, `passed` or `failed` (see the module docs).
    pub status: String,
    /// Verdict of the latest stored report (`null` if none): may be older than `status` while a
    /// re-audit is pending or the data is unavailable.
    pub passed: Option<bool>,
    /// Unix time of the latest stored report.
    pub checked_at: Option<i64>,
    /// Failed checks (`failed`), last error (`unavailable`, `pending` after a failed attempt),
    /// or why an audit is due (`pending`); `null` when passed.
    pub reason: Option<String>,
    /// Failed attempts since the last report.
    pub attempts: i64,
    /// Unix time (seconds, rounded up) of the next attempt, while `pending` or `unavailable`.
    pub next_retry_at: Option<i64>,
}

/// One named check of an audit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it holds.
    pub passed: bool,
    /// Values compared or the reason it failed.
    pub detail: String,
}

/// One receipt of the batch as audited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptAudit {
    /// Position in the batch (leaf order).
    pub index: usize,
    /// Payer.
    pub payer: String,
    /// License.
    pub license_id: String,
    /// Terms id.
    pub terms_id: u64,
    /// Training run.
    pub run_id: String,
    /// Cumulative samples signed.
    pub cumulative_samples: u64,
    /// Issue time.
    pub issued_at: u64,
    /// Key that signed it (empty if the signature does not recover).
    pub signer: String,
    /// The key was registered for the payer, and not revoked, at commit time.
    pub signer_valid: bool,
    /// The payer had accepted these terms, chargeable at commit time.
    pub acceptance_valid: bool,
    /// Usage key (payer, license, terms, run).
    pub usage_key: String,
    /// Payment token of the acceptance.
    pub token: String,
    /// Price per sample of the acceptance.
    pub price_per_sample: String,
    /// Samples already covered for the usage key under the pricing rule: settled at commit
    /// time, or counted by a receipt of an earlier audited batch of the same relayer while its
    /// line was locked (the relayer reserves only the increase over those).
    pub settled_before: u64,
    /// Samples this receipt adds under the pricing rule (within the terms' cap).
    pub samples: u64,
    /// What it adds under the pricing rule (fee included): its part of the required reservation.
    pub expected: String,
    /// The most a claim of it can pay (fee included): its increase over the count settled at
    /// commit time (earlier batches' receipts may be claimed after it, or never).
    #[serde(default)]
    pub max_claim: String,
    /// What claims of this batch paid for it (fee included).
    pub claimed: String,
    /// `claimed`, `unclaimed`, `partly claimed`, `over claimed` or `invalid`.
    pub status: String,
}

/// One reservation: in the document, on-chain, and justified by the receipts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReservationAudit {
    /// Payer.
    pub payer: String,
    /// Token.
    pub token: String,
    /// In the published document.
    pub document: String,
    /// Reserved on-chain (`FundsReserved`).
    pub on_chain: String,
    /// What the pricing rule requires (what the receipts add up to).
    pub expected: String,
    /// Whether the relayer's line was locked just before the commit, so that the rule counts
    /// the relayer's earlier batches.
    #[serde(default)]
    pub line_locked: bool,
}

/// The audit of one batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditReport {
    /// Merkle root (the batch id).
    pub root: String,
    /// Chain.
    pub chain_id: u64,
    /// Escrow.
    pub escrow: String,
    /// Where the data was fetched from.
    pub data_uri: String,
    /// `dataHash` committed on-chain.
    pub committed_data_hash: String,
    /// `keccak256` of the fetched bytes (empty if nothing was fetched).
    pub computed_data_hash: String,
    /// Commit block.
    pub commit_block: u64,
    /// Commit time.
    pub commit_time: u64,
    /// Whether every check passed.
    pub passed: bool,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// Every receipt.
    pub receipts: Vec<ReceiptAudit>,
    /// Every reservation.
    pub reservations: Vec<ReservationAudit>,
    /// Σ expected.
    pub total_expected: String,
    /// Σ claimed.
    pub total_claimed: String,
}

/// One stream, as of the latest indexed block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamView {
    /// Stream id.
    pub stream_id: String,
    /// Who pays.
    pub payer: String,
    /// The license paid (its holders over time are the payees).
    pub license_id: String,
    /// Token streamed.
    pub token: String,
    /// Who may pause it besides the payer (zero address: nobody).
    pub operator: String,
    /// Token base units per second × 1e18.
    pub rate: String,
    /// Start time (seconds).
    pub start_time: i64,
    /// End time (0: open-ended).
    pub end_time: i64,
    /// Lifecycle as stored by the contract: `active`, `paused` or `cancelled`.
    pub status: String,
    /// State at `as_of` (`stateOf`): `pending`, `streaming`, `insolvent`, `paused`, `ended`
    /// or `cancelled`.
    pub state: StreamState,
    /// Deposited in total.
    pub deposited: String,
    /// Transferred to the license's holder (`StreamWithdrawn`).
    pub withdrawn: String,
    /// Booked to holders' `owedTo` (`AccrualCredited`).
    pub credited: String,
    /// Refunded to the payer on cancellation.
    pub refunded: String,
    /// Deposited and neither credited nor refunded (`getStream().balance` after the last event).
    pub balance: String,
    /// Accrued by `as_of`, not yet credited, covered by the balance (`withdrawableAmountOf`).
    pub withdrawable: String,
    /// Accrued by `as_of` beyond the balance (`uncoveredDebtOf`; a cancelled stream's written-off
    /// debt stays in `written_off`).
    pub uncovered_debt: String,
    /// Debt written off by the cancellation.
    pub written_off: String,
    /// Streamed to holders by `as_of`: withdrawn + credited + withdrawable.
    pub streamed: String,
    /// The time the state is computed for (the latest indexed block's timestamp).
    pub as_of: u64,
}

/// What streams paid one license holder in one token (all streams together).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamPayeeView {
    /// The holder (a license's payee for the time it held the license).
    pub holder: String,
    /// Token.
    pub token: String,
    /// Transferred by `withdraw` while it held the license.
    pub withdrawn: String,
    /// Booked to its `owedTo` balance (past holdings, settlements by anyone, payer operations).
    pub credited: String,
    /// Paid out of `owedTo` (`withdrawOwed`).
    pub owed_withdrawn: String,
    /// Still in `owedTo` (credited − owed_withdrawn).
    pub owed: String,
    /// Received in total: withdrawn + owed_withdrawn.
    pub received: String,
}

/// A pool's totals in one accepted token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoolTokenView {
    /// Token.
    pub token: String,
    /// Income booked by `distribute` (`tokenState.received`).
    pub distributed: String,
    /// Paid to holders by `claim` (`tokenState.paidOut`).
    pub claimed: String,
    /// Distributed and not claimed yet.
    pub unclaimed: String,
    /// Number of distributions.
    pub distributions: i64,
    /// Accumulator per share, scaled by 1e36.
    pub acc_per_share: String,
    /// Remainder of the last division (scaled), carried into the next distribution.
    pub carry: String,
}

/// A pool with its totals per token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoolView {
    /// The pool (also its share token).
    pub pool: String,
    /// The factory that created it.
    pub factory: String,
    /// Who created it.
    pub creator: String,
    /// May add tokens and update license terms (zero address: nobody).
    pub manager: String,
    /// Whether shares can move (false: a fixed split).
    pub transferable: bool,
    /// Share token name.
    pub name: String,
    /// Share token symbol.
    pub symbol: String,
    /// Shares in existence (fixed at creation).
    pub total_supply: String,
    /// Block of creation.
    pub created_block: i64,
    /// Holders with shares.
    pub holders: i64,
    /// Totals per accepted token.
    pub tokens: Vec<PoolTokenView>,
}

/// One holder of a pool's shares, per token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HolderTokenView {
    /// Token.
    pub token: String,
    /// Claimed in total.
    pub claimed: String,
    /// Claimable now (`claimable(holder, token)` at the latest indexed block).
    pub claimable: String,
}

/// One holder of a pool's shares.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HolderView {
    /// Holder.
    pub holder: String,
    /// Shares held.
    pub shares: String,
    /// Claimed and claimable per accepted token.
    pub tokens: Vec<HolderTokenView>,
}

/// A pool with every holder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoolDetail {
    /// The pool and its totals.
    #[serde(flatten)]
    pub pool: PoolView,
    /// Holders (also past holders with claims), by shares, largest first.
    pub holder_list: Vec<HolderView>,
}

/// A stream's state at some time, as `RoyaltyStreams.stateOf` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StreamState {
    /// Active, before its start time.
    Pending,
    /// Active, accruing, and its balance covers what accrued.
    Streaming,
    /// Active or paused, and what accrued exceeds its balance.
    Insolvent,
    /// Paused, no debt.
    Paused,
    /// Past its end time, no debt.
    Ended,
    /// Cancelled (final).
    Cancelled,
}

/// One royalty flow (one `UsageSettled`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flow {
    /// Block.
    pub block_number: i64,
    /// Block time (Unix seconds).
    pub block_time: i64,
    /// Transaction.
    pub tx_hash: String,
    /// Log index.
    pub log_index: i64,
    /// `batch` (claim of a committed batch) or `direct` (settleDirect).
    pub kind: String,
    /// Batch root (zero for direct).
    pub root: String,
    /// Payer.
    pub payer: String,
    /// Payee (license holder at settlement).
    pub payee: String,
    /// License.
    pub license_id: String,
    /// Creator of the license.
    pub creator: String,
    /// Token.
    pub token: String,
    /// Samples charged.
    pub samples: i64,
    /// Charged to the payer (fee included).
    pub gross: String,
    /// Platform fee.
    pub fee: String,
    /// Paid to the payee.
    pub net: String,
}

impl StreamState {
    /// The state's name (`streaming`, `insolvent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Streaming => "streaming",
            Self::Insolvent => "insolvent",
            Self::Paused => "paused",
            Self::Ended => "ended",
            Self::Cancelled => "cancelled",
        }
    }

    /// From `Streams.State` as `stateOf` returns it (`None` for `Null`).
    pub fn from_chain(state: u8) -> Option<Self> {
        Some(match state {
            1 => Self::Pending,
            2 => Self::Streaming,
            3 => Self::Insolvent,
            4 => Self::Paused,
            5 => Self::Ended,
            6 => Self::Cancelled,
            _ => return None,
        })
    }
}

/// Name of the first check, whose failure means the data was not there to audit.
pub const DATA_FETCHED: &str = "data fetched";

impl AuditReport {
    /// The failed checks, `name: detail`, joined by `; ` (empty if the audit passed).
    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Whether the data could be fetched (a report without it only says it was unavailable).
    pub fn data_fetched(&self) -> bool {
        self.checks
            .first()
            .is_some_and(|c| c.name != DATA_FETCHED || c.passed)
    }

    /// A readable summary: verdict, then each check.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "batch {} (block {}): {}\n",
            self.root,
            self.commit_block,
            if self.passed { "PASSED" } else { "FAILED" }
        );
        for c in &self.checks {
            s.push_str(&format!(
                "  [{}] {}: {}\n",
                if c.passed { "ok" } else { "FAIL" },
                c.name,
                c.detail
            ));
        }
        s.push_str(&format!(
            "  receipts {}, owed {}, claimed {}\n",
            self.receipts.len(),
            self.total_expected,
            self.total_claimed
        ));
        s
    }
}

/// An amount of a token for people and machines: base units, and whole tokens with the token's
/// symbol when the token told its `symbol()` and `decimals()`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Amount {
    /// The token.
    pub token: String,
    /// Base units (`uint256` decimal string).
    pub units: String,
    /// Whole tokens and symbol (`182.26 fUSD`), or the base units and `units of <token>` when
    /// the token does not say.
    pub display: String,
}

/// A quantum device profile's summary, for filtering and cards (docs/manifest.md §7).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceSummary {
    /// Provider.
    pub provider: String,
    /// Backend.
    pub backend: String,
    /// Qubits.
    pub qubits: u32,
    /// Calibration time (Unix seconds).
    pub calibrated_at: u64,
    /// Shots per circuit.
    pub shots: u64,
    /// The largest error of a gate on two or more qubits, if stated.
    pub max_two_qubit_error: Option<f64>,
}

/// A licensed dataset in the catalog: a license, its current terms, and the published manifest it
/// covers (signed by the license's creator).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogEntry {
    /// The license.
    pub license_id: String,
    /// Its creator (who signed the manifest).
    pub creator: String,
    /// Its holder (paid for usage).
    pub holder: String,
    /// Current terms id.
    pub terms_id: i64,
    /// `research_only`, `commercial`, `evaluation`, `attribution_share_alike` or `custom`.
    pub kind: String,
    /// What the price is paid per: `sample`, `access` or `inference`.
    pub unit: crate::pricing::Unit,
    /// Price of one unit (the name predates units other than samples).
    pub price_per_sample: Amount,
    /// Cap on units charged per payer (0: none).
    pub max_samples: u64,
    /// When the terms expire (0: never).
    pub expires_at: u64,
    /// Models trained on it may be used commercially.
    pub commercial_use: bool,
    /// Derived works must credit the creator.
    pub attribution_required: bool,
    /// `not_allowed`, `allowed` or `share_alike`.
    pub derivatives: String,
    /// The only payer that may accept the terms, if exclusive.
    pub exclusive_licensee: Option<String>,
    /// Human-readable terms URI (may be empty).
    pub terms_uri: String,
    /// The manifest hash.
    pub manifest_hash: String,
    /// The dataset's name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Files.
    pub file_count: u64,
    /// Their total size in bytes (decimal string).
    pub total_size: String,
    /// Where it is published (the gateway's URL).
    pub gateway: String,
    /// Metadata other than the device profile.
    pub metadata: std::collections::BTreeMap<String, String>,
    /// The quantum device profile, if the manifest carries one.
    pub device: Option<DeviceSummary>,
    /// Payers that accepted any of the license's terms.
    pub payers: u64,
    /// Samples settled under the license.
    pub samples: u64,
    /// Gross royalties settled, per token.
    pub earned: Vec<Amount>,
}

/// A dataset's card: its catalog entry, its terms in plain words, its files, who trained on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetCard {
    /// The entry.
    pub entry: CatalogEntry,
    /// The terms, one plain sentence each.
    pub terms: Vec<String>,
    /// The first files of the manifest (path, size in bytes, keccak256).
    pub files: Vec<CardFile>,
    /// Payers that accepted its terms (the first 100), with the samples each was charged for.
    pub trainers: Vec<Trainer>,
    /// Its accesses under this license, from the publishing gateway's public log.
    pub access: AccessSummary,
    /// The latest 100 of them, newest first.
    pub accesses: Vec<DatasetAccess>,
}

/// What a gateway's log says of a dataset's accesses under one license.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessSummary {
    /// Grants (signed access requests the gateway granted).
    pub grants: u64,
    /// Of those, grants paid by a receipt (terms priced per access).
    pub paid: u64,
    /// File downloads (whole or a range).
    pub downloads: u64,
    /// Payers that were granted access.
    pub payers: u64,
    /// The latest access (Unix seconds), if any.
    pub last_at: Option<u64>,
}

/// One access on a dataset card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetAccess {
    /// `grant` or `download`.
    pub kind: String,
    /// The payer.
    pub payer: String,
    /// The key that signed its request.
    pub signer: String,
    /// A download's file path.
    pub path: Option<String>,
    /// When (Unix seconds).
    pub at: u64,
    /// A grant paid per access: the digest of the receipt that paid for it.
    pub receipt: Option<String>,
}

/// One file on a dataset card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardFile {
    /// Path in the dataset.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// keccak256 of the bytes.
    pub hash: String,
}

/// A payer on a dataset card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trainer {
    /// The payer.
    pub payer: String,
    /// The terms it accepted.
    pub terms_id: i64,
    /// The block of the acceptance.
    pub accepted_block: u64,
    /// Samples settled so far for this payer under the license.
    pub samples: u64,
}

/// A payment token as it states itself (`symbol()`, `decimals()`), for showing amounts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    /// The token.
    pub token: String,
    /// Its symbol (at most 16 printable characters).
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
}
