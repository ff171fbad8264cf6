//! Pay per access: under terms priced per access (`License.Unit.Access`), a grant is paid for by
//! a receipt the payer signs for that one access, which the gateway has its relayer store before
//! it grants (docs/gateway.md §4a). The access is then settled like any usage: the relayer
//! commits the receipt in a batch, reserving the payer's credit, and anyone claims it for the
//! license's holder.
//!
//! The receipt must name the request's payer, license and terms, count 1, and carry the run id
//! [`access_run_id`] of the request's digest: a receipt pays for exactly one access and cannot
//! be reused for another. The relayer checks the rest (the signature of a registered key, the
//! acceptance, the payer's credit line for it) and refuses what it would not be paid for.

use std::time::Duration;

use alloy::primitives::B256;
use fairtrain_protocol::{
    gateway::AccessRequest,
    pricing::access_run_id,
    relayer_client::{Outcome, RelayerClient, RetryPolicy},
    EscrowDomain, SignedReceipt,
};

/// Why an access could not be paid for.
#[derive(Debug, thiserror::Error)]
pub enum PayRefusal {
    /// The gateway has no relayer to forward receipts to.
    #[error("this gateway takes no per-access payments: it has no relayer configured")]
    NoRelayer,
    /// The request carries no receipt.
    #[error("the terms are priced per access: send a receipt for this access (runId {run_id}, cumulativeSamples 1) with the request")]
    Missing {
        /// The run id the receipt must carry.
        run_id: B256,
    },
    /// The receipt is not one for this access.
    #[error("the receipt does not pay for this access: {0}")]
    Mismatch(String),
    /// The relayer refused the receipt.
    #[error("the relayer refused the receipt ({code}): {message}")]
    Refused {
        /// The relayer's code (docs/relayer.md).
        code: String,
        /// Its message.
        message: String,
    },
    /// The relayer could not be reached or answered nonsense.
    #[error("the relayer is unavailable: {0}")]
    Unavailable(String),
}

impl PayRefusal {
    /// The machine-readable code of the refusal (docs/gateway.md §8).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoRelayer => "no_relayer",
            Self::Missing { .. } => "receipt_required",
            Self::Mismatch(_) => "receipt_mismatch",
            Self::Refused { .. } => "payment_refused",
            Self::Unavailable(_) => "relayer_unavailable",
        }
    }
}

/// The relayer that per-access receipts are forwarded to, if any.
#[derive(Clone, Debug)]
pub struct Payments {
    relayer: Option<(String, RelayerClient)>,
    domain: EscrowDomain,
}

impl Payments {
    /// Payments forwarded to the relayer at `relayer` (none: per-access datasets are refused),
    /// for receipts under `domain`.
    ///
    /// # Errors
    ///
    /// The HTTP client cannot be built.
    pub fn new(relayer: Option<String>, domain: EscrowDomain) -> anyhow::Result<Self> {
        let retry = RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
        };
        let relayer = relayer
            .map(|url| {
                let url = url.trim_end_matches('/').to_owned();
                RelayerClient::new(url.clone(), retry).map(|client| (url, client))
            })
            .transpose()?;
        Ok(Self { relayer, domain })
    }

    /// The relayer's URL.
    pub fn relayer_url(&self) -> Option<&str> {
        self.relayer.as_ref().map(|(url, _)| url.as_str())
    }

    /// Checks that `receipt` pays for the access `access_id` asked by `request`, and has the
    /// relayer store it. Returns the receipt's EIP-712 digest.
    ///
    /// A receipt the relayer already holds (the same request sent again, after an answer was
    /// lost) counts: it is stored once, so it is paid once, and the caller grants each access
    /// id once.
    ///
    /// # Errors
    ///
    /// The [`PayRefusal`].
    pub async fn charge(
        &self,
        request: &AccessRequest,
        access_id: B256,
        receipt: Option<&SignedReceipt>,
    ) -> Result<B256, PayRefusal> {
        let (_, client) = self.relayer.as_ref().ok_or(PayRefusal::NoRelayer)?;
        let run_id = access_run_id(access_id);
        let receipt = receipt.ok_or(PayRefusal::Missing { run_id })?;
        check(request, run_id, receipt)?;
        let outcome = client
            .submit(std::slice::from_ref(receipt))
            .await
            .map_err(|e| PayRefusal::Unavailable(e.to_string()))?
            .pop()
            .ok_or_else(|| PayRefusal::Unavailable("no outcome for the receipt".to_owned()))?;
        match outcome {
            Outcome::Accepted { digest, .. } | Outcome::Duplicate { digest } => {
                let expected = self.domain.digest(&receipt.receipt());
                if digest == expected {
                    Ok(digest)
                } else {
                    Err(PayRefusal::Unavailable(format!(
                        "the relayer stored digest {digest}, the receipt's is {expected}: is it the deployment's relayer?"
                    )))
                }
            }
            Outcome::Rejected { code, message } => Err(PayRefusal::Refused { code, message }),
        }
    }
}

/// Whether `receipt` is the receipt of the access `run_id` asked by `request`.
fn check(request: &AccessRequest, run_id: B256, receipt: &SignedReceipt) -> Result<(), PayRefusal> {
    let wrong = |what: &str, got: String, want: String| {
        Err(PayRefusal::Mismatch(format!(
            "its {what} is {got}, not {want}"
        )))
    };
    if receipt.payer != request.payer {
        return wrong(
            "payer",
            receipt.payer.to_string(),
            request.payer.to_string(),
        );
    }
    if receipt.license_id != request.license_id {
        return wrong(
            "licenseId",
            receipt.license_id.to_string(),
            request.license_id.to_string(),
        );
    }
    if receipt.terms_id != request.terms_id {
        return wrong(
            "termsId",
            receipt.terms_id.to_string(),
            request.terms_id.to_string(),
        );
    }
    if receipt.run_id != run_id {
        return wrong("runId", receipt.run_id.to_string(), run_id.to_string());
    }
    if receipt.cumulative_samples != 1 {
        return wrong(
            "cumulativeSamples",
            receipt.cumulative_samples.to_string(),
            "1".to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{Address, U256},
        signers::local::PrivateKeySigner,
    };
    use fairtrain_protocol::Receipt;

    use super::*;

    fn request() -> AccessRequest {
        AccessRequest {
            gateway: "http://gateway".to_owned(),
            payer: Address::repeat_byte(2),
            license_id: U256::from(7),
            terms_id: 3,
            manifest_hash: B256::repeat_byte(9),
            expires_at: 1_900_000_000,
            nonce: B256::repeat_byte(1),
        }
    }

    fn receipt(edit: impl FnOnce(&mut Receipt)) -> SignedReceipt {
        let r = request();
        let mut receipt = Receipt {
            payer: r.payer,
            licenseId: r.license_id,
            termsId: r.terms_id,
            runId: access_run_id(B256::repeat_byte(0xaa)),
            cumulativeSamples: 1,
            issuedAt: 1_800_000_000,
        };
        edit(&mut receipt);
        let domain = EscrowDomain::new(31337, Address::repeat_byte(0xe5));
        SignedReceipt::sign(&domain, &PrivateKeySigner::random(), &receipt).unwrap()
    }

    #[test]
    fn only_the_receipt_of_this_access_counts() {
        let run = access_run_id(B256::repeat_byte(0xaa));
        assert!(check(&request(), run, &receipt(|_| {})).is_ok());
        type Edit = Box<dyn FnOnce(&mut Receipt)>;
        let cases: [(&str, Edit); 5] = [
            ("payer", Box::new(|r| r.payer = Address::repeat_byte(3))),
            ("licenseId", Box::new(|r| r.licenseId = U256::from(8))),
            ("termsId", Box::new(|r| r.termsId = 4)),
            ("runId", Box::new(|r| r.runId = access_run_id(B256::ZERO))),
            ("cumulativeSamples", Box::new(|r| r.cumulativeSamples = 2)),
        ];
        for (what, edit) in cases {
            let refusal = check(&request(), run, &receipt(edit)).unwrap_err();
            assert_eq!(refusal.code(), "receipt_mismatch");
            assert!(refusal.to_string().contains(what), "{refusal}");
        }
    }
}
