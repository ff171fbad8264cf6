//! The report types: an [`AuditReport`] and its checks (the protocol's API types), the names of
//! the checks other code looks for, and a batch's [`AuditStatus`] as derived from what is stored
//! about its latest report.

pub use fairtrain_protocol::api::indexer::{
    AuditReport, AuditStatus, Check, ReceiptAudit, ReservationAudit, DATA_FETCHED,
};

/// Name of the last check, the only one that depends on the batch's claims.
pub const CLAIMS_CHECK: &str =
    "claims match receipts of the document and pay no more than they owe";

/// Name of the reservations check.
pub const RESERVATIONS_CHECK: &str =
    "reservations cover what the receipts owe (document = chain ≥ required by the pricing rule)";

/// Appends the check `name` with its outcome and detail to `checks`; returns `passed`.
pub(crate) fn check(
    checks: &mut Vec<Check>,
    name: &str,
    passed: bool,
    detail: impl Into<String>,
) -> bool {
    checks.push(Check {
        name: name.into(),
        passed,
        detail: detail.into(),
    });
    passed
}

/// What an audit saw of its batch, to tell later whether its report is still current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    /// The commit transaction.
    pub commit_tx: String,
    /// Claims (settlements) of the batch indexed at the audit.
    pub claims: i64,
}

/// What is stored about a batch's audit (`audit_queue` and `audits`; `None` where no row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) status: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) attempts: Option<i64>,
    pub(crate) next_attempt_ms: Option<i64>,
    pub(crate) commit_tx: Option<String>,
    pub(crate) claims_audited: Option<i64>,
    pub(crate) passed: Option<bool>,
    pub(crate) checked_at: Option<i64>,
}

impl Stored {
    /// The status of a batch now committed in `commit_tx` with `claims` claims indexed.
    pub(crate) fn status(self, commit_tx: &str, claims: i64) -> AuditStatus {
        let reason = self.reason.filter(|r| !r.is_empty());
        let stale = self.commit_tx.is_some_and(|c| c != commit_tx)
            || self.claims_audited.is_some_and(|c| c != claims);
        let (status, reason, next) = match self.status.as_deref() {
            Some(s @ ("pending" | "unavailable")) => (
                s,
                Some(reason.unwrap_or_else(|| "audit due".into())),
                self.next_attempt_ms.map(|ms| (ms + 999).div_euclid(1000)),
            ),
            // The worker has not seen the change yet (or is off): the report is out of date.
            Some("passed" | "failed") if stale => (
                "pending",
                Some("claims or the commit changed since the last report; audit due".into()),
                None,
            ),
            Some(s @ "failed") => (s, reason, None),
            Some(s) => (s, None, None),
            // No status row: a report from before automatic audits, or none at all.
            None => match self.passed {
                Some(true) => ("passed", None, None),
                Some(false) => ("failed", Some("see the stored report".into()), None),
                None => ("pending", Some("not audited yet".into()), None),
            },
        };
        AuditStatus {
            status: status.into(),
            passed: self.passed,
            checked_at: self.checked_at,
            reason,
            attempts: self.attempts.unwrap_or(0),
            next_retry_at: next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_what_is_stored() {
        let status = |stored: Stored, claims| {
            let s = stored.status("0xc0", claims);
            (s.status, s.passed, s.reason, s.next_retry_at)
        };
        assert_eq!(
            status(Stored::default(), 0),
            ("pending".into(), None, Some("not audited yet".into()), None)
        );
        let passed = Stored {
            status: Some("passed".into()),
            reason: Some(String::new()),
            attempts: Some(0),
            next_attempt_ms: Some(1_000),
            commit_tx: Some("0xc0".into()),
            claims_audited: Some(2),
            passed: Some(true),
            checked_at: Some(7),
        };
        assert_eq!(
            status(passed.clone(), 2),
            ("passed".into(), Some(true), None, None)
        );
        // A claim indexed since the report: due again, the old verdict still given.
        let (s, verdict, reason, _) = status(passed.clone(), 3);
        assert_eq!((s.as_str(), verdict), ("pending", Some(true)));
        assert!(reason.unwrap().contains("claims"));
        // So is a commit moved by a reorganisation.
        let moved = Stored {
            commit_tx: Some("0xc1".into()),
            ..passed.clone()
        };
        assert_eq!(status(moved, 2).0, "pending");
        let unavailable = Stored {
            status: Some("unavailable".into()),
            reason: Some("HTTP 404".into()),
            attempts: Some(3),
            next_attempt_ms: Some(5_001),
            passed: None,
            checked_at: None,
            ..passed.clone()
        };
        assert_eq!(
            status(unavailable, 2),
            ("unavailable".into(), None, Some("HTTP 404".into()), Some(6))
        );
        let failed = Stored {
            status: Some("failed".into()),
            reason: Some("data hash matches the commitment: …".into()),
            passed: Some(false),
            ..passed
        };
        assert_eq!(
            status(failed, 2),
            (
                "failed".into(),
                Some(false),
                Some("data hash matches the commitment: …".into()),
                None
            )
        );
    }
}
