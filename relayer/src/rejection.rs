//! Why a receipt is refused: a stable machine-readable code, an HTTP status and a message.

use axum::http::StatusCode;
use fairtrain_protocol::api::relayer::Outcome;

/// A receipt the relayer will not acknowledge. [`Rejection::code`] is part of the API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The body or an item is not a receipt (bad JSON, missing or mistyped field, bad hex,
    /// a signature that is not 65 bytes, has `v` other than 27/28 or a high `s`).
    #[error("malformed receipt: {0}")]
    Malformed(String),
    /// No key can be recovered from the signature.
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    /// The recovered key is not registered for the payer (this includes receipts signed under
    /// another domain: they recover to an unrelated address).
    #[error("signer {signer} is not registered for payer {payer}")]
    SignerNotRegistered {
        /// Recovered signer.
        signer: String,
        /// Payer.
        payer: String,
    },
    /// The key's revocation takes effect before the relayer could commit the receipt.
    #[error("signer {signer} is revoked from {revoked_at}")]
    SignerRevoked {
        /// Recovered signer.
        signer: String,
        /// Effective time of the revocation.
        revoked_at: u64,
    },
    /// The payer has not accepted these terms of this license.
    #[error("payer has not accepted license {license_id} terms {terms_id}")]
    TermsNotAccepted {
        /// License.
        license_id: String,
        /// Terms version.
        terms_id: u64,
    },
    /// The receipt was issued at or after the terms expired: not chargeable.
    #[error("receipt issued at {issued_at}, terms expired at {expires_at}")]
    ReceiptAfterExpiry {
        /// Receipt time.
        issued_at: u64,
        /// Terms expiry.
        expires_at: u64,
    },
    /// The payer has no credit line for this relayer in the terms' token (neither credit nor
    /// reserved funds): the relayer could not commit the receipt.
    #[error("payer {payer} has no credit line for this relayer in token {token}")]
    NoCreditLine {
        /// Payer.
        payer: String,
        /// Token of the accepted terms.
        token: String,
    },
    /// A receipt with this or a higher cumulative count of the same usage key is already
    /// known (accepted here or settled on-chain).
    #[error(
        "cumulative count {cumulative} does not exceed {known} already known for this usage key"
    )]
    CumulativeNotIncreasing {
        /// The receipt's count.
        cumulative: u64,
        /// The highest known.
        known: u64,
    },
    /// The payer's credit line for this relayer, less its pending credit reduction and less
    /// what this relayer already accepted and has not committed, does not cover the receipt.
    #[error("payer's credit line does not cover {amount}: {spendable} left")]
    InsufficientBudget {
        /// What the receipt adds, priced.
        amount: String,
        /// What is left for it.
        spendable: String,
    },
    /// The signer sent more receipts than its rate limit allows.
    #[error("signer {signer} is over its rate limit")]
    RateLimited {
        /// Signer.
        signer: String,
    },
}

impl Rejection {
    /// The stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::SignerNotRegistered { .. } => "signer_not_registered",
            Self::SignerRevoked { .. } => "signer_revoked",
            Self::TermsNotAccepted { .. } => "terms_not_accepted",
            Self::ReceiptAfterExpiry { .. } => "receipt_after_expiry",
            Self::NoCreditLine { .. } => "no_credit_line",
            Self::CumulativeNotIncreasing { .. } => "cumulative_not_increasing",
            Self::InsufficientBudget { .. } => "insufficient_budget",
            Self::RateLimited { .. } => "rate_limited",
        }
    }

    /// The HTTP status of a single submission refused for this reason.
    pub fn status(&self) -> StatusCode {
        status_of(self.code())
    }

    /// Counts this rejection in `relayer_receipts_rejected_total{code}`: every refused
    /// receipt is counted once, wherever it is refused (decoding, signature recovery, rate
    /// limit, the writer's checks).
    pub fn count(&self) {
        metrics::counter!("relayer_receipts_rejected_total", "code" => self.code()).increment(1);
    }
}

/// The HTTP status of a single submission refused with `code`.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "malformed" => StatusCode::BAD_REQUEST,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "cumulative_not_increasing" => StatusCode::CONFLICT,
        "insufficient_budget" => StatusCode::PAYMENT_REQUIRED,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<Rejection> for Outcome {
    fn from(r: Rejection) -> Self {
        Self::Rejected {
            code: r.code().to_owned(),
            message: r.to_string(),
        }
    }
}
