//! The checks of an audit as pure functions of the batch's published data, the indexed batch
//! ([`Committed`]) and the chain state at its commit ([`AtCommit`]): no database, no chain.
//!
//! The pricing rule is explained in the [module docs](super).

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::{
    batch::{self, BatchData},
    bindings::Escrow::Acceptance,
    EscrowDomain, ReceiptTree,
};

use super::report::{
    check, AuditReport, Audited, ReceiptAudit, ReservationAudit, CLAIMS_CHECK, RESERVATIONS_CHECK,
};
use crate::{units::parse_amount, Result};

/// The indexed batch, as an audit judges it.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    /// The committed root, as stored.
    pub(crate) root: String,
    /// The relayer that committed it.
    pub(crate) relayer: String,
    /// The committed number of receipts.
    pub(crate) receipt_count: i64,
    /// The committed `keccak256` of the data.
    pub(crate) data_hash: String,
    /// Where the data is published.
    pub(crate) data_uri: String,
    /// Block of the commit.
    pub(crate) block_number: u64,
    /// Time of that block.
    pub(crate) block_time: u64,
    /// Its commit transaction and claims indexed now.
    pub(crate) seen: Audited,
    /// What the commit reserved on-chain per (payer, token).
    pub(crate) reservations: BTreeMap<(String, String), U256>,
}

/// One claim (settlement) of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The usage key settled.
    pub(crate) usage_key: String,
    /// The cumulative count settled to.
    pub(crate) cumulative_samples: u64,
    /// The amount paid.
    pub(crate) amount: U256,
}

/// A batch's relayer's line (payer, relayer, token) as it was just before the commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LineAtCommit {
    /// Its `reservedUntil` (0: nothing reserved since its last release, or ever).
    pub(crate) reserved_until: i64,
    /// Block of its last release (0: never released).
    pub(crate) since_block: i64,
    /// Whether no release could come before the commit (`reservedUntil > commit time`): only
    /// then do the relayer's earlier batches (since `since_block`) lower what the batch must
    /// reserve.
    pub(crate) locked: bool,
    /// When locked: the line's earlier batches (since `since_block`) without a stored audit.
    pub(crate) unaudited_earlier: i64,
}

/// The validity window of a payer's signing key (`signerOf`; 0 = never / not revoked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KeyWindow {
    pub(crate) registered_at: u64,
    pub(crate) revoked_at: u64,
}

/// The chain state at the commit that the receipts are judged by, read once per key, payer and
/// acceptance (see `super::chain`).
#[derive(Debug, Clone, Default)]
pub(crate) struct AtCommit {
    /// Per (payer, signer): the key's window.
    pub(crate) keys: HashMap<(Address, Address), KeyWindow>,
    /// Per (payer, license, terms): the acceptance.
    pub(crate) acceptances: HashMap<(Address, U256, u64), Acceptance>,
    /// Per usage key: `settledSamples`.
    pub(crate) settled: HashMap<B256, u64>,
    /// Per usage key whose line was locked: the highest count of the relayer's earlier batches.
    pub(crate) earlier: HashMap<B256, u64>,
}

/// The report of `batch` before any check: every figure empty.
pub(crate) fn new_report(batch: &Committed, chain_id: u64, escrow: Address) -> AuditReport {
    AuditReport {
        root: batch.root.clone(),
        chain_id,
        escrow: format!("{escrow:#x}"),
        data_uri: batch.data_uri.clone(),
        committed_data_hash: batch.data_hash.clone(),
        computed_data_hash: String::new(),
        commit_block: batch.block_number,
        commit_time: batch.block_time,
        passed: false,
        checks: Vec::new(),
        receipts: Vec::new(),
        reservations: Vec::new(),
        total_expected: "0".into(),
        total_claimed: "0".into(),
    }
}

/// Checks the data's hash against the commitment, parses the document and checks it names this
/// chain, escrow, root and receipt count, and that its leaves rebuild the root. The document,
/// unless it does not parse.
pub(crate) fn document(
    report: &mut AuditReport,
    bytes: &[u8],
    batch: &Committed,
    root: B256,
    domain: &EscrowDomain,
    (chain_id, escrow): (u64, Address),
) -> Option<BatchData> {
    let hash = format!("{:#x}", batch::data_hash(bytes));
    report.computed_data_hash = hash.clone();
    let checks = &mut report.checks;
    check(
        checks,
        "data hash matches the commitment",
        hash == batch.data_hash,
        format!("keccak256(data) {hash}, committed {}", batch.data_hash),
    );
    let doc = match BatchData::parse(bytes) {
        Ok(doc) => doc,
        Err(e) => {
            check(checks, "document parses", false, e.to_string());
            return None;
        }
    };
    let version = format!("version {}", doc.version);
    check(checks, "document parses", true, version);
    check(
        checks,
        "document names this chain and escrow",
        doc.chain_id == chain_id && doc.escrow == escrow,
        format!("chain {} escrow {:#x}", doc.chain_id, doc.escrow),
    );
    check(
        checks,
        "document root is the committed root",
        doc.root == root,
        format!("document {:#x}", doc.root),
    );
    check(
        checks,
        "receipt count matches the commitment",
        doc.receipts.len() as i64 == batch.receipt_count,
        format!(
            "document {}, committed {}",
            doc.receipts.len(),
            batch.receipt_count
        ),
    );
    let leaves = batch::leaves(domain, &doc.receipts);
    let rebuilt = ReceiptTree::from_leaves(&leaves).map(|t| t.root());
    check(
        checks,
        "leaves rebuild the committed root",
        rebuilt.as_ref().is_ok_and(|r| *r == root),
        match &rebuilt {
            Ok(r) => format!("rebuilt {r:#x}"),
            Err(e) => e.to_string(),
        },
    );
    Some(doc)
}

/// The signer each receipt of `doc` recovers to (`None`: no valid signature).
pub(crate) fn signers(doc: &BatchData, domain: &EscrowDomain) -> Vec<Option<Address>> {
    doc.receipts
        .iter()
        .map(|sr| sr.recover(domain).ok())
        .collect()
}

/// What the chain answers for terms never accepted (all zero).
fn no_acceptance() -> Acceptance {
    Acceptance {
        token: Address::ZERO,
        pricePerSample: Default::default(),
        acceptedAt: Default::default(),
        chargeableFrom: Default::default(),
        expiresAt: Default::default(),
        maxSamples: 0,
        samplesCharged: 0,
    }
}

/// Samples a receipt adds over `before`, within what the terms' cap leaves (`charged` holds what
/// the batch's earlier receipts of the acceptance used).
fn capped(
    acc: &Acceptance,
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

/// The counts the batch's receipts start from, per usage key: with and without the relayer's
/// earlier batches, and what the terms' cap left, as the receipts are taken in order.
#[derive(Default)]
struct Counts {
    settled: HashMap<B256, u64>,
    settled_only: HashMap<B256, u64>,
    charged: HashMap<(Address, U256, u64), u64>,
    charged_max: HashMap<(Address, U256, u64), u64>,
}

impl Counts {
    /// Samples the receipt owes for: counted from the relayer's earlier batches too (`samples`)
    /// and from the settled count only (`samples_max`, what a claim can pay); and the count
    /// before it.
    fn take(
        &mut self,
        at: &AtCommit,
        acc: &Acceptance,
        key: B256,
        cap_key: (Address, U256, u64),
        cumulative: u64,
    ) -> (u64, u64, u64) {
        let (before, before_max) = match (self.settled.get(&key), self.settled_only.get(&key)) {
            (Some(s), Some(m)) => (*s, *m),
            _ => {
                let on_chain = at.settled.get(&key).copied().unwrap_or_default();
                let earlier = at.earlier.get(&key).copied().unwrap_or_default();
                (on_chain.max(earlier), on_chain)
            }
        };
        let samples = capped(acc, &mut self.charged, cap_key, cumulative, before);
        let samples_max = capped(acc, &mut self.charged_max, cap_key, cumulative, before_max);
        self.settled.insert(key, before.max(cumulative));
        self.settled_only.insert(key, before_max.max(cumulative));
        (samples, samples_max, before)
    }
}

/// Judges each receipt (signature, key, acceptance, amount) against the chain state at the
/// commit (`commit_time`), given the signer each recovers to; fills `report.receipts` and
/// `total_expected`, adds the three receipt checks, and returns what the receipts owe per
/// (payer, token).
pub(crate) fn receipts(
    report: &mut AuditReport,
    doc: &BatchData,
    signers: &[Option<Address>],
    at: &AtCommit,
) -> BTreeMap<(String, String), U256> {
    let commit_time = report.commit_time;
    let mut counts = Counts::default();
    let mut expected_by: BTreeMap<(String, String), U256> = BTreeMap::new();
    let mut total_expected = U256::ZERO;
    let (mut bad_sigs, mut bad_keys, mut bad_acceptances) = (0, 0, 0);
    for (index, (sr, signer)) in doc.receipts.iter().zip(signers).enumerate() {
        let r = sr.receipt();
        let key = r.usage_key();
        let signer_valid = signer.is_some_and(|s| {
            let k = at.keys.get(&(r.payer, s)).copied().unwrap_or_default();
            k.registered_at != 0
                && commit_time >= k.registered_at
                && (k.revoked_at == 0 || commit_time < k.revoked_at)
        });
        let cap_key = (r.payer, r.licenseId, r.termsId);
        let acc = at
            .acceptances
            .get(&cap_key)
            .cloned()
            .unwrap_or_else(no_acceptance);
        let acceptance_valid = acc.acceptedAt != 0
            && commit_time >= acc.chargeableFrom.to::<u64>()
            && (acc.expiresAt.is_zero() || r.issuedAt < acc.expiresAt.to::<u64>());
        let (samples, samples_max, before) =
            counts.take(at, &acc, key, cap_key, r.cumulativeSamples);
        let price = U256::from(acc.pricePerSample);
        let (expected, max_claim) = if signer_valid && acceptance_valid {
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
    report.total_expected = total_expected.to_string();
    expected_by
}

/// Checks the reservations: the document's equal the chain's (`on_chain`, per payer and
/// token), and cover what the receipts owe (`expected_by`, from [`receipts`]) by the pricing
/// rule, given the relayer's `lines` at the commit. Fills `report.reservations`.
pub(crate) fn reservations(
    report: &mut AuditReport,
    doc: &BatchData,
    on_chain: &BTreeMap<(String, String), U256>,
    expected_by: &BTreeMap<(String, String), U256>,
    lines: &HashMap<(String, String), LineAtCommit>,
) {
    let mut doc_res: BTreeMap<(String, String), U256> = BTreeMap::new();
    for r in &doc.reservations {
        *doc_res
            .entry((format!("{:#x}", r.payer), format!("{:#x}", r.token)))
            .or_default() += r.amount;
    }
    let mut keys: Vec<(String, String)> = doc_res
        .keys()
        .chain(on_chain.keys())
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
            on_chain.get(&k).copied().unwrap_or_default(),
            expected_by.get(&k).copied().unwrap_or_default(),
        );
        let line = lines.get(&k).copied();
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
                Some(l) => l.basis(report.commit_time),
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
    let detail = format!(
        "{} reservation(s){surplus_note}{detail_note}",
        report.reservations.len()
    );
    check(&mut report.checks, RESERVATIONS_CHECK, res_ok, detail);
}

impl LineAtCommit {
    /// Why the rule required what it did of an under-reserved batch committed at
    /// `commit_time`, in words.
    pub(crate) fn basis(&self, commit_time: u64) -> String {
        const SETTLED_ONLY: &str = "so the required amount counts from the settled samples, not \
                                    from the counts of the relayer's earlier batches";
        if self.reserved_until == 0 && self.since_block > 0 {
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
            let mut why = format!(
                "the relayer's line was locked (reservedUntil {} > commit time {commit_time}), \
                 so the required amount counts from the relayer's earlier batches since the \
                 line's last release",
                self.reserved_until
            );
            if self.unaudited_earlier > 0 {
                why.push_str(&format!(
                    "; {} earlier batch(es) of the line not audited: counts start from \
                     the settled ones only, so a run spanning those batches looks under-reserved",
                    self.unaudited_earlier
                ));
            }
            why
        }
    }
}

/// The status of a receipt that owes `expected` (at most `max_claim` to a claim) and was paid
/// `claimed`.
fn receipt_status(valid: bool, expected: U256, max_claim: U256, claimed: U256) -> &'static str {
    if !valid {
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
}

/// Sets each receipt's `claimed` and `status` and the report's `total_claimed` from the batch's
/// `claims`, and (re)places the claims check last. Every other figure of a report depends only
/// on the committed data and the chain state at the commit.
pub(crate) fn apply_claims(report: &mut AuditReport, claims: &[Claim]) -> Result<()> {
    // A claim settles one receipt: the one of its usage key and cumulative count.
    let mut by_receipt: HashMap<(&str, u64), U256> = HashMap::new();
    for c in claims {
        *by_receipt
            .entry((c.usage_key.as_str(), c.cumulative_samples))
            .or_default() += c.amount;
    }
    let audited: HashSet<(&str, u64)> = report
        .receipts
        .iter()
        .map(|r| (r.usage_key.as_str(), r.cumulative_samples))
        .collect();
    let unknown = claims
        .iter()
        .filter(|c| !audited.contains(&(c.usage_key.as_str(), c.cumulative_samples)))
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
        let valid = r.signer_valid && r.acceptance_valid;
        r.status = receipt_status(valid, expected, max_claim, claimed).into();
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

#[cfg(test)]
mod tests {
    use alloy::primitives::aliases::{U40, U96};
    use fairtrain_protocol::{
        batch::{Reservation, BATCH_DATA_VERSION},
        Receipt, ReceiptSignature, SignedReceipt,
    };

    use super::*;

    const PAYER: Address = Address::repeat_byte(0xaa);
    const KEY: Address = Address::repeat_byte(0xbb);
    const TOKEN: Address = Address::repeat_byte(0xcc);
    const PRICE: u64 = 1000;

    fn committed() -> Committed {
        Committed {
            root: "0xroot".into(),
            relayer: "0xrelayer".into(),
            receipt_count: 2,
            data_hash: "0xhash".into(),
            data_uri: "https://data".into(),
            block_number: 10,
            block_time: 1_000,
            seen: Audited {
                commit_tx: "0xtx".into(),
                claims: 0,
            },
            reservations: BTreeMap::new(),
        }
    }

    fn signed(cumulative: u64) -> SignedReceipt {
        let receipt = Receipt {
            payer: PAYER,
            licenseId: U256::from(1),
            termsId: 1,
            runId: B256::repeat_byte(9),
            cumulativeSamples: cumulative,
            issuedAt: 900,
        };
        // Recovery is not part of these checks: the signer is given.
        let mut sig = [0u8; 65];
        sig[31] = 1;
        sig[63] = 1;
        sig[64] = 27;
        SignedReceipt::new(&receipt, ReceiptSignature::from_slice(&sig).unwrap())
    }

    fn doc(counts: &[u64], reserved: u64) -> BatchData {
        BatchData {
            version: BATCH_DATA_VERSION,
            chain_id: 1,
            escrow: Address::ZERO,
            root: B256::ZERO,
            receipts: counts.iter().map(|c| signed(*c)).collect(),
            reservations: vec![Reservation {
                payer: PAYER,
                token: TOKEN,
                amount: U256::from(reserved),
            }],
        }
    }

    /// The chain at the commit: the key valid, the terms accepted at `PRICE`, `settled` samples
    /// settled, and `earlier` counted in the relayer's earlier batches (a locked line).
    fn chain(settled: u64, earlier: Option<u64>) -> AtCommit {
        let key = signed(0).receipt().usage_key();
        let mut at = AtCommit::default();
        at.keys.insert(
            (PAYER, KEY),
            KeyWindow {
                registered_at: 500,
                revoked_at: 0,
            },
        );
        let mut acc = no_acceptance();
        acc.token = TOKEN;
        acc.pricePerSample = U96::from(PRICE);
        acc.acceptedAt = U40::from(100);
        acc.chargeableFrom = U40::from(200);
        at.acceptances.insert((PAYER, U256::from(1), 1), acc);
        at.settled.insert(key, settled);
        if let Some(e) = earlier {
            at.earlier.insert(key, e);
        }
        at
    }

    fn line(locked: bool) -> HashMap<(String, String), LineAtCommit> {
        let l = LineAtCommit {
            reserved_until: if locked { 2_000 } else { 0 },
            since_block: 0,
            locked,
            unaudited_earlier: 0,
        };
        HashMap::from([((format!("{PAYER:#x}"), format!("{TOKEN:#x}")), l)])
    }

    fn on_chain(amount: u64) -> BTreeMap<(String, String), U256> {
        BTreeMap::from([(
            (format!("{PAYER:#x}"), format!("{TOKEN:#x}")),
            U256::from(amount),
        )])
    }

    /// Two receipts of one run: each owes its increase over the count before it.
    #[test]
    fn receipts_owe_their_increase_from_the_settled_count() {
        let mut report = new_report(&committed(), 1, Address::ZERO);
        let d = doc(&[100, 150], 140_000);
        let expected = receipts(&mut report, &d, &[Some(KEY), Some(KEY)], &chain(10, None));
        let samples: Vec<_> = report.receipts.iter().map(|r| r.samples).collect();
        assert_eq!(samples, [90, 50]);
        assert_eq!(report.total_expected, "140000");
        assert!(
            report.checks.iter().all(|c| c.passed),
            "{:?}",
            report.checks
        );
        reservations(&mut report, &d, &on_chain(140_000), &expected, &line(false));
        assert!(report.checks.last().unwrap().passed);
    }

    /// While the line is locked, counts start from the relayer's earlier batches; a batch that
    /// reserves less than the rule requires fails, with the reason in words.
    #[test]
    fn reservations_follow_the_pricing_rule() {
        let mut report = new_report(&committed(), 1, Address::ZERO);
        let d = doc(&[100], 60_000);
        let expected = receipts(&mut report, &d, &[Some(KEY)], &chain(10, Some(40)));
        assert_eq!(report.receipts[0].samples, 60);
        assert_eq!(report.receipts[0].max_claim, "90000");
        reservations(&mut report, &d, &on_chain(60_000), &expected, &line(true));
        assert!(report.checks.last().unwrap().passed);

        let mut report = new_report(&committed(), 1, Address::ZERO);
        let d = doc(&[100], 60_000);
        let expected = receipts(&mut report, &d, &[Some(KEY)], &chain(10, None));
        reservations(&mut report, &d, &on_chain(60_000), &expected, &line(false));
        let check = report.checks.last().unwrap();
        assert!(!check.passed);
        assert!(check.detail.contains("short by 30000"), "{}", check.detail);
        assert!(
            check.detail.contains("held no reservation"),
            "{}",
            check.detail
        );
    }

    /// A receipt whose signature does not recover, or whose key was not valid at the commit,
    /// owes nothing and fails its check.
    #[test]
    fn invalid_receipts_owe_nothing() {
        let mut report = new_report(&committed(), 1, Address::ZERO);
        let d = doc(&[100, 150], 0);
        let other = Address::repeat_byte(0xdd);
        receipts(&mut report, &d, &[None, Some(other)], &chain(0, None));
        assert_eq!(report.total_expected, "0");
        let failed: Vec<_> = report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "every signature recovers",
                "every key was registered for its payer at commit time"
            ]
        );
    }

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

    fn settlement(cumulative: u64, amount: u64) -> Claim {
        Claim {
            usage_key: "0xkey1".into(),
            cumulative_samples: cumulative,
            amount: U256::from(amount),
        }
    }

    /// Two receipts of one run in one batch: each claim is matched to the receipt of its count,
    /// not summed over the run.
    #[test]
    fn claims_match_receipts_by_usage_key_and_count() {
        let mut report = new_report(&committed(), 1, Address::ZERO);
        report.receipts = vec![receipt(0, 206, 206_000), receipt(1, 210, 4_000)];
        report.total_expected = "210000".into();
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
