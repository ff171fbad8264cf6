//! The client of a Fairtrain relayer's receipt API (`POST /v1/receipts/bulk`, docs/relayer.md),
//! feature `fetch`: retries what is worth retrying, and reports each receipt's outcome. The SDK's
//! meter submits training receipts with it, the data gateway the receipts of paid accesses.

use std::time::Duration;

pub use crate::api::relayer::Outcome;
use crate::{
    api::{relayer::BulkResponse, ErrorBody},
    SignedReceipt,
};

/// Why a submission failed as a whole (a receipt the relayer refuses is an [`Outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum RelayerError {
    /// The relayer could not be reached or answered with a server error; retried with backoff
    /// until the attempts ran out.
    #[error("relayer unreachable after {attempts} attempts: {last}")]
    Unreachable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The relayer refused the request as a whole (not one receipt): a client error such as
    /// an oversized body, or a failed authentication.
    #[error("relayer refused the request ({status}): {code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The relayer's machine-readable code.
        code: String,
        /// The relayer's message.
        message: String,
    },
    /// The relayer answered with something that is not its documented response, or the HTTP
    /// client could not be built.
    #[error("unexpected relayer response: {0}")]
    Protocol(String),
}

type Result<T> = core::result::Result<T, RelayerError>;

/// How often and how patiently a request is retried when the relayer is unreachable, overloaded
/// (429) or failing (5xx).
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether a refusal can go away without a new receipt (chain state the relayer has not seen
/// yet, a budget top-up or a credit line funded for the relayer (`no_credit_line`), a rate
/// limit): such receipts are resent on the next flush. Unknown codes count as transient, so a
/// newer relayer's codes never drop usage.
pub fn is_transient(code: &str) -> bool {
    !matches!(
        code,
        "malformed"
            | "invalid_signature"
            | "signer_revoked"
            | "receipt_after_expiry"
            | "cumulative_not_increasing"
    )
}

/// An HTTP client of one relayer.
#[derive(Clone, Debug)]
pub struct RelayerClient {
    http: reqwest::Client,
    base_url: String,
    retry: RetryPolicy,
}

impl RelayerClient {
    /// A client of the relayer at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: impl Into<String>, retry: RetryPolicy) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(retry.request_timeout)
            .build()
            .map_err(|e| RelayerError::Protocol(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            retry,
        })
    }

    /// Submits `receipts` in one bulk request and returns one outcome per receipt, in order.
    ///
    /// # Errors
    ///
    /// [`RelayerError::Unreachable`] once the retries are spent, [`RelayerError::Refused`] if the relayer
    /// refuses the request as a whole, [`RelayerError::Protocol`] for an undocumented answer.
    pub async fn submit(&self, receipts: &[SignedReceipt]) -> Result<Vec<Outcome>> {
        let url = format!("{}/v1/receipts/bulk", self.base_url);
        let mut backoff = self.retry.initial_backoff;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts {
            if attempt > 1 {
                tracing::debug!(attempt, ?backoff, %last, "retrying the relayer");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.retry.max_backoff);
            }
            let response = match self.http.post(&url).json(receipts).send().await {
                Ok(response) => response,
                Err(e) => {
                    last = format!("{e}");
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                let body: BulkResponse = response
                    .json()
                    .await
                    .map_err(|e| RelayerError::Protocol(format!("bulk response: {e}")))?;
                if body.results.len() != receipts.len() {
                    return Err(RelayerError::Protocol(format!(
                        "{} results for {} receipts",
                        body.results.len(),
                        receipts.len()
                    )));
                }
                return Ok(body.results);
            }
            if status.as_u16() == 429 || status.is_server_error() {
                if let Some(wait) = retry_after(&response) {
                    backoff = wait.min(self.retry.max_backoff);
                }
                last = format!("HTTP {status}");
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) => (body.error.code, body.error.message),
                Err(_) => ("unknown".to_owned(), text),
            };
            return Err(RelayerError::Refused {
                status: status.as_u16(),
                code,
                message,
            });
        }
        Err(RelayerError::Unreachable {
            attempts: self.retry.attempts,
            last,
        })
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn budget_and_credit_line_refusals_are_transient() {
        for code in [
            "insufficient_budget",
            "no_credit_line",
            "rate_limited",
            "some_new_code",
        ] {
            assert!(is_transient(code), "{code}");
        }
        for code in [
            "malformed",
            "invalid_signature",
            "cumulative_not_increasing",
        ] {
            assert!(!is_transient(code), "{code}");
        }
    }
}
